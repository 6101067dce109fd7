-- Turns the raw output of bench/run.sh (a directory with an `index` and per-run files) into
-- the Markdown of bench/results.md: medians per side, ratios from the same invocation,
-- targets, and every run's figures.
--   lua5.4 bench/report.lua build/bench-out
local cjson = require "cjson"
local dir = assert(arg[1], "usage: report.lua OUTDIR")

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read "a"
  f:close()
  return s
end

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p and p:read "a" or ""
  if p then p:close() end
  return (s:gsub("%s+$", ""))
end

-- runs[workload][side] = { {result..., time..., sim...}, ... }
local runs = {}
for line in io.lines(dir .. "/index") do
  local w, side, run, base = line:match "^(%S+) (%S+) (%S+) (%S+)$"
  local r = {}
  local res = (read(base .. ".out") or ""):match "RESULT (%b{})"
  for k, v in pairs(res and cjson.decode(res) or {}) do r[k] = v end
  for _, ext in ipairs { "time", "sim" } do
    local t = read(base .. "." .. ext)
    if t then for k, v in pairs(cjson.decode(t)) do r[ext .. "_" .. k] = v end end
  end
  local sys = read(base .. ".sys")
  if sys and sys:match "%b{}" then for k, v in pairs(cjson.decode(sys)) do r[k] = v end end
  local sock = (read(base .. ".sock") or ""):match "RESULT (%b{})"
  if sock then for k, v in pairs(cjson.decode(sock)) do r["sock_" .. k] = v end end
  r.run = tonumber(run)
  runs[w] = runs[w] or {}
  runs[w][side] = runs[w][side] or {}
  table.insert(runs[w][side], r)
end

