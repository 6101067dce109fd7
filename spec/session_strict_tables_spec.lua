-- "Strict" tables (an __index that raises for a key the table lacks, as penlight's strict
-- makes them) in messages, history, tools and tool results: a look-up that raises counts
-- as absent, as for connect's options, instead of the caller's own error coming out of
-- the library.
local helper = require "spec.helper"

local function strict(t)
  return setmetatable(t, { __index = function(_, k) error("strict: no field " .. tostring(k), 2) end })
end

-- The frames the client sent after the first `skip` ones on the newest connection.
local function sent_after(skip)
  local all, out = helper.client_messages(), {}
  for i = skip + 1, #all do out[#out + 1] = all[i] end
  return out
end

local WEATHER = { type = "object", properties = { city = { type = "string" } }, required = { "city" } }

describe("strict tables", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function()
    client:close()
    collectgarbage()
  end)

  it("in session:send: the message, its item, the content list and the parts", function()
    local session = assert(client:connect { output_modalities = { "text" } })
    local before = #helper.client_messages()
    assert(session:send(strict { type = "conversation_item_create", item = strict { role = "user",
      content = strict { strict { type = "text", text = "Hello" }, strict { type = "text", text = " there" } } } }))
    -- an explicit turn, with a strict image part (no mime: the default)
    assert(session:send(strict { type = "conversation_item_create", turn_complete = true,
      item = strict { content = strict { strict { type = "image", data = "\255\216\255" } } } }))
    assert(session:send(strict { type = "raw", wire = strict { realtimeInput = strict { text = "raw" } } }))
    assert(session:send(strict { type = "response_create" }))
    local frames = sent_after(before)
    assert.same({ realtimeInput = { text = "Hello there" } }, frames[1])
    local turn = frames[2].clientContent
    assert.is_true(turn.turnComplete)
    assert.equal("user", turn.turns[1].role)
    assert.equal("image/jpeg", turn.turns[1].parts[1].inlineData.mimeType)
    assert.same({ realtimeInput = { text = "raw" } }, frames[3])
    -- audio through send, strict too
    assert(session:send(strict { type = "input_audio_buffer_append", audio = "\0\0\0\0" }))
    session:close()
    helper.drain(session)
  end)

  it("in a function_result part and in send_tool_result's result and options", function()
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { { name = "lookup", description = "find a thing", parameters = WEATHER } } })
    assert(session:send_text 'call lookup {"city":"Rome"}')
    local call = helper.receive_until(session, "response_output_item_done")
    local id = call.item.content[1].call_id
    assert(session:send_tool_result(id, strict { found = true }, strict { scheduling = "when_idle" }))
    local sent = helper.client_messages("toolResponse")
    local fr = sent[#sent].functionResponses[1]
    assert.same({ found = true }, fr.response)
    assert.equal("WHEN_IDLE", fr.scheduling)
    assert.equal("lookup", fr.name)
    helper.collect_turn(session)
    -- a function_result part of a strict item, sent by hand
    assert(session:send_text 'call lookup {"city":"Oslo"}')
    call = helper.receive_until(session, "response_output_item_done")
    id = call.item.content[1].call_id
    assert(session:send(strict { type = "conversation_item_create", item = strict { content = strict {
      strict { type = "function_result", call_id = id, result = strict { found = false } } } } }))
    assert(session:create_response())
    sent = helper.client_messages("toolResponse")
    fr = sent[#sent].functionResponses[1]
    assert.same({ found = false }, fr.response)
    assert.equal("lookup", fr.name)
    assert.is_nil(fr.scheduling)
    session:close()
    helper.drain(session)
  end)

  it("in connect's tools: the list, the declarations, their schemas, and a handler's result and options", function()
    local calls = 0
    local session = assert(client:connect { output_modalities = { "text" }, tools = strict {
      strict { name = "get_weather", description = "weather", behavior = "blocking",
        parameters = strict { type = "object", properties = strict { city = strict { type = "string" } },
          required = strict { "city" } },
        handler = function(args)
          calls = calls + 1
          return strict { city = args.city, forecast = "rainy" }, strict { scheduling = "silent" }
        end },
      strict { type = "google_search" },
    } })
    local setup = helper.client_messages("setup")[1]
    local decl = setup.tools[1].functionDeclarations[1]
    assert.equal("get_weather", decl.name)
    assert.equal("BLOCKING", decl.behavior)
    assert.same({ "city" }, decl.parameters.required)
    assert.equal("STRING", decl.parameters.properties.city.type:upper())
    assert.same({}, setup.tools[2].googleSearch)
    assert(session:send_text 'call get_weather {"city":"Paris"}')
    local msgs = helper.collect_turn(session)
    assert.equal(1, calls)
    for _, m in ipairs(msgs) do assert.is_not.equal("error", m.type, m.message) end
    local sent = helper.client_messages("toolResponse")
    local fr = sent[#sent].functionResponses[1]
    assert.same({ city = "Paris", forecast = "rainy" }, fr.response)
    assert.equal("SILENT", fr.scheduling)
    session:close()
    helper.drain(session)
  end)

  it("in connect's tools: a non_blocking tool's handler is found", function()
    local session = assert(client:connect { output_modalities = { "text" }, tools = strict {
      strict { name = "later", behavior = "non_blocking", handler = function() return { ok = true } end } } })
    local setup = helper.client_messages("setup")[1]
    assert.equal("NON_BLOCKING", setup.tools[1].functionDeclarations[1].behavior)
    session:close()
    helper.drain(session)
  end)

  it("in connect's history: the list, the items, their content and parts", function()
    local session = assert(client:connect { output_modalities = { "text" }, history = strict {
      strict { role = "user", text = "I want to go to Lisbon." },
      strict { role = "assistant", content = strict { strict { type = "text", text = "Lisbon is lovely." } } },
      strict { content = strict { strict { type = "text", text = "In May." } } },
    } })
    local cc = helper.client_messages("clientContent")[1]
    assert.same({
      { role = "user", parts = { { text = "I want to go to Lisbon." } } },
      { role = "model", parts = { { text = "Lisbon is lovely." } } },
      { role = "user", parts = { { text = "In May." } } },
    }, cc.turns)
    session:close()
    helper.drain(session)
  end)

  it("empty: an empty object as a result returned or sent and as a schema; a proxy over nothing still raises", function()
    -- refused as a proxy: an __index function over nothing stored looked like one
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "lookup", description = "find a thing", parameters = WEATHER },
      { name = "nothing", description = "returns nothing",
        parameters = strict { type = "object", properties = strict {} },
        handler = function() return strict {}, strict {} end },
      { name = "bare", description = "no parameters", parameters = strict {} },
    } })
    local decls = helper.client_messages("setup")[1].tools[1].functionDeclarations
    assert.same({ type = "OBJECT", properties = {} }, decls[2].parameters)
    assert.same({}, decls[3].parameters)
    assert(session:send_text 'call nothing {}')
    local msgs = helper.collect_turn(session)
    for _, m in ipairs(msgs) do assert.is_not.equal("error", m.type, m.message) end
    local sent = helper.client_messages("toolResponse")
    local fr = sent[#sent].functionResponses[1]
    assert.equal("nothing", fr.name)
    assert.same({}, fr.response)
    assert(session:send_text 'call lookup {"city":"Rome"}')
    local call = helper.receive_until(session, "response_output_item_done")
    local id = call.item.content[1].call_id
    -- an __index function that answers (nil for a key it lacks) is a proxy: its entries
    -- cannot be listed, so it is refused rather than sent as {}
    local data = { found = true }
    helper.raises("send_tool_result: response: it stores nothing and its metatable's __index is a function",
      session.send_tool_result, session, id, setmetatable({}, { __index = function(_, k) return data[k] end }))
    assert(session:send_tool_result(id, { found = strict {} }))
    sent = helper.client_messages("toolResponse")
    assert.same({ found = {} }, sent[#sent].functionResponses[1].response)
    session:close()
    helper.drain(session)
  end)

  it("still count what an __index gives, and still refuse a proxy list or schema", function()
    -- a part inheriting its type through __index is a text part, as with lua_getfield
    local session = assert(client:connect { output_modalities = { "text" } })
    local before = #helper.client_messages()
    assert(session:send { type = "conversation_item_create", item = { content = {
      setmetatable({ text = "inherited" }, { __index = { type = "text" } }) } } })
    assert.same({ realtimeInput = { text = "inherited" } }, sent_after(before)[1])
    helper.raises("must be a plain list", session.send, session, { type = "conversation_item_create",
      item = { content = setmetatable({}, { __index = function(_, i)
        if i == 1 then return { type = "text", text = "x" } end end }) } })
    -- a schema table that stores nothing behind an __index function is a proxy, not strict
    helper.raises("tool 'f': parameters: is a table whose metatable has __index or __pairs",
      client.connect, client, { tools = { { name = "f", parameters = setmetatable({}, {
        __index = function(_, k) if k == "type" then return "object" end end }) } } })
    session:close()
    helper.drain(session)
  end)
end)
