-- Sessions that outlive their connections: goAway, drops, transient closes, tool calls
-- across a reconnect. Each test checks against the simulator's record that every user
-- message was consumed exactly once (entries rolled back by a resume do not count).
local helper = require "spec.helper"

local open_connection = helper.open_connection

-- The session record for a connection id, with its consumed log.
local function sim_session(conn)
  return assert(helper.sim_get("/_sim/sessions/" .. conn.sessionId))
end

-- Counts consumed entries that stand (not rolled back), by type and by digest.
local function standing(record)
  local by_digest, by_type = {}, {}
  for _, e in ipairs(record.consumed) do
    if not e.rolledBack and e.type ~= "setup" then
      by_digest[e.digest] = (by_digest[e.digest] or 0) + 1
      by_type[e.type] = (by_type[e.type] or 0) + 1
    end
  end
  return by_digest, by_type
end

-- Receives until `pred(msg)` is true; asserts that no error or closed message comes.
local function until_msg(session, pred, timeout, seen)
  seen = seen or {}
  local deadline = os.time() + (timeout or 20)
  while true do
    local msg, err, code = session:receive(math.max(0.1, deadline - os.time()))
    assert(msg, ("waiting: %s (%s)"):format(tostring(err), tostring(code)))
    seen[#seen + 1] = msg
    assert(msg.type ~= "closed" and msg.type ~= "error",
      ("unexpected %s: %s %s"):format(msg.type, tostring(msg.message or msg.code), tostring(msg.reason or "")))
    if pred(msg) then return msg, seen end
  end
end

local function of_type(t) return function(m) return m.type == t end end

local function completed(m) return m.type == "response_done" and m.status == "completed" end

local function text_of(seen)
  local out = {}
  for _, m in ipairs(seen) do
    if m.type == "output_text_done" or m.type == "output_audio_transcription_done" then out[#out + 1] = m.text end
  end
  return table.concat(out, " ")
end

describe("resumption", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function() client:close() end)

  it("sends sessionResumption in the setup and keeps the conversation over a goAway", function()
    helper.sim_post("/_sim/next", { behaviour = { lifetime = 3, goAwayLead = 2 } })
    local session = assert(client:connect { output_modalities = { "text" } })
    local first = open_connection()
    assert.is_table(first.setup.sessionResumption)
    assert.is_nil(first.setup.sessionResumption.handle)
    assert(session:send_text "my name is Ada")
    until_msg(session, completed)
    local rec = until_msg(session, of_type "reconnected", 10)
    assert.equal("go_away", rec.reason)
    assert.equal(1, rec.attempt)
    local second = open_connection()
    assert.are_not.equal(first.id, second.id)
    assert.is_string(second.setup.sessionResumption.handle)
    assert.equal(first.sessionId, second.sessionId)
    -- the old connection was closed by us before the new one was opened
    local old = helper.sim_get("/_sim/connections/" .. first.id)
    assert.equal("client", old.closedBy)
    assert(session:send_text "recap please")
    local _, seen = until_msg(session, completed)
    assert.matches("my name is Ada", text_of(seen))
    assert.equal(1, session:stats().reconnects)
    local by_digest = standing(sim_session(second))
    assert.equal(1, by_digest["my name is Ada"])
    assert.equal(1, by_digest["recap please"])
    session:close()
    helper.drain(session)
  end)

  -- A session whose turn is done and whose handle covers it, told goAway in 0.5 s (read
  -- while the caller waits for it): it leaves the connection at once (the hand-off close,
  -- "resuming on a new connection"), before its go_away message can be read. The next
  -- connection answers its setup only 3 s late, so a close asked on go_away comes while
  -- the session is still reconnecting, however slow the caller. Returns the session.
  local function leaving(c)
    local realtime = require "realtime"
    local session = assert(c:connect { output_modalities = { "text" } })
    local conn, opened = open_connection(), realtime.now()
    assert(session:send_text "hello")
    until_msg(session, completed)
    until_msg(session, function(m) return m.type == "session_resumption_update" and m.handle end)
    helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 3000, setup = true } })
    helper.sim_post("/_sim/connections/" .. conn.id,
      { behaviour = { lifetime = realtime.now() - opened + 6.5, goAwayLead = 6 } })
    until_msg(session, of_type "go_away")
    return session
  end

  -- The messages after the close, to the end: the error (if any) and closed, nothing else.
  local function ending(session)
    local err, closed
    for msg in session:messages(10) do
      assert(msg.type == "error" or msg.type == "closed", "unexpected " .. msg.type)
      if msg.type == "error" then err = msg else closed = msg; break end
    end
    return err, assert(closed, "no closed message within 10 s")
  end

  it("a close asked while leaving after goAway is the owner's close, not the server's answer", function()
    local session = leaving(client)
    session:close()
    local err, closed = ending(session)
    assert.is_nil(err, err and err.message)
    assert.equal(1000, closed.code)
    assert.equal("client closed", closed.reason)
  end)

  it("a close asked while leaving after goAway counts what was sent meanwhile, as a close while reconnecting", function()
    local session = leaving(client)
    assert(session:send_text "data after goaway")
    session:close()
    local err, closed = ending(session)
    assert.is_table(err, "the message not sent was not told")
    assert.equal("closed", err.code)
    assert.matches("^close: asked while the session was reconnecting, after go_away "
      .. "%(1 message, %d+ bytes, not sent%)$", err.message)
    assert.equal(1000, closed.code)
    assert.equal("client closed", closed.reason)
  end)

  it("client:close() while a session leaves after goAway ends it as a client freed", function()
    local session = leaving(client)
    client:close()
    local err, closed = ending(session)
    assert.is_nil(err, err and err.message)
    assert.equal(1001, closed.code)
    assert.equal("client freed", closed.reason)
  end)

  it("on goAway in the middle of a model turn ends that response incomplete and answers again", function()
    -- real-time pacing makes the reply last longer than the goAway lead
    helper.sim_post("/_sim/next", { behaviour = { lifetime = 1.5, goAwayLead = 1.2, pace = "realtime" } })
    local session = assert(client:connect { output_modalities = { "audio" }, transcription = true })
    assert(session:send_text "please tell me a rather long story about the sea and the ships on it")
    local rec, seen = until_msg(session, of_type "reconnected", 15)
    assert.equal("go_away", rec.reason)
    local statuses = {}
    for _, m in ipairs(seen) do
      if m.type == "response_done" then statuses[#statuses + 1] = m.status end
    end
    assert.same({ "incomplete" }, statuses)
    local done = until_msg(session, of_type "response_done", 20)
    assert.equal("completed", done.status)
    local by_digest = standing(sim_session(open_connection()))
    assert.equal(1, by_digest["please tell me a rather long story about the sea and the ships on it"])
    session:close()
    helper.drain(session)
  end)

  it("leaves sooner when a second goAway brings the deadline forward", function()
    local realtime = require "realtime"
    -- the first goAway leaves 20 s for a turn that lasts several seconds at real-time pace
    helper.sim_post("/_sim/next", { behaviour = { lifetime = 21, goAwayLead = 20, pace = "realtime" } })
    local session = assert(client:connect { output_modalities = { "audio" } })
    local conn, opened = open_connection(), realtime.now()
    assert(session:send_text("please repeat this long sentence about the quick brown foxes " ..
      "jumping over many lazy dogs all day long and then all night long too"))
    local first = until_msg(session, of_type "go_away", 10)
    assert.is_true(first.time_left > 10)
    -- then one that leaves 3 s, and a close at that deadline: the session must leave
    -- before it (after 1.5 s), not wait for the first deadline or the turn's end
    helper.sim_post("/_sim/connections/" .. conn.id,
      { behaviour = { lifetime = realtime.now() - opened + 3.5, goAwayLead = 3 } })
    local rec = until_msg(session, of_type "reconnected", 15)
    assert.equal("go_away", rec.reason)
    local old = helper.sim_get("/_sim/connections/" .. conn.id)
    assert.equal("client", old.closedBy)
    assert.equal(1000, old.closeCode)
    session:close()
    helper.drain(session)
  end)

  -- goAway after the user's turn was transcribed and before the model's answer began: the
  -- turn is under way, so the session waits for the handle after it. Leaving at once
  -- resumed from the handle before the turn, which sent the turn again: the new
  -- connection transcribed it again and the caller got its transcript twice.
  it("on goAway between the user's transcript and the answer, finishes the turn before leaving", function()
    local realtime = require "realtime"
    local said, next_said = "what is the tallest mountain", "and the deepest lake"
    -- this connection answers 3 s after each turn; the turn's transcript goes out at once
    helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 3000 } })
    local session = assert(client:connect { output_modalities = { "audio" }, transcription = true })
    local conn, opened = open_connection(), realtime.now()
    assert(session:send_text(said))
    until_msg(session, of_type "input_audio_transcription_delta", 10)
    -- goAway now, with 8 s left: time for the turn (the session leaves after 6 s at most)
    helper.sim_post("/_sim/connections/" .. conn.id,
      { behaviour = { lifetime = realtime.now() - opened + 8, goAwayLead = 8 } })
    local rec, seen = until_msg(session, of_type "reconnected", 20)
    assert.equal("go_away", rec.reason)
    assert(session:send_text(next_said))
    local _, after = until_msg(session, completed, 20)
    local transcripts, statuses = {}, {}
    for _, list in ipairs { seen, after } do
      for _, m in ipairs(list) do
        if m.type == "input_audio_transcription_completed" then transcripts[#transcripts + 1] = m.text end
        if m.type == "response_done" then statuses[#statuses + 1] = m.status end
      end
    end
    assert.same({ said, next_said }, transcripts)
    assert.same({ "completed", "completed" }, statuses)
    assert.equal(0, session:stats().resent)
    -- the first connection's consumption of the turn stands (not rolled back by the resume)
    local first_turn = 0
    for _, e in ipairs(sim_session(conn).consumed) do
      if e.digest == said then
        assert.is_nil(e.rolledBack)
        first_turn = first_turn + 1
      end
    end
    assert.equal(1, first_turn)
    session:close()
    helper.drain(session)
  end)

  it("reconnects after a TCP drop in the middle of a turn", function()
    helper.sim_post("/_sim/next", { fault = { type = "drop", when = "turn", afterFrames = 1 } })
    local session = assert(client:connect { output_modalities = { "text" } })
    assert(session:send_text "one two three four five six seven")
    local rec, seen = until_msg(session, of_type "reconnected", 15)
    assert.matches("connection lost", rec.reason)
    local cut = 0
    for _, m in ipairs(seen) do
      if m.type == "response_done" then cut = cut + 1; assert.equal("incomplete", m.status) end
    end
    assert.equal(1, cut)
    local _, after = until_msg(session, completed)
    assert.matches("one two three four five six seven", text_of(after))
    local by_digest = standing(sim_session(open_connection()))
    assert.equal(1, by_digest["one two three four five six seven"])
    session:close()
    helper.drain(session)
  end)

  -- The drop comes after the user's turn was transcribed and before the model answered:
  -- the turn goes again and the new connection transcribes it again.
  for _, case in ipairs {
    { "audio", { output_modalities = { "audio" }, transcription = true }, 3 },
    { "text", { output_modalities = { "text" }, transcription = { input = true } }, 2 },
  } do
    it("completes the input transcript of the lost connection on its own, not glued to the one sent again (" .. case[1] .. ")", function()
      local said = "tell me about the seven brave dwarves"
      helper.sim_post("/_sim/next", { fault = { type = "drop", when = "turn", afterFrames = case[3] } })
      local session = assert(client:connect(case[2]))
      assert(session:send_text(said))
      local _, seen = until_msg(session, completed, 20)
      local completions, deltas, reconnected = {}, {}, false
      for _, m in ipairs(seen) do
        if m.type == "reconnected" then reconnected = true end
        if m.type == "input_audio_transcription_delta" then deltas[#deltas + 1] = m.text end
        if m.type == "input_audio_transcription_completed" then
          -- each completion is the deltas since the one before, once
          assert.equal(table.concat(deltas), m.text)
          deltas = {}
          completions[#completions + 1] = { text = m.text, after = reconnected }
        end
      end
      assert.is_true(reconnected)
      -- the lost connection's transcript ends before reconnected; the turn sent again is
      -- transcribed anew
      assert.same({ { text = said, after = false }, { text = said, after = true } }, completions)
      session:close()
      helper.drain(session)
    end)
  end

  it("reconnects after a 1011 close and goes on", function()
    helper.sim_post("/_sim/next", { fault = { type = "close", code = 1011, when = "turn" } })
    local session = assert(client:connect { output_modalities = { "text" } })
    assert(session:send_text "first words")
    local rec = until_msg(session, of_type "reconnected", 15)
    assert.matches("1011", rec.reason)
    until_msg(session, completed)
    assert(session:send_text "second words")
    until_msg(session, completed)
    local by_digest = standing(sim_session(open_connection()))
    assert.equal(1, by_digest["first words"])
    assert.equal(1, by_digest["second words"])
    session:close()
    helper.drain(session)
  end)

  it("says so when audio the bound let go of cannot be sent again after a drop", function()
    local realtime = require "realtime"
    local s = assert(client:connect { output_modalities = { "text" }, max_queue_bytes = 50000 })
    local conn = open_connection()
    local seen = {}
    for i = 1, 200 do
      s:append_audio(string.pack("<i2", i) .. string.rep("\0\0", 319))   -- "busy" while it reconnects
      if i == 100 then helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } }) end
      realtime.sleep(0.004)
      for m in function() return s:poll() end do seen[#seen + 1] = m end
    end
    local deadline = os.time() + 10
    while os.time() < deadline and s:stats().reconnects == 0 do
      local m = s:receive(0.2)
      if m then seen[#seen + 1] = m end
    end
    for m in function() return s:poll() end do seen[#seen + 1] = m end
    local told, reconnected
    for _, m in ipairs(seen) do
      if m.type == "error" then told = m end
      if m.type == "reconnected" then reconnected = m end
    end
    assert.is_table(reconnected)
    assert.is_true(s:stats().replay_dropped > 0)
    assert.is_table(told, "no error said that audio was let go of")
    assert.equal("busy", told.code)
    assert.matches("^reconnected: %d+ messages %(%d+ bytes%) written before the connection was lost "
      .. "were not kept to be sent again %(max_queue_bytes 50000%)", told.message)
    s:close()
  end)

  -- Gemini does not say what a handle holds: a message written while reading was paused
  -- (the reader behind) is taken as received with a turnComplete the server sent before
  -- it read that message. If the session then resumes from the handle of that turn, the
  -- message is gone from the server and not sent again: that must be told, not silent.
  it("tells at the reconnect of a message a late-read turn end took as received (reader behind)", function()
    local realtime = require "realtime"
    helper.sim_post("/_sim/next", { behaviour = { voice = "tone", pace = "realtime" } })
    local s = assert(client:connect { output_modalities = { "audio" }, max_receive_bytes = 65536 })
    local opened = realtime.now()
    local conn = open_connection()
    local function record() return sim_session(conn) end
    -- a reply (about 90 KB of audio) that the unread session pauses on, then its turn end
    -- and handle, which wait unread
    assert(s:send_text "a long question a long question")
    local deadline = os.time() + 20
    while #record().handles < 2 do
      assert(os.time() < deadline, "no handle after the first turn")
      realtime.sleep(0.05)
    end
    assert.is_true(s:stats().rx_pauses > 0)
    -- written after that handle; its reply (paced, about 20 s) outlasts the goAway below
    assert(s:send_text(("second question "):rep(25)))
    while record().consumedCount < 3 do
      assert(os.time() < deadline, "the second question was not consumed")
      realtime.sleep(0.05)
    end
    -- goAway now (the lifetime counts from the connection's start), the end in about 6 s
    helper.sim_post("/_sim/connections/" .. conn.id,
      { behaviour = { lifetime = realtime.now() - opened + 6, goAwayLead = 6 } })
    local told, reconnected
    deadline = os.time() + 20
    while not reconnected do
      assert(os.time() < deadline, "no reconnect after the goAway")
      local m = s:receive(0.5)
      if m and m.type == "error" and not m.message:find("^receiving paused") then told = m end
      if m and m.type == "reconnected" then reconnected = m end
    end
    -- the case: the session resumed from the first turn's handle, the second question lost
    local second = ("second question "):rep(25)
    local lost = true
    for _, e in ipairs(record().consumed) do
      if e.digest == second and not e.rolledBack then lost = false end
    end
    assert.is_true(lost, "the scenario did not lose the message: nothing to tell")
    assert.is_table(told, "the lost message was not told")
    assert.equal("busy", told.code)
    assert.matches("^reconnected: 1 message %(%d+ bytes%) written while receiving was paused "
      .. "%(max_receive_bytes 65536%) was taken as received", told.message)
    s:close()
    helper.drain(s)
  end)

  it("ends the session on 1007 without a retry", function()
    helper.sim_post("/_sim/next", { fault = { type = "close", code = 1007, when = "turn",
      reason = "Request contains an invalid argument." } })
    local before = #helper.connections()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert(session:send_text "hello")
    local err = helper.receive_until(session, "error")
    assert.equal("closed", err.code)
    assert.matches("^server closed the connection %(1007", err.message)
    local closed = helper.receive_until(session, "closed")
    assert.equal(1007, closed.code)
    assert.equal(0, session:stats().reconnects)
    assert.equal(before + 1, #helper.connections())
  end)

  for _, backend in ipairs { "gemini", "vertex" } do
    it("says that it was resuming when the server refuses the handle of a reconnect (" .. backend .. ")", function()
      local c = backend == "gemini" and client or helper.vertex()
      local session = assert(c:connect { output_modalities = { "text" } })
      assert(session:send_text "hello")
      until_msg(session, completed)
      until_msg(session, function(m) return m.type == "session_resumption_update" and m.handle end)
      -- the simulator drops the connection and forgets every session: the reconnect's
      -- setup names a handle it does not know, which it refuses with 1007
      helper.sim_post("/_sim/reset")
      local err = helper.receive_until(session, "error", 15)
      local closed = helper.receive_until(session, "closed", 10)
      local conns = helper.connections()
      assert.equal(1, #conns)
      assert.is_string(conns[1].setup.sessionResumption.handle)
      assert.equal("closed", err.code)
      assert.matches("^cannot resume the session after 1 attempt %(.-%): server closed the " ..
        "connection %(1007: Request contains an invalid argument%.%)", err.message)
      assert.equal(1007, closed.code)
      if c ~= client then c:close() end
    end)
  end

  it("keeps audio appended during a drop and replays what was not consumed (Vertex, transparent)", function()
    client:close()
    client = helper.vertex()
    local session = assert(client:connect { output_modalities = { "text" } })
    local conn = open_connection()
    assert.is_true(conn.setup.sessionResumption.transparent)
    -- every chunk differs (its digest names it): tones of rising pitch, and near-silence
    -- with a marker sample too quiet to count as speech
    local sent = 0
    local function chunk(kind)
      if kind == "tone" then return helper.tone(0.1, 16000, 0, 200 + 7 * sent) end
      return string.pack("<i2", sent) .. string.rep("\0\0", 1599)
    end
    local function stream(n, kind)
      for _ = 1, n do
        assert(session:append_audio(chunk(kind)))
        sent = sent + 1
      end
    end
    stream(10, "tone")
    stream(8, "silence")        -- a turn ends (500 ms of silence): a handle follows its reply
    until_msg(session, completed)
    stream(5, "tone")
    helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
    stream(5, "tone")         -- appended while the connection is going or gone
    stream(8, "silence")
    until_msg(session, of_type "reconnected", 15)
    until_msg(session, completed)
    local by_digest, by_type = standing(sim_session(open_connection()))
    for digest, n in pairs(by_digest) do
      assert.equal(1, n, "consumed more than once: " .. digest)
    end
    assert.equal(sent, by_type.audio)
    assert.is_true(session:stats().resent >= 1)
    session:close()
    helper.drain(session)
  end)

  it("answers a tool call that was pending when the connection dropped", function()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "lookup_order", description = "Look up an order",
                  parameters = { type = "object", properties = { id = { type = "string" } } } } },
    })
    assert(session:send_text 'call lookup_order {"id":"A1"}')
    local item = until_msg(session, function(m)
      return m.type == "response_output_item_done" and m.item.content[1].type == "function_call"
    end)
    local conn = open_connection()
    helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
    -- answered while the session reconnects: queued, never dropped
    assert(session:send_tool_result(item.item.content[1].call_id, { status = "shipped" }))
    until_msg(session, of_type "reconnected", 15)
    -- the resumed session asks again (the old call was rolled back with its turn)
    local text = {}
    local deadline = os.time() + 20
    while true do
      local m = until_msg(session, function() return true end, 20)
      if m.type == "response_output_item_done" and m.item.content[1].type == "function_call" then
        assert(session:send_tool_result(m.item.content[1].call_id, { status = "shipped" }))
      elseif m.type == "output_text_done" then
        text[#text + 1] = m.text
      elseif completed(m) and table.concat(text):find("result of lookup_order", 1, true) then
        break
      end
      assert(os.time() < deadline, "no answer after the tool result")
    end
    local by_digest, by_type = standing(sim_session(open_connection()))
    assert.equal(1, by_digest['call lookup_order {"id":"A1"}'])
    assert.is_true(by_type.toolResponse >= 1)
    session:close()
    helper.drain(session)
  end)
end)

-- A reconnect that resumes from before a tool call (the last handle came before it, or a
-- new session starts) voids the call: the server knows nothing of it and asks again under
-- a new id. The old call is withdrawn (tool_call_cancellation after reconnected) and its
-- handler's answer never reaches the wire; the new call is answered once.
describe("tool calls voided by a reconnect", function()
  local realtime = require "realtime"
  local WHERE = { type = "object", properties = { city = { type = "string" } }, required = { "city" } }

  -- The ids of every toolResponse the client wrote on connections from number `from` on.
  local function answered_ids(from)
    local ids = {}
    for i, conn in ipairs(helper.connections()) do
      if i >= from then
        for _, tr in ipairs(helper.client_messages("toolResponse", conn)) do
          for _, r in ipairs(tr.functionResponses) do ids[#ids + 1] = r.id end
        end
      end
    end
    return ids
  end

  -- Runs one session under realtime.run: `tool` is slow_book with its handler (which
  -- sleeps `nap` seconds; `on_call(n)` first), the user asks for it once; returns the
  -- messages until the model speaks the result, and the ids the handler was called with.
  local function run_case(client, opts, nap, on_call)
    local calls, seen = {}, {}
    local session
    opts.output_modalities = { "text" }
    opts.tools = { { name = "slow_book", description = "books slowly", parameters = WHERE,
      behavior = opts.behavior, handler = function(args, call)
        calls[#calls + 1] = call.id
        if on_call then on_call(#calls) end
        realtime.sleep(nap)
        return { booked = args.city }
      end } }
    opts.behavior = nil
    session = assert(client:connect(opts))
    realtime.run(function()
      assert(session:send_text 'call slow_book {"city":"Oslo"}')
      local deadline = realtime.now() + 20
      while true do
        local m = session:receive(math.max(0.1, deadline - realtime.now()))
        assert(m and m.type ~= "closed", "no result before the deadline")
        seen[#seen + 1] = m
        if m.type == "output_text_done" and m.text:find("result of slow_book", 1, true) then break end
      end
      realtime.sleep(nap)   -- the old handler has returned: its answer would be written now
      session:close()
      helper.drain(session)
    end)
    return seen, calls
  end

  -- Checks the messages: reconnected, then tool_call_cancellation of the first call; the
  -- wire holds one answer, the second call's.
  local function check(seen, calls, from)
    assert.equal(2, #calls)
    assert.same({ calls[2] }, answered_ids(from))
    local at
    for i, m in ipairs(seen) do
      if m.type == "reconnected" then at = i end
    end
    assert(at, "no reconnected message")
    local cancel = seen[at + 1]
    assert.equal("tool_call_cancellation", cancel.type)
    assert.same({ calls[1] }, cancel.call_ids)
    assert.is_true(cancel.reconnected)
  end

  local cases = {
    { "a non_blocking handler that waited (Gemini, drop after the call)", helper.clean_gemini, {} },
    { "a non_blocking handler that waited (Vertex, drop after the call)", function()
        helper.sim_request("DELETE", "/_sim/next")
        return helper.vertex()
      end, {} },
    { "a non_blocking handler that waited (new session: history before the first turn)",
      helper.clean_gemini, { history = { { role = "user", text = "my colour is green" },
                                         { role = "assistant", text = "noted" } } } },
  }
  for _, case in ipairs(cases) do
    it("withdraws the call of " .. case[1], function()
      local client = case[2]()
      local from = #helper.connections() + 1
      helper.sim_post("/_sim/next", { count = 1, fault = { type = "drop", when = "turn", afterFrames = 1 } })
      local opts = { behavior = "non_blocking" }
      for k, v in pairs(case[3]) do opts[k] = v end
      local seen, calls = run_case(client, opts, 1)
      helper.close_clean(client)
      check(seen, calls, from)
    end)
  end

  -- A call left to the caller, answered by hand right after the connection drops, before
  -- `reconnected` is read: the result is queued while the session reconnects.
  local function lookup_session(client, behavior)
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { { name = "lookup_order", description = "Look up an order", behavior = behavior,
                  parameters = { type = "object", properties = { id = { type = "string" } } } } } })
    assert(session:send_text 'call lookup_order {"id":"A1"}')
    local item = until_msg(session, function(m)
      return m.type == "response_output_item_done" and m.item.content[1].type == "function_call"
    end)
    return session, item.item.content[1].call_id
  end

  local voided_cases = {
    { "Gemini", helper.clean_gemini },
    { "Vertex, the call's arguments streamed in pieces", function()
        helper.sim_request("DELETE", "/_sim/next")
        helper.sim_post("/_sim/next", { count = 1, behaviour = { partialArgs = true } })
        return helper.vertex()
      end },
  }
  for _, case in ipairs(voided_cases) do
  it("does not send a result given during the reconnect for a call it voided (" .. case[1] .. ")", function()
    local client = case[2]()
    local from = #helper.connections() + 1
    -- blocking: the handle before the call is the one to resume from
    local session, old = lookup_session(client)
    helper.sim_post("/_sim/connections/" .. open_connection().id, { fault = { type = "drop" } })
    assert(session:send_tool_result(old, { status = "stale" }))
    local new, text, reconnected, cancelled = nil, {}, false, nil
    local deadline = os.time() + 20
    while true do
      local m = until_msg(session, function() return true end, 20)
      if m.type == "reconnected" then
        reconnected = true
      elseif m.type == "tool_call_cancellation" then
        cancelled = m
      elseif m.type == "response_output_item_done" and m.item.content[1].type == "function_call" then
        assert.is_true(reconnected)
        new = m.item.content[1].call_id
        assert(session:send_tool_result(new, { status = "shipped" }))
      elseif m.type == "output_text_done" then
        text[#text + 1] = m.text
      elseif completed(m) and table.concat(text):find("result of lookup_order", 1, true) then
        break
      end
      assert(os.time() < deadline, "no answer after the tool result")
    end
    assert.is_not_nil(new)
    assert.not_equal(old, new)
    assert.matches("shipped", table.concat(text))
    -- the caller is told that its answer does not count
    assert.is_table(cancelled, "no tool_call_cancellation")
    assert.same({ old }, cancelled.call_ids)
    assert.is_true(cancelled.reconnected)
    session:close()
    helper.drain(session)
    helper.close_clean(client)
    -- the old id never reached the wire: only the new call was answered
    assert.same({ new }, answered_ids(from))
  end)
  end

  it("still sends a result given during the reconnect for a call the resumed session holds", function()
    local client = helper.clean_gemini()
    local from = #helper.connections() + 1
    -- non_blocking: the model goes on, and the handle after its turn holds the call
    local session, old = lookup_session(client, "non_blocking")
    until_msg(session, function(m) return m.type == "session_resumption_update" and m.resumable end)
    helper.sim_post("/_sim/connections/" .. open_connection().id, { fault = { type = "drop" } })
    assert(session:send_tool_result(old, { status = "shipped" }))
    local seen = {}
    until_msg(session, of_type "reconnected", 15, seen)
    local ids
    for _ = 1, 50 do              -- up to 5 s for the result to be written
      ids = answered_ids(from)
      if #ids > 0 then break end
      realtime.sleep(0.1)
    end
    for _, m in ipairs(seen) do assert.not_equal("tool_call_cancellation", m.type) end
    session:close()
    helper.drain(session)
    helper.close_clean(client)
    assert.same({ old }, ids)
  end)

  it("keeps the answers to held calls in a tool response that also answers a voided one", function()
    local client = helper.clean_gemini()
    local from = #helper.connections() + 1
    local session = assert(client:connect { output_modalities = { "text" }, tools = {
      { name = "note", description = "Note a thing", behavior = "non_blocking",
        parameters = { type = "object", properties = { what = { type = "string" } } } },
      { name = "lookup_order", description = "Look up an order",
        parameters = { type = "object", properties = { id = { type = "string" } } } } } })
    local function next_call()
      return until_msg(session, function(m)
        return m.type == "response_output_item_done" and m.item.content[1].type == "function_call"
      end).item.content[1].call_id
    end
    -- a non_blocking call, held by the handle after the model's turn; then a blocking one
    assert(session:send_text 'call note {"what":"tea"}')
    local held = next_call()
    until_msg(session, function(m) return m.type == "session_resumption_update" and m.resumable end)
    assert(session:send_text 'call lookup_order {"id":"A1"}')
    local voided = next_call()
    helper.sim_post("/_sim/connections/" .. open_connection().id, { fault = { type = "drop" } })
    -- both answered in one toolResponse while the session reconnects
    assert(session:send { type = "conversation_item_create", item = { role = "user", content = {
      { type = "function_result", call_id = held, result = { noted = true } },
      { type = "function_result", call_id = voided, result = { status = "stale" } } } } })
    assert(session:send { type = "response_create" })
    local new = next_call()
    assert(session:send_tool_result(new, { status = "shipped" }))
    until_msg(session, function(m) return m.type == "output_text_done" and m.text:find("shipped", 1, true) end)
    session:close()
    helper.drain(session)
    helper.close_clean(client)
    local frames = {}
    for i, conn in ipairs(helper.connections()) do
      if i >= from then
        for _, tr in ipairs(helper.client_messages("toolResponse", conn)) do
          local ids = {}
          for _, r in ipairs(tr.functionResponses) do ids[#ids + 1] = r.id end
          frames[#frames + 1] = ids
        end
      end
    end
    assert.same({ { held }, { new } }, frames)
  end)

  it("withdraws a blocking call whose handler waited over the drop (handle before the call)", function()
    local client = helper.clean_gemini()
    local from = #helper.connections() + 1
    local seen, calls = run_case(client, {}, 1, function(n)
      if n == 1 then
        helper.sim_post("/_sim/connections/" .. helper.open_connection().id, { fault = { type = "drop" } })
      end
    end)
    helper.close_clean(client)
    check(seen, calls, from)
  end)
end)

describe("resumption with a token source", function()
  local dir, email = nil, "resume-runner@livesim-test.iam.gserviceaccount.com"
  local key

  lazy_setup(function()
    dir = helper.tmpdir()
    local code, out = helper.run(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/k.pem"
      .. " && openssl pkey -in %s/k.pem -pubout -out %s/k.pub"):format(dir, dir, dir))
    assert(code == 0, out)
    key = helper.read_file(dir .. "/k.pem")
    helper.sim_post("/_sim/service-accounts", { client_email = email, public_key = helper.read_file(dir .. "/k.pub") })
    code, out = helper.run(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/other.pem"
      .. " && openssl pkey -in %s/other.pem -pubout -out %s/other.pub"):format(dir, dir, dir))
    assert(code == 0, out)
  end)
  lazy_teardown(function()
    helper.sim_post("/_sim/tokens", { lifetime = 3600 })
    helper.run("rm -rf " .. helper.shell_quote(dir))
  end)

  -- A Vertex session whose service account's tokens live 3 s; its first connection.
  local function connected_with_short_tokens()
    helper.sim_request("DELETE", "/_sim/next")
    helper.sim_post("/_sim/tokens", { lifetime = 3 })
    local client = assert(require("realtime").vertex {
      project = "test-project", location = "us-central1", base_url = helper.sim_http,
      ca_file = helper.sim_ca, model = helper.vertex_model, credentials = {
        type = "service_account", project_id = "livesim-test", private_key_id = "kid-r",
        private_key = key, client_email = email, token_uri = helper.sim_http .. "/token" } })
    local session = assert(client:connect { output_modalities = { "text" } })
    local list = helper.sim_get "/_sim/connections?state=open"
    list = list.connections or list
    return client, session, list[#list]
  end

  -- The session answers on its new connection; then everything is closed (the token
  -- source's refresh thread too, now rather than at exit).
  local function still_answers(client, session)
    assert(session:send_text "still there")
    helper.receive_until(session, "response_done")
    session:close()
    helper.drain(session)
    local source = client:_props().token_source
    client:close()
    if source then source:close() end
  end

  it("reconnects with a fresh bearer token once the first one has expired", function()
    local client, session, first = connected_with_short_tokens()
    require("realtime").sleep(3.5)   -- the first token is no longer accepted
    helper.sim_post("/_sim/connections/" .. first.id, { fault = { type = "drop" } })
    local rec = helper.receive_until(session, { "reconnected", "error" }, 15)
    assert.equal("reconnected", rec.type)
    local list = helper.sim_get "/_sim/connections?state=open"
    list = list.connections or list
    local second = list[#list]
    local h1, h2 = first.headers.authorization, second.headers.authorization
    assert.is_string(h2)
    assert.not_equal(h1, h2)
    still_answers(client, session)
  end)

  it("counts a reconnect whose token fetch failed as an attempt, and tries again", function()
    local client, session, first = connected_with_short_tokens()
    -- the service no longer knows the key: every fetch from now on is refused
    helper.sim_post("/_sim/service-accounts", { client_email = email, public_key = helper.read_file(dir .. "/other.pub") })
    require("realtime").sleep(3.5)   -- the first token is no longer accepted
    helper.sim_post("/_sim/connections/" .. first.id, { fault = { type = "drop" } })
    require("realtime").sleep(1)     -- reconnects fail for want of a token meanwhile
    helper.sim_post("/_sim/service-accounts", { client_email = email, public_key = helper.read_file(dir .. "/k.pub") })
    local rec = helper.receive_until(session, { "reconnected", "error" }, 15)
    assert.equal("reconnected", rec.type, rec.message)
    assert.is_true(rec.attempt >= 2, "attempt " .. tostring(rec.attempt))
    still_answers(client, session)
  end)
end)

describe("context window compression", function()
  it("reaches the server's setup, with token numbers as strings", function()
    local client = helper.gemini()
    local s = assert(client:connect { output_modalities = { "text" },
                                      compression = { trigger_tokens = 20000, target_tokens = 10000 } })
    local list = helper.sim_get "/_sim/connections?state=open"
    list = list.connections or list
    local cwc = list[#list].setup.contextWindowCompression
    assert.equal("20000", tostring(cwc.triggerTokens))
    assert.equal("10000", tostring(cwc.slidingWindow.targetTokens))
    s:close()
    helper.drain(s)
    local s2 = assert(client:connect { output_modalities = { "text" }, compression = true })
    list = helper.sim_get "/_sim/connections?state=open"
    list = list.connections or list
    assert.same({ slidingWindow = {} }, list[#list].setup.contextWindowCompression)
    assert(s2:send_text "hello")
    assert.equal("completed", helper.receive_until(s2, "response_done").status)
    s2:close()
    helper.drain(s2)
    client:close()
  end)
end)
