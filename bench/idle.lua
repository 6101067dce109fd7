-- Workload 3, "idle": BENCH_IDLE_SESSIONS (default 1000) connected sessions on one client,
-- doing nothing. Memory per session = (RSS with all sessions - RSS with the first one) /
-- (sessions - 1), both read after a full garbage collection, TLS included.
local lib = require "bench.lib"

local n = math.tointeger(lib.env_number("BENCH_IDLE_SESSIONS", 1000))
local settle = lib.env_number("BENCH_IDLE_SETTLE", 2)

local client = lib.client { max_sessions = n + 16 }
local sessions = { assert(client:connect(lib.session_options)) }
collectgarbage "collect"
lib.sleep_until(lib.now() + 0.5)
local base = lib.rss_kib()
local t0 = lib.now()
for i = 2, n do
  sessions[i] = assert(client:connect(lib.session_options))
end
local t1 = lib.now()
lib.sleep_until(lib.now() + settle)
collectgarbage "collect"
local rss, hwm = lib.rss_kib()
local open = 0
for _, s in ipairs(sessions) do if s:is_open() then open = open + 1 end end
-- What a frame loop pays per frame to learn that none of n sessions has a message: the
-- CPU of one client:poll() over them all, idle (averaged over `polls` calls).
local polls = math.tointeger(lib.env_number("BENCH_IDLE_POLLS", 200))
local got, quiet = 0, lib.now() + 0.5
while lib.now() < quiet do        -- what setup left (a resumption handle each) first
  if #client:poll() > 0 then quiet = lib.now() + 0.5 end
  lib.sleep_until(lib.now() + 0.01)
end
local c0 = lib.cpu()
for _ = 1, polls do got = got + #client:poll() end
local poll_us = (lib.cpu() - c0) * 1e6 / polls
lib.result {
  workload = "idle",
  sessions = n,
  open = open,
  rss_one_kib = base,
  rss_all_kib = rss,
  hwm_kib = hwm,
  per_session_kib = (rss - base) / (n - 1),
  connect_seconds = t1 - t0,
  poll_us = poll_us,
  poll_messages = got,
}
client:close()
