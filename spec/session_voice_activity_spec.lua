-- The service's voice-activity edges and interim transcripts against the simulator on
-- both backends: input_audio_buffer_speech_started / _stopped (voiceActivity, and
-- Vertex's voiceActivityDetectionSignal that vad.signals asks for) and
-- input_audio_transcription_interim, in their place among the turn's messages.
local helper = require "spec.helper"
local turn, of_type = helper.messages_until, helper.of_type

local function index_of(msgs, type_, from)
  for i = from or 1, #msgs do
    if msgs[i].type == type_ then return i end
  end
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("voice activity (" .. backend .. ")", function()
    local client
    before_each(function()
      client = backend == "gemini" and helper.clean_gemini() or helper.vertex()
    end)
    after_each(function()
      helper.close_clean(client)
      collectgarbage()
    end)

    it("the user's speech starts and stops before its transcript and the reply", function()
      helper.sim_post("/_sim/next", { behaviour = { voiceActivity = true, heard = "what time is it" } })
      local session = assert(client:connect { transcription = true, vad = { silence_duration = 0.3 } })
      assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
      local msgs = turn(session)
      local started = index_of(msgs, "input_audio_buffer_speech_started")
      local stopped = index_of(msgs, "input_audio_buffer_speech_stopped")
      assert.is_number(started, "no speech_started")
      assert.is_number(stopped, "no speech_stopped")
      assert.is_true(started < stopped)
      assert.is_true(stopped < index_of(msgs, "input_audio_transcription_completed"))
      assert.is_true(stopped < index_of(msgs, "response_created"))
      local s, e = msgs[started], msgs[stopped]
      assert.equal("voice_activity", s.source)
      assert.is_nil(s.response_id)
      -- audio time, in seconds: the speech begins at once and its silence at 0.6 s
      assert.is_true(s.audio_offset >= 0 and s.audio_offset < 0.1, tostring(s.audio_offset))
      assert.is_true(e.audio_offset > 0.55 and e.audio_offset < 0.65, tostring(e.audio_offset))
      assert.equal(1, #of_type(msgs, "input_audio_buffer_speech_started"))
      -- no commit_audio: the turn's end is the server's speech end, and first_audio counts
      -- from when that came
      local first_audio = session:stats().first_audio
      assert.is_number(first_audio)
      assert.is_true(first_audio >= 0 and first_audio < 5, tostring(first_audio))
      session:close()
      helper.drain(session)
    end)

    it("interim transcripts grow to the final words, which the deltas alone make up", function()
      helper.sim_post("/_sim/next", { behaviour = { interimTranscripts = true, heard = "book a table for two" } })
      local session = assert(client:connect { transcription = true, vad = { silence_duration = 0.3 } })
      assert(session:append_audio(helper.tone(1.2, 16000, 0.6)))
      local msgs = turn(session)
      local interims = of_type(msgs, "input_audio_transcription_interim")
      assert.is_true(#interims >= 2, "interims: " .. #interims)
      for i = 2, #interims do
        assert.equal(interims[i - 1].text, interims[i].text:sub(1, #interims[i - 1].text))
      end
      assert.equal("book a table for two", interims[#interims].text)
      local completed = of_type(msgs, "input_audio_transcription_completed")
      assert.equal(1, #completed)
      assert.equal("book a table for two", completed[1].text)
      assert.is_true(index_of(msgs, "input_audio_transcription_interim") <
        index_of(msgs, "input_audio_transcription_completed"))
      session:close()
      helper.drain(session)
    end)

    it("a transcription session hands over the edges and the interims too", function()
      helper.sim_post("/_sim/next", { behaviour = { voiceActivity = true, interimTranscripts = true,
        heard = "hello there" } })
      local session = assert(client:connect { kind = "transcription", vad = { silence_duration = 0.3 } })
      assert(session:append_audio(helper.tone(0.8, 16000, 0.6)))
      local msgs = turn(session, "input_audio_transcription_completed")
      local types = {}
      for _, m in ipairs(msgs) do types[m.type] = true end
      assert.is_true(types.input_audio_buffer_speech_started)
      assert.is_true(types.input_audio_buffer_speech_stopped)
      assert.is_true(types.input_audio_transcription_interim)
      assert.equal("hello there", msgs[#msgs].text)
      session:close()
      helper.drain(session)
    end)

    if backend == "vertex" then
      it("vad.signals asks for explicitVadSignal: its edges come with source vad_signal", function()
        local session = assert(client:connect { vad = { silence_duration = 0.3, signals = true } })
        assert.is_true(helper.last_connection().setup.explicitVadSignal)
        assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
        local msgs = turn(session)
        local edges = {}
        for _, m in ipairs(msgs) do
          if m.type:find("^input_audio_buffer_speech_") then edges[#edges + 1] = m end
        end
        assert.equal(2, #edges)
        assert.equal("input_audio_buffer_speech_started", edges[1].type)
        assert.equal("input_audio_buffer_speech_stopped", edges[2].type)
        for _, m in ipairs(edges) do
          assert.equal("vad_signal", m.source)
          assert.is_nil(m.audio_offset)
        end
        assert.equal("VAD_SIGNAL_TYPE_SOS", edges[1].raw.voiceActivityDetectionSignal.vadSignalType)
        session:close()
        helper.drain(session)
      end)
    else
      it("vad.signals raises on the Gemini API, and a wrong type raises everywhere", function()
        helper.raises("option 'vad.signals': Vertex AI only (the Gemini API's setup has no "
          .. "explicitVadSignal and would refuse the session)",
          client.connect, client, { vad = { signals = true } })
        helper.raises("option 'vad.signals': expected boolean, got 'yes'",
          client.connect, client, { vad = { signals = "yes" } })
      end)
    end
  end)
end
