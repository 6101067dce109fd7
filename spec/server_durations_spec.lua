-- The server's Durations that are offsets into the input audio (voiceActivity.audioOffset,
-- a transcript word's startOffset / endOffset), sent by the hostile server (spec/hostile,
-- mode `send`): read at their true value however far into the session they are, and a
-- "protocol" error, the field left out, for one that cannot be read. goAway's timeLeft,
-- capped at a day, is a deadline, not an offset (session_resumption and test_resume.c).
local helper = require "spec.helper"
local hf = require "spec.hostile_frames"
local frames, errors_of = hf.frames, hf.errors_of

local DONE = '{"serverContent":{"turnComplete":true}}'

describe("offsets into the input audio", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  -- Every message the frames give, up to the response_done of the DONE that ends them.
  local function messages_of(...)
    local client = h:client("send", { frames = frames(...) })
    local session = assert(client:connect {})
    local msgs = hf.until_done(session)
    session:close()
    helper.drain(session)
    client:close()
    return msgs
  end

  local function first(msgs, type_)
    for _, m in ipairs(msgs) do if m.type == type_ then return m end end
  end

  it("a speech edge's audio_offset past a day reads as it is", function()
    local msgs = messages_of(
      '{"voiceActivity":{"type":"ACTIVITY_START","audioOffset":"90000.25s"}}',
      '{"voiceActivity":{"type":"ACTIVITY_END","audioOffset":"315576000000s"}}', DONE)
    assert.equal(90000.25, first(msgs, "input_audio_buffer_speech_started").audio_offset)
    assert.equal(315576000000, first(msgs, "input_audio_buffer_speech_stopped").audio_offset)
    assert.same({}, errors_of(msgs))
  end)

  it("one too long to be a Duration is a protocol error, and left out", function()
    local msgs = messages_of(
      '{"voiceActivity":{"type":"ACTIVITY_START","audioOffset":"99999999999999999999999s"}}', DONE)
    assert.is_nil(first(msgs, "input_audio_buffer_speech_started").audio_offset)
    assert.same({ "voiceActivity.audioOffset is '99999999999999999999999s', not a duration "
      .. 'such as "1.5s": left out' }, errors_of(msgs))
  end)

  it("the lenient forms still read", function()
    local msgs = messages_of(
      '{"voiceActivity":{"type":"ACTIVITY_START","audioOffset":".5s"}}',
      '{"voiceActivity":{"type":"ACTIVITY_END","audioOffset":"100000"}}', DONE)
    assert.equal(0.5, first(msgs, "input_audio_buffer_speech_started").audio_offset)
    assert.equal(100000, first(msgs, "input_audio_buffer_speech_stopped").audio_offset)
  end)

  it("a transcript's word times past a day read as they are", function()
    local msgs = messages_of('{"serverContent":{"inputTranscription":{"text":"late words",'
      .. '"words":[{"word":"late","startOffset":"86399.5s","endOffset":"86400.75s"},'
      .. '{"word":"words","startOffset":"86400.75s","endOffset":"123456.125s"}]}}}', DONE)
    local t = first(msgs, "input_audio_transcription_completed")
    assert.same({ { word = "late", start = 86399.5, stop = 86400.75 },
      { word = "words", start = 86400.75, stop = 123456.125 } }, t.words)
    assert.same({}, errors_of(msgs))
  end)
end)
