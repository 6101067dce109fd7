-- Bad values around tools, the scheduler, history and transcription sessions: tool
-- handlers that fail or return odd values, tool declarations, realtime.run with a failing
-- coroutine, audio parts of turns, and what a transcription session cannot use. Each gets
-- a clear error naming what is wrong, and nothing the caller sent is lost without a word.
local realtime = require "realtime"
local helper = require "spec.helper"

local CITY = { type = "object", properties = { city = { type = "string" } } }

local raises = helper.raises

describe("tool handlers with bad values", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  -- Connects with one tool `lookup` whose handler is fn, has the model call it, and
  -- returns the call's response_output_item_done and the functionResponses the server got
  -- (read once the model has answered the results).
  local function call_with(fn)
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { { name = "lookup", description = "find a thing", parameters = CITY, handler = fn } } })
    assert(session:send_text 'call lookup {"city":"Rome"}')
    local done = helper.receive_until(session, "response_output_item_done")
    helper.collect_turn(session)    -- the rest of the call's response
    helper.collect_turn(session)    -- the model's answer to the results
    local sent = helper.client_messages "toolResponse"
    session:close()
    helper.drain(session)
    assert.equal(1, #sent)
    return done, sent[1].functionResponses
  end

  it("an error whose message is not UTF-8 reaches the model as text, not as base64", function()
    -- such as a file name in Latin-1 in an io error
    local done, responses = call_with(function() error("cannot open caf\xe9.txt", 0) end)
    assert.equal("cannot open caf\u{FFFD}.txt", done.result.error)
    assert.equal("cannot open caf\u{FFFD}.txt", responses[1].response.error)
  end)

  it("options with an unknown key become an error for the model, not dropped without a word", function()
    local logged = {}
    realtime.log(function(_, text) logged[#logged + 1] = text end)
    local done, responses = call_with(function() return { ok = true }, { schedule = "silent" } end)
    realtime.log(nil)
    local want = "tool handler: unknown option 'schedule' in its second value "
      .. "(expected scheduling, will_continue)"
    assert.equal(want, done.result.error)
    assert.equal(want, responses[1].response.error)
    assert.is_nil(responses[1].scheduling)
    assert.matches("tool handler failed: " .. want:gsub("%p", "%%%0"), logged[1])
  end)

  it("a result whose contents __pairs shows (a proxy) reaches the model whole, not as {}", function()
    local store = { forecast = "rainy", celsius = 12, hours = { 1, 2, 3 } }
    local proxy = setmetatable({}, { __index = store, __pairs = function() return next, store, nil end })
    local done, responses = call_with(function() return proxy end)
    assert.equal(proxy, done.result)
    assert.same(store, responses[1].response)
  end)
end)

describe("a tool handler that yields under poll()", function()
  it("fails that call with words the user can act on; the session goes on", function()
    local client = helper.gemini()
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { { name = "lookup", handler = function() coroutine.yield() return { ok = true } end } } })
    -- polls until the model has answered the call's result; returns the call's message
    local function poll_for_call(poll)
      local call
      local deadline = realtime.now() + 10
      while realtime.now() < deadline do
        for _, m in ipairs(poll()) do
          if m.type == "response_output_item_done" then call = m end
          if call and m.type == "output_text_done" then return call end
        end
        realtime.sleep(0.01)
      end
      error("no call and answer came")
    end
    local want = "tool handler tried to yield inside poll(), which never yields "
      .. "(receive() in a coroutine lets handlers wait)"
    -- from the main thread (client:poll), and from a coroutine of realtime.run (session:poll)
    assert(session:send_text 'call lookup {}')
    local done = poll_for_call(function() return client:poll() end)
    assert.equal(want .. ": attempt to yield from outside a coroutine", done.result.error)
    assert(session:send_text 'call lookup {}')
    realtime.run(function()
      done = poll_for_call(function() return { session:poll() } end)
    end)
    assert.equal(want .. ": attempt to yield across a C-call boundary", done.result.error)
    local sent = helper.client_messages "toolResponse"
    assert.equal(2, #sent)
    assert.equal(done.result.error, sent[2].functionResponses[1].response.error)
    session:close()
    helper.drain(session)
    client:close()
  end)
end)

describe("tool declarations with bad values", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("parameters behind a metatable (__index or __pairs) raise instead of going out without them", function()
    local base = { type = "string", description = "a city" }
    raises("tool 'f': parameters.properties.city: is a table whose metatable has __index or __pairs",
      client.connect, client, { tools = { { name = "f", parameters = { type = "object",
        properties = { city = setmetatable({}, { __index = base }) } } } } })
    raises("tool 'f': parameters.properties: is a table whose metatable has __index or __pairs",
      client.connect, client, { tools = { { name = "f", parameters = { type = "object",
        properties = setmetatable({}, { __pairs = function() return next, { city = base }, nil end }) } } } })
    raises("tool 'f': parameters: is a table whose metatable has __index or __pairs",
      client.connect, client, { tools = { { name = "f", parameters = setmetatable({}, { __index = CITY }) } } })
  end)

  it("a count a schema bounds with must not be negative; a bound must be a finite number", function()
    for _, k in ipairs { "minLength", "maxLength", "minItems", "maxItems" } do
      local s = { type = "object", properties = { a = { type = k:find "Items" and "array" or "string",
        items = k:find "Items" and { type = "string" } or nil, [k] = -1 } } }
      raises(("tool 'f': parameters.properties.a.%s: must be a non-negative integer, got -1"):format(k),
        client.connect, client, { tools = { { name = "f", parameters = s } } })
    end
    raises("tool 'f': parameters.minimum: must be a finite number",
      client.connect, client, { tools = { { name = "f", parameters = { type = "integer", minimum = 0 / 0 } } } })
    raises("tool 'f': parameters.maximum: must be a finite number",
      client.connect, client, { tools = { { name = "f", parameters = { type = "number", maximum = math.huge } } } })
    -- zero is a bound like any other
    local session = assert(client:connect { tools = { { name = "f",
      parameters = { type = "array", items = { type = "string" }, minItems = 0, maxItems = 3 } } } })
    local decl = helper.last_connection().setup.tools[1].functionDeclarations[1]
    assert.equal("0", decl.parameters.minItems)
    assert.equal("3", decl.parameters.maxItems)
    session:close()
    helper.drain(session)
  end)
  it("a behavior that is not one of the two names the values it takes", function()
    raises([[tool 1: field 'behavior': expected one of blocking, non_blocking, got 'BLOCKING']],
      client.connect, client, { tools = { { name = "f", behavior = "BLOCKING" } } })
    raises([[tool 2: field 'behavior': expected one of blocking, non_blocking, got 1]],
      client.connect, client, { tools = { { name = "e" }, { name = "f", behavior = 1 } } })
    raises([[tool 1: field 'description' has the wrong type (number)]],
      client.connect, client, { tools = { { name = "f", description = 1 } } })
  end)
end)

describe("turns and history with bad audio", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("odd-length 16-bit PCM raises in a turn and in history, as it does in a realtime send", function()
    local session = assert(client:connect {})
    local part = { type = "audio", data = "\1\2\3" }
    raises("conversation_item_create: part 1: 16-bit PCM must have an even number of bytes (got 3)",
      session.send, session, { type = "conversation_item_create", turn_complete = true,
        item = { role = "user", content = { part } } })
    raises("conversation_item_create: part 1: 16-bit PCM must have an even number of bytes (got 3)",
      session.send, session, { type = "conversation_item_create",
        item = { role = "assistant", content = { part } } })
    session:close()
    helper.drain(session)
    local before = #helper.connections()
    raises("option 'history': item 2: part 1: 16-bit PCM must have an even number of bytes (got 3)",
      client.connect, client, { history = { { text = "hi" }, { role = "user", content = { part } } } })
    -- a format that is not 16-bit PCM takes any length
    session = assert(client:connect { history = { { role = "user",
      content = { { type = "audio", data = "\1\2\3", mime = "audio/mpeg" } } } } })
    session:close()
    helper.drain(session)
    assert.equal(before + 1, #helper.connections())
  end)

  it("an empty audio part raises in a turn and in history, as an empty image does", function()
    local session = assert(client:connect {})
    raises("conversation_item_create: part 1: the audio is empty (0 bytes)", session.send, session,
      { type = "conversation_item_create", turn_complete = true,
        item = { role = "user", content = { { type = "audio", data = "" } } } })
    session:close()
    helper.drain(session)
    raises("option 'history': item 1: part 2: the audio is empty (0 bytes)", client.connect, client,
      { history = { { role = "user", content = { { type = "text", text = "hi" }, { type = "audio", data = "" } } } } })
  end)
end)

describe("a transcription session", function()
  local client, session
  before_each(function()
    client = helper.gemini()
    session = assert(client:connect { kind = "transcription", vad = { silence_duration = 0.3 } })
  end)
  after_each(function()
    session:close()
    helper.drain(session)
    client:close()
  end)

  it("refuses what only the model would read, whose answer it never hands over", function()
    local why = "a transcription session takes audio only"
    raises("part 1 (text): " .. why, session.send_text, session, "hello")
    raises("part 1 (image): " .. why, session.send_image, session, "\xff\xd8")
    raises("response_create: " .. why, session.create_response, session)
    raises("conversation_item_create: part 1 (text): " .. why, session.send, session,
      { type = "conversation_item_create", item = { content = { { type = "text", text = "hi" } } } })
    raises("conversation_item_create: " .. why, session.send, session, { type = "conversation_item_create",
      turn_complete = true, item = { role = "user", content = { { type = "audio", data = "\0\0" } } } })
    -- none of it went out: only the setup
    assert.equal(1, #helper.client_messages(nil, helper.open_connection()))
    -- audio still goes, as a send too
    assert(session:send { type = "conversation_item_create",
      item = { content = { { type = "audio", data = helper.tone(0.6, 16000, 0.6) } } } })
    local done = helper.receive_until(session, "input_audio_transcription_completed")
    assert.is_string(done.text)
  end)
  it("takes no history, which only the model would read", function()
    local before = #helper.connections()
    raises("option 'history': a transcription session takes none (it only transcribes the user)",
      client.connect, client, { kind = "transcription", history = { { text = "hi" } } })
    assert.equal(before, #helper.connections())
  end)
end)


describe("realtime.run with a coroutine that fails", function()
  it("closes every coroutine: to-be-closed variables run, so sessions opened with <close> close", function()
    local client = helper.gemini()
    local closed, session = {}, nil
    local err = raises("spec_failure_here", realtime.run,
      function()
        local guard <close> = setmetatable({}, { __close = function() closed[#closed + 1] = "waiting" end })
        local s <close> = assert(client:connect { output_modalities = { "text" } })
        session = s
        while true do s:receive(30) end   -- waits: nothing comes unasked
      end,
      function()
        local guard <close> = setmetatable({}, { __close = function() closed[#closed + 1] = "failing" end })
        while not session do realtime.sleep(0.01) end
        error("spec_failure_here")
      end)
    assert.matches("stack traceback", err)
    table.sort(closed)
    assert.same({ "failing", "waiting" }, closed)
    assert.is_false(session:is_open())
    client:close()
  end)

  it("keeps the first error when closing another coroutine fails too, and logs the other", function()
    local logged = {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local err = raises("the first failure", realtime.run,
      function()
        local _ <close> = setmetatable({}, { __close = function() error("the close failed") end })
        realtime.sleep(10)
      end,
      function() realtime.sleep(0.01) error("the first failure") end)
    realtime.log(nil)
    assert.is_nil(err:find("the close failed", 1, true))
    assert.equal(1, #logged)
    assert.matches("^error: realtime%.run: closing a coroutine after another failed: .*the close failed", logged[1])
  end)

  it("raises an error value that is not a string as it is, its traceback logged", function()
    local logged = {}
    realtime.log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
    local value = setmetatable({ code = 42 }, { __tostring = function() return "E42" end })
    local ok, err = pcall(realtime.run, function() realtime.sleep(0) error(value) end)
    realtime.log(nil)
    assert.is_false(ok)
    assert.equal(value, err)
    assert.equal(1, #logged)
    assert.matches("^error: realtime%.run: a coroutine failed: E42\nstack traceback:", logged[1])
    ok, err = pcall(realtime.run, function() error({ code = 7 }) end)
    assert.equal(7, err.code)
  end)
end)
