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

    it("one frame per text part; empty text is skipped", function()
      local st = state(backend)
      cmp.assert_same(send(st, item(text("a"), text(""), text("b"))),
        { { realtimeInput = { text = "a" } }, { realtimeInput = { text = "b" } } })
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
      local f = send(st, item { type = "audio", data = string.rep("a", 32001) })
      assert.equal(math.ceil(32000 / 3) * 4, #f[2].realtimeInput.audio.data)
      assert.equal(4, #f[3].realtimeInput.audio.data)
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
          "conversation_item_create: part 1: unknown call_id 'nope'")
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

      it("refuse payloads nested deeper than 64 levels and invalid UTF-8", function()
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
        assert.has_error(function() send(st, item(result("c1", { name = "\xc3\x28" }))) end,
          "function_result.response.name: invalid UTF-8 in string")
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

    it("raw: a table is encoded, a string is validated and passed through", function()
      local st = state(backend)
      cmp.assert_same(send(st, { type = "raw", wire = { realtimeInput = { activityStart = core.json_array() } } }),
        { { realtimeInput = { activityStart = {} } } })
      local s = '{"clientContent": {"turnComplete": true}}'
      local _, frames = send(st, { type = "raw", wire = s })
      assert.equal(s, frames[1])
      assert.has_error(function() send(st, { type = "raw", wire = "{nope" }) end)
      assert.has_error(function() send(st, { type = "raw", wire = "[1]" }) end, "raw: 'wire' must be a JSON object")
      assert.has_error(function() send(st, { type = "raw", wire = '{"a":"\xff"}' }) end, "raw: 'wire' is not valid UTF-8")
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
        "conversation_item_create: unknown content part type 'video'")
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
