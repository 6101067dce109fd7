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
  end)
end
