-- text_chat.lua: an interactive chat in the terminal, one session for the whole conversation.
--
--   lua5.4 examples/text_chat.lua          type a line, read the answer; Ctrl-D or /quit ends
--   printf 'hello\nrecap\n' | lua5.4 examples/text_chat.lua
--
-- Environment: GEMINI_API_KEY, and optionally REALTIME_BASE_URL, REALTIME_CA_FILE and
-- REALTIME_MODEL (see voice_chat.lua) to talk to another endpoint such as the simulator.
local realtime = require "realtime"

local function env(name)
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

-- Network, TLS, credential and setup failures come back as nil, message, code.
local function connected(value, err, code)
  if value then return value end
  io.stderr:write(("text_chat: could not connect (%s): %s\n"):format(code, err))
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
  io.stderr:write(("text_chat: %s\n"):format(msg))
  os.exit(1)
end

local client = new_client(realtime.gemini, {
  base_url = env "REALTIME_BASE_URL",   -- nil: Google
  ca_file = env "REALTIME_CA_FILE",
  model = env "REALTIME_MODEL" or "gemini-2.5-flash-native-audio-preview-09-2025",
})

-- Native-audio models answer in speech only. Asking for a transcript of that speech gives
-- the text as it is spoken; the audio itself is simply not played here.
local session = connected(client:connect {
  instructions = "You are a concise assistant in a text chat.",
  output_modalities = { "audio" },
  transcription = { output = true },
})

-- A prompt on a terminal; lines piped in are echoed instead, so the transcript reads well.
local interactive = os.execute "[ -t 0 ]"

local function chat()
  while true do
    if interactive then io.write("> ") io.flush() end
    local line = io.read "l"
    if line == nil or line == "/quit" then break end
    if not utf8.len(line) then
      -- send_text takes text, and raises for bytes that are not UTF-8 (a terminal or a file
      -- in Latin-1, say): tell the user and read on
      io.stderr:write("text_chat: that line is not UTF-8 text (another encoding?): not sent\n")
    elseif line:match "%S" then
      if not interactive then print("you: " .. line) end
      -- One user turn: send_text starts the response by itself.
      local ok, err, code = session:send_text(line)
      if not ok then print(("send failed: %s (%s)"):format(err, code)) break end

      io.write("model: ")
      local answered = false
      for msg in session:messages(60) do
        if msg.type == "output_audio_transcription_delta" then
          io.write(msg.text) io.flush()       -- words as they are spoken
        elseif msg.type == "response_done" then
          answered = true
          break                               -- end of this turn; the session stays open
        elseif msg.type == "error" then
          io.write(("\n[error %s: %s]"):format(msg.code, msg.message))
        elseif msg.type == "closed" then
          print(("\n[session closed: %s %s]"):format(msg.code, msg.reason))
          os.exit(1)
        end
      end
      -- messages(60) also ends when 60 s pass without a message: that is no answer
      if not answered then
        io.stderr:write("\ntext_chat: no answer: timed out\n")
        os.exit(1)
      end
      io.write("\n")
    end
  end
end

-- Ctrl-C (lua5.4 raises "interrupted!" where the program waits) ends the chat with one
-- line and closes the session, rather than a traceback.
local ok, err = pcall(chat)
if not ok and tostring(err):match "interrupted!$" then
  io.stderr:write("\ntext_chat: interrupted\n")
  session:close()
  client:close()
  os.exit(130)
elseif not ok then
  error(err, 0)
end

session:close()
client:close()
print("bye")
