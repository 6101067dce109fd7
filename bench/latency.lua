-- Workload 4, "latency": one session streaming 16 kHz audio in real time (20 ms chunks, 1 s
-- of tone then 2 s of silence) for BENCH_LATENCY_SECONDS (default 30), the simulator
-- answering with real-time-paced 24 kHz audio. Two coroutines under realtime.run: one
-- appends a chunk every 20 ms, the other receives.
--
-- Measured against the simulator's own frame timestamps (GET /_sim/connections/ID/frames,
-- `t` = epoch milliseconds with sub-millisecond resolution, taken when the simulator hands
-- a frame to its WebSocket, and when a client frame has been read and parsed). This side
-- uses the same clock (CLOCK_REALTIME via gettimeofday, microseconds):
--   down: simulator writes the n-th audio frame -> this script holds the n-th
--         output_audio_delta's PCM (msg.audio)
--   up:   just before the n-th append_audio call -> the simulator has read the n-th
--         realtimeInput audio frame
-- Frames are matched by order (one frame per 20 ms append; one output_audio_delta per
-- simulator audio frame; counts are checked).
--
-- With SOCKSTAMP_OUT set (and bench/c/sockstamp.so preloaded), also: append_audio
-- returned -> the frame's bytes were written to the TCP socket (both CLOCK_MONOTONIC).
local cjson = require "cjson"
local realtime = require "realtime"
local lib = require "bench.lib"

assert(lib.wall, "lua-system (system.gettime) is needed for wall-clock timestamps")
local seconds = lib.env_number("BENCH_LATENCY_SECONDS", 30)
local chunks = lib.utterance_chunks(1, 2)

local client = lib.client()
local session = assert(client:connect(lib.session_options))

local send_wall, send_ret = {}, {}
local recv_wall = {}
local sending = true

-- BENCH_LATENCY_SCHED=cqueues runs the same two coroutines under a cqueues controller
-- instead of realtime.run (for comparison; run.sh uses realtime.run).
local sched = os.getenv "BENCH_LATENCY_SCHED" or "run"
local function run_both(a, b)
  if sched == "cqueues" then
    local cqueues = require "cqueues"
    local cq = cqueues.new()
    cq:wrap(a)
    cq:wrap(b)
    assert(cq:loop())
  else
    realtime.run(a, b)
  end
end

run_both(function()
  local t0 = lib.now() + 0.05
  local ticks = math.floor(seconds * 50 + 0.5)
  for k = 0, ticks - 1 do
    local due = t0 + k * 0.02
    local left = due - lib.now()
    if left > 0 then realtime.sleep(left) end
    local c = chunks[k % #chunks + 1]
    local w = lib.wall()
    assert(session:append_audio(c))
    send_ret[#send_ret + 1] = lib.now()
    send_wall[#send_wall + 1] = w
  end
  sending = false
end, function()
  local quiet = 0
  while sending or quiet < 2 do
    local msg, err, code = session:receive(0.5)
    if msg then
      quiet = 0
      if msg.type == "output_audio_delta" then
        local pcm = msg.audio
        recv_wall[#recv_wall + 1] = lib.wall()
        assert(#pcm > 0)
      elseif msg.type == "closed" or msg.type == "error" then
        error("session ended: " .. tostring(msg.reason or msg.message))
      end
    elseif code == "timeout" then
      if not sending then quiet = quiet + 1 end
    else
      error(err)
    end
  end
end)
session:close()
for msg in session:messages(5) do if msg.type == "closed" then break end end
client:close()

-- the simulator's record of this connection (the only one on a fresh simulator)
local conns = lib.sim_get "/_sim/connections"
local conn = conns[#conns]
local frames = lib.sim_get("/_sim/connections/" .. conn.id .. "/frames").frames
local sim_in, sim_out = {}, {}
for _, f in ipairs(frames) do
  if f.dir == "in" and f.text:find('"realtimeInput"', 1, true) and f.text:find('"audio"', 1, true) then
    sim_in[#sim_in + 1] = f.t / 1000
  elseif f.dir == "out" and f.text:find('"inlineData"', 1, true) then
    sim_out[#sim_out + 1] = f.t / 1000
  end
end

local up, down = {}, {}
for i = 1, math.min(#send_wall, #sim_in) do up[i] = (sim_in[i] - send_wall[i]) * 1000 end
for i = 1, math.min(#recv_wall, #sim_out) do down[i] = (recv_wall[i] - sim_out[i]) * 1000 end

local out = {
  workload = "latency",
  scheduler = sched,
  appends = #send_wall, sim_audio_in = #sim_in,
  deltas = #recv_wall, sim_audio_out = #sim_out,
  up_p50_ms = lib.percentile(up, 50), up_p99_ms = lib.percentile(up, 99), up_max_ms = lib.percentile(up, 100),
  down_p50_ms = lib.percentile(down, 50), down_p99_ms = lib.percentile(down, 99), down_max_ms = lib.percentile(down, 100),
  frames_dropped = conns[#conns].framesDropped,
}

-- For "append_audio returned -> bytes on the socket": the return times (CLOCK_MONOTONIC
-- ns) go to a file; bench/sockmatch.lua pairs them with the preload's records after exit.
local times_file = os.getenv "BENCH_APPEND_TIMES"
if times_file then
  local f = assert(io.open(times_file, "w"))
  for _, t in ipairs(send_ret) do f:write(("%.0f\n"):format(t * 1e9)) end
  f:close()
end
lib.result(out)
