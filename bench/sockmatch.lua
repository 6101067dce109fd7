-- Pairs the times at which append_audio (or sendRealtimeInput) returned with the writes of
-- the same frames to the TCP socket recorded by bench/c/sockstamp.so, and prints
-- "RESULT {...}" with the median and p99 of the delay.
--
--   lua5.4 bench/sockmatch.lua SIDE APPEND_TIMES_FILE SOCKSTAMP_FILE
--
-- Both files hold CLOCK_MONOTONIC nanoseconds. Frames go out in order and one 20 ms chunk
-- is one ~950-byte TLS record, so the n-th append is paired with the n-th socket write of
-- at least 600 bytes on the session's socket, counting from 10 ms before the first append
-- returned (earlier writes are the handshake and the setup message). A negative delay
-- means the bytes were written before the call returned (Node writes inside the call).
local cjson = require "cjson"
local side, appends_file, stamps_file = arg[1], arg[2], arg[3]

local appends = {}
for line in io.lines(appends_file) do appends[#appends + 1] = tonumber(line) end
local writes = {}
for line in io.lines(stamps_file) do
  local ns, fd, bytes = line:match "^(%d+) (%d+) (%d+)$"
  writes[#writes + 1] = { ns = tonumber(ns), fd = tonumber(fd), bytes = tonumber(bytes) }
end
table.sort(writes, function(a, b) return a.ns < b.ns end)

-- the socket the audio went to: the descriptor with the most large writes
local count, fd = {}, nil
for _, w in ipairs(writes) do count[w.fd] = (count[w.fd] or 0) + 1 end
for f, c in pairs(count) do if not fd or c > count[fd] then fd = f end end

local delays, j = {}, 1
local from = appends[1] and appends[1] - 10e6 or 0
local audio = {}
for _, w in ipairs(writes) do
  if w.fd == fd and w.ns >= from then audio[#audio + 1] = w end
end
for i, a in ipairs(appends) do
  if not audio[i] then break end
  delays[#delays + 1] = (audio[i].ns - a) / 1e6
end
table.sort(delays)
local function pct(p)
  if #delays == 0 then return nil end
  return delays[math.max(1, math.min(#delays, math.ceil(p / 100 * #delays)))]
end
io.write("RESULT ", cjson.encode {
  workload = "append_socket", side = side, appends = #appends, writes = #audio, matched = #delays,
  p50_ms = pct(50), p99_ms = pct(99), max_ms = pct(100),
}, "\n")
