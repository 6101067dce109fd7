-- Bad values in non-audio content (send_image, conversation items, history), on both
-- backends: each raises with a clear error before anything goes out, and a send that
-- raises leaves the session as it was.
local helper = require "spec.helper"

local raises = helper.raises

-- The realtimeInput bodies the latest simulator connection received.
local function realtime_inputs()
  return helper.client_messages("realtimeInput")
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("bad media values (" .. backend .. ")", function()
    local client
    before_each(function() client = helper[backend]() end)
    after_each(function() client:close() end)

    it("a mime type that is not type/subtype raises on every path, and the session stays open", function()
      local s = assert(client:connect { output_modalities = { "text" } })
      raises("send_image: mime type 'image/' has no subtype", s.send_image, s, "abc", "image/")
      raises("send_image: mime type 'image/png\"x' is not a media type", s.send_image, s, "abc", 'image/png"x')
      raises("send_image: mime type 'image/png x' is not a media type", s.send_image, s, "abc", "image/png x")
      raises("send_image: mime type 'image/png ' is not a media type", s.send_image, s, "abc", "image/png ")
      raises("is not a media type (type/subtype of at most 127 letters, digits and !#$&-^_.+ each",
        s.send_image, s, "abc", "image/" .. ("x"):rep(128))
      raises("conversation_item_create: part 2: mime type 'audio/' has no subtype", s.send, s,
        { type = "conversation_item_create", item = { content = { { type = "text", text = "hi" },
          { type = "audio", data = "ab", mime = "audio/" } } } })
      raises("conversation_item_create: part 1: mime type 'image//png' is not a media type", s.send, s,
        { type = "conversation_item_create", item = { role = "assistant",
          content = { { type = "image", data = "ab", mime = "image//png" } } } })
      -- what a media type may hold still goes out: parameters, the longest names, any case
      assert(s:send_image("abc", "image/" .. ("x"):rep(127)))
      assert(s:send_image("abc", "Image/PNG ; name=\"a b\""))
      assert(s:send_text "hello")
      local text = helper.reply_text(s, 10)
      assert.equal("You said: hello.", text)
      local mimes = {}
      for _, ri in ipairs(realtime_inputs()) do
        if ri.video then mimes[#mimes + 1] = ri.video.mimeType end
      end
      assert.same({ "image/" .. ("x"):rep(127), "image/png ; name=\"a b\"" }, mimes)
      s:close()
      raises("option 'history': item 1: part 1: mime type 'image/' has no subtype", client.connect, client,
        { history = { { role = "user", content = { { type = "image", data = "abc", mime = "image/" } } } } })
    end)

    it("a send that raises leaves the image's trigger as it was", function()
      local s = assert(client:connect { output_modalities = { "text" } })
      -- an image waits for its answer; an item refused at its second part changes nothing
      assert(s:send_image("abc", "image/png"))
      raises("conversation_item_create: part 2: mime type 'text/plain' is not image/*", s.send, s,
        { type = "conversation_item_create", item = { content = { { type = "text", text = "q" },
          { type = "image", data = "x", mime = "text/plain" } } } })
      assert(s:create_response())
      helper.collect_turn(s, 10)
      -- a refused item whose first image was fine arms no trigger for what never went out
      raises("conversation_item_create: part 2: the image is empty", s.send, s,
        { type = "conversation_item_create", item = { content = { { type = "image", data = "x" },
          { type = "image", data = "" } } } })
      assert(s:create_response())
      assert(s:send_text "end")
      assert.equal("You said: end.", (helper.reply_text(s, 10)))
      local sent = {}
      for _, ri in ipairs(realtime_inputs()) do
        sent[#sent + 1] = ri.video and "video " .. ri.video.mimeType or ri.text
      end
      assert.same({ "video image/png", " ", "end" }, sent)
      s:close()
    end)

    it("a tool result in an item that raises is not buffered", function()
      local s = assert(client:connect { output_modalities = { "text" },
        tools = { { name = "lookup", description = "find a thing" } } })
      assert(s:send_text 'call lookup {}')
      local call = helper.receive_until(s, "response_output_item_done")
      local id = call.item.content[1].call_id
      helper.receive_until(s, "response_done")
      raises("conversation_item_create: part 2: 'text' must be a string", s.send, s,
        { type = "conversation_item_create", item = { content = {
          { type = "function_result", call_id = id, result = { refused = true } }, { type = "text" } } } })
      assert(s:create_response())   -- nothing waits: nothing goes out
      assert(s:send_tool_result(id, { found = true }))
      helper.receive_until(s, "response_done")
      local responses = helper.client_messages("toolResponse")
      assert.equal(1, #responses)
      assert.equal(1, #responses[1].functionResponses)
      assert.same({ found = true }, responses[1].functionResponses[1].response)
      s:close()
    end)

    if backend == "vertex" then
      it("an item Vertex refuses as unsupported (will_continue) leaves the session as it was", function()
        local s = assert(client:connect { output_modalities = { "text" },
          tools = { { name = "lookup", description = "find a thing" } } })
        assert(s:send_text 'call lookup {}')
        local call = helper.receive_until(s, "response_output_item_done")
        local id = call.item.content[1].call_id
        helper.receive_until(s, "response_done")
        local function refused(first)
          local ok, msg, code = s:send { type = "conversation_item_create", item = { content = { first,
            { type = "function_result", call_id = id, result = { more = true }, will_continue = true } } } }
          assert.is_nil(ok)
          assert.equal("unsupported", code)
          assert.matches("will_continue is not supported by Vertex AI", msg)
        end
        -- a result mapped before the refused part is not left buffered
        refused { type = "function_result", call_id = id, result = { refused = true } }
        -- an image mapped before it arms no trigger for what never went out
        refused { type = "image", data = "x", mime = "image/png" }
        assert(s:create_response())   -- nothing waits: nothing goes out
        assert(s:send_tool_result(id, { found = true }))
        helper.receive_until(s, "response_done")
        local responses = helper.client_messages("toolResponse")
        assert.equal(1, #responses)
        assert.equal(1, #responses[1].functionResponses)
        assert.same({ found = true }, responses[1].functionResponses[1].response)
        for _, ri in ipairs(realtime_inputs()) do
          assert.is_nil(ri.video, "an image went out")
          assert.not_equal(" ", ri.text, "a trigger went out for an image never sent")
        end
        s:close()
      end)
    end

    it("an image larger than the send queue is busy, names the bound, and the session goes on", function()
      local s = assert(client:connect { output_modalities = { "text" }, max_queue_bytes = 64 * 1024 })
      local ok, err, code = s:send_image(("\1"):rep(48 * 1024 + 1), "image/png")
      assert.is_nil(ok)
      assert.equal("busy", code)
      -- its JSON text passed the bound while it was made: not made whole
      assert.equal("a send of more than 65536 bytes exceeds max_queue_bytes (65536)", err)
      assert(s:send_image("small", "image/png"))
      assert(s:send_text "what is it")
      assert.equal("You said: what is it.", (helper.reply_text(s, 10)))
      local sent = {}
      for _, ri in ipairs(realtime_inputs()) do
        sent[#sent + 1] = ri.video and ri.video.data or ri.text
      end
      assert.same({ "c21hbGw=", "what is it" }, sent)
      s:close()
    end)

    it("history in the shorthand { role, text } names its 'text', not a part the caller never wrote", function()
      local before = #helper.connections()
      raises("option 'history': item 2: 'text' must be a string, got number", client.connect, client,
        { history = { { text = "hi" }, { role = "assistant", text = 5 } } })
      raises("option 'history': item 1: 'text' is not valid UTF-8", client.connect, client,
        { history = { { role = "user", text = "caf\xe9" } } })
      assert.equal(before, #helper.connections())
    end)
  end)
end
