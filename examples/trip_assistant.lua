-- trip_assistant.lua: go on with an earlier conversation, with Google Search and a Lua
-- function side by side.
--
--   lua5.4 examples/trip_assistant.lua ["question" ...]
--
-- The session starts with history (what the user and the assistant said in an earlier text
-- chat), so the model knows the trip is to Lisbon without being told again. Its tools are
-- Google Search, which the service runs itself (its sources arrive as a `grounding`
-- message), and `get_exchange_rate`, a Lua function answered on this thread.
--
-- The endpoint comes from the environment, as in voice_chat.lua: GEMINI_API_KEY (Gemini
-- Developer API), or GOOGLE_CLOUD_PROJECT without a Gemini key (Vertex AI, with
-- VERTEX_ACCESS_TOKEN or Application Default Credentials); REALTIME_BASE_URL,
-- REALTIME_CA_FILE and REALTIME_MODEL to use another endpoint such as the local simulator.
local realtime = require "realtime"
local cjson = require "cjson"

-- An empty question sends nothing, so no answer would ever come, and send_text raises
-- for one that is not UTF-8 (a terminal in Latin-1): refuse either at once.
for i, q in ipairs(arg) do
  if not q:match "%S" then
    io.stderr:write(('usage: trip_assistant.lua ["question" ...]: a question must say something (got %q)\n'):format(q))
    os.exit(2)
  elseif not utf8.len(q) then
    io.stderr:write(('usage: trip_assistant.lua ["question" ...]: a question must be UTF-8 text (argument %d is not)\n')
      :format(i))
    os.exit(2)
  end
end

local function env(name)
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

-- Network, TLS, credential and setup failures come back as nil, message, code.
local function connected(value, err, code)
  if value then return value end
  io.stderr:write(("trip_assistant: could not connect (%s): %s\n"):format(code, err))
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
  io.stderr:write(("trip_assistant: %s\n"):format(msg))
  os.exit(1)
end

local client
local common = { base_url = env "REALTIME_BASE_URL", ca_file = env "REALTIME_CA_FILE" }
if not env "GEMINI_API_KEY" and not env "GOOGLE_API_KEY" and env "GOOGLE_CLOUD_PROJECT" then
  common.model = env "REALTIME_MODEL" or "gemini-live-2.5-flash-native-audio"
  common.access_token = env "VERTEX_ACCESS_TOKEN"   -- nil: Application Default Credentials
  client = new_client(realtime.vertex, common)
else
  common.model = env "REALTIME_MODEL" or "gemini-2.5-flash-native-audio-preview-09-2025"
  client = new_client(realtime.gemini, common)
end

-- The earlier conversation. On the Gemini API it goes out as the session's initial
-- history (the model does not answer it); on Vertex AI as context turns.
local history = {
  { role = "user", text = "I am planning a weekend in Lisbon and I will pay in euros." },
  { role = "assistant", text = "Lovely! Lisbon has trams, miradouros and great pastries." },
  { role = "user", text = "My budget is 300 US dollars." },
}

-- A fixed table instead of a real rates service, so the example runs offline.
local RATES = { EUR = 0.92, GBP = 0.79, JPY = 151.2 }

local session = connected(client:connect {
  instructions = "You help the user plan a trip. Answer in one or two short sentences.",
  output_modalities = { "audio" },
  transcription = { output = true },   -- the spoken answers as text
  history = history,
  tools = {
    { type = "google_search" },
    { name = "get_exchange_rate", description = "How much one US dollar is worth in a currency",
      parameters = { type = "object", required = { "currency" },
        properties = { currency = { type = "string", description = "ISO 4217 code, e.g. EUR" } } },
      handler = function(args)
        local rate = RATES[args.currency]
        local result = rate and { currency = args.currency, per_usd = rate }
          or { error = "unknown currency " .. tostring(args.currency) }
        print(("tool: get_exchange_rate(%s) -> %s"):format(cjson.encode(args), cjson.encode(result)))
        return result
      end },
  },
})
print(("history: %d turns given"):format(#history))

-- Asks one question and prints the spoken answer and its sources. A tool call ends a
-- response by itself, so the answer is the first response that says something.
local function ask(question)
  print("you: " .. question)
  assert(session:send_text(question))
  local said = {}
  for msg in session:messages(60) do
    if msg.type == "output_audio_transcription_delta" then
      said[#said + 1] = msg.text
    elseif msg.type == "grounding" then
      local sources = {}
      for _, chunk in ipairs(msg.metadata.groundingChunks or {}) do
        if chunk.web then sources[#sources + 1] = chunk.web.uri end
      end
      if #sources > 0 then print("sources: " .. table.concat(sources, " ")) end
    elseif msg.type == "response_done" and #said > 0 then
      print("model: " .. table.concat(said))
      return
    elseif msg.type == "error" then
      print(("error (%s): %s"):format(msg.code, msg.message))
    elseif msg.type == "closed" then
      io.stderr:write(("trip_assistant: session closed (%s %s)\n"):format(msg.code, msg.reason))
      os.exit(1)
    end
  end
  io.stderr:write("trip_assistant: no answer within 60 s\n")
  os.exit(1)
end

local questions = #arg > 0 and arg or {
  "Search the web for Lisbon tram fares",
  "What is my budget in the exchange rate of EUR?",
  "Before we go on, remind me of our history",
}
for _, q in ipairs(questions) do ask(q) end

session:close()
client:close()
