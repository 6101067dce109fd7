-- Workload 2, "fan-out": BENCH_FANOUT_SESSIONS (default 200) sessions on one client in one
-- process, each streaming 16 kHz audio in real time (20 ms chunks: 1 s of tone, 2 s of
-- silence, the sessions' phases spread evenly) for BENCH_FANOUT_SECONDS (default 60) and
-- receiving the simulator's real-time-paced 24 kHz replies.
--
-- One loop drives everything, the way a game loop or a media server tick would: every
-- 20 ms it appends one chunk to each session, then drains all replies with client:poll(),
-- then sleeps until the next tick. Reports the CPU use of the streaming phase and RSS.
local lib = require "bench.lib"

local n = math.tointeger(lib.env_number("BENCH_FANOUT_SESSIONS", 200))
local seconds = lib.env_number("BENCH_FANOUT_SECONDS", 60)
local chunks = lib.utterance_chunks(1, 2)

local cpu0 = lib.cpu()
local client = lib.client { max_sessions = n + 16 }
local sessions = {}
for i = 1, n do
  sessions[i] = assert(client:connect(lib.session_options))
end
local cpu1, t1 = lib.cpu(), lib.now()
local connect_rss = lib.rss_kib()

local ticks = math.floor(seconds * 50 + 0.5)
local audio_bytes, deltas, replies, late = 0, 0, 0, 0
local max_lag = 0
for k = 0, ticks - 1 do
  for i = 1, n do
    local c = chunks[(k + (i - 1) * #chunks // n) % #chunks + 1]
    assert(sessions[i]:append_audio(c))
  end
  for _, msg in ipairs(client:poll()) do
    if msg.type == "output_audio_delta" then
      audio_bytes = audio_bytes + #msg.audio
      deltas = deltas + 1
    elseif msg.type == "response_done" then
      replies = replies + 1
    elseif msg.type == "closed" or msg.type == "error" then
      error("a session ended: " .. tostring(msg.reason or msg.message))
    end
  end
  local due = t1 + (k + 1) * 0.02
  local lag = lib.now() - due
  if lag > 0 then late = late + 1; if lag > max_lag then max_lag = lag end end
  lib.sleep_until(due)
end
local cpu2, t2 = lib.cpu(), lib.now()
local rss, hwm = lib.rss_kib()
client:close()

lib.result {
  workload = "fanout",
  sessions = n,
  seconds = t2 - t1,
  connect_cpu = cpu1 - cpu0,
  stream_cpu = cpu2 - cpu1,
  cpu_percent = 100 * (cpu2 - cpu1) / (t2 - t1),
  rss_kib = rss,
  rss_after_connect_kib = connect_rss,
  hwm_kib = hwm,
  replies = replies,
  reply_audio_seconds = audio_bytes / 48000,
  reply_deltas = deltas,
  late_ticks = late,
  max_tick_lag = max_lag,
}
