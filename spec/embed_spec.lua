-- A program that embeds Lua and closes its state (lua_close) with clients and sessions
-- still open, as a game engine does at each level reload. The standalone interpreter is
-- such a host: it calls lua_close when its script ends, so each case runs a script in a
-- child lua5.4 (with the sanitizer preload of `make check`, as helper.child keeps it).
local helper = require "spec.helper"

describe("lua_close with clients still open", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  -- Every client of the state closes at once: the state's close waits for the slowest
  -- of them, not for each in turn. Against servers that never answer a close (a network
  -- gone without a reset) three clients took three close_timeouts, one after another.
  it("closes every client's sessions at once, so it waits one close_timeout, not one per client", function()
    local tag = "embed_close_all"
    local status, out = helper.child(([[
local realtime = require "realtime"
for i = 1, 3 do
  local c = assert(realtime.gemini { api_key = "hostile-key", base_url = %q, ca_file = %q, model = %q })
  _G["client" .. i] = c
  _G["session" .. i] = assert(c:connect { resumption = false, close_timeout = 2 })
end
print "open"
]]):format(h:base_url("no_close_reply", { tag = tag }), h.ca_file, helper.model), { timeout = 60 })
    assert.equal(0, status, out)
    assert.matches("open", out)
    local at = {}
    for _, rec in ipairs(h:log(tag)) do
      assert.is_table(rec.closeReceived, "a session was not closed")
      at[#at + 1] = rec.closeReceived.at
    end
    assert.equal(3, #at)
    table.sort(at)
    -- one after another, each close frame would follow the one before by close_timeout
    assert.is_true(at[3] - at[1] < 2000, ("close frames %d ms apart"):format(at[3] - at[1]))
  end)
end)
