-- `make env` prints the LUA_PATH/LUA_CPATH that find the module from the repository
-- (README, "Install"); used from another directory, they must find that module and
-- nothing else of the repository's: the test directory on the path shadowed a user's
-- own modules of the same names (helper.lua) in the current directory.
local helper = require "spec.helper"
local q = helper.shell_quote

describe("make env", function()
  it("finds the repository's module from elsewhere, and leaves a user's helper.lua theirs", function()
    local status, env = helper.run("env -u MAKEFLAGS -u MAKELEVEL make -s env")
    assert.equal(0, status, env)
    local dir = helper.tmpdir()
    finally(function() helper.run("rm -rf " .. q(dir)) end)
    helper.write_file(dir .. "/helper.lua", "return 'mine'\n")
    local _, root = helper.run("pwd")
    root = root:match "[^\n]+"
    local out
    status, out = helper.run(env .. "\ncd " .. q(dir) .. " && lua5.4 -e "
      .. q 'print(package.searchpath("realtime", package.path)); print((require "helper"))')
    assert.equal(0, status, out)
    assert.equal(root .. "/lua/realtime/init.lua\nmine\n", out)
  end)
end)
