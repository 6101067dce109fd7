-- Load: many concurrent sessions on ONE client, each streaming microphone-like audio in
-- real time to the simulator and receiving its paced audio replies, all driven from one
-- Lua loop (client:poll()). Reports errors, replies, and the CPU and memory of this
-- process and of the simulator. Not part of CI.
--
--   make && eval $(make -s env) && lua5.4 bench/load.lua [--sessions N] [--seconds S] [--tls]
--     defaults: 500 sessions, 60 s; plain ws:// unless --tls (then the test CA of
--     spec/make-certs.sh, generated into build/load-certs)
--
-- Each session sends 40 ms chunks (1,280 bytes of 16 kHz PCM): 1 s of tone, then 2 s of
-- near-silence, so the simulator's voice detection ends a turn every 3 s and answers with
-- real-time paced audio (tone voice) and transcription.
local realtime = require "realtime"

local args = { sessions = 500, seconds = 60, tls = false }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--sessions" then args.sessions = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--seconds" then args.seconds = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--tls" then args.tls = true
    else error("unknown argument " .. a) end
    i = i + 1
  end
end

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read "a"
  p:close()
  return out
end

local function now()
  local f = assert(io.open "/proc/uptime")
  local t = tonumber(f:read "a":match "^(%S+)")
  f:close()
  return t
end

-- CPU seconds (user + system) and RSS in KB of a process.
local TICKS = tonumber(sh "getconf CLK_TCK") or 100
local function cpu(pid)
  local f = io.open(("/proc/%s/stat"):format(pid or "self"))
  if not f then return 0 end
  local s = f:read "a"
  f:close()
  local rest = s:match "%) (.*)"
  local fields = {}
  for w in rest:gmatch "%S+" do fields[#fields + 1] = w end
  return (tonumber(fields[12]) + tonumber(fields[13])) / TICKS
end
local function rss(pid)
  local f = io.open(("/proc/%s/status"):format(pid or "self"))
  if not f then return 0 end
  local s = f:read "a"
  f:close()
  return tonumber(s:match "VmRSS:%s*(%d+)") or 0
end

-- ---- the simulator --------------------------------------------------------------------
local tls_args, ca = "", nil
if args.tls then
  local dir = "build/load-certs"
  if not io.open(dir .. "/server.pem") then sh("sh spec/make-certs.sh " .. dir .. " >/dev/null 2>&1") end
  tls_args = ("--tls --cert %s/server.pem --key %s/server.key"):format(dir, dir)
  ca = dir .. "/ca.pem"
end
local log = os.tmpname()
local sim_pid = sh(("node spec/livesim/server.js --port 0 --api-key test-key --voice tone "
  .. "--record-frames 0 --quiet %s >%s 2>&1 & echo $!"):format(tls_args, log)):match "%d+"
local base
for _ = 1, 100 do
  base = sh("cat " .. log):match "LISTENING (%S+)"
  if base then break end
  os.execute "sleep 0.1"
end
assert(base, "the simulator did not start")

local client = assert(realtime.gemini { api_key = "test-key", base_url = base, ca_file = ca,
  model = "gemini-2.5-flash-native-audio-preview-09-2025", max_sessions = args.sessions + 16 })

-- ---- connect ------------------------------------------------------------------------------
local t_connect = now()
local sessions = {}
for i = 1, args.sessions do
  local s, err = client:connect { output_modalities = { "audio" }, transcription = true,
                                  vad = { silence_duration = 0.3 } }
  assert(s, ("session %d: %s"):format(i, tostring(err)))
  sessions[i] = s
end
t_connect = now() - t_connect

-- ---- stream -------------------------------------------------------------------------------
local tone, quiet = {}, {}
for i = 0, 639 do
  tone[#tone + 1] = string.pack("<i2", math.floor(6000 * math.sin(2 * math.pi * 300 * i / 16000)))
  quiet[#quiet + 1] = string.pack("<i2", (i % 7) - 3)
end
tone, quiet = table.concat(tone), table.concat(quiet)

local count = { errors = 0, closed = 0, responses = 0, audio_bytes = 0, reconnected = 0, busy = 0 }
local function handle(msgs)
  for _, m in ipairs(msgs) do
    local t = m.type
    if t == "output_audio_delta" then count.audio_bytes = count.audio_bytes + #m.audio
    elseif t == "response_done" then count.responses = count.responses + 1
    elseif t == "error" then
      count.errors = count.errors + 1
      if count.errors <= 5 then io.stderr:write("error: ", tostring(m.message), "\n") end
    elseif t == "closed" then count.closed = count.closed + 1
    elseif t == "reconnected" then count.reconnected = count.reconnected + 1 end
  end
end

collectgarbage()
local cpu0, sim_cpu0, t0 = cpu(), cpu(sim_pid), now()
local rss0, sim_rss0 = rss(), rss(sim_pid)
local tick, max_late, sent = 0, 0, 0
while true do
  local due = t0 + tick * 0.04
  local t = now()
  if t - t0 >= args.seconds then break end
  if t >= due then
    if t - due > max_late then max_late = t - due end
    local pcm = (tick % 75) < 25 and tone or quiet   -- 1 s of tone every 3 s
    for i = 1, #sessions do
      local ok, _, code = sessions[i]:append_audio(pcm)
      if ok then sent = sent + 1 elseif code == "busy" then count.busy = count.busy + 1
      else count.errors = count.errors + 1 end
    end
    tick = tick + 1
  end
  handle(client:poll())
  local wait = t0 + tick * 0.04 - now()
  if wait > 0 then realtime.core.poll_fds({}, math.min(wait, 0.01)) end
end
local wall = now() - t0
local cpu1, sim_cpu1 = cpu(), cpu(sim_pid)
local rss1, sim_rss1 = rss(), rss(sim_pid)
local queued = 0
for _, s in ipairs(sessions) do queued = queued + s:stats().queued_bytes end

local sim_alive = io.open(("/proc/%s/stat"):format(sim_pid)) ~= nil
for _, s in ipairs(sessions) do s:close() end
client:close()
if sim_alive then
  os.execute("kill " .. sim_pid)
  os.remove(log)
else
  print("THE SIMULATOR DIED during the run; its output is in " .. log)
end

print(("%d sessions on one client, %s, %.0f s of real-time audio streaming (connect took %.1f s)")
  :format(args.sessions, args.tls and "wss://" or "ws://", wall, t_connect))
print(("audio messages sent %d (%.0f/s), replies completed %d, reply audio received %.1f MB")
  :format(sent, sent / wall, count.responses, count.audio_bytes / 1e6))
print(("errors %d, closed %d, reconnected %d, busy %d, queued at end %d bytes, loop max lateness %.0f ms")
  :format(count.errors, count.closed, count.reconnected, count.busy, queued, max_late * 1000))
print(("client: CPU %.0f %% of one core, RSS %.0f MB -> %.0f MB"):format(
  100 * (cpu1 - cpu0) / wall, rss0 / 1024, rss1 / 1024))
print(("simulator: CPU %.0f %% of one core, RSS %.0f MB -> %.0f MB"):format(
  100 * (sim_cpu1 - sim_cpu0) / wall, sim_rss0 / 1024, sim_rss1 / 1024))
