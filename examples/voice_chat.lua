-- voice_chat.lua: ask a spoken question, let the model call a Lua tool, save its spoken answer.
--
--   lua5.4 examples/voice_chat.lua [question.wav [reply.wav]]
--
-- The question (default examples/question.wav: a 16-bit PCM WAV file at 8000 to 192000 Hz,
-- mono or stereo) is streamed in 20 ms chunks at the pace a microphone would deliver them,
-- the live transcripts are printed as they arrive, and the answer's audio is written to
-- reply.wav. Without the default recording (espeak-ng is missing) a tone is sent instead;
-- a question file that is named but cannot be used, or a reply file that cannot be
-- written, ends the program before it connects.
--
-- Where it connects is decided by the environment only, so the same code talks to Google
-- or to the local simulator (`make demo` sets the simulator up this way):
--
--   GEMINI_API_KEY           Gemini Developer API key (GOOGLE_API_KEY works too)
--   GOOGLE_CLOUD_PROJECT     without a Gemini key: Vertex AI with Application Default
--                            Credentials (GOOGLE_CLOUD_LOCATION, default us-central1)
--   REALTIME_BASE_URL        another endpoint, e.g. https://127.0.0.1:8443 (the simulator)
--   REALTIME_CA_FILE         PEM file of the CA that endpoint's certificate comes from
--   REALTIME_MODEL           the model, if not the default one below
--   REALTIME_PACE=fast       stream the question as fast as possible (tests)
local realtime = require "realtime"
local cjson = require "cjson"

local question_file = arg[1] or "examples/question.wav"
local reply_file = arg[2] or "reply.wav"
local realtime_pace = os.getenv "REALTIME_PACE" ~= "fast"

-- Ends the program with a message and exit status 1 (a Lua error would add a traceback).
local function fail(fmt, ...)
  io.stderr:write(("voice_chat: " .. fmt .. "\n"):format(...))
  os.exit(1)
end

-- An empty argument names no file: realtime.wav.read raises for it, io.open would say
-- nothing about which one.
if question_file == "" then fail("the question's file name is empty") end
if reply_file == "" then fail("the reply's file name is empty") end

-- ---- 1. the question: 16 kHz 16-bit mono PCM -----------------------------------------

