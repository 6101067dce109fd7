-- Session ids and saved resumption handles against the simulator: session.id,
-- connect{ resumption = { handle = ... } } (an app restart), session:resumption_handle(),
-- and a reconnect of such a session, whose setup must carry one handle, the newest.
local helper = require "spec.helper"
local realtime = require "realtime"

-- Asks the simulator for a recap of the user's turns; returns its text.
local function recap(session)
  assert(session:send_text "recap please")
  return helper.reply_text(session)
end

-- Checks that no answer comes within 1.5 s (history the model must not answer).
local function no_answer(session)
  local msg = session:receive(1.5)
  assert.is_nil(msg and msg.type == "output_text_done" and msg.text or nil)
end

-- Receives until a session_resumption_update with a handle; returns the handle.
local function next_handle(session)
  while true do
    local msg = helper.receive_until(session, "session_resumption_update")
    if msg.handle then return msg.handle end
  end
end

-- Waits (within 5 s) for session:resumption_handle() to give a handle, without reading
-- messages; returns it, or nil.
local function wait_handle(session)
  local handle, t0 = session:resumption_handle(), realtime.now()
  while not handle and realtime.now() - t0 < 5 do
    realtime.sleep(0.02)
    handle = session:resumption_handle()
  end
  return handle
end

local HISTORY = { { role = "user", text = "my name is Bob" }, { role = "assistant", text = "hi Bob" } }

describe("session.id", function()
  it("is Vertex's setupComplete.sessionId, the same after a resumption", function()
    local client = helper.vertex()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert.is_string(session.id)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", session.id)
    assert.equal(helper.open_connection().sessionId, session.id)
    local handle = next_handle(session)
    session:close()
    helper.drain(session)
    local again = assert(client:connect { output_modalities = { "text" }, resumption = { handle = handle } })
    assert.equal(session.id, again.id)
    again:close()
    helper.drain(again)
    client:close()
  end)

  it("is nil on the Gemini API, which sends none", function()
    local client = helper.gemini()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert.is_nil(session.id)
    session:close()
    helper.drain(session)
    client:close()
  end)
end)

