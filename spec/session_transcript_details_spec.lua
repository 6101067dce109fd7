-- The details of the user's transcript against the simulator on both backends: the
-- transcription option's vocabulary, word_timestamps, diarization and mode go out in
-- inputAudioTranscription, and the transcript comes back with its language, speaker and
-- words (in seconds of input audio) on the deltas and the completed transcript.
local helper = require "spec.helper"
local turn, of_type = helper.messages_until, helper.of_type

local HEARD = "book a table for two"

-- The words of HEARD, in order, spanning the 0.6 s of speech one after another.
local function assert_words(words)
  assert.is_table(words, "no words")
  local texts = {}
  for i, w in ipairs(words) do
    texts[i] = w.word
    assert.is_true(w.start < w.stop, ("word %d: %s..%s"):format(i, tostring(w.start), tostring(w.stop)))
    if i > 1 then assert.equal(words[i - 1].stop, w.start) end
  end
  assert.same({ "book", "a", "table", "for", "two" }, texts)
  assert.is_true(words[1].start >= 0 and words[1].start < 0.1, tostring(words[1].start))
  assert.is_true(words[#words].stop > 0.55 and words[#words].stop < 0.65, tostring(words[#words].stop))
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("transcript details (" .. backend .. ")", function()
    local client
    before_each(function()
      client = backend == "gemini" and helper.clean_gemini() or helper.vertex()
    end)
    after_each(function()
      helper.close_clean(client)
      collectgarbage()
    end)

    it("the setup asks for them; the transcript comes with language, speaker and timed words", function()
      helper.sim_post("/_sim/next", { behaviour = { heard = HEARD } })
      local session = assert(client:connect { vad = { silence_duration = 0.3 }, transcription = {
        language = { "fr-FR", "en-US" }, vocabulary = { "Acme" }, word_timestamps = true,
        diarization = true, mode = "verbatim" } })
      assert.same({ languageCodes = { "fr-FR", "en-US" }, customVocabulary = { "Acme" },
        wordTimestamp = true, diarization = true, mode = "VERBATIM" },
        helper.last_connection().setup.inputAudioTranscription)
      assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
      local msgs = turn(session)
      -- the one delta, and the completed transcript, carry the same details
      for _, type_ in ipairs { "input_audio_transcription_delta", "input_audio_transcription_completed" } do
        local got = of_type(msgs, type_)
        assert.equal(1, #got, type_)
        assert.equal(HEARD, got[1].text)
        assert.equal("fr-FR", got[1].language)
        assert.equal("speaker-1", got[1].speaker)
        assert_words(got[1].words)
      end
      session:close()
      helper.drain(session)
    end)

    -- each message owns its tables, as every other message does: a caller that edits a
    -- delta's words does not edit the completed transcript (they shared the word tables)
    it("a delta's words are its own: changing them leaves the completed transcript's alone", function()
      helper.sim_post("/_sim/next", { behaviour = { heard = HEARD } })
      local session = assert(client:connect { vad = { silence_duration = 0.3 },
        transcription = { word_timestamps = true } })
      assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
      local msgs = turn(session)
      local delta = of_type(msgs, "input_audio_transcription_delta")[1]
      local completed = of_type(msgs, "input_audio_transcription_completed")[1]
      for _, w in ipairs(delta.words) do
        w.word, w.start, w.stop = "changed", -1, nil
      end
      table.remove(delta.words, 1)
      assert_words(completed.words)
      session:close()
      helper.drain(session)
    end)

    it("a transcription session takes them too", function()
      helper.sim_post("/_sim/next", { behaviour = { heard = HEARD } })
      local session = assert(client:connect { kind = "transcription", vad = { silence_duration = 0.3 },
        transcription = { word_timestamps = true, diarization = true } })
      assert.same({ wordTimestamp = true, diarization = true },
        helper.last_connection().setup.inputAudioTranscription)
      assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
      local msgs = turn(session, "input_audio_transcription_completed")
      local c = msgs[#msgs]
      assert.equal(HEARD, c.text)
      assert.equal("speaker-1", c.speaker)
      assert.is_nil(c.language)
      assert_words(c.words)
      session:close()
      helper.drain(session)
    end)

    it("without them the transcript is the text alone", function()
      helper.sim_post("/_sim/next", { behaviour = { heard = HEARD } })
      local session = assert(client:connect { vad = { silence_duration = 0.3 }, transcription = true })
      assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
      local c = of_type(turn(session), "input_audio_transcription_completed")[1]
      assert.equal(HEARD, c.text)
      assert.is_nil(c.language)
      assert.is_nil(c.speaker)
      assert.is_nil(c.words)
      session:close()
      helper.drain(session)
    end)
  end)
end

describe("transcript details: bad values", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function()
    helper.close_clean(client)
    collectgarbage()
  end)

  local function refuses(text, transcription, extra)
    local opts = { transcription = transcription }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return helper.raises(text, client.connect, client, opts)
  end

  it("names the option and what is wrong with it", function()
    refuses("option 'transcription.vocabulary': expected a non-empty list of words or phrases (strings), got 'Acme'",
      { vocabulary = "Acme" })
    refuses("option 'transcription.vocabulary': expected a non-empty list of words or phrases (strings), got table",
      { vocabulary = {} })
    refuses("option 'transcription.vocabulary': expected a non-empty string at entry 2, got ''",
      { vocabulary = { "Acme", "" } })
    refuses("option 'transcription.vocabulary': expected a non-empty string at entry 1, got 42",
      { vocabulary = { 42 } })
    refuses("option 'transcription.vocabulary': entry 2 is not valid UTF-8", { vocabulary = { "Acme", "caf\xe9" } })
    refuses("option 'transcription.vocabulary': expected a list ({ x, y, ... }), but it has the key 'first'",
      { vocabulary = { "Acme", first = "Zyxel" } })
    refuses("option 'transcription.word_timestamps': expected boolean, got 'yes'", { word_timestamps = "yes" })
    refuses("option 'transcription.diarization': expected boolean, got 1", { diarization = 1 })
    refuses("option 'transcription.mode': expected one of verbatim, smart, got 'VERBATIM'", { mode = "VERBATIM" })
  end)

  it("refuses details of an input transcription that input = false turns off", function()
    for k, v in pairs { vocabulary = { "Acme" }, word_timestamps = true, diarization = false, mode = "smart" } do
      refuses(("option 'transcription.%s': it concerns the input transcription, which input = false turns off")
        :format(k), { input = false, output = true, [k] = v })
    end
  end)
end)
