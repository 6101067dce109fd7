-- frame_loop.lua: a session inside a game-style main loop running at 60 frames a second.
--
--   lua5.4 examples/frame_loop.lua [max_frames]        (default 900: 15 s; at least 71)
--
-- A game never blocks its frame: each frame it feeds the microphone's new samples to the
-- session, calls client:poll() (which never blocks and never yields) for whatever has
-- arrived, and hands the model's audio to the speaker. The network work happens on the
-- client's own I/O thread. The "devices" here are fakes: the microphone plays a tone
-- while the talk key is held (frames 10 to 70), the speaker counts what it is given.
-- Environment as in text_chat.lua.
local realtime = require "realtime"

local FPS = 60
local TALK_FROM, TALK_TO = 10, 70         -- frames during which the talk key is held

-- A loop that stops by frame TALK_TO, when the talk key is released, never hears an answer.
local max_frames = 900
if arg[1] then
  max_frames = math.tointeger(tonumber(arg[1]))
  if not max_frames or max_frames <= TALK_TO then
    io.stderr:write(("usage: frame_loop.lua [max_frames]: frames to run, a whole number of at least %d (got '%s')\n")
      :format(TALK_TO + 1, arg[1]))
    os.exit(2)
  end
end

-- ---- fake devices -----------------------------------------------------------------------

local MIC_RATE = 16000
local microphone = { t = 0, carry = 0 }
-- The samples captured during one frame: 16000 / 60 is not whole, so carry the fraction.
function microphone:read(talking)
  local want = MIC_RATE / FPS + self.carry
  local n = math.floor(want)
  self.carry = want - n
  local out = {}
  for i = 1, n do
    local v = talking and math.floor(8000 * math.sin(2 * math.pi * 220 * (self.t + i) / MIC_RATE)) or 0
    out[i] = string.pack("<i2", v)
  end
  self.t = self.t + n
  return table.concat(out)
end

local speaker = { bytes = 0, rate = 24000 }
function speaker:play(pcm, rate) self.bytes, self.rate = self.bytes + #pcm, rate end
function speaker:stop() self.bytes = 0 end           -- the user barged in: drop queued audio

-- ---- the session ----------------------------------------------------------------------------

local function env(name)
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

-- Network, TLS, credential and setup failures come back as nil, message, code.
local function connected(value, err, code)
  if value then return value end
  io.stderr:write(("frame_loop: could not connect (%s): %s\n"):format(code, err))
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
  io.stderr:write(("frame_loop: %s\n"):format(msg))
  os.exit(1)
end

local client = new_client(realtime.gemini, {
  base_url = env "REALTIME_BASE_URL", ca_file = env "REALTIME_CA_FILE",
  model = env "REALTIME_MODEL" or "gemini-2.5-flash-native-audio-preview-09-2025",
})
-- connect is the one call that waits (for the setup handshake): do it on a loading screen.
local session = connected(client:connect {
  vad = { enabled = false },             -- push-to-talk: the key decides when a turn ends
  transcription = { input = true, output = true },
})

-- ---- the main loop ----------------------------------------------------------------------

local frame, done, words = 0, false, {}

while frame < max_frames and not done do
  frame = frame + 1
  local talking = frame >= TALK_FROM and frame < TALK_TO

  -- input: stream this frame's samples while the key is held; releasing it ends the turn
  if talking then
    assert(session:append_audio(microphone:read(true)))
  elseif frame == TALK_TO then
    assert(session:commit_audio())
  end

  -- network: everything that arrived since the last frame, on any session of the client
  for _, msg in ipairs(client:poll()) do
    if msg.type == "output_audio_delta" then
      speaker:play(msg.audio, msg.rate)
    elseif msg.type == "input_audio_transcription_completed" then
      print(("frame %4d  heard: %s"):format(frame, msg.text))
    elseif msg.type == "output_audio_transcription_delta" then
      words[#words + 1] = msg.text
    elseif msg.type == "interrupted" or msg.type == "input_audio_buffer_speech_started" then
      speaker:stop()   -- the player talks over the model (newer models say so at once)
    elseif msg.type == "response_done" then
      print(("frame %4d  answer: %s"):format(frame, table.concat(words)))
      done = true
    elseif msg.type == "error" or msg.type == "closed" then
      print(("frame %4d  %s: %s %s"):format(frame, msg.type, msg.code, msg.message or msg.reason))
      done = true
    end
  end

  -- the rest of the frame: game logic and rendering would go here
  realtime.sleep(1 / FPS)
end

session:close()
client:close()
print(("%d frames, %.2f s of reply audio played"):format(frame, speaker.bytes / 2 / speaker.rate))
os.exit(speaker.bytes > 0 and 0 or 1)