for _, backend in ipairs { "gemini", "vertex" } do
  describe("a saved resumption handle (" .. backend .. ")", function()
    local client
    before_each(function() client = backend == "gemini" and helper.gemini() or helper.vertex() end)
    after_each(function()
      client:close()
      collectgarbage()
    end)

    it("resumption_handle() gives the latest; a new session started from it goes on with the conversation", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send_text "my favourite colour is green")
      helper.reply_text(session)
      local handle = next_handle(session)
      assert.equal(handle, session:resumption_handle())
      session:close()
      helper.drain(session)
      assert.equal(handle, session:resumption_handle(), "still readable after close, to be saved")

      local resumed = assert(client:connect { output_modalities = { "text" }, resumption = { handle = handle } })
      assert.equal(handle, helper.open_connection().setup.sessionResumption.handle)
      -- at first the saved handle, unless the server's newer one (with setupComplete) came
      -- already: nothing is sent yet, so both hold everything
      local first = resumed:resumption_handle()
      assert.is_true(first == handle or first == next_handle(resumed), "the saved handle, or the server's newer one")
      assert.matches("my favourite colour is green", recap(resumed))
      assert.are_not.equal(handle, resumed:resumption_handle(), "the server gave a new one")
      resumed:close()
      helper.drain(resumed)
    end)

    it("a session started from a saved handle reconnects with the newest handle only", function()
      local first = assert(client:connect { output_modalities = { "text" } })
      assert(first:send_text "remember the number 7")
      helper.reply_text(first)
      local saved = next_handle(first)
      first:close()
      helper.drain(first)

      local session = assert(client:connect { output_modalities = { "text" }, resumption = { handle = saved } })
      local conn = helper.open_connection()
      assert(session:send_text "and the number 8")
      helper.reply_text(session)
      local newest = next_handle(session)
      assert.are_not.equal(saved, newest)
      helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
      local rec = helper.receive_until(session, "reconnected", 15)
      assert.equal(1, rec.attempt)
      local again = helper.open_connection()
      assert.are_not.equal(conn.id, again.id)
      -- the simulator parses the setup as JSON.parse does (the last of two keys wins):
      -- an old handle left behind would have rolled the session back
      assert.equal(newest, again.setup.sessionResumption.handle)
      local text = recap(session)
      assert.matches("remember the number 7", text)
      assert.matches("and the number 8", text)
      session:close()
      helper.drain(session)
    end)

    it("resumption_handle() never gives a handle that lacks what was sent; after a turn, the one that holds it", function()
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send_text "remember the colour blue")
      helper.receive_until(session, "response_done")
      -- the handle that holds the turn comes just after response_done; it is known before
      -- its update is read, and an older one that lacks the turn is never given meanwhile
      local handle = wait_handle(session)
      assert.is_string(handle)
      assert.equal(handle, next_handle(session), "the handle its update brings")
      -- a send that no handle holds yet: none until one does. The simulator holds its
      -- reply for 1.5 s: it answers at once otherwise, and a check made a millisecond late
      -- (this thread descheduled, a ThreadSanitizer build) rightly got the newer handle
      -- of the reply's turn, which holds the send.
      helper.sim_post("/_sim/connections/" .. helper.open_connection().id,
                      { fault = { type = "delay", ms = 1500 } })
      assert(session:send_text "and the number 8")
      assert.is_nil(session:resumption_handle())
      helper.reply_text(session)
      handle = wait_handle(session)
      assert.is_string(handle)
      session:close()
      helper.drain(session)
      assert.equal(handle, session:resumption_handle(), "still readable after close, to be saved")

      local resumed = assert(client:connect { output_modalities = { "text" }, resumption = { handle = handle } })
      local text = recap(resumed)
      assert.matches("remember the colour blue", text)
      assert.matches("and the number 8", text)
      resumed:close()
      helper.drain(resumed)
    end)

    it("resumption_handle() gives no handle that lacks the history; one after a turn holds it", function()
      local s = assert(client:connect { output_modalities = { "text" }, history = HISTORY })
      -- the simulator gives a handle right after setupComplete, before the history came in
      -- (Vertex: its lastConsumedClientMessageIndex is 0, the setup only)
      local early = helper.receive_until(s, "session_resumption_update")
      assert.is_string(early.raw.sessionResumptionUpdate.newHandle)
      assert.is_nil(early.handle)
      assert.is_nil(s:resumption_handle())
      assert(s:send_text "my colour is green")
      helper.reply_text(s)
      local handle = next_handle(s)
      assert.equal(handle, s:resumption_handle())
      s:close()
      helper.drain(s)
      local resumed = assert(client:connect { output_modalities = { "text" }, resumption = { handle = handle } })
      local text = recap(resumed)
      assert.matches("my name is Bob", text)
      assert.matches("my colour is green", text)
      resumed:close()
      helper.drain(resumed)
    end)

    it("refuses a resumption table without a handle", function()
      assert.has_error(function() client:connect { resumption = {} } end,
        "option 'resumption': expected true, false or { handle = \"...\" }")
      assert.has_error(function() client:connect { resumption = { handle = "" } } end,
        "option 'resumption.handle': expected a non-empty string, got ''")
      assert.has_error(function() client:connect { resumption = { hande = "x" } } end, "unknown option 'resumption.hande' (did you mean 'resumption.handle'?)")
    end)
  end)
end

