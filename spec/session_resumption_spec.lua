-- Session ids and saved resumption handles against the simulator: session.id,
-- connect{ resumption = { handle = ... } } (an app restart), session:resumption_handle(),
-- and a reconnect of such a session, whose setup must carry one handle, the newest.
local helper = require "spec.helper"

-- Receives until a session_resumption_update with a handle; returns the handle.
local function next_handle(session)
  while true do
    local msg = helper.receive_until(session, "session_resumption_update")
    if msg.handle then return msg.handle end
  end
end

describe("session.id", function()
  it("is Vertex's setupComplete.sessionId, the same after a resumption", function()
    local client = helper.vertex()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert.is_string(session.id)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", session.id)
    assert.equal(helper.open_connection().sessionId, session.id)
    local handle = next_handle(session)
    session:close()
    helper.drain(session)
    local again = assert(client:connect { output_modalities = { "text" }, resumption = { handle = handle } })
    assert.equal(session.id, again.id)
    again:close()
    helper.drain(again)
    client:close()
  end)

  it("is nil on the Gemini API, which sends none", function()
    local client = helper.gemini()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert.is_nil(session.id)
    session:close()
    helper.drain(session)
    client:close()
  end)
end)

for _, backend in ipairs { "gemini", "vertex" } do
  describe("a saved resumption handle (" .. backend .. ")", function()
    local client
    before_each(function() client = backend == "gemini" and helper.gemini() or helper.vertex() end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("resumption_handle() gives the latest; a new session started from it goes on with the conversation", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send_text "my favourite colour is green")
      helper.reply_text(session)
      local handle = next_handle(session)
      assert.equal(handle, session:resumption_handle())
      session:close()
      helper.drain(session)
      assert.equal(handle, session:resumption_handle(), "still readable after close, to be saved")

      local resumed = assert(client:connect { output_modalities = { "text" }, resumption = { handle = handle } })
      assert.equal(handle, helper.open_connection().setup.sessionResumption.handle)
      assert.equal(handle, resumed:resumption_handle(), "the saved handle is the latest known at first")
      assert(resumed:send_text "recap please")
      assert.matches("my favourite colour is green", helper.reply_text(resumed))
      assert.are_not.equal(handle, resumed:resumption_handle(), "the server gave a new one")
      resumed:close()
      helper.drain(resumed)
    end)

    it("a session started from a saved handle reconnects with the newest handle only", function()
      local first = assert(client:connect { output_modalities = { "text" } })
      assert(first:send_text "remember the number 7")
      helper.reply_text(first)
      local saved = next_handle(first)
      first:close()
      helper.drain(first)

      local session = assert(client:connect { output_modalities = { "text" }, resumption = { handle = saved } })
      local conn = helper.open_connection()
      assert(session:send_text "and the number 8")
      helper.reply_text(session)
      local newest = next_handle(session)
      assert.are_not.equal(saved, newest)
      helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
      local rec = helper.receive_until(session, "reconnected", 15)
      assert.equal(1, rec.attempt)
      local again = helper.open_connection()
      assert.are_not.equal(conn.id, again.id)
      -- the simulator parses the setup as JSON.parse does (the last of two keys wins):
      -- an old handle left behind would have rolled the session back
      assert.equal(newest, again.setup.sessionResumption.handle)
      assert(session:send_text "recap please")
      local text = helper.reply_text(session)
      assert.matches("remember the number 7", text)
      assert.matches("and the number 8", text)
      session:close()
      helper.drain(session)
    end)

    it("refuses a resumption table without a handle", function()
      assert.has_error(function() client:connect { resumption = {} } end,
        "option 'resumption': expected true, false or { handle = \"...\" }")
      assert.has_error(function() client:connect { resumption = { handle = "" } } end,
        "option 'handle': expected a non-empty string, got ''")
      assert.has_error(function() client:connect { resumption = { hande = "x" } } end, "unknown option 'hande'")
    end)
  end)
end
