-- Every function the module registers is documented in docs/api.md: the luaL_Reg tables
-- of the binding, the module table's functions, and the methods the Lua front adds.
-- Names starting with "_" are private and metamethods are covered by the pages' prose.
local helper = require "spec.helper"

local function registered_names()
  local names = {}
  local p = assert(io.popen "ls csrc/binding/lrt_*.c lua/realtime/*.lua")
  for path in p:lines() do
    local src = helper.read_file(path)
    if path:match "%.c$" then
      for name in src:gmatch '{%s*"([%w_]+)",%s*lrt_[%w_]+%s*}' do names[name] = path end
      for name in src:gmatch 'lua_pushcfunction%(L, lrt_[%w_]+%);%s*lua_setfield%(L, %-2, "([%w_]+)"%)' do
        names[name] = path
      end
    else
      for name in src:gmatch "\nfunction [%w_]+[%.:]([%w_]+)%(" do names[name] = path end
    end
  end
  p:close()
  return names
end

describe("docs/api.md", function()
  it("documents every public function and method", function()
    local doc = helper.read_file "docs/api.md"
    local missing = {}
    for name, path in pairs(registered_names()) do
      if not name:match "^_" and not doc:find("%f[%w_]" .. name .. "%f[^%w_]") then
        missing[#missing + 1] = name .. " (" .. path .. ")"
      end
    end
    table.sort(missing)
    assert.same({}, missing)
  end)
end)
