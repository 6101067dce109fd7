-- Neutral client messages -> wire frames (core.map_client), on both backends.
local core = require "realtime.core"
local cmp = require "golden.compare"

local function state(backend, opts)
  local st = core.map_new { backend = backend, project = "p", location = "l" }
  opts = opts or {}
  opts.model = opts.model or "m"
  core.map_setup(st, opts)
  return st
end

-- map_client, each frame decoded
local function send(st, msg)
  local frames = assert(core.map_client(st, msg))
  local out = {}
  for i, f in ipairs(frames) do
    assert.is_nil(f:find("\n"), "frames are compact")
    out[i] = assert(core.json_decode(f))
  end
  return out, frames
end

local function item(...)
  return { type = "conversation_item_create", item = { role = "user", content = { ... } } }
end
local function text(s) return { type = "text", text = s } end
local function result(id, r) return { type = "function_result", call_id = id, result = r } end
local create = { type = "response_create" }

-- The server announces calls through map_server; this feeds one toolCall frame.
local function announce(st, calls)
  local fc = {}
  for i, c in ipairs(calls) do fc[i] = { id = c[1], name = c[2], args = {} } end
  assert(core.map_server(st, core.json_encode { toolCall = { functionCalls = fc } }))
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("map_client (" .. backend .. ")", function()
    it("text goes out as realtimeInput.text; response_create after it sends nothing", function()
      local st = state(backend)
      cmp.assert_same(send(st, item(text("Hello"))), { { realtimeInput = { text = "Hello" } } })
      cmp.assert_same(send(st, create), {})
    end)

    it("adjacent text parts go out joined as one realtimeInput.text; empty text adds nothing", function()
      local st = state(backend)
      cmp.assert_same(send(st, item(text("a"), text(""), text(" b"))), { { realtimeInput = { text = "a b" } } })
      -- an image or audio part splits the run; the parts keep their order
      local img = { type = "image", data = "\1\2\3", mime = "image/png" }
      local f = send(st, item(text("What is "), text("this?"), img, text("And "), text("this?"),
        { type = "audio", data = "\0\0" }, text("Thanks.")))
      cmp.assert_same(f[1], { realtimeInput = { text = "What is this?" } })
      cmp.assert_same(f[2], { realtimeInput = { video = { data = "AQID", mimeType = "image/png" } } })
      cmp.assert_same(f[3], { realtimeInput = { text = "And this?" } })
      assert.is_table(f[4].realtimeInput.audio)
      cmp.assert_same(f[#f], { realtimeInput = { text = "Thanks." } })
      assert.equal(backend == "gemini" and 6 or 5, #f)
      -- a text run ends the item: no trigger is owed for the image before it
      assert.is_false(st.media_trigger)
      cmp.assert_same(send(st, create), {})
    end)

    it("seed bug 11: an image goes out as realtimeInput.video, the trigger as realtimeInput.text", function()
      local st = state(backend)
      cmp.assert_same(send(st, item { type = "image", data = "\1\2\3", mime = "image/png" }),
        { { realtimeInput = { video = { data = "AQID", mimeType = "image/png" } } } })
      assert.is_true(st.media_trigger)
      cmp.assert_same(send(st, create), { { realtimeInput = { text = " " } } })
      cmp.assert_same(send(st, create), {}, "the trigger is sent once")
    end)

    it("text after an image needs no trigger", function()
      local st = state(backend)
      send(st, item({ type = "image", data = "x", mime = "image/jpeg" }, text("What is this?")))
      cmp.assert_same(send(st, create), {})
    end)

    it("an image without mime defaults to image/jpeg; a non-image mime is refused", function()
      local st = state(backend)
      assert.equal("image/jpeg", send(st, item { type = "image", data = "x" })[1].realtimeInput.video.mimeType)
      assert.has_error(function() send(st, item { type = "image", data = "x", mime = "audio/pcm" }) end,
        "conversation_item_create: part 1: mime type 'audio/pcm' is not image/*")
      -- mime types are case-insensitive (RFC 2045); the service takes the type in lower case
      assert.equal("image/png", send(st, item { type = "image", data = "x", mime = "IMAGE/PNG" })[1].realtimeInput.video.mimeType)
    end)

    it("seed bug 10: item audio under manual VAD is framed by activityStart/activityEnd", function()
      local st = state(backend, { vad = { enabled = false } })
      local pcm = string.rep("\1\0", 20000) -- 40,000 bytes: two chunks
      local f = send(st, item { type = "audio", data = pcm })
      assert.equal(4, #f)
      cmp.assert_same(f[1], { realtimeInput = { activityStart = {} } })
      assert.equal("audio/pcm;rate=16000", f[2].realtimeInput.audio.mimeType)
      assert.equal(math.ceil(32000 / 3) * 4, #f[2].realtimeInput.audio.data)
      assert.equal(math.ceil(8000 / 3) * 4, #f[3].realtimeInput.audio.data)
      cmp.assert_same(f[4], { realtimeInput = { activityEnd = {} } })
      assert.is_false(st.media_trigger)
    end)

    it("item audio is split at 32,000 bytes of PCM", function()
      local st = state(backend, { vad = { enabled = false } })
      local f = send(st, item { type = "audio", data = string.rep("a", 32002) })
      assert.equal(math.ceil(32000 / 3) * 4, #f[2].realtimeInput.audio.data)
      assert.equal(4, #f[3].realtimeInput.audio.data)
      assert.has_error(function() send(st, item { type = "audio", data = string.rep("a", 32001) }) end,
        "conversation_item_create: part 1: 16-bit PCM must have an even number of bytes (got 32001)")
    end)

    it("seed bug 8: item audio under server VAD ends with audioStreamEnd on Gemini only", function()
      local st = state(backend)
      local f = send(st, item { type = "audio", data = "\0\0", mime = "audio/pcm;rate=24000" })
      assert.equal("audio/pcm;rate=24000", f[1].realtimeInput.audio.mimeType)
      if backend == "gemini" then
        assert.equal(2, #f)
        cmp.assert_same(f[2], { realtimeInput = { audioStreamEnd = true } })
      else
        assert.equal(1, #f)
      end
    end)

    it("item audio: only audio/pcm is 16-bit PCM (not audio/pcmu or pcma); one rate only", function()
      local st = state(backend, { vad = { enabled = false } })
      local f = send(st, item { type = "audio", data = "\1\2\3", mime = "audio/pcmu" })
      assert.equal("audio/pcmu", f[2].realtimeInput.audio.mimeType)
      send(st, item { type = "audio", data = "\1\2\3", mime = "audio/PCMA;rate=8000" })
      assert.has_error(function() send(st, item { type = "audio", data = "\0\0", mime = "audio/pcm;rate=44100;rate=1" }) end,
        "conversation_item_create: part 1: mime type 'audio/pcm;rate=44100;rate=1': rate given twice")
    end)

    it("seed bug 14: item audio defaults to the session's rate-carrying mime type", function()
      local st = state(backend, { input_audio_format = { type = "audio/pcm", rate = 24000 } })
      assert.equal("audio/pcm;rate=24000", send(st, item { type = "audio", data = "\0\0" })[1].realtimeInput.audio.mimeType)
    end)

    describe("function results", function()
      it("are buffered and flushed as one toolResponse, and nothing after it", function()
        local st = state(backend)
        announce(st, { { "c1", "get_weather" }, { "c2", "lookup" } })
        cmp.assert_same(send(st, item(result("c1", { forecast = "rain", celsius = 12 }))), {})
        cmp.assert_same(send(st, item(result("c2", "done"))), {})
        cmp.assert_same(send(st, create), { { toolResponse = { functionResponses = {
          { id = "c1", name = "get_weather", response = { forecast = "rain", celsius = 12 } },
          { id = "c2", name = "lookup", response = { result = "done" } },
        } } } })
        -- never a stray turnComplete or trigger afterwards
        cmp.assert_same(send(st, create), {})
        assert.equal(0, #st.pending)
      end)

      it("keep user keys verbatim and wrap lists and scalars", function()
        local st = state(backend)
        announce(st, { { "c1", "f" }, { "c2", "g" }, { "c3", "h" } })
        send(st, item(result("c1", { snake_case = 1, camelCase = { Inner_Key = true } }),
          result("c2", { 1, 2 }), result("c3", nil)))
        local r = send(st, create)[1].toolResponse.functionResponses
        cmp.assert_same(r[1].response, { snake_case = 1, camelCase = { Inner_Key = true } })
        cmp.assert_same(r[2].response, { result = { 1, 2 } })
        cmp.assert_same(r[3].response, {})
      end)

      it("seed bug 13: a result for an unknown call id is refused, not sent with name \"\"", function()
        local st = state(backend)
        assert.has_error(function() send(st, item(result("nope", 1))) end,
          "conversation_item_create: part 1: unknown call_id 'nope' (no call of this session has it, or its answer was sent already)")
        -- an explicit name is enough
        send(st, item { type = "function_result", call_id = "x", name = "f", result = 1 })
        assert.equal("f", send(st, create)[1].toolResponse.functionResponses[1].name)
      end)

      it("seed bug 13: a call without a server id gets a local id that never goes on the wire", function()
        local st = state(backend)
        assert(core.map_server(st, '{"toolCall":{"functionCalls":[{"name":"f","args":{}}]}}'))
        send(st, item(result("call_1", { ok = true })))
        cmp.assert_same(send(st, create)[1].toolResponse.functionResponses,
          { { name = "f", response = { ok = true } } })
      end)

      it("results for calls the server cancelled are dropped", function()
        local st = state(backend)
        announce(st, { { "c1", "f" }, { "c2", "g" } })
        send(st, item(result("c1", 1)))
        assert(core.map_server(st, '{"toolCallCancellation":{"ids":["c1","c2"]}}'))
        send(st, item(result("c2", 2)))
        cmp.assert_same(send(st, create), {})
      end)

      it("withdrawn calls leave the answerable ones, and only the latest 256 are remembered", function()
        local st = state(backend)
        local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
        for i = 1, 1000 do
          announce(st, { { "w" .. i, "f" } })
          assert(core.map_server(st, '{"toolCallCancellation":{"ids":["w' .. i .. '"]}}'))
        end
        assert.equal(0, count(st.calls))
        assert.equal(256, count(st.cancelled_ids))
        assert.is_true(st.cancelled_ids.w1000 and not st.cancelled_ids.w744)
        -- a late result for a recent one is still dropped quietly
        send(st, item(result("w1000", 1)))
        cmp.assert_same(send(st, create), {})
      end)

      it("refuse payloads nested deeper than 64 levels, and keys that are not UTF-8", function()
        local st = state(backend)
        announce(st, { { "c1", "f" } })
        local deep = {}
        local t = deep
        for _ = 1, 64 do t.x = {}; t = t.x end
        assert.has_error(function() send(st, item(result("c1", deep))) end)
        local ok = {}
        t = ok
        for _ = 1, 63 do t.x = {}; t = t.x end
        send(st, item(result("c1", ok)))
        assert.has_error(function() send(st, item(result("c1", { ["\xc3\x28"] = 1 }))) end)
      end)

      it("bytes (strings that are not UTF-8) go out in base64, at any depth; the caller's table is untouched", function()
        local st = state(backend)
        announce(st, { { "c1", "f" }, { "c2", "g" } })
        local nested = { name = "ok", blob = "\xff\x00\x01", list = core.json_array { "a", "\xc3\x28" },
                         empty = core.json_array() }
        send(st, item(result("c1", "\xff\xfe"), result("c2", nested)))
        local r = send(st, create)[1].toolResponse.functionResponses
        cmp.assert_same(r[1].response, { result = "//4=" })
        cmp.assert_same(r[2].response, { name = "ok", blob = "/wAB", list = { "a", "wyg=" }, empty = {} })
        assert.equal("\xff\x00\x01", nested.blob)
        assert.equal("\xc3\x28", nested.list[2])
      end)

      it("scheduling and will_continue go out with the result", function()
        local st = state(backend)
        announce(st, { { "c1", "f" }, { "c2", "g" } })
        local ok, msg, code = core.map_client(st, item { type = "function_result", call_id = "c1", result = 1,
          scheduling = "when_idle", will_continue = true })
        if backend == "vertex" then
          assert.is_nil(ok)
          assert.equal("will_continue is not supported by Vertex AI (its function responses have no willContinue)", msg)
          assert.equal("unsupported", code)
          assert.equal(0, #st.pending, "nothing is buffered")
          -- false asks for what Vertex does anyway (the result ends the call): sent as nothing
          send(st, item { type = "function_result", call_id = "c1", result = 1, scheduling = "silent",
            will_continue = false })
          cmp.assert_same(send(st, create)[1].toolResponse.functionResponses,
            { { id = "c1", name = "f", response = { result = 1 }, scheduling = "SILENT" } })
          assert.has_error(function() send(st, item(result("c1", 2))) end)
          return
        end
        assert.is_table(ok)
        send(st, item { type = "function_result", call_id = "c2", result = 2, scheduling = "interrupt",
          will_continue = false })
        cmp.assert_same(send(st, create)[1].toolResponse.functionResponses, {
          { id = "c1", name = "f", response = { result = 1 }, scheduling = "WHEN_IDLE", willContinue = true },
          { id = "c2", name = "g", response = { result = 2 }, scheduling = "INTERRUPT", willContinue = false },
        })
        -- the call that said more will follow stays answerable; the other is done
        send(st, item { type = "function_result", call_id = "c1", result = 3, will_continue = false })
        assert.has_error(function() send(st, item(result("c2", 4))) end,
          "conversation_item_create: part 1: unknown call_id 'c2' (no call of this session has it, or its answer was sent already)")
        cmp.assert_same(send(st, create)[1].toolResponse.functionResponses,
          { { id = "c1", name = "f", response = { result = 3 }, willContinue = false } })
        assert.has_error(function() send(st, item(result("c1", 5))) end,
          "conversation_item_create: part 1: unknown call_id 'c1' (no call of this session has it, or its answer was sent already)")
      end)

      it("a bad scheduling or will_continue raises", function()
        local st = state(backend)
        announce(st, { { "c1", "f" } })
        assert.has_error(function() send(st, item { type = "function_result", call_id = "c1", scheduling = "later" }) end,
          "conversation_item_create: part 1: 'scheduling' must be \"interrupt\", \"when_idle\" or \"silent\"")
        assert.has_error(function() send(st, item { type = "function_result", call_id = "c1", will_continue = 1 }) end,
          "conversation_item_create: part 1: 'will_continue' must be a boolean")
      end)

      it("the results flush clears a pending media trigger", function()
        local st = state(backend)
        announce(st, { { "c1", "f" } })
        send(st, item { type = "image", data = "x", mime = "image/png" })
        send(st, item(result("c1", 1)))
        assert.equal(1, #send(st, create))
        cmp.assert_same(send(st, create), {})
      end)
    end)

    describe("turns (clientContent)", function()
      local function turn(role, turn_complete, ...)
        return { type = "conversation_item_create", turn_complete = turn_complete,
                 item = { role = role, content = { ... } } }
      end

      it("turn_complete sends the item as one clientContent turn, whatever the role", function()
        local st = state(backend)
        cmp.assert_same(send(st, turn("user", true, text("Hi"), text("there"))), { { clientContent = {
          turns = { { role = "user", parts = { { text = "Hi" }, { text = "there" } } } }, turnComplete = true } } })
        cmp.assert_same(send(st, turn("assistant", false, text("Hello!"))), { { clientContent = {
          turns = { { role = "model", parts = { { text = "Hello!" } } } }, turnComplete = false } } })
        cmp.assert_same(send(st, turn("system", true, text("Be brief."))), { { clientContent = {
          turns = { { role = "user", parts = { { text = "Be brief." } } } }, turnComplete = true } } })
      end)

      it("assistant and system items without turn_complete are context: clientContent, turnComplete false", function()
        local st = state(backend)
        cmp.assert_same(send(st, turn("assistant", nil, text("I said this."))), { { clientContent = {
          turns = { { role = "model", parts = { { text = "I said this." } } } }, turnComplete = false } } })
        cmp.assert_same(send(st, turn("system", nil, text("Note."))), { { clientContent = {
          turns = { { role = "user", parts = { { text = "Note." } } } }, turnComplete = false } } })
        -- a user item without turn_complete keeps the realtime path
        cmp.assert_same(send(st, turn("user", nil, text("Q"))), { { realtimeInput = { text = "Q" } } })
        -- no content, no turn to end: nothing (a bare clientContent cut the model off)
        cmp.assert_same(send(st, turn("assistant", nil, text(""))), {})
        cmp.assert_same(send(st, turn("system", false)), {})
      end)

      it("images and audio are inlineData parts; an empty turn is a bare turnComplete", function()
        local st = state(backend, { input_audio_format = { type = "audio/pcm", rate = 24000 } })
        cmp.assert_same(send(st, turn("user", true, { type = "image", data = "\1\2\3", mime = "image/png" },
          { type = "audio", data = "\0\0" })), { { clientContent = { turns = { { role = "user", parts = {
            { inlineData = { mimeType = "image/png", data = "AQID" } },
            { inlineData = { mimeType = "audio/pcm;rate=24000", data = "AAA=" } } } } }, turnComplete = true } } })
        cmp.assert_same(send(st, turn("user", true)), { { clientContent = { turnComplete = true } } })
        cmp.assert_same(send(st, turn("user", true, text(""))), { { clientContent = { turnComplete = true } } })
      end)

      it("a complete turn answers the media before it: no trigger is left armed", function()
        local st = state(backend)
        send(st, item { type = "image", data = "x", mime = "image/png" })
        send(st, turn("user", true, text("What is this?")))
        cmp.assert_same(send(st, create), {})
      end)

      it("refuses function results in a turn, bad roles and a bad turn_complete", function()
        local st = state(backend)
        announce(st, { { "c1", "f" } })
        assert.has_error(function() send(st, turn("user", true, result("c1", 1))) end,
          "conversation_item_create: part 1: a function_result answers a call (send it without "
          .. "turn_complete, as a user item); it cannot be part of a turn")
        assert.has_error(function() send(st, turn("tool", nil, text("x"))) end,
          "conversation_item_create: 'role' must be \"user\", \"assistant\" or \"system\"")
        assert.has_error(function() send(st, turn("user", "yes", text("x"))) end,
          "conversation_item_create: 'turn_complete' must be a boolean")
      end)
    end)

    describe("history (map_history)", function()
      it("one clientContent with every turn; turnComplete true on Gemini, false on Vertex", function()
        local st = state(backend)
        local json = core.map_history(st, {
          { role = "system", text = "Earlier the user asked about Paris." },
          { role = "user", content = { text("What is the weather?") } },
          { role = "assistant", text = "Sunny." },
          { role = "user", text = "" },
        })
        cmp.assert_same(core.json_decode(json), { clientContent = { turns = {
          { role = "user", parts = { { text = "Earlier the user asked about Paris." } } },
          { role = "user", parts = { { text = "What is the weather?" } } },
          { role = "model", parts = { { text = "Sunny." } } },
        }, turnComplete = backend == "gemini" } })
        assert.is_nil(json:find("\n"), "compact")
      end)

      it("nothing to send when no item has content", function()
        assert.is_nil(core.map_history(state(backend), {}))
        assert.is_nil(core.map_history(state(backend), { { role = "user", text = "" } }))
      end)

      it("refuses bad items, naming the item", function()
        local st = state(backend)
        assert.has_error(function() core.map_history(st, { "hi" }) end, "option 'history': item 1 is not a table")
        assert.has_error(function() core.map_history(st, { { role = "user" } }) end,
          "option 'history': item 1: expected 'text' or 'content' (a list of parts)")
        assert.has_error(function() core.map_history(st, { { role = "user", text = "a", content = {} } }) end,
          "option 'history': item 1: give either 'text' or 'content'")
        assert.has_error(function() core.map_history(st, { { text = "a" }, { role = "bot", text = "b" } }) end,
          "option 'history': item 2: 'role' must be \"user\", \"assistant\" or \"system\"")
        assert.has_error(function() core.map_history(st, { { role = "user", text = "\xff" } }) end,
          "option 'history': item 1: 'text' is not valid UTF-8")
      end)
    end)

    it("response_create overrides are reported as unsupported, not dropped", function()
      local ok, msg, code = core.map_client(state(backend), { type = "response_create", instructions = "Shout." })
      assert.is_nil(ok)
      assert.equal("response_create overrides ('instructions') are not supported by the Live API: "
        .. "the setup fixes how the model answers", msg)
      assert.equal("unsupported", code)
    end)

    it("raw: a table is encoded, a string is validated and passed through", function()
      local st = state(backend)
      cmp.assert_same(send(st, { type = "raw", wire = { realtimeInput = { activityStart = core.json_array() } } }),
        { { realtimeInput = { activityStart = {} } } })
      local s = '{"clientContent": {"turnComplete": true}}'
      local _, frames = send(st, { type = "raw", wire = s })
      assert.equal(s, frames[1])
      assert.has_error(function() send(st, { type = "raw", wire = "{nope" }) end)
      assert.has_error(function() send(st, { type = "raw", wire = "[1]" }) end,
        "raw: 'wire' must be the text of a JSON object: it is a JSON array, not an object")
      assert.has_error(function() send(st, { type = "raw", wire = "[]" }) end,
        "raw: 'wire' must be the text of a JSON object: it is a JSON array, not an object")
      assert.has_error(function() send(st, { type = "raw", wire = '{"a":"\xff"}' }) end,
        "raw: 'wire' must be the text of a JSON object: it is not valid UTF-8")
    end)

    it("seed bug 16: session_update is reported as unsupported, not ignored", function()
      local ok, msg, code = core.map_client(state(backend), { type = "session_update", options = {} })
      assert.is_nil(ok)
      assert.equal("session_update is not supported by the Live API", msg)
      assert.equal("unsupported", code)
    end)

    it("audio buffer messages belong to the core; unknown types raise", function()
      local st = state(backend)
      assert.has_error(function() core.map_client(st, { type = "input_audio_buffer_append", audio = "x" }) end,
        "BUG: audio goes through the core")
      assert.has_error(function() core.map_client(st, { type = "input_audio_buffer_commit" }) end,
        "BUG: audio goes through the core")
      assert.has_error(function() core.map_client(st, { type = "teleport" }) end, "unknown message type 'teleport'")
      assert.has_error(function() send(st, item { type = "video" }) end,
        "conversation_item_create: unknown content part type 'video' (expected text, image, audio or function_result)")
    end)

    it("text with invalid UTF-8 is refused", function()
      assert.has_error(function() send(state(backend), item(text("\xff"))) end,
        "conversation_item_create: part 1: text is not valid UTF-8")
    end)
  end)
end

describe("seed bug 19: buffered results are kept in the state, not dropped", function()
  it("pending results survive until response_create (the state outlives a reconnect)", function()
    local st = state("gemini")
    announce(st, { { "c1", "f" } })
    send(st, item(result("c1", 1)))
    assert.equal(1, #st.pending)
    assert.equal(1, #send(st, create))
  end)
end)

-- seed bug 17 (no timeout on setupComplete) belongs to the binding: see
-- spec/session_connect_spec.lua, "times out waiting for setupComplete".
