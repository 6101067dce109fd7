-- Session options -> the wire setup message (core.map_setup), on both backends.
local core = require "realtime.core"
local cmp = require "golden.compare"
local helper = require "spec.helper"

local function gemini() return core.map_new { backend = "gemini" } end
local function vertex(extra)
  local ctx = { backend = "vertex", project = "proj", location = "us-central1" }
  for k, v in pairs(extra or {}) do ctx[k] = v end
  return core.map_new(ctx)
end

-- map_setup decoded: the inside of {"setup": ...}
local function setup(state, opts)
  if not opts.model then opts.model = "gemini-live-2.5-flash" end
  local text = core.map_setup(state, opts)
  local msg = assert(core.json_decode(text))
  for k in pairs(msg) do assert.equal("setup", k) end
  return msg.setup, text
end

local function decl(s, i) return s.tools[1].functionDeclarations[i or 1] end
local function params(schema)
  local s = setup(gemini(), { tools = { { name = "t", parameters = schema } } })
  return decl(s).parameters
end

describe("map_setup", function()
  describe("model names", function()
    it("prefixes models/ on Gemini and keeps models/ and tunedModels/", function()
      assert.equal("models/gemini-x", setup(gemini(), { model = "gemini-x" }).model)
      assert.equal("models/gemini-x", setup(gemini(), { model = "models/gemini-x" }).model)
      assert.equal("tunedModels/t1", setup(gemini(), { model = "tunedModels/t1" }).model)
    end)

    it("builds the full resource name on Vertex and keeps given resource names", function()
      assert.equal("projects/proj/locations/us-central1/publishers/google/models/m",
        setup(vertex(), { model = "m" }).model)
      assert.equal("projects/a/locations/b/publishers/google/models/m",
        setup(vertex(), { model = "projects/a/locations/b/publishers/google/models/m" }).model)
    end)

    it("seed bug 18: Vertex express mode (API key) sends the model without a project prefix", function()
      assert.equal("publishers/google/models/m", setup(vertex { express = true }, { model = "m" }).model)
    end)

    it("refuses unsafe names", function()
      for _, bad in ipairs { "../x", "m?key=1", "a&b", "", "a b", "a/b/c/" } do
        assert.has_error(function() core.map_setup(gemini(), { model = bad }) end)
      end
      assert.has_error(function() core.map_setup(gemini(), { model = "../x" }) end,
        "option 'model': unsafe model name: it contains \"..\"")
    end)

    it("core.model_name resolves with a context", function()
      assert.equal("models/a", core.model_name({ backend = "gemini" }, "a"))
      assert.equal("projects/p/locations/l/publishers/google/models/a",
        core.model_name({ backend = "vertex", project = "p", location = "l" }, "a"))
      assert.has_error(function() core.model_name({ backend = "gemini" }, "a\0b") end)
      -- a resource name's id is one segment, as that of models/{id} (the service closed
      -- 1008 on the extra segments only after the handshake)
      for _, bad in ipairs { "models/a/b", "publishers/google/models/a/b",
        "projects/p/locations/l/publishers/google/models/x/extra" } do
        assert.has_error(function()
          core.model_name({ backend = "vertex", project = "p", location = "l" }, bad)
        end, 'unsafe model name: expected "models/id" with no "/" in the id')
      end
      assert.equal("projects/p/locations/l/publishers/acme/models/x",
        core.model_name({ backend = "vertex", project = "p", location = "l" }, "acme/x"))
      assert.has_error(function() core.model_name({ backend = "x" }, "a") end)
    end)
  end)

  describe("defaults", function()
    it("Gemini: only the model and resumption", function()
      cmp.assert_same(setup(gemini(), { model = "m" }),
        { model = "models/m", sessionResumption = {} })
    end)

    it("Vertex: AUDIO modality like the JS SDK, transparent resumption", function()
      cmp.assert_same(setup(vertex(), { model = "m" }), {
        model = "projects/proj/locations/us-central1/publishers/google/models/m",
        generationConfig = { responseModalities = { "AUDIO" } },
        sessionResumption = { transparent = true },
      })
    end)

    it("seed bug 15: no vad option leaves server VAD on (no realtimeInputConfig at all)", function()
      assert.is_nil(setup(gemini(), {}).realtimeInputConfig)
      assert.is_nil(setup(vertex(), {}).realtimeInputConfig)
    end)

    it("writes compact JSON", function()
      local _, text = setup(gemini(), { instructions = "a b" })
      assert.is_nil(text:find("\n"))
      assert.is_nil(text:find("\": "))
    end)
  end)

  describe("generation settings", function()
    it("maps voice, modalities, tokens and sampling", function()
      local s = setup(gemini(), {
        voice = "Puck", output_modalities = { "audio", "text" }, max_output_tokens = 1000,
        temperature = 0.7, top_p = 0.9, top_k = 40, seed = 123456789012345,
      })
      cmp.assert_same(s.generationConfig, {
        responseModalities = { "AUDIO", "TEXT" },
        speechConfig = { voiceConfig = { prebuiltVoiceConfig = { voiceName = "Puck" } } },
        maxOutputTokens = 1000, temperature = 0.7, topP = 0.9, topK = 40, seed = 123456789012345,
      })
    end)

    it("writes large integers exactly (cjson 2.1.0 would round them to 14 digits)", function()
      local _, text = setup(gemini(), { seed = 123456789012345 })
      assert.truthy(text:find('"seed":123456789012345', 1, true))
    end)

    it("refuses an unknown modality instead of turning it into TEXT", function()
      assert.has_error(function() setup(gemini(), { output_modalities = { "audi" } }) end,
        "option 'output_modalities': unknown modality 'audi'")
    end)

    it("empty instructions send no systemInstruction, as leaving them out does", function()
      assert.is_nil(setup(gemini(), { instructions = "" }).systemInstruction)
      assert.is_nil(setup(vertex(), { instructions = "" }).systemInstruction)
    end)

    it("instructions go out as a user-role systemInstruction on both backends", function()
      for _, st in ipairs { gemini(), vertex() } do
        cmp.assert_same(setup(st, { instructions = "Be brief." }).systemInstruction,
          { parts = { { text = "Be brief." } }, role = "user" })
      end
    end)

    it("refuses invalid UTF-8 with the path of the field", function()
      assert.has_error(function() setup(gemini(), { instructions = "bad \xff" }) end,
        "setup.systemInstruction.parts[1].text: invalid UTF-8 in string")
    end)
  end)

  describe("voice activity detection", function()
    it("maps every setting, seconds to rounded milliseconds", function()
      local s = setup(gemini(), { vad = {
        enabled = true, allow_interruption = false, start_sensitivity = "high",
        end_sensitivity = "low", prefix_padding = 0.0204, silence_duration = 0.5 } })
      cmp.assert_same(s.realtimeInputConfig, {
        automaticActivityDetection = {
          disabled = false, startOfSpeechSensitivity = "START_SENSITIVITY_HIGH",
          endOfSpeechSensitivity = "END_SENSITIVITY_LOW", prefixPaddingMs = 20,
          silenceDurationMs = 500 },
        activityHandling = "NO_INTERRUPTION",
      })
    end)

    it("sends activityHandling only when interruption is refused", function()
      local s = setup(gemini(), { vad = { enabled = true, allow_interruption = true } })
      cmp.assert_same(s.realtimeInputConfig, { automaticActivityDetection = { disabled = false } })
    end)

    it("seed bug 9: Vertex keeps server VAD on when it is enabled", function()
      local st = vertex()
      local s = setup(st, { vad = { enabled = true } })
      assert.is_false(s.realtimeInputConfig.automaticActivityDetection.disabled)
      assert.is_false(st.vad_manual)
    end)

    it("disabled detection is recorded in the state for item audio framing", function()
      local st = gemini()
      local s = setup(st, { vad = { enabled = false } })
      assert.is_true(s.realtimeInputConfig.automaticActivityDetection.disabled)
      assert.is_true(st.vad_manual)
    end)

    it("refuses a bad sensitivity", function()
      assert.has_error(function() setup(gemini(), { vad = { start_sensitivity = "medium" } }) end,
        "option 'vad.start_sensitivity': expected \"high\" or \"low\"")
    end)
  end)

  describe("thinking, affective dialog, proactivity, media resolution, speech language, turn coverage", function()
    it("map to their wire fields, the same on both backends", function()
      for _, st in ipairs { gemini(), vertex() } do
        local s = setup(st, { thinking = { budget = 1024, include_thoughts = true }, affective_dialog = true,
          proactive_audio = true, media_resolution = "high", speech_language = "cmn-Hans-CN",
          vad = { turn_coverage = "all_input" }, output_modalities = { "audio" } })
        cmp.assert_same(s.generationConfig, {
          responseModalities = { "AUDIO" },
          thinkingConfig = { thinkingBudget = 1024, includeThoughts = true },
          enableAffectiveDialog = true, mediaResolution = "MEDIA_RESOLUTION_HIGH",
          speechConfig = { languageCode = "cmn-Hans-CN" },
        })
        cmp.assert_same(s.proactivity, { proactiveAudio = true })
        cmp.assert_same(s.realtimeInputConfig, { automaticActivityDetection = { disabled = false },
          turnCoverage = "TURN_INCLUDES_ALL_INPUT" })
      end
    end)

    it("every word of each choice", function()
      local function gen(o) return setup(gemini(), o).generationConfig end
      for word, wire in pairs { minimal = "MINIMAL", low = "LOW", medium = "MEDIUM", high = "HIGH" } do
        cmp.assert_same(gen { thinking = { level = word } }, { thinkingConfig = { thinkingLevel = wire } })
      end
      for word, wire in pairs { low = "MEDIA_RESOLUTION_LOW", medium = "MEDIA_RESOLUTION_MEDIUM",
        high = "MEDIA_RESOLUTION_HIGH" } do
        cmp.assert_same(gen { media_resolution = word }, { mediaResolution = wire })
      end
      for word, wire in pairs { activity = "TURN_INCLUDES_ONLY_ACTIVITY", all_input = "TURN_INCLUDES_ALL_INPUT",
        audio_activity_and_all_video = "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO" } do
        assert.equal(wire, setup(gemini(), { vad = { turn_coverage = word } }).realtimeInputConfig.turnCoverage)
      end
    end)

    it("false goes out as false; a budget of -1 (dynamic) or 0 (off) as given; an integral float as an integer", function()
      local s, text = setup(gemini(), { affective_dialog = false, proactive_audio = false,
        thinking = { budget = 0.0, include_thoughts = false } })
      cmp.assert_same(s.generationConfig, { enableAffectiveDialog = false,
        thinkingConfig = { thinkingBudget = 0, includeThoughts = false } })
      cmp.assert_same(s.proactivity, { proactiveAudio = false })
      assert.truthy(text:find('"thinkingBudget":0', 1, true))
      assert.equal(-1, setup(gemini(), { thinking = { budget = -1 } }).generationConfig.thinkingConfig.thinkingBudget)
    end)

    it("speech_language goes beside the voice", function()
      cmp.assert_same(setup(gemini(), { voice = "Kore", speech_language = "en-US" }).generationConfig.speechConfig,
        { voiceConfig = { prebuiltVoiceConfig = { voiceName = "Kore" } }, languageCode = "en-US" })
    end)

    it("raw still wins, also in snake_case", function()
      local s = setup(gemini(), { thinking = { level = "low" }, affective_dialog = true, proactive_audio = true,
        speech_language = "en-US", raw = { generation_config = { thinking_config = { thinking_level = "HIGH" },
          enable_affective_dialog = false, speech_config = { language_code = "de-DE" } },
          proactivity = { proactive_audio = false } } })
      cmp.assert_same(s.generationConfig, { thinkingConfig = { thinkingLevel = "HIGH" },
        enableAffectiveDialog = false, speechConfig = { languageCode = "de-DE" } })
      cmp.assert_same(s.proactivity, { proactiveAudio = false })
    end)

    it("refuses what it cannot convert, naming the option", function()
      local function bad(o, msg) assert.has_error(function() setup(gemini(), o) end, msg) end
      bad({ thinking = { level = "max" } }, "option 'thinking.level': expected \"minimal\", \"low\", \"medium\" or \"high\"")
      bad({ thinking = { budget = -2 } }, "option 'thinking.budget': expected an integer between -1 and 2147483647")
      bad({ thinking = { budget = "8" } }, "option 'thinking.budget': expected an integer between -1 and 2147483647")
      bad({ thinking = true }, "option 'thinking': expected a table")
      bad({ thinking = { include_thoughts = 1 } }, "option 'thinking.include_thoughts': expected a boolean")
      bad({ media_resolution = "LOW" }, "option 'media_resolution': expected \"low\", \"medium\" or \"high\"")
      bad({ affective_dialog = "yes" }, "option 'affective_dialog': expected a boolean")
      bad({ proactive_audio = 1 }, "option 'proactive_audio': expected a boolean")
      bad({ speech_language = 5 }, "option 'speech_language': expected a language code such as \"en-US\"")
      bad({ vad = { turn_coverage = "everything" } }, "option 'vad.turn_coverage': expected \"activity\", "
        .. "\"all_input\" or \"audio_activity_and_all_video\"")
    end)

    it("vad.signals asks Vertex for explicitVadSignal; the Gemini API has none, so it raises there", function()
      local s = setup(vertex(), { vad = { signals = true } })
      assert.is_true(s.explicitVadSignal)
      cmp.assert_same(s.realtimeInputConfig, { automaticActivityDetection = { disabled = false } })
      assert.is_nil(setup(vertex(), { vad = { signals = false } }).explicitVadSignal)
      assert.is_nil(setup(gemini(), { vad = { signals = false } }).explicitVadSignal)
      assert.has_error(function() setup(gemini(), { vad = { signals = true } }) end,
        "option 'vad.signals': Vertex AI only (the Gemini API's setup has no explicitVadSignal "
        .. "and would refuse the session)")
    end)
  end)

  describe("transcription", function()
    it("true turns both sides on, false neither", function()
      local s = setup(gemini(), { transcription = true })
      cmp.assert_same(s.inputAudioTranscription, {})
      cmp.assert_same(s.outputAudioTranscription, {})
      s = setup(gemini(), { transcription = false })
      assert.is_nil(s.inputAudioTranscription)
      assert.is_nil(s.outputAudioTranscription)
    end)

    it("the table form picks sides", function()
      local s = setup(gemini(), { transcription = { input = true, output = false } })
      assert.is_table(s.inputAudioTranscription)
      assert.is_nil(s.outputAudioTranscription)
    end)

    it("language goes out as languageCodes on both backends, as @google/genai sends it", function()
      for _, st in ipairs { gemini(), vertex() } do
        local s = setup(st, { transcription = { language = "de-DE" } })
        cmp.assert_same(s.inputAudioTranscription, { languageCodes = { "de-DE" } })
        s = setup(st, { transcription = { language = { "de-DE", "en-US" } } })
        cmp.assert_same(s.inputAudioTranscription, { languageCodes = { "de-DE", "en-US" } })
      end
    end)

    it("vocabulary, word timestamps, diarization and mode describe the input side, on both backends", function()
      for _, st in ipairs { gemini(), vertex() } do
        local s = setup(st, { transcription = { language = "en-US", vocabulary = { "Acme", "Zyxel router" },
          word_timestamps = true, diarization = true, mode = "verbatim" } })
        cmp.assert_same(s.inputAudioTranscription, { languageCodes = { "en-US" },
          customVocabulary = { "Acme", "Zyxel router" }, wordTimestamp = true, diarization = true,
          mode = "VERBATIM" })
        -- the model's side is its own words: nothing to expect, one speaker
        cmp.assert_same(s.outputAudioTranscription, {})
        -- false goes out as given
        s = setup(st, { transcription = { word_timestamps = false, diarization = false, mode = "smart" } })
        cmp.assert_same(s.inputAudioTranscription, { wordTimestamp = false, diarization = false, mode = "SMART" })
      end
    end)

    it("refuses bad details, and details of an input transcription that is off", function()
      local function refuses(msg, tr)
        assert.has_error(function() setup(gemini(), { transcription = tr }) end, msg)
      end
      refuses("option 'transcription.vocabulary': expected a list of strings", { vocabulary = "Acme" })
      refuses("option 'transcription.vocabulary': expected a non-empty string at entry 2",
        { vocabulary = { "Acme", "" } })
      refuses("option 'transcription.vocabulary': expected a non-empty string at entry 1", { vocabulary = { 5 } })
      refuses("option 'transcription.word_timestamps': expected a boolean", { word_timestamps = "yes" })
      refuses("option 'transcription.diarization': expected a boolean", { diarization = 1 })
      refuses("option 'transcription.mode': expected \"verbatim\" or \"smart\"", { mode = "exact" })
      for _, k in ipairs { "vocabulary", "word_timestamps", "diarization", "mode", "language" } do
        local tr = { input = false, output = true }
        tr[k] = ({ vocabulary = { "Acme" }, mode = "smart", language = "en-US" })[k] or true
        refuses(("option 'transcription.%s': it concerns the input transcription, which input = false turns off")
          :format(k), tr)
      end
    end)
  end)

  describe("transcription sessions (kind = \"transcription\")", function()
    it("text modality and input transcription with its language, nothing else", function()
      for _, st in ipairs { gemini(), vertex() } do
        local s = setup(st, { kind = "transcription", transcription = { language = "en-US" } })
        cmp.assert_same(s.generationConfig, { responseModalities = { "TEXT" } })
        cmp.assert_same(s.inputAudioTranscription, { languageCodes = { "en-US" } })
        assert.is_nil(s.outputAudioTranscription)
        cmp.assert_same(s.realtimeInputConfig, { activityHandling = "NO_INTERRUPTION" })
        assert.is_true(st.transcription)
      end
    end)

    it("take the input transcription's details", function()
      local s = setup(vertex(), { kind = "transcription", transcription = { vocabulary = { "Acme" },
        word_timestamps = true, diarization = true, mode = "smart" } })
      cmp.assert_same(s.inputAudioTranscription, { customVocabulary = { "Acme" }, wordTimestamp = true,
        diarization = true, mode = "SMART" })
      assert.is_nil(s.outputAudioTranscription)
    end)

    it("input transcription is on without the option; output transcription stays off", function()
      local s = setup(gemini(), { kind = "transcription" })
      cmp.assert_same(s.inputAudioTranscription, {})
      s = setup(gemini(), { kind = "transcription", transcription = true })
      cmp.assert_same(s.inputAudioTranscription, {})
      assert.is_nil(s.outputAudioTranscription)
    end)

    it("VAD on never interrupts; VAD off is manual activity as usual", function()
      local s = setup(gemini(), { kind = "transcription", vad = { silence_duration = 0.3 } })
      cmp.assert_same(s.realtimeInputConfig, { activityHandling = "NO_INTERRUPTION",
        automaticActivityDetection = { disabled = false, silenceDurationMs = 300 } })
      local st = gemini()
      s = setup(st, { kind = "transcription", vad = { enabled = false } })
      assert.is_true(s.realtimeInputConfig.automaticActivityDetection.disabled)
      assert.is_true(st.vad_manual)
    end)

    it("refuses a transcription session without input transcription, and unknown kinds", function()
      assert.has_error(function() setup(gemini(), { kind = "transcription", transcription = false }) end,
        "option 'transcription': a transcription session transcribes its input")
      assert.has_error(function() setup(gemini(), { kind = "chat" }) end,
        "option 'kind': expected \"conversation\" or \"transcription\"")
      assert.is_false(gemini().transcription or false)
    end)
  end)

  describe("resumption and compression", function()
    it("resumption false sends nothing; { handle = } starts from a saved handle", function()
      assert.is_nil(setup(gemini(), { resumption = false }).sessionResumption)
      local st = gemini()
      cmp.assert_same(setup(st, { resumption = { handle = "h" } }).sessionResumption, { handle = "h" })
      assert.equal("h", st.resumption_handle, "the saved handle is the latest known one")
      cmp.assert_same(setup(vertex(), { resumption = { handle = "h" } }).sessionResumption,
        { handle = "h", transparent = true })
      assert.has_error(function() setup(gemini(), { resumption = { handle = "" } }) end,
        "option 'resumption.handle': expected a non-empty string")
    end)

    it("compression true is an empty sliding window; numbers go out as int64 strings", function()
      cmp.assert_same(setup(gemini(), { compression = true }).contextWindowCompression,
        { slidingWindow = {} })
      local _, text = setup(gemini(), { compression = { trigger_tokens = 25600, target_tokens = 12800 } })
      local s = core.json_decode(text).setup
      cmp.assert_same(s.contextWindowCompression,
        { triggerTokens = "25600", slidingWindow = { targetTokens = "12800" } })
    end)
  end)

  describe("raw", function()
    it("is deep-merged last; cjson null removes a key", function()
      local s = setup(vertex(), { voice = "Puck", raw = {
        generationConfig = { responseModalities = core.json_null, thinkingConfig = { includeThoughts = true } },
        proactivity = { proactiveAudio = true } } })
      cmp.assert_same(s.generationConfig, {
        speechConfig = { voiceConfig = { prebuiltVoiceConfig = { voiceName = "Puck" } } },
        thinkingConfig = { includeThoughts = true } })
      cmp.assert_same(s.proactivity, { proactiveAudio = true })
    end)

    it("a snake_case key merges into its camelCase twin; other keys stay as written", function()
      local s = setup(gemini(), { temperature = 0.5, voice = "Puck", vad = { enabled = false },
        tools = { { name = "t", parameters = { type = "object", properties = { my_arg = { type = "string" } } } } },
        raw = { setup = {
          generation_config = { thinking_config = { thinking_budget = 0 },
            speech_config = { voice_config = { prebuilt_voice_config = { voice_name = "Kore" } } } },
          realtime_input_config = core.json_null,
          my_extension = { some_key = 1 } } } })
      cmp.assert_same({ temperature = 0.5,
        speechConfig = { voiceConfig = { prebuiltVoiceConfig = { voiceName = "Kore" } } },
        thinking_config = { thinking_budget = 0 } }, s.generationConfig)
      assert.is_nil(s.generation_config)
      assert.is_nil(s.realtimeInputConfig)
      assert.is_nil(s.realtime_input_config)
      cmp.assert_same({ some_key = 1 }, s.my_extension)
      -- a schema's property names are the caller's, not wire names
      assert.is_table(decl(s).parameters.properties.my_arg)
      -- a key whose twin is absent, and a spelled-out key, stay
      s = setup(gemini(), { raw = { output_audio_transcription = {}, tools = { { google_search = {} } } } })
      cmp.assert_same({}, s.output_audio_transcription)
      cmp.assert_same({ { google_search = {} } }, s.tools)
    end)

    local ordered = require("spec.helper").ordered

    -- How many times the JSON text names the key (as a key: quoted, then a colon).
    local function count_key(text, key)
      local _, n = text:gsub('"' .. key .. '":', "")
      return n
    end

    it("both spellings of an object the options did not make go out as one camelCase key, in either order", function()
      for _, snake_first in ipairs { true, false } do
        local function both(camel, cv, snake, sv)
          if snake_first then return ordered(snake, sv, camel, cv) end
          return ordered(camel, cv, snake, sv)
        end
        for _, raw in ipairs {
          both("generationConfig", { temperature = 0.5 }, "generation_config", { top_k = 3 }),
          { setup = both("generationConfig", { temperature = 0.5 }, "generation_config", { top_k = 3 }) },
        } do
          local s, text = setup(gemini(), { raw = raw })
          assert.equal(1, count_key(text, "generationConfig"))
          assert.equal(0, count_key(text, "generation_config"))
          cmp.assert_same({ temperature = 0.5, top_k = 3 }, s.generationConfig)
        end
        -- nested: the two spellings inside an object that only the raw gives
        local s, text = setup(gemini(), { raw = { realtimeInputConfig = both(
          "automaticActivityDetection", { disabled = true },
          "automatic_activity_detection", { silence_duration_ms = 500 }) } })
        assert.equal(1, count_key(text, "automaticActivityDetection"))
        assert.equal(0, count_key(text, "automatic_activity_detection"))
        cmp.assert_same({ automaticActivityDetection = { disabled = true, silence_duration_ms = 500 } },
          s.realtimeInputConfig)
        -- and a field given in both spellings inside the two objects: one key, camelCase's value
        s, text = setup(gemini(), { raw = both("realtimeInputConfig", { turnCoverage = "TURN_INCLUDES_ALL_INPUT" },
          "realtime_input_config", both("turnCoverage", "TURN_INCLUDES_ONLY_ACTIVITY",
            "turn_coverage", "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO")) })
        assert.equal(1, count_key(text, "turnCoverage"))
        assert.equal(0, count_key(text, "turn_coverage"))
        assert.equal(1, count_key(text, "realtimeInputConfig"))
        cmp.assert_same({ turnCoverage = "TURN_INCLUDES_ALL_INPUT" }, s.realtimeInputConfig)
      end
    end)

    it("on a conflict between the two spellings the camelCase one wins, whether the options made the object or not", function()
      for _, snake_first in ipairs { true, false } do
        local function both(camel, cv, snake, sv)
          if snake_first then return ordered(snake, sv, camel, cv) end
          return ordered(camel, cv, snake, sv)
        end
        for _, opts in ipairs { {}, { temperature = 0.1 } } do
          opts.raw = both("generationConfig", { topK = 3, temperature = 0.5 },
            "generation_config", { top_k = 9, temperature = 0.9, seed = 4 })
          cmp.assert_same({ topK = 3, temperature = 0.5, seed = 4 }, setup(gemini(), opts).generationConfig)
        end
        -- a JSON null in either spelling: the snake_case one is merged first, then the
        -- camelCase one, whatever the table's order
        local s = setup(gemini(), { voice = "Puck", raw = { generationConfig = both(
          "speechConfig", core.json_null, "speech_config", { language_code = "de-DE" }) } })
        cmp.assert_same({}, s.generationConfig)
        s = setup(gemini(), { voice = "Puck", raw = { generationConfig = both(
          "speechConfig", { languageCode = "de-DE" }, "speech_config", core.json_null) } })
        cmp.assert_same({ languageCode = "de-DE" }, s.generationConfig.speechConfig)
      end
    end)

    it("refuses two snake_case spellings of one camelCase name, naming both and where, in either order", function()
      -- generation_config and generation_Config both read as generationConfig: which one
      -- won went by the table's order
      for _, first in ipairs { true, false } do
        local function both(a, av, b, bv)
          if first then return ordered(a, av, b, bv) end
          return ordered(b, bv, a, av)
        end
        -- named where they are in the raw as written (at its top: no place)
        local function msg(at)
          return ("option 'raw': keys 'generation_Config' and 'generation_config'%s are two "
            .. "spellings of 'generationConfig': give one"):format(at)
        end
        local function twins()
          return both("generation_config", { top_k = 3 }, "generation_Config", { top_k = 4 })
        end
        -- beside the camelCase spelling too: the two snake_case ones would still race
        local beside = twins()
        beside.generationConfig = { topK = 1 }
        for raw, at in pairs { [twins()] = "", [{ setup = twins() }] = " at setup", [beside] = "" } do
          assert.has_error(function() setup(gemini(), { raw = raw }) end, msg(at))
        end
        assert.has_error(function()
          setup(gemini(), { temperature = 0.5, raw = { generationConfig = { thinkingConfig =
            both("thinking_budget", 0, "thinking_Budget", 10) } } })
        end, "option 'raw': keys 'thinking_Budget' and 'thinking_budget' at generationConfig.thinkingConfig "
          .. "are two spellings of 'thinkingBudget': give one")
      end
    end)

    -- a value that cannot go out was refused only when the whole message was encoded,
    -- named by its place in the wire message ("setup.generationConfig.x: ..."), which
    -- neither names the option nor is what the caller wrote (generation_config)
    it("names the option and the place in the raw as written for a value JSON cannot carry", function()
      local proxy = setmetatable({}, { __index = function() return 1 end })
      for _, case in ipairs {
        { { generationConfig = { x = 0 / 0 } }, "generationConfig.x: cannot encode NaN" },
        { { generation_config = { x = print } }, "generation_config.x: cannot encode a function" },
        { { generationConfig = { x = "caf\xe9" } }, "generationConfig.x: invalid UTF-8 in string" },
        { { generationConfig = { x = proxy } }, "generationConfig.x: it stores nothing and its metatable's "
          .. "__index is a function (a proxy): give it __pairs, or copy it into a plain table" },
        { { setup = { system_instruction = { parts = { { text = 0 / 0 } } } } },
          "setup.system_instruction.parts[1].text: cannot encode NaN" },
        { { tools = { { functionDeclarations = { { name = "f", parameters = { x = 0 / 0 } } } } } },
          "tools[1].functionDeclarations[1].parameters.x: cannot encode NaN" },
        { { extra = { [true] = 1 } }, "extra: cannot encode a table with mixed or non-string keys (or holes)" },
        { { 1, 2 }, "expected an object (setup fields by name), got a list" },
        { { setup = { 1 } }, "setup: expected an object (setup fields by name), got a list" },
      } do
        -- merged into an object the options made (temperature) or into a new one
        for _, opts in ipairs { {}, { temperature = 0.5 } } do
          opts.raw = case[1]
          assert.has_error(function() setup(gemini(), opts) end, "option 'raw': " .. case[2])
        end
      end
      -- a __pairs proxy that shows a list replaces, as a list does: it was merged into the
      -- options' object, which then mixed number keys with names
      local list = setmetatable({}, { __pairs = function() return ipairs { "a", "b" } end })
      local _, text = setup(gemini(), { temperature = 0.5, raw = { generationConfig = list } })
      assert.matches('"generationConfig":%["a","b"%]', text)
    end)

    it("leaves the caller's raw tables as they were", function()
      -- (the camelCase object first: the snake_case one was merged into it)
      local inner = { top_k = 3 }
      local raw = ordered("generationConfig", { temperature = 0.5 }, "generation_config", inner)
      setup(gemini(), { raw = raw })
      setup(gemini(), { raw = raw })
      cmp.assert_same({ top_k = 3 }, inner)
      cmp.assert_same({ temperature = 0.5 }, raw.generationConfig)
    end)

    it("builds plain tables: a caller's metatable is not put on them, an empty array stays one", function()
      -- the metatable went onto the merge's copy: the caller's __gc ran on it
      local ran = 0
      local raw = { extra = setmetatable({ a = 1 }, { __gc = function() ran = ran + 1 end }) }
      cmp.assert_same({ a = 1 }, setup(gemini(), { raw = raw }).extra)
      collectgarbage()
      collectgarbage()
      assert.equal(0, ran)
      assert.is_table(raw.extra)
      -- a __pairs that reads its store by the table it is given found none for the copy
      local store = setmetatable({}, { __mode = "k" })
      local function proxy(t)
        local p = setmetatable({}, { __pairs = function(self) return next, store[self] end })
        store[p] = t
        return p
      end
      cmp.assert_same({ topK = 3 }, setup(gemini(), { raw = { generationConfig = proxy { topK = 3 } } })
        .generationConfig)
      -- merged into an object the options made, a __pairs proxy was read as stored: nothing
      cmp.assert_same({ temperature = 0.5, topK = 3 },
        setup(gemini(), { temperature = 0.5, raw = { generationConfig = proxy { topK = 3 } } })
          .generationConfig)
      -- an empty array replaces, as any array does, also an object the options made
      for _, opts in ipairs { {}, { temperature = 0.5 } } do
        opts.raw = { generationConfig = core.json_array {} }
        local _, text = setup(gemini(), opts)
        assert.matches('"generationConfig":%[%]', text)
      end
      -- so does one marked by cjson's array_mt (the openresty fork's; faked here)
      local status, out = helper.child([[
local cjson = require "cjson"
cjson.array_mt = cjson.array_mt or {}
local core = require "realtime.core"
print(core.map_setup(core.map_new { backend = "gemini" }, { model = "m", temperature = 0.5,
  raw = { generationConfig = setmetatable({}, cjson.array_mt), extra = setmetatable({}, cjson.array_mt) } }))
]])
      assert.equal(0, status, out)
      assert.matches('"generationConfig":%[%]', out)
      assert.matches('"extra":%[%]', out)
      -- a proxy the encoder refuses is still refused, naming where it is
      assert.has_error(function()
        setup(gemini(), { raw = { extra = setmetatable({}, { __index = { x = 1 } }) } })
      end, "option 'raw': extra: its metatable's __index gives it entries not stored in it ('x'): "
        .. "give it __pairs, or copy it into a plain table")
    end)

    it("reads the raw table itself as it reads the objects inside it", function()
      -- the raw table (and the setup of { setup = {...} }) was read as stored: a __pairs
      -- proxy was dropped without a word
      local function proxy(t) return setmetatable({}, { __pairs = function() return next, t, nil end }) end
      cmp.assert_same({ topK = 3 },
        setup(gemini(), { raw = proxy { generationConfig = { topK = 3 } } }).generationConfig)
      cmp.assert_same({ topK = 3 },
        setup(gemini(), { raw = proxy { setup = proxy { generationConfig = { topK = 3 } } } }).generationConfig)
      cmp.assert_same({ topK = 3 },
        setup(gemini(), { raw = { setup = proxy { generationConfig = { topK = 3 } } } }).generationConfig)
    end)

    -- A host may set a locale (setlocale, os.setlocale): in a Turkish one the C library's
    -- toupper leaves 'i' as it is, and system_instruction stayed beside systemInstruction.
    it("makes a snake_case key's twin the same in any locale", function()
      local dir = helper.tmpdir()
      local made = helper.run("localedef -i tr_TR -f UTF-8 " .. helper.shell_quote(dir .. "/tr_TR.UTF-8"))
      if made ~= 0 then
        helper.run("rm -rf " .. helper.shell_quote(dir))
        return pending("localedef cannot make the tr_TR.UTF-8 locale here")
      end
      local status, out = helper.child([[
assert(os.setlocale("tr_TR.UTF-8"), "no tr_TR.UTF-8 locale")
local core = require "realtime.core"
print(core.map_setup(core.map_new { backend = "gemini" }, { model = "m", instructions = "be brief",
  vad = { enabled = false }, raw = { system_instruction = { parts = { { text = "be kind" } } }, realtime_input_config = { turn_coverage = "X" } } }))
]], { LOCPATH = dir })
      helper.run("rm -rf " .. helper.shell_quote(dir))
      assert.equal(0, status, out)
      local s = core.json_decode(out:match "^[^\n]*").setup
      assert.is_nil(s.system_instruction)
      assert.is_nil(s.realtime_input_config)
      cmp.assert_same({ role = "user", parts = { { text = "be kind" } } }, s.systemInstruction)
      assert.equal("X", s.realtimeInputConfig.turn_coverage)
      assert.is_table(s.realtimeInputConfig.automaticActivityDetection)
    end)

    it("accepts the { setup = ... } form", function()
      local s = setup(gemini(), { raw = { setup = { explicitVadSignal = true } } })
      assert.is_true(s.explicitVadSignal)
    end)
  end)

  describe("history", function()
    it("Gemini: historyConfig says the first clientContent is the initial history", function()
      cmp.assert_same(setup(gemini(), { history = { { role = "user", text = "hi" } } }).historyConfig,
        { initialHistoryInClientContent = true })
    end)

    it("Vertex does not take historyConfig; no history sends none", function()
      assert.is_nil(setup(vertex(), { history = { { role = "user", text = "hi" } } }).historyConfig)
      assert.is_nil(setup(gemini(), { history = {} }).historyConfig)
      assert.is_nil(setup(gemini(), {}).historyConfig)
    end)

    it("the history message waits in the state; a history without content asks for nothing", function()
      local st = gemini()
      setup(st, { history = { { role = "user", text = "hi" } },
        input_audio_format = { type = "audio/pcm", rate = 24000 } })
      cmp.assert_same(core.json_decode(st.history_message),
        { clientContent = { turns = { { role = "user", parts = { { text = "hi" } } } }, turnComplete = true } })
      st = gemini()
      local s = setup(st, { history = { { role = "user", text = "" } } })
      assert.is_nil(s.historyConfig, "the service would wait for a history that never comes")
      assert.is_nil(st.history_message)
      -- audio in the history takes the session's input mime type
      st = vertex()
      setup(st, { history = { { role = "user", content = { { type = "audio", data = "\0\0" } } } },
        input_audio_format = { type = "audio/pcm", rate = 24000 } })
      assert.equal("audio/pcm;rate=24000",
        core.json_decode(st.history_message).clientContent.turns[1].parts[1].inlineData.mimeType)
    end)
  end)

  describe("input audio format", function()
    it("seed bug 14: the input mime type carries the rate", function()
      local st = gemini()
      setup(st, {})
      assert.equal("audio/pcm;rate=16000", st.input_mime)
      setup(st, { input_audio_format = { type = "audio/pcm", rate = 24000 } })
      assert.equal("audio/pcm;rate=24000", st.input_mime)
      assert.equal(24000, st.input_rate)
    end)

    it("is not part of setup", function()
      local s = setup(gemini(), { input_audio_format = { type = "audio/pcm", rate = 24000 } })
      assert.is_nil(s.inputAudioFormat)
      cmp.assert_same(s, { model = "models/gemini-live-2.5-flash", sessionResumption = {} })
    end)
  end)

  describe("tools", function()
    it("one Tool with every declaration in order; no parameters key without parameters", function()
      local s = setup(gemini(), { tools = {
        { name = "a", description = "A", parameters = { type = "object", properties = {} },
          handler = function() end },
        { name = "b" },
        { name = "c", description = "C" },
      } })
      cmp.assert_same(s.tools, { { functionDeclarations = {
        { name = "a", description = "A", parameters = { type = "OBJECT", properties = {} } },
        { name = "b" },
        { name = "c", description = "C" },
      } } })
    end)

    it("built-in tools are entries of their own, in order; functions share one entry where the first stands", function()
      for _, st in ipairs { gemini(), vertex() } do
        local s = setup(st, { tools = {
          { type = "google_search" },
          { name = "a" },
          { type = "code_execution" },
          { name = "b", type = "function" },
          { type = "url_context" },
        } })
        cmp.assert_same(s.tools, {
          { googleSearch = {} },
          { functionDeclarations = { { name = "a" }, { name = "b" } } },
          { codeExecution = {} },
          { urlContext = {} },
        })
      end
      cmp.assert_same(setup(gemini(), { tools = { { type = "url_context" } } }).tools, { { urlContext = {} } })
    end)

    it("an unknown tool type raises", function()
      assert.has_error(function() setup(gemini(), { tools = { { type = "google_maps" } } }) end,
        "option 'tools': entry 1: unknown tool type 'google_maps' (expected \"function\", "
        .. "\"google_search\", \"code_execution\" or \"url_context\")")
    end)

    it("behavior: absent sends nothing, blocking and non_blocking in upper case", function()
      local s = setup(gemini(), { tools = {
        { name = "a" }, { name = "b", behavior = "blocking" }, { name = "c", behavior = "non_blocking" } } })
      cmp.assert_same(s.tools[1].functionDeclarations, {
        { name = "a" }, { name = "b", behavior = "BLOCKING" }, { name = "c", behavior = "NON_BLOCKING" } })
      assert.has_error(function() setup(gemini(), { tools = { { name = "a", behavior = "async" } } }) end,
        "tool 'a': 'behavior' must be \"blocking\" or \"non_blocking\"")
    end)

    it("an empty tool list sends no tools", function()
      assert.is_nil(setup(gemini(), { tools = {} }).tools)
    end)

    it("converts types, description, properties, required, items, format", function()
      cmp.assert_same(params {
        type = "object", description = "args",
        properties = {
          city = { type = "string", description = "name" },
          when = { type = "string", format = "date-time" },
          days = { type = "integer", minimum = 1, maximum = 7 },
          tags = { type = "array", items = { type = "string" }, maxItems = 3 },
          ok = { type = "boolean" }, ratio = { type = "number" },
        },
        required = { "city" },
      }, {
        type = "OBJECT", description = "args",
        properties = {
          city = { type = "STRING", description = "name" },
          when = { type = "STRING", format = "date-time" },
          days = { type = "INTEGER", minimum = 1, maximum = 7 },
          tags = { type = "ARRAY", items = { type = "STRING" }, maxItems = "3" },
          ok = { type = "BOOLEAN" }, ratio = { type = "NUMBER" },
        },
        required = { "city" },
      })
    end)

    it("an empty required list goes out as []", function()
      local _, text = setup(gemini(), { tools = { { name = "t",
        parameters = { type = "object", properties = {}, required = {} } } } })
      assert.truthy(text:find('"required":[]', 1, true))
    end)

    it("propertyOrdering is a list of names, [] when empty, as required is", function()
      -- it went out as given: {} as an object, and non-names, which the service refuses
      -- with the whole setup (1007)
      local _, text = setup(gemini(), { tools = { { name = "t", parameters = { type = "object",
        properties = { a = { type = "string" } }, propertyOrdering = {} } } } })
      assert.truthy(text:find('"propertyOrdering":[]', 1, true), text)
      local p = params { type = "object", properties = { a = { type = "string" },
        b = { type = "string" } }, propertyOrdering = { "b", "a" } }
      assert.same({ "b", "a" }, p.propertyOrdering)
      for _, bad in ipairs { "a", { "a", 1 }, { a = 1 } } do
        assert.has_error(function()
          setup(gemini(), { tools = { { name = "t", parameters = { type = "object",
            properties = { a = { type = "string" } }, propertyOrdering = bad } } } })
        end, "tool 't': parameters.propertyOrdering: must be a list of property names")
      end
      assert.has_error(function()
        setup(gemini(), { tools = { { name = "t", parameters = { type = "object",
          properties = { a = { type = "string" } }, propertyOrdering = { "a", "zz" } } } } })
      end, "tool 't': parameters.propertyOrdering[2]: 'zz' is not one of the schema's properties")
    end)

    it("property names are kept verbatim", function()
      local p = params { type = "object", properties = { snake_case = { type = "string" },
        camelCase = { type = "string" }, ["with space"] = { type = "string" } } }
      assert.is_table(p.properties.snake_case)
      assert.is_table(p.properties.camelCase)
      assert.is_table(p.properties["with space"])
    end)

    describe("$ref, $defs and definitions are inlined", function()
      it("a reference becomes the schema it points to; $defs and definitions stay off the wire", function()
        cmp.assert_same(params {
          type = "object",
          ["$defs"] = { Address = { type = "object", properties = { city = { type = "string" } },
                                    required = { "city" } } },
          definitions = { Unit = { type = "string", enum = { "C", "F" } } },
          properties = {
            home = { ["$ref"] = "#/$defs/Address" },
            work = { ["$ref"] = "#/$defs/Address" },
            unit = { ["$ref"] = "#/definitions/Unit" },
            list = { type = "array", items = { ["$ref"] = "#/definitions/Unit" } },
          } }, {
          type = "OBJECT", properties = {
            home = { type = "OBJECT", properties = { city = { type = "STRING" } }, required = { "city" } },
            work = { type = "OBJECT", properties = { city = { type = "STRING" } }, required = { "city" } },
            unit = { type = "STRING", enum = { "C", "F" } },
            list = { type = "ARRAY", items = { type = "STRING", enum = { "C", "F" } } },
          } })
      end)

      it("keywords beside a $ref are kept and win over the referenced ones", function()
        cmp.assert_same(params {
          type = "object", ["$defs"] = { Name = { type = "string", description = "a name", maxLength = 10 } },
          properties = { first = { ["$ref"] = "#/$defs/Name", description = "the first name" } } }, {
          type = "OBJECT", properties = {
            first = { type = "STRING", description = "the first name", maxLength = "10" } } })
      end)

      it("references to references, JSON pointer escapes and array indexes resolve", function()
        cmp.assert_same(params {
          ["$defs"] = { ["a/b"] = { ["$ref"] = "#/$defs/c~0d" }, ["c~d"] = { type = "integer" },
                        ["e f"] = { anyOf = { { type = "string" }, { type = "boolean" } } } },
          type = "object", properties = {
            x = { ["$ref"] = "#/$defs/a~1b" },
            y = { ["$ref"] = "#/$defs/e%20f/anyOf/1" },
          } }, {
          type = "OBJECT", properties = { x = { type = "INTEGER" }, y = { type = "BOOLEAN" } } })
      end)

      it("a reference cycle raises, naming the reference", function()
        assert.has_error(function() params {
          type = "object", ["$defs"] = { Node = { type = "object",
            properties = { child = { ["$ref"] = "#/$defs/Node" } } } },
          properties = { root = { ["$ref"] = "#/$defs/Node" } } } end,
          "tool 't': parameters.properties.root.properties.child.$ref: reference cycle through "
          .. "'#/$defs/Node' (a recursive schema cannot be inlined)")
        assert.has_error(function() params { type = "object", properties = { me = { ["$ref"] = "#" } } } end,
          "tool 't': parameters.properties.me.properties.me.$ref: reference cycle through '#' "
          .. "(a recursive schema cannot be inlined)")
      end)

      -- Each $ref is a new copy: definitions that each refer twice to the next double at
      -- every level (20 levels made a 62 MB setup, after 22 s and 730 MB).
      local function doubling(levels, leaf)
        local defs = {}
        for i = 1, levels do
          local next = { ["$ref"] = "#/$defs/A" .. (i + 1) }
          defs["A" .. i] = { type = "object", properties = { l = next, r = next } }
        end
        defs["A" .. (levels + 1)] = leaf or { type = "string" }
        return { type = "object", ["$defs"] = defs, properties = { x = { ["$ref"] = "#/$defs/A1" } } }
      end
      local too_big = "tool 't': parameters expand past 10000 schemas and values once their "
        .. "references are inlined (each $ref is a new copy of what it points to: refer to "
        .. "large definitions less often, or from fewer places)"

      it("a schema that inlining would make larger than 10000 schemas and values raises", function()
        -- 12 levels make 8191 schemas, under the bound; 13 make 16383
        local p = params(doubling(12))
        local leaf = p.properties.x
        for _ = 1, 12 do leaf = leaf.properties.r end
        assert.same({ type = "STRING" }, leaf)
        assert.has_error(function() params(doubling(13)) end, too_big)
        assert.has_error(function() params(doubling(16)) end, too_big)
        -- enum values and required names made by inlining count too
        local values = {}
        for i = 1, 700 do values[i] = "v" .. i end
        params(doubling(3, { type = "string", enum = values }))   -- 8 copies: 5615
        assert.has_error(function() params(doubling(4, { type = "string", enum = values })) end,
          too_big)
        -- what is not inside a reference is the caller's own size, and is not counted
        local props = {}
        for i = 1, 12000 do props["p" .. i] = { type = "string" } end
        assert.equal("STRING", params { type = "object", properties = props }.properties.p12000.type)
      end)

      it("an enum value that is NaN or infinite raises, naming the tool and the path", function()
        for _, v in ipairs { 0 / 0, math.huge, -math.huge } do
          assert.has_error(function() params { type = "object", properties = { x = { type = "number", enum = { 1, v } } } } end,
            "tool 't': parameters.properties.x.enum[2]: enum values must be finite numbers (NaN and "
            .. "infinities have no JSON form)")
        end
      end)

      it("an unresolvable reference raises", function()
        assert.has_error(function() params { type = "object", properties = { a = { ["$ref"] = "#/x" } } } end,
          "tool 't': parameters.properties.a.$ref: unresolvable reference '#/x'")
        assert.has_error(function() params { properties = { a = { ["$ref"] = "#/$defs/Nope" } },
          ["$defs"] = {} } end, "tool 't': parameters.properties.a.$ref: unresolvable reference '#/$defs/Nope'")
        assert.has_error(function() params { properties = { a = { ["$ref"] = "other.json#/A" } } } end,
          "tool 't': parameters.properties.a.$ref: unresolvable reference 'other.json#/A' (only JSON "
          .. "pointers into this schema, \"#/...\", can be inlined)")
        assert.has_error(function() params { properties = { a = { type = "string" },
          b = { ["$ref"] = "#/properties/a/type/x" } } } end,
          "tool 't': parameters.properties.b.$ref: unresolvable reference '#/properties/a/type/x'")
        assert.has_error(function() params { type = "object", title = "T",
          properties = { a = { ["$ref"] = "#/title" } } } end,
          "tool 't': parameters.properties.a.$ref: reference '#/title' does not point to a schema")
        assert.has_error(function() params { properties = { a = { ["$ref"] = 3 } } } end,
          "tool 't': parameters.properties.a.$ref: must be a string")
      end)
    end)

    describe("seed bug 12: schema conversion keeps what it can and refuses the rest", function()
      it("keeps enum, format, nullable and anyOf", function()
        cmp.assert_same(params {
          type = "object", properties = {
            unit = { type = "string", enum = { "C", "F" } },
            n = { enum = { 1, 2 } },
            maybe = { type = "string", nullable = true },
            either = { anyOf = { { type = "string" }, { type = "integer" } } },
            one = { oneOf = { { type = "string" } } },
            fixed = { const = "x" },
          } }, {
          type = "OBJECT", properties = {
            unit = { type = "STRING", enum = { "C", "F" } },
            n = { type = "STRING", enum = { "1", "2" } },
            maybe = { type = "STRING", nullable = true },
            either = { anyOf = { { type = "STRING" }, { type = "INTEGER" } } },
            one = { anyOf = { { type = "STRING" } } },
            fixed = { type = "STRING", enum = { "x" } },
          } })
      end)

      it("a type given as an array becomes type + nullable, or anyOf", function()
        cmp.assert_same(params { type = { "string", "null" } }, { type = "STRING", nullable = true })
        cmp.assert_same(params { type = { "string", "integer" } },
          { anyOf = { { type = "STRING" }, { type = "INTEGER" } } })
      end)

      it("null alone raises, naming the path, in either form", function()
        local why = "null cannot be the only possible type (give it beside another type, as "
          .. '{ "string", "null" }, or write nullable = true)'
        assert.has_error(function() params { type = "object", properties = { a = { type = "null" } } } end,
          "tool 't': parameters.properties.a.type: " .. why)
        assert.has_error(function() params { type = { "null" } } end, "tool 't': parameters.type: " .. why)
        assert.has_error(function() params { anyOf = { { type = "null" } } } end,
          "tool 't': parameters.anyOf: " .. why)
      end)

      it("type beside anyOf or oneOf raises: the service takes one or the other", function()
        assert.has_error(function()
          params { type = "object", properties = { a = { type = "string", anyOf = { { type = "string" } } } } }
        end, "tool 't': parameters.properties.a.anyOf: cannot be given beside 'type' (put the type "
          .. "in each alternative)")
        assert.has_error(function() params { type = "string", oneOf = { { type = "string" } } } end,
          "tool 't': parameters.oneOf: cannot be given beside 'type' (put the type in each alternative)")
      end)

      it("a null alternative makes the schema nullable, as a type list does", function()
        -- null and one other: that other, nullable; keywords beside the anyOf win
        cmp.assert_same(params { type = "object", properties = { a = { description = "outer",
          anyOf = { { type = "null" }, { type = "object", description = "inner",
            properties = { x = { type = "string" } }, required = { "x" } } } } } },
          { type = "OBJECT", properties = { a = { nullable = true, type = "OBJECT", description = "outer",
            properties = { x = { type = "STRING" } }, required = { "x" } } } })
        cmp.assert_same(params { oneOf = { { type = "array", items = { type = "integer" } }, { type = "NULL" } } },
          { nullable = true, type = "ARRAY", items = { type = "INTEGER" } })
        cmp.assert_same(params { anyOf = { { enum = { "a", "b" } }, { type = { "null" } } } },
          { nullable = true, type = "STRING", enum = { "a", "b" } })
        -- null and several others: anyOf of the others, nullable; the same from a type list
        local both = { nullable = true, anyOf = { { type = "STRING" }, { type = "INTEGER" } } }
        cmp.assert_same(params { anyOf = { { type = "string" }, { type = "null" }, { type = "integer" } } }, both)
        cmp.assert_same(params { type = { "string", "null", "integer" } }, both)
        cmp.assert_same(params { type = { "string", "null" } }, params { anyOf = { { type = "null" }, { type = "string" } } })
      end)

      it("drops annotations such as $schema, examples and readOnly", function()
        cmp.assert_same(params { ["$schema"] = "x", ["$id"] = "i", ["$comment"] = "c", ["$anchor"] = "a",
          type = "object", examples = { {} }, deprecated = true, readOnly = true, writeOnly = false,
          ["x-vendor"] = 1, properties = { b = { type = "string", contentEncoding = "base64",
            contentMediaType = "image/png", contentSchema = { type = "object" } } } },
          { type = "OBJECT", properties = { b = { type = "STRING" } } })
      end)

      it("tells the model, in the description, the constraints the Schema has no field for", function()
        cmp.assert_same(params { type = "object", additionalProperties = false, properties = {
            n = { type = "number", description = "Count", multipleOf = 2, exclusiveMinimum = 0 },
            f = { type = "number", exclusiveMaximum = 1.5, multipleOf = 0.25 },
            s = { type = "array", items = { type = "string" }, uniqueItems = true, minItems = 1 },
          } }, {
          type = "OBJECT", description = "(no properties other than those listed)", properties = {
            n = { type = "NUMBER", description = "Count (greater than 0; a multiple of 2)" },
            f = { type = "NUMBER", description = "(less than 1.5; a multiple of 0.25)" },
            s = { type = "ARRAY", items = { type = "STRING" }, minItems = "1",
              description = "(no two items equal)" },
          } })
        -- draft 4's boolean form makes minimum / maximum exclusive (the bound goes out too)
        cmp.assert_same(params { type = "integer", minimum = 1, exclusiveMinimum = true,
          maximum = 9, exclusiveMaximum = false },
          { type = "INTEGER", minimum = 1, maximum = 9, description = "(greater than 1)" })
        -- values that narrow nothing add nothing; a schema for other properties has no form
        cmp.assert_same(params { type = "object", additionalProperties = { type = "string" },
          properties = { a = { type = "array", uniqueItems = false,
            items = { type = "object", additionalProperties = true } } } },
          { type = "OBJECT", properties = { a = { type = "ARRAY", items = { type = "OBJECT" } } } })
        -- a description's NUL byte is kept; the clause follows a $ref's target too
        cmp.assert_same(params { type = "object", ["$defs"] = { P = { type = "integer", multipleOf = 5 } },
          properties = { a = { type = "string", description = "a\0b", contentEncoding = "x" },
            p = { ["$ref"] = "#/$defs/P", description = "Step" } } },
          { type = "OBJECT", properties = { a = { type = "STRING", description = "a\0b" },
            p = { type = "INTEGER", description = "Step (a multiple of 5)" } } })
        cmp.assert_same(params { type = "number", description = "x\0y", exclusiveMinimum = 0 },
          { type = "NUMBER", description = "x\0y (greater than 0)" })
      end)

      it("keeps a nullable anyOf's folded constraints beside a description, as beside a $ref", function()
        -- what pydantic v2 writes for Optional[int] = Field(gt=0, description=...)
        cmp.assert_same(params { type = "object", properties = { guests = { description = "Number of guests",
            anyOf = { { exclusiveMinimum = 0, type = "integer" }, { type = "null" } } } } },
          { type = "OBJECT", properties = { guests = { type = "INTEGER", nullable = true,
            description = "Number of guests (greater than 0)" } } })
        -- the alternative's clauses come first, then those beside the anyOf, in one clause
        cmp.assert_same(params { description = "outer", multipleOf = 3,
            anyOf = { { type = "null" }, { type = "integer", exclusiveMinimum = 0, description = "inner" } } },
          { type = "INTEGER", nullable = true, description = "outer (greater than 0; a multiple of 3)" })
        cmp.assert_same(params { multipleOf = 3,
            anyOf = { { type = "null" }, { type = "integer", exclusiveMinimum = 0, description = "inner" } } },
          { type = "INTEGER", nullable = true, description = "inner (greater than 0; a multiple of 3)" })
      end)

      it("shows a whole number a JSON decoder made a float as an integer in the clause", function()
        cmp.assert_same(params { type = "number", exclusiveMinimum = 0.0, multipleOf = 5.0, exclusiveMaximum = 1e20 },
          { type = "NUMBER", description = "(greater than 0; less than 1e+20; a multiple of 5)" })
        cmp.assert_same(params { type = "number", exclusiveMinimum = -2.5 },
          { type = "NUMBER", description = "(greater than -2.5)" })
      end)

      it("refuses a folded constraint's value that means nothing, naming the path", function()
        local function raises(why, schema) assert.has_error(function() params(schema) end, why) end
        raises("tool 't': parameters.properties.n.multipleOf: must be a finite number greater than 0",
          { type = "object", properties = { n = { type = "number", multipleOf = 0 } } })
        raises("tool 't': parameters.multipleOf: must be a finite number greater than 0",
          { type = "number", multipleOf = 0 / 0 })
        raises("tool 't': parameters.exclusiveMinimum: must be a finite number (or, as in draft 4, "
          .. "a boolean beside minimum or maximum)", { type = "number", exclusiveMinimum = "0" })
        raises("tool 't': parameters.exclusiveMaximum: must be a finite number (or, as in draft 4, "
          .. "a boolean beside minimum or maximum)", { type = "number", exclusiveMaximum = math.huge })
        raises("tool 't': parameters.uniqueItems: must be a boolean",
          { type = "array", items = { type = "string" }, uniqueItems = 1 })
        raises("tool 't': parameters.additionalProperties: must be a boolean or a schema",
          { type = "object", additionalProperties = "no" })
      end)

      it("refuses what it cannot convert, naming the tool and the path", function()
        assert.has_error(function() params { type = "object", properties = { a = { allOf = {} } } } end,
          "tool 't': parameters.properties.a: unsupported JSON Schema keyword 'allOf'")
        assert.has_error(function() params { type = "strin" } end,
          "tool 't': parameters.type: unknown type 'strin'")
        assert.has_error(function() params { type = "array", items = { { type = "string" } } } end,
          "tool 't': parameters.items: must be one schema (tuple forms are not supported)")
      end)

      it("refuses nesting deeper than 32 levels, accepts 32", function()
        local function nest(n)
          local s = { type = "string" }
          for _ = 2, n do s = { type = "array", items = s } end
          return s
        end
        assert.equal("ARRAY", params(nest(32)).type)
        assert.has_error(function() params(nest(33)) end,
          "tool 't': parameters nest deeper than 32 levels")
        -- a cycle is caught by the same limit
        local loop = { type = "object", properties = {} }
        loop.properties.self = loop
        assert.has_error(function() params(loop) end, "tool 't': parameters nest deeper than 32 levels")
      end)
    end)
  end)
end)
