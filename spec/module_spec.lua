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
end)
