-- Transcription sessions (kind = "transcription") against the simulator on both
-- backends: what the setup asks for, that only the user's transcript and the lifecycle
-- reach the caller, and the options that make no sense for such a session.
local helper = require "spec.helper"

local ALLOWED = {
  input_audio_transcription_delta = true, input_audio_transcription_completed = true,
  session_resumption_update = true, go_away = true, reconnected = true, error = true, closed = true,
}

for _, backend in ipairs { "gemini", "vertex" } do
  describe("transcription session (" .. backend .. ")", function()
    local client
    before_each(function()
      helper.sim_post("/_sim/next", { behaviour = { heard = "book a table for two" } })
      client = backend == "gemini" and helper.gemini() or helper.vertex()
    end)
    after_each(function()
      helper.sim_request("DELETE", "/_sim/next")
      client:close()
      collectgarbage()
    end)

    it("asks for text, the input transcribed in its language, no interruption", function()
      local session = assert(client:connect { kind = "transcription", transcription = { language = "en-US" },
        vad = { silence_duration = 0.3 } })
      local setup = helper.last_connection().setup
      assert.same({ "TEXT" }, setup.generationConfig.responseModalities)
      assert.same({ languageCodes = { "en-US" } }, setup.inputAudioTranscription)
      assert.is_nil(setup.outputAudioTranscription)
      assert.is_nil(setup.systemInstruction)
      assert.is_nil(setup.tools)
      assert.is_nil(setup.generationConfig.speechConfig)
      assert.is_nil(setup.generationConfig.maxOutputTokens)
      assert.equal("NO_INTERRUPTION", setup.realtimeInputConfig.activityHandling)
      assert.is_false(setup.realtimeInputConfig.automaticActivityDetection.disabled)
      session:close()
      helper.drain(session)
    end)

    it("hands the caller the transcript of what was said, and nothing the model says", function()
      local session = assert(client:connect { kind = "transcription", vad = { silence_duration = 0.3 } })
      assert(session:append_audio(helper.tone(0.6, 16000, 0.6)))
      local seen, transcript = {}, nil
      while not transcript do
        local msg = assert(session:receive(15))
        seen[#seen + 1] = msg.type
        assert.is_true(ALLOWED[msg.type] or false, "a transcription session passed on " .. msg.type)
        if msg.type == "input_audio_transcription_completed" then transcript = msg.text end
      end
      assert.equal("book a table for two", transcript)
      -- the model did answer on the wire (the simulator replies to every turn): the caller
      -- saw none of it
      local frames = helper.sim_get("/_sim/connections/" .. helper.last_connection().id .. "/frames").frames
      local answered = false
      for _, f in ipairs(frames) do
        if f.dir == "out" and f.text and f.text:find('"modelTurn"', 1, true) then answered = true end
      end
      assert.is_true(answered)
      -- a little later, still nothing but lifecycle messages
      local msg = session:receive(0.5)
      assert.is_true(msg == nil or ALLOWED[msg.type] or false)
      session:close()
      assert.equal("closed", helper.drain(session).type)
    end)

    it("refuses the options of a conversation", function()
      local function refused(opts, message)
        opts.kind = "transcription"
        assert.has_error(function() client:connect(opts) end, message)
      end
      refused({ instructions = "Be nice." },
        "option 'instructions': a transcription session takes none (it only transcribes the user)")
      refused({ voice = "Puck" }, "option 'voice': a transcription session takes none (it only transcribes the user)")
      refused({ tools = { { name = "f" } } },
        "option 'tools': a transcription session takes none (it only transcribes the user)")
      refused({ output_modalities = { "text" } },
        "option 'output_modalities': a transcription session takes none (it only transcribes the user)")
      refused({ max_output_tokens = 10 },
        "option 'max_output_tokens': a transcription session takes none (it only transcribes the user)")
      refused({ transcription = false }, "option 'transcription': a transcription session always transcribes its input")
      refused({ transcription = { input = false } },
        "option 'transcription': a transcription session always transcribes its input")
      refused({ transcription = { output = true } },
        "option 'transcription.output': a transcription session has no output to transcribe")
      refused({ vad = { allow_interruption = true } },
        "option 'vad.allow_interruption': a transcription session never interrupts")
      -- what shapes the model's answers: it gives none
      for k, v in pairs { thinking = { budget = 0 }, affective_dialog = true, proactive_audio = false,
        media_resolution = "low", speech_language = "en-US" } do
        refused({ [k] = v }, ("option '%s': a transcription session takes none (it only transcribes the user)"):format(k))
      end
      assert.has_error(function() client:connect { kind = "dictation" } end,
        "option 'kind': expected one of conversation, transcription, got 'dictation'")
    end)
  end)
end
