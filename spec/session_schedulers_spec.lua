-- Receiving in coroutines: cqueues controllers, realtime.run and a frame loop, plus the
-- one-receiver rule and a handler that yields.
local helper = require "spec.helper"
local realtime = require "realtime"

local text_turn = helper.text_turn

describe("receiving", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("under cqueues: three sessions finish their turns side by side", function()
    local cqueues = require "cqueues"
    local cq = cqueues.new()
    local done = {}
    for i = 1, 3 do
      cq:wrap(function()
        local s = assert(client:connect { output_modalities = { "text" } })
        done[i] = text_turn(s, "cqueues session " .. i)
        s:close()
      end)
    end
    local ok, err = cq:loop(30)
    assert(ok, err)
    for i = 1, 3 do assert.matches("cqueues session " .. i, done[i]) end
  end)

  it("under cqueues: a tool handler that yields", function()
    local cqueues = require "cqueues"
    local cq = cqueues.new()
    local slept = false
    cq:wrap(function()
      local s = assert(client:connect { output_modalities = { "text" }, tools = {
        { name = "get_weather", parameters = { type = "object", properties = { city = { type = "string" } },
          required = { "city" } },
          handler = function(args)
            cqueues.sleep(0.05)      -- yields to the controller from inside the dispatch
            slept = true
            return { city = args.city, celsius = 3 }
          end },
      } })
      assert(s:send_text "What is the weather in Bergen?")
      local result
      for msg in s:messages(20) do
        if msg.type == "response_output_item_done" then result = msg.result end
        if msg.type == "response_done" and result then break end
      end
      assert.same({ city = "Bergen", celsius = 3 }, result)
      s:close()
    end)
    local ok, err = cq:loop(30)
    assert(ok, err)
    assert.is_true(slept)
  end)

  it("under realtime.run: three sessions without cqueues", function()
    local done = {}
    local fns = {}
    for i = 1, 3 do
      fns[i] = function()
        local s = assert(client:connect { output_modalities = { "text" } })
        done[i] = text_turn(s, "run session " .. i)
        s:close()
      end
    end
    assert.is_true(realtime.run(table.unpack(fns)))
    for i = 1, 3 do assert.matches("run session " .. i, done[i]) end
  end)

  it("from a frame loop calling client:poll() while a coroutine streams audio", function()
    local session = assert(client:connect { vad = { enabled = false }, transcription = true })
    local pcm = helper.tone(0.4)
    local producer = coroutine.wrap(function()
      for i = 1, #pcm, 640 do
        assert(session:append_audio(pcm:sub(i, i + 639)))
        coroutine.yield()
      end
      assert(session:commit_audio())
    end)
    local frames, seen_done, audio = 0, false, 0
    while not seen_done and frames < 60 * 30 do
      frames = frames + 1
      if frames <= #pcm // 640 + 1 then producer() end
      for _, msg in ipairs(client:poll()) do
        assert.equal(session, msg.session)
        if msg.type == "output_audio_delta" then audio = audio + #msg.audio end
        if msg.type == "response_done" then seen_done = true end
      end
      realtime.sleep(1 / 60)
    end
    assert.is_true(seen_done)
    assert.is_true(audio > 0)
  end)

  it("client:poll() visits the sessions with messages, those a receive left behind too", function()
    local idle = {}
    for i = 1, 20 do idle[i] = assert(client:connect { resumption = false }) end
    local session = assert(client:connect { output_modalities = { "text" }, resumption = false })
    assert(session:send_text("leave some behind"))
    -- One frame maps to several messages: receive() returns the first and keeps the
    -- rest. Stop at the text's end: what follows it may already be mapped and waiting,
    -- with nothing left in the core's queue to show it.
    local msg
    repeat msg = assert(session:receive(20)) until msg.type == "output_text_done"
    realtime.sleep(0.3)       -- the turn's last frames have arrived by now
    local got, deadline = {}, realtime.now() + 10
    while not got.response_done and realtime.now() < deadline do
      for _, m in ipairs(client:poll()) do
        assert.equal(session, m.session)
        got[m.type] = (got[m.type] or 0) + 1
      end
      realtime.sleep(0.01)
    end
    assert.equal(1, got.response_done)
    assert.is_nil(got.output_text_done)
    for _, s in ipairs(idle) do assert.is_nil(s:poll()) end
  end)

  it("under realtime.run: a task that yields plainly every pass does not starve a receive", function()
    local took
    realtime.run(function()
      local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
      local stop = false
      realtime.spawn(function()      -- a frame-loop task: yields on every pass, never waits
        while not stop do coroutine.yield() end
      end)
      local t0 = realtime.now()
      assert(s:send_text "hello")
      local msg = assert(s:receive(10))
      took = realtime.now() - t0
      stop = true
      assert.equal("response_created", msg.type)
      s:close()
    end)
    -- the answer is there in milliseconds; before, it waited for the receive's deadline
    assert.is_true(took < 2, ("the receive took %.2f s"):format(took))
  end)

  it("under realtime.run: an error value that is a number comes back as it is", function()
    local ok, err = pcall(realtime.run, function() error(404) end)
    assert.is_false(ok)
    assert.equal(404, err)
  end)

  it("under realtime.run: a coroutine closed while it waits has finished, not failed", function()
    -- The loop kept a closed coroutine in its wait set: it waited on its session for
    -- ever (nothing else due), or resumed it when the session or deadline came due and
    -- raised "cannot resume dead coroutine".
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local waits = {
      receive = function() s:receive() end,   -- no deadline: the loop polls its fd alone
      sleep = function() realtime.sleep(1) end,
      connect = function()
        helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 2000, setup = true } })
        client:connect { output_modalities = { "text" }, resumption = false, timeout = 10 }
      end,
    }
    for how, wait in pairs(waits) do
      local a, closed
      local ok, err = pcall(realtime.run, function()
        a = coroutine.running()
        wait()
        error("resumed after it was closed")
      end, function()
        realtime.sleep(0.2)
        closed = assert(coroutine.close(a))
        -- an answer that makes the closed receive's session readable: the old loop
        -- resumed the dead coroutine for it rather than wait without end
        if how == "receive" then assert(s:send_text "hello") end
      end)
      helper.sim_request("DELETE", "/_sim/next")
      assert.is_true(closed, how)
      assert.is_true(ok, how .. ": " .. tostring(err))
      assert.is_true(err, how)
    end
    s:close()
  end)

  it("under cqueues: a non_blocking handler closed while it waits has finished", function()
    -- The coroutine passing its yields to the controller resumed it after it was
    -- closed, and the controller's loop failed with "cannot resume dead coroutine".
    local cqueues = require "cqueues"
    local cq = cqueues.new()
    local handler_co, resumed = nil, false
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false, tools = {
      { name = "slow_book", description = "books slowly", behavior = "non_blocking",
        handler = function()
          handler_co = coroutine.running()
          realtime.sleep(1)
          resumed = true
          return { booked = true }
        end },
    } })
    cq:wrap(function()
      assert(s:send_text "call slow_book {}")
      local done = helper.receive_until(s, "response_output_item_done")
      assert.is_true(done.running)
      cqueues.sleep(0.2)   -- the controller has run the coroutine passing the handler's yields
      assert(coroutine.close(handler_co))
    end)
    local ok, err = cq:loop(10)
    assert(ok, err)
    assert.is_false(resumed)
    s:close()
  end)

  it("under cqueues: realtime.run in a coroutine of the controller lets the others run", function()
    -- run blocked the whole controller until its coroutines ended: its receive here
    -- waited out its timeout for the answer to a send that the controller's next
    -- coroutine would have made at once
    local cqueues = require "cqueues"
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local cq = cqueues.new()
    local waiting, got, err, spawned = false, nil, nil, nil
    cq:wrap(function()
      assert(realtime.run(function()
        waiting = true
        got, err = s:receive(10)
      end))
    end)
    cq:wrap(function()
      while not waiting do cqueues.sleep(0.01) end
      assert(s:send_text "hello")
      -- the run's loop is not this coroutine's: spawn still says where it works
      spawned = table.pack(pcall(realtime.spawn, function() end))
    end)
    assert(cq:loop(20))
    assert.equal("response_created", got and got.type, err)
    assert.is_false(spawned[1])
    assert.matches("call it inside realtime.run", spawned[2], 1, true)
    s:close()
    helper.drain(s)
  end)

  it("under realtime.run: a run inside one of its coroutines lets the others run", function()
    -- the inner run blocked the outer loop until it ended: its receive waited out its
    -- timeout for the answer to a send that the outer loop's other coroutine would make
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local waiting, got, err, spawned = false, nil, nil, false
    assert.is_true(realtime.run(function()
      assert(realtime.run(function()
        waiting = true
        got, err = s:receive(10)
      end))
    end, function()
      while not waiting do realtime.sleep(0.01) end
      assert(s:send_text "hello")
      -- while the inner run waits, spawn here adds to the outer loop, whose coroutine this is
      realtime.spawn(function() spawned = true end)
    end))
    assert.equal("response_created", got and got.type, err)
    assert.is_true(spawned)
    s:close()
    helper.drain(s)
  end)

  it("under realtime.run: a nested run's error carries one traceback, the innermost", function()
    -- the outer loop appended its own traceback (of the coroutine that called the inner
    -- run) to the inner one's; a non-string error was logged twice
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local function nested(value)
      return pcall(realtime.run, function()
        realtime.run(function()
          assert(s:send_text "hello")
          assert(s:receive(10))     -- waits through the outer loop before failing
          error(value)
        end)
      end)
    end
    local ok, err = nested("inner failure")
    assert.is_false(ok)
    assert.matches("inner failure", err, 1, true)
    local _, count = err:gsub("stack traceback:", "")
    assert.equal(1, count, err)
    local logged = {}
    realtime.log(function(level, text) if level == "error" then logged[#logged + 1] = text end end)
    local value = { reason = "inner" }
    ok, err = nested(value)
    realtime.log(nil)
    assert.is_false(ok)
    assert.equal(value, err)
    assert.equal(1, #logged, table.concat(logged, "\n----\n"))
    s:close()
    helper.drain(s)
  end)

  -- a non_blocking handler that waits goes on beside the receive; one whose run fails
  -- at once ends inside it
  -- A tool whose handler runs a realtime.run that fails with err (after a sleep when
  -- waits), called once under realtime.run: the toolResponse the simulator received, and
  -- what was logged at level "error".
  local function failed_run_in_handler(behavior, waits, err)
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false, tools = {
      { name = "book", description = "books", behavior = behavior ~= "blocking" and behavior or nil,
        handler = function()
          realtime.run(function()
            if waits then realtime.sleep(0.05) end
            error(err)
          end)
        end },
    } })
    local logged = {}
    realtime.log(function(level, text) if level == "error" then logged[#logged + 1] = text end end)
    realtime.run(function()
      assert(s:send_text "call book {}")
      helper.receive_until(s, "response_output_item_done")
      -- the tool response is what the model answers
      for msg in s:messages(10) do
        if msg.type == "output_text_done" then break end
      end
    end)
    realtime.log(nil)
    local conns = helper.connections()
    local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
    local sent
    for _, f in ipairs(frames) do
      if f.dir == "in" and f.text:find('"toolResponse"', 1, true) then sent = f.text end
    end
    s:close()
    helper.drain(s)
    return sent, logged
  end

  for _, case in ipairs { { "blocking", true }, { "non_blocking", true }, { "non_blocking", false } } do
    local behavior, waits = case[1], case[2]
    local how = waits and "waiting" or "failing at once"
    it(("under realtime.run: a failed run in a %s handler (%s) gives the model its message alone")
        :format(behavior, how), function()
      -- the handler's traceback was cut off, the run's inside the message was not: the
      -- model read a stack traceback (source paths), and the log had two
      local sent, logged = failed_run_in_handler(behavior, waits, "no rooms left")
      assert.matches("no rooms left", sent, 1, true)
      assert.is_nil(sent:find("traceback", 1, true), sent)
      assert.equal(1, #logged, table.concat(logged, "\n----\n"))
      local _, count = logged[1]:gsub("stack traceback:", "")
      assert.equal(1, count, logged[1])
      assert.matches("no rooms left", logged[1], 1, true)
    end)

    -- the same with an error object (a table): the run logs it with its traceback, and the
    -- dispatch logged the handler's failure with a second one
    it(("under realtime.run: a run failed with an error object in a %s handler (%s) logs one traceback")
        :format(behavior, how), function()
      local sent, logged = failed_run_in_handler(behavior, waits, { reason = "no rooms left" })
      assert.matches('"response":{"error":"(error object is a table value)"}', sent, 1, true)
      local all = table.concat(logged, "\n----\n")
      local _, count = all:gsub("stack traceback:", "")
      assert.equal(1, count, all)
      assert.matches("realtime.run: a coroutine failed: table", all, 1, true)
    end)
  end

  it("under cqueues: closing a handler that waits in realtime.run closes the run's coroutines", function()
    -- a run that waits through the controller can be left there: its coroutines'
    -- to-be-closed variables must run then, as when the run ends by an error
    local cqueues = require "cqueues"
    local cq = cqueues.new()
    local handler_co, released = nil, false
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false, tools = {
      { name = "slow_book", description = "books slowly", behavior = "non_blocking",
        handler = function()
          handler_co = coroutine.running()
          realtime.run(function()
            local _ <close> = setmetatable({}, { __close = function() released = true end })
            realtime.sleep(5)
          end)
          return { booked = true }
        end },
    } })
    cq:wrap(function()
      assert(s:send_text "call slow_book {}")
      local done = helper.receive_until(s, "response_output_item_done")
      assert.is_true(done.running)
      cqueues.sleep(0.2)   -- the handler waits in its run's sleep
      assert.is_false(released)
      assert(coroutine.close(handler_co))
    end)
    assert(cq:loop(10))
    assert.is_true(released)
    s:close()
  end)

  it("connect waiting for a max_sessions place: a client closed meanwhile gives nil, 'closed'", function()
    local c = helper.gemini { max_sessions = 1 }
    local res
    realtime.run(function()
      local s1 = assert(c:connect { output_modalities = { "text" }, resumption = false, close_timeout = 3 })
      -- the server stops answering: s1's close holds its place while it runs
      local conn = helper.connections()[#helper.connections()]
      helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "stall" } })
      s1:close()
      realtime.spawn(function() realtime.sleep(0.3); c:close() end)
      res = table.pack(pcall(c.connect, c, { output_modalities = { "text" }, timeout = 5 }))
    end)
    assert.is_true(res[1], tostring(res[2]))
    assert.is_nil(res[2])
    assert.equal("closed", res[4], tostring(res[3]))
  end)

  it("a negative timeout (-math.huge too) waits not at all, under cqueues, realtime.run and none", function()
    local cqueues = require "cqueues"
    -- no resumption: the server sends nothing until asked
    local session = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local function waits()
      for _, t in ipairs { -math.huge, -1, -0.0 } do
        realtime.sleep(t)
        local msg, _, code = session:receive(t)
        assert.is_nil(msg)
        assert.equal("timeout", code)
        for _ in session:messages(t) do error("a message came") end
      end
      return true
    end
    -- under cqueues: -math.huge went to cqueues.poll as "no timeout" and slept for good
    local cq, done = cqueues.new(), false
    cq:wrap(function() done = waits() end)
    assert(cq:loop(5))
    assert.is_true(done, "under cqueues a negative wait did not return")
    done = false
    realtime.run(function() done = waits() end)
    assert.is_true(done)
    assert.is_true(waits())
    session:close()
    helper.drain(session)
  end)

  it("allows one receiver per session at a time", function()
    local session = assert(client:connect { resumption = false })
    local co = coroutine.create(function() return session:receive(5) end)
    coroutine.resume(co)     -- waits: yields to the unknown scheduler (us)
    assert.equal("suspended", coroutine.status(co))
    assert.has_error(function() session:receive(0.01) end, "another receive is already waiting on this session")
    -- raised at the caller's line, through the messages loop as well (it named a line of
    -- lua/realtime/session.lua); one line each: the line a function is defined on is its call's
    local receivers = {
      receive = function() session:receive(0.01) end,
      messages = function() for _ in session:messages(0.01) do end end,
    }
    for how, receive in pairs(receivers) do
      local ok, err = pcall(receive)
      assert.is_false(ok, how)
      local line = debug.getinfo(receive, "S").linedefined
      assert.matches("session_schedulers_spec.lua:" .. line .. ": another receive", err, 1, true)
    end
    co = nil
    collectgarbage()
    collectgarbage()
    -- the abandoned receiver is gone: receiving works again
    local msg, err, code = session:receive(0.05)
    assert.is_nil(msg)
    assert.equal("timeout", code, err)
  end)

  it("client:poll() leaves out a session that a receive elsewhere waits on", function()
    -- a frame loop's poll beside a coroutine's receive took that receive's messages: it
    -- waited on, and timed out, with nothing said
    local session = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local types = {}
    local co = coroutine.create(function()
      for msg in session:messages(10) do
        types[#types + 1] = msg.type
        if msg.type == "response_done" then return end
        coroutine.yield()
      end
    end)
    coroutine.resume(co)     -- waits: yields to the unknown scheduler (us)
    assert(session:send_text "poll beside a receive")
    assert(require("realtime.core").poll_fds({ session:pollfd() }, 10), "no answer came")
    assert.same({}, client:poll())
    while coroutine.status(co) == "suspended" do assert(coroutine.resume(co)) end
    assert.equal("response_created", types[1])
    assert.equal("response_done", types[#types])
  end)

  it("times out with nil, 'timed out', 'timeout'", function()
    local session = assert(client:connect { resumption = false })
    local msg, err, code = session:receive(0.05)
    assert.is_nil(msg)
    assert.equal("timed out", err)
    assert.equal("timeout", code)
    assert.is_nil(session:poll())
  end)
end)
