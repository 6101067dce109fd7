-- Workload 5, "connect": time from client:connect to its return, which is when the
-- server's setupComplete arrived: TCP + TLS + WebSocket upgrade + setup round trip, on one
-- client (BENCH_CONNECTS times, default 50; each session is closed before the next).
local lib = require "bench.lib"

local n = math.tointeger(lib.env_number("BENCH_CONNECTS", 50))
local client = lib.client()
local times = {}
for i = 1, n do
  local t0 = lib.now()
  local s = assert(client:connect(lib.session_options))
  times[i] = (lib.now() - t0) * 1000
  s:close()
  for msg in s:messages(5) do if msg.type == "closed" then break end end
end
client:close()
lib.result {
  workload = "connect",
  connects = n,
  p50_ms = lib.percentile(times, 50),
  p99_ms = lib.percentile(times, 99),
  first_ms = times[1],
}
