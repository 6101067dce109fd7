-- `luarocks make` installs a module that loads from the tree it was installed into.
local helper = require "spec.helper"

describe("the rockspec", function()
  it("installs with luarocks make into a fresh tree", function()
    local tree = os.tmpname()
    os.remove(tree)
    finally(function() helper.run("rm -rf " .. helper.shell_quote(tree)) end)

    -- lua-cjson comes from Debian's package, which no LuaRocks manifest lists
    local status, out = helper.run("luarocks --lua-version 5.4 make rockspec/realtime-scm-1.rockspec"
      .. " --tree " .. helper.shell_quote(tree) .. " --deps-mode=none")
    assert.equal(0, status, out)

    local lua_path = tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua;;"
    local lua_cpath = tree .. "/lib/lua/5.4/?.so;;"
    status, out = helper.run("cd / && LUA_PATH=" .. helper.shell_quote(lua_path)
      .. " LUA_CPATH=" .. helper.shell_quote(lua_cpath)
      .. " lua5.4 -e 'local r = require \"realtime\"; print(r._VERSION, package.searchpath(\"realtime.core\", package.cpath))'")
    assert.equal(0, status, out)
    assert.matches("^%d+%.%d+%.%d+%s+" .. tree:gsub("%p", "%%%0") .. "/lib/lua/5%.4/realtime/core%.so", out)

    -- every module of lua/realtime/ is in the rock (a file left out loads from nowhere
    -- once the rock is all there is), and so is the API reference, for `luarocks doc`
    local _, modules = helper.run("ls lua/realtime")
    local n = 0
    for name in modules:gmatch "(%S+)%.lua" do
      n = n + 1
      assert.equal(0, helper.run("test -f " .. helper.shell_quote(tree .. "/share/lua/5.4/realtime/" .. name .. ".lua")),
        "realtime." .. name .. " is not in the rock")
    end
    assert.is_true(n >= 8, modules)
    status, out = helper.run("luarocks --lua-version 5.4 doc realtime --list --tree " .. helper.shell_quote(tree))
    assert.equal(0, status, out)
    assert.matches("/realtime/scm%-1/docs/\n[^/]*%f[%w]api%.md\n", out)
  end)

  it("builds where Lua has no lua5.4.pc (a Lua built by hand): LuaRocks' LUA_INCDIR is enough", function()
    local dir = os.tmpname()
    os.remove(dir)
    local q = helper.shell_quote
    finally(function() helper.run("rm -rf " .. q(dir)) end)
    -- a copy of the sources, so that nothing is already built: the tree minus what builds
    -- and `make deps` make (no git: a release tarball or a `git archive` has none)
    local status, out = helper.run("mkdir -p " .. q(dir .. "/bin") .. " " .. q(dir .. "/src")
      .. " && tar -cf - --exclude=./build --exclude=./luarocks-tree --exclude=./.git --exclude=node_modules ."
      .. " | tar -C " .. q(dir .. "/src") .. " -xf -")
    assert.equal(0, status, out)
    -- a pkg-config that knows every package but Lua
    local _, real = helper.run("command -v pkg-config")
    helper.write_file(dir .. "/bin/pkg-config", ('#!/bin/sh\nfor a in "$@"; do [ "$a" = lua5.4 ] && exit 1; done\n'
      .. 'exec %s "$@"\n'):format(real:match "%S+"))
    assert(os.execute("chmod +x " .. q(dir .. "/bin/pkg-config")))
    status, out = helper.run("cd " .. q(dir .. "/src") .. " && PATH=" .. q(dir .. "/bin") .. ":$PATH"
      .. " luarocks --lua-version 5.4 make rockspec/realtime-scm-1.rockspec --tree " .. q(dir .. "/tree")
      .. " --deps-mode=none")
    assert.equal(0, status, out)
    status, out = helper.run("cd / && LUA_PATH=" .. q(dir .. "/tree/share/lua/5.4/?.lua;"
      .. dir .. "/tree/share/lua/5.4/?/init.lua;;") .. " LUA_CPATH=" .. q(dir .. "/tree/lib/lua/5.4/?.so;;")
      .. " lua5.4 -e 'print(require \"realtime\"._VERSION)'")
    assert.equal(0, status, out)
  end)
end)
