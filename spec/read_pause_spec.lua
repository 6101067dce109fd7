-- The read pause (max_receive_bytes) against a hostile server that floods: a close while
-- reading is paused ends with the server's answer, within the bound, and counts what it
-- did not keep; a reader that stays a little behind is told of the pause once, not at
-- every pause.
local helper = require "spec.helper"
local realtime = require "realtime"
local cjson = require "cjson"

local LIMIT = 65536

describe("the read pause", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  -- The server's record of the connection tagged tag once it has ended (or after `seconds`).
  local function ended_record(tag, seconds)
    local rec
    for _ = 1, seconds / 0.05 do
      rec = h:log(tag)[1]
      if rec and rec.endedAt ~= cjson.null then break end
      realtime.sleep(0.05)
    end
    return rec
  end

  -- Reads everything to `closed`; returns the raw messages' count, the errors and closed.
  local function read_all(s)
    local raws, errors, closed = 0, {}, nil
    for msg in s:messages(10) do
      if msg.type == "raw" then
        raws = raws + 1
      elseif msg.type == "error" then
        errors[#errors + 1] = msg
      elseif msg.type == "closed" then
        closed = msg
        break
      end
    end
    return raws, errors, closed
  end

  -- How many server messages the close's error says it dropped (0 when none).
  local function dropped(errors)
    for _, e in ipairs(errors) do
      local n = e.message:match "^close: (%d+) server messages? %(%d+ bytes%) read during the close"
      if n then
        assert.equal("busy", e.code)
        return tonumber(n)
      end
    end
    return 0
  end

  it("ends a close of a paused reader with the server's answer, not the timeout", function()
    local n = 2000
    local client, tag = h:client("flood_mixed", { n = n })
    local s = assert(client:connect { resumption = false, max_receive_bytes = LIMIT,
                                      close_timeout = 8 })
    realtime.sleep(1)   -- not reading: the flood fills the bound and reading pauses
    assert.is_true(s:stats().rx_pauses >= 1, "reading never paused")
    local t0 = realtime.now()
    s:close()
    -- still not reading: the close must find the server's answer behind the flood
    local rec = ended_record(tag, 10)
    local took = realtime.now() - t0
    assert.is_true(took < 4, ("the close took %.2f s (close_timeout 8)"):format(took))
    assert.equal(1000, rec.closeReceived.code)
    local raws, errors, closed = read_all(s)
    assert.equal(1000, closed.code)
    for _, e in ipairs(errors) do
      assert.not_matches("did not answer", e.message)
      assert.equal("busy", e.code, e.message)
    end
    -- nothing is lost silently: what was read and what the close dropped is the flood
    local gone = dropped(errors)
    assert.is_true(gone > 0, "a flood of 2,000 messages over 64 KiB unread dropped none")
    assert.equal(n, raws + gone)
    client:close()
  end)

  it("holds max_receive_bytes while a paused reader's close reads what was stashed", function()
    local n = 200000
    local client = h:client("flood_tiny", { n = n })
    local s = assert(client:connect { resumption = false, max_receive_bytes = LIMIT,
                                      close_timeout = 3 })
    realtime.sleep(1)
    assert.is_true(s:stats().rx_pauses >= 1, "reading never paused")
    s:close()
    -- the bound, one message past it and the close's own error and closed messages; sampled
    -- past close_timeout, as the connection's end parses what reading left stashed
    local peak, t0 = 0, realtime.now()
    repeat
      peak = math.max(peak, s:stats().received_bytes)
      realtime.sleep(0.02)
    until realtime.now() - t0 > 4
    assert.is_true(peak <= LIMIT + 1024, ("held %d bytes after close()"):format(peak))
    local raws, errors, closed = read_all(s)
    assert.equal(1000, closed.code)
    assert.equal(n, raws + dropped(errors))
    client:close()
  end)

  it("keeps a message larger than the bound that comes during a close while nothing is unread", function()
    local client = h:client("oversize", { bytes = 100000 })
    local s = assert(client:connect { resumption = false, max_receive_bytes = LIMIT, close_timeout = 5 })
    s:close()   -- before the message is read: it arrives during the close, the queue empty
    local raws, errors, closed = read_all(s)
    assert.equal(1, raws)
    assert.equal(0, dropped(errors))
    assert.equal(1000, closed.code)
    client:close()
  end)

  -- A slow reader's session (64 KiB unread) closed while the server sends a resumption
  -- update: `before` came ahead of 100 messages of 2 KB, `during` after the close frame.
  local function handle_on_close(params)
    local n = 100
    params.n = n
    local client, tag = h:client("handle_on_close", params)
    local s = assert(client:connect { max_receive_bytes = LIMIT, close_timeout = 5 })
    -- the core read up to the bound (the handle among them), then paused
    for _ = 1, 500 do
      if s:stats().rx_pauses >= 1 then break end
      realtime.sleep(0.01)
    end
    assert.is_true(s:stats().rx_pauses >= 1, "reading never paused")
    assert.equal("before", s:resumption_handle())
    s:close()
    return s, client, tag, n
  end

  it("keeps the last handle the caller can read when the close drops the update after it", function()
    local s, client, tag, n = handle_on_close {}
    assert.equal(1000, ended_record(tag, 10).closeReceived.code)
    local raws, errors, closed = read_all(s)
    assert.equal(1000, closed.code)
    assert.equal(n + 1, raws + dropped(errors))   -- `during` dropped with the flood's rest
    -- resumed from `during`, the session would skip the messages the caller never got
    assert.equal("before", s:resumption_handle())
    client:close()
  end)

  it("hands out no handle that follows a message the close dropped", function()
    -- the caller catches up once every message before `during` was read (kept or
    -- dropped): `during` is queued, but the state it describes holds dropped messages
    local s, client, _, n = handle_on_close { linger = 1000 }
    for _ = 1, 500 do
      if s:stats().messages_received >= n + 2 then break end
      realtime.sleep(0.01)
    end
    assert.equal(n + 2, s:stats().messages_received)   -- setupComplete and `before` too
    local updates = {}
    for msg in s:messages(10) do
      if msg.type == "session_resumption_update" then
        updates[msg.raw.sessionResumptionUpdate.newHandle] = msg
      end
      if msg.type == "closed" then break end
    end
    assert.equal("before", updates.before.handle)
    assert.is_not_nil(updates.during, "`during` was dropped: the reader did not catch up")
    assert.is_nil(updates.during.handle)
    assert.equal("before", s:resumption_handle())
    client:close()
  end)

  it("tells a reader that stays behind once, not at every pause", function()
    local n = 100000
    local client = h:client("flood_tiny", { n = n })
    local s = assert(client:connect { resumption = false, max_receive_bytes = LIMIT })
    local raws, busy = 0, 0
    while raws < n do
      local msg = assert(s:receive(10))
      if msg.type == "raw" then
        raws = raws + 1
        if raws % 500 == 0 then realtime.sleep(0.005) end   -- a reader a little slow
      elseif msg.type == "error" then
        assert.equal("busy", msg.code)
        assert.matches("receiving paused", msg.message)
        busy = busy + 1
      else
        error("unexpected " .. msg.type)
      end
    end
    local pauses = s:stats().rx_pauses
    assert.is_true(pauses > 10, ("reading paused only %d times: the reader was not behind"):format(pauses))
    assert.is_true(busy >= 1 and busy <= 3, ("%d busy errors for %d pauses"):format(busy, pauses))
    s:close()
    local _, _, closed = read_all(s)
    assert.equal(1000, closed.code)
    client:close()
  end)
end)
