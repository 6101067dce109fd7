-- Bad values on the Session side of the Lua API (client:connect options, sends, tool
-- results): each gets a clear error naming what is wrong, and nothing the caller sent is
-- dropped without a word.
local helper = require "spec.helper"

local WEATHER = { type = "object", properties = { city = { type = "string" } } }

-- The client frames of the latest simulator connection that contain `needle`.
local function frames_with(needle)
  local conns = helper.connections()
  local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
  local out = {}
  for _, f in ipairs(frames) do
    if f.dir == "in" and f.text:find(needle, 1, true) then out[#out + 1] = f.text end
  end
  return out
end

-- Raises unless fn raises an error containing `text`; returns the message.
local function raises(text, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing: " .. text)
  err = tostring(err)
  assert(err:find(text, 1, true), ("expected an error containing %q, got %q"):format(text, err))
  return err
end

describe("bad values on a session", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  describe("send_tool_result", function()
    local function open_call(extra)
      local opts = { output_modalities = { "text" },
        tools = { { name = "lookup", description = "find a thing", parameters = WEATHER } } }
      for k, v in pairs(extra or {}) do opts[k] = v end
      local session = assert(client:connect(opts))
      assert(session:send_text 'call lookup {"city":"Rome"}')
      local call = helper.receive_until(session, "response_output_item_done")
      return session, call.item.content[1].call_id, call.response_id
    end

    it("refused as busy keeps the call answerable, and the retry's result replaces the first", function()
      local session, id, rid = open_call { max_queue_bytes = 65536 }
      local ok, err, code = session:send_tool_result(id, { found = string.rep("a", 100000) })
      assert.is_nil(ok)
      assert.equal("busy", code)
      assert.matches("max_queue_bytes", err)
      -- the call is still open: a smaller result goes out, alone
      assert(session:send_tool_result(id, { found = "small" }))
      repeat
        local m = assert(session:receive(10))
      until m.type == "response_done" and m.response_id ~= rid
      local sent = frames_with('"toolResponse"')
      assert.equal(1, #sent)
      assert.matches('"found":"small"', sent[1])
      assert.equal(1, select(2, sent[1]:gsub('"id":', "")))
    end)

    it("two results buffered for one call go out as one answer, the latest", function()
      local session, id, rid = open_call()
      local function result(v)
        return { type = "conversation_item_create",
          item = { content = { { type = "function_result", call_id = id, result = { v = v } } } } }
      end
      assert(session:send(result "first"))
      assert(session:send(result "second"))
      assert(session:create_response())
      repeat
        local m = assert(session:receive(10))
      until m.type == "response_done" and m.response_id ~= rid
      local sent = frames_with('"toolResponse"')
      assert.equal(1, #sent)
      assert.matches('"v":"second"', sent[1])
      assert.not_matches('"v":"first"', sent[1])
    end)
  end)
end)
