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

-- Error texts the docs quote are the library's own: each is produced here and looked up
-- in the page, with the scratch paths put back to the page's example paths.
describe("quoted error texts", function()
  local realtime = require "realtime"

  -- Whether the page holds `text`, wherever its lines wrap.
  local function plain(doc, text) return doc:gsub("%s+", " "):find(text, 1, true) ~= nil end

  -- The message a Vertex connect gives for a credentials file; it fails before the network.
  local function credentials_error(path)
    local client = assert(realtime.vertex { project = "p", credentials = path, model = helper.vertex_model,
      base_url = "https://127.0.0.1:9" })
    local session, err, code = client:connect { timeout = 5 }
    client:close()
    assert.is_nil(session)
    assert.equal("auth", code)
    return err
  end

  it("docs/credentials.md: a missing credentials file, a directory", function()
    local doc = helper.read_file "docs/credentials.md"
    local dir = helper.tmpdir()
    local missing = credentials_error(dir .. "/key.json"):gsub(dir:gsub("%p", "%%%0"), "/srv", 1)
    local directory = credentials_error(dir):gsub(dir:gsub("%p", "%%%0"), "/srv", 1)
    helper.run("rm -rf " .. helper.shell_quote(dir))
    assert.equal("cannot read credentials file /srv/key.json: No such file or directory", missing)
    assert.is_true(plain(doc, "`" .. missing .. "`"), "not quoted in credentials.md: " .. missing)
    assert.is_true(plain(doc, "`" .. directory .. "`"), "not quoted in credentials.md: " .. directory)
  end)

  it("docs/api.md: a nil inside a list, in a constructor and assigned around", function()
    local doc = helper.read_file "docs/api.md"
    local client = assert(realtime.gemini { api_key = "k", model = helper.model, base_url = "https://127.0.0.1:9" })
    local function raised(opts)
      local ok, err = pcall(client.connect, client, opts)
      assert.is_false(ok)
      return (tostring(err):gsub("^[^\n]-:%d+: ", ""))
    end
    local a, b = { name = "a", description = "x" }, { name = "b", description = "y" }
    local in_length = raised { tools = { a, nil, b } }
    local assigned = {}
    assigned[1], assigned[3] = a, b
    local beyond = raised { tools = assigned }
    client:close()
    assert.is_true(plain(doc, "`" .. in_length .. "`"), "not quoted in api.md: " .. in_length)
    local tail = assert(beyond:match "but it has (a hole before index %d+)$", beyond)
    assert.is_true(plain(doc, "`... " .. tail .. "` when it is not (`t[1] = a; t[3] = b`)"),
      "not quoted in api.md: " .. beyond)
  end)
end)
