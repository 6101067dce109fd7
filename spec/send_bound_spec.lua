-- A send's JSON text is bounded by max_queue_bytes while it is made: a value larger than
-- the whole send queue (a huge string, or a table that shares its subtables, whose text
-- doubles with each level) is refused as "busy" as soon as its text passes the bound,
-- with nothing of it sent or kept, and the session goes on.
local helper = require "spec.helper"

local BOUND = 65536
local OVERRUN = "a send of more than 65536 bytes exceeds max_queue_bytes (65536)"

-- A table of 2^levels leaves with no cycle: each level holds the one below twice.
local function shared(levels)
  local t = "x"
  for _ = 1, levels do t = { a = t, b = t } end
  return t
end

-- Asserts the return of a send the bound refused: nil, OVERRUN, "busy".
local function refused(ok, err, code)
  assert.is_nil(ok)
  assert.equal(OVERRUN, err)
  assert.equal("busy", code)
end

-- The client messages of the newest connection that carry key.
local function sent(key) return #helper.client_messages(key, helper.open_connection()) end

-- The function call's part of the next turn (the simulator calls t on "call t {}").
local function call_of(session)
  local msgs = helper.collect_turn(session)
  for _, m in ipairs(msgs) do
    if m.type == "response_output_item_done" and m.item.content and m.item.content[1].type == "function_call" then
      return m.item.content[1]
    end
  end
  error("no function call in the turn")
end

describe("a send larger than max_queue_bytes", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  local function connect(extra)
    local opts = { output_modalities = { "text" }, max_queue_bytes = BOUND }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(client:connect(opts))
  end

  -- A session with a tool t that has no handler, and the call the simulator made of it.
  local function called()
    local session = connect { tools = { { name = "t", description = "d" } } }
    assert(session:send_text "call t {}")
    return session, call_of(session)
  end

  it("is busy as soon as a raw wire table's text passes the bound (2^20 shared leaves)", function()
    local session = connect()
    refused(session:send { type = "raw", wire = { clientContent = shared(20) } })
    assert.equal(0, sent "clientContent")
    assert.is_string(helper.text_turn(session, "Hello?"))   -- the session goes on
    session:close()
    helper.drain(session)
  end)

  it("is busy for a text longer than the bound, before it is encoded whole", function()
    local session = connect()
    refused(session:send_text(("x"):rep(4 * BOUND)))
    assert.equal(1, sent "setup")
    assert.equal(0, sent "realtimeInput")
    assert.is_string(helper.text_turn(session, "Hello?"))
    session:close()
    helper.drain(session)
  end)

  it("leaves a send_tool_result unbuffered and its call answerable", function()
    local session, call = called()
    refused(session:send_tool_result(call.call_id, shared(17)))
    -- nothing of it was kept for create_response()
    assert(session:create_response())
    assert.equal(0, sent "toolResponse")
    assert(session:send_tool_result(call.call_id, { small = 1 }))
    assert.is_string(helper.reply_text(session))
    local responses = helper.client_messages("toolResponse", helper.open_connection())
    assert.equal(1, #responses)
    assert.same({ small = 1 }, responses[1].functionResponses[1].response)
    session:close()
    helper.drain(session)
  end)

  it("copies a shared result's tables once each before it refuses it", function()
    local session, call = called()
    -- each table the send copies gets the metatable too, and so a finalizer to count
    local finalized = 0
    local mt = { __gc = function() finalized = finalized + 1 end }
    local result = "x"
    for _ = 1, 17 do result = setmetatable({ a = result, b = result }, mt) end
    refused(session:send_tool_result(call.call_id, result))
    result = nil   -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    -- the 17 tables and one copy of each, not one copy per path (2^18 - 2)
    assert.equal(2 * 17, finalized)
    session:close()
    helper.drain(session)
  end)

  it("is busy too when the bound is passed inside a metamethod of the value (__pairs)", function()
    local core = require "realtime.core"
    local session = connect()
    -- an encode of the library's own, run by the metamethod under the send's bound
    local proxy = setmetatable({}, { __pairs = function()
      core.map_history(core.map_new { backend = "gemini" },
        { { role = "user", content = { { type = "text", text = ("x"):rep(4 * BOUND) } } } })
      return next, { a = 1 }, nil
    end })
    refused(session:send { type = "raw", wire = { clientContent = proxy } })
    assert.equal(0, sent "clientContent")
    session:close()
    helper.drain(session)
  end)

  it("from a handler answers the model with an error and tells the caller 'busy'", function()
    local session = connect { tools = { { name = "t", description = "d", handler = function() return shared(17) end } } }
    assert(session:send_text "call t {}")
    local err
    for msg in session:messages(2) do
      if msg.type == "error" then err = msg end
      if msg.type == "response_done" and err then break end
    end
    assert.is_table(err, "an error message")
    assert.equal("busy", err.code)
    assert.matches("^tool response not sent: " .. OVERRUN:gsub("%p", "%%%0")
      .. ": the result of tool 't' %(call '[^']+'%) can never be queued; the model got an error result instead$",
      err.message)
    local responses = helper.client_messages("toolResponse", helper.open_connection())
    assert.equal(1, #responses)
    assert.same({ error = "tool 't': its result cannot be sent: " .. OVERRUN },
      responses[1].functionResponses[1].response)
    assert.is_string(helper.text_turn(session, "Hello?"))
    session:close()
    helper.drain(session)
  end)
end)

describe("connect", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("with a history larger than max_queue_bytes returns 'busy' without connecting", function()
    local before = #helper.connections()
    local history = { { role = "user", content = { { type = "text", text = ("x"):rep(4 * BOUND) } } } }
    local session, err, code = client:connect { output_modalities = { "text" }, max_queue_bytes = BOUND,
      history = history }
    assert.is_nil(session)
    assert.equal("could not send the history: " .. OVERRUN, err)
    assert.equal("busy", code)
    assert.equal(before, #helper.connections())
  end)

  it("raises for a raw setup table whose text would pass 16 MiB (2^21 shared leaves)", function()
    local before = #helper.connections()
    assert.has_error(function()
      -- in a list, which the merge takes as it is (an object it would copy first)
      client:connect { output_modalities = { "text" }, raw = { setup = { bulk = { shared(21) } } } }
    end, "the setup message would be larger than 16777216 bytes (16 MiB, or max_queue_bytes when "
      .. "larger): look at what 'raw', 'tools' and 'instructions' hold")
    assert.equal(before, #helper.connections())
  end)
end)
