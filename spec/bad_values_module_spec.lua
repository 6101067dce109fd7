-- Bad values at the module level and on the Client side: the constructors' options,
-- credentials (files and tables), ephemeral tokens, realtime.credentials, realtime.run /
-- spawn, the audio helpers and client methods called the wrong way. Each one gets a clear
-- error naming the option or argument, at once, and never quotes a secret.
local realtime = require "realtime"
local auth = require "realtime.auth"
local helper = require "spec.helper"

local function raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.matches(pattern, tostring(err))
  return tostring(err)
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("client options with bad values", function()
  it("refuse an empty api_key, access_token or credentials path when the client is made", function()
    raises("option 'api_key': expected a non%-empty string", realtime.gemini, { api_key = "" })
    raises("option 'api_key': expected a non%-empty string", realtime.vertex, { api_key = "" })
    raises("option 'access_token': expected a non%-empty string", realtime.vertex,
      { project = "p", access_token = "" })
    raises("option 'credentials': expected a file path", realtime.vertex, { project = "p", credentials = "" })
  end)

  it("refuse a file name with a NUL byte instead of opening the file before it", function()
    raises("option 'ca_file': expected a file path %(a non%-empty string without NUL bytes%)",
      realtime.gemini, { api_key = "k", ca_file = "/etc/passwd\0.pem" })
    raises("option 'credentials': expected a file path", realtime.vertex,
      { project = "p", credentials = "/etc/passwd\0.json" })
  end)

  it("check the client's model when the client is made, naming the option", function()
    raises("option 'model': unsafe model name: it is empty", realtime.gemini, { api_key = "k", model = "" })
    raises("option 'model': unsafe model name: it contains a NUL byte", realtime.gemini,
      { api_key = "k", model = "gemini\0x" })
    raises("option 'model': unsafe model name: it contains \"%.%.\"", realtime.vertex,
      { project = "p", access_token = "t", model = "../../x" })
    raises("option 'model': unsafe model name: it contains a byte outside ASCII", realtime.gemini,
      { api_key = "k", model = "gemini\255" })
    local client = realtime.gemini { api_key = "k", model = "models/gemini-2.5-flash" }
    client:close()
  end)

  it("check the Vertex project's form when the client is made", function()
    for _, bad in ipairs { "a/../b", "my project", "p\255", string.rep("p", 200) } do
      raises("option 'project': expected a Google Cloud project ID", realtime.vertex,
        { project = bad, access_token = "t" })
    end
    raises("option 'location': expected at most 128 letters", realtime.vertex,
      { project = "p", access_token = "t", location = string.rep("l", 200) })
    local client = realtime.vertex { project = "example.com:my-project", access_token = "t" }
    client:close()
  end)

  it("name the header entry that is not a string", function()
    raises("option 'headers': expected header names as strings, got a number key", realtime.gemini,
      { api_key = "k", headers = { "x" } })
    raises("option 'headers': the value of 'x%-n' must be a string, got number", realtime.gemini,
      { api_key = "k", headers = { ["x-n"] = 1 } })
    raises("option 'headers': the value of 'x%-t' must be a string, got table", realtime.gemini,
      { api_key = "k", headers = { ["x-t"] = {} } })
  end)

  it("refuse headers the upgrade request writes itself, which would go out twice", function()
    for _, name in ipairs { "Host", "connection", "Upgrade", "Content-Length", "Transfer-Encoding",
                            "Sec-WebSocket-Key", "sec-websocket-protocol" } do
      local err = raises("option 'headers': '" .. name:gsub("%-", "%%-") .. "' is written by the library itself",
        realtime.gemini, { api_key = "k", headers = { [name] = "secret-value-1234" } })
      assert.is_nil(err:find("secret-value-1234", 1, true))
    end
  end)

  it("refuse more header bytes than a handshake carries, and connect with a large one that fits", function()
    raises("option 'headers': %d+ bytes of names and values, more than the 8192", realtime.gemini,
      { api_key = "k", headers = { ["x-big"] = string.rep("v", 9000) } })
    local many = {}
    for i = 1, 1000 do many["x-h" .. i] = "v" end
    raises("more than the 8192 a handshake may carry", realtime.gemini, { api_key = "k", headers = many })
    -- 7,000 bytes still go through, over a real socket
    local client = helper.gemini { headers = { ["x-big"] = string.rep("v", 7000) } }
    local session = assert(client:connect {})
    assert.equal(7000, #helper.last_connection().headers["x-big"])
    session:close()
    client:close()
  end)

  it("refuse a base_url whose host or path holds what a URL cannot", function()
    raises("option 'base_url': has an invalid host name", realtime.gemini,
      { api_key = "k", base_url = "https://a\\b" })
    raises("option 'base_url': has a host name longer than 253 bytes", realtime.gemini,
      { api_key = "k", base_url = "https://" .. string.rep("a", 300) })
    raises("option 'base_url': has a character a URL path cannot hold", realtime.gemini,
      { api_key = "k", base_url = "https://example.com/a\"b" })
  end)
end)

describe("client methods called with a dot", function()
  it("say so instead of failing inside the library", function()
    local client = realtime.gemini { api_key = "k" }
    raises("bad argument #1 to 'connect' %(realtime.Client expected, got table; call it as client:connect",
      client.connect, { model = "m" })
    raises("bad argument #1 to 'poll' %(realtime.Client expected, got nil; call it as client:poll", client.poll)
    client:close()
  end)
end)

describe("realtime.run and realtime.spawn with odd callables", function()
  it("run a callable table like a function", function()
    local calls = {}
    local callable = setmetatable({}, { __call = function(self, ...)
      calls[#calls + 1] = table.pack(self, ...)
      realtime.sleep(0)   -- it runs as a coroutine of the loop
    end })
    assert.is_true(realtime.run(callable, function() realtime.spawn(callable, "spawned") end))
    assert.equal(2, #calls)
    assert.equal(callable, calls[1][1])
    assert.equal(1, calls[1].n)
    assert.same({ n = 2, callable, "spawned" }, calls[2])
  end)

  it("name realtime.spawn when what it is given is not callable", function()
    raises("realtime%.spawn: expected functions, got number", realtime.run, function() realtime.spawn(5) end)
  end)
end)

