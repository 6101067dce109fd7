-- Answers to tool calls a reconnect voids are not sent on the resumed connection
-- (rt_conn_calls.c, lrt_map_withdraw.c): the hostile server's void_calls mode gives a
-- handle, then the calls, and drops the connection right after the first answer, so
-- the answer is in the core's replay when the session resumes from before the calls.
local helper = require "spec.helper"
local realtime = require "realtime"
local cjson = require "cjson"

local ECHO = { name = "echo", description = "echoes" }

-- Connects a client of the mode with params, answers every call (send_tool_result, or
-- the handler when handler is true), and reads until the tool_call_cancellation after
-- `reconnected` (and, with opts.after, until that many calls after it were answered).
-- Returns the ids cancelled and, per connection, the answers the server
-- received (each a decoded functionResponses entry).
local function run(h, params, opts)
  opts = opts or {}
  local url, tag = h:base_url("void_calls", params)
  local client
  if opts.vertex then
    client = assert(realtime.vertex { base_url = url, access_token = "hostile-token",
      project = "p", location = "us-central1", ca_file = h.ca_file, model = "m" })
  else
    client = helper.gemini { base_url = url, api_key = "hostile-key", ca_file = h.ca_file }
  end
  local tool = { name = ECHO.name, description = ECHO.description }
  if opts.handler then tool.handler = function() return { ok = true } end end
  local s = assert(client:connect { output_modalities = { "text" }, tools = { tool } })
  local cancelled, reconnected
  local after = 0
  local deadline = os.time() + 10
  while os.time() < deadline and not (cancelled and after >= (opts.after or 0)) do
    local m = s:receive(0.5)
    if m and m.type == "response_output_item_done" and not opts.handler then
      local c = m.item.content[1]
      if c.type == "function_call" then
        assert(s:send_tool_result(c.call_id, { ok = true }))
        if reconnected then after = after + 1 end
      end
    elseif m and m.type == "reconnected" then
      reconnected = true
    elseif m and m.type == "tool_call_cancellation" and m.reconnected then
      cancelled = m.call_ids
    end
  end
  assert.is_true(reconnected, "the session did not reconnect")
  -- what the resumed connection gets is written at the reconnect; a little slack for it
  realtime.sleep(0.3)
  s:close()
  client:close()
  local answers = {}
  for i, rec in ipairs(h:log(tag)) do
    answers[i] = {}
    for _, r in ipairs(rec.received) do
      local ok, msg = pcall(cjson.decode, r.text or "")
      if ok and type(msg) == "table" and msg.toolResponse then
        for _, a in ipairs(msg.toolResponse.functionResponses) do table.insert(answers[i], a) end
      end
    end
  end
  assert.equal(2, #answers, "expected the lost connection and the resumed one")
  return cancelled or {}, answers
end

describe("answers to calls a reconnect voids", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  it("are not sent again for an id of 256 to 512 bytes written with an escape", function()
    -- the binding writes the id's quote as \" : 302 decoded bytes, 303 written
    local id = 'a\\"' .. ("x"):rep(300)
    local cancelled, answers = run(h, { ids = helper.b64url(id) })
    assert.equal(1, #answers[1])
    assert.same({}, answers[2])
    assert.same({ 'a"' .. ("x"):rep(300) }, cancelled)
  end)

  it("are not sent again for an id of at most 512 decoded bytes written longer", function()
    -- 100 bytes written as 600 (\u0041 each): the bound is on the decoded id
    local cancelled, answers = run(h, { ids = helper.b64url(("\\u0041"):rep(100)) })
    assert.equal(1, #answers[1])
    assert.same({}, answers[2])
    assert.same({ ("A"):rep(100) }, cancelled)
  end)

  it("are not sent again on Vertex for a call without an id; the new call's answer is", function()
    -- the call and the model's new one (on the resumed connection) both come without an
    -- id: their answers go by name alone, so only the call's message tells them apart
    local cancelled, answers = run(h, { ids = "-", again = "-" }, { vertex = true, after = 1 })
    assert.same({ { name = "echo", response = { ok = true } } }, answers[1])
    assert.same({ { name = "echo", response = { ok = true } } }, answers[2])
    assert.same({ "call_1" }, cancelled)
  end)

  it("past 64 calls, forget the oldest only: the others' answers are not sent again", function()
    local cancelled, answers = run(h, { n = 65 }, { handler = true })
    assert.equal(65, #answers[1])
    -- the oldest call is past what is remembered: its answer goes out, it is not withdrawn
    local again = {}
    for _, a in ipairs(answers[2]) do again[#again + 1] = a.id end
    assert.same({ "c1" }, again)
    local want, got = {}, {}
    for i = 2, 65 do want["c" .. i] = true end
    for _, id in ipairs(cancelled) do got[id] = true end
    assert.equal(64, #cancelled)
    assert.same(want, got)
  end)
end)
