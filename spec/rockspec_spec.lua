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
  end)
end)
