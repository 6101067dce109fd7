-- Issue 15: a tool handler's result that JSON cannot carry goes to the model as
-- { error = "tool 'name': its result cannot be sent: ..." }, together with the other
-- results of the same tool call, and the turn completes; receive() never raises for it.
-- The same for arguments from the server that a handler echoes back (1e400). A string that
-- is not UTF-8 is carried, in base64 (docs/api.md, send_tool_result; issue 14's choice).
local helper = require "spec.helper"

local function cyclic()
  local t = { name = "loop" }
  t.self = t
  return t
end

local function nested(depth)
  local root = {}
  local t = root
  for _ = 1, depth do
    t.next = {}
    t = t.next
  end
  return root
end

-- What each handler returns, and a word the error must contain.
local BAD = {
  { what = "NaN", value = function() return 0 / 0 end, says = "NaN" },
  { what = "infinity", value = function() return -math.huge end, says = "infinite" },
  { what = "a function", value = function() return print end, says = "function" },
  { what = "userdata", value = function() return io.stdout end, says = "userdata" },
  { what = "a cyclic table", value = cyclic, says = "contains itself %(a cycle%)" },
  { what = "a table nested 1,000 deep", value = function() return nested(1000) end, says = "nesting" },
  { what = "a mixed table", value = function() return { 1, 2, x = 3 } end, says = "mixed" },
}

-- The toolResponse frames the simulator received on the newest connection.
local function tool_responses()
  local conns = helper.connections()
  local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
  local out = {}
  for _, f in ipairs(frames) do
    if f.dir == "in" and f.text:find('"toolResponse"', 1, true) then
      out[#out + 1] = require("cjson").decode(f.text).toolResponse.functionResponses
    end
  end
  return out
end

local function results_by_name(msgs)
  local r = {}
  for _, m in ipairs(msgs) do
    if m.type == "response_output_item_done" then r[m.item.content[1].name] = m.result end
  end
  return r
end

local function text_of(msgs)
  for _, m in ipairs(msgs) do if m.type == "output_text_done" then return m.text end end
end

describe("issue 15: a tool result JSON cannot carry", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  for _, case in ipairs(BAD) do
    it("(" .. case.what .. ") goes to the model as an error, with the other result", function()
      local logged = {}
      require("realtime").log(function(level, text) logged[#logged + 1] = level .. ": " .. text end)
      local session = assert(client:connect {
        output_modalities = { "text" },
        tools = {
          { name = "bad_tool", description = "returns a bad value", handler = case.value },
          { name = "good_tool", description = "returns a good value", handler = function() return { fine = true } end },
        },
      })
      assert(session:send_text "call bad_tool {}; call good_tool {}")
      local msgs, count = helper.collect_turn(session)
      require("realtime").log(nil)
      assert.equal(2, count.response_output_item_done)
      local results = results_by_name(msgs)
      assert.same({ fine = true }, results.good_tool)
      assert.is_string(results.bad_tool.error)
      assert.matches("^tool 'bad_tool': its result cannot be sent: ", results.bad_tool.error)
      assert.matches(case.says, results.bad_tool.error)
      assert.matches("bad_tool", table.concat(logged, "\n"))

      -- one toolResponse with both results; the model answers it
      local sent = tool_responses()
      assert.equal(1, #sent)
      assert.equal(2, #sent[1])
      local by_name = {}
      for _, fr in ipairs(sent[1]) do by_name[fr.name] = fr.response end
      assert.same({ fine = true }, by_name.good_tool)
      assert.equal(results.bad_tool.error, by_name.bad_tool.error)
      local reply = helper.collect_turn(session)
      assert.matches("The result of good_tool", text_of(reply))
      assert.is_true(session:is_open())
      session:close()
      helper.drain(session)
    end)
  end
end)

describe("issue 15: a tool result with a string that is not UTF-8", function()
  it("goes out in base64, with the other result, and the turn completes", function()
    local client = helper.gemini()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = {
        { name = "bytes_tool", handler = function() return { data = "ok \xff\xfe" } end },
        { name = "good_tool", handler = function() return { fine = true } end },
      },
    })
    assert(session:send_text "call bytes_tool {}; call good_tool {}")
    helper.collect_turn(session)
    local sent = tool_responses()
    assert.equal(1, #sent)
    local by_name = {}
    for _, fr in ipairs(sent[1]) do by_name[fr.name] = fr.response end
    assert.same({ data = "b2sg//4=" }, by_name.bytes_tool)
    assert.same({ fine = true }, by_name.good_tool)
    assert.matches("The result of good_tool", text_of(helper.collect_turn(session)))
    client:close()
  end)
end)

describe("issue 15: server arguments a handler echoes back", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  for _, mode in ipairs { "args_bad_utf8", "args_1e400" } do
    it("(" .. mode .. ") go back with the other result, and the turn completes", function()
      local client, tag = h:client(mode)
      local session = assert(client:connect {
        output_modalities = { "text" },
        tools = {
          { name = "echo", handler = function(args) return args end },
          { name = "ok", handler = function() return { ok = true } end },
        },
      })
      local msgs, count = helper.collect_turn(session)
      assert.equal(2, count.response_output_item_done)
      local results = results_by_name(msgs)
      assert.same({ ok = true }, results.ok)
      local reply = helper.collect_turn(session)
      assert.equal("2 results", text_of(reply))
      session:close()
      helper.drain(session)
      client:close()

      local received = h:log(tag)[1].received
      local tool_response
      for _, r in ipairs(received) do
        if r.text and r.text:find('"toolResponse"', 1, true) then tool_response = r.text end
      end
      assert.is_string(tool_response)
      local frs = require("cjson").decode(tool_response).toolResponse.functionResponses
      assert.equal(2, #frs)
      assert.equal("call-1", frs[1].id)
      if mode == "args_1e400" then
        -- a number beyond a double reads as the largest one, which goes back as it is
        -- (it read as infinity once, which no JSON text carries: the echo failed)
        assert.same({ n = 1.7976931348623157e308 }, frs[1].response)
        assert.same({ n = 1.7976931348623157e308 }, results.echo)
      else
        assert.same({ text = "//4=" }, frs[1].response)   -- bytes ff fe, in base64
      end
      assert.same({ ok = true }, frs[2].response)
    end)
  end
end)
