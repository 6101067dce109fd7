-- Workload "flood": the receive bound. A server (spec/hostile) sends a flood in one write
-- while the caller does not read for BENCH_FLOOD_WAIT seconds; then the caller reads
-- everything. `lua5.4 bench/flood.lua tiny` floods 2-byte messages (flood_tiny),
-- `... mixed` messages of 2 B to 64 KB (flood_mixed); one mix per process, so one does not
-- reuse the memory the other freed. Reported: the limit (max_receive_bytes), the most the
-- unread events held (received_bytes, sampled every 10 ms), the process's RSS growth from
-- before the connect, and whether every message arrived.
local lib = require "bench.lib"
local realtime = require "realtime"

local wait = lib.env_number("BENCH_FLOOD_WAIT", 3)
local limit = math.tointeger(lib.env_number("BENCH_FLOOD_LIMIT", 16 * 1048576))

-- the hostile server, on a free port
local log = os.tmpname()
local server = io.popen(("node spec/hostile/server.js --port 0 --quiet >%s 2>&1 & echo $!"):format(log))
local pid = server:read "l"
server:close()
local base
for _ = 1, 100 do
  local f = io.open(log)
  base = f and f:read "a":match "^LISTENING (%S+)"
  if f then f:close() end
  if base then break end
  realtime.sleep(0.1)
end
assert(base, "the hostile server did not start")

local function flood(mode, n)
  local client = assert(realtime.gemini { base_url = base .. "/" .. mode .. "/n=" .. n,
                                          api_key = "k", model = lib.model })
  collectgarbage "collect"
  local rss0 = lib.rss_kib()   -- before: the flood comes right after setupComplete
  local s = assert(client:connect { max_receive_bytes = limit, resumption = false, timeout = 30 })
  local peak_held, peak_rss = 0, rss0
  local t_end = realtime.now() + wait
  while realtime.now() < t_end do
    realtime.sleep(0.01)
    local st = s:stats()
    if st.received_bytes > peak_held then peak_held = st.received_bytes end
    local rss = lib.rss_kib()
    if rss > peak_rss then peak_rss = rss end
  end
  local got, busy = 0, 0
  while got < n do
    local msg = assert(s:receive(30))
    if msg.type == "raw" then got = got + 1
    elseif msg.type == "error" and msg.code == "busy" then busy = busy + 1
    else error(msg.type .. ": " .. tostring(msg.message or msg.reason)) end
  end
  local st = s:stats()
  s:close()
  client:close()
  return { held_max = peak_held, rss_growth_kib = peak_rss - rss0, received = got,
           pauses = st.rx_pauses, busy_errors = busy }
end

local mix = arg[1] or "tiny"
local r = mix == "tiny" and flood("flood_tiny", math.tointeger(lib.env_number("BENCH_FLOOD_TINY", 400000)))
  or flood("flood_mixed", math.tointeger(lib.env_number("BENCH_FLOOD_MIXED", 2000)))
os.execute("kill " .. pid)
os.remove(log)
lib.result {
  workload = "flood", mix = mix, limit = limit, n = r.received, held_max = r.held_max,
  rss_growth_kib = r.rss_growth_kib, pauses = r.pauses, busy_errors = r.busy_errors,
}
