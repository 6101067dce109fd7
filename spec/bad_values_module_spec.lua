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

describe("client options with bad values", function()
  it("refuse an empty api_key, access_token or credentials path when the client is made", function()
    raises("option 'api_key': expected a non%-empty string", realtime.gemini, { api_key = "" })
    raises("option 'api_key': expected a non%-empty string", realtime.vertex, { api_key = "" })
    raises("option 'access_token': expected a non%-empty string", realtime.vertex,
      { project = "p", access_token = "" })
    raises("option 'credentials': expected a file path", realtime.vertex, { project = "p", credentials = "" })
  end)

  it("refuse a key or token longer than 16 KiB by name, before a connect meets HTTP 431", function()
    local key = string.rep("K", 20000)
    local err = raises("option 'api_key': longer than 16384 bytes", realtime.gemini, { api_key = key })
    assert.is_nil(err:find("KKKKKKKK", 1, true))
    raises("option 'access_token': longer than 16384 bytes", realtime.vertex, { project = "p", access_token = key })
  end)

  it("refuse a file name with a NUL byte instead of opening the file before it", function()
    raises("option 'ca_file': expected a file path %(a non%-empty string without NUL bytes%)",
      realtime.gemini, { api_key = "k", ca_file = "/etc/passwd\0.pem" })
    raises("option 'credentials': expected a file path", realtime.vertex,
      { project = "p", credentials = "/etc/passwd\0.json" })
  end)

  it("say max_sessions' real range: 1..1000000, 0 only the core's \"default\" and never wrapped", function()
    -- 0 is no "no limit": the Lua option refuses it, pointing at the default
    raises("option 'max_sessions': expected integer between 1 and 1000000 %(leave it out for the default, 1024%), got 0",
      realtime.gemini, { api_key = "k", max_sessions = 0 })
    local core = require "realtime.core"
    local range = "max_sessions must be 0 (the default, 1024) or 1..1000000"
    for _, n in ipairs { -1, 1000001, 2 ^ 32, math.mininteger, math.maxinteger } do
      local ok, client = pcall(core.client_new, { max_sessions = math.tointeger(n) })
      if ok and client then client:_close_start() end
      assert.same({ false, range }, { ok, not ok and tostring(client):match("max_sessions.*") }, tostring(n))
    end
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
    for _, bad in ipairs { "a/../b", "..", "a..b", "my project", "p\255", string.rep("p", 200) } do
      raises("option 'project': expected a Google Cloud project ID", realtime.vertex,
        { project = bad, access_token = "t" })
    end
    raises("option 'location': expected at most 128 letters", realtime.vertex,
      { project = "p", access_token = "t", location = string.rep("l", 200) })
    -- ".." is a path segment of every model name: refused here, naming the option
    raises("option 'location': expected at most 128 letters", realtime.vertex,
      { project = "p", access_token = "t", location = "a..b" })
    local client = realtime.vertex { project = "example.com:my-project", access_token = "t" }
    client:close()
  end)

  it("refuse a Vertex api_key beside a project, location or OAuth credential, which one would ignore", function()
    for _, k in ipairs { "project", "location", "access_token", "credentials" } do
      raises("options 'api_key' and '" .. k:gsub("_", "%%_") .. "' exclude each other: Vertex express mode",
        realtime.vertex, { api_key = "k", [k] = "x" })
    end
    -- the key alone is express mode: the model goes out without a project prefix
    local client = assert(realtime.vertex { api_key = helper.sim_key, base_url = helper.sim_http,
      ca_file = helper.sim_ca, model = helper.vertex_model })
    local session = assert(client:connect {})
    assert.equal("publishers/google/models/" .. helper.vertex_model, helper.client_messages("setup")[1].model)
    session:close()
    client:close()
  end)

  it("name the environment variable when a default taken from it is bad", function()
    local status, out = helper.child([[
      local realtime = require "realtime"
      print(select(2, pcall(realtime.vertex, { access_token = "t", location = "us-central1" })))
      print(select(2, pcall(realtime.vertex, { access_token = "t", project = "p" })))
      print(select(2, pcall(realtime.gemini, {})))
      print(select(2, pcall(realtime.gemini, { api_key = "k\n" })))
    ]], { GOOGLE_CLOUD_PROJECT = "my project", GOOGLE_CLOUD_LOCATION = "us/x", GEMINI_API_KEY = "env-key\r" })
    assert.equal(0, status, out)
    local lines = {}
    for line in out:gmatch "[^\n]+" do lines[#lines + 1] = line end
    assert.matches("%$GOOGLE_CLOUD_PROJECT %(the default of option 'project'%): expected a Google Cloud project ID", lines[1])
    assert.matches("%$GOOGLE_CLOUD_LOCATION %(the default of option 'location'%): expected at most 128", lines[2])
    assert.matches("%$GEMINI_API_KEY %(the default of option 'api_key'%): contains CR, LF", lines[3])
    assert.matches("^[^$]*option 'api_key': contains CR, LF", lines[4])
    assert.is_nil(out:find("env-key", 1, true))
  end)

  it("refuse a tab in a credential, which would only fail later as \"auth\", but not in a header", function()
    raises("option 'api_key': contains CR, LF, a tab or another control character", realtime.gemini,
      { api_key = "key-part\tpasted" })
    raises("option 'access_token': contains CR, LF, a tab", realtime.vertex,
      { project = "p", access_token = "tok\t" })
    raises("option 'quota_project': contains CR, LF, a tab", realtime.vertex,
      { project = "p", access_token = "t", quota_project = "q\tp" })
    -- HTTP field values may hold a tab (RFC 9110): a header value keeps it
    local client = assert(realtime.gemini { api_key = "k", headers = { ["x-tab"] = "a\tb" } })
    client:close()
    raises("option 'headers': the value of 'x%-del' contains CR, LF or another control character",
      realtime.gemini, { api_key = "k", headers = { ["x-del"] = "a\127b" } })
  end)

  it("quote a short piece of an unknown option's name, control bytes masked", function()
    local name = "x\n" .. string.rep("n", 10000)
    for _, fn in ipairs { realtime.gemini, realtime.gemini_ephemeral_token } do
      local err = raises("^unknown option 'x", fn, { [name] = 1 })
      assert.is_true(#err < 100, err)
      assert.is_nil(err:find("\n", 1, true))
    end
  end)

  it("name the header entry that is not a string", function()
    raises("option 'headers': expected header names as strings, got a number key", realtime.gemini,
      { api_key = "k", headers = { "x" } })
    raises("option 'headers': the value of 'x%-n' must be a string, got number", realtime.gemini,
      { api_key = "k", headers = { ["x-n"] = 1 } })
    raises("option 'headers': the value of 'x%-t' must be a string, got table", realtime.gemini,
      { api_key = "k", headers = { ["x-t"] = {} } })
    -- the name is quoted printable, whatever bytes it holds
    local err = raises("option 'headers': the value of 'x\\xff\\x0a' must be a string", realtime.gemini,
      { api_key = "k", headers = { ["x\255\n"] = 1 } })
    assert.truthy(utf8.len(err), err)
  end)

  it("refuse headers the upgrade request writes itself, which would go out twice", function()
    for _, name in ipairs { "Host", "connection", "Upgrade", "Content-Length", "Transfer-Encoding",
                            "Sec-WebSocket-Key", "sec-websocket-protocol" } do
      local err = raises("option 'headers': '" .. name:gsub("%-", "%%-") .. "' is written by the library itself",
        realtime.gemini, { api_key = "k", headers = { [name] = "secret-value-1234" } })
      assert.is_nil(err:find("secret-value-1234", 1, true))
    end
  end)

  -- the URL's path goes into the upgrade's request line, which servers refuse past 8 KiB
  it("refuse a base_url that makes a session URL of more than 8 KiB, or a long api_version", function()
    local long = "https://proxy.example/" .. string.rep("p", 8200)
    local msg = "option 'base_url': makes a session URL of %d+ bytes, more than the 8192 an upgrade request line may carry"
    raises(msg, realtime.gemini, { api_key = "k", base_url = long })
    raises(msg, realtime.vertex, { access_token = "t", project = "p", base_url = long })
    raises(msg, realtime.gemini_ephemeral_token, { api_key = "k", base_url = long })
    raises("option 'api_version': longer than 128 bytes", realtime.gemini,
      { api_key = "k", api_version = string.rep("v", 129) })
    assert(realtime.gemini { api_key = "k", base_url = "https://proxy.example/" .. string.rep("p", 8000) }):close()
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
    raises("calling 'connect' on bad self %(realtime.Client expected, got table; use client:connect%(%.%.%.%)%)",
      client.connect, { model = "m" })
    raises("calling 'poll' on bad self %(realtime.Client expected, got nil; use client:poll", client.poll)
    client:close()
  end)
end)

describe("errors of the Lua front", function()
  -- Runs src, one line, as a chunk named "caller" and checks that its error names that
  -- line ("caller:1: ..."), not a line of the library or of whatever called the chunk.
  local function at_caller(src, env)
    local fn = assert(load(src, "=caller", "t", setmetatable(env or {}, { __index = _G })))
    local ok, err = pcall(fn)
    assert(not ok, src .. " raised nothing")
    assert(tostring(err):find("^caller:1: "), ("%s raised %q"):format(src, tostring(err)))
  end

  it("point at the caller's line: option checks of every depth", function()
    local client = realtime.gemini { api_key = "k", model = "m" }
    local env = { realtime = realtime, client = client }
    for _, src in ipairs {
      "realtime.gemini(5)", "realtime.gemini { foo = 1 }", "realtime.gemini { ping_timeout = 1.5 }",
      "realtime.gemini { headers = { a = 5 } }", "realtime.vertex { project = '' }",
      "realtime.vertex { api_key = 'k', project = 'p' }",
      "realtime.gemini { api_key = 'k', base_url = 'ftp://x' }", "realtime.gemini { api_key = 'k', model = 'a b' }",
      "realtime.vertex { project = 'p q' }",
      "client:connect(5)", "client:connect { timeout = -1 }", "client:connect { vad = { foo = 1 } }",
      "client:connect { transcription = { language = { [1] = 'a', [3] = 'b' } } }",
      "client:connect { input_audio_format = { rate = 1 } }",
      "client:connect { compression = { trigger_tokens = 10, target_tokens = 100 } }",
      "client:connect { resumption = {} }", "client:connect { resumption = { handle = '' } }",
      "client:connect { history = { role = 'user' } }", "client:connect { history = { 5 } }",
      "client:connect { tools = { 5 } }", "client:connect { tools = { { name = 'a b' } } }",
      "client:connect { tools = { { name = 'a' }, { name = 'a' } } }",
      "client:connect { kind = 'transcription', voice = 'x' }",
      "client:connect { output_modalities = { 'audio', 'text' } }",
      "client:connect(setmetatable({}, { __index = { voice = 5 } }))",
      "client:connect { voice = '\\xff' }", "client.connect {}",
    } do
      at_caller(src, env)
    end
    client:close()
  end)

  it("point at the caller's line: sleep, run, spawn and log", function()
    local env = { realtime = realtime }
    for _, src in ipairs {
      "realtime.sleep('x')", "realtime.sleep(0 / 0)", "realtime.run(5)",
      "realtime.run(function() realtime.spawn(5) end)", "realtime.run(function() realtime.sleep(0 / 0) end)",
      "realtime.spawn(print)", "realtime.log(5)",
    } do
      at_caller(src, env)
    end
  end)
end)

describe("a connect that fails", function()
  local h
  setup(function() h = helper.hostile {} end)
  teardown(function() h:stop() end)

  it("never returns the key, even when the server's close reason quotes it", function()
    local key = "quoted-key-0123456789abcdef"
    for _, reason in ipairs { "bad key " .. key, "cut: " .. key:sub(1, 12) } do
      local hex = reason:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
      local client = h:client("close_reason", { when = "connect", code = 1008, reason_hex = hex },
        { api_key = key })
      local ok, err = client:connect { timeout = 5 }
      client:close()
      assert.is_nil(ok)
      assert.matches("server closed the connection %(1008: ", err)
      for i = 1, #key - 7 do assert.is_nil(err:find(key:sub(i, i + 7), 1, true), err) end
      assert.matches("%*%*%*%*%*%*%*%*", err)
    end
  end)

  -- written as every other close: the code alone, or "code: reason"
  it("says how the server closed before setup, without a stray space", function()
    for _, case in ipairs {
      { code = "none", reason_hex = "", want = "(1005)" },
      { code = 1000, reason_hex = "", want = "(1000)" },
      { code = 1000, reason_hex = "6f6b", want = "(1000: ok)" },
    } do
      local client = h:client("close_reason", { when = "connect", code = case.code,
        reason_hex = case.reason_hex })
      local ok, err, code = client:connect { timeout = 5 }
      client:close()
      assert.is_nil(ok)
      assert.equal("closed", code)
      assert.equal("connection closed before setup completed " .. case.want, err)
    end
  end)

  it("nor does a session's error or closed message when the server closes quoting the key", function()
    local key = "quoted-key-0123456789abcdef"
    local hex = ("bad key " .. key):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    local client = h:client("close_reason", { code = 1008, reason_hex = hex }, { api_key = key })
    local session = assert(client:connect { timeout = 5, resumption = false })
    local texts = {}
    for msg in session:messages(5) do
      if msg.type == "error" then texts[#texts + 1] = msg.message end
      if msg.type == "closed" then texts[#texts + 1] = msg.reason end
    end
    client:close()
    assert.equal(2, #texts)
    for _, t in ipairs(texts) do
      for i = 1, #key - 7 do assert.is_nil(t:find(key:sub(i, i + 7), 1, true), t) end
      assert.matches("bad key %*%*%*%*%*%*%*%*", t)
    end
  end)

  it("a close reason with NUL bytes keeps what follows them, each NUL shown as '?'", function()
    local client = h:client("close_reason", { code = 1000, reason_hex = "6162006364" .. "0065" })
    local session = assert(client:connect { timeout = 5, resumption = false })
    local closed
    for msg in session:messages(5) do
      if msg.type == "closed" then closed = msg end
    end
    client:close()
    assert.equal(1000, closed.code)
    assert.equal("ab?cd?e", closed.reason)
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

  it("raise a coroutine's error whole, bytes after a NUL too, then its traceback", function()
    -- the traceback was added by debug.traceback(co, message), which reads the message
    -- as a C string: everything after its first NUL was lost
    local ok, err = pcall(realtime.run, function() error("bad\0input: 42", 0) end)
    assert.is_false(ok)
    assert.equal("bad\0input: 42\nstack traceback:", err:sub(1, #"bad\0input: 42\nstack traceback:"))
  end)
end)

describe("credentials with bad values", function()
  local dir
  lazy_setup(function()
    dir = helper.tmpdir()
  end)
  lazy_teardown(function() if dir then helper.run("rm -rf " .. helper.shell_quote(dir)) end end)

  local function user(extra)
    local t = { type = "authorized_user", client_id = "cid", client_secret = "client-secret-XYZ789",
                refresh_token = "refresh-token-QRS456", token_uri = "https://127.0.0.1:9/token" }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end
  local function fails(creds, pattern)
    local p = { backend = "vertex", project = "p", credentials = creds }
    local ok, err, code = realtime.credentials(p, 5)
    if p.token_source then p.token_source:close() end
    assert.is_nil(ok)
    assert.equal("auth", code)
    assert.matches(pattern, err)
    assert.is_nil(err:find("client-secret-XYZ789", 1, true))
    assert.is_nil(err:find("refresh-token-QRS456", 1, true))
    return err
  end

  it("refuse an optional field of the wrong type instead of leaving it out", function()
    -- a token_uri that is not a string used to send the grant to Google's own endpoint
    fails(user { token_uri = 443 }, "credentials table %(authorized_user%): \"token_uri\" must be a string, got number")
    fails(user { quota_project_id = {} }, "\"quota_project_id\" must be a string, got table")
    fails({ type = "service_account", client_email = "a@b", private_key = "-----BEGIN", private_key_id = 7 },
      "\"private_key_id\" must be a string, got number")
    fails({ type = 1 }, "credentials table: \"type\" must be a string, got number")
  end)

  it("check project_id in every credential type, as the service account's", function()
    local sa = { type = "service_account", client_email = "a@b", private_key = "-----BEGIN" }
    for _, base in ipairs { user(), sa } do
      local kind = base.type
      local function with(v)
        local t = {}
        for k, x in pairs(base) do t[k] = x end
        t.project_id = v
        return t
      end
      fails(with(5), ("credentials table %%(%s%%): \"project_id\" must be a string, got number"):format(kind))
      fails(with { x = 1 }, "\"project_id\" must be a string, got table")
      fails(with "a\0b", ("%%(%s%%): \"project_id\" contains a NUL byte"):format(kind))
    end
  end)

  it("refuse a field with a NUL byte, naming the field and not its value", function()
    local err = fails(user { client_secret = "client-secret-XYZ789\0tail" },
      "credentials table %(authorized_user%): \"client_secret\" contains a NUL byte")
    assert.is_nil(err:find("tail", 1, true))
    fails(user { client_id = "cid\0x" }, "\"client_id\" contains a NUL byte")
  end)

  it("say that a directory is a directory, and that a JSON string is not an object", function()
    fails(dir, "credentials file " .. dir:gsub("%p", "%%%0") .. " is a directory, not a file")
    helper.write_file(dir .. "/string.json", '"client-secret-XYZ789"')
    fails(dir .. "/string.json", "string%.json is not a JSON object")
    helper.write_file(dir .. "/array.json", '[1, 2]')   -- decodes to a table too
    fails(dir .. "/array.json", "array%.json is not a JSON object")
    fails(dir .. "/a\0b", "credentials file: the path contains a NUL byte")
  end)

  it("refuse a GCE_METADATA_HOST with user information or a query, without quoting it", function()
    local script = [[
      local realtime = require "realtime"
      realtime.log(function(_, text) print("log: " .. text) end)
      local ok, err = realtime.credentials({ backend = "vertex", project = "p" }, 5)
      print(ok, err)
    ]]
    for _, host in ipairs { "http://user:pw-SECRET-1@127.0.0.1:9", "http://127.0.0.1:9/?token=SECRET-2", "a b" } do
      local status, out = helper.child(script, { GCE_METADATA_HOST = host, GOOGLE_APPLICATION_CREDENTIALS = "",
        CLOUDSDK_CONFIG = dir })
      assert.equal(0, status, out)
      assert.matches("nil\tGCE_METADATA_HOST: expected host%[:port%] or an http:// or https:// URL without "
        .. "user information, query or fragment", out)
      assert.is_nil(out:find("SECRET", 1, true), out)
    end
  end)

  it("show a credentials path's control and non-UTF-8 bytes as \\xNN in messages and tostring", function()
    -- a path may hold any byte: it is used as it is, and shown printable
    local path = dir .. "/k\1\255.json"
    helper.write_file(path, require("cjson").encode(user()))
    local p = { backend = "vertex", project = "p", credentials = path }
    local ok, err, code = realtime.credentials(p, 5)
    assert.is_nil(ok)
    assert.equal("auth", code)
    local shown = "credentials file " .. dir .. "/k\\x01\\xff.json (authorized user, client cid)"
    assert.equal(shown, err:sub(1, #shown))
    local src = require("realtime.core").auth_new { kind = "metadata", source = "src\1\255x" }
    assert.equal("src\\x01\\xffx", src:source())
    assert.truthy(tostring(src):find("(src\\x01\\xffx)", 1, true))
    src:close()
  end)

  it("read a credentials file that starts with a UTF-8 byte order mark", function()
    helper.write_file(dir .. "/bom.json", "\239\187\191" .. require("cjson").encode(user()))
    -- the file is read and its fields used: the failure is the token endpoint's
    fails(dir .. "/bom.json", "credentials file .*bom%.json %(authorized user, client cid%): POST https://127%.0%.0%.1:9/token")
  end)

  it("realtime.credentials checks its arguments", function()
    raises("bad argument #1 to 'credentials' %(table of client properties expected, got nil%)", realtime.credentials)
    raises("bad argument #1 to 'credentials' %(table of client properties expected, got string%)",
      realtime.credentials, "key.json")
    local p = { backend = "vertex", project = "p", credentials = user() }
    raises("bad argument #2 to 'credentials' %(timeout: seconds expected, got NaN%)", realtime.credentials, p, 0 / 0)
    raises("bad argument #2 to 'credentials' %(timeout: seconds expected, got table%)", realtime.credentials, p, {})
    assert.is_nil(p.token_source)
  end)
end)

describe("gemini_ephemeral_token with bad values", function()
  local function base(extra)
    local t = { api_key = helper.sim_key, base_url = helper.sim_http, ca_file = helper.sim_ca, timeout = 10 }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end

  it("takes an integral float for uses, as every integer option does", function()
    local token, info = realtime.gemini_ephemeral_token(base { uses = 2.0 })
    assert.matches("^auth_tokens/", token)
    assert.equal(2, info.uses)
    assert.equal("integer", math.type(info.uses))   -- as the service sent it, not 2.0
    raises("option 'uses': expected an integer from 0 to 2147483647, got 2147483648",
      realtime.gemini_ephemeral_token, base { uses = 2 ^ 31 })
  end)

  it("show a NaN as NaN, as the client options do", function()
    -- tostring(0/0) is "-nan" with glibc
    for _, k in ipairs { "uses", "expire_time", "new_session_expire_time", "timeout" } do
      raises(("option '%s': expected .*, got NaN$"):format(k), realtime.gemini_ephemeral_token, base { [k] = 0 / 0 })
    end
  end)

  it("counts the options a table inherits through a metatable, as realtime.gemini does", function()
    -- they were read with pairs alone: a table of defaults was ignored without a word, its
    -- uses, times and setup lock too (a token freer than asked for)
    local token, info = realtime.gemini_ephemeral_token(setmetatable({}, { __index = base { uses = 3 } }))
    assert.is_string(token, info)
    assert.matches("^auth_tokens/", token)
    assert.equal(3, info.uses)
    -- checked as given ones are; a strict table's missing keys count as not given
    raises("option 'uses': expected an integer from 0 to 2147483647, got %-1",
      realtime.gemini_ephemeral_token, setmetatable(base(), { __index = { uses = -1 } }))
    token, info = realtime.gemini_ephemeral_token(setmetatable(base { uses = 2 },
      { __index = function(_, k) error("strict: no field " .. tostring(k)) end }))
    assert.is_string(token, info)
    assert.matches("^auth_tokens/", token)
    assert.equal(2, info.uses)
  end)

  it("takes an RFC 3339 time that exists: a leap day, a fraction, an offset", function()
    local token = realtime.gemini_ephemeral_token(base { expire_time = "2028-02-29T23:59:59.25+05:30",
      new_session_expire_time = "2028-02-29T12:00:00z" })
    assert.matches("^auth_tokens/", token)
  end)

  it("refuses each bad option by name before any request", function()
    local cases = {
      { { expire_time = "tomorrow" }, "option 'expire_time': expected seconds between 0 and 72000, or an RFC 3339 time" },
      -- the digits of a time that does not exist
      { { expire_time = "2026-13-01T00:00:00Z" }, "option 'expire_time': expected seconds" },
      { { expire_time = "2027-02-29T00:00:00Z" }, "option 'expire_time': expected seconds" },
      { { expire_time = "2026-04-31T00:00:00Z" }, "option 'expire_time': expected seconds" },
      { { expire_time = "2026-01-01T24:00:00Z" }, "option 'expire_time': expected seconds" },
      { { new_session_expire_time = "2026-01-01T00:60:00Z" }, "option 'new_session_expire_time': expected seconds" },
      { { expire_time = "2026-01-01T00:00:00+24:00" }, "option 'expire_time': expected seconds" },
      { { new_session_expire_time = 0 / 0 }, "option 'new_session_expire_time': expected seconds" },
      { { model = "../x" }, "option 'model': unsafe model name: it contains \"%.%.\"" },
      { { model = "" }, "option 'model': unsafe model name: it is empty" },
      { { setup = { tools = print } }, "option 'setup': tools: cannot encode a function" },
      { { setup = { x = "\255" } }, "option 'setup': x: invalid UTF%-8" },
      { { lock_fields = { a = "generationConfig" } }, "option 'lock_fields': expected a list of field paths" },
      { { lock_fields = { {} } }, "option 'lock_fields': expected a list of field paths" },
      { { base_url = "ftp://x" }, "option 'base_url': expected an http:// or https:// URL" },
      { { base_url = helper.sim_http .. "?x=1" }, "option 'base_url': has a query or fragment" },
      { { api_version = "../v1" }, "option 'api_version': expected letters, digits" },
      { { ca_file = "/etc/passwd\0" }, "option 'ca_file': expected a file path" },
      { { timeout = 0 / 0 }, "option 'timeout': expected seconds between 0 and 86400" },
      { { timeout = math.huge }, "option 'timeout': expected seconds between 0 and 86400" },
      { { api_key = "" }, "option 'api_key': expected a non%-empty string" },
      { { api_key = "key-secret-987\r\nX: y" }, "option 'api_key': contains CR, LF" },
    }
    for _, c in ipairs(cases) do
      local err = raises(c[2], realtime.gemini_ephemeral_token, base(c[1]))
      assert.is_nil(err:find("key-secret-987", 1, true))
      assert.is_nil(err:find(helper.sim_key, 1, true))
      assert.is_nil(err:find("auth.lua", 1, true), err)   -- the caller's line, not ours
    end
  end)

  it("checks a key from the environment as the option, naming the variable", function()
    local status, out = helper.child([[
      print(select(2, pcall(require("realtime").gemini_ephemeral_token, { base_url = "https://127.0.0.1:9" })))
    ]], { GEMINI_API_KEY = "env-key-secret\r\nX: y" })
    assert.equal(0, status, out)
    assert.matches("%$GEMINI_API_KEY %(the default of option 'api_key'%): contains CR, LF", out)
    assert.is_nil(out:find("env-key-secret", 1, true))
    assert.is_nil(out:find("auth.lua", 1, true), out)
  end)

  it("sends whole milliseconds, never a fraction rounded up to a full second", function()
    local t0 = os.time()
    local _, info = assert(realtime.gemini_ephemeral_token(base { expire_time = 59.9999 }))
    local want = {}
    for t = t0, os.time() do want[#want + 1] = os.date("!%Y-%m-%dT%H:%M:%S", t + 60) end
    local got = info.expire_time:match "^[^.Z]+"
    assert.is_truthy(table.concat(want, " "):find(got, 1, true), info.expire_time)
  end)
end)

describe("audio helpers with bad values", function()
  it("say what a sample rate must be for fractions, NaN and infinity", function()
    for _, r in ipairs { 16000.5, 0 / 0, math.huge } do
      raises("bad argument #2 to '.-' %(expected a sample rate from 8000 to 192000 Hz %(an integer%), got",
        realtime.resample, "\0\0", r, 16000)
      raises("bad argument #1 to '.-' %(expected a sample rate from 8000 to 192000 Hz %(an integer%)",
        realtime.resampler, r, 16000)
    end
  end)

  it("show a NaN rate as NaN, as the option checks do, not as the C library prints it", function()
    -- it read "got -nan" (glibc's printf of the NaN that 0/0 makes)
    raises("%(an integer%), got NaN%)$", realtime.resample, "\0\0", 0 / 0, 16000)
    raises("%(an integer%), got NaN%)$", realtime.resampler, 16000, 0 / 0)
    raises("%(an integer%), got 16000%.5%)$", realtime.resample, "\0\0", 16000.5, 16000)
  end)

  it("take a rate as a number only, as wav.encode does: a numeric string is refused", function()
    raises("bad argument #2 to '.-' %(expected a sample rate from 8000 to 192000 Hz, got string%)$",
      realtime.resample, "\0\0", "16000", 24000)
    raises("bad argument #3 to '.-' %(expected a sample rate from 8000 to 192000 Hz, got string%)$",
      realtime.resample, "\0\0", 16000, "24000")
    raises("bad argument #1 to '.-' %(expected a sample rate from 8000 to 192000 Hz, got string%)$",
      realtime.resampler, "16000", 24000)
  end)

  it("refuse a WAV path with a NUL byte instead of using the file before it", function()
    local path = os.tmpname()
    os.remove(path)
    raises("bad argument #1 to 'write' %(the path contains a NUL byte%)", realtime.wav.write,
      path .. "\0.wav", "\0\0", 16000)
    assert.is_nil(io.open(path, "rb"))
    raises("bad argument #1 to 'read' %(the path contains a NUL byte%)", realtime.wav.read, path .. "\0.wav")
  end)

  it("refuse an empty WAV path by name, as an empty ca_file or credentials path is", function()
    -- it came back as nil, ": No such file or directory", which names nothing
    raises("bad argument #1 to 'read' %(the path is empty%)", realtime.wav.read, "")
    raises("bad argument #1 to 'write' %(the path is empty%)", realtime.wav.write, "", "\0\0", 16000)
  end)

  it("read a file's header before the rest: a stream that is no WAV is refused without reading to its end", function()
    -- a FIFO whose writer never finishes: reading "to the end" would wait for ever (as
    -- /dev/zero would fill memory)
    local dir = os.tmpname()
    os.remove(dir)
    local script = dir .. ".lua"
    helper.write_file(script, 'print(require("realtime").wav.read(arg[1]))')
    local preload = os.getenv "LD_PRELOAD"
    local q = helper.shell_quote
    -- (the FIFO is made before the writer starts in the background: `a && b & c` would
    -- let the reader look for it first)
    local status, out = helper.run(("mkdir %s && mkfifo %s/f && { { printf 'NOT A WAV FILE, NEVER ENDING'; "
      .. "exec sleep 30; } > %s/f & w=$!; %s timeout 10 lua5.4 %s %s/f; echo status=$?; kill $w; }; rm -rf %s")
      :format(q(dir), q(dir), q(dir), preload and ("LD_PRELOAD=" .. q(preload)) or "", q(script), q(dir), q(dir)))
    os.remove(script)
    assert.equal(0, status, out)
    assert.matches("nil\t.*/f: not a WAV file: no RIFF/WAVE header\nstatus=0", out)
  end)

  it("name the type of a rate or a channel count that is not a number", function()
    raises("bad argument #2 to 'encode' %(rate must be an integer, got string%)", realtime.wav.encode, "\0\0", "16000")
    raises("bad argument #2 to 'to_mono' %(channels must be an integer, got table%)", realtime.wav.to_mono, "\0\0", {})
  end)
end)

-- C reads a string only up to a NUL byte: "a\0b" would be "a", another file, URL, key or
-- name than the caller gave, with no error. Every string the binding hands to C as one
-- raises instead, naming what it is and never quoting a secret.
describe("a NUL byte in a value the binding hands to C", function()
  local core = require "realtime.core"

  -- What a call that did not raise made (the old behaviour): closed, so nothing lingers.
  local function close_all(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      local mt = getmetatable(v)
      if type(mt) == "table" and type(mt.__index) == "table" and mt.__index.close then pcall(v.close, v) end
    end
  end

  -- Nil when fn(...) raises an error matching pattern (plain text) that does not quote
  -- secret; else what it did instead, for the list of cases that went wrong.
  local function fault(pattern, secret, fn, ...)
    local res = table.pack(pcall(fn, ...))
    if res[1] then
      close_all(table.unpack(res, 2, res.n))
      return pattern .. ": no error"
    end
    local err = tostring(res[2])
    if not err:find(pattern, 1, true) or not err:find("contains a NUL byte", 1, true) then
      return pattern .. ": got " .. err
    end
    if secret and err:find(secret, 1, true) then return pattern .. ": quotes the value" end
  end

  -- Runs every case ({ pattern, secret, fn, args... }) and fails listing those that went
  -- wrong, so that one run shows each.
  local function all_refused(cases)
    local bad = {}
    for _, c in ipairs(cases) do
      bad[#bad + 1] = fault(c[1], c[2], c[3], table.unpack(c, 4, c.n or #c))
    end
    assert.same({}, bad)
  end

  local function refused(pattern, secret, fn, ...)
    all_refused { table.pack(pattern, secret, fn, ...) }
  end

  it("in the options of the core's constructors and requests (table-driven)", function()
    local cases = {
      { "option 'ca_file': contains", nil, core.client_new, { ca_file = "/etc/passwd\0.pem" } },
      { "option 'event_loop': 'poll\\x00x'", nil, core.client_new, { event_loop = "poll\0x" } },
      { "field 'kind': 'metadata\\x00x'", nil, core.auth_new, { kind = "metadata\0x", source = "s" } },
      { "field 'url': contains", nil, core.http_request, { url = "http://127.0.0.1:1/\0x" } },
      { "field 'ca_file': contains", nil, core.http_request,
        { url = "http://127.0.0.1:1/", ca_file = "/etc/passwd\0.pem" } },
      { "field 'headers': a name or value contains", "secret-hdr", core.http_request,
        { url = "http://127.0.0.1:1/", headers = { ["x-goog-api-key"] = "k\0secret-hdr" } } },
      { "field 'headers': a name or value contains", nil, core.http_request,
        { url = "http://127.0.0.1:1/", headers = { ["x-a\0b"] = "v" } } },
      { "_read_file: the path contains", nil, core._read_file, "/etc/hostname\0x", "file", 100, 0 },
      { "_file_exists: the path contains", nil, core._file_exists, "/etc/passwd\0x" },
      { "map context: 'project' contains", nil, core.model_name,
        { backend = "vertex", project = "p\0x", location = "l" }, "m" },
      { "map context: 'location' contains", nil, core.map_new,
        { backend = "vertex", project = "p", location = "l\0x" } },
    }
    -- every string field of a token source: several are secrets
    for _, f in ipairs { "source", "scope", "token_uri", "client_email", "private_key", "private_key_id",
                         "subject", "client_id", "client_secret", "refresh_token", "metadata_host",
                         "ca_file" } do
      local spec = { kind = "metadata", source = "s", metadata_host = "127.0.0.1:1" }
      spec[f] = "v\0secret-" .. f
      cases[#cases + 1] = { "field '" .. f .. "': contains", "secret-" .. f, core.auth_new, spec }
    end
    all_refused(cases)
  end)

  it("in what a connect hands the core (URL, audio mime type, headers)", function()
    local client = assert(core.client_new {})
    local function cfg(over)
      local t = { url = "wss://127.0.0.1:1/ws", setup = '{"setup":{}}', timeout = 1 }
      for k, v in pairs(over) do t[k] = v end
      return t
    end
    local cases = {
      { "field 'url': contains", { url = "wss://127.0.0.1:1/ws\0x" } },
      { "field 'audio_mime': contains", { audio_mime = "audio/pcm;rate=16000\0x" } },
      { "field 'headers': a name or value contains", { headers = { { "authorization", "Bearer t\0secret-tok" } } } },
    }
    for i, c in ipairs(cases) do
      cases[i] = { c[1], "secret-tok", client._connect, client, cfg(c[2]), {}, {}, {} }
    end
    all_refused(cases)
    client:close()
  end)

  it("in realtime.credentials' ca_file, which the token fetches would read", function()
    local props = { credentials = { type = "authorized_user", client_id = "cid", client_secret = "csecret",
      refresh_token = "rtoken", token_uri = "http://127.0.0.1:1/token" }, ca_file = "/etc/passwd\0.pem" }
    refused("field 'ca_file': contains", "csecret", realtime.credentials, props, 1)
  end)

  it("in the options already checked by name keeps raising (api_key, headers, base_url, ...)", function()
    local cases = {
      { "option 'api_key': contains", { api_key = "key\0secret-key" } },
      { "option 'api_version': contains", { api_key = "k", api_version = "v1\0x" } },
      { "option 'base_url': contains", { api_key = "k", base_url = "https://h\0x" } },
      { "option 'headers': a name or value contains", { api_key = "k", headers = { ["x-a"] = "b\0secret-key" } } },
    }
    for i, c in ipairs(cases) do cases[i] = { c[1], "secret-key", realtime.gemini, c[2] } end
    for k, v in pairs { project = "p\0x", location = "l\0x", access_token = "t\0secret-key",
                        quota_project = "q\0secret-key" } do
      local opts = { project = "p", access_token = "t" }
      opts[k] = v
      cases[#cases + 1] = { "option '" .. k .. "': contains", "secret-key", realtime.vertex, opts }
    end
    all_refused(cases)
  end)
end)

describe("realtime.core opened again in the same state", function()
  -- package.loaded["realtime.core"] = nil, then require: a second open of the C module.
  -- It must leave the classes as they are: the methods the Lua front added to them are
  -- what live clients and sessions (and those made later through `realtime`) call.
  it("keeps every method of existing and new clients, sessions, credentials and arrays", function()
    local status, out = helper.child(([[
      local realtime = require "realtime"
      local c = assert(realtime.gemini { api_key = %q, base_url = %q, ca_file = %q, model = %q })
      local s = assert(c:connect { output_modalities = { "text" } })
      local core = require "realtime.core"
      local arr = core.json_array()
      package.loaded["realtime.core"] = nil
      local again = require "realtime.core"
      assert(again ~= core, "the module was not opened again")
      assert(again.session_methods.send_text, "core.session_methods lost the Lua methods")
      print("array", again.json_encode(arr), again.json_encode { list = arr })
      local function turn(sess)
        assert(sess:send_text "hello there")
        for msg in sess:messages(10) do
          if msg.type == "error" then error(msg.message) end
          if msg.type == "response_done" then return msg.type end
        end
      end
      print("old session", turn(s))
      local s2 = assert(c:connect { output_modalities = { "text" } })
      print("old client, new session", turn(s2))
      local c2 = assert(realtime.gemini { api_key = %q, base_url = %q, ca_file = %q, model = %q })
      local s3 = assert(c2:connect { output_modalities = { "text" } })
      print("new client", turn(s3))
      print("auth", again.Auth == core.Auth and type(again.Auth.__index.token))
      s:close() s2:close()
      print("closed", s:is_open(), s2:is_open())
      c:close() c2:close()
      print("clients closed", c:is_open(), c2:is_open())
    ]]):format(helper.sim_key, helper.sim_http, helper.sim_ca, helper.model,
               helper.sim_key, helper.sim_http, helper.sim_ca, helper.model), { timeout = 60 })
    assert.equal(0, status, out)
    assert.matches("array\t%[%]\t{\"list\":%[%]}", out)
    assert.matches("old session\tresponse_done", out)
    assert.matches("old client, new session\tresponse_done", out)
    assert.matches("new client\tresponse_done", out)
    assert.matches("auth\tfunction", out)
    assert.matches("closed\tfalse\tfalse", out)
    assert.matches("clients closed\tfalse\tfalse", out)
  end)
end)
