-- vertex.lua: one turn on Vertex AI.
--
--   GOOGLE_CLOUD_PROJECT=my-project lua5.4 examples/vertex.lua ["question"]
--
-- Credentials, in the order tried:
--   VERTEX_ACCESS_TOKEN    a ready OAuth token, e.g. $(gcloud auth print-access-token)
--   otherwise Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS (a service
--   account or authorized-user key file), the file `gcloud auth application-default login`
--   writes, or the metadata server on Google Cloud. Tokens found this way are refreshed
--   before they expire, for as long as the client lives (see docs/credentials.md).
-- GOOGLE_CLOUD_LOCATION picks the region (default us-central1); REALTIME_BASE_URL,
-- REALTIME_CA_FILE and REALTIME_MODEL as in text_chat.lua.
local realtime = require "realtime"

-- An empty question sends nothing, so no answer would ever come, and send_text raises
-- for one that is not UTF-8 (a terminal in Latin-1): refuse either at once.
if arg[1] and not arg[1]:match "%S" then
  io.stderr:write(('usage: vertex.lua ["question"]: a question must say something (got %q)\n'):format(arg[1]))
  os.exit(2)
elseif arg[1] and not utf8.len(arg[1]) then
  io.stderr:write('usage: vertex.lua ["question"]: a question must be UTF-8 text\n')
  os.exit(2)
end

local function env(name)
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

-- Network, TLS, credential and setup failures come back as nil, message, code.
local function connected(value, err, code)
  if value then return value end
  io.stderr:write(("vertex: could not connect (%s): %s\n"):format(code, err))
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
  io.stderr:write(("vertex: %s\n"):format(msg))
  os.exit(1)
end

local client = new_client(realtime.vertex, {
  -- project and location default to GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION
  access_token = env "VERTEX_ACCESS_TOKEN",   -- nil: Application Default Credentials
  base_url = env "REALTIME_BASE_URL",         -- nil: https://{location}-aiplatform.googleapis.com
  ca_file = env "REALTIME_CA_FILE",
  model = env "REALTIME_MODEL" or "gemini-live-2.5-flash-native-audio",
})

-- Credentials are looked up (and a token fetched) by connect; a failure there comes back
-- as nil, message, "auth" with the reason, e.g. no project or no credentials found.
local session = connected(client:connect {
  output_modalities = { "audio" },
  transcription = { output = true },
})

local question = arg[1] or "Say hello to Vertex AI."
print("you: " .. question)
assert(session:send_text(question))

io.write("model: ")
local audio, answered = 0, false
for msg in session:messages(60) do
  if msg.type == "output_audio_transcription_delta" then
    io.write(msg.text) io.flush()
  elseif msg.type == "output_audio_delta" then
    audio = audio + #msg.audio
  elseif msg.type == "response_done" then
    local usage = msg.usage or {}
    print(("\n(%.1f s of audio, %s tokens)"):format(audio / 2 / 24000, usage.total_tokens or "?"))
    answered = true
    break
  elseif msg.type == "error" or msg.type == "closed" then
    print(("\n%s: %s %s"):format(msg.type, msg.code, msg.message or msg.reason))
    os.exit(1)
  end
end
-- messages(60) also ends when 60 s pass without a message: that is no answer, not success.
if not answered then
  io.stderr:write("\nvertex: no answer: timed out\n")
  os.exit(1)
end

session:close()
client:close()
