-- History on connect and explicit turns, against the simulator on both backends: the
-- history goes out as one clientContent right after setupComplete (Gemini: with
-- historyConfig, turnComplete true; Vertex: turnComplete false), the model does not
-- answer it, and assistant or system items are context, never a question.
local helper = require "spec.helper"
local realtime = require "realtime"

-- Nothing arrives but lifecycle messages for `seconds`: the model said nothing.
local function assert_silent(session, seconds)
  local deadline = realtime.now() + seconds
  while true do
    local left = deadline - realtime.now()
    if left <= 0 then return end
    local msg = session:receive(left)
    if msg then
      assert.is_true(msg.type == "session_resumption_update" or msg.type == "raw",
        "the model answered: " .. msg.type)
    end
  end
end

local HISTORY = {
  { role = "system", text = "The user is planning a trip." },
  { role = "user", text = "I want to go to Lisbon." },
  { role = "assistant", content = { { type = "text", text = "Lisbon is lovely in May." } } },
}

for _, backend in ipairs { "gemini", "vertex" } do
  describe("history (" .. backend .. ")", function()
    local client
    before_each(function() client = backend == "gemini" and helper.gemini() or helper.vertex() end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("goes out as one clientContent after setupComplete, and the model does not answer it", function()
      local session = assert(client:connect { output_modalities = { "text" }, history = HISTORY })
      assert_silent(session, 1.0)
      local frames = helper.client_messages()
      assert.is_table(frames[1].setup)
      if backend == "gemini" then
        assert.same({ initialHistoryInClientContent = true }, frames[1].setup.historyConfig)
      else
        assert.is_nil(frames[1].setup.historyConfig)
      end
      local cc = frames[2].clientContent
      assert.is_table(cc, "the history is the first message after setup")
      assert.equal(backend == "gemini", cc.turnComplete)
      assert.same({
        { role = "user", parts = { { text = "The user is planning a trip." } } },
        { role = "user", parts = { { text = "I want to go to Lisbon." } } },
        { role = "model", parts = { { text = "Lisbon is lovely in May." } } },
      }, cc.turns)
      -- the model knows it: the simulator's "history" answer lists every earlier turn
      assert(session:send_text "What is in the history?")
      local text = helper.reply_text(session)
      assert.matches("user: The user is planning a trip%.", text)
      assert.matches("user: I want to go to Lisbon%.", text)
      assert.matches("model: Lisbon is lovely in May%.", text)
      session:close()
      helper.drain(session)
    end)

    it("an empty history sends nothing", function()
      local session = assert(client:connect { output_modalities = { "text" }, history = {} })
      local frames = helper.client_messages()
      assert.equal(1, #frames)
      assert.is_nil(frames[1].setup.historyConfig)
      session:close()
      helper.drain(session)
    end)

    it("bad items raise before anything is sent", function()
      local before = #helper.connections()
      assert.has_error(function() client:connect { history = { { role = "bot", text = "x" } } } end,
        "option 'history': item 1: 'role' must be \"user\", \"assistant\" or \"system\"")
      assert.has_error(function() client:connect { history = { "x" } } end,
        "option 'history': item 1 is a string, expected a table")
      assert.equal(before, #helper.connections())
    end)
  end)

  describe("turns (" .. backend .. ")", function()
    local client
    before_each(function() client = backend == "gemini" and helper.gemini() or helper.vertex() end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("assistant and system items are context; a user turn with turn_complete is answered", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send { type = "conversation_item_create",
        item = { role = "assistant", content = { { type = "text", text = "I booked the hotel." } } } })
      assert(session:send { type = "conversation_item_create",
        item = { role = "system", content = { { type = "text", text = "The user likes trains." } } } })
      assert_silent(session, 0.8)
      assert(session:send { type = "conversation_item_create", turn_complete = true,
        item = { role = "user", content = { { type = "text", text = "Show me the history." } } } })
      local text = helper.reply_text(session)
      assert.matches("model: I booked the hotel%.", text)
      assert.matches("user: The user likes trains%.", text)
      local frames = helper.client_messages()
      local cc = {}
      for _, f in ipairs(frames) do if f.clientContent then cc[#cc + 1] = f.clientContent end end
      assert.equal(3, #cc)
      assert.is_false(cc[1].turnComplete)
      assert.equal("model", cc[1].turns[1].role)
      assert.is_false(cc[2].turnComplete)
      assert.equal("user", cc[2].turns[1].role)
      assert.is_true(cc[3].turnComplete)
      session:close()
      helper.drain(session)
    end)

    it("create_response() ends a turn left open by turn_complete = false, and the model answers", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send { type = "conversation_item_create", turn_complete = false,
        item = { role = "user", content = { { type = "text", text = "hello there" } } } })
      assert(session:create_response())
      assert.matches("hello there", helper.reply_text(session))
      local cc = helper.client_messages "clientContent"
      assert.equal(2, #cc)
      assert.is_false(cc[1].turnComplete)
      assert.same({ turnComplete = true }, cc[2])
      -- the turn is over: another create_response() sends nothing
      assert.is_true(session:create_response())
      assert.equal(2, #helper.client_messages "clientContent")
      session:close()
      helper.drain(session)
    end)

    it("an item without content ends the open turn: clientContent = { turnComplete = true }", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send { type = "conversation_item_create", turn_complete = false,
        item = { role = "user", content = { { type = "text", text = "hello there" } } } })
      assert(session:send { type = "conversation_item_create", turn_complete = true, item = { role = "user" } })
      assert.matches("hello there", helper.reply_text(session))
      local cc = helper.client_messages "clientContent"
      assert.equal(2, #cc)
      assert.is_false(cc[1].turnComplete)
      assert.same({ turnComplete = true }, cc[2])
      -- without turn_complete a user item without content sends nothing
      assert.is_true(session:send { type = "conversation_item_create", item = { role = "user" } })
      assert.equal(2, #helper.client_messages "clientContent")
      -- nor does one with turn_complete = false (a bare clientContent would cut the model off)
      assert.is_true(session:send { type = "conversation_item_create", turn_complete = false,
        item = { role = "user" } })
      assert.equal(2, #helper.client_messages "clientContent")
      session:close()
      helper.drain(session)
    end)
  end)
end
