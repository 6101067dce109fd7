-- Soak: one long simulated conversation over connections the simulator ends every
-- `lifetime` seconds (goAway, then the close), counting what was lost or duplicated and
-- watching memory. Not part of CI.
--
--   make && eval $(make -s env) && lua5.4 bench/soak.lua [seconds] [options]
--     seconds            run time (default 1800)
--     --lifetime S       connection lifetime on the simulator (default 60)
--     --lead S           goAway lead (default 5)
--     --backend B        gemini (handles only) or vertex (transparent, with message
--                        indices); default gemini
--     --sim CMD          command that starts the simulator (default
--                        "node spec/livesim/server.js"); its options are appended
--
-- The user speaks (0.8 s of tone then 0.6 s of near-silence, streamed in real time in
-- 40 ms chunks, each chunk different) and waits for the answer; every fifth turn is a
-- text turn. At the end the simulator's record of consumed client messages is compared
-- with what was sent: every message must stand exactly once (entries rolled back by a
-- resume do not count).
local realtime = require "realtime"
local cjson = require "cjson"

local args = { seconds = 1800, lifetime = 60, lead = 5, backend = "gemini",
               sim = "node spec/livesim/server.js" }
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--lifetime" then args.lifetime = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--lead" then args.lead = tonumber(arg[i + 1]); i = i + 1
    elseif a == "--backend" then args.backend = arg[i + 1]; i = i + 1
    elseif a == "--sim" then args.sim = arg[i + 1]; i = i + 1
    elseif tonumber(a) then args.seconds = tonumber(a)
    else error("unknown argument " .. a) end
    i = i + 1
  end
end

-- ---- the simulator --------------------------------------------------------------------
local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read "a"
  p:close()
  return out
end

local log = os.tmpname()
local sim_pid = sh(("%s --port 0 --api-key test-key --bearer test-bearer "
  .. "--voice tone --record-frames 0 --quiet --lifetime %g --goaway-lead %g >%s 2>&1 & echo $!")
  :format(args.sim, args.lifetime, args.lead, log)):match "%d+"
local base
for _ = 1, 100 do
  base = sh("cat " .. log):match "LISTENING (%S+)"
  if base then break end
  os.execute "sleep 0.1"
end
assert(base, "the simulator did not start")
local function sim_get(path)
  return cjson.decode(sh(("curl -sS --max-time 20 %s%s"):format(base, path)))
end

local function rss_kb(pid)
  local f = io.open(("/proc/%s/status"):format(pid or "self"))
  if not f then return 0 end
  local s = f:read "a"
  f:close()
  return tonumber(s:match "VmRSS:%s*(%d+)") or 0
end

local function now()   -- monotonic enough, and no process per call
  local f = assert(io.open "/proc/uptime")
  local t = tonumber(f:read "a":match "^(%S+)")
  f:close()
  return t
end

-- ---- the conversation -------------------------------------------------------------------
local client
if args.backend == "vertex" then
  client = assert(realtime.vertex { access_token = "test-bearer", project = "p", location = "us-central1",
    base_url = base, model = "gemini-live-2.5-flash-native-audio" })
else
  client = assert(realtime.gemini { api_key = "test-key", base_url = base,
    model = "gemini-2.5-flash-native-audio-preview-09-2025" })
end
local session = assert(client:connect { output_modalities = { "audio" }, transcription = true })

local sent, counter = 0, 0
local stats = { responses = 0, incomplete = 0, errors = 0, reconnect_msgs = 0, unanswered = 0 }
local CHUNK = 640  -- samples: 40 ms at 16 kHz

