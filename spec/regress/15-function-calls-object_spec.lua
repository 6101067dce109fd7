-- Issue 15: a toolCall whose functionCalls is not an array (an object here) is reported as
-- a "protocol" error instead of being dropped, so the caller knows the server waits for an
-- answer that will not come; the session goes on.
local helper = require "spec.helper"

describe("issue 15: functionCalls that is not an array", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  it("is a protocol error, and no handler runs", function()
    local ran = 0
    local client = h:client "calls_object"
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "echo", handler = function() ran = ran + 1; return {} end } },
    })
    local err = helper.receive_until(session, "error", 5)
    assert.equal("protocol", err.code)
    assert.matches("functionCalls", err.message)
    assert.matches("array", err.message)
    assert.equal(0, ran)
    -- the session goes on: the tiny model of the hostile server answers text
    assert(session:send_text "still there?")
    local reply = helper.receive_until(session, "output_text_done", 5)
    assert.equal("You said: still there?", reply.text)
    session:close()
    helper.drain(session)
    client:close()
  end)

  it("as a string, or with an entry that is not an object, is reported too (the mapping)", function()
    local core = require "realtime.core"
    local st = core.map_new { backend = "gemini" }
    local msgs = assert(core.map_server(st, '{"toolCall":{"functionCalls":"call me"}}'))
    -- the model waits for answers: the response it ended with the toolCall ends, incomplete
    -- the error comes inside that response (api.md, "Server data the library corrects")
    assert.equal(3, #msgs)
    assert.equal("response_created", msgs[1].type)
    assert.equal("error", msgs[2].type)
    assert.equal("protocol", msgs[2].code)
    assert.matches("functionCalls is a string", msgs[2].message)
    assert.equal(msgs[1].response_id, msgs[2].response_id)
    assert.equal("incomplete", msgs[3].status)
    msgs = assert(core.map_server(st, '{"toolCall":{"functionCalls":[7,{"id":"c2","name":"f","args":{}}]}}'))
    local types = {}
    for _, m in ipairs(msgs) do types[#types + 1] = m.type end
    -- the error about a call comes inside the response, as for a later call (api.md)
    assert.same({ "response_created", "error", "response_output_item_added", "response_output_item_done",
      "response_done" }, types)
    assert.matches("functionCalls%[1%] is a number", msgs[2].message)
    assert.equal(msgs[1].response_id, msgs[2].response_id)
    assert.equal("c2", msgs[4].item.content[1].call_id)
  end)
end)