describe("what a reconnect sends again", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function() helper.close_clean(client) end)

  local function drop(conn)
    helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
  end

  it("history lost before a turn completed goes again as history, in a new session", function()
    local s = assert(client:connect { output_modalities = { "text" }, history = HISTORY })
    local conn = helper.open_connection()
    -- its state may lack the history: resumed, the history would be a question (and the
    -- update says so: no handle in it)
    assert.is_nil(helper.receive_until(s, "session_resumption_update").handle)
    drop(conn)
    helper.receive_until(s, "reconnected", 15)
    local again = helper.open_connection()
    assert.same({}, again.setup.sessionResumption, "a new session")
    -- the history comes again, so the setup announces it again
    assert.same({ initialHistoryInClientContent = true }, again.setup.historyConfig)
    assert.equal(1, #helper.client_messages("clientContent", again))
    no_answer(s)
    assert.matches("my name is Bob", recap(s))
    assert.equal(1, s:stats().resent)
    s:close()
    helper.drain(s)
  end)

  it("Vertex: history the handles do not hold yet goes again as history, in a new session", function()
    local vertex = helper.vertex()
    local s = assert(vertex:connect { output_modalities = { "text" }, history = HISTORY })
    local conn = helper.open_connection()
    -- its lastConsumedClientMessageIndex is 0: the handle lacks the history
    assert.is_nil(helper.receive_until(s, "session_resumption_update").handle)
    drop(conn)
    helper.receive_until(s, "reconnected", 15)
    local again = helper.open_connection()
    assert.same({ transparent = true }, again.setup.sessionResumption, "a new session")
    assert.equal(1, #helper.client_messages("clientContent", again))
    no_answer(s)
    assert.matches("my name is Bob", recap(s))
    s:close()
    helper.drain(s)
    vertex:close()
  end)

  -- A turn the server answers and gives a handle for, then a drop: the connection the
  -- session resumed on, with a handle.
  local function turn_then_resume(s, conn)
    assert(s:send_text "my colour is green")
    helper.reply_text(s)
    next_handle(s)
    drop(conn)
    helper.receive_until(s, "reconnected", 15)
    local again = helper.open_connection()
    assert.is_string(again.setup.sessionResumption.handle)
    return again
  end

  it("history is not sent into a resumed session once a turn completed after it", function()
    local s = assert(client:connect { output_modalities = { "text" }, history = HISTORY })
    local conn = helper.open_connection()
    assert.same({ initialHistoryInClientContent = true }, conn.setup.historyConfig)
    local again = turn_then_resume(s, conn)
    assert.same({}, helper.client_messages("clientContent", again))
    -- nor announced: the service would hold every input until a history that never comes
    assert.is_nil(again.setup.historyConfig)
    no_answer(s)
    local text = recap(s)
    assert.matches("my name is Bob", text)
    assert.matches("my colour is green", text)
    s:close()
    helper.drain(s)
  end)

  it("a raw history_config (snake_case) is not announced to a resumed session either", function()
    -- no `history` option: no camelCase twin to merge into, the setup carries it as written
    local s = assert(client:connect { output_modalities = { "text" },
      raw = { history_config = { initial_history_in_client_content = true } } })
    local conn = helper.open_connection()
    assert(s:send_wire '{"clientContent":{"turns":[{"role":"user","parts":[{"text":"my name is Bob"}]}],"turnComplete":true}}')
    local again = turn_then_resume(s, conn)
    assert.is_nil(again.setup.historyConfig)
    assert.is_nil(again.setup.history_config)
    -- answered: the service does not hold the input for a history that never comes
    local text = recap(s)
    assert.matches("my name is Bob", text)
    assert.matches("my colour is green", text)
    s:close()
    helper.drain(s)
  end)

  it("history cannot be given with a saved handle", function()
    assert.has_error(function()
      client:connect { resumption = { handle = "h" }, history = { { role = "user", text = "x" } } }
    end, "option 'history': cannot be given with resumption = { handle = ... }: the resumed "
      .. "session has its conversation already, and the service would answer the history as "
      .. "a new question")
    -- an empty history is nothing to answer
    local s = client:connect { output_modalities = { "text" }, resumption = { handle = "h" }, history = {} }
    if s then s:close(); helper.drain(s) end
  end)

  it("manual activity: a turn whose activityStart gave way to max_queue_bytes is opened again", function()
    local s = assert(client:connect { output_modalities = { "text" }, vad = { enabled = false },
      max_queue_bytes = 65536 })
    local conn = helper.open_connection()
    local chunk = helper.tone(0.1, 16000)
    for _ = 1, 30 do
      assert(s:append_audio(chunk))
      s:receive(0.01)   -- written as it goes, kept for replay within the bound
    end
    -- everything written: the replay keeps only what fits, its activityStart given way
    local t0 = realtime.now()
    while s:stats().replay_dropped == 0 and realtime.now() - t0 < 5 do s:receive(0.01) end
    assert.is_true(s:stats().replay_dropped > 0)
    drop(conn)
    helper.receive_until(s, "reconnected", 15)
    -- the replay fills the queue to its bound until it is written: "busy" until then
    local ok, err, code = s:append_audio(chunk)
    t0 = realtime.now()
    while not ok and code == "busy" and realtime.now() - t0 < 5 do
      s:receive(0.01)
      ok, err, code = s:append_audio(chunk)
    end
    assert(ok, err)
    assert(s:commit_audio())
    local _, msgs = helper.reply_text(s)
    for _, m in ipairs(msgs) do assert.are_not.equal("closed", m.type, m.reason) end
    local first = helper.client_messages("realtimeInput", helper.open_connection())[1]
    assert.is_table(first.activityStart)
    s:close()
    helper.drain(s)
  end)
end)

describe("manual activity and messages sent as they are", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function() helper.close_clean(client) end)

  it("an audio item while appended audio waits for commit_audio raises; after it, it goes", function()
    local s = assert(client:connect { output_modalities = { "text" }, vad = { enabled = false } })
    local pcm = helper.tone(0.2, 16000)
    assert(s:append_audio(pcm))
    local item = { type = "conversation_item_create",
      item = { role = "user", content = { { type = "audio", data = pcm } } } }
    helper.raises("call commit_audio() first", s.send, s, item)
    assert(s:commit_audio())
    helper.reply_text(s)
    assert(s:send(item))
    helper.reply_text(s)
    -- the item closed its own activity: the next append opens a new one
    assert(s:append_audio(pcm))
    assert(s:commit_audio())
    local _, msgs = helper.reply_text(s)
    for _, m in ipairs(msgs) do assert.are_not.equal("closed", m.type, m.reason) end
    local kinds = {}
    for _, m in ipairs(helper.client_messages "realtimeInput") do
      kinds[#kinds + 1] = m.activityStart and "start" or m.activityEnd and "end" or "audio"
    end
    assert.equal("start audio end start audio end start audio end", table.concat(kinds, " "))
    s:close()
    helper.drain(s)
  end)

  -- however the caller spaced or spelled it (the API takes snake_case too)
  for _, wire in ipairs { '{"realtimeInput":{"activityEnd":{}}}',
                          '{ "realtimeInput" : { "activityEnd" : { } } }\n',
                          '{"realtime_input":{"activity_end":{}}}' } do
    it("an activityEnd sent as is ends the appended turn: " .. wire, function()
      local s = assert(client:connect { output_modalities = { "text" }, vad = { enabled = false } })
      local pcm = helper.tone(0.2, 16000)
      assert(s:append_audio(pcm))
      assert(s:send_wire(wire))
      helper.reply_text(s)
      assert.is_true(s:stats().first_audio == nil)   -- text output: no audio to time
      assert(s:append_audio(pcm))                      -- a new activity, with its start
      assert(s:commit_audio())
      helper.reply_text(s)
      local starts = 0
      for _, m in ipairs(helper.client_messages "realtimeInput") do
        if m.activityStart then starts = starts + 1 end
      end
      assert.equal(2, starts)
      s:close()
      helper.drain(s)
    end)
  end

  it("an activityStart sent as is, spaced, inside the appended turn raises", function()
    local s = assert(client:connect { output_modalities = { "text" }, vad = { enabled = false } })
    assert(s:append_audio(helper.tone(0.2, 16000)))
    helper.raises("call commit_audio() first", s.send_wire, s, '{ "realtimeInput": { "activityStart": {} } }')
    assert(s:commit_audio())
    helper.reply_text(s)
    s:close()
    helper.drain(s)
  end)
end)
