-- The module loads under Lua 5.4 and reports what it was built with.
local realtime = require "realtime"

describe("the realtime module", function()
  it("loads under Lua 5.4 with a version", function()
    assert.equal("Lua 5.4", _VERSION)
    assert.is_string(realtime._VERSION)
    assert.matches("^%d+%.%d+%.%d+", realtime._VERSION)
  end)

  it("reports the versions of the libraries it was built with", function()
    local v = realtime.versions()
    assert.equal(realtime._VERSION, v.realtime)
    assert.matches("^4%.", v.libwebsockets)
    assert.matches("^OpenSSL %d", v.openssl)
    assert.matches("^%d+%.%d+", v.libcurl)
    assert.equal("Lua 5.4", v.lua:match "^Lua 5%.4")
  end)

  -- Lua files and a C module of different builds (a `git pull` without `make`, an older
  -- install earlier on LUA_CPATH) once loaded together and failed at the first connect
  -- ("attempt to call a nil value (method '_closing')"); init.lua now compares core._ABI.
  describe("the C module's interface number (core._ABI)", function()
    local helper = require "spec.helper"
    local q = helper.shell_quote
    local need = tonumber(helper.read_file("lua/realtime/init.lua"):match "\nlocal CORE_ABI = (%d+)\n")

    it("is the number init.lua needs in the module built here", function()
      assert.is_number(need)
      assert.equal(need, realtime.core._ABI)
      assert.is_true(math.type(realtime.core._ABI) == "integer")
    end)

    local function require_with(core_src)
      return helper.child(([[
package.preload["realtime.core"] = function() return %s end
local ok, err = pcall(require, "realtime")
print(ok, err)
]]):format(core_src))
    end

    it("refuses a module with another number", function()
      local status, out = require_with(("{ _VERSION = '0.1.0', _ABI = %d }"):format(need + 1))
      assert.equal(0, status, out)
      assert.equal(("false\trealtime: the C module realtime.core is from another build (interface %d,"
        .. " these Lua files need %d): rebuild with make, or reinstall\n"):format(need + 1, need), out)
    end)

    it("refuses a module with none (built before the number), naming its file", function()
      local status, out = require_with "{ _VERSION = '0.1.0' }"
      assert.equal(0, status, out)
      assert.matches("false\trealtime: the C module realtime.core is from another build (interface none,"
        .. " these Lua files need " .. need .. ")", out, 1, true)
      -- a real shared object on LUA_CPATH, as a stale core.so would be, in a directory
      -- whose name holds a terminal escape: the message shows it as \x1b
      local dir = os.tmpname()
      os.remove(dir)
      dir = dir .. "-\27[31m"
      finally(function() helper.run("rm -rf " .. q(dir)) end)
      local so = dir .. "/realtime/core.so"
      local c_src = "#include <lua.h>\nint luaopen_realtime_core(lua_State *L)"
        .. " { lua_newtable(L); lua_pushstring(L, \"0.1.0\"); lua_setfield(L, -2, \"_VERSION\"); return 1; }\n"
      status, out = helper.run(("mkdir -p %s && printf '%%s' %s > %s/old.c && cc -shared -fPIC"
        .. " $(pkg-config --cflags lua5.4) -o %s %s/old.c"):format(q(dir .. "/realtime"), q(c_src), q(dir), q(so), q(dir)))
      assert.equal(0, status, out)
      status, out = helper.child([[print(pcall(require, "realtime"))]], { LUA_CPATH = dir .. "/?.so;;" })
      assert.equal(0, status, out)
      assert.matches("false\trealtime: the C module realtime.core " .. so:gsub("\27", "\\x1b") .. " is from another build"
        .. " (interface none, these Lua files need " .. need .. "): rebuild with make, or reinstall", out, 1, true)
    end)

    -- The number is bumped by hand; this list makes a forgotten bump fail: the names the C
    -- module exports (read in a process that loads realtime.core alone: the Lua files add
    -- methods of their own to its tables) against spec/golden/core_interface.txt.
    it("goes with the names recorded for it (a forgotten bump fails here)", function()
      local golden_path = "spec/golden/core_interface.txt"
      local status, out = helper.child [[
local core = require "realtime.core"
local lines = {}
local function add(prefix, t)
  for k, v in pairs(t) do
    if type(k) == "string" and k ~= "__index" then lines[#lines + 1] = prefix .. k .. " " .. type(v) end
  end
end
add("core.", core)
for k, v in pairs(core) do
  if type(v) == "table" then
    add(k .. ".", v)
    if type(v.__index) == "table" then add(k .. ":", v.__index) end
  end
end
table.sort(lines)
io.write(table.concat(lines, "\n"), "\n")
]]
      assert.equal(0, status, out)
      local now = "interface " .. need .. "\n" .. out
      if os.getenv "RT_GOLDEN_WRITE" then
        helper.write_file(golden_path, helper.read_file(golden_path):match "^(.-\n)interface " .. now)
      end
      local recorded = helper.read_file(golden_path):gsub("^.-\n(interface )", "%1")
      assert(recorded == now, ("realtime.core's interface is not the one recorded in %s. When the"
        .. " binding's exports changed, bump CORE_ABI in lua/realtime/init.lua and rewrite the file"
        .. " (RT_GOLDEN_WRITE=1 with this spec). Now:\n%s"):format(golden_path, now))
    end)
  end)

  it("maps libcurl only when something needs it (a token fetch, versions())", function()
    -- in a process of its own: the specs before this one have used libcurl here
    local script = [[
      local function mapped()
        for line in io.lines("/proc/self/maps") do
          if line:find("/libcurl[%w.-]*%.so") then return true end
        end
        return false
      end
      local realtime = require "realtime"
      local client = assert(realtime.gemini { api_key = "k", base_url = "https://127.0.0.1:9" })
      io.write(tostring(mapped()), " ")
      local v = realtime.versions().libcurl
      io.write(tostring(mapped()), " ", v)
      client:close()
    ]]
    local file = os.tmpname()
    local f = assert(io.open(file, "w"))
    f:write(script)
    f:close()
    local p = assert(io.popen("lua5.4 " .. file .. " 2>&1"))
    local out = p:read "a"
    p:close()
    os.remove(file)
    local before, after, version = out:match "^(%a+) (%a+) (%S+)$"
    assert.equal("false", before, out)
    assert.equal("true", after, out)
    assert.matches("^%d+%.%d+", version)
  end)
end)
