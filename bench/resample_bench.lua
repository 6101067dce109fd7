-- Resampler throughput, in seconds of audio converted per second of CPU time.
--
--   eval $(make -s env); lua5.4 bench/resample_bench.lua [seconds-of-audio]
--
-- Measures the one-shot call on a long buffer and the streaming object fed 20 ms
-- chunks (what a microphone callback delivers), for the two conversions a voice session
-- makes: capture 48 kHz -> 16 kHz for the service, and the service's 24 kHz answer from
-- 16 kHz test material -> 24 kHz. CPU time comes from os.clock, so other processes on
-- the machine do not inflate the figures; input preparation is not timed.
local core = require "realtime.core"

local seconds = tonumber(arg[1]) or 30

-- Speech-like material: a few tones plus noise, at 1/3 of full scale.
local function material(rate, secs)
  local parts, n, x = {}, rate * secs, 1
  local block = {}
  for i = 0, n - 1 do
    x = (x * 1103515245 + 12345) % 2147483648
    local t = i / rate
    local v = 4000 * math.sin(2 * math.pi * 220 * t) + 3000 * math.sin(2 * math.pi * 1250 * t)
      + 1500 * math.sin(2 * math.pi * 3100 * t) + (x % 2001 - 1000)
    block[#block + 1] = math.floor(v + 0.5)
    if #block == 200 then
      parts[#parts + 1] = string.pack("<" .. ("i2"):rep(200), table.unpack(block))
      block = {}
    end
  end
  if #block > 0 then
    parts[#parts + 1] = string.pack("<" .. ("i2"):rep(#block), table.unpack(block))
  end
  return table.concat(parts)
end

-- Runs fn until at least half a CPU second has passed; returns CPU seconds per run.
local function time(fn)
  fn()                                   -- warm up (filter design, allocator)
  local runs, t0 = 0, os.clock()
  repeat
    fn()
    runs = runs + 1
  until os.clock() - t0 >= 0.5
  return (os.clock() - t0) / runs
end

local function cpu_model()
  local f = io.open "/proc/cpuinfo"
  if not f then return "unknown CPU" end
  for line in f:lines() do
    local m = line:match "^model name%s*:%s*(.-)%s*$"
    if m then f:close() return m end
  end
  f:close()
  return "unknown CPU"
end

print(string.format("CPU: %s; %d s of audio per run; seconds of audio per CPU second:", cpu_model(), seconds))
print(string.format("%-16s %12s %16s", "conversion", "one shot", "stream (20 ms)"))
for _, c in ipairs { { 48000, 16000 }, { 16000, 24000 }, { 44100, 16000 }, { 24000, 48000 } } do
  local from, to = c[1], c[2]
  local pcm = material(from, seconds)
  local chunk = from // 50 * 2                      -- 20 ms in bytes
  local chunks = {}
  for i = 1, #pcm, chunk do chunks[#chunks + 1] = pcm:sub(i, i + chunk - 1) end

  local one = time(function() core.resample(pcm, from, to) end)
  local stream = time(function()
    local r <close> = core.resampler(from, to)
    for i = 1, #chunks do r:process(chunks[i]) end
    r:flush()
  end)
  print(string.format("%-16s %12.0f %16.0f", string.format("%g", from / 1000) .. "k -> "
    .. string.format("%g", to / 1000) .. "k", seconds / one, seconds / stream))
end
