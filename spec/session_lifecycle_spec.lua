-- The life of sessions and clients at awkward moments: a close that meets a lost
-- connection or a reconnect, sends after the end, a frame loop after client:close().
-- What the caller was told was sent is never lost without an error that says why.
local helper = require "spec.helper"
local realtime = require "realtime"

-- A fault on the newest open connection (the specs run one session at a time).
local function fault(f)
  helper.sim_post("/_sim/connections/" .. helper.open_connection().id, { fault = f })
end

-- Receives to the end; returns the first message of each type, the list and the seconds.
local function to_end(session, timeout)
  local t0 = realtime.now()
  local first, all = helper.to_end(session, timeout or 15)
  return first, all, realtime.now() - t0
end

-- Closes s, drops its connection while the close is under way, and receives to the end,
-- which must come at once, not at the close bound; returns the first message of each type.
local function close_then_drop(s)
  s:close()
  realtime.sleep(0.3)
  fault { type = "drop" }
  local first, _, took = to_end(s)
  assert.is_true(took < 4, "the end waited for the close bound")
  return first
end

describe("a close that meets a lost connection", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function() helper.close_clean(client) end)

  it("says the connection was lost during the flush, not that the close bound passed", function()
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
    fault { type = "stall" }                  -- the server stops reading: the flush backs up
    for _ = 1, 300 do assert(s:append_audio(string.rep("\0\0", 16000))) end
    local first = close_then_drop(s)
    assert.equal("closed", first.error.code)
    assert.matches("^close: the connection was lost before everything was written %(%d+ messages, %d+ bytes, not sent%)$",
      first.error.message)
    assert.equal(1006, first.closed.code)
  end)

  it("says the connection was lost before the server answered the close", function()
    local s = assert(client:connect { output_modalities = { "text" } })
    fault { type = "stall" }
    assert(s:send_text "hi")
    local first = close_then_drop(s)
    assert.equal("closed", first.error.code)
    assert.equal("close: the connection was lost before the server answered the close", first.error.message)
    assert.equal(1006, first.closed.code)
  end)

  it("while reconnecting counts what was not confirmed and what was queued meanwhile", function()
    local s = assert(client:connect { output_modalities = { "text" } })
    helper.receive_until(s, "session_resumption_update")   -- a handle to resume with
    fault { type = "stall" }
    assert(s:send_text "first")                -- written, never read: to be sent again
    realtime.sleep(0.2)
    helper.sim_post("/_sim/next", { count = 20, fault = { type = "refuse", status = 503 } })
    fault { type = "drop" }
    realtime.sleep(0.3)
    assert(s:send_text "second")               -- queued while the session reconnects
    s:close()
    local first, _, took = to_end(s)
    assert.is_true(took < 4, "the end waited for the close bound")
    assert.equal("closed", first.error.code)
    assert.equal(("close: asked while the session was reconnecting, after connection lost (1 message, "
      .. "%d bytes, not sent; 1 message, %d bytes, written before the connection was lost and not "
      .. "known to be received)"):format(#'{"realtimeInput":{"text":"second"}}',
        #'{"realtimeInput":{"text":"first"}}'), first.error.message)
    assert.equal(1000, first.closed.code)
    assert.equal("client closed", first.closed.reason)
  end)

  it("still says when the close bound passed", function()
    local s = assert(client:connect { output_modalities = { "text" }, close_timeout = 0.5 })
    fault { type = "stall" }
    for _ = 1, 300 do assert(s:append_audio(string.rep("\0\0", 16000))) end
    s:close()
    local first = to_end(s)
    assert.equal("timeout", first.error.code)
    assert.matches("^close: not everything was written within 0.5 s %(%d+ messages, %d+ bytes, not sent%)$",
      first.error.message)
  end)
end)

describe("a session that has ended", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("answers every send, one that sends nothing too, with nil, 'session closed', 'closed'", function()
    local s = assert(client:connect { output_modalities = { "text" } })
    fault { type = "close", code = 1008, reason = "policy" }   -- fatal: the server ends it
    assert.equal(1008, helper.drain(s).code)
    local sends = {
      { "send_text", "" }, { "send_text", "hi" }, { "append_audio", "" }, { "append_audio", "\0\0" },
      { "commit_audio" }, { "create_response" }, { "send_image", "\255\216" },
      { "send_wire", '{"x":1}' }, { "send", { type = "response_create" } },
      { "send", { type = "raw", wire = { x = 1 } } },
      -- sends that would be "unsupported" on an open session: closed is said first
      { "send", { type = "response_create", x = 1 } }, { "send", { type = "session_update" } },
    }
    for _, call in ipairs(sends) do
      local ok, err, code = s[call[1]](s, table.unpack(call, 2))
      assert.is_nil(ok, call[1] .. " returned " .. tostring(ok))
      assert.equal("session closed", err)
      assert.equal("closed", code)
    end
  end)

  it("is not open, and says so, before its closed message is read", function()
    local s = assert(client:connect { output_modalities = { "text" } })
    local queued
    fault { type = "close", code = 1008, reason = "policy" }
    local t0 = os.time()
    while s:is_open() and os.time() - t0 < 10 do
      require("realtime").sleep(0.01)   -- nothing read: the closed message waits
    end
    assert.is_false(s:is_open())
    assert.matches(" closed$", tostring(s))
    queued = s:stats().queued_bytes
    assert.equal(0, queued)
    assert.equal(1008, helper.drain(s).code)
    -- a session of a client that was closed, likewise
    local s2 = assert(client:connect { output_modalities = { "text" } })
    assert.is_true(s2:is_open())
    client:close()
    assert.is_false(s2:is_open())
    assert.matches(" closed$", tostring(s2))
  end)
end)

describe("client:close()", function()
  it("leaves each session's last messages to client:poll(), the closed one included", function()
    local client = helper.gemini()
    local a = assert(client:connect { output_modalities = { "text" } })
    local b = assert(client:connect { output_modalities = { "text" } })
    client:close()
    local closed = {}
    for _ = 1, 3 do
      for _, msg in ipairs(client:poll()) do
        if msg.type == "closed" then
          assert.is_nil(closed[msg.session], "two closed messages for one session")
          closed[msg.session] = msg
        end
      end
    end
    assert.equal(1001, closed[a] and closed[a].code)
    assert.equal("client freed", closed[a].reason)
    assert.equal(1001, closed[b] and closed[b].code)
    assert.same({}, client:poll())
  end)
end)

describe("a connect that is abandoned", function()
  after_each(function()
    collectgarbage "restart"
    helper.sim_request("DELETE", "/_sim/next")
  end)

  it("when realtime.run closes its coroutine after another failed, closes the session it was opening", function()
    local client = helper.gemini { max_sessions = 1 }
    helper.sim_post("/_sim/next", { count = 1, fault = { type = "delay", ms = 1500, setup = true } })
    collectgarbage "stop"          -- the collector would close it too, whenever it runs
    local ok, err = pcall(realtime.run, function()
      client:connect { output_modalities = { "text" } }
    end, function()
      realtime.sleep(0.2)
      error "boom"
    end)
    assert.is_false(ok)
    assert.matches("boom", err)
    -- its place is free as soon as its close is done; a connect right after waits for that
    -- close (no retry here: it said "busy" at once). Left open, the session would hold the
    -- place for good (the collector is stopped) and this connect would say "busy".
    local s, e = client:connect { output_modalities = { "text" }, timeout = 5 }
    collectgarbage "restart"
    assert(s, e)
    s:close()
    helper.drain(s)
    client:close()
  end)
end)

describe("a connect at max_sessions", function()
  after_each(function() helper.sim_request("DELETE", "/_sim/next") end)

  it("takes the place of a connect whose coroutine was dropped while it waited (collected, never closed)", function()
    local client = helper.gemini { max_sessions = 1 }
    helper.sim_post("/_sim/next", { count = 1, fault = { type = "delay", ms = 3000, setup = true } })
    local co = coroutine.create(function() return client:connect { output_modalities = { "text" } } end)
    assert(coroutine.resume(co))
    assert.equal("suspended", coroutine.status(co))   -- waiting for setupComplete
    co = nil                                           -- dropped, not closed
    local s, e = client:connect { output_modalities = { "text" }, timeout = 5 }
    assert(s, e)
    s:close()
    helper.drain(s)
    client:close()
  end)

  it("waits for the close of a session the collector freed while its close was under way", function()
    local client = helper.gemini { max_sessions = 1 }
    do
      local s1 <close> = assert(client:connect { output_modalities = { "text" }, resumption = false,
        close_timeout = 1 })
      -- the server stops answering: s1's close holds its place for its close_timeout
      helper.sim_post("/_sim/connections/" .. helper.open_connection().id, { fault = { type = "stall" } })
    end
    -- s1 is gone from Lua (its userdata freed); the core still closes it
    collectgarbage()
    collectgarbage()
    local s2, err, code = client:connect { output_modalities = { "text" }, timeout = 10 }
    assert(s2, ("%s (%s)"):format(err, code))
    s2:close()
    helper.drain(s2)
    client:close()
  end)

  it("waiting for a closing session's place, says busy once that close ended and another took it", function()
    local client = helper.gemini { max_sessions = 1 }
    local results, t0 = {}, realtime.now()
    realtime.run(function()
      local s1 = assert(client:connect { output_modalities = { "text" }, resumption = false,
        close_timeout = 1 })
      helper.sim_post("/_sim/connections/" .. helper.open_connection().id, { fault = { type = "stall" } })
      s1:close()
      for i = 1, 2 do
        realtime.spawn(function()
          local s, err, code = client:connect { output_modalities = { "text" }, timeout = 10 }
          results[i] = { s = s, err = err, code = code, t = realtime.now() - t0 }
          if s then
            -- holds the place a while: the other waits only for as long as a close is under way
            realtime.sleep(2)
            s:close()
            helper.drain(s)
          end
        end)
      end
    end)
    local got, busy = 0, nil
    for i = 1, 2 do
      if results[i].s then got = got + 1 else busy = results[i] end
    end
    assert.equal(1, got)
    assert.equal("busy", busy.code, busy.err)
    -- s1's close takes its close_timeout (1 s); the whole connect timeout is 10 s
    assert.is_true(busy.t < 6, ("busy after %.2f s"):format(busy.t))
    client:close()
  end)

  it("says busy at once when the session the collector freed had been closed (it held no place)", function()
    local client = helper.gemini { max_sessions = 1 }
    do
      local s1 = assert(client:connect { output_modalities = { "text" } })
      s1:close()
      helper.drain(s1)
    end
    local s2 = assert(client:connect { output_modalities = { "text" } })
    local t0 = realtime.now()
    local none, err, code = client:connect { output_modalities = { "text" }, timeout = 10 }
    assert.is_nil(none)
    assert.equal("busy", code, err)
    assert.is_true(realtime.now() - t0 < 1, ("busy after %.2f s"):format(realtime.now() - t0))
    s2:close()
    helper.drain(s2)
    client:close()
  end)
end)

describe("receiving while a tool handler waits", function()
  local WEATHER = { type = "object", properties = { city = { type = "string" } }, required = { "city" } }
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function()
    realtime.log(nil)
    client:close()
  end)

  local function weather(handler)
    return { { name = "get_weather", description = "weather", parameters = WEATHER, handler = handler } }
  end

  it("leaves the session's messages to the handler's receive: a frame loop gets them after, closed last", function()
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false,
      tools = weather(function() realtime.sleep(1); return { ok = true } end) })
    assert(s:send_text "What is the weather in Paris?")
    local order = {}
    realtime.run(function()
      for m in s:messages(3) do order[#order + 1] = m.type end
    end, function()
      realtime.sleep(0.5)                       -- the handler is waiting now
      fault { type = "close", code = 1011 }
      local t0 = realtime.now()
      while realtime.now() - t0 < 2.5 do
        for _, m in ipairs(client:poll()) do order[#order + 1] = m.type end
        realtime.sleep(0.02)
      end
    end)
    local at = {}
    for i, t in ipairs(order) do at[t] = at[t] or i end
    assert.equal(#order, at.closed, "closed is not the last message: " .. table.concat(order, " "))
    assert.is_true(at.response_created < at.error and at.response_done < at.error,
      "the call's messages came after the end: " .. table.concat(order, " "))
  end)

  it("client:poll() in a handler skips that session and loses nothing of the others", function()
    local other = assert(client:connect { output_modalities = { "text" } })
    local polled = {}
    local s = assert(client:connect { output_modalities = { "text" },
      tools = weather(function()
        assert(other:send_text "hello")
        realtime.sleep(0.5)                      -- the other session's reply is in meanwhile
        for _, m in ipairs(client:poll()) do polled[#polled + 1] = m end
        return { ok = true }
      end) })
    assert(s:send_text "What is the weather in Paris?")
    helper.receive_until(s, "response_output_item_done")
    local t0 = realtime.now()
    while realtime.now() - t0 < 2 do
      for _, m in ipairs(client:poll()) do polled[#polled + 1] = m end
      realtime.sleep(0.02)
    end
    local types = {}
    for _, m in ipairs(polled) do
      if m.session == other and m.type ~= "session_resumption_update" then types[#types + 1] = m.type end
    end
    local seen = table.concat(types, " ")
    assert.equal("response_created", types[1], seen)
    assert.equal("response_done", types[#types], seen)
    assert.matches("output_text_done", seen)
    s:close()
    other:close()
  end)

  it("raises in a finaliser that receives from a session while it reads a message", function()
    local s = assert(client:connect { output_modalities = { "audio" } })
    local raised, calls, misplaced = 0, 0, nil
    local live = true
    -- poll and receive are Lua around the C receive: the error names this file's line
    -- (the pcall's), not one of lua/realtime/session.lua
    local function arm()
      setmetatable({}, { __gc = function()
        if not live then return end
        calls = calls + 1
        for _, how in ipairs { "poll", "receive" } do
          local line, ok, err = debug.getinfo(1, "l").currentline, pcall(s[how], s, 0)
          if not ok and tostring(err):find("while it reads a server message", 1, true) then
            raised = raised + 1
            if not err:find("session_lifecycle_spec.lua:" .. line .. ": ", 1, true) then
              misplaced = misplaced or how .. ": " .. err
            end
          end
        end
        arm()
      end })
    end
    collectgarbage "restart"                 -- whatever an earlier spec left
    collectgarbage "collect"                 -- the cycle under way ends; the next are short
    arm()
    collectgarbage("incremental", 1, 1000)  -- cycles back to back: some end inside a read
    assert(s:send_text "tell me a long story please about many things")
    local n = 0
    for m in s:messages(3) do n = n + 1; if m.type == "response_done" then break end end
    live = false
    collectgarbage("incremental", 200, 100)
    assert.is_true(n > 0)
    -- some collections ran while an audio message was being read (it allocates); their
    -- poll raised instead of freeing the message under the reader (ASan saw it read freed
    -- memory before)
    assert.is_true(raised > 0, ("%d finalisers, none during a read"):format(calls))
    assert.is_nil(misplaced)
    s:close()
    helper.drain(s)
  end)

  it("raises in a handler that receives from its own session, and the model hears why", function()
    local s = assert(client:connect { output_modalities = { "text" },
      tools = weather(function(_, call) call.session:receive(0.2); return { ok = true } end) })
    assert(s:send_text "What is the weather in Paris?")
    local done = helper.receive_until(s, "response_output_item_done")
    assert.matches("inside a tool handler of this session", done.result.error, 1, true)
    s:close()
    helper.drain(s)
  end)

  it("hands over what a handler's coroutine held when that coroutine was closed", function()
    local waiting = false
    local s = assert(client:connect { output_modalities = { "text" },
      tools = weather(function() waiting = true; coroutine.yield(); return { ok = true } end) })
    assert(s:send_text "What is the weather in Paris?")
    local co = helper.suspend_in_handler(s, function() return waiting end)
    assert(coroutine.close(co))
    local seen = {}
    for m in s:messages(0.5) do seen[m.type] = true end
    assert.is_true(seen.response_output_item_done, "the call's messages were lost")
    assert.is_true(seen.response_done)
    s:close()
    helper.drain(s)
  end)
end)
