-- The I/O engine against servers that push it: a flood of tiny messages read slowly, a
-- server that never reads, invalid UTF-8, a masked frame, an oversized message (each
-- failing the connection at once, answered or not), long messages written in fragments
-- while pings and pongs go between them, a fake setup answer, a server
-- that drops every connection after setup, closes while the server talks or never answers,
-- the session limit of a client, and a slow name lookup beside a busy session.
local helper = require "spec.helper"
local realtime = require "realtime"
local cjson = require "cjson"

local to_end = helper.to_end

local child = helper.child

describe("the engine", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  describe("receiving", function()
    it("holds a flood of tiny messages within max_receive_bytes, says it paused, and loses none", function()
      local n = 200000
      local client = h:client("flood_tiny", { n = n })
      local s = assert(client:connect { max_receive_bytes = 1048576, resumption = false })
      -- not reading: the engine fills up to the bound and stops there
      local peak = 0
      for _ = 1, 20 do
        realtime.sleep(0.05)
        local st = s:stats()
        if st.received_bytes > peak then peak = st.received_bytes end
      end
      local st = s:stats()
      assert.is_true(st.rx_pauses >= 1, "reading never paused")
      -- past the bound by one message (48 bytes) and the 'busy' error at most
      assert.is_true(peak <= 1048576 + 512, ("held %d bytes"):format(peak))
      assert.is_true(st.messages_received < n, "everything was read although nobody read it")
      -- now read: every message arrives, in order, with one 'busy' error among them
      local raws, busy = 0, 0
      while raws < n do
        local msg = assert(s:receive(10))
        if msg.type == "raw" then
          raws = raws + 1
        elseif msg.type == "error" then
          assert.equal("busy", msg.code)
          assert.matches("receiving paused", msg.message)
          busy = busy + 1
        else
          error("unexpected " .. msg.type .. ": " .. tostring(msg.message or msg.reason))
        end
      end
      assert.is_true(busy >= 1)
      assert.is_true(s:is_open())
      assert.equal(n + 1, s:stats().messages_received)   -- and setupComplete
      s:close()
      local seen = to_end(s)
      assert.equal(1000, seen.closed.code)
      client:close()
    end)

    it("does not take a paused reader for a dead peer", function()
      local url = h:base_url("flood_tiny", { n = 100000 })
      local status, out = child(([[
        local realtime = require "realtime"
        local client = assert(realtime.gemini { base_url = %q, api_key = "k", ca_file = %q,
                                                 model = "m" })
        local s = assert(client:connect { max_receive_bytes = 65536, resumption = false })
        realtime.sleep(5)   -- pings every 1 s, dead after 3 s of silence: but we are the slow ones
        local n, errs = 0, {}
        while n < 100000 do
          local msg = assert(s:receive(10))
          if msg.type == "raw" then n = n + 1
          elseif msg.type == "error" then errs[#errs + 1] = msg.code .. ": " .. msg.message
          else error(msg.type .. " " .. tostring(msg.reason)) end
        end
        print("read", n, s:is_open(), table.concat(errs, " | "))
        s:close()
        client:close()
      ]]):format(url, h.ca_file), { RT_TEST_PING_SECS = "1:2" })
      assert.equal(0, status, out)
      assert.matches("read\t100000\ttrue\tbusy: receiving paused", out)
      assert.not_matches("no pong", out)
    end)
  end)

  describe("protocol strictness", function()
    for _, case in ipairs {
      { mode = "bad_utf8", what = "a text frame with invalid UTF-8", says = "not UTF%-8", code = 1007 },
      { mode = "masked", what = "a masked server frame", says = "masked frame", code = 1002 },
    } do
      it(("fails %s with %d and a protocol error"):format(case.what, case.code), function()
        local client, tag = h:client(case.mode)
        local s = assert(client:connect { resumption = false })
        local seen = to_end(s)
        assert.equal("protocol", seen.error.code)
        assert.matches(case.says, seen.error.message)
        assert.equal(case.code, seen.closed.code)
        assert.equal(case.code, h:log(tag)[1].closeReceived.code)
        client:close()
      end)
    end

    -- RFC 6455 7.1.7: a client that fails the connection may close it at once. The old
    -- engine waited a fixed 1 s for the server's answer (which it ignored) before it hung
    -- up and told the caller; `mute` servers never answer and keep the socket open.
    -- The server's record of the connection tagged tag, once it has ended (or after
    -- `seconds`, as it stands then).
    local function ended_record(tag, seconds)
      local rec
      for _ = 1, seconds / 0.05 do
        rec = h:log(tag)[1]
        if rec.endedAt ~= cjson.null then break end
        realtime.sleep(0.05)
      end
      return rec
    end

    for _, case in ipairs {
      { mode = "oversize", code = 1009, opts = { max_message_bytes = 65536 } },
      { mode = "bad_utf8", code = 1007 },
      { mode = "masked", code = 1002 },
    } do
      it(("ends at once after failing with %d, unanswered"):format(case.code), function()
        local client, tag = h:client(case.mode, { mute = 1 })
        local opts = { resumption = false, close_timeout = 10 }
        for k, v in pairs(case.opts or {}) do opts[k] = v end
        local s = assert(client:connect(opts))
        local t0 = realtime.now()
        local seen = to_end(s)
        local took = realtime.now() - t0
        assert.equal("protocol", seen.error.code)
        assert.equal(case.code, seen.closed.code)
        assert.is_true(took < 0.75, ("error and closed came after %.2f s"):format(took))
        -- the close frame went out, and the socket was closed right after it
        local rec = ended_record(tag, 2.5)
        assert.equal(case.code, rec.closeReceived.code)
        assert.is_true(rec.endedAt ~= cjson.null, "the server still holds the connection")
        local held = (rec.endedAt - rec.closeReceived.at) / 1000
        assert.is_true(held < 0.75, ("the socket stayed open %.2f s after the close frame"):format(held))
        client:close()
      end)
    end

    -- RFC 6455 7.4.1: 1005, 1006 and 1015 never go in a close frame (they stand for "no
    -- code" and failures seen locally); below 1000, 1004, 1016-2999 and 5000 up are
    -- reserved or unassigned. Taken as sent, a 1006 read as a dropped connection and a
    -- 1005 as an empty close.
    it("fails a server close with a code no endpoint may send, with 1002", function()
      for _, code in ipairs { 1005, 1006, 1015, 999, 1004, 2999, 5000 } do
        local client, tag = h:client("close_reason", { code = code, reason_hex = "6f6b" })
        local s = assert(client:connect { resumption = false })
        local seen = to_end(s)
        assert.equal("protocol", seen.error and seen.error.code, code)
        assert.matches("close frame with an invalid code %(" .. code .. "%)", seen.error.message)
        assert.equal(1002, seen.closed.code)
        client:close()
        local rec = ended_record(tag, 2.5)
        assert.equal(1002, rec.closeReceived.code)
      end
    end)

    -- Once our close is out, the server's answer ends the handshake even when its code is
    -- one no endpoint may send: there is no 1002 to send, and closed keeps the code we sent.
    it("ends the close when the server answers it with an invalid code, and says so", function()
      for _, code in ipairs { 1006, 1005 } do
        local client, tag = h:client("own_close", { answer = 1, code = code })
        local s = assert(client:connect { resumption = false })
        s:close()
        local seen = to_end(s, 10)
        assert.equal("protocol", seen.error and seen.error.code, code)
        assert.equal("close: the server answered the close with an invalid code (" .. code .. ")",
                     seen.error.message)
        assert.equal(1000, seen.closed.code)
        client:close()
        local rec = ended_record(tag, 2.5)
        assert.equal(1000, rec.closeReceived.code)
      end
    end)

    -- Closing with unread input sends a reset, and the server's stack then drops what it
    -- had not read: the tail of our audio and the close frame. A server that keeps
    -- sending always has more unread on its way, so the hang-up must not cost it a byte.
    it("loses none of what it wrote when it fails a connection the server keeps flooding", function()
      local client, tag = h:client("flood_mixed", { n = 2000 })
      local s = assert(client:connect { resumption = false, max_message_bytes = 1024 })
      local chunk = ("\1\0"):rep(1600)
      local accepted, t0 = 0, realtime.now()
      while realtime.now() - t0 < 1 do
        if not s:append_audio(chunk) then break end   -- queue full, or the session ended
        accepted = accepted + 1
      end
      local seen = to_end(s)
      assert.equal("protocol", seen.error.code)
      assert.equal(1009, seen.closed.code)
      local unsent = tonumber(seen.error.message:match "%((%d+) messages, %d+ bytes, not sent%)") or 0
      client:close()   -- at once: a caller told the session ended may go (or exit)
      local rec = ended_record(tag, 5)
      assert.is_true(rec.endedAt ~= cjson.null, "the server still holds the connection")
      -- every accepted append was either read by the server or counted as not sent
      local received = rec.messages - 1   -- the setup
      assert.equal(accepted, received + unsent,
        ("%d accepted, the server read %d, %d counted as not sent"):format(accepted, received, unsent))
      assert.is_table(rec.closeReceived, "the close frame was lost: " .. cjson.encode(rec.notes))
      assert.equal(1009, rec.closeReceived.code)
    end)

    it("does not take a message that mentions setupComplete for the setup answer", function()
      local client = h:client "fake_setup"
      local s, err, code = client:connect { resumption = false, timeout = 5 }
      assert.is_nil(s)
      assert.equal("protocol", code)
      assert.matches("first server message is not setupComplete", err)
      client:close()
    end)

    it("gives up on a server that drops every connection right after setup", function()
      local client, tag = h:client("flap", { handle = 1 })
      local s = assert(client:connect { resumption = true })
      local seen, all = to_end(s, 60)
      local reconnects = 0
      for _, m in ipairs(all) do if m.type == "reconnected" then reconnects = reconnects + 1 end end
      -- each attempt reached setupComplete and got a handle, but no turn went through
      assert.is_true(reconnects <= 6, "reconnected " .. reconnects .. " times")
      assert.equal("closed", seen.error.code)
      assert.matches("cannot resume the session after 6 attempts", seen.error.message)
      assert.equal(7, #h:log(tag))   -- the first connection and six attempts
      client:close()
    end)
    it("resumes from a saved handle before the server has sent one", function()
      local client, tag = h:client "flap"   -- drops right after setup, never sends a handle
      local s = assert(client:connect { resumption = { handle = "saved-1" } })
      local seen, all = to_end(s, 60)
      local reconnects = 0
      for _, m in ipairs(all) do if m.type == "reconnected" then reconnects = reconnects + 1 end end
      assert.equal(6, reconnects)
      assert.matches("cannot resume the session after 6 attempts", seen.error.message)
      for _, rec in ipairs(h:log(tag)) do
        assert.equal("saved-1", rec.setup.sessionResumption.handle)
      end
      client:close()
    end)
  end)

  -- RFC 6455 5.4: a control frame may go between the fragments of a message, never inside
  -- a frame. The engine wrote a long message as one frame over many writes, and put a pong
  -- (or its own ping) at the top of the next write: inside the frame, which the server then
  -- misread, losing what followed. The `digest` server answers each text with its size and
  -- SHA-256, so a misread shows.
  describe("sending", function()
    local function sha256(text)
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(text)
      f:close()
      local p = assert(io.popen("env -u LD_PRELOAD sha256sum " .. path))
      local out = p:read "a"
      p:close()
      os.remove(path)
      return assert(out:match "^(%x+)")
    end

    -- The answers to `n` texts, in order (an error or the end stops it).
    local function answers(s, n)
      local got = {}
      while #got < n do
        local ev = s:receive(20)
        if not ev or ev.type == "closed" or ev.type == "error" then
          got[#got + 1] = ("%s: %s"):format(ev and ev.type, ev and (ev.message or ev.code))
          break
        end
        if ev.type == "output_text_done" then got[#got + 1] = ev.text end
      end
      return got
    end

    it("writes long messages intact while the server pings every 2 ms", function()
      local client, tag = h:client("digest", { ping_every = 2, pings = 3000 })
      local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
      realtime.sleep(0.05)   -- the pings have begun
      local want = {}
      for i = 1, 5 do
        local text = ("abcdefg" .. i):rep(400000)   -- 3.2 MB
        assert(s:send_text(text))
        want[i] = ("got %d %s"):format(#text, sha256(text))
      end
      assert.same(want, answers(s, 5))
      assert.is_true(#h:log(tag)[1].pongs > 0, "no pong came back")
      s:close()
      to_end(s)
      client:close()
    end)

    it("writes its keepalive ping between fragments while a slow reader takes a long message", function()
      -- the server reads nothing for 3 s: the ping, due after 1 s without a byte, goes out
      -- while the 9.6 MB message is still being written
      local client, tag = h:client("digest", { pause = 3000 }, { ping_interval = 1 })
      local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
      local text = ("abcdefgh"):rep(1200000)
      assert(s:send_text(text))
      assert.same({ ("got %d %s"):format(#text, sha256(text)) }, answers(s, 1))
      assert.is_true(#h:log(tag)[1].pings > 0, "no keepalive ping was written")
      s:close()
      to_end(s)
      client:close()
    end)
  end)

  describe("closing", function()
    it("flushes what was sent and closes with 1000 while the server is still talking", function()
      local client, tag = h:client("talk_on_close", { every = 2 })
      local s = assert(client:connect { resumption = false })
      for i = 1, 200 do assert(s:send_text(("message %d"):format(i))) end
      s:close()
      local seen = to_end(s)
      assert.is_nil(seen.error)
      assert.equal(1000, seen.closed.code)
      local rec = h:log(tag)[1]
      assert.equal(201, rec.messages)          -- the setup and all 200
      assert.equal(1000, rec.closeReceived.code)
      assert.equal("both", rec.endedBy)
      client:close()
    end)

    it("says so when the server closes on its own while the close is under way", function()
      -- a service closing at its deadline (1011) while our close still writes: what could
      -- not be written, and that the server never answered our close, is told. The server
      -- reads again once it has closed: its deadline leaves time for the appends and the
      -- close to be made first on a loaded machine (at 300 ms they were not, once)
      local client = h:client("own_close", { after = 1500 })
      local s = assert(client:connect { resumption = false })
      local chunk = ("\0\1"):rep(16000)
      for _ = 1, 100 do assert(s:append_audio(chunk)) end   -- more than loopback holds
      s:close()
      local seen = to_end(s, 10)
      assert.is_table(seen.error)
      assert.equal("closed", seen.error.code)
      assert.matches("close: the server closed the connection (1011: Deadline expired", seen.error.message, 1, true)
      assert.matches("not sent", seen.error.message, 1, true)
      assert.equal(1011, seen.closed.code)
      client:close()
    end)

    it("says so when the server answers the close with a close of its own", function()
      local client = h:client("own_close", { answer = 1 })
      local s = assert(client:connect { resumption = false })
      assert(s:send_text "hello")
      s:close()
      local seen = to_end(s, 10)
      assert.is_table(seen.error)
      assert.equal("closed", seen.error.code)
      assert.matches("(1011: Deadline expired before operation could complete.) instead of "
        .. "answering the close", seen.error.message, 1, true)
      assert.equal(1011, seen.closed.code)
      client:close()
    end)

    it("ends within close_timeout when the server never answers the close, and says so", function()
      local client, tag = h:client "no_close_reply"
      local s = assert(client:connect { resumption = false, close_timeout = 0.5 })
      assert(s:send_text "are you there")
      local t0 = realtime.now()
      s:close()
      local seen = to_end(s, 10)
      -- everything was written, but nothing confirms the server read it
      assert.equal("timeout", seen.error.code)
      assert.equal("close: the server did not answer the close within 0.5 s", seen.error.message)
      assert.equal(1000, seen.closed.code)
      assert.is_true(realtime.now() - t0 < 2)
      client:close()
      local rec = h:log(tag)[1]
      assert.equal(2, rec.messages)
      assert.equal(1000, rec.closeReceived.code)
    end)

    -- A session's end after close(), and its messages as text for a failure's message.
    local function close_ending(s)
      local t0 = realtime.now()
      s:close()
      local seen, all = to_end(s, 10)
      local got = {}
      for i, m in ipairs(all) do got[i] = ("%s %s %s"):format(m.type, m.code, m.message or m.reason) end
      return seen, table.concat(got, "; "), realtime.now() - t0
    end

    -- break_on_close breaks the connection under the WebSocket (a record that cannot
    -- decrypt on the TLS stream, or a TCP reset): the close handshake never completes, so
    -- the end is an error "closed" and closed 1006, as for a dropped connection, within a
    -- fraction of close_timeout (30 s)
    for _, how in ipairs { "garbage", "reset" } do
      it(("says the connection was lost when it breaks (%s) before the server answers the close"):format(how), function()
        local client, tag = h:client("break_on_close", { how = how })
        local s = assert(client:connect { resumption = false, close_timeout = 30 })
        assert(s:send_text "hello")
        local seen, got, took = close_ending(s)
        assert.is_table(seen.error, got)
        assert.equal("closed", seen.error.code, got)
        -- the cause, when the library knows it (a TLS failure), follows
        assert.matches("^close: the connection was lost before the server answered the close", seen.error.message)
        assert.equal(1006, seen.closed.code, got)
        assert.is_true(took < 5, got)
        client:close()
        assert.equal(1000, h:log(tag)[1].closeReceived.code)
      end)

      it(("says the connection was lost when it breaks (%s) before everything was written"):format(how), function()
        -- the server stops reading: the close is still writing when the connection breaks
        local client = h:client("break_on_close", { how = how, after = 300 })
        local s = assert(client:connect { resumption = false, close_timeout = 30 })
        local chunk = ("\0\1"):rep(16000)
        for _ = 1, 100 do assert(s:append_audio(chunk)) end   -- more than loopback holds
        local seen, got, took = close_ending(s)
        assert.is_table(seen.error, got)
        assert.equal("closed", seen.error.code, got)
        assert.matches("^close: the connection was lost before everything was written", seen.error.message)
        assert.matches("not sent)", seen.error.message, 1, true)
        if how == "garbage" then assert.matches("TLS record", seen.error.message, 1, true) end
        assert.equal(1006, seen.closed.code, got)
        assert.is_true(took < 5, got)
        client:close()
      end)
    end

    it("lets client:close() return once its sessions are closed, not at the close bound", function()
      -- The server's close answer was sometimes taken in lws's timer step, after which the
      -- I/O thread slept until its next timer: client:close() took close_timeout + 1 s.
      for _ = 1, 3 do
        local client = helper.gemini()
        local s = assert(client:connect { close_timeout = 20 })
        assert(s:append_audio(helper.tone(0.5, 16000, 0.6)))
        helper.receive_until(s, "response_done")
        s:close()
        local t0 = realtime.now()
        client:close()
        local took = realtime.now() - t0
        assert.is_true(took < 10, ("client:close() took %.1f s"):format(took))
        assert.equal(1000, helper.drain(s, 1).code)
      end
    end)

    it("reports what a server that never reads kept it from writing", function()
      local client, tag = h:client "never_read"
      local s = assert(client:connect { resumption = false, close_timeout = 0.5,
                                        max_queue_bytes = 1048576 })
      local chunk = string.rep("\1\0", 16000)
      local sent, busy, stuck = 0, nil, 0
      -- fill the socket's buffers, then the send queue, until it stays full for a second
      while stuck < 20 and sent < 5000 do
        local ok, err, code = s:append_audio(chunk)
        if ok then
          sent, stuck = sent + 1, 0
        else
          busy, stuck = { err, code }, stuck + 1
          realtime.sleep(0.05)
        end
      end
      assert.equal(20, stuck, "the queue never stayed full")
      assert.equal("busy", busy[2])
      assert.matches("send queue full", busy[1])
      local t0 = realtime.now()
      s:close()
      local seen = to_end(s, 10)
      assert.is_true(realtime.now() - t0 < 2)
      assert.equal("timeout", seen.error.code)
      assert.matches("not everything was written within 0.5 s %(%d+ messages, %d+ bytes, not sent%)",
                     seen.error.message)
      assert.truthy(seen.closed)
      assert.is_true(h:log(tag)[1].messages < sent + 1)
      client:close()
    end)

    -- A server that stops reading and then sends something (here bytes that break TLS, which
    -- the client cannot read while its writes are backed up): libwebsockets reads nothing
    -- while it holds output, the socket stays ready, and the close at the deadline (one of
    -- lws's own timers) waited seconds for lws's next timer: about 15 s for close_timeout 2.
    local function deaf_session(client)
      local s = assert(client:connect { resumption = false, close_timeout = 2 })
      local chunk = ("\0\1"):rep(16000)
      for _ = 1, 160 do assert(s:append_audio(chunk)) end   -- 5 MB, more than loopback holds
      return s
    end

    -- Mostly lws holds our writes and never reads the garbage: the close deadline ends the
    -- session ("timeout", closed with our code). But while the socket waits for room with
    -- nothing held by lws (the last write fitted whole), reading is on and the garbage is
    -- read: a connection lost during the close, or before it ("tls"), closed 1006.
    local function assert_deaf_end(seen, got, code)
      if seen.error.code == "timeout" then
        assert.matches("^close: not everything was written within 2 s %(%d+ messages, %d+ bytes, not sent%)$",
                       seen.error.message)
        assert.equal(code, seen.closed.code, got)
      elseif seen.error.code == "tls" then
        assert.matches("^TLS record", seen.error.message)
        assert.equal(1006, seen.closed.code, got)
      else
        assert.equal("closed", seen.error.code, got)
        assert.matches("^close: the connection was lost before everything was written: TLS record", seen.error.message)
        assert.equal(1006, seen.closed.code, got)
      end
    end

    it("ends within close_timeout when the server stops reading and its input cannot be read", function()
      local client = h:client("break_on_close", { after = 300, deaf = 1 })
      local s = deaf_session(client)
      local t0 = realtime.now()
      s:close()
      local seen, all = to_end(s, 30)
      local took = realtime.now() - t0
      local got = {}
      for i, m in ipairs(all) do got[i] = ("%s %s %s"):format(m.type, m.code, m.message or m.reason) end
      got = table.concat(got, "; ")
      assert.is_true(took < 5, ("close took %.1f s: %s"):format(took, got))
      assert_deaf_end(seen, got, 1000)
      client:close()
    end)

    it("does not spin while such a server's input waits behind our unsent output", function()
      -- lws reads nothing while it holds output the socket did not take; the socket stays
      -- readable (the garbage), and the I/O thread used to spin through its loop
      local client = h:client("break_on_close", { after = 300, deaf = 1 })
      local s = deaf_session(client)
      realtime.sleep(0.8)                          -- stopped reading; the garbage has come
      local cpu0, t0 = os.clock(), realtime.now()
      realtime.sleep(2)
      local cpu, wall = os.clock() - cpu0, realtime.now() - t0
      -- (when the garbage came just as a write had drained, it was read: the session ended
      -- with a TLS error, and there is nothing to spin on either way)
      assert.is_true(cpu < 0.3 * wall, ("%.2f s of CPU in %.2f s"):format(cpu, wall))
      s:close()
      to_end(s, 10)
      client:close()
    end)

    it("finds such a peer dead at the ping timeout, not seconds later", function()
      -- the dead-peer check closes the same way as the close deadline: pings every 1 s,
      -- dead after 3 s without a byte (the garbage is never read: lws holds our writes)
      local url = h:base_url("break_on_close", { after = 300, deaf = 1 })
      local status, out = child(([[
        local realtime = require "realtime"
        local client = assert(realtime.gemini { base_url = %q, api_key = "k", ca_file = %q,
                                                 model = "m" })
        local s = assert(client:connect { resumption = false })
        local chunk = ("\0\1"):rep(16000)
        for _ = 1, 160 do assert(s:append_audio(chunk)) end   -- 5 MB, more than loopback holds
        local t0, err = realtime.now(), nil
        for msg in s:messages(60) do
          if msg.type == "error" then err = msg.message end
          if msg.type == "closed" then break end
        end
        print(("ended after %%.1f s: %%s"):format(realtime.now() - t0, tostring(err)))
        client:close()
      ]]):format(url, h.ca_file), { RT_TEST_PING_SECS = "1:2", timeout = 90 })
      assert.equal(0, status, out)
      local took = tonumber(out:match "ended after ([%d.]+) s")
      assert.is_truthy(took, out)
      -- the garbage is read only when it came just as a write had drained (then a TLS
      -- error ends the session at once)
      assert.is_truthy(out:find("no pong for 3 s", 1, true) or out:find("TLS record", 1, true), out)
      assert.is_true(took < 8, out)
    end)

    it("lets client:close() end such a session at its close_timeout, with the timeout error", function()
      -- client:close() waits close_timeout + 1 s: before, the session's deadline did not
      -- take effect, and the wait's end cut it as a client freed before the close was done
      local client = h:client("break_on_close", { after = 300, deaf = 1 })
      local s = deaf_session(client)
      realtime.sleep(0.5)                     -- the garbage has come
      local t0 = realtime.now()
      client:close()
      local took = realtime.now() - t0
      local seen = to_end(s, 0)
      assert.is_true(took < 5, ("client:close() took %.1f s"):format(took))
      assert_deaf_end(seen, seen.error and seen.error.message, 1001)
    end)
  end)

  it("refuses a session beyond max_sessions with 'busy'", function()
    local client = h:client("setup_ok", nil, { max_sessions = 3 })
    local s = {}
    for i = 1, 3 do s[i] = assert(client:connect { resumption = false }) end
    local none, err, code = client:connect { resumption = false }
    assert.is_nil(none)
    assert.equal("busy", code)
    assert.equal("the client already holds max_sessions (3) sessions", err)
    s[1]:close()
    to_end(s[1])
    s[4] = assert(client:connect { resumption = false })   -- a place is free again
    client:close()
  end)

  it("frees the places of sessions dropped without close before it says 'busy'", function()
    local client = h:client("setup_ok", nil, { max_sessions = 2 })
    for _ = 1, 2 do assert(client:connect { resumption = false }) end   -- dropped at once
    local t0 = realtime.now()
    local s3 = assert(client:connect { resumption = false })
    assert.is_true(realtime.now() - t0 < 2)
    -- held ones still count: busy at once, with nothing the collector could free
    local s4 = assert(client:connect { resumption = false })
    t0 = realtime.now()
    local none, _, code = client:connect { resumption = false }
    assert.is_nil(none)
    assert.equal("busy", code)
    assert.is_true(realtime.now() - t0 < 1)
    s3:close()
    s4:close()
    client:close()
  end)

  it("waits for the place of a session whose close() is under way", function()
    local client = h:client("setup_ok", nil, { max_sessions = 1 })
    local s1 = assert(client:connect { resumption = false })
    s1:close()                                       -- its close ends on the I/O thread
    local s2, err = client:connect { resumption = false }
    assert.is_truthy(s2, err)
    -- a held session still counts: busy at once
    local t0 = realtime.now()
    local none, _, code = client:connect { resumption = false }
    assert.is_nil(none)
    assert.equal("busy", code)
    assert.is_true(realtime.now() - t0 < 1)
    s2:close()
    client:close()
  end)

  -- A preloaded shim that makes getaddrinfo of "localhost" take `seconds` (4 unless
  -- given; only its first call with `first`); returns the shared object's path and a
  -- function that removes it.
  local function slow_dns(first, seconds)
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. helper.shell_quote(dir)))
    local src = dir .. "/slowdns.c"
    local f = assert(io.open(src, "w"))
    f:write(([[
      #define _GNU_SOURCE
      #include <dlfcn.h>
      #include <netdb.h>
      #include <string.h>
      #include <unistd.h>
      static int calls;
      int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                      struct addrinfo **res)
      {
          int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
              (int (*)(const char *, const char *, const struct addrinfo *, struct addrinfo **))
                  dlsym(RTLD_NEXT, "getaddrinfo");
          if (node && strcmp(node, "localhost") == 0 && (!%d || __sync_fetch_and_add(&calls, 1) == 0))
              usleep(%d);
          return real(node, service, hints, res);
      }
    ]]):format(first and 1 or 0, math.floor((seconds or 4) * 1e6)))
    f:close()
    local so = dir .. "/slowdns.so"
    local st, out = helper.run(("cc -shared -fPIC -o %s %s -ldl"):format(helper.shell_quote(so),
      helper.shell_quote(src)))
    assert.equal(0, st, out)
    return so, function() os.execute("rm -rf " .. helper.shell_quote(dir)) end
  end

  it("resolves names off the I/O thread: a slow lookup does not stall a busy session", function()
    -- getaddrinfo of "localhost" takes 4 s in the child (a preloaded shim); 127.0.0.1 needs none
    local so, remove = slow_dns(false)
    local status, res = child(([[
      local realtime = require "realtime"
      local fast = assert(realtime.gemini { base_url = %q, api_key = %q, ca_file = %q, model = %q })
      local slow = assert(realtime.gemini { base_url = %q, api_key = %q, ca_file = %q, model = %q })
      local a = assert(fast:connect { output_modalities = { "text" } })
      local worst, b_ok = 0, nil
      realtime.run(function()
        b_ok = slow:connect { output_modalities = { "text" }, timeout = 10 } ~= nil
      end, function()
        local t_end = realtime.now() + 4.5
        while realtime.now() < t_end do
          local t0 = realtime.now()
          assert(a:send_text "ping")
          repeat local m = assert(a:receive(5)) until m.type == "response_done"
          worst = math.max(worst, realtime.now() - t0)
        end
      end)
      print(("worst %%.3f b_ok %%s"):format(worst, tostring(b_ok)))
      fast:close()
      slow:close()
    ]]):format(helper.sim_http, helper.sim_key, helper.sim_ca, helper.model,
               (helper.sim_http:gsub("127%.0%.0%.1", "localhost")), helper.sim_key, helper.sim_ca,
               helper.model), { preload = so })
    remove()
    assert.equal(0, status, res)
    local worst, b_ok = res:match "worst ([%d.]+) b_ok (%a+)"
    assert.is_not_nil(worst, res)
    assert.equal("true", b_ok)                 -- the slow session did connect, after its lookup
    -- a lookup on the I/O thread would hold a turn for the 4 s of the lookup
    assert.is_true(tonumber(worst) < 2.5, "a turn of the busy session took " .. worst .. " s")
  end)

  it("does not hold a connect behind another session's stuck lookup", function()
    -- the client's first lookup of "localhost" takes 4 s, the next ones none: the second
    -- connect, started while the first waits, is not queued behind it
    local so, remove = slow_dns(true)
    local status, res = child(([[
      local realtime = require "realtime"
      local client = assert(realtime.gemini { base_url = %q, api_key = %q, ca_file = %q, model = %q })
      local t0, took = realtime.now(), {}
      realtime.run(function()
        assert(client:connect { output_modalities = { "text" }, timeout = 10 })
        took.first = realtime.now() - t0
      end, function()
        realtime.sleep(0.2)                  -- the first lookup is under way
        assert(client:connect { output_modalities = { "text" }, timeout = 10 })
        took.second = realtime.now() - t0
      end)
      print(("first %%.2f second %%.2f"):format(took.first, took.second))
      client:close()
    ]]):format((helper.sim_http:gsub("127%.0%.0%.1", "localhost")), helper.sim_key, helper.sim_ca,
               helper.model), { preload = so })
    remove()
    assert.equal(0, status, res)
    local first, second = res:match "first ([%d.]+) second ([%d.]+)"
    assert.is_not_nil(first, res)
    assert.is_true(tonumber(first) >= 3.5, res)      -- the shim did stall the first lookup
    assert.is_true(tonumber(second) < 2.5, res)
  end)

  it("drops the queued lookups of connects that timed out: a later connect is not held", function()
    -- every lookup of "localhost" takes 1.5 s, four at a time; 16 connects give up after
    -- 0.3 s. Their lookups still queued used to run all the same, four waves of 1.5 s
    -- ahead of the next connect's (7 s); now only the four under way are waited for.
    local so, remove = slow_dns(false, 1.5)
    local status, res = child(([[
      local realtime = require "realtime"
      local client = assert(realtime.gemini { base_url = %q, api_key = %q, ca_file = %q, model = %q })
      local fns, gave_up = {}, 0
      for i = 1, 16 do
        fns[i] = function()
          local s, _, code = client:connect { output_modalities = { "text" }, timeout = 0.3 }
          assert(not s and code == "timeout", code)
          gave_up = gave_up + 1
        end
      end
      realtime.run(table.unpack(fns))
      local t0 = realtime.now()
      local s, err = client:connect { output_modalities = { "text" }, timeout = 5 }
      print(("gave_up %%d next %%s after %%.2f"):format(gave_up, s and "ready" or tostring(err),
        realtime.now() - t0))
      if s then s:close() end
      client:close()
    ]]):format((helper.sim_http:gsub("127%.0%.0%.1", "localhost")), helper.sim_key, helper.sim_ca,
               helper.model), { preload = so, timeout = 60 })
    remove()
    assert.equal(0, status, res)
    assert.is_truthy(res:match "gave_up 16 next ready after", res)
  end)
end)
