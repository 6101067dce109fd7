-- A program that embeds Lua and closes its state (lua_close) with clients and sessions
-- still open, as a game engine does at each level reload. The standalone interpreter is
-- such a host: it calls lua_close when its script ends, so each case runs a script in a
-- child lua5.4 (with the sanitizer preload of `make check`, as helper.child keeps it).
local helper = require "spec.helper"
local q = helper.shell_quote

-- The build tree, as an absolute path: the one LUA_CPATH points into.
local function build_dir()
  local b = (os.getenv "LUA_CPATH" or ""):match "([^;]*)/%?%.so" or "build"
  if b:find "^/" then return b end
  local p = assert(io.popen "pwd")
  local here = p:read "l"
  p:close()
  return here .. "/" .. b
end

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

-- lua_close calls no finalizer of an object made during it (Lua 5.4.4 marks none): a
-- client that a finalizer made then was never freed, its I/O thread and connections
-- left running in a host that goes on after the state.
describe("a client made by a finalizer while the state closes", function()
  it("is refused, naming why", function()
    local status, out = helper.child(([[
local realtime = require "realtime"
local opts = { api_key = "k", base_url = %q, ca_file = %q, model = %q }
-- marked before the client below: lua_close finalizes it after that client's close began
setmetatable({}, { __gc = function() print("late:", pcall(realtime.gemini, opts)) end })
_G.client = assert(realtime.gemini(opts))
print "open"
]]):format(helper.sim_http, helper.sim_ca, helper.model), { timeout = 30 })
    assert.equal(0, status, out)
    assert.matches("open\nlate:\tfalse\t", out)
    assert.matches("cannot make a client while the Lua state closes (lua_close): it would never be freed",
      out, 1, true)
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

  -- A state that never opened the string library has no string methods either (its
  -- luaopen_string sets the strings' metatable): removing the global alone kept them.
  it("names the string library in a state whose strings have no methods", function()
    local status, out = helper.child([[
debug.setmetatable("", nil)
string = nil
local ok, err = pcall(require, "realtime")
print(ok, err)
]], { timeout = 30 })
    assert.equal(0, status, out)
    assert.matches("false\trealtime: needs Lua's standard library 'string' (open it before "
      .. "require \"realtime\": luaL_openlibs, or luaL_requiref with luaopen_string)", out, 1, true)
  end)

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

-- spec/embed_host.c: a C program that embeds Lua and links librealtime-lua, as a game
-- engine does, closing its states with sessions open and running two states on two
-- threads at once. Under `make check` it is built with the sanitizers, as the libraries
-- it links are, so a leak or a use after free at lua_close fails it.
describe("a C host that embeds Lua", function()
  local dir, host

  setup(function()
    dir = helper.tmpdir()
    host = dir .. "/embed_host"
    local build = build_dir()
    local sanitize = (os.getenv "LD_PRELOAD" or ""):find "asan" and "-fsanitize=address,undefined " or ""
    local status, out = helper.run(("cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror %s-Icsrc/binding "
      .. "$(pkg-config --cflags lua5.4) spec/embed_host.c -o %s -L%s -lrealtime-lua -lrealtime "
      .. "$(pkg-config --libs lua5.4) -lpthread"):format(sanitize, q(host), q(build)))
    assert(status == 0, out)
  end)
  teardown(function() if dir then helper.run("rm -rf " .. q(dir)) end end)

  local function run_host(mode)
    return helper.run(("env LD_LIBRARY_PATH=%s REALTIME_BASE_URL=%s REALTIME_CA_FILE=%s GEMINI_API_KEY=%s "
      .. "timeout 120 %s %s"):format(q(build_dir()), q(helper.sim_http), q(helper.sim_ca), q(helper.sim_key),
      q(host), mode))
  end

  it("closes a state whose sessions stream, wait in a tool handler, a receive and a connect", function()
    local status, out = run_host "close"
    assert.equal(0, status, out)
    assert.matches("open\nclosed; threads after: 1\n", out, 1, true)
  end)

  -- realtime.core loads cjson through require: opened before luaL_openlibs it raised
  -- "attempt to call a nil value", which named nothing (and aborted a host that opened
  -- it with luaL_requiref, unprotected).
  it("says which library realtime.core needs when opened before the standard libraries", function()
    local status, out = run_host "order"
    assert.equal(0, status, out)
    assert.matches("before the standard libraries: realtime.core: needs Lua's package library (require) "
      .. "to load cjson: open the standard libraries (luaL_openlibs) first\n", out, 1, true)
    assert.matches("You said: hello there.", out, 1, true)
  end)

  it("runs two states on two threads at once, one closing while the other streams with its collector stopped", function()
    local status, out = run_host "threads"
    assert.equal(0, status, out)
    assert.matches("state 1: ok, state 2: ok; threads after: 1", out, 1, true)
  end)
end)
