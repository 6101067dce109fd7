-- Decoding cost of one server audio message: realtime.core.map_server (JSON decode, base64
-- decode of the PCM, mapping to output_audio_delta) on a 40 ms, 24 kHz output audio message
-- in the form the service (and the simulator) sends: camelCase JSON pretty-printed with two
-- spaces and a trailing newline, 1,920 bytes of PCM as 2,560 base64 characters.
--
-- Steady state inside a response (the first frame of a turn also yields response_created);
-- garbage collection of the produced tables and strings is included. Prints microseconds
-- per message: the median of BENCH_MAP_BATCHES (default 7) batches of BENCH_MAP_ITERS
-- (default 20000) calls, timed with os.clock (CPU time).
local core = require "realtime.core"
local lib = require "bench.lib"

local iters = math.tointeger(lib.env_number("BENCH_MAP_ITERS", 20000))
local batches = math.tointeger(lib.env_number("BENCH_MAP_BATCHES", 7))

-- 40 ms of a 440 Hz tone at 24 kHz, base64 through the module's own client mapping
local pcm = {}
for i = 0, 959 do pcm[#pcm + 1] = string.pack("<i2", math.floor(6000 * math.sin(2 * math.pi * 440 * i / 24000))) end
pcm = table.concat(pcm)
local st0 = core.map_new { backend = "gemini" }
local b64 = core.json_decode(core.map_client(st0, { type = "conversation_item_create",
  item = { content = { { type = "image", data = pcm, mime = "image/png" } } } })[1]).realtimeInput.video.data
assert(#b64 == 2560)

local text = table.concat({
  "{",
  '  "serverContent": {',
  '    "modelTurn": {',
  '      "parts": [',
  "        {",
  '          "inlineData": {',
  '            "mimeType": "audio/pcm;rate=24000",',
  '            "data": "' .. b64 .. '"',
  "          }",
  "        }",
  "      ]",
  "    }",
  "  }",
  "}",
}, "\n") .. "\n"

local st = core.map_new { backend = "gemini" }
local first = assert(core.map_server(st, text))
assert(first[1].type == "response_created" and first[2].type == "output_audio_delta")
local steady = assert(core.map_server(st, text))
assert(#steady == 1 and steady[1].type == "output_audio_delta" and steady[1].audio == pcm and steady[1].rate == 24000)

local per = {}
for b = 1, batches do
  collectgarbage "collect"
  local c0 = os.clock()
  for _ = 1, iters do core.map_server(st, text) end
  per[b] = (os.clock() - c0) / iters * 1e6
end
lib.result {
  workload = "map_server",
  message_bytes = #text,
  us_per_message = lib.percentile(per, 50),
  us_min = lib.percentile(per, 0),
  us_max = lib.percentile(per, 100),
}