local function chunk(freq)
  counter = counter + 1
  local t = {}
  for i = 0, CHUNK - 1 do
    local v = freq and math.floor(6000 * math.sin(2 * math.pi * freq * (counter * CHUNK + i) / 16000)) or 0
    t[#t + 1] = string.pack("<i2", v)
  end
  -- a marker too quiet to count as speech makes every chunk's digest unique: three
  -- samples below 256 (one loud sample would make a 10 ms window of "silence" count as
  -- speech, and the simulator would never hear the end of the turn)
  t[1] = string.pack("<i2", counter % 256)
  t[2] = string.pack("<i2", (counter // 256) % 256)
  t[3] = string.pack("<i2", (counter // 65536) % 256)
  return table.concat(t)
end

local function drain(wait)
  local msg = session:receive(wait)
  while msg do
    if msg.type == "response_done" then
      stats.responses = stats.responses + 1
      if msg.status == "incomplete" then stats.incomplete = stats.incomplete + 1 end
    elseif msg.type == "reconnected" then
      stats.reconnect_msgs = stats.reconnect_msgs + 1
    elseif msg.type == "error" then
      stats.errors = stats.errors + 1
      io.stderr:write("error: ", msg.message, "\n")
    elseif msg.type == "closed" then
      error("session closed: " .. tostring(msg.code) .. " " .. tostring(msg.reason))
    end
    msg = session:poll()
  end
end

local t0 = now()
local samples, next_sample = {}, t0
local turn = 0
collectgarbage()
while now() - t0 < args.seconds do
  turn = turn + 1
  local before = stats.responses
  if turn % 5 == 0 then
    assert(session:send_text(("text turn %d"):format(turn)))
    sent = sent + 1
  else
    local freq = 300 + (turn % 40) * 10
    local start = now()
    for i = 1, 35 do   -- 20 chunks of tone, 15 of near-silence: 1.4 s in real time
      assert(session:append_audio(chunk(i <= 20 and freq or nil)))
      sent = sent + 1
      local due = start + i * 0.04
      local left = due - now()
      drain(left > 0 and left or 0)
    end
  end
  -- wait for this turn's answer (bounded: a resume may replay the turn)
  local deadline = now() + 30
  while stats.responses == before and now() < deadline do drain(0.5) end
  if stats.responses == before then
    stats.unanswered = stats.unanswered + 1
    io.stderr:write(("turn %d at %.0f s: no response within 30 s (reconnects so far %d)\n")
      :format(turn, now() - t0, stats.reconnect_msgs))
  end
  if now() >= next_sample then
    collectgarbage()
    samples[#samples + 1] = { t = now() - t0, rss = rss_kb(), lua = collectgarbage "count",
      sim = rss_kb(sim_pid), reconnects = session:stats().reconnects }
    next_sample = next_sample + 30
  end
end
drain(2)
local st = session:stats()
local conn_list = sim_get "/_sim/connections"
conn_list = conn_list.connections or conn_list
local sid = conn_list[#conn_list].sessionId
session:close()
for msg in session:messages(10) do if msg.type == "closed" then break end end

local rec = sim_get("/_sim/sessions/" .. sid)
local standing, dup, rolled = 0, 0, 0
local seen = {}
for _, e in ipairs(rec.consumed) do
  if e.type ~= "setup" then
    if e.rolledBack then rolled = rolled + 1
    else
      standing = standing + 1
      if seen[e.digest] then dup = dup + 1 end
      seen[e.digest] = true
    end
  end
end
client:close()
os.execute("kill " .. sim_pid)
os.remove(log)

print(("backend %s, %d s, lifetime %g s, goAway lead %g s"):format(args.backend, args.seconds, args.lifetime, args.lead))
print(("turns %d, responses %d (incomplete %d), turns left unanswered for 30 s %d, errors %d"):format(
  turn, stats.responses, stats.incomplete, stats.unanswered, stats.errors))
print(("reconnects %d (messages %d), replayed %d, replay_dropped %d, connections of the session %d"):format(
  st.reconnects, stats.reconnect_msgs, st.resent, st.replay_dropped, #rec.connectionIds))
print(("client messages sent %d, standing in the simulator's log %d, duplicates %d, rolled back (then replayed) %d, lost %d"):format(
  sent, standing, dup, rolled, sent - standing + dup))
print "time_s  client_rss_kb  lua_kb  sim_rss_kb  reconnects"
for _, s in ipairs(samples) do
  print(("%6.0f  %13d  %6.0f  %10d  %10d"):format(s.t, s.rss, s.lua, s.sim, s.reconnects))
end
