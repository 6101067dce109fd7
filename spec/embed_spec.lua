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

-- A host may open only some of Lua's standard libraries (a sandboxed state), or remove
-- their globals before loading scripts. The module says at require which one it needs.
describe("a state without some of the standard libraries", function()
  for _, lib in ipairs { "string", "table", "coroutine", "math", "utf8" } do
    it("refuses to load without " .. lib .. ", naming it", function()
      local status, out = helper.child(([[
%s = nil
local ok, err = pcall(require, "realtime")
print(ok, err)
]]):format(lib), { timeout = 30 })
      assert.equal(0, status, out)
      assert.matches("false\trealtime: needs Lua's standard library '" .. lib .. "' (open it before "
        .. "require \"realtime\": luaL_openlibs, or luaL_requiref with luaopen_" .. lib .. ")", out, 1, true)
    end)
  end

  -- os, io and debug are optional: a sandbox commonly leaves them out.
  it("works without os, io and debug, and realtime.run still raises a coroutine's own error", function()
    local status, out = helper.child(([[
os, io, debug = nil, nil, nil
local realtime = require "realtime"
local c = assert(realtime.gemini { api_key = %q, base_url = %q, ca_file = %q, model = %q })
local s = assert(c:connect { output_modalities = { "text" } })
assert(s:send_text "hello there")
local text = {}
for m in s:messages(10) do
  if m.type == "output_text_delta" then text[#text + 1] = m.text end
  if m.type == "response_done" then break end
end
print("answer: " .. table.concat(text))
local ok, err = pcall(realtime.run, function() error("my own failure", 0) end)
print(ok, err)
c:close()
print(pcall(realtime.wav.write, "x.wav", "\0\0", 16000))
print(pcall(realtime.gemini_ephemeral_token, { api_key = "k", expire_time = 60 }))
]]):format(helper.sim_key, helper.sim_http, helper.sim_ca, helper.model), { timeout = 60 })
    assert.equal(0, status, out)
    assert.matches("answer: You said: hello there.", out, 1, true)
    assert.matches("false\tmy own failure", out, 1, true)
    assert.matches("false\trealtime.wav.write: needs Lua's io library; without it, use realtime.wav.encode",
      out, 1, true)
    assert.matches("false\trealtime.gemini_ephemeral_token: a time in seconds needs Lua's os library", out, 1, true)
    assert.not_matches("attempt to index a nil value", out, 1, true)
  end)
end)
