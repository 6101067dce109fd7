-- The setup options that shape how the model answers (thinking, affective_dialog,
-- proactive_audio, media_resolution, speech_language, vad.turn_coverage): each connects to
-- the simulator, which checks the setup against the service's schema, and goes out in
-- the wire form docs/api.md gives.
local helper = require "spec.helper"

-- Connects with opts, checks that the session keeps them, returns the setup the simulator
-- received, and the connection's record.
local function connect_with(client, opts)
  local session = assert(client:connect(opts))
  for k, v in pairs(opts) do assert.same(v, session.options[k]) end
  local conn = helper.last_connection()
  session:close()
  helper.drain(session)
  return conn.setup, conn
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("setup options (" .. backend .. ")", function()
    local client
    before_each(function() client = backend == "gemini" and helper.gemini() or helper.vertex() end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("thinking goes out as generationConfig.thinkingConfig", function()
      local setup = connect_with(client, { thinking = { budget = 1024, include_thoughts = true } })
      assert.same({ thinkingBudget = 1024, includeThoughts = true }, setup.generationConfig.thinkingConfig)
      setup = connect_with(client, { thinking = { level = "minimal" } })
      assert.same({ thinkingLevel = "MINIMAL" }, setup.generationConfig.thinkingConfig)
      setup = connect_with(client, { thinking = { budget = -1 } })
      assert.same({ thinkingBudget = -1 }, setup.generationConfig.thinkingConfig)
    end)

    it("affective_dialog goes out as generationConfig.enableAffectiveDialog", function()
      local setup = connect_with(client, { affective_dialog = true })
      assert.is_true(setup.generationConfig.enableAffectiveDialog)
    end)

    it("proactive_audio goes out as setup.proactivity", function()
      local setup = connect_with(client, { proactive_audio = true })
      assert.same({ proactiveAudio = true }, setup.proactivity)
    end)

    it("media_resolution goes out as generationConfig.mediaResolution", function()
      local setup = connect_with(client, { media_resolution = "medium" })
      assert.equal("MEDIA_RESOLUTION_MEDIUM", setup.generationConfig.mediaResolution)
    end)

    it("speech_language goes out as speechConfig.languageCode, beside the voice", function()
      local setup = connect_with(client, { speech_language = "de-DE", voice = "Puck" })
      assert.same({ languageCode = "de-DE", voiceConfig = { prebuiltVoiceConfig = { voiceName = "Puck" } } },
        setup.generationConfig.speechConfig)
    end)

    it("vad.turn_coverage goes out as realtimeInputConfig.turnCoverage", function()
      local setup = connect_with(client, { vad = { turn_coverage = "audio_activity_and_all_video" } })
      assert.equal("TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO", setup.realtimeInputConfig.turnCoverage)
    end)

    it("include_thoughts: thoughts come as reasoning_delta, never in the output text", function()
      local session = assert(client:connect { output_modalities = { "text" },
        thinking = { include_thoughts = true } })
      assert(session:send { type = "conversation_item_create", item = { role = "user", content = {
        { type = "text", text = "What is the capital of France?" } } } })
      local text, msgs = helper.reply_text(session)
      local thoughts = {}
      for _, m in ipairs(msgs) do
        if m.type == "reasoning_delta" then thoughts[#thoughts + 1] = m.text end
        if m.type == "output_text_delta" then assert.is_nil(m.text:find("Considering", 1, true)) end
      end
      assert.is_true(#thoughts > 0, "no reasoning_delta")
      assert.equal("Considering how to answer.", table.concat(thoughts))
      assert.is_string(text)
      assert.is_nil(text:find("Considering", 1, true))
      session:close()
      helper.drain(session)
    end)

    it("raw still wins over these options", function()
      local setup = connect_with(client, { thinking = { budget = 0 }, media_resolution = "low",
        raw = { generationConfig = { thinkingConfig = { thinkingBudget = 512 }, mediaResolution = "MEDIA_RESOLUTION_HIGH" },
          proactivity = { proactiveAudio = false } }, proactive_audio = true })
      assert.same({ thinkingBudget = 512 }, setup.generationConfig.thinkingConfig)
      assert.equal("MEDIA_RESOLUTION_HIGH", setup.generationConfig.mediaResolution)
      assert.same({ proactiveAudio = false }, setup.proactivity)
    end)

    it("raw's two spellings of an object the options did not make go out as one key, in either order", function()
      -- the snake_case key went out beside its camelCase twin when it came first in the
      -- table's order, and the service closed the session (1007 duplicate field)
      local function count_key(text, key)
        local _, n = text:gsub('"' .. key .. '":', "")
        return n
      end
      for _, snake_first in ipairs { true, false } do
        local function both(camel, cv, snake, sv)
          if snake_first then return helper.ordered(snake, sv, camel, cv) end
          return helper.ordered(camel, cv, snake, sv)
        end
        -- each case: the raw, the pair of spellings, and where the merged object is
        for _, case in ipairs {
          { both("generationConfig", { temperature = 0.5 }, "generation_config", { top_k = 3 }),
            "generationConfig", "generation_config" },
          { { setup = both("realtimeInputConfig", { turnCoverage = "TURN_INCLUDES_ALL_INPUT" },
            "realtime_input_config", { automatic_activity_detection = { disabled = false } }) },
            "realtimeInputConfig", "realtime_input_config" },
          { { realtimeInputConfig = both("automaticActivityDetection", { disabled = false },
            "automatic_activity_detection", { silence_duration_ms = 500 }) },
            "automaticActivityDetection", "automatic_activity_detection" },
        } do
          local setup = connect_with(client, { raw = case[1] })
          local text = helper.setup_text()
          assert.equal(1, count_key(text, case[2]))
          assert.equal(0, count_key(text, case[3]))
          local gen, ric = setup.generationConfig, setup.realtimeInputConfig
          if case[2] == "generationConfig" then
            assert.equal(0.5, gen.temperature)
            assert.equal(3, gen.topK)
          elseif case[2] == "realtimeInputConfig" then
            assert.same({ turnCoverage = "TURN_INCLUDES_ALL_INPUT",
              automaticActivityDetection = { disabled = false } }, ric)
          else
            assert.same({ automaticActivityDetection = { disabled = false, silenceDurationMs = 500 } }, ric)
          end
        end
      end
    end)
  end)
end

describe("setup options: the API version", function()
  it("Gemini: a session with affective_dialog or proactive_audio uses v1alpha, others v1beta", function()
    local client = helper.gemini()
    local _, conn = connect_with(client, { affective_dialog = true })
    assert.equal("v1alpha", conn.apiVersion)
    -- even for false: the service refuses the field itself on v1beta
    _, conn = connect_with(client, { proactive_audio = false })
    assert.equal("v1alpha", conn.apiVersion)
    _, conn = connect_with(client, { thinking = { budget = 0 } })
    assert.equal("v1beta", conn.apiVersion)
    client:close()
  end)

  it("Gemini: raw that gives either field goes to v1alpha too, in either spelling", function()
    -- the service refuses the fields on v1beta whoever put them in the setup
    local client = helper.gemini()
    for _, raw in ipairs {
      { generationConfig = { enableAffectiveDialog = true } },
      { generation_config = { enable_affective_dialog = false } },
      { proactivity = { proactiveAudio = true } },
      { setup = { proactivity = { proactive_audio = true } } },
    } do
      local setup, conn = connect_with(client, { raw = raw })
      assert.equal("v1alpha", conn.apiVersion)
      assert.is_true(setup.proactivity ~= nil or setup.generationConfig.enableAffectiveDialog ~= nil)
    end
    -- raw that takes the options' fields out again leaves nothing v1alpha is needed for
    local null = require("realtime.core").json_null
    local setup, conn = connect_with(client, { proactive_audio = true, raw = { proactivity = null } })
    assert.is_nil(setup.proactivity)
    assert.equal("v1beta", conn.apiVersion)
    setup, conn = connect_with(client, { affective_dialog = true,
      raw = { generationConfig = { enableAffectiveDialog = null } } })
    assert.is_nil((setup.generationConfig or {}).enableAffectiveDialog)
    assert.equal("v1beta", conn.apiVersion)
    client:close()
  end)

  it("Gemini: raw is read as the merge reads it: strict tables, both spellings, nothing inherited", function()
    local client = helper.gemini()
    local function strict(t)
      return setmetatable(t, { __index = function(_, k) error("strict: no field " .. tostring(k), 2) end })
    end
    -- a strict raw (and a strict table inside it) is only read for the keys it holds
    local setup, conn = connect_with(client, { raw = strict { generationConfig = strict { temperature = 0.5 } } })
    assert.equal("v1beta", conn.apiVersion)
    assert.equal(0.5, setup.generationConfig.temperature)
    -- the field in the snake_case twin of a camelCase object the raw also holds still goes
    -- out (the options' generationConfig takes both in, in whichever order they come)
    setup, conn = connect_with(client, { temperature = 0.5, raw = { generationConfig = { top_p = 0.5 },
      generation_config = { enable_affective_dialog = true } } })
    assert.equal("v1alpha", conn.apiVersion)
    assert.is_true(setup.generationConfig.enableAffectiveDialog)
    -- what a raw table only inherits is not merged, so it moves nothing
    setup, conn = connect_with(client, { raw = setmetatable({}, { __index = { proactivity = {} } }) })
    assert.is_nil(setup.proactivity)
    assert.equal("v1beta", conn.apiVersion)
    client:close()
  end)

  it("Gemini: raw given through __pairs proxies goes to v1alpha as the plain tables do", function()
    -- the merge reads a proxy as pairs shows it; the version was chosen from the tables
    -- as stored, which a proxy leaves empty: v1beta, where the service closes on the field
    local client = helper.gemini()
    local function proxy(t) return setmetatable({}, { __pairs = function() return next, t, nil end }) end
    for _, raw in ipairs {
      { generationConfig = proxy { enableAffectiveDialog = true } },
      proxy { proactivity = { proactiveAudio = true } },
      { setup = proxy { generation_config = proxy { enable_affective_dialog = false } } },
    } do
      local setup, conn = connect_with(client, { raw = raw })
      assert.is_true(setup.proactivity ~= nil or setup.generationConfig.enableAffectiveDialog ~= nil)
      assert.equal("v1alpha", conn.apiVersion)
    end
    client:close()
  end)

  it("Gemini: a pinned api_version is kept, and the service's refusal there is told as it came", function()
    local client = helper.gemini { api_version = "v1beta" }
    for _, case in ipairs {
      { opts = { affective_dialog = false }, name = "enable_affective_dialog", at = "setup.generation_config" },
      { opts = { proactive_audio = true }, name = "proactivity", at = "setup" },
    } do
      local before = #helper.connections()
      local session, err, code = client:connect(case.opts)
      assert.is_nil(session)
      -- a server's close is "closed" with its code and reason, as mid-session; the reason's
      -- single quotes come escaped as \x27 (docs/api.md), the rest verbatim
      assert.equal("closed", code)
      assert.matches('server closed the connection (1007: Invalid JSON payload received. Unknown name "'
        .. case.name .. '" at \\x27' .. case.at .. '\\x27: Cannot find field.)', err, 1, true)
      -- one attempt: a setup the service refuses is not tried again
      local conns = helper.connections()
      assert.equal(before + 1, #conns)
      assert.equal("v1beta", conns[#conns].apiVersion)
    end
    client:close()
  end)

  it("Vertex keeps its version (it has no v1alpha)", function()
    local client = helper.vertex()
    local _, conn = connect_with(client, { affective_dialog = true, proactive_audio = true })
    assert.equal("v1beta1", conn.apiVersion)
    client:close()
  end)
end)
