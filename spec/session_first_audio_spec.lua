-- session:stats().first_audio under the server's activity detection, against the hostile
-- server (spec/hostile, mode `send`): the clock starts at the server's word that the user
-- stopped speaking, however that message is written, and only at the end of a turn the
-- user spoke, so that the figure is the wait for the answer's first audio.
local helper = require "spec.helper"
local hf = require "spec.hostile_frames"
local frames = hf.frames

local AUDIO = '{"serverContent":{"modelTurn":{"parts":[{"inlineData":'
  .. '{"mimeType":"audio/pcm;rate=24000","data":"AAAAAA=="}}]}}}'
local DONE = '{"serverContent":{"turnComplete":true}}'
local START = '{"voiceActivity":{"type":"ACTIVITY_START"}}'
local END = '{"voiceActivity":{"type":"ACTIVITY_END"}}'
local USAGE = '"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}'

describe("stats().first_audio under server activity detection", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  -- A session on `send` mode: params are the mode's (frames, next).
  local function open(params)
    local client = h:client("send", params)
    return assert(client:connect {}), client
  end

  -- Reads until `n` response_done messages came (the last frame sent is a turnComplete).
  local function read_turns(session, n)
    local done = 0
    while done < n do
      local m = assert(session:receive(5))
      assert.is_not.equal("closed", m.type)
      if m.type == "response_done" then done = done + 1 end
    end
  end

  local function closed(session, client)
    session:close()
    helper.drain(session)
    client:close()
  end

  for _, case in ipairs {
    { "after another key", '{' .. USAGE .. ',"voiceActivity":{"type":"ACTIVITY_END"}}' },
    { "spelt voiceActivityType", '{' .. USAGE .. ',"voiceActivity":{"voiceActivityType":"ACTIVITY_END"}}' },
    { "pretty-printed", '{\n    \n      \n        "voiceActivity" : {\n  "type" : "ACTIVITY_END"\n }\n}' },
    { "Vertex's EOS after another key",
      '{' .. USAGE .. ',"voiceActivityDetectionSignal":{"vadSignalType":"VAD_SIGNAL_TYPE_EOS"}}' },
  } do
    it("starts at a speech end " .. case[1], function()
      local session, client = open { frames = frames(START, case[2], AUDIO, DONE) }
      read_turns(session, 1)
      assert.is_number(session:stats().first_audio)
      closed(session, client)
    end)
  end

  it("does not start at a text that only names the speech end", function()
    local said = '{"serverContent":{"modelTurn":{"parts":[{"text":"{\\"voiceActivity\\":'
      .. '\\"ACTIVITY_END\\"}"}]}}}'
    local session, client = open { frames = frames(said, DONE, AUDIO, DONE) }
    read_turns(session, 2)
    assert.is_nil(session:stats().first_audio)
    closed(session, client)
  end)

  for _, case in ipairs {
    -- the model talks on through the user's short utterance, then answers it
    { "a speech end", START, END },
    -- Vertex's end signal, late: the model began its answer before it came
    { "a late EOS", '{"voiceActivityDetectionSignal":{"vadSignalType":"VAD_SIGNAL_TYPE_SOS"}}',
      '{"voiceActivityDetectionSignal":{"vadSignalType":"VAD_SIGNAL_TYPE_EOS"}}' },
  } do
    it(case[1] .. " while the model speaks times the next answer, not its own next chunk", function()
      local session, client = open { frames = frames(case[2], AUDIO, case[3], AUDIO, DONE),
        next = frames(AUDIO, DONE) }
      read_turns(session, 1)
      assert.is_nil(session:stats().first_audio)
      assert(session:send_wire('{"clientContent":{"turnComplete":false}}'))
      read_turns(session, 1)
      assert.is_number(session:stats().first_audio)
      closed(session, client)
    end)
  end

  -- A text sent (or audio committed) over the answer ends a turn as the server's word
  -- does: the rest of the answer under way does not answer it.
  it("a text sent while the model speaks is not timed to the rest of the current answer", function()
    local session, client = open { frames = frames(AUDIO), next = frames(AUDIO, DONE) }
    local m
    repeat m = assert(session:receive(5)) until m.type == "output_audio_delta"
    assert(session:send_text "wait")
    read_turns(session, 1)
    assert.is_nil(session:stats().first_audio)
    closed(session, client)
  end)

  it("a repeated speech end does not restart the clock", function()
    -- a second END with no START between it and the first is the same end
    local session, client = open { frames = frames(START, END), next = frames(END, AUDIO, DONE) }
    local m
    repeat m = assert(session:receive(5)) until m.type == "input_audio_buffer_speech_stopped"
    require("realtime").sleep(0.2)   -- the END before is at least this old when the client speaks
    assert(session:send_wire('{"clientContent":{"turnComplete":false}}'))
    read_turns(session, 1)
    local first = session:stats().first_audio
    assert.is_true(first >= 0.2, tostring(first))
    closed(session, client)
  end)

  it("a speech end after the answer, with no new speech, starts no clock", function()
    local session, client = open { frames = frames(START, END, AUDIO, DONE),
      next = frames(END, AUDIO, DONE) }
    read_turns(session, 1)
    local first = session:stats().first_audio
    assert.is_number(first)
    assert(session:send_wire('{"clientContent":{"turnComplete":false}}'))
    read_turns(session, 1)
    assert.equal(first, session:stats().first_audio)
    closed(session, client)
  end)

  it("a resumed connection starts afresh: what the lost one's response did is forgotten", function()
    -- the model was talking when the connection dropped; the resumed one hears the user end
    local session, client = open { handle = 1, drop = 1, frames = frames(START, AUDIO),
      resumed = frames(END, AUDIO, DONE) }
    local m
    repeat m = assert(session:receive(5)) until m.type == "reconnected"
    read_turns(session, 1)
    assert.is_number(session:stats().first_audio)
    closed(session, client)
  end)

  it("a new utterance's end does restart it", function()
    local session, client = open { frames = frames(START, END, AUDIO, DONE),
      next = frames(START, END, AUDIO, DONE) }
    read_turns(session, 1)
    local first = session:stats().first_audio
    assert(session:send_wire('{"clientContent":{"turnComplete":false}}'))
    read_turns(session, 1)
    assert.is_number(session:stats().first_audio)
    assert.is_not.equal(first, session:stats().first_audio)
    closed(session, client)
  end)
end)
