-- Shared pieces of the Lua side of the benchmarks (bench/run.sh runs them).
--
-- Every workload script reads its settings from the environment that run.sh sets:
--   BENCH_SIM_HTTP  https://127.0.0.1:PORT of the simulator
--   BENCH_SIM_CA    the CA file that signed the simulator's certificate
--   BENCH_SIM_KEY   the API key the simulator accepts
-- and prints one line "RESULT {json}" with its figures on stdout.
local cjson = require "cjson"
local realtime = require "realtime"

local lib = {}

lib.model = "gemini-2.5-flash-native-audio-preview-09-2025"
lib.sim_http = os.getenv "BENCH_SIM_HTTP"
lib.sim_ca = os.getenv "BENCH_SIM_CA"
lib.sim_key = os.getenv "BENCH_SIM_KEY" or "test-key"

function lib.env_number(name, default)
  local v = tonumber(os.getenv(name) or "")
  return v or default
end

--- A Gemini client on the simulator, over TLS.
function lib.client(extra)
  assert(lib.sim_http, "BENCH_SIM_HTTP is not set: run the benchmarks through bench/run.sh")
  local opts = { api_key = lib.sim_key, base_url = lib.sim_http, ca_file = lib.sim_ca, model = lib.model,
                 event_loop = os.getenv "BENCH_EVENT_LOOP" }   -- "poll" or "epoll" to compare
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(realtime.gemini(opts))
end

--- The session options every workload uses: audio out, automatic activity detection,
-- everything else left at the module's defaults.
lib.session_options = { output_modalities = { "audio" }, timeout = 30 }

-- ---- audio -----------------------------------------------------------------------------

--- One "utterance" as 20 ms chunks of 16 kHz 16-bit PCM: `speech` seconds of a 220 Hz
-- tone (loud enough for the simulator's activity detection), then `silence` seconds of
-- silence, which ends the user's turn (the simulator's default: 500 ms of silence).
function lib.utterance_chunks(speech, silence)
  local rate, chunk = 16000, 320
  local chunks = {}
  local n_speech = math.floor(speech * 50 + 0.5)
  local n_total = n_speech + math.floor(silence * 50 + 0.5)
  local silent = string.rep("\0\0", chunk)
  -- one string.pack per chunk, as Node's side writes into one Buffer: a string per sample
  -- cost 4.5 ms of the run's ~200 ms of CPU (the same samples: the same expression)
  local fmt, samples = "<" .. string.rep("i2", chunk), {}
  for c = 0, n_total - 1 do
    if c < n_speech then
      for i = 0, chunk - 1 do
        local n = c * chunk + i
        samples[i + 1] = math.floor(8000 * math.sin(2 * math.pi * 220 * n / rate))
      end
      chunks[#chunks + 1] = string.pack(fmt, table.unpack(samples, 1, chunk))
    else
      chunks[#chunks + 1] = silent
    end
  end
  return chunks
end

-- ---- clocks and process figures --------------------------------------------------------

lib.now = realtime.core.now   -- CLOCK_MONOTONIC seconds

--- Wall-clock seconds (CLOCK_REALTIME through gettimeofday, microsecond resolution): the
-- simulator stamps frames with the same clock (epoch milliseconds), so the two compare.
local ok_sys, system = pcall(require, "system")
lib.wall = ok_sys and system.gettime or nil

--- CPU seconds (user + system, every thread) of this process so far.
lib.cpu = os.clock

--- The current resident set size in KiB (VmRSS), and the peak (VmHWM).
function lib.rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read "a"
  f:close()
  return tonumber(s:match "VmRSS:%s+(%d+)"), tonumber(s:match "VmHWM:%s+(%d+)")
end

--- Percentile (nearest rank) of an array of numbers; sorts a copy.
function lib.percentile(values, p)
  if #values == 0 then return nil end
  local s = {}
  for i, v in ipairs(values) do s[i] = v end
  table.sort(s)
  local k = math.max(1, math.min(#s, math.ceil(p / 100 * #s)))
  return s[k]
end

function lib.result(t)
  t.side = "lua"
  io.stdout:write("RESULT ", cjson.encode(t), "\n")
  io.stdout:flush()
end

--- Sleeps until the monotonic time `t` (blocks the thread; used by loops that tick).
function lib.sleep_until(t)
  local left = t - lib.now()
  if left > 0 then realtime.core.sleep(left) end
end

-- ---- the simulator's control API --------------------------------------------------------

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function lib.sim_get(path)
  local cmd = ("curl -sS --max-time 60 --cacert %s %s"):format(shell_quote(lib.sim_ca),
    shell_quote(lib.sim_http .. path))
  local p = assert(io.popen(cmd))
  local out = p:read "a"
  p:close()
  return cjson.decode(out)
end

return lib