local function median(list)
  if #list == 0 then return nil end
  table.sort(list)
  local n = #list
  if n % 2 == 1 then return list[(n + 1) // 2] end
  return (list[n // 2] + list[n // 2 + 1]) / 2
end

-- the median over runs of f(run) for one workload and side
local function med(w, side, f)
  local list = {}
  for _, r in ipairs(runs[w] and runs[w][side] or {}) do
    local ok, v = pcall(f, r)
    if ok and type(v) == "number" and v == v then list[#list + 1] = v end
  end
  return median(list)
end

local function fmt(v, digits)
  if v == nil then return "–" end
  digits = digits or 2
  if math.abs(v) >= 100 then return ("%.0f"):format(v) end
  if math.abs(v) >= 10 then return ("%." .. math.max(0, digits - 1) .. "f"):format(v) end
  return ("%." .. digits .. "f"):format(v)
end

local out = {}
local function p(s) out[#out + 1] = s or "" end

local rows = {}
-- row(workload, measure, lua, node, better, target, met): `better` = "lower" puts the ratio
-- as node / lua ("x times less for this module")
local function row(w, measure, lua, node, target, met, digits)
  local ratio = (lua and node and lua > 0 and node > 0) and node / lua or nil
  rows[#rows + 1] = { w, measure, fmt(lua, digits), fmt(node, digits),
    ratio and (("%.1f×"):format(ratio)) or "–", target or "", met == nil and "" or (met and "met" or "**missed**") }
end

local cpu = function(r) return r.time_user + r.time_sys end

if runs.stream then
  local lua = med("stream", "lua", function(r) return cpu(r) * 3600 / r.audio_seconds end)
  local node = med("stream", "node", function(r) return cpu(r) * 3600 / r.audio_seconds end)
  row("1. Stream", "CPU s per audio-hour, whole process", lua, node, "≥ 5× less (on the way to 10×)",
    lua and node and node / lua >= 5)
  local lp = med("stream", "lua", function(r) return r.stream_cpu_per_audio_hour end)
  local np = med("stream", "node", function(r) return r.stream_cpu_per_audio_hour end)
  row("", "CPU s per audio-hour, streaming phase only", lp, np)
  row("", "peak RSS, MiB", med("stream", "lua", function(r) return r.time_maxrss_kib / 1024 end),
    med("stream", "node", function(r) return r.time_maxrss_kib / 1024 end))
  row("", "wall time of the streaming phase, s", med("stream", "lua", function(r) return r.stream_wall end),
    med("stream", "node", function(r) return r.stream_wall end))
end
if runs.syscalls then
  -- messages: the audio chunks sent and the reply deltas received
  local per = function(r) return r.syscalls / (r.chunks + r.reply_deltas) end
  local lua = med("syscalls", "lua", per)
  local node = med("syscalls", "node", per)
  row("", "system calls per message (strace -f -c, every thread)", lua, node, "≤ 1", lua and lua <= 1, 3)
  row("", "system calls in all", med("syscalls", "lua", function(r) return r.syscalls end),
    med("syscalls", "node", function(r) return r.syscalls end))
end
if runs.fanout then
  local lua = med("fanout", "lua", function(r) return r.cpu_percent end)
  local node = med("fanout", "node", function(r) return r.cpu_percent end)
  row("2. Fan-out", "CPU % of one core while streaming", lua, node, "≥ 3× less", lua and node and node / lua >= 3)
  row("", "CPU s, whole process", med("fanout", "lua", cpu), med("fanout", "node", cpu))
  row("", "RSS at the end, MiB", med("fanout", "lua", function(r) return r.rss_kib / 1024 end),
    med("fanout", "node", function(r) return r.rss_kib / 1024 end))
  row("", "peak RSS, MiB", med("fanout", "lua", function(r) return r.time_maxrss_kib / 1024 end),
    med("fanout", "node", function(r) return r.time_maxrss_kib / 1024 end))
  row("", "simulator CPU % of one core (same period)",
    med("fanout", "lua", function(r) return 100 * r.sim_sim_cpu / r.sim_sim_wall end),
    med("fanout", "node", function(r) return 100 * r.sim_sim_cpu / r.sim_sim_wall end))
  row("", "replies completed", med("fanout", "lua", function(r) return r.replies end),
    med("fanout", "node", function(r) return r.replies end))
end
if runs.idle then
  local lua = med("idle", "lua", function(r) return r.per_session_kib end)
  local node = med("idle", "node", function(r) return r.per_session_kib end)
  row("3. Idle", "KiB per session (TLS included)", lua, node, "≤ 20 KiB", lua and lua <= 20)
  row("", "µs of CPU per client:poll() over the idle sessions",
    med("idle", "lua", function(r) return r.poll_us end), nil)
  row("", "peak RSS, MiB", med("idle", "lua", function(r) return r.time_maxrss_kib / 1024 end),
    med("idle", "node", function(r) return r.time_maxrss_kib / 1024 end))
end
if runs.latency then
  for _, d in ipairs { { "down", "simulator writes audio → PCM in the caller's hands" },
                       { "up", "append_audio called → simulator has read it" } } do
    for _, q in ipairs { "p50", "p99" } do
      local key = d[1] .. "_" .. q .. "_ms"
      local lua = med("latency", "lua", function(r) return r[key] end)
      local node = med("latency", "node", function(r) return r[key] end)
      local met
      if q == "p99" and lua then met = lua < 1 end
      row(q == "p50" and d[1] == "down" and "4. Latency" or "", d[2] .. ", " .. q .. ", ms — Lua under realtime.run", lua, node,
        q == "p99" and "< 1 ms" or nil, met, 3)
    end
  end
  for _, d in ipairs { { "down", "simulator writes audio → PCM in hand" },
                       { "up", "append_audio called → simulator has read it" } } do
    for _, q in ipairs { "p50", "p99" } do
      local key = d[1] .. "_" .. q .. "_ms"
      local lua = med("latency", "luacq", function(r) return r[key] end)
      local node = med("latency", "node", function(r) return r[key] end)
      local met
      if q == "p99" and lua then met = lua < 1 end
      row("", d[2] .. ", " .. q .. ", ms — Lua under cqueues", lua, node, q == "p99" and "< 1 ms" or nil, met, 3)
    end
  end
  for _, q in ipairs { "p50", "p99" } do
    local lua = med("latency", "lua", function(r) return r["sock_" .. q .. "_ms"] end)
    local node = med("latency", "node", function(r) return r["sock_" .. q .. "_ms"] end)
    local met
    if q == "p50" and lua then met = lua < 0.3 end
    row("", "append_audio returned → bytes written to the socket, " .. q .. ", ms", lua, node,
      q == "p50" and "< 0.3 ms" or nil, met, 3)
  end
end
if runs.connect then
  local lua = med("connect", "lua", function(r) return r.p50_ms end)
  local node = med("connect", "node", function(r) return r.p50_ms end)
  row("5. Connect", "to setupComplete over TLS, p50, ms", lua, node)
  row("", "to setupComplete over TLS, p99, ms", med("connect", "lua", function(r) return r.p99_ms end),
    med("connect", "node", function(r) return r.p99_ms end))
end
if runs.flood then
  for _, mix in ipairs { { "tiny", "2-byte messages" }, { "mixed", "messages of 2 B to 64 KB" } } do
    local held = med("flood", mix[1], function(r) return r.held_max / 1048576 end)
    local limit = med("flood", mix[1], function(r) return r.limit / 1048576 end)
    local growth = med("flood", mix[1], function(r) return r.rss_growth_kib / 1024 end)
    row(mix[1] == "tiny" and "6. Undrained receive" or "",
      "flood of " .. mix[2] .. ": most held by unread events, MiB (limit " .. fmt(limit) .. ")",
      held, nil, "≤ limit + one message", held and limit and held <= limit + 0.07)
    row("", "flood of " .. mix[2] .. ": process RSS growth, MiB", growth, nil)
  end
end
if runs.map then
  local lua = med("map", "lua", function(r) return r.us_per_message end)
  row("Decode", "map_server, one 40 ms 24 kHz audio message, µs", lua, nil, "< 20 µs", lua and lua < 20)
end

-- ---- the page ----
local versions = sh [[lua5.4 -e 'local v = require("realtime").versions(); print(("realtime %s, %s, libwebsockets %s, %s, libcurl %s"):format(v.realtime, v.lua, v.libwebsockets, v.openssl, v.libcurl))']]
local nruns = 0
for _, sides in pairs(runs) do for _, list in pairs(sides) do nruns = math.max(nruns, #list) end end

p "# Benchmark results"
p ""
p "Produced by `make bench` (bench/run.sh); the method is in bench/README.md."
p ""
p("- Date: " .. os.date "!%Y-%m-%d %H:%M UTC")
p("- Commit: " .. sh "git rev-parse --short HEAD" .. (sh "git status --porcelain -- csrc lua" ~= "" and " (with local changes in csrc/ or lua/)" or ""))
p("- CPU: " .. sh [==[sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1]==] .. ", " .. sh "nproc" .. " cores; " .. sh "uname -sr")
-- what a client of this build waits with (BENCH_EVENT_LOOP chooses, as in bench/lib.lua)
local loop = sh [[lua5.4 -e 'local c = require("realtime").gemini { api_key = "k", event_loop = os.getenv("BENCH_EVENT_LOOP") }; print(c:event_loop()); c:close()']]
p("- This module: " .. versions .. "; the I/O thread waits with " .. loop)
p("- Node.js " .. sh "node --version" .. ", @google/genai " ..
  sh [[node -p "require('./spec/livesim/node_modules/@google/genai/package.json').version"]] .. ", ws " ..
  sh [[node -p "require('./spec/livesim/node_modules/ws/package.json').version"]])
p(string.format("- Settings: %d run(s) per side, medians; stream %s s of audio; fan-out %s sessions × %s s; idle %s sessions; latency %s s; connect × %s",
  nruns, os.getenv "BENCH_STREAM_SECONDS" or "?", os.getenv "BENCH_FANOUT_SESSIONS" or "?",
    os.getenv "BENCH_FANOUT_SECONDS" or "?", os.getenv "BENCH_IDLE_SESSIONS" or "?",
    os.getenv "BENCH_LATENCY_SECONDS" or "?", os.getenv "BENCH_CONNECTS" or "?"))
p ""
p "| Workload | Measure | realtime (Lua) | @google/genai (Node) | Node ÷ Lua | Target | |"
p "|---|---|---|---|---|---|---|"
for _, r in ipairs(rows) do p("| " .. table.concat(r, " | ") .. " |") end
p ""
p "## Every run"
p ""
p "| Workload | Side | Run | wall s | user s | sys s | peak RSS MiB | simulator CPU s | figures |"
p "|---|---|---|---|---|---|---|---|---|"
local skip = { side = true, workload = true, run = true }
for _, w in ipairs { "stream", "syscalls", "fanout", "idle", "latency", "connect", "flood", "map" } do
  for _, side in ipairs { "lua", "luacq", "node", "tiny", "mixed" } do
    for _, r in ipairs(runs[w] and runs[w][side] or {}) do
      local keys = {}
      for k in pairs(r) do
        if not skip[k] and not k:match "^time_" and not k:match "^sim_" and not k:match "^sock_side"
          and not k:match "^sock_workload" then keys[#keys + 1] = k end
      end
      table.sort(keys)
      local figs = {}
      for _, k in ipairs(keys) do
        local v = r[k]
        figs[#figs + 1] = k .. "=" .. (type(v) == "number" and fmt(v, 3) or tostring(v))
      end
      p(("| %s | %s | %d | %s | %s | %s | %s | %s | %s |"):format(w, side, r.run,
        fmt(r.time_wall), fmt(r.time_user, 3), fmt(r.time_sys, 3),
        r.time_maxrss_kib and fmt(r.time_maxrss_kib / 1024, 1) or "–",
        r.sim_sim_cpu and fmt(r.sim_sim_cpu) or "–", table.concat(figs, ", ")))
    end
  end
end
io.write(table.concat(out, "\n"), "\n")
