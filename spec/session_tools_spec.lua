-- Tools as Lua functions: handlers run inside receive, several calls go back in one tool
-- response, errors go to the model, tools without handlers are left to the caller.
local helper = require "spec.helper"

local WEATHER = { type = "object", properties = { city = { type = "string" } }, required = { "city" } }

-- A receive of each kind on a session, one per line: the line a function is defined on
-- is the line of its receive, which an error raised by it must name.
local RECEIVERS = {
  receive = function(s) s:receive(0.2) end,
  messages = function(s) for _ in s:messages(0.2) do end end,
  poll = function(s) s:poll() end,
  try_receive = function(s) s:try_receive() end,
}

local function tool_responses(conn_id)
  local frames = helper.sim_get("/_sim/connections/" .. conn_id .. "/frames").frames
  local out = {}
  for _, f in ipairs(frames) do
    if f.dir == "in" and f.text:find('"toolResponse"', 1, true) then out[#out + 1] = f.text end
  end
  return out
end

describe("tools", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("run their handlers and answer several calls in one tool response", function()
    local calls = {}
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = {
        { name = "get_weather", description = "weather", parameters = WEATHER,
          handler = function(args, call)
            calls[#calls + 1] = { args = args, call = call }
            return { forecast = "rainy", celsius = 12 }
          end },
        { name = "fail_hard", description = "always fails",
          handler = function() error("the sensor is offline") end },
      },
    })
    assert(session:send_text 'call get_weather {"city":"Paris"}; call fail_hard {}')
    local msgs, count = helper.collect_turn(session)
    assert.equal(1, #calls)
    assert.same({ city = "Paris" }, calls[1].args)
    assert.equal("get_weather", calls[1].call.name)
    assert.equal(session, calls[1].call.session)
    assert.equal(2, count.response_output_item_done)
    local results = {}
    for _, m in ipairs(msgs) do
      if m.type == "response_output_item_done" then
        results[m.item.content[1].name] = m.result
      end
    end
    assert.same({ forecast = "rainy", celsius = 12 }, results.get_weather)
    assert.matches("the sensor is offline", results.fail_hard.error)
    local conns = helper.connections()
    local sent = tool_responses(conns[#conns].id)
    assert.equal(1, #sent)
    assert.matches('"forecast":"rainy"', sent[1])
    assert.matches("the sensor is offline", sent[1])
    assert.is_nil(sent[1]:find("stack traceback", 1, true))
    -- the calls ended their response; the model speaks about the results in the next one
    assert.equal(1, count.response_created)
    assert.equal(1, count.response_done)
    local reply, count2 = helper.collect_turn(session)
    assert.equal(1, count2.response_done)
    local text
    for _, m in ipairs(reply) do if m.type == "output_text_done" then text = m.text end end
    assert.matches('"forecast":"rainy"', text)
  end)

  it("returning nil and a message (Lua's failure idiom) answer the model with that message", function()
    local realtime = require "realtime"
    local logged = {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = {
        { name = "find_city", description = "f", handler = function() return nil, "city not found" end },
        { name = "find_town", description = "f", handler = function() return false, "town not found" end },
      },
    })
    assert(session:send_text 'call find_city {}; call find_town {}')
    local msgs = helper.collect_turn(session)
    realtime.log(nil)
    local results = {}
    for _, m in ipairs(msgs) do
      assert.is_not.equal("error", m.type, m.message)
      if m.type == "response_output_item_done" then results[m.item.content[1].name] = m.result end
    end
    assert.same({ error = "city not found" }, results.find_city)
    assert.same({ error = "town not found" }, results.find_town)
    local conns = helper.connections()
    local sent = tool_responses(conns[#conns].id)
    assert.equal(1, #sent)
    assert.matches('"error":"city not found"', sent[1])
    assert.matches('"error":"town not found"', sent[1])
    assert.is_nil(sent[1]:find("options", 1, true))
    local log_text = table.concat(logged, "\n")
    assert.matches("error: tool handler failed: city not found", log_text, 1, true)
    assert.matches("error: tool handler failed: town not found", log_text, 1, true)
  end)

  it("without a handler are announced and answered by hand", function()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "lookup", description = "find a thing", parameters = WEATHER } },
    })
    assert(session:send_text 'call lookup {"city":"Rome"}')
    local call = helper.receive_until(session, "response_output_item_done")
    local part = call.item.content[1]
    assert.equal("lookup", part.name)
    assert.same({ city = "Rome" }, part.arguments)
    assert.is_nil(call.result)
    assert(session:send_tool_result(part.call_id, { found = true }))
    local msgs = {}
    repeat
      local m = assert(session:receive(10))
      msgs[#msgs + 1] = m
    until m.type == "response_done" and m.response_id ~= call.response_id
    local text = {}
    for _, m in ipairs(msgs) do if m.type == "output_text_done" then text[#text + 1] = m.text end end
    assert.matches("found", table.concat(text))
    local conns = helper.connections()
    local sent = tool_responses(conns[#conns].id)
    assert.equal(1, #sent)
    assert.matches('"id":"' .. part.call_id:gsub("%p", "%%%0") .. '"', sent[1])
    assert.matches('"name":"lookup"', sent[1])
  end)

  it("a handler that waits while the server withdraws its call has its result dropped", function()
    local realtime = require "realtime"
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "slow_lookup", description = "slow", parameters = WEATHER,
        handler = function(args)
          realtime.sleep(1.0)   -- yields to realtime.run: the receive is suspended here
          return { found = args.city }
        end } },
    })
    local seen, call_response = {}, nil
    realtime.run(function()
      assert(session:send_text 'call slow_lookup {"city":"Oslo"}')
      -- until the reply to "never mind", the response after the call's
      for msg in session:messages(10) do
        seen[#seen + 1] = msg
        if msg.type == "response_output_item_done" then call_response = msg.response_id end
        if msg.type == "response_done" and call_response and msg.response_id ~= call_response then break end
      end
    end, function()
      -- while the handler waits, a turn in clientContent interrupts: the server cancels
      -- the pending call (realtime input, send_text's, would wait for the answer)
      realtime.sleep(0.4)
      assert(session:send_wire(require("cjson").encode { clientContent = {
        turns = { { role = "user", parts = { { text = "never mind" } } } }, turnComplete = true } }))
    end)
    local cancel, done
    for _, m in ipairs(seen) do
      if m.type == "tool_call_cancellation" then cancel = m end
      if m.type == "response_output_item_done" then done = m end
    end
    assert(cancel, "the server cancelled the call")
    assert.same({ done.item.id }, cancel.call_ids)
    assert.same({ found = "Oslo" }, done.result, "the handler did finish")
    local conns = helper.connections()
    assert.same({}, tool_responses(conns[#conns].id), "its result was not sent")
    assert.is_true(session:is_open())
    session:close()
    helper.drain(session)
  end)

  it("a result with bytes (not UTF-8) goes out in base64", function()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "get_icon", description = "an icon", handler = function() return "\xff\xd8\xff\xe0" end } },
    })
    assert(session:send_text "call get_icon {}")
    local msgs = helper.collect_turn(session)
    local done
    for _, m in ipairs(msgs) do if m.type == "response_output_item_done" then done = m end end
    assert.equal("\xff\xd8\xff\xe0", done.result)
    helper.collect_turn(session)
    local conns = helper.connections()
    local sent = tool_responses(conns[#conns].id)
    assert.equal(1, #sent)
    assert.matches('"response":{"result":"/9j/4A=="}', sent[1], 1, true)
    session:close()
    helper.drain(session)
  end)

  it("parameters with $ref and $defs are inlined", function()
    local args
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "get_weather", description = "weather", parameters = {
        type = "object", ["$defs"] = { City = { type = "string", description = "a city" } },
        properties = { city = { ["$ref"] = "#/$defs/City" } }, required = { "city" } },
        handler = function(a) args = a; return { ok = true } end } },
    })
    local conns = helper.connections()
    assert.same({ type = "OBJECT", properties = { city = { type = "STRING", description = "a city" } },
      required = { "city" } }, conns[#conns].setup.tools[1].functionDeclarations[1].parameters)
    assert(session:send_text "What is the weather in Bergen?")
    helper.collect_turn(session)
    assert.same({ city = "Bergen" }, args)
    session:close()
    helper.drain(session)
  end)

  it("constraints the Schema has no field for reach the model in a description the server takes", function()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "roll", description = "roll dice", parameters = {
        type = "object", additionalProperties = false, required = { "sides" }, properties = {
          sides = { type = "integer", description = "Sides", exclusiveMinimum = 1, multipleOf = 2 },
          seen = { type = "array", items = { type = "integer" }, uniqueItems = true } } } } },
    })
    local conns = helper.connections()
    assert.same({ type = "OBJECT", description = "(no properties other than those listed)",
      required = { "sides" }, properties = {
        sides = { type = "INTEGER", description = "Sides (greater than 1; a multiple of 2)" },
        seen = { type = "ARRAY", items = { type = "INTEGER" }, description = "(no two items equal)" } } },
      conns[#conns].setup.tools[1].functionDeclarations[1].parameters)
    session:close()
    helper.drain(session)
  end)

  it("may close the session from inside a handler", function()
    local session
    session = assert(client:connect {
      tools = { { name = "get_weather", parameters = WEATHER,
        handler = function(_, call) call.session:close(); return { ok = true } end } },
    })
    assert(session:send_text "What is the weather in Oslo?")
    local last
    for msg in session:messages(10) do last = msg end
    assert.equal("closed", last.type)
  end)
  it("a handler that answers its own call with send_tool_result sends that answer once", function()
    local realtime = require "realtime"
    local lines = {}
    realtime.log(function(level, text) lines[#lines + 1] = level .. ": " .. text end)
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = {
        { name = "get_weather", description = "weather", parameters = WEATHER,
          handler = function(args, call)
            assert(call.session:send_tool_result(call.id, { by_hand = args.city }))
          end },
        { name = "lookup", description = "find", parameters = WEATHER,
          handler = function(args, call)
            assert(call.session:send_tool_result(call.id, { found = args.city }))
            return { twice = true }
          end },
      },
    })
    local ok, err = pcall(function()
      assert(session:send_text 'call get_weather {"city":"Oslo"}')
      local msgs = helper.collect_turn(session)
      local done
      for _, m in ipairs(msgs) do
        if m.type == "response_output_item_done" then done = m end
        assert.is_not.equal("error", m.type, m.message)
      end
      assert.is_nil(done.result, "nothing of the handler's went out")
      helper.collect_turn(session)   -- the model speaks about the result
      assert(session:send_text 'call lookup {"city":"Rome"}')
      msgs = helper.collect_turn(session)
      for _, m in ipairs(msgs) do assert.is_not.equal("error", m.type, m.message) end
      helper.collect_turn(session)
    end)
    realtime.log(nil)
    assert(ok, err)
    local conns = helper.connections()
    local sent = tool_responses(conns[#conns].id)
    assert.equal(2, #sent, "one tool response per call: " .. table.concat(sent, "\n"))
    assert.matches('"by_hand":"Oslo"', sent[1])
    assert.matches('"found":"Rome"', sent[2])
    assert.is_nil(sent[2]:find("twice", 1, true), "the return value is not a second answer")
    local text = table.concat(lines, "\n")
    assert.is_nil(text:find("unknown call_id", 1, true), text)
    assert.is_nil(text:find("Oslo", 1, true), "returning nothing after answering is quiet: " .. text)
    assert.matches("tool 'lookup'.*already answered.*not sent", text)
    -- a notice, not a failure of the handler
    assert.is_nil(text:find("tool handler failed", 1, true), text)
  end)

  it("a handler that receives from its own session is told so at its own line", function()
    -- receive, messages and poll are Lua around the C receive: the error must name the
    -- handler's line, not theirs (the model gets the message too)
    for how, receive in pairs(RECEIVERS) do
      local session = assert(client:connect {
        output_modalities = { "text" },
        tools = { { name = "get_weather", description = "weather", parameters = WEATHER,
          handler = function(_, call) receive(call.session); return { ok = true } end } },
      })
      assert(session:send_text "What is the weather in Paris?")
      local done = helper.receive_until(session, "response_output_item_done")
      local err = done.result.error
      local line = debug.getinfo(receive, "S").linedefined
      assert.matches("cannot receive inside a tool handler of this session", err, 1, true)
      assert.matches("session_tools_spec.lua:" .. line .. ": ", err, 1, true)
      assert.is_nil(err:find("realtime/session.lua", 1, true), how .. ": " .. err)
      session:close()
      helper.drain(session)
    end
  end)
end)

describe("a handler's result that is a list however it is made", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("goes out as { result = list }: an empty json_array, a __pairs proxy of a list", function()
    local core = require "realtime.core"
    local results = {
      empty = function() return core.json_array {} end,
      listproxy = function() return setmetatable({}, { __pairs = function() return ipairs { 1, 2 } end }) end,
      objproxy = function()
        return setmetatable({}, { __pairs = function() return next, { a = 1 }, nil end })
      end,
    }
    local tools = {}
    for name, fn in pairs(results) do tools[#tools + 1] = { name = name, description = name, handler = fn } end
    local session = assert(client:connect { output_modalities = { "text" }, tools = tools })
    local conn = helper.open_connection()
    assert(session:send_text "call empty {}; call listproxy {}; call objproxy {}")
    helper.collect_turn(session)
    local text = helper.reply_text(session)   -- the session goes on: nothing was refused
    assert.is_string(text)
    local sent = tool_responses(conn.id)
    assert.equal(1, #sent)
    local by_name = {}
    for _, r in ipairs(require("cjson").decode(sent[1]).toolResponse.functionResponses) do
      by_name[r.name] = r.response
    end
    assert.is_nil(sent[1]:find('"response":[', 1, true), sent[1])   -- the server closes on a list
    assert.same({ result = {} }, by_name.empty)
    assert.same({ result = { 1, 2 } }, by_name.listproxy)
    assert.same({ a = 1 }, by_name.objproxy)
    session:close()
    helper.drain(session)
  end)
end)

describe("a handler's result that cannot be queued", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("stays buffered and its call answerable: create_response() or a new result sends it", function()
    local session = assert(client:connect {
      output_modalities = { "text" }, max_queue_bytes = 100000,
      tools = { { name = "t", description = "d",
        -- its functionResponse, {"id":"<id>","name":"t","response":{"big":"<n x>"}}, is
        -- 42 + #id + n bytes: 20 short of the bound, so the result is encoded, and the
        -- toolResponse around it (41 bytes more) is what the queue refuses
        handler = function(_, call) return { big = ("x"):rep(100000 - 20 - 42 - #call.id) } end } },
    })
    local conn = helper.open_connection()
    assert(session:send_text "call t {}")
    local err, call_id
    for msg in session:messages(2) do
      if msg.type == "error" then err = msg end
      if msg.type == "response_output_item_done" then call_id = msg.item.content[1].call_id end
    end
    assert.equal("busy", err.code)
    assert.matches("^tool response not sent: a send of %d+ bytes exceeds max_queue_bytes", err.message)
    assert.is_string(call_id)
    assert.equal(0, #tool_responses(conn.id))
    -- still too big for create_response(); a smaller result for the same call replaces it
    local ok, _, code = session:create_response()
    assert.is_nil(ok)
    assert.equal("busy", code)
    assert(session:send_tool_result(call_id, { small = 1 }))
    assert(session:create_response())
    local text = helper.reply_text(session)
    assert.is_string(text)
    local sent = tool_responses(conn.id)
    assert.equal(1, #sent)
    assert.matches('"small":1', sent[1])
    session:close()
    helper.drain(session)
  end)
end)

describe("a blocking handler that waits while its session is closed", function()
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  for _, how in ipairs { "session", "client" } do
    it("tells the caller its result was not sent (" .. how .. ":close()), closed last", function()
      local session = assert(client:connect { output_modalities = { "text" }, resumption = false,
        tools = { { name = "get_weather", description = "weather", parameters = WEATHER,
          handler = function() realtime.sleep(0.5); return { t = 1 } end } } })
      assert(session:send_text 'call get_weather {"city":"Oslo"}')
      local msgs = {}
      realtime.run(function()
        realtime.spawn(function()
          realtime.sleep(0.1)          -- the handler is waiting now
          if how == "session" then session:close() else client:close() end
        end)
        for msg in session:messages(5) do msgs[#msgs + 1] = msg end
      end)
      local err, done
      for i, msg in ipairs(msgs) do
        if msg.type == "error" then err = msg end
        if msg.type == "response_output_item_done" then done = msg end
        if msg.type == "closed" then assert.equal(#msgs, i) end
      end
      assert.same({ t = 1 }, done and done.result)
      assert.is_table(err, "no error message")
      assert.equal("closed", err.code)
      assert.equal("tool response not sent: session closed", err.message)
      assert.equal("closed", msgs[#msgs].type)
    end)
  end
end)

describe("a handler of several calls that waits while its session is closed", function()
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  -- Runs `text` with slow (waits), quick and, without a handler, lookup; closes the
  -- session (how: "session", the default, or "client") while slow waits. Returns the
  -- messages, the call ids by tool name and whether quick's handler ran.
  local function close_while_waiting(text, how)
    local quick_ran = false
    local session = assert(client:connect { output_modalities = { "text" }, resumption = false,
      tools = {
        { name = "slow", description = "d", handler = function() realtime.sleep(0.5); return { s = 1 } end },
        { name = "quick", description = "d", handler = function() quick_ran = true; return { q = 1 } end },
        { name = "lookup", description = "d" } } })
    local msgs, ids = {}, {}
    realtime.run(function()
      assert(session:send_text(text))
      realtime.spawn(function()
        realtime.sleep(0.2)          -- slow waits now
        if how == "client" then client:close() else session:close() end
      end)
      for msg in session:messages(5) do msgs[#msgs + 1] = msg end
    end)
    for _, msg in ipairs(msgs) do
      if msg.type == "response_output_item_done" then
        ids[msg.item.content[1].name] = msg.item.content[1].call_id
      end
    end
    return msgs, ids, quick_ran
  end

  local function closed_error(msgs)
    for i, msg in ipairs(msgs) do
      if msg.type == "error" then
        assert.equal("closed", msgs[#msgs].type)
        assert.is_true(i < #msgs)
        return msg
      end
    end
  end

  it("names every call whose result was not sent, the later handlers' too", function()
    local msgs, ids = close_while_waiting "call slow {}; call quick {}"
    local err = closed_error(msgs)
    assert.is_table(err, "no error message")
    assert.equal("closed", err.code)
    assert.equal("tool response not sent: session closed", err.message)
    assert.same({ ids.slow, ids.quick }, err.call_ids)
  end)

  it("names them and keeps the later handlers from running under client:close() too", function()
    local msgs, ids, quick_ran = close_while_waiting("call slow {}; call quick {}", "client")
    local err = closed_error(msgs)
    assert.is_table(err, "no error message")
    assert.equal("closed", err.code)
    assert.equal("tool response not sent: session closed", err.message)
    assert.same({ ids.slow, ids.quick }, err.call_ids)
    assert.is_false(quick_ran)
    for _, msg in ipairs(msgs) do
      if msg.type == "response_output_item_done" and msg.item.content[1].name == "quick" then
        assert.is_nil(msg.result)
      end
    end
  end)

  it("names the later calls when the first handler closes the client itself", function()
    local ran = {}
    local session = assert(client:connect { output_modalities = { "text" }, resumption = false,
      tools = {
        { name = "first", description = "d",
          handler = function() ran[#ran + 1] = "first"; client:close(); return { a = 1 } end },
        { name = "second", description = "d",
          handler = function() ran[#ran + 1] = "second"; return { b = 1 } end } } })
    assert(session:send_text "call first {}; call second {}")
    local msgs, ids = {}, {}
    for msg in session:messages(5) do
      msgs[#msgs + 1] = msg
      if msg.type == "response_output_item_done" then
        ids[msg.item.content[1].name] = msg.item.content[1].call_id
      end
    end
    local err = closed_error(msgs)
    assert.is_table(err, "no error message")
    assert.equal("closed", err.code)
    assert.same({ ids.first, ids.second }, err.call_ids)
    assert.same({ "first" }, ran)
  end)

  it("names the handled call beside a call left to the caller, not that one", function()
    local msgs, ids = close_while_waiting "call lookup {}; call slow {}"
    local err = closed_error(msgs)
    assert.is_table(err, "no error message")
    assert.equal("closed", err.code)
    assert.same({ ids.slow }, err.call_ids)
    assert.is_string(ids.lookup)
  end)
end)

describe("the first handler of several calls, whose coroutine is closed while it waits", function()
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("leaves its call to the caller; the next receive runs the later handlers, answered with it", function()
    local waiting, quick_ran = false, false
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "slow", description = "d", handler = function() waiting = true; coroutine.yield(); return { s = 1 } end },
      { name = "quick", description = "d", handler = function() quick_ran = true; return { q = 1 } end } } })
    local conn = helper.open_connection()
    assert(session:send_text "call slow {}; call quick {}")
    local co = helper.suspend_in_handler(session, function() return waiting end)
    assert(coroutine.close(co))
    local done = {}
    for msg in session:messages(5) do
      if msg.type == "response_output_item_done" then done[msg.item.content[1].name] = msg end
      if msg.type == "response_done" then break end
    end
    assert.is_true(quick_ran, "the later handler did not run")
    assert.same({ q = 1 }, done.quick.result)
    assert.is_nil(done.slow.result)
    assert.equal(0, #helper.client_messages("toolResponse", conn))   -- waits for slow's answer
    assert(session:send_tool_result(done.slow.item.content[1].call_id, { s = "by hand" }))
    helper.collect_turn(session)
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    local got = {}
    for _, r in ipairs(sent[1].functionResponses) do got[r.name] = r.response end
    assert.same({ slow = { s = "by hand" }, quick = { q = 1 } }, got)
    session:close()
    helper.drain(session)
  end)
end)

describe("a non_blocking handler that waits", function()
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function()
    realtime.log(nil)
    client:close()
  end)

  -- A non_blocking tool whose handler sleeps `secs`, then returns what `finish` gives.
  local function slow_tool(state, secs, finish)
    return { name = "slow_book", description = "books slowly", parameters = WEATHER, behavior = "non_blocking",
      handler = function(args, call)
        state.call = call
        realtime.sleep(secs)
        state.returned = true
        return finish(args, call)
      end }
  end

  -- Receives until the model speaks the handler's result for `city`; returns whether
  -- "I started slow_book." came while the handler still waited, and all the text.
  local function until_result(session, state, city)
    local text, early = {}, nil
    local want = ('The result of slow_book is {"booked":"%s"}.'):format(city)
    while true do
      local msg = assert(session:receive(20))
      assert.is_not.equal("closed", msg.type)
      if msg.type == "output_text_done" then
        text[#text + 1] = msg.text
        if msg.text:find("I started slow_book.", 1, true) then early = not state.returned end
        if msg.text:find(want, 1, true) then return early, table.concat(text, " ") end
      end
    end
  end

  it("under realtime.run goes on beside the receive and answers its call when it returns", function()
    local state = {}
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      slow_tool(state, 1.5, function(args) return { booked = args.city }, { scheduling = "when_idle" } end) } })
    local conn = helper.open_connection()
    local done, started_before_return, text
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      done = helper.receive_until(session, "response_output_item_done")
      -- what the model says next is not held by the handler; its result, once the
      -- handler returned, makes the model speak again
      started_before_return, text = until_result(session, state, "Oslo")
    end)
    assert.is_true(started_before_return, "the model went on while the handler still waited")
    assert.is_true(state.returned)
    assert.is_true(done.running)
    assert.is_nil(done.result)
    assert.matches("I started slow_book%.", text)
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.same({ { id = state.call.id, name = "slow_book", response = { booked = "Oslo" },
      scheduling = "WHEN_IDLE" } }, sent[1].functionResponses)
    session:close()
    helper.drain(session)
  end)

  it("that receives from its own session after it waited is told so at its own line", function()
    -- it runs beside the receive, in a coroutine of its own: as inside the receive, its
    -- session's messages are not its to take
    for how, receive in pairs(RECEIVERS) do
      local state = {}
      local session = assert(client:connect { output_modalities = { "text" }, tools = {
        slow_tool(state, 0.2, function(args, call)
          state.ok, state.err = pcall(receive, call.session)
          return { booked = args.city }
        end) } })
      realtime.run(function()
        assert(session:send_text 'call slow_book {"city":"Oslo"}')
        until_result(session, state, "Oslo")
      end)
      local line = debug.getinfo(receive, "S").linedefined
      assert.is_false(state.ok, how)
      assert.matches("session_tools_spec.lua:" .. line .. ": cannot receive inside a tool handler "
        .. "of this session", state.err, 1, true)
      session:close()
      helper.drain(session)
    end
  end)

  it("that does not wait answers in the dispatch's tool response, as before", function()
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "quick_book", description = "books", behavior = "non_blocking",
        handler = function() return { booked = true } end } } })
    local conn = helper.open_connection()
    local done
    realtime.run(function()
      assert(session:send_text "call quick_book {}")
      done = helper.receive_until(session, "response_output_item_done")
    end)
    assert.same({ booked = true }, done.result)
    assert.is_nil(done.running)
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.same({ booked = true }, sent[1].functionResponses[1].response)
    session:close()
    helper.drain(session)
  end)

  it("returning nil and a message after it waited answers the model with that message", function()
    local state, logged = {}, {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      slow_tool(state, 0.3, function() return nil, "the booking desk is closed" end) } })
    local conn = helper.open_connection()
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      helper.collect_turn(session)          -- the call's turn
      helper.collect_turn(session)          -- the model on the error
    end)
    realtime.log(nil)
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.same({ error = "the booking desk is closed" }, sent[1].functionResponses[1].response)
    assert.matches("error: tool handler failed: the booking desk is closed",
      table.concat(logged, "\n"), 1, true)
    session:close()
    helper.drain(session)
  end)

  it("raising after it waited answers the model with the error and logs the traceback", function()
    local state, logged = {}, {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      slow_tool(state, 0.5, function() error("the booking desk is closed") end) } })
    local conn = helper.open_connection()
    local reply
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      helper.collect_turn(session)          -- the call's turn
      reply = helper.collect_turn(session)  -- the model on the error
    end)
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    local err = sent[1].functionResponses[1].response.error
    assert.matches("the booking desk is closed", err)
    assert.is_nil(err:find("stack traceback", 1, true))
    local log_text = table.concat(logged, "\n")
    assert.matches("tool handler failed: .*the booking desk is closed\nstack traceback:", log_text)
    assert.is_true(#reply > 0)
    session:close()
    helper.drain(session)
  end)

  it("returning bad options after it waited answers the model with the dispatch's words", function()
    local state = {}
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      slow_tool(state, 0.3, function() return { booked = true }, { scheduling = "SILENT" } end) } })
    local conn = helper.open_connection()
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      helper.collect_turn(session)          -- the call's turn
      helper.collect_turn(session)          -- the model on the error
    end)
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.equal("tool 'slow_book': handler's options: 'scheduling' must be one of interrupt, "
      .. "when_idle, silent, got 'SILENT'", sent[1].functionResponses[1].response.error)
    session:close()
    helper.drain(session)
  end)

  it("whose session closed meanwhile has its answer logged, not sent, and nothing raises", function()
    local state, logged = {}, {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      slow_tool(state, 0.5, function() return { booked = true } end) } })
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      helper.receive_until(session, "response_output_item_done")
      session:close()
      helper.drain(session)
    end)
    assert.is_true(state.returned)
    assert.matches("tool 'slow_book' %(call [^)]+%): the session closed while its handler ran; its result was not sent",
      table.concat(logged, "\n"))
  end)

  -- Receives (one long wait after another) until an `error` message or `closed`; returns
  -- it and the seconds from the handler's return (state.returned_at) to its arrival.
  local function until_error(session, state)
    while true do
      local msg = assert(session:receive(20))
      if msg.type == "error" or msg.type == "closed" then
        return msg, state.returned_at and realtime.now() - state.returned_at
      end
    end
  end

  it("whose will_continue Vertex refuses gives the caller an 'unsupported' error, as the dispatch does", function()
    local vclient = helper.vertex()
    local state = {}
    local session = assert(vclient:connect { output_modalities = { "text" }, tools = {
      slow_tool(state, 0.3, function()
        state.returned_at = realtime.now()
        return { booked = true }, { will_continue = true, scheduling = "interrupt" }
      end) } })
    local conn = helper.open_connection()
    local msg
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      msg = until_error(session, state)
    end)
    assert.equal("error", msg.type, msg.reason)
    assert.equal("unsupported", msg.code)
    assert.matches("will_continue", msg.message)
    -- the result went without it
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.same({ booked = true }, sent[1].functionResponses[1].response)
    assert.is_nil(sent[1].functionResponses[1].willContinue)
    session:close()
    helper.drain(session)
    vclient:close()
  end)

  it("whose result is larger than max_queue_bytes gives the caller a 'busy' error, waking its receive", function()
    local state = {}
    local session = assert(client:connect { output_modalities = { "text" }, max_queue_bytes = 100000,
      tools = { slow_tool(state, 0.3, function()
        state.returned_at = realtime.now()
        return { big = ("x"):rep(200000) }
      end) } })
    local conn = helper.open_connection()
    local msg, after
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      -- the turn of the call ends: nothing else comes, the receive sleeps on the session
      helper.receive_until(session, "response_done")
      msg, after = until_error(session, state)
    end)
    assert.equal("error", msg.type, msg.reason)
    assert.equal("busy", msg.code)
    assert.matches("^tool response not sent: a send of more than 100000 bytes exceeds max_queue_bytes "
      .. "%(100000%): the result of tool 'slow_book' %(call '[^']+'%) can never be queued; the model "
      .. "got an error result instead$", msg.message)
    -- the wait of 20 s was woken for it (generous: a missed wake-up takes the whole wait)
    assert.is_true(after < 10, "the error woke the waiting receive")
    -- it can never go, and nothing else would answer the call: the model hears why
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.same({ error = "tool 'slow_book': its result cannot be sent: a send of more than 100000 "
      .. "bytes exceeds max_queue_bytes (100000)" }, sent[1].functionResponses[1].response)
    session:close()
    helper.drain(session)
  end)

  it("under cqueues goes on beside the receive too", function()
    local cqueues = require "cqueues"
    local state = {}
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "slow_book", description = "books slowly", parameters = WEATHER, behavior = "non_blocking",
        handler = function(args)
          cqueues.sleep(1.0)
          realtime.sleep(0.5)         -- the module's own wait, from the handler's coroutine
          state.returned = true
          return { booked = args.city }
        end } } })
    local conn = helper.open_connection()
    local started_before_return
    local cq = cqueues.new()
    cq:wrap(function()
      assert(session:send_text 'call slow_book {"city":"Rome"}')
      started_before_return = until_result(session, state, "Rome")
    end)
    assert(cq:loop())
    assert.is_true(started_before_return, "the model went on while the handler still waited")
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(1, #sent)
    assert.same({ booked = "Rome" }, sent[1].functionResponses[1].response)
    session:close()
    helper.drain(session)
  end)
end)

describe("a non_blocking handler's faults", function()
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function()
    realtime.log(nil)
    client:close()
  end)

  -- Runs two non_blocking tools whose handlers return what `finish` gives, the first
  -- after waiting, the second at once. Returns the error each sent, and the log.
  local function waited_and_not(finish)
    local logged, errors = {}, {}
    realtime.log(function(_, text) logged[#logged + 1] = text end)
    local function tool(name, wait)
      return { name = name, description = "d", behavior = "non_blocking", handler = function()
        if wait then realtime.sleep(0.2) end
        return finish()
      end }
    end
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { tool("waits", true), tool("quick", false) } })
    local conn = helper.open_connection()
    realtime.run(function()
      assert(session:send_text "call waits {}; call quick {}")
      for _ in session:messages(1) do
        if #helper.client_messages("toolResponse", conn) >= 2 then break end
      end
    end)
    for _, tr in ipairs(helper.client_messages("toolResponse", conn)) do
      for _, r in ipairs(tr.functionResponses) do errors[r.name] = r.response.error end
    end
    session:close()
    helper.drain(session)
    return errors, table.concat(logged, "\n")
  end

  -- Asserts that the two handlers gave the same words (`want`, with the tool's name
  -- at %s), to the model and to the log.
  local function same_words(errors, log, want)
    for _, name in ipairs { "waits", "quick" } do
      local text = want:format(name)
      assert.equal(text, errors[name])
      assert.matches("tool handler failed: " .. text:gsub("%p", "%%%0"), log)
    end
  end

  it("a result JSON cannot carry gives the same words whether the handler waited or not", function()
    local errors, log = waited_and_not(function() return function() end end)
    same_words(errors, log, "tool '%s': its result cannot be sent: response.result: cannot encode a function")
    assert.is_nil(log:find("send_tool_result", 1, true), log)
    errors, log = waited_and_not(function()
      return setmetatable({}, { __pairs = function() return next, { [{}] = 1 }, nil end })
    end)
    same_words(errors, log, "tool '%s': its result cannot be sent: response: cannot encode a table "
      .. "with mixed or non-string keys (or holes)")
  end)

  it("will_continue that Vertex refuses is told and logged in the same words, naming the tool and call, whether the handler waited or not", function()
    local logged, errors, ids = {}, {}, {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local function tool(name, wait)
      return { name = name, description = "d", behavior = "non_blocking", handler = function()
        if wait then realtime.sleep(0.2) end
        return { v = 1 }, { will_continue = true }
      end }
    end
    local vclient = helper.vertex()
    local session = assert(vclient:connect { output_modalities = { "text" },
      tools = { tool("waits", true), tool("quick", false) } })
    realtime.run(function()
      assert(session:send_text "call waits {}; call quick {}")
      local deadline = realtime.now() + 10
      while #errors < 2 and realtime.now() < deadline do
        local msg = session:receive(1)
        if msg and msg.type == "response_output_item_done" then
          ids[msg.item.content[1].name] = msg.item.content[1].call_id
        elseif msg and msg.type == "error" then
          errors[#errors + 1] = msg
        end
      end
    end)
    session:close()
    helper.drain(session)
    vclient:close()
    assert.equal(2, #errors)
    local log = table.concat(logged, "\n")
    for _, name in ipairs { "waits", "quick" } do
      local want = ("tool '%s' (call '%s'): will_continue is not supported by Vertex AI (its "
        .. "function responses have no willContinue)"):format(name, assert(ids[name], name))
      local told = errors[1].message == want and errors[1] or errors[2]
      assert.equal(want, told.message)
      assert.equal("unsupported", told.code)
      assert.matches("error: " .. want:gsub("%p", "%%%0"), log)
    end
  end)

  it("the refusal shows the server's call id escaped and cut, whether the handler waited or not", function()
    local hf = require "spec.hostile_frames"
    local logged, errors = {}, {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local function tool(name, wait)
      return { name = name, description = "d", behavior = "non_blocking", handler = function()
        if wait then realtime.sleep(0.2) end
        return { ok = 1 }, { will_continue = true }
      end }
    end
    -- ids a server could send: terminal escapes, a line break, a NUL, a long one
    local long = ("x"):rep(50)
    local frame = '{"toolCall":{"functionCalls":['
      .. '{"id":"a\\u001b[31mRED\\nFAKE\\u0000LINE","name":"waits","args":{}},'
      .. '{"id":"' .. long .. '","name":"quick","args":{}}]}}'
    local h = helper.hostile()
    local vclient = assert(realtime.vertex { base_url = h:base_url("send", { frames = hf.frames(frame) }),
      access_token = "tok", project = "p", location = "us-central1", model = "m" })
    local session = assert(vclient:connect { output_modalities = { "text" },
      tools = { tool("waits", true), tool("quick", false) } })
    realtime.run(function()
      local deadline = realtime.now() + 10
      while #errors < 2 and realtime.now() < deadline do
        local msg = session:receive(1)
        if msg and msg.type == "error" then errors[#errors + 1] = msg.message end
      end
    end)
    session:close()
    helper.drain(session)
    vclient:close()
    h:stop()
    local why = ": will_continue is not supported by Vertex AI (its function responses have no willContinue)"
    local want = { waits = "tool 'waits' (call 'a\\x1b[31mRED\\x0aFAKE\\x00LINE')" .. why,
      quick = "tool 'quick' (call '" .. long:sub(1, 40) .. "'...)" .. why }
    table.sort(errors)
    assert.same({ want.quick, want.waits }, errors)
    local log = table.concat(logged, "\n")
    for _, text in pairs(want) do assert.matches("error: " .. text:gsub("%p", "%%%0"), log) end
    assert.is_nil(log:find("\27", 1, true), log)
  end)

  it("the already-answered notice shows the server's call id escaped too", function()
    local hf = require "spec.hostile_frames"
    local logged = {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local frame = '{"toolCall":{"functionCalls":[{"id":"a\\u001b[31mRED\\nFAKE\\u0000LINE",'
      .. '"name":"echo","args":{}}]}}'
    local h = helper.hostile()
    local gclient = assert(realtime.gemini { base_url = h:base_url("send", { frames = hf.frames(frame) }),
      api_key = "k", model = "m" })
    local session = assert(gclient:connect { output_modalities = { "text" }, resumption = false,
      tools = { { name = "echo", description = "d", handler = function(_, call)
        call.session:send_tool_result(call.id, { first = true })
        return { second = true }
      end } } })
    local deadline = realtime.now() + 10
    repeat
      session:receive(0.2)
    until table.concat(logged, "\n"):find("already answered", 1, true) or realtime.now() > deadline
    session:close()
    helper.drain(session)
    gclient:close()
    h:stop()
    realtime.log(nil)
    local log = table.concat(logged, "\n")
    assert.matches("tool 'echo' (call 'a\\x1b[31mRED\\x0aFAKE\\x00LINE'): the call was already answered",
      log, 1, true)
    assert.is_nil(log:find("\27", 1, true), log)
  end)

  it("bad options give the same words whether the handler waited or not", function()
    local errors, log = waited_and_not(function() return { x = 1 }, { scheduling = "SILENT" } end)
    same_words(errors, log, "tool '%s': handler's options: 'scheduling' must be one of interrupt, "
      .. "when_idle, silent, got 'SILENT'")
    assert.is_nil(log:find("): tool 'waits'", 1, true), log)
  end)
end)

describe("a non_blocking handler that waits beside a blocking call of the same toolCall", function()
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("lets the blocking call's result go at once, and answers its own after", function()
    local returned = false
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "slow_book", description = "books slowly", behavior = "non_blocking",
        handler = function() realtime.sleep(1.5); returned = true; return { booked = true } end },
      { name = "get_weather", description = "weather", parameters = WEATHER,
        handler = function() return { sky = "grey" } end },
    } })
    local conn = helper.open_connection()
    local weather_before_return
    realtime.run(function()
      assert(session:send_text 'call slow_book {}; call get_weather {"city":"Oslo"}')
      while true do
        local msg = assert(session:receive(20))
        assert.is_not.equal("closed", msg.type)
        if msg.type == "output_text_done" and msg.text:find("The result of get_weather", 1, true) then
          weather_before_return = not returned
        end
        if msg.type == "output_text_done" and msg.text:find("The result of slow_book", 1, true) then break end
      end
    end)
    assert.is_true(weather_before_return, "the model had the blocking result while the handler waited")
    local sent = helper.client_messages("toolResponse", conn)
    assert.equal(2, #sent)
    assert.equal(1, #sent[1].functionResponses)
    assert.equal("get_weather", sent[1].functionResponses[1].name)
    assert.same({ booked = true }, sent[2].functionResponses[1].response)
    session:close()
    helper.drain(session)
  end)
end)

describe("a receive from inside realtime.log", function()
  -- A failed handler's traceback is logged by the receive (or poll) that hands back its
  -- message, after it took that message: a receive of the same session in the log
  -- function took the next ones first (response_done before the item it ends).
  local realtime = require "realtime"
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() realtime.log(nil) client:close() end)

  local function failing()
    return assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "fail_hard", description = "f", handler = function() error("sensor offline") end },
    } })
  end

  -- outer: takes the next message of s (nil when none yet); inner: what the log function
  -- calls. Returns the types taken outside, and what the calls inside gave.
  local function run(outer, inner)
    local s
    local inside = {}
    realtime.log(function(level, text)
      if level == "error" and text:find("sensor offline", 1, true) then
        local ok, got = pcall(inner, s)
        inside[#inside + 1] = { ok = ok, got = got }
      end
    end)
    s = failing()
    assert(s:send_text 'call fail_hard {}')
    local types, t0 = {}, realtime.now()
    while realtime.now() - t0 < 10 do
      local m = outer(s)
      if m then
        types[#types + 1] = m.type
        if m.type == "output_text_done" then break end
      end
    end
    return types, inside
  end

  local function check(types, inside)
    local pos = {}
    for i, t in ipairs(types) do pos[t] = pos[t] or i end
    assert.is_truthy(pos.response_output_item_done, table.concat(types, " "))
    assert.is_truthy(pos.response_done, table.concat(types, " "))
    assert.is_true(pos.response_output_item_done < pos.response_done, table.concat(types, " "))
    assert.equal(1, #inside)
    assert.is_false(inside[1].ok, "the receive inside took a message")
    assert.matches("another receive is already waiting on this session", inside[1].got)
  end

  it("raises and leaves the messages in order (receive in receive)", function()
    check(run(function(s) return s:receive(1) end, function(s) return s:receive(0) end))
  end)

  it("raises and leaves the messages in order (try_receive in receive)", function()
    -- try_receive took the messages after the one being handed back: response_done
    -- came out before the response_output_item_done it ends
    check(run(function(s) return s:receive(1) end, function(s) return s:try_receive() end))
  end)

  it("a frame loop on try_receive logs the traceback; try_receive inside raises", function()
    -- try_receive handed the failed handler's message over without logging its traceback
    check(run(function(s)
      local m = s:try_receive()
      if not m then realtime.sleep(0.01) end
      return m
    end, function(s) return s:try_receive() end))
  end)

  it("client:poll in session:poll leaves the session out and the messages in order", function()
    local types, inside = run(function(s)
      local m = s:poll()
      if not m then realtime.sleep(0.01) end
      return m
    end, function(s)
      for _, m in ipairs(client:poll()) do assert(m.session ~= s, "took " .. m.type) end
      return true
    end)
    local pos = {}
    for i, t in ipairs(types) do pos[t] = pos[t] or i end
    assert.is_true(pos.response_output_item_done < pos.response_done, table.concat(types, " "))
    assert.equal(1, #inside)
    assert.is_true(inside[1].ok, tostring(inside[1].got))
  end)

  it("a log function closed while it waits hands its message over to the next receive", function()
    -- A log function that yields, in a coroutine that is then closed (realtime.run ending),
    -- never returns: the session stayed "logging" for ever (every receive raised, and
    -- client:poll() skipped it) and the message being handed back was lost.
    for _, next_take in ipairs {
      function(s) return s:receive(5) end,
      function(s)
        local t0 = realtime.now()
        repeat
          local m = s:try_receive()
          if m then return m end
          realtime.sleep(0.01)
        until realtime.now() - t0 > 5
      end,
      (function()
        local queue = {}   -- what one client:poll() gave beyond the message returned
        return function(s)
          local t0 = realtime.now()
          while #queue == 0 and realtime.now() - t0 < 5 do
            for _, m in ipairs(client:poll()) do
              if m.session == s then queue[#queue + 1] = m end
            end
            if #queue == 0 then realtime.sleep(0.01) end
          end
          return table.remove(queue, 1)
        end
      end)(),
    } do
      realtime.log(function(level, text)
        if level == "error" and text:find("sensor offline", 1, true) then coroutine.yield "in log" end
      end)
      local s = failing()
      assert(s:send_text 'call fail_hard {}')
      local types = {}
      local co = coroutine.create(function()
        while true do types[#types + 1] = assert(s:receive(5)).type end
      end)
      -- a receive in a plain coroutine yields while it waits: resume until the log yields
      local ok, got
      local t1 = realtime.now()
      repeat
        ok, got = coroutine.resume(co)
        assert.is_true(ok, tostring(got))
        if got ~= "in log" then realtime.sleep(0.01) end
      until got == "in log" or realtime.now() - t1 > 10
      assert.equal("in log", got)
      assert(coroutine.close(co))
      realtime.log(nil)
      local t0 = realtime.now()
      repeat
        local m = assert(next_take(s), "no message after the closed log function")
        types[#types + 1] = m.type
      until m.type == "output_text_done" or realtime.now() - t0 > 10
      local pos = {}
      for i, t in ipairs(types) do pos[t] = pos[t] or i end
      local seen = table.concat(types, " ")
      assert.is_truthy(pos.response_output_item_done, seen)
      assert.is_truthy(pos.response_done, seen)
      assert.is_true(pos.response_output_item_done < pos.response_done, seen)
      s:close()
    end
  end)

  it("client:poll inside keeps what the other sessions had ready", function()
    -- Their replies are in before the failing handler's traceback is logged; a poll that
    -- raised at the logging session lost what it had taken from them.
    local others, got = {}, {}
    for i = 1, 3 do
      others[i] = assert(client:connect { output_modalities = { "text" } })
      got[others[i]] = {}
    end
    for i = 1, 3 do assert(others[i]:send_text("hello " .. i)) end
    realtime.sleep(0.5)
    local function keep(list)
      for _, m in ipairs(list) do
        if got[m.session] then table.insert(got[m.session], m.type) end
      end
    end
    run(function(s) return s:receive(1) end, function() keep(client:poll()) return true end)
    local t0 = realtime.now()
    repeat
      keep(client:poll())
      local done = 0
      for _, o in ipairs(others) do
        for _, t in ipairs(got[o]) do if t == "response_done" then done = done + 1 break end end
      end
      realtime.sleep(0.01)
    until done == #others or realtime.now() - t0 > 5
    for i, o in ipairs(others) do
      local seen = table.concat(got[o], " ")
      assert.matches("response_created", seen, nil, true)
      assert.matches("response_done", seen, nil, true)
      assert.matches("output_text_done", seen, nil, true, "session " .. i .. ": " .. seen)
    end
  end)
end)
