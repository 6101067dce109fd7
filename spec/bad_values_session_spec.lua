-- Bad values on the Session side of the Lua API (client:connect options, sends, tool
-- results): each gets a clear error naming what is wrong, and nothing the caller sent is
-- dropped without a word.
local helper = require "spec.helper"

local WEATHER = { type = "object", properties = { city = { type = "string" } } }

-- The client frames of the latest simulator connection that contain `needle`.
local function frames_with(needle)
  local conns = helper.connections()
  local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
  local out = {}
  for _, f in ipairs(frames) do
    if f.dir == "in" and f.text:find(needle, 1, true) then out[#out + 1] = f.text end
  end
  return out
end

local raises = helper.raises

describe("bad values on a session", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  describe("connect options", function()
    it("a list given without its braces, with a hole or with other keys raises, naming the option", function()
      local tool = { name = "get_weather", description = "weather" }
      raises("option 'tools': expected a list ({ x, y, ... }), but it has the key", client.connect, client,
        { tools = tool })
      raises("option 'tools': expected a list ({ x, y, ... }), but it has a hole before index 3",
        client.connect, client, { tools = { [1] = tool, [3] = { name = "other" } } })
      raises("option 'history': expected a list ({ x, y, ... }), but it has the key", client.connect, client,
        { history = { role = "user", text = "hello" } })
      raises("option 'history': expected a list ({ x, y, ... }), but it has a hole before index 3",
        client.connect, client, { history = { [1] = { text = "a" }, [3] = { text = "c" } } })
      raises("option 'output_modalities': expected a list ({ x, y, ... }), but it has the key 'text'",
        client.connect, client, { output_modalities = { text = true } })
      raises("option 'transcription.language': expected a list ({ x, y, ... }), but it has a hole",
        client.connect, client, { transcription = { language = { [1] = "en-US", [3] = "de-DE" } } })
      raises("option 'history': item 1: unknown field 'txt'", client.connect, client,
        { history = { { role = "user", txt = "hello" } } })
    end)

    it("a model name with a NUL byte raises with the reason, as realtime.gemini says it", function()
      local before = #helper.connections()
      raises("option 'model': unsafe model name: it contains a NUL byte", client.connect, client,
        { model = "a\0b" })
      assert.equal(before, #helper.connections())
    end)

    it("a list that is a proxy (__index or __len) raises: its entries would be read as stored, none", function()
      local function proxy(l, hidden)
        return setmetatable({}, { __index = l, __len = function() return #l end, __metatable = hidden })
      end
      local tool = { name = "get_weather", description = "weather" }
      raises("option 'tools': expected a plain list, but its metatable gives it entries that are not "
        .. "stored in it (__index or __len; 0 stored)", client.connect, client, { tools = proxy { tool } })
      -- a metatable hidden behind __metatable is found all the same
      raises("option 'tools': expected a plain list", client.connect, client, { tools = proxy({ tool }, false) })
      raises("option 'history': expected a plain list", client.connect, client,
        { history = proxy { { role = "user", text = "remember me" } } })
      -- the transcription's lists too: not "expected a non-empty list ..., got table"
      raises("option 'transcription.vocabulary': expected a plain list, but its metatable gives it "
        .. "entries", client.connect, client, { transcription = { vocabulary = proxy { "Acme" } } })
      raises("option 'transcription.language': expected a plain list", client.connect, client,
        { transcription = { language = proxy { "en-US" } } })
      raises("option 'history': item 1: 'content' must be a plain list: its metatable gives it entries "
        .. "that are not stored in it (__index or __len; 0 stored)", client.connect, client,
        { history = { { role = "user", content = proxy { { type = "text", text = "c" } } } } })
      local s = assert(client:connect { output_modalities = { "text" } })
      raises("conversation_item_create: 'item.content' must be a plain list", s.send, s,
        { type = "conversation_item_create", item = { role = "user", content = proxy({ { type = "text", text = "c" } }, "no") } })
      -- a list marked as an array for lua-cjson, or of a class that only adds methods, is plain
      assert(s:send { type = "conversation_item_create", item = { role = "user",
        content = setmetatable({ { type = "text", text = "c" } }, require("cjson").array_mt) } })
      local List = { __index = { first = function(l) return l[1] end } }
      assert(s:send { type = "conversation_item_create", item = { role = "user",
        content = setmetatable({ { type = "text", text = "c" } }, List) } })
      s:close()
      s = assert(client:connect { output_modalities = { "text" }, tools = setmetatable({ tool }, List) })
      s:close()
    end)

    it("a transcription language must be a BCP-47 code, for an input transcription that is on", function()
      for _, bad in ipairs { "", "de\255", "en US", "-en", { "en-US", "" } } do
        raises("option 'transcription.language': expected a BCP-47 language code", client.connect, client,
          { transcription = { language = bad } })
      end
      -- it is languageCodes of the input transcription: with that off it would be dropped
      raises("option 'transcription.language': it is the language of the input transcription, which input = false turns off",
        client.connect, client, { transcription = { input = false, output = true, language = "de-DE" } })
      local session = assert(client:connect { transcription = { language = { "en-US", "cmn-Hans-CN" } } })
      session:close()
    end)

    it("a transcription language is checked for BCP-47's shape, and a bad list entry is named by its index", function()
      -- subtags of 1 to 8 letters or digits joined by single '-', the first 2 to 8 letters:
      -- the service closes the session on a malformed code
      for _, bad in ipairs { "en--US", "123", "1-2", "x", "en-", "en_US", "abcdefghi", "en-abcdefghi" } do
        raises("option 'transcription.language': expected a BCP-47 language code such as \"en-US\" "
          .. "(subtags of 1 to 8 letters or digits joined by '-', the first 2 to 8 letters) or a "
          .. "non-empty list of them, got '" .. bad .. "'", client.connect, client,
          { transcription = { language = bad } })
      end
      raises("option 'transcription.language': expected a BCP-47 language code such as \"en-US\" "
        .. "(subtags of 1 to 8 letters or digits joined by '-', the first 2 to 8 letters) at entry 2, got 5",
        client.connect, client, { transcription = { language = { "en-US", 5 } } })
      raises("at entry 3, got 'en--US'", client.connect, client,
        { transcription = { language = { "en-US", "fr", "en--US" } } })
      local session = assert(client:connect { transcription = { language = { "en", "es-419", "zh-Hant-TW",
        "en-a-bbb", "abcdefgh-12345678" } } })
      session:close()
    end)

    it("thinking, affective_dialog, proactive_audio, media_resolution, speech_language, vad.turn_coverage: "
      .. "a bad value raises, naming the option", function()
      local before = #helper.connections()
      local cases = {
        { { thinking = true }, "option 'thinking': expected table, got boolean" },
        { { thinking = { budget = -2 } }, "option 'thinking.budget': expected integer between -1 and 2147483647, got -2" },
        { { thinking = { budget = 1.5 } }, "option 'thinking.budget': expected integer between -1 and 2147483647, got 1.5" },
        { { thinking = { budget = 2 ^ 31 } }, "option 'thinking.budget': expected integer between -1 and 2147483647" },
        { { thinking = { level = "max" } }, "option 'thinking.level': expected one of minimal, low, medium, high, got 'max'" },
        { { thinking = { include_thoughts = "yes" } }, "option 'thinking.include_thoughts': expected boolean, got 'yes'" },
        { { thinking = { effort = 1 } }, "unknown option 'thinking.effort'" },
        { { thinking = { budget = 100, level = "low" } },
          "option 'thinking': give budget or level, not both (the service refuses the two together)" },
        { { affective_dialog = 1 }, "option 'affective_dialog': expected boolean, got 1" },
        { { proactive_audio = "on" }, "option 'proactive_audio': expected boolean, got 'on'" },
        { { media_resolution = "LOW" }, "option 'media_resolution': expected one of low, medium, high, got 'LOW'" },
        { { speech_language = "en--US" }, "option 'speech_language': expected a BCP-47 language code such as "
          .. "\"en-US\" (subtags of 1 to 8 letters or digits joined by '-', the first 2 to 8 letters), got 'en--US'" },
        { { speech_language = { "en-US" } }, "option 'speech_language': expected a BCP-47 language code" },
        { { vad = { turn_coverage = "all" } },
          "option 'vad.turn_coverage': expected one of activity, all_input, audio_activity_and_all_video, got 'all'" },
      }
      for _, c in ipairs(cases) do raises(c[2], client.connect, client, c[1]) end
      assert.equal(before, #helper.connections(), "a refused option opened a connection")
      -- an integral float budget is an integer
      local session = assert(client:connect { thinking = { budget = 2.0 ^ 10 } })
      assert.equal(1024, math.tointeger(session.options.thinking.budget))
      assert.equal(1024, helper.last_connection().setup.generationConfig.thinkingConfig.thinkingBudget)
      session:close()
    end)

    it("compression that keeps more tokens than it starts at raises (the server closed 1007)", function()
      raises("option 'compression': target_tokens (100) must be less than trigger_tokens (10)",
        client.connect, client, { compression = { trigger_tokens = 10, target_tokens = 100 } })
      raises("target_tokens (10) must be less than trigger_tokens (10)",
        client.connect, client, { compression = { trigger_tokens = 10, target_tokens = 10 } })
      local session = assert(client:connect { compression = { trigger_tokens = 10, target_tokens = 5 } })
      session:close()
    end)

    it("options inherited through a metatable are used, not skipped", function()
      local defaults = { output_modalities = { "text" }, instructions = "Be brief." }
      local session = assert(client:connect(setmetatable({ timeout = 10 }, { __index = defaults })))
      assert.same({ "text" }, session.options.output_modalities)
      assert.equal("Be brief.", session.options.instructions)
      assert(session:send_text "hello")
      local done = helper.receive_until(session, { "output_text_done", "output_audio_done" })
      assert.equal("output_text_done", done.type)
      session:close()
      raises("option 'voice': expected string, got 5", client.connect, client,
        setmetatable({}, { __index = { voice = 5 } }))
      -- text the setup carries must be UTF-8: the option is named, not the wire path
      raises("option 'instructions': not valid UTF-8", client.connect, client, { instructions = "\255" })
      raises("option 'voice': not valid UTF-8", client.connect, client, { voice = "a\237\160\128" })
      raises("option 'resumption.handle': not valid UTF-8", client.connect, client,
        { resumption = { handle = "h\192" } })
    end)

    it("a nested option table's inherited fields are used and checked, not skipped", function()
      local function inherits(t) return setmetatable({}, { __index = t }) end
      local session = assert(client:connect { output_modalities = { "text" },
        thinking = inherits { budget = 7, include_thoughts = true },
        compression = inherits { trigger_tokens = 5000 },
        vad = inherits { silence_duration = 0.5 },
        transcription = inherits { language = "de-DE" } })
      local setup = helper.client_messages("setup")[1]
      assert.same({ thinkingBudget = 7, includeThoughts = true }, setup.generationConfig.thinkingConfig)
      assert.equal("5000", setup.contextWindowCompression.triggerTokens)
      assert.equal(500, setup.realtimeInputConfig.automaticActivityDetection.silenceDurationMs)
      assert.same({ "de-DE" }, setup.inputAudioTranscription.languageCodes)
      session:close()
      helper.drain(session)
      raises("option 'thinking': give budget or level, not both", client.connect, client,
        { thinking = setmetatable({ level = "low" }, { __index = { budget = 7 } }) })
      raises("option 'vad.silence_duration': expected", client.connect, client,
        { vad = inherits { silence_duration = "long" } })
      raises("option 'resumption.handle': expected a non-empty string", client.connect, client,
        { resumption = inherits { handle = "" } })
      raises("option 'input_audio_format.rate'", client.connect, client,
        { input_audio_format = inherits { rate = 1 } })
      raises("option 'compression': target_tokens (100) must be less than trigger_tokens (10)",
        client.connect, client, { compression = inherits { trigger_tokens = 10, target_tokens = 100 } })
    end)

    it("strict option tables (an __index that raises for a missing key) connect; what they inherit counts", function()
      -- connect read every known option through __index, and a strict table's error
      -- ("no field ...") came out of the library instead of the session
      local function strict(t, defaults)
        return setmetatable(t, { __index = function(_, k)
          if defaults and defaults[k] ~= nil then return defaults[k] end
          error("no field " .. tostring(k), 2)
        end })
      end
      local session = assert(client:connect(strict({ output_modalities = { "text" },
        thinking = strict({ budget = 7 }, { include_thoughts = true }),
        compression = strict { trigger_tokens = 5000 },
        vad = strict({}, { silence_duration = 0.5 }),
        transcription = strict { language = "de-DE" },
        input_audio_format = strict { rate = 24000 },
      }, { instructions = "Be brief." })))
      local setup = helper.client_messages("setup")[1]
      assert.same({ thinkingBudget = 7, includeThoughts = true }, setup.generationConfig.thinkingConfig)
      assert.equal("5000", setup.contextWindowCompression.triggerTokens)
      assert.equal(500, setup.realtimeInputConfig.automaticActivityDetection.silenceDurationMs)
      assert.same({ "de-DE" }, setup.inputAudioTranscription.languageCodes)
      assert.equal("Be brief.", setup.systemInstruction.parts[1].text)
      assert.equal(24000, session.options.input_audio_format.rate)
      session:close()
      helper.drain(session)
      -- an inherited bad value is still named
      raises("option 'vad.silence_duration': expected", client.connect, client,
        { vad = strict({}, { silence_duration = "long" }) })
      raises("option 'resumption': expected true, false or { handle = \"...\" }", client.connect, client,
        { resumption = strict {} })
      -- and so are the client's options
      local realtime = require "realtime"
      local c2 = assert(realtime.gemini(strict({ model = helper.model },
        { api_key = helper.sim_key, base_url = helper.sim_http, ca_file = helper.sim_ca })))
      session = assert(c2:connect(strict { output_modalities = { "text" } }))
      session:close()
      helper.drain(session)
      c2:close()
    end)

    it("an empty voice raises (it went out as voiceName \"\"); empty instructions send nothing", function()
      raises("option 'voice': empty: name a voice (such as \"Puck\"), or leave the option out "
        .. "for the default voice", client.connect, client, { voice = "" })
      local session = assert(client:connect { output_modalities = { "text" }, instructions = "" })
      local setup = helper.client_messages("setup")[1]
      assert.is_nil(setup.systemInstruction)
      assert.is_nil(setup.generationConfig.speechConfig)
      session:close()
      helper.drain(session)
    end)

    it("output_modalities takes one modality (the server closed a setup with two)", function()
      raises([[option 'output_modalities': expected { "audio" } or { "text" } (one modality), got 2 entries]],
        client.connect, client, { output_modalities = { "audio", "text" } })
      raises("(one modality), got 0 entries", client.connect, client, { output_modalities = {} })
    end)

    it("errors point at the caller's line, also those the setup mapping raises", function()
      local line = debug.getinfo(1, "l").currentline
      local ok, err = pcall(function() local s = client:connect { timeout = -1 } return s end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 1) .. ": option 'timeout'", err)
      ok, err = pcall(function() local s = client:connect { vad = { silence_duration = "long" } } return s end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 4) .. ": option 'vad.silence_duration'", err)
      ok, err = pcall(function() local s = client:connect { voice = "\xff" } return s end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 7) .. ": option 'voice': not valid UTF%-8", err)
      ok, err = pcall(function() local s = client:connect { tools = { { name = "a b" } } } return s end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 10) .. ": tool 1: name must be", err)
    end)

    it("errors quoting a value the caller gave are printable UTF-8, whatever bytes it held", function()
      local err = raises("tool 'f': parameters.properties: property name '\\xff\\xfe' is not valid UTF-8",
        client.connect, client,
        { tools = { { name = "f", parameters = { type = "object", properties = { ["\xff\xfe"] = { type = "string" } } } } } })
      assert.truthy(utf8.len(err), err)
      err = raises("tool 1: unknown type 'x\\xff'", client.connect, client,
        { tools = { { type = "x\xff" } } })
      assert.truthy(utf8.len(err), err)
      raises("tool 1: field 'description': not valid UTF-8", client.connect, client,
        { tools = { { name = "f", description = "\xff\xfe" } } })
      local s = assert(client:connect { output_modalities = { "text" } })
      err = raises("send_image: mime type '\\xff\\xfe' is not image/*", s.send_image, s, "\1\2", "\xff\xfe")
      assert.truthy(utf8.len(err), err)
      err = raises("unknown message type 'a\\x0ab\\xc3'", s.send, s, { type = "a\nb\xc3" })
      assert.truthy(utf8.len(err), err)
      s:close()
    end)

    it("a bad value is quoted short and printable, NaN by name", function()
      local err = raises("option 'kind': expected one of", client.connect, client,
        { kind = string.rep("x", 1000000) .. "\0\xff" })
      assert.truthy(#err < 300, "message of " .. #err .. " bytes")
      assert.matches("%(1000002 bytes%)", err)
      err = raises("option 'voice': expected string, got table", client.connect, client, { voice = {} })
      err = raises("option 'kind': expected one of conversation, transcription, got 'a\\x00b\\xff'",
        client.connect, client, { kind = "a\0b\xff" })
      raises("option 'temperature': expected number between 0 and 2, got NaN", client.connect, client,
        { temperature = 0 / 0 })
    end)
  end)

  describe("send", function()
    local session
    before_each(function() session = assert(client:connect { output_modalities = { "text" } }) end)

    it("a part given without its list raises (it sent nothing and returned true)", function()
      raises("conversation_item_create: 'item.content' must be a list ({ x, y, ... }), but it has the key",
        session.send, session, { type = "conversation_item_create",
          item = { role = "user", content = { type = "text", text = "hello" } } })
      local c = { { type = "text", text = "a" } }
      c[3] = { type = "text", text = "c" }
      raises("'item.content' must be a list ({ x, y, ... }), but it has a hole before index 3",
        session.send, session, { type = "conversation_item_create", item = { role = "user", content = c } })
      raises("conversation_item_create: 'content' must be a list", session.send, session,
        { type = "conversation_item_create", item = { role = "assistant", content = c } })
    end)

    it("a part whose type is not a string says so, not that it has none", function()
      -- { type = 5 } was "part 1 has no type", in a turn, on the realtime path and in history
      for _, item in ipairs { { role = "user" }, { role = "assistant" } } do
        item.content = { { type = "text", text = "a" }, { type = 5, text = "b" } }
        raises("conversation_item_create: part 2: 'type' must be a string, got number", session.send, session,
          { type = "conversation_item_create", item = item })
      end
      raises("option 'history': item 1: part 1: 'type' must be a string, got boolean", client.connect, client,
        { history = { { role = "user", content = { { type = true, text = "b" } } } } })
      raises("conversation_item_create: part 1 has no type", session.send, session,
        { type = "conversation_item_create", item = { content = { { text = "b" } } } })
    end)

    it("errors the message mapping raises point at the caller's line", function()
      local line = debug.getinfo(1, "l").currentline
      local ok, err = pcall(function() local r = session:send { type = "raw", wire = 5 } return r end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 1) .. ": raw: 'wire' must be", err)
      ok, err = pcall(function() local r = session:send { type = "conversation_item_create",
        item = { role = "user", content = { { type = "text", text = "hi" } } }, turn_complete = "yes" } return r end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 4) .. ": conversation_item_create: "
        .. "'turn_complete' must be a boolean", err)
      -- through the Lua methods: one position, the caller's
      ok, err = pcall(function() local r = session:send_image("\1\2", "text/plain") return r end)
      assert.is_false(ok)
      assert.matches("^[^:]*bad_values_session_spec%.lua:" .. (line + 10) .. ": send_image: mime type", err)
    end)

    it("a misspelt field raises instead of being ignored", function()
      local function item(extra, part)
        local msg = { type = "conversation_item_create",
          item = { role = "user", content = { part or { type = "text", text = "hi" } } } }
        for k, v in pairs(extra) do msg[k] = v end
        return msg
      end
      raises("conversation_item_create: unknown field 'turn_completed' (did you mean 'turn_complete'?)",
        session.send, session, item { turn_completed = true })
      raises("conversation_item_create: part 1 (image): unknown field 'mimetype'", session.send, session,
        item({}, { type = "image", data = "\xff\xd8", mimetype = "image/png" }))
      raises("conversation_item_create: 'item' has an unknown field 'contents' (did you mean 'content'?)",
        session.send, session, { type = "conversation_item_create", item = { role = "user", contents = {} } })
      raises("conversation_item_create: 'item.text' is not a field", session.send, session,
        { type = "conversation_item_create", item = { role = "user", text = "hi" } })
      raises("input_audio_buffer_append: unknown field 'pcm' (did you mean 'audio'?)", session.send, session,
        { type = "input_audio_buffer_append", audio = "", pcm = "\0\0" })
      raises("input_audio_buffer_commit: unknown field 'audio'", session.send, session,
        { type = "input_audio_buffer_commit", audio = "\0\0" })
      raises("raw: unknown field 'json' (did you mean 'wire'?)", session.send, session, { type = "raw", json = "{}" })
      -- the wire's or another SDK's spelling names ours; a name close to none gets no guess
      raises("conversation_item_create: part 1 (image): unknown field 'mimeType' (did you mean 'mime'?)",
        session.send, session, item({}, { type = "image", data = "\xff\xd8", mimeType = "image/png" }))
      raises("conversation_item_create: unknown field 'turnComplete' (did you mean 'turn_complete'?)",
        session.send, session, item { turnComplete = true })
      raises("part 1 (function_result): unknown field 'id' (did you mean 'call_id'?)", session.send, session,
        item({}, { type = "function_result", id = "c1", result = {} }))
      raises("part 1 (function_result): unknown field 'output' (did you mean 'result'?)", session.send, session,
        item({}, { type = "function_result", call_id = "c1", output = {} }))
      local err = raises("input_audio_buffer_commit: unknown field 'audio'", session.send, session,
        { type = "input_audio_buffer_commit", audio = "\0\0" })
      assert.is_nil(err:find("did you mean", 1, true), err)
      -- nothing of it went out: the session answers the next question as the first
      assert(session:send_text "hello")
      local done = helper.receive_until(session, "output_text_done")
      assert.equal("You said: hello.", done.text)
    end)

    it("the Lua methods name a dot call, a bad mime, and raise at the caller's line", function()
      raises("calling 'send_text' on bad self (realtime.Session expected, got string; use session:send_text(...))",
        function() local ok = session.send_text "hi" return ok end)
      raises("calling 'receive' on bad self", function() local m = session.receive(1) return m end)
      -- try_receive and resumption_handle raised inside session.lua, about something else
      local line = debug.getinfo(1, "l").currentline
      raises("bad_values_session_spec.lua:" .. (line + 3) .. ": calling 'try_receive' on bad self "
        .. "(realtime.Session expected, got nil; use session:try_receive(...))",
        function() local m = session.try_receive() return m end)
      raises("bad_values_session_spec.lua:" .. (line + 6) .. ": calling 'resumption_handle' on bad self "
        .. "(realtime.Session expected, got nil; use session:resumption_handle(...))",
        function() local h = session.resumption_handle() return h end)
      raises("bad argument #2 to 'send_image' (string expected, got number)",
        function() local ok = session:send_image("\xff\xd8", 5) return ok end)
      raises("bad argument #1 to 'send_tool_result' (a call id expected, got an empty string)",
        function() local ok = session:send_tool_result("", {}) return ok end)
      raises("send_tool_result: option 'scheduling': expected one of interrupt, when_idle, silent, got 'INTERRUPT'",
        function() local ok = session:send_tool_result("x", {}, { scheduling = "INTERRUPT" }) return ok end)
      session:close()
      local line = debug.getinfo(1, "l").currentline
      local ok, err = pcall(function() local r = session:send_text "hi" return r end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 1) .. ": session closed", err)
      ok, err = pcall(function() local r = session:create_response() return r end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 4) .. ": session closed", err)
      line = debug.getinfo(1, "l").currentline
      ok, err = pcall(function() local m = session:receive(0 / 0) return m end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 1)
        .. ": bad argument #1 to 'receive' %(timeout is NaN%)", err)
      ok, err = pcall(function() local m = session:messages "5" return m end)
      assert.is_false(ok)
      assert.matches("bad_values_session_spec%.lua:" .. (line + 5)
        .. ": bad argument #1 to 'messages' %(number expected, got string%)", err)
    end)

    it("send_wire refuses a control character inside a string (the server closed on it)", function()
      raises("not JSON (a string holds the control character 0x00 at byte 28: write it as \\u0000)",
        function() local ok = session:send_wire '{"realtimeInput":{"text":"a\0b"}}' return ok end)
      raises("control character 0x0A", function()
        local ok = session:send_wire '{"realtimeInput":{"text":"a\nb"}}' return ok end)
      raises("raw: 'wire' must be the text of a JSON object: it is not JSON (a string holds", session.send,
        session, { type = "raw", wire = '{"realtimeInput":{"text":"a\tb"}}' })
      -- whitespace between tokens is JSON; so is an escaped control character
      assert(session:send_wire '{\n\t"realtimeInput": {"text": "hello\\u0000"}\r\n}')
      local done = helper.receive_until(session, "output_text_done")
      assert.equal("You said: hello\0.", done.text)
      assert.is_true(session:is_open())
    end)

    it("send_wire refuses a NUL byte after the object (all of it went out; the server closed 1007)", function()
      local before = #frames_with '"realtimeInput"'
      raises("bad argument #1 to 'send_wire' (expected the text of a JSON object; it is not JSON (Expected the "
        .. "end but found a NUL byte at character 34))",
        function() local ok = session:send_wire '{"realtimeInput":{"text":"a..."}}\0{"x":1}' return ok end)
      raises("raw: 'wire' must be the text of a JSON object: it is not JSON (Expected the end but found a NUL "
        .. "byte at character 34)", session.send, session, { type = "raw", wire = '{"realtimeInput":{"text":"c..."}}\0junk' })
      raises("Expected the end but found a NUL byte at character 8", session.send_wire, session, '{"x":1}\0')
      assert.equal(before, #frames_with '"realtimeInput"')
      -- the session is still open: the next send is answered
      assert(session:send_wire '{"realtimeInput":{"text":"hello"}}')
      assert.equal("You said: hello.", helper.receive_until(session, "output_text_done").text)
      assert.is_true(session:is_open())
    end)

    it("append_audio takes bytes, not a number's digits", function()
      raises("bad argument #1 to 'append_audio' (string expected, got number)", function()
        local ok = session:append_audio(1234)
        return ok
      end)
    end)

    it("a whole WAV file given as PCM raises on every path, pointing at wav.decode; nothing goes out", function()
      -- its 44-byte header would be played as a click, and its rate was never checked
      local wav = require("realtime").wav.encode(string.rep("\1\0", 800), 16000)
      local said = "a WAV file, header included: append its PCM (realtime.wav.decode or wav.read)"
      raises("bad argument #1 to 'append_audio' (" .. said, function()
        local ok = session:append_audio(wav)
        return ok
      end)
      raises(said, session.send, session, { type = "input_audio_buffer_append", audio = wav })
      raises("conversation_item_create: part 1: " .. said, session.send, session,
        { type = "conversation_item_create", item = { content = { { type = "audio", data = wav } } } })
      raises("item 1: part 1: " .. said, client.connect, client,
        { history = { { role = "user", content = { { type = "audio", data = wav } } } } })
      -- PCM that merely starts with the letters is audio
      assert.is_true(session:append_audio("RIFF" .. string.rep("\0", 40)))
      assert(session:send_text "ping")
      helper.receive_until(session, "response_done")
      assert.equal(0, #frames_with(helper.b64url(wav:sub(1, 12))))   -- "RIFF", its size, "WAVE"
      assert.equal(1, #frames_with(helper.b64url("RIFF" .. string.rep("\0", 8))))
    end)

    it("a second argument to append_audio or send_text raises: it was dropped without a word", function()
      -- append_audio(pcm, 24000) went out labelled with the session's rate (16 kHz)
      raises("bad argument #2 to 'append_audio' (append_audio takes the PCM alone: give its rate "
        .. "as connect's input_audio_format = { rate = N }, or resample it with realtime.resample)", function()
        local ok = session:append_audio("\0\0", 24000)
        return ok
      end)
      raises("bad argument #2 to 'send_text' (send_text takes the text alone: for other fields, "
        .. "send a conversation_item_create)", function()
        local ok = session:send_text("hi", { turn_complete = true })
        return ok
      end)
      -- an explicit nil is no argument
      assert.is_true(session:append_audio("\0\0", nil))
      assert(session:send_text("ping", nil))
      helper.receive_until(session, "response_done")
      assert.equal(1, #frames_with '"ping"')
      assert.equal(0, #frames_with '"hi"')
    end)

    it("a part's mime type or type spelled as other APIs do is named, not taken for 'type'", function()
      local function image(k)
        return { type = "conversation_item_create", item = { content = { { type = "image", data = "x", [k] = "image/png" } } } }
      end
      -- content_type and media_type said "did you mean 'type'?", the part's kind
      for _, k in ipairs { "content_type", "media_type", "mimetype" } do
        raises(("part 1 (image): unknown field '%s' (did you mean 'mime'?)"):format(k), session.send, session, image(k))
      end
      -- OpenAI's part types: the list of ours, on the realtime path as in a turn and in history
      raises("conversation_item_create: unknown content part type 'input_text' (expected text, image, audio "
        .. "or function_result)", session.send, session,
        { type = "conversation_item_create", item = { content = { { type = "input_text", text = "x" } } } })
      raises("conversation_item_create: unknown content part type 'input_image' (expected text, image or audio)",
        session.send, session, { type = "conversation_item_create", turn_complete = true,
          item = { content = { { type = "input_image", data = "x" } } } })
      raises("unknown content part type 'input_text' (expected text, image or audio)", client.connect, client,
        { history = { { role = "user", content = { { type = "input_text", text = "x" } } } } })
    end)

    it("a raw wire table must be a JSON object, and its errors name 'wire'", function()
      raises("raw: 'wire' must be a table that is a JSON object", session.send, session,
        { type = "raw", wire = { { clientContent = {} } } })
      raises("wire.a: invalid UTF-8", session.send, session, { type = "raw", wire = { a = "\xff" } })
    end)

    it("an empty image raises, in a send and in history", function()
      -- named as the caller called it, not as the item it sends
      assert.is_nil(raises("send_image: the image is empty (0 bytes)", session.send_image, session, "")
        :find("conversation_item_create"))
      raises("part 1: the image is empty (0 bytes)", session.send, session,
        { type = "conversation_item_create", item = { content = { { type = "image", data = "" } } } })
      raises("the image is empty (0 bytes)", client.connect, client,
        { history = { { role = "user", content = { { type = "image", data = "", mime = "image/png" } } } } })
    end)

    it("an empty audio part raises on the realtime path as in a turn and in history; append_audio '' sends nothing", function()
      local function audio_item(turn_complete)
        return { type = "conversation_item_create", turn_complete = turn_complete,
          item = { role = "user", content = { { type = "audio", data = "" } } } }
      end
      -- an item is a message: the caller would get true and never an answer
      raises("conversation_item_create: part 1: the audio is empty (0 bytes)", session.send, session, audio_item())
      raises("conversation_item_create: part 1: the audio is empty (0 bytes)", session.send, session, audio_item(true))
      raises("the audio is empty (0 bytes)", client.connect, client,
        { history = { { role = "user", content = { { type = "audio", data = "" } } } } })
      local vad_off = assert(client:connect { output_modalities = { "text" }, vad = { enabled = false } })
      raises("conversation_item_create: part 1: the audio is empty (0 bytes)", vad_off.send, vad_off, audio_item())
      -- the streaming call stays a no-op, as documented
      assert.is_true(vad_off:append_audio "")
      assert(vad_off:send_text "ping")
      helper.receive_until(vad_off, "response_done")
      assert.equal(0, #frames_with '"activityStart"')
      assert.equal(0, #frames_with '"audio"')
      vad_off:close()
      helper.drain(vad_off)
    end)

    it("an audio mime type with its rate given twice says so", function()
      raises("mime type 'audio/pcm;rate=16000;rate=8000': rate given twice", session.send, session,
        { type = "conversation_item_create", item = { content = { { type = "audio", data = "\0\0",
          mime = "audio/pcm;rate=16000;rate=8000" } } } })
    end)

    it("a NUL or control byte in a mime type raises on every path, naming the method or part", function()
      local before = #frames_with '"mimeType"'
      raises("send_image: mime type 'image/png\\x00evil' contains a NUL byte", session.send_image, session,
        "abc", "image/png\0evil")
      raises("send_image: mime type 'image/png\\x0aX: 1' contains a control character", session.send_image,
        session, "abc", "image/png\nX: 1")
      -- the NUL hid a second rate= from its check
      raises("conversation_item_create: part 1: mime type 'audio/pcm;rate=24000\\x00;rate=8000' contains a "
        .. "NUL byte", session.send, session, { type = "conversation_item_create",
          item = { content = { { type = "audio", data = "abcd", mime = "audio/pcm;rate=24000\0;rate=8000" } } } })
      raises("conversation_item_create: part 2: mime type 'audio/pcmu\\x00' contains a NUL byte", session.send,
        session, { type = "conversation_item_create", turn_complete = true, item = { content = {
          { type = "text", text = "hi" }, { type = "audio", data = "abc", mime = "audio/pcmu\0" } } } })
      raises("conversation_item_create: part 1: mime type 'image/png\\x09' contains a control character",
        session.send, session, { type = "conversation_item_create",
          item = { content = { { type = "image", data = "abc", mime = "image/png\t" } } } })
      local conns = #helper.connections()
      raises("option 'history': item 1: part 1: mime type 'image/png\\x00zzz' contains a NUL byte",
        client.connect, client, { history = { { role = "user",
          content = { { type = "image", data = "abc", mime = "image/png\0zzz" } } } } })
      assert.equal(conns, #helper.connections())
      -- nothing went out
      assert.equal(before, #frames_with '"mimeType"')
    end)

    it("a NUL byte in a name read from a fixed set raises, quoted: the name it starts with does not go out", function()
      local before = #helper.sim_get("/_sim/connections/" .. helper.connections()[#helper.connections()].id
        .. "/frames").frames
      raises("message type 'response_create\\x00x' contains a NUL byte", session.send, session,
        { type = "response_create\0x" })
      raises("conversation_item_create: role 'user\\x00x' contains a NUL byte", session.send, session,
        { type = "conversation_item_create", item = { role = "user\0x", content = { { type = "text", text = "hi" } } } })
      raises("conversation_item_create: part 1: type 'text\\x00x' contains a NUL byte", session.send, session,
        { type = "conversation_item_create", item = { role = "user", content = { { type = "text\0x", text = "hi" } } } })
      -- in a turn too
      raises("conversation_item_create: part 1: type 'text\\x00x' contains a NUL byte", session.send, session,
        { type = "conversation_item_create", turn_complete = true,
          item = { role = "user", content = { { type = "text\0x", text = "hi" } } } })
      raises("conversation_item_create: part 1: scheduling 'silent\\x00x' contains a NUL byte", session.send,
        session, { type = "conversation_item_create", item = { role = "user", content = {
          { type = "function_result", call_id = "c1", result = {}, scheduling = "silent\0x" } } } })
      raises("response_create: field 'type\\x00x' contains a NUL byte", session.send, session,
        { type = "response_create", ["type\0x"] = 1 })
      -- a field's name is compared whole as well: not taken for 'role'
      raises("conversation_item_create: 'item' has an unknown field 'role\\x00x'", session.send, session,
        { type = "conversation_item_create", item = { ["role\0x"] = "assistant", content = {} } })
      local conns = #helper.connections()
      raises("option 'history': item 1: role 'assistant\\x00x' contains a NUL byte", client.connect, client,
        { history = { { role = "assistant\0x", text = "hi" } } })
      raises("tool 'f': parameters: type 'object\\x00x' contains a NUL byte", client.connect, client,
        { tools = { { name = "f", description = "d", parameters = { type = "object\0x" } } } })
      raises("tool 'f': parameters: key 'type\\x00x' contains a NUL byte", client.connect, client,
        { tools = { { name = "f", description = "d", parameters = { ["type\0x"] = "object" } } } })
      assert.equal(conns, #helper.connections())
      -- nothing went out
      assert.equal(before, #helper.sim_get("/_sim/connections/" .. helper.connections()[conns].id
        .. "/frames").frames)
    end)

    it("a mime type's type/subtype goes out in lower case, which the service takes", function()
      assert(session:send_image("\xff\xd8\xff", "Image/PNG"))
      assert(session:send { type = "conversation_item_create",
        item = { content = { { type = "audio", data = "\0\0", mime = "Audio/PCM;rate=24000" } } } })
      -- a turn and history too
      assert(session:send { type = "conversation_item_create", turn_complete = false,
        item = { content = { { type = "image", data = "\xff\xd8\xff", mime = "IMAGE/JPEG; Q=\"A\"" } } } })
      assert(session:send_text "hello")
      -- the session stays open (the service closes it, 1007, on "Image/PNG")
      assert.equal("response_done", helper.receive_until(session, { "response_done", "closed" }).type)
      assert.equal(1, #frames_with '"mimeType":"image/png"')
      assert.equal(1, #frames_with '"mimeType":"audio/pcm;rate=24000"')
      assert.equal(1, #frames_with '"mimeType":"image/jpeg; Q=\\"A\\""')
      assert.equal(0, #frames_with "Image/PNG")
      local s2 = assert(client:connect { output_modalities = { "text" }, history = { { role = "user",
        content = { { type = "audio", data = "\0\0", mime = "AUDIO/pcm;rate=8000" } } } } })
      assert(s2:send_text "hello")
      assert.equal("response_done", helper.receive_until(s2, { "response_done", "closed" }).type)
      assert.equal(1, #frames_with '"mimeType":"audio/pcm;rate=8000"')
      s2:close()
      helper.drain(s2)
    end)

    it("send_tool_result names itself for an unknown call id", function()
      raises("send_tool_result: unknown call_id 'nope'", session.send_tool_result, session, "nope", {})
    end)

    it("adjacent text parts too big for the queue together fail as the one text they make", function()
      local session = assert(client:connect { output_modalities = { "text" }, max_queue_bytes = 65536 })
      local half = string.rep("a", 35000)
      local ok1, err1, code1 = session:send_text(half .. half)
      local ok2, err2, code2 = session:send { type = "conversation_item_create", item = { role = "user",
        content = { { type = "text", text = half }, { type = "text", text = half } } } }
      assert.is_nil(ok1)
      assert.is_nil(ok2)
      assert.equal("busy", code2)
      assert.equal(code1, code2)
      assert.equal(err1, err2)
      assert.matches("max_queue_bytes %(65536%)", err2)
      assert(session:send_text "ping")
      helper.receive_until(session, "response_done")
      assert.equal(0, #frames_with "aaaa")
      session:close()
    end)

    it("a message of several frames is queued whole or not at all: refused as busy, none of it goes", function()
      local session = assert(client:connect { output_modalities = { "text" }, max_queue_bytes = 65536 })
      local big = string.rep("a", 30000)
      -- three text parts split by images, a frame each: 90 KB together, more than the
      -- queue holds (adjacent texts would be joined into one frame)
      local img = { type = "image", data = "\1\2\3", mime = "image/png" }
      local ok, err, code = session:send { type = "conversation_item_create", item = { role = "user",
        content = { { type = "text", text = "first " .. big }, img, { type = "text", text = "second " .. big },
                    img, { type = "text", text = "third " .. big } } } }
      assert.is_nil(ok)
      assert.equal("busy", code)
      assert.matches("max_queue_bytes %(65536%)", err)
      assert(session:send_text "ping")
      helper.receive_until(session, "response_done")
      assert.equal(0, #frames_with "first aaa")
      assert.equal(0, #frames_with "second aaa")
      assert.equal(0, #frames_with '"video"')
      assert.equal(1, #frames_with '"ping"')
      session:close()
    end)
  end)

  describe("send_tool_result", function()
    local function open_call(extra)
      local opts = { output_modalities = { "text" },
        tools = { { name = "lookup", description = "find a thing", parameters = WEATHER } } }
      for k, v in pairs(extra or {}) do opts[k] = v end
      local session = assert(client:connect(opts))
      assert(session:send_text 'call lookup {"city":"Rome"}')
      local call = helper.receive_until(session, "response_output_item_done")
      return session, call.item.content[1].call_id, call.response_id
    end

    -- The toolResponse frames sent, once the response after response `rid` is done.
    local function tool_responses_after(session, rid)
      repeat
        local m = assert(session:receive(10))
      until m.type == "response_done" and m.response_id ~= rid
      return frames_with('"toolResponse"')
    end

    it("a value the encoder refuses names send_tool_result or send_image, with its path in the value", function()
      local session, id, rid = open_call()
      local cycle = {}
      cycle.self = cycle
      local err = raises("send_tool_result: response.v: cannot encode NaN", session.send_tool_result, session, id,
        { v = 0 / 0 })
      assert.is_nil(err:find("function_result", 1, true), err)
      raises("send_tool_result: response.v: cannot encode a function", session.send_tool_result, session, id,
        { v = print })
      raises("send_tool_result: response.self: a table that contains itself (a cycle)", session.send_tool_result,
        session, id, cycle)
      raises("send_tool_result: response.result: cannot encode a table with mixed or non-string keys",
        session.send_tool_result, session, id, { 1, 2, x = 3 })
      raises("send_tool_result: response.k\\xff: invalid UTF-8", session.send_tool_result, session, id,
        { ["k\xff"] = 1 })
      -- the mime type is quoted short, as its other checks do; not named as the wire field
      err = raises("send_image: mime type 'image/\\xff' is not valid UTF-8", session.send_image, session, "abc",
        "image/\xff")
      assert.is_nil(err:find("realtimeInput", 1, true), err)
      raises("conversation_item_create: part 1: mime type 'image/\\xff' is not valid UTF-8", session.send,
        session, { type = "conversation_item_create", item = { content = {
          { type = "image", data = "abc", mime = "image/\xff" } } } })
      -- the call is still answerable
      assert(session:send_tool_result(id, { v = 1 }))
      local sent = tool_responses_after(session, rid)
      assert.equal(1, #sent)
      assert.matches('"response":{"v":1}', sent[1], 1, true)
      session:close()
    end)

    it("a value the encoder refuses in a function_result part of send names the message and the part", function()
      -- it came out as "function_result.response.v: ...", naming neither the message
      -- nor which of the item's parts held the value
      local session, id = open_call()
      local function item(bad)
        return { type = "conversation_item_create", item = { role = "user", content = {
          { type = "function_result", call_id = id, result = { v = 1 } },
          { type = "function_result", call_id = "other", name = "lookup", result = bad } } } }
      end
      local err = raises("conversation_item_create: part 2 (function_result): response.v: cannot encode NaN",
        session.send, session, item { v = 0 / 0 })
      assert.is_nil(err:find("function_result.", 1, true), err)
      raises("conversation_item_create: part 2 (function_result): response.result: cannot encode a function",
        session.send, session, item(print))
      -- a table with a metatable is encoded once more, to see whether it is an object
      raises("conversation_item_create: part 2 (function_result): response.v: cannot encode NaN",
        session.send, session, item(setmetatable({ v = 0 / 0 }, { __tostring = tostring })))
      -- nothing of the refused item was kept: the call is answered once, as sent now
      assert(session:send_tool_result(id, { v = 2 }))
      session:close()
    end)

    it("refused as busy keeps the call answerable, and the retry's result replaces the first", function()
      local session, id, rid = open_call { max_queue_bytes = 65536 }
      local ok, err, code = session:send_tool_result(id, { found = string.rep("a", 100000) })
      assert.is_nil(ok)
      assert.equal("busy", code)
      assert.matches("max_queue_bytes", err)
      -- the call is still open: a smaller result goes out, alone
      assert(session:send_tool_result(id, { found = "small" }))
      local sent = tool_responses_after(session, rid)
      assert.equal(1, #sent)
      assert.matches('"found":"small"', sent[1])
      assert.equal(1, select(2, sent[1]:gsub('"id":', "")))
    end)

    it("two results buffered for one call go out as one answer, the latest", function()
      local session, id, rid = open_call()
      local function result(v)
        return { type = "conversation_item_create",
          item = { content = { { type = "function_result", call_id = id, result = { v = v } } } } }
      end
      assert(session:send(result "first"))
      assert(session:send(result "second"))
      assert(session:create_response())
      local sent = tool_responses_after(session, rid)
      assert.equal(1, #sent)
      assert.matches('"v":"second"', sent[1])
      assert.not_matches('"v":"first"', sent[1])
    end)
  end)
end)
