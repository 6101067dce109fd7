-- The read pause (max_receive_bytes) against a hostile server that floods: a reader that
-- stays a little behind is told of the pause once, not at every pause.
local helper = require "spec.helper"
local realtime = require "realtime"

local LIMIT = 65536

describe("the read pause", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

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