local RATE = 16000
local pcm, rate, channels = realtime.wav.read(question_file)
if pcm then
  -- realtime.resample takes rates from 8000 to 192000 Hz
  if rate < 8000 or rate > 192000 then
    fail("%s is %d Hz: recordings from 8000 to 192000 Hz are supported", question_file, rate)
  end
  -- no samples, no turn: the model would never answer
  if #pcm == 0 then fail("%s holds no audio", question_file) end
  pcm = realtime.wav.to_mono(pcm, channels)
  -- espeak-ng writes 22050 Hz; the Live API takes 16 kHz input
  local resampled = ""
  if rate ~= RATE then
    pcm = realtime.resample(pcm, rate, RATE)
    resampled = (", resampled from %d Hz"):format(rate)
  end
  print(("question: %s (%.1f s%s)"):format(question_file, #pcm / 2 / RATE, resampled))
elseif arg[1] then
  fail("cannot read %s", rate)                -- a file the user named: no stand-in for it
else
  -- No recording (espeak-ng is missing): a 1 s beep and some silence still make a turn,
  -- and the simulator "hears" it as whatever its --heard option says.
  print(("question: %s; sending a 1 s tone instead"):format(rate))
  local samples = {}
  for i = 0, RATE - 1 do
    samples[#samples + 1] = string.pack("<i2", math.floor(8000 * math.sin(2 * math.pi * 220 * i / RATE)))
  end
  pcm = table.concat(samples) .. string.rep("\0\0", RATE // 2)
end

-- Opened now, so that a path that cannot be written is known before the model is asked.
local reply_out, open_err = io.open(reply_file, "wb")
if not reply_out then fail("cannot write %s", open_err) end

-- ---- 2. a client for whichever service the environment names ---------------------------

local function env(name)
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

-- Network, TLS, credential and setup failures come back as nil, message, code.
local function connected(value, err, code)
  if value then return value end
  io.stderr:write(("voice_chat: could not connect (%s): %s\n"):format(code, err))
  os.exit(1)
end

-- A malformed option (e.g. REALTIME_MODEL="bad model") makes client creation raise, not
-- return nil: end with one line naming the variable it came from, not a traceback.
local FROM_ENV = { model = "REALTIME_MODEL", base_url = "REALTIME_BASE_URL",
  ca_file = "REALTIME_CA_FILE", access_token = "VERTEX_ACCESS_TOKEN" }
local function new_client(new, options)
  local ok, client, err, code = pcall(new, options)
  if ok then return connected(client, err, code) end
  local msg = tostring(client):gsub("^[^\n]-:%d+: ", "", 1)    -- the raising line's position
  local var = FROM_ENV[msg:match "^option '([%w_]+)'" or ""]
  if var and env(var) then msg = var .. ": " .. msg end
  io.stderr:write(("voice_chat: %s\n"):format(msg))
  os.exit(1)
end

local client
local common = { base_url = env "REALTIME_BASE_URL", ca_file = env "REALTIME_CA_FILE" }
if not env "GEMINI_API_KEY" and not env "GOOGLE_API_KEY" and env "GOOGLE_CLOUD_PROJECT" then
  common.model = env "REALTIME_MODEL" or "gemini-live-2.5-flash-native-audio"
  client = new_client(realtime.vertex, common)   -- project, location, credentials from the env
else
  common.model = env "REALTIME_MODEL" or "gemini-2.5-flash-native-audio-preview-09-2025"
  client = new_client(realtime.gemini, common)   -- api_key from GEMINI_API_KEY
end

-- ---- 3. a session with one tool -------------------------------------------------------

local tool_calls = 0
local session = connected(client:connect {
  instructions = "You are a friendly weather assistant. Answer in one short sentence.",
  output_modalities = { "audio" },
  transcription = { input = true, output = true },   -- text of both sides, as it is spoken
  -- Push-to-talk: we say when the user's turn starts and ends (commit_audio) instead of
  -- relying on the server's voice activity detection. That behaves the same on every
  -- backend and for any recording, even one without trailing silence.
  vad = { enabled = false },
  tools = {
    { name = "get_weather", description = "Current weather for a city",
      parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
      -- Called from inside receive/poll on this thread; the return value goes to the model.
      handler = function(args)
        tool_calls = tool_calls + 1
        return { city = args.city, forecast = "light rain", celsius = 12 }
      end },
  },
})

-- ---- 4. printing what arrives -----------------------------------------------------------

local speaker                     -- who the current output line belongs to
local function say(who, text)
  if speaker ~= who then
    io.write(speaker and "\n" or "", who, ": ")
    speaker = who
  end
  io.write(text)
  io.flush()
end

local reply, reply_rate = {}, 24000
local usage = { input_tokens = 0, output_tokens = 0, total_tokens = 0 }
local called_tool = false         -- did the current response end in a tool call?
local finished = false

local function handle(msg)
  local t = msg.type
  if t == "input_audio_transcription_delta" then
    say("you", msg.text)
  elseif t == "output_audio_transcription_delta" then
    say("model", msg.text)
  elseif t == "input_audio_buffer_speech_started" or t == "interrupted" then
    -- the user speaks (newer models say so at once): a player stops the reply here
    reply = {}
  elseif t == "output_audio_delta" then
    reply[#reply + 1] = msg.audio
    reply_rate = msg.rate
  elseif t == "response_output_item_done" then
    -- a function call; `result` is there because our handler answered it
    local call = msg.item.content[1]
    say("tool", ("%s(%s) -> %s"):format(call.name, cjson.encode(call.arguments), cjson.encode(msg.result)))
    called_tool = true
  elseif t == "response_done" then
    for k in pairs(usage) do usage[k] = usage[k] + (msg.usage and msg.usage[k] or 0) end
    -- A response that ends in a tool call is followed by another one with the answer.
    if not called_tool then finished = true end
    called_tool = false
  elseif t == "error" then
    say("error", ("%s (%s)"):format(msg.message, msg.code))
  elseif t == "closed" then
    finished = true
  end
end

-- ---- 5. stream the question like a microphone, then wait for the answer ---------------

local CHUNK = RATE * 2 * 20 // 1000          -- 20 ms of 16-bit samples: 640 bytes
for i = 1, #pcm, CHUNK do
  assert(session:append_audio(pcm:sub(i, i + CHUNK - 1)))
  for msg in session.poll, session do handle(msg) end   -- whatever has arrived meanwhile
  if realtime_pace then realtime.sleep(0.02) end
end
assert(session:commit_audio())                -- end of the user's turn: the model answers

while not finished do
  local msg, rerr, code = session:receive(30)
  if not msg then fail("no answer: %s (%s)", rerr, code) end
  handle(msg)
end
io.write("\n")

local stats = session:stats()
session:close()
client:close()

-- ---- 6. the answer and a summary --------------------------------------------------------

local audio = table.concat(reply)
local written, write_err = reply_out:write(realtime.wav.encode(audio, reply_rate))
local closed, close_err = reply_out:close()
if not (written and closed) then fail("cannot write %s", write_err or close_err) end
print(("%s: %.1f s at %d Hz | tool calls: %d | turn latency: %s | tokens: %d (%d in, %d out)"):format(
  reply_file, #audio / 2 / reply_rate, reply_rate, tool_calls,
  stats.first_audio and ("%.2f s"):format(stats.first_audio) or "n/a",
  usage.total_tokens, usage.input_tokens, usage.output_tokens))
if #audio == 0 then os.exit(1) end
