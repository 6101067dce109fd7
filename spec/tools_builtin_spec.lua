-- Built-in tools (Google Search, code execution, URL context) next to Lua function
-- tools, function behaviours (NON_BLOCKING, scheduling, willContinue) and streamed
-- arguments, against the simulator on both backends where the backend has the feature.
local helper = require "spec.helper"

local function of_type(msgs, t)
  local out = {}
  for _, m in ipairs(msgs) do if m.type == t then out[#out + 1] = m end end
  return out
end

local function text_of(msgs)
  local out = {}
  for _, m in ipairs(msgs) do if m.type == "output_text_done" then out[#out + 1] = m.text end end
  return table.concat(out, " ")
end

-- Receives until a response_done whose text matches `pattern`; returns every message.
local function until_reply(session, pattern, timeout)
  local all = {}
  local deadline = os.time() + (timeout or 20)
  while true do
    local msg = assert(session:receive(math.max(0.1, deadline - os.time())), "no reply matching " .. pattern)
    all[#all + 1] = msg
    assert.is_not.equal("closed", msg.type, "the session closed: " .. tostring(msg.reason))
    if msg.type == "response_done" and text_of(all):find(pattern) then return all end
  end
end

local WEATHER = { type = "object", properties = { city = { type = "string" } }, required = { "city" } }

local function new_client(backend)
  return backend == "gemini" and helper.gemini() or helper.vertex()
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("built-in tools (" .. backend .. ")", function()
    local client
    before_each(function() client = new_client(backend) end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("Google Search and a Lua function side by side", function()
      local calls = 0
      local session = assert(client:connect { output_modalities = { "text" }, tools = {
        { type = "google_search" },
        { name = "get_weather", description = "Weather of a city", parameters = WEATHER,
          handler = function(args) calls = calls + 1; return { city = args.city, sky = "clear" } end },
        { type = "url_context" },
      } })
      assert.same({ { googleSearch = {} }, { functionDeclarations = { { name = "get_weather",
        description = "Weather of a city", parameters = { type = "OBJECT",
          properties = { city = { type = "STRING" } }, required = { "city" } } } } }, { urlContext = {} } },
        helper.last_connection().setup.tools)

      assert(session:send_text "Search the web for Lisbon trams")
      local msgs = until_reply(session, "I found 2 results for Lisbon trams%.")
      local g = of_type(msgs, "grounding")
      assert.equal(1, #g)
      assert.same({ "Lisbon trams" }, g[1].metadata.webSearchQueries)
      assert.equal("https://example.com/lisbon-trams", g[1].metadata.groundingChunks[1].web.uri)
      assert.equal(of_type(msgs, "response_created")[1].response_id, g[1].response_id)
      assert.equal(1, #of_type(msgs, "response_created"))
      assert.equal(1, #of_type(msgs, "response_done"))

      assert(session:send_text 'call get_weather {"city":"Lisbon"}')
      msgs = until_reply(session, "The result of get_weather is")
      assert.equal(1, calls)
      assert.matches('"sky":"clear"', text_of(msgs))

      -- URL context: the answer, and urlContextMetadata (nothing to map it to) as raw
      assert(session:send_text "Please read https://example.com/menu.")
      msgs = until_reply(session, "I read example%.com%.")
      local raw
      for _, m in ipairs(msgs) do
        if m.type == "raw" and m.raw.serverContent and m.raw.serverContent.urlContextMetadata then raw = m end
      end
      assert(raw, "urlContextMetadata arrives as raw")
      assert.equal("URL_RETRIEVAL_STATUS_SUCCESS",
        raw.raw.serverContent.urlContextMetadata.urlMetadata[1].urlRetrievalStatus)
      session:close()
      helper.drain(session)
    end)

    it("code execution: the code and its result inside the response", function()
      local session = assert(client:connect { output_modalities = { "text" }, tools = { { type = "code_execution" } } })
      assert(session:send_text "Please calculate (6 + 1) * 6")
      local msgs = until_reply(session, "The result is 42%.")
      local code = of_type(msgs, "code_execution")
      local result = of_type(msgs, "code_execution_result")
      assert.equal(1, #code)
      assert.equal(1, #result)
      assert.equal("PYTHON", code[1].language)
      assert.equal("print((6 + 1) * 6)", code[1].code)
      assert.equal("OUTCOME_OK", result[1].outcome)
      assert.equal("42\n", result[1].output)
      local id = of_type(msgs, "response_created")[1].response_id
      assert.equal(id, code[1].response_id)
      assert.equal(id, result[1].response_id)
      assert.equal(1, #of_type(msgs, "response_done"))
      assert.equal(1, #of_type(msgs, "generation_complete"))

      assert(session:send_text "calculate 1/0")
      msgs = until_reply(session, "ZeroDivisionError")
      assert.equal("OUTCOME_FAILED", of_type(msgs, "code_execution_result")[1].outcome)
      session:close()
      helper.drain(session)
    end)

    it("an unknown tool type raises; a built-in tool takes no other field", function()
      assert.has_error(function() client:connect { tools = { { type = "google_maps" } } } end,
        "tool 1: unknown type 'google_maps' (expected \"function\", \"google_search\", "
        .. "\"code_execution\" or \"url_context\")")
      assert.has_error(function() client:connect { tools = { { type = "google_search", name = "x" } } } end,
        "tool 1: a google_search tool takes no field 'name'")
      assert.has_error(function() client:connect { tools = { { name = "f", behavior = "async" } } } end)
    end)
  end)

  describe("function behaviour (" .. backend .. ")", function()
    local client
    before_each(function() client = new_client(backend) end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("a NON_BLOCKING function: the model goes on, the handler's scheduling goes with the result", function()
      local session = assert(client:connect { output_modalities = { "text" }, tools = {
        { name = "book_table", description = "Books a table", behavior = "non_blocking",
          handler = function() return { booked = true }, { scheduling = "when_idle" } end },
      } })
      assert.equal("NON_BLOCKING", helper.last_connection().setup.tools[1].functionDeclarations[1].behavior)
      assert(session:send_text "call book_table {}")
      local msgs = until_reply(session, 'The result of book_table is {"booked":true}%.')
      assert.matches("I started book_table%.", text_of(msgs))
      local tr = helper.client_messages("toolResponse")
      assert.equal(1, #tr)
      assert.equal("WHEN_IDLE", tr[1].functionResponses[1].scheduling)
      assert.is_nil(tr[1].functionResponses[1].willContinue)
      session:close()
      helper.drain(session)
    end)

    if backend == "gemini" then
      it("will_continue keeps the call open: silent partial results, then the last one", function()
        local call_id
        local session = assert(client:connect { output_modalities = { "text" }, tools = {
          { name = "watch_oven", description = "Watches the oven", behavior = "non_blocking",
            handler = function(_, call)
              call_id = call.id
              return { progress = 10 }, { scheduling = "silent", will_continue = true }
            end },
        } })
        assert(session:send_text "call watch_oven {}")
        until_reply(session, "I started watch_oven%.")
        assert.is_string(call_id)
        assert(session:send_tool_result(call_id, { progress = 50 }, { scheduling = "silent", will_continue = true }))
        assert(session:send_tool_result(call_id, { done = true }, { scheduling = "when_idle", will_continue = false }))
        local msgs = until_reply(session, 'The result of watch_oven is {"done":true}%.')
        assert.is_nil(text_of(msgs):find("progress", 1, true), "silent results are not spoken")
        local tr = helper.client_messages("toolResponse")
        assert.equal(3, #tr)
        assert.is_true(tr[1].functionResponses[1].willContinue)
        assert.equal("SILENT", tr[2].functionResponses[1].scheduling)
        assert.is_false(tr[3].functionResponses[1].willContinue)
        -- the call is finished: a further result is a mistake
        assert.has_error(function() session:send_tool_result(call_id, { more = 1 }) end,
          "send_tool_result: unknown call_id '" .. call_id .. "' (no call of this session has it, or its answer was sent already)")
        session:close()
        helper.drain(session)
      end)
    else
      it("will_continue is unsupported on Vertex: an error message, the result goes out without it", function()
        local session = assert(client:connect { output_modalities = { "text" }, tools = {
          { name = "watch_oven", description = "Watches the oven", behavior = "non_blocking",
            handler = function() return { progress = 10 }, { scheduling = "when_idle", will_continue = true } end },
          { name = "lookup", description = "Looks up", parameters = WEATHER },
        } })
        assert(session:send_text "call watch_oven {}")
        local msgs = until_reply(session, 'The result of watch_oven is {"progress":10}%.')
        local errs = of_type(msgs, "error")
        assert.equal(1, #errs)
        assert.equal("unsupported", errs[1].code)
        assert.matches("will_continue is not supported by Vertex AI", errs[1].message)
        local tr = helper.client_messages("toolResponse")
        assert.is_nil(tr[1].functionResponses[1].willContinue)
        assert.equal("WHEN_IDLE", tr[1].functionResponses[1].scheduling)
        assert.is_true(session:is_open())
        -- and from send_tool_result it is returned, not dropped
        assert(session:send_text 'call lookup {"city":"Porto"}')
        local call = helper.receive_until(session, "response_output_item_done")
        local ok, msg, code = session:send_tool_result(call.item.id, { found = true }, { will_continue = true })
        assert.is_nil(ok)
        assert.equal("unsupported", code)
        assert.matches("will_continue", msg)
        assert(session:send_tool_result(call.item.id, { found = true }))
        until_reply(session, 'The result of lookup is {"found":true}%.')
        session:close()
        helper.drain(session)
      end)

      it("will_continue = false is Vertex's own behaviour: accepted, sent as nothing", function()
        local session = assert(client:connect { output_modalities = { "text" }, tools = {
          { name = "watch_oven", description = "Watches the oven", behavior = "non_blocking",
            handler = function() return { progress = 10 }, { scheduling = "when_idle", will_continue = false } end },
          { name = "lookup", description = "Looks up", parameters = WEATHER },
        } })
        assert(session:send_text "call watch_oven {}")
        local msgs = until_reply(session, 'The result of watch_oven is {"progress":10}%.')
        assert.equal(0, #of_type(msgs, "error"), "no error for a handler's will_continue = false")
        assert(session:send_text 'call lookup {"city":"Porto"}')
        local call = helper.receive_until(session, "response_output_item_done")
        assert(session:send_tool_result(call.item.id, { found = true }, { will_continue = false }))
        until_reply(session, 'The result of lookup is {"found":true}%.')
        local tr = helper.client_messages("toolResponse")
        assert.equal(2, #tr)
        for _, m in ipairs(tr) do assert.is_nil(m.functionResponses[1].willContinue) end
        assert.equal("WHEN_IDLE", tr[1].functionResponses[1].scheduling)
        -- the result ended the call: a further one is a mistake
        assert.has_error(function() session:send_tool_result(call.item.id, { more = 1 }) end)
        session:close()
        helper.drain(session)
      end)
    end

    it("bad handler options become an error result for the model", function()
      local session = assert(client:connect { output_modalities = { "text" }, tools = {
        { name = "get_weather", parameters = WEATHER,
          handler = function() return { sky = "grey" }, { scheduling = "later" } end },
      } })
      assert(session:send_text 'call get_weather {"city":"Oslo"}')
      local msgs = until_reply(session, "The result of get_weather is")
      assert.matches("'scheduling' must be", text_of(msgs))
      session:close()
      helper.drain(session)
    end)

    it("send_tool_result checks its options", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      -- named as the method, as its other errors are
      assert.has_error(function() session:send_tool_result("x", 1, { later = true }) end,
        "send_tool_result: unknown option 'later'")
      assert.has_error(function() session:send_tool_result("x", 1, { willContinue = true }) end,
        "send_tool_result: unknown option 'willContinue' (did you mean 'will_continue'?)")
      assert.has_error(function() session:send_tool_result("x", 1, { scheduling = "soon" }) end,
        "send_tool_result: option 'scheduling': expected one of interrupt, when_idle, silent, got 'soon'")
      assert.has_error(function() session:send_tool_result("x", 1, 5) end)
      session:close()
      helper.drain(session)
    end)
  end)
end

describe("streamed arguments (vertex partialArgs)", function()
  local client
  before_each(function() client = helper.vertex() end)
  after_each(function()
    helper.sim_request("DELETE", "/_sim/next")
    client:close()
    collectgarbage()
  end)

  for _, mode in ipairs { true, "with-args" } do
    it("deltas while the arguments stream, then the whole call (" .. tostring(mode) .. ")", function()
      helper.sim_post("/_sim/next", { behaviour = { partialArgs = mode } })
      local got
      local session = assert(client:connect { output_modalities = { "text" }, tools = {
        { name = "book", description = "Books a room", parameters = { type = "object", properties = {
          city = { type = "string" }, nights = { type = "integer" }, ["odd key"] = { type = "boolean" },
          guests = { type = "array", items = { type = "string" } } } },
          handler = function(args) got = args; return { ok = true } end },
      } })
      assert(session:send_text 'call book {"city":"San Francisco","nights":3,"odd key":true,"guests":["Ann","Bo"]}')
      local msgs = until_reply(session, "The result of book is")
      local want = { city = "San Francisco", nights = 3, ["odd key"] = true, guests = { "Ann", "Bo" } }
      local deltas = of_type(msgs, "function_call_arguments_delta")
      assert.is_true(#deltas >= 5, "a delta per fragment")
      assert.same({}, deltas[1].arguments)
      assert.equal("book", deltas[1].name)
      assert.same(want, deltas[#deltas].arguments)
      local city
      for _, d in ipairs(deltas) do
        if d.arguments.city and d.arguments.city ~= city then
          assert.is_true(city == nil or d.arguments.city:sub(1, #city) == city, "the string grows")
          city = d.arguments.city
        end
      end
      local done = of_type(msgs, "response_output_item_done")[1]
      assert.equal(deltas[1].call_id, done.item.id)
      assert.same(want, done.item.content[1].arguments)
      assert.same(want, got)
      assert.equal(1, #of_type(msgs, "response_output_item_added"))
      session:close()
      helper.drain(session)
    end)
  end
end)
