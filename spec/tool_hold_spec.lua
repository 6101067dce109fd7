-- While the model waits for the answer to a tool call, realtime input waits too: the Live
-- API closes the session (1008) on realtime input sent before a blocking call's answer.
-- The answer goes out first, then what waited, in order; nothing is lost.
local helper = require "spec.helper"
local realtime = require "realtime"
local cjson = require "cjson"

local WEATHER = { type = "object", properties = { city = { type = "string" } } }
local SILENCE = string.rep("\0", 640)     -- 20 ms at 16 kHz: no speech for the VAD

-- The client's frames on a connection as { kind, text } in order: "toolResponse", "audio",
-- "text", "cancel" (the server's toolCallCancellation), "call" (its toolCall), or "other".
local function timeline(conn)
  local out = {}
  for _, f in ipairs(helper.sim_get("/_sim/connections/" .. conn.id .. "/frames").frames) do
    if (f.opcode == "text" or f.opcode == "binary") and f.text then
      local ok, msg = pcall(cjson.decode, f.text)
      local kind = "other"
      if ok and type(msg) == "table" then
        if f.dir == "in" then
          local ri = msg.realtimeInput
          if msg.toolResponse or msg.tool_response then kind = "toolResponse"
          elseif ri and ri.audio then kind = "audio"
          elseif ri and ri.text then kind = "text" end
        elseif msg.toolCall then kind = "call"
        elseif msg.toolCallCancellation then kind = "cancel" end
      end
      out[#out + 1] = { kind = kind, dir = f.dir, text = f.text }
    end
  end
  return out
end

local function positions(tl, kind)
  local at = {}
  for i, f in ipairs(tl) do if f.kind == kind then at[#at + 1] = i end end
  return at
end

-- Audio frames the client wrote after the server's first toolCall.
local function audio_after_call(tl)
  local call = positions(tl, "call")[1]
  local n = 0
  for i = (call or math.huge), #tl do if tl[i].kind == "audio" then n = n + 1 end end
  return n
end

local function wait_until(fn, seconds)
  local deadline = os.time() + (seconds or 10)
  while not fn() do
    assert(os.time() < deadline, "timed out")
    realtime.sleep(0.05)
  end
end

local function call_by_hand(client, extra)
  local opts = {
    output_modalities = { "text" },
    tools = { { name = "lookup", description = "find a thing", parameters = WEATHER } },
  }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local session = assert(client:connect(opts))
  assert(session:send_text 'call lookup {"city":"Rome"}')
  local done = helper.receive_until(session, "response_output_item_done")
  return session, done.item.content[1]
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("a tool call the model waits on (" .. backend .. ")", function()
    local client
    before_each(function() client = helper[backend]() end)
    after_each(function() client:close() end)

    it("holds audio appended before its answer, then sends it after the answer", function()
      local session, part = call_by_hand(client)
      for _ = 1, 10 do assert(session:append_audio(SILENCE)) end
      realtime.sleep(0.3)                  -- time enough to write them, were they free
      local conn = helper.open_connection()
      assert.equal(0, audio_after_call(timeline(conn)))
      assert.is_true(session:stats().queued_bytes > 0)
      assert(session:send_tool_result(part.call_id, { found = true }))
      helper.collect_turn(session)
      wait_until(function() return audio_after_call(timeline(conn)) == 10 end)
      local tl = timeline(conn)
      local answer = positions(tl, "toolResponse")
      assert.equal(1, #answer)
      local audio = positions(tl, "audio")
      assert.is_true(audio[1] > answer[1], "audio went out before the answer")
      assert.equal(conn.id, helper.open_connection().id)   -- the session went on
    end)
  end)
end

describe("a tool call the model waits on", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("holds what a handler appends until the handler's answer is out", function()
    local session
    session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "lookup", description = "find", parameters = WEATHER,
        handler = function()
          for _ = 1, 5 do assert(session:append_audio(SILENCE)) end
          realtime.sleep(0.2)              -- the I/O thread would have written them by now
          return { found = true }
        end } },
    })
    assert(session:send_text 'call lookup {"city":"Oslo"}')
    helper.collect_turn(session)
    local conn = helper.open_connection()
    wait_until(function() return audio_after_call(timeline(conn)) == 5 end)
    local tl = timeline(conn)
    assert.is_true(positions(tl, "audio")[1] > positions(tl, "toolResponse")[1])
  end)

  it("keeps the order of what waited: text sent after audio goes after it", function()
    local session, part = call_by_hand(client)
    assert(session:append_audio(SILENCE))
    assert(session:send_text "and another thing")
    assert(session:append_audio(SILENCE))
    realtime.sleep(0.2)
    assert(session:send_tool_result(part.call_id, { found = true }))
    local conn = helper.open_connection()
    wait_until(function() return audio_after_call(timeline(conn)) == 2 end)
    local tl, kinds = timeline(conn), {}
    local from = positions(tl, "toolResponse")[1]
    for i = from, #tl do
      if tl[i].dir == "in" and tl[i].kind ~= "other" then kinds[#kinds + 1] = tl[i].kind end
    end
    assert.same({ "toolResponse", "audio", "text", "audio" }, kinds)
  end)

  it("does not hold input for a non_blocking function's call", function()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "book", description = "books", parameters = WEATHER,
        behavior = "non_blocking" } },
    })
    assert(session:send_text 'call book {"city":"Rome"}')
    local done = helper.receive_until(session, "response_output_item_done")
    for _ = 1, 3 do assert(session:append_audio(SILENCE)) end
    local conn = helper.open_connection()
    wait_until(function() return audio_after_call(timeline(conn)) == 3 end)
    assert.equal(0, #positions(timeline(conn), "toolResponse"))
    assert(session:send_tool_result(done.item.content[1].call_id, { booked = true }))
  end)

  it("holds nothing with hold_input_during_calls = false: the server then closes (1008)", function()
    local session = call_by_hand(client, { hold_input_during_calls = false })
    local conn = helper.open_connection()
    assert(session:append_audio(SILENCE))
    local seen = helper.to_end(session, 10)
    assert.is_not_nil(seen.closed)
    assert.equal(1008, seen.closed.code)
    assert.is_true(seen.closed.by_server)
    assert.matches("Operation is not implemented", seen.closed.reason, 1, true)
    assert.equal(0, #positions(timeline(conn), "toolResponse"))
    assert.equal(1, audio_after_call(timeline(conn)))
  end)

  it("lets the held input go when the server cancels the call", function()
    local session = call_by_hand(client)
    local conn = helper.open_connection()
    -- a turn in clientContent (not realtime input, and nothing held before it) interrupts:
    -- the server withdraws the call; the audio appended right after it, in the round trip
    -- before the withdrawal arrives, is held, then let go by it
    assert(session:send_wire(cjson.encode { clientContent = {
      turns = { { role = "user", parts = { { text = "never mind" } } } }, turnComplete = true } }))
    for _ = 1, 3 do assert(session:append_audio(SILENCE)) end
    helper.receive_until(session, "tool_call_cancellation")
    wait_until(function() return audio_after_call(timeline(conn)) == 3 end)
    local tl = timeline(conn)
    assert.is_true(positions(tl, "audio")[1] > positions(tl, "cancel")[1])
  end)

  it("sends what it held on the new connection when a reconnect voids the call", function()
    -- The resumed state is from before the question, which goes out again, and this
    -- simulator asks again the instant it reads it, before the held audio that follows
    -- (the service takes far longer to answer): let that audio interrupt the new call
    -- rather than close the session, which is not what this case is about.
    helper.sim_post("/_sim/defaults", { inputDuringCall = "interrupt" })
    finally(function() helper.sim_post("/_sim/defaults", { inputDuringCall = "close" }) end)
    local session = call_by_hand(client)
    local conn = helper.open_connection()
    for _ = 1, 6 do assert(session:append_audio(SILENCE)) end
    realtime.sleep(0.2)
    assert.equal(0, audio_after_call(timeline(conn)))
    helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
    local rec = helper.receive_until(session, "reconnected")
    assert.is_not_nil(rec)
    local new = helper.open_connection()
    assert.are_not.equal(conn.id, new.id)
    wait_until(function() return #positions(timeline(new), "audio") == 6 end)
    assert.equal(0, #positions(timeline(new), "toolResponse"))
  end)

  it("says why a send is refused when held input fills the queue, and still answers", function()
    local session, part = call_by_hand(client, { max_queue_bytes = 4096 })
    local ok, err, code
    for _ = 1, 100 do
      ok, err, code = session:append_audio(SILENCE)
      if not ok then break end
    end
    assert.is_nil(ok)
    assert.equal("busy", code)
    assert.matches("held until the model's tool call is answered", err, 1, true)
    -- the answer passes the bound: it is what lets the held input go
    assert(session:send_tool_result(part.call_id, { found = true }))
    helper.collect_turn(session)
    local conn = helper.open_connection()
    wait_until(function() return #positions(timeline(conn), "toolResponse") == 1 end)
    assert(session:append_audio(SILENCE))
  end)

  it("holds once for a Vertex call streamed in pieces under one id", function()
    local vclient = helper.vertex()
    helper.sim_post("/_sim/next", { behaviour = { partialArgs = true } })
    local session, part = call_by_hand(vclient)
    local conn = helper.open_connection()
    assert.is_true(#positions(timeline(conn), "call") > 1, "the call was not streamed")
    for _ = 1, 2 do assert(session:append_audio(SILENCE)) end
    realtime.sleep(0.2)
    assert.equal(0, audio_after_call(timeline(conn)))
    assert(session:send_tool_result(part.call_id, { found = true }))
    wait_until(function() return audio_after_call(timeline(conn)) == 2 end)
    local tl = timeline(conn)
    assert.is_true(positions(tl, "audio")[1] > positions(tl, "toolResponse")[1])
    vclient:close()
  end)

  it("takes an answer sent as is in snake_case as an answer", function()
    -- the API takes both spellings; one not known as an answer would wait behind the
    -- input held for it, or go and leave the input held
    local session, part = call_by_hand(client)
    for _ = 1, 3 do assert(session:append_audio(SILENCE)) end
    assert(session:send_wire(cjson.encode { tool_response = { function_responses = {
      { id = part.call_id, name = "lookup", response = { found = true } } } } }))
    local conn = helper.open_connection()
    wait_until(function() return audio_after_call(timeline(conn)) == 3 end)
    local tl = timeline(conn)
    assert.equal(1, #positions(tl, "toolResponse"))
    assert.is_true(positions(tl, "audio")[1] > positions(tl, "toolResponse")[1])
  end)

  it("tells what a close leaves unsent because it was held", function()
    local session = call_by_hand(client)
    for _ = 1, 4 do assert(session:append_audio(SILENCE)) end
    realtime.sleep(0.1)
    session:close()
    local seen = helper.to_end(session, 10)
    local err = seen.error
    assert.is_not_nil(err, "no error told the unsent messages")
    -- it ended at once: nothing timed out
    assert.equal("closed", err.code)
    assert.matches("^close: asked while the model waited for a tool call's answer %(4 messages, "
      .. "%d+ bytes, not sent: held until the model's tool call was answered%)$", err.message)
    assert.is_not_nil(seen.closed)
  end)
end)

-- Vertex calls without an id the binding can answer with: a call streamed in pieces
-- (partialArgs, willContinue) is one call, whatever pieces lack an id (the binding takes
-- them as the open stream's), and a call whose id is not a string is answered without one.
describe("a Vertex call without a string id", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  -- The kinds of the client's data messages the hostile server received, in order.
  local function received(tag)
    local kinds = {}
    for _, rec in ipairs(h:log(tag)) do
      for _, r in ipairs(rec.received) do
        local ok, msg = pcall(cjson.decode, r.text or "")
        if ok and type(msg) == "table" then
          local ri = msg.realtimeInput
          if msg.toolResponse then kinds[#kinds + 1] = "toolResponse"
          elseif ri and ri.audio then kinds[#kinds + 1] = "audio" end
        end
      end
    end
    return kinds
  end

  -- Connects a Vertex session to the hostile server sending frames (texts) after
  -- setupComplete; returns the session, its client and the connection's tag.
  local function vertex_sending(frames)
    for i, p in ipairs(frames) do frames[i] = helper.b64url(p) end
    local url, tag = h:base_url("send", { frames = table.concat(frames, ",") })
    local client = assert(realtime.vertex { base_url = url, access_token = "hostile-token",
      project = "p", location = "us-central1", ca_file = h.ca_file, model = "m" })
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { { name = "lookup", description = "find a thing", parameters = WEATHER } } })
    return session, client, tag
  end

  it("streamed in pieces holds the input until its one answer, then lets it go", function()
    local pieces = {
      '{"toolCall":{"functionCalls":[{"name":"lookup","willContinue":true}]}}',
      '{"toolCall":{"functionCalls":[{"name":"lookup","partialArgs":[{"jsonPath":"$.city",'
        .. '"stringValue":"Rome"}],"willContinue":true}]}}',
      '{"toolCall":{"functionCalls":[{"name":"lookup"}]}}',
    }
    local session, client, tag = vertex_sending(pieces)
    local done = helper.receive_until(session, "response_output_item_done")
    local part = done.item.content[1]
    assert.equal("function_call", part.type)
    assert.same({ city = "Rome" }, part.arguments)
    for _ = 1, 3 do assert(session:append_audio(SILENCE)) end
    realtime.sleep(0.2)
    assert.same({}, received(tag))
    assert(session:send_tool_result(part.call_id, { found = true }))
    wait_until(function() return #received(tag) == 4 end)
    assert.same({ "toolResponse", "audio", "audio", "audio" }, received(tag))
    session:close()
    client:close()
  end)

  it("holds for a call whose id is not a string, answered without one", function()
    -- the binding answers it without an id (after a protocol error): a call all the same
    local session, client, tag = vertex_sending {
      '{"toolCall":{"functionCalls":[{"id":5,"name":"lookup","args":{"city":"Rome"}}]}}' }
    local done = helper.receive_until(session, "response_output_item_done")
    for _ = 1, 3 do assert(session:append_audio(SILENCE)) end
    realtime.sleep(0.2)
    assert.same({}, received(tag))
    assert(session:send_tool_result(done.item.content[1].call_id, { found = true }))
    wait_until(function() return #received(tag) == 4 end)
    assert.same({ "toolResponse", "audio", "audio", "audio" }, received(tag))
    session:close()
    client:close()
  end)
end)
