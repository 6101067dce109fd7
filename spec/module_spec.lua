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
