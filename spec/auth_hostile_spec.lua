-- Token endpoints that answer badly, served by the hostile server's /_token
-- (spec/hostile/README.md): each answer is refused with an "auth" error that names the
-- source and the endpoint and quotes no secret, a token that cannot be put in a header
-- never is, and a token that expires at once is refused instead of fetched again and again.
-- Then credential fields that messages show: never a line break or an escape from a file.
local helper = require "spec.helper"
local auth = require "realtime.auth"
local realtime = require "realtime"
local core = require "realtime.core"
local cjson = require "cjson"

local b64url = helper.b64url

local SECRET, REFRESH = "client-secret-XYZ12345", "refresh-token-ABC98765"

describe("token endpoints that answer badly", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  local function requests() return h:token_requests() end

  -- Resolves an authorized-user credential whose token endpoint answers `body` (a string)
  -- with the query's other settings; returns what resolve returned and the props.
  local function resolve(body, query, timeout, token_uri)
    local p = { backend = "vertex", project = "p", location = "us-central1", ca_file = h.ca_file,
      credentials = { type = "authorized_user", client_id = "cid", client_secret = SECRET,
        refresh_token = REFRESH,
        token_uri = token_uri or (h.http .. "/_token?" .. (query or "") .. "&body=" .. b64url(body)) } }
    local ok, err, code = auth.resolve(p, timeout or 10)
    if err then
      assert.is_nil(err:find(SECRET, 1, true))
      assert.is_nil(err:find(REFRESH, 1, true))
    end
    if p.token_source then p.token_source:close() end
    return ok, err, code, p
  end

  local function refused(body, query)
    local ok, err, code = resolve(body, query)
    assert.is_nil(ok)
    assert.equal("auth", code)
    assert.matches("^credentials table %(authorized user, client cid%): ", err)
    return err
  end

  it("an access_token that is missing, empty, not a string or not header-safe is never used", function()
    for _, body in ipairs {
      '{"expires_in":3600}', '{"access_token":"","expires_in":3600}', '{"access_token":5}',
      '{"access_token":"abc\r\nX-Evil: 1"}', '{"access_token":"abc\\r\\nX-Evil: 1"}',
      '{"access_token":"abc\\u0000def"}', '{"access_token":"a b"}',
      '[{"access_token":"abc"}]', '{"nested":{"access_token":"abc"}}',
      '<html><body>Sign in</body></html>', 'access_token=abc&expires_in=3600',
    } do
      local err = refused(body)
      assert.matches("the token endpoint https://127%.0%.0%.1:%d+/_token answered without a usable access_token$",
        err)
    end
  end)

  it("an access_token longer than a header value may be is refused, not taken", function()
    local err = refused('{"access_token":"' .. string.rep("a", 16385) .. '","expires_in":3600}')
    assert.matches("the token endpoint https://127%.0%.0%.1:%d+/_token answered with an "
      .. "access_token of 16385 bytes %(at most 16384%)$", err)
    assert.is_nil(err:find("aaaaaaaa", 1, true))
    local ok, _, _, p = resolve('{"access_token":"' .. string.rep("b", 16384) .. '","expires_in":3600}')
    assert.truthy(ok)
    assert.equal(16384, #p.access_token)
  end)

  it("a refusal quotes the server's text shortened", function()
    local err = refused('{"error":{"message":"' .. string.rep("x", 5000) .. '"}}', "status=500")
    assert.matches("refused: HTTP 500: x+$", err)
    assert.is_true(#err < 400, err)
  end)

  it("a token that expires within a second is refused after one request, not fetched in a loop", function()
    for _, e in ipairs { "0.001", "0.5", "0", "-5" } do
      local before = requests()
      local err = refused('{"access_token":"short-lived","expires_in":' .. e .. '}')
      assert.matches("answered with expires_in " .. e:gsub("%-", "%%-") .. ": a token that is expired or expires within a second",
        err)
      assert.is_nil(err:find("short-lived", 1, true))
      assert.equal(before + 1, requests())
    end
  end)

  it("an expires_in that is not a number, or beyond a week, counts as an hour", function()
    for _, e in ipairs { '"60"', "1e300", "null" } do
      local ok, err, _, p = resolve('{"access_token":"tok-' .. #e .. '","expires_in":' .. e .. '}')
      assert.is_true(ok, err)
      assert.equal("tok-" .. #e, p.access_token)
    end
  end)

  it("an endpoint that never answers is bounded by the caller's timeout, which the error gives", function()
    local t0 = core.now()
    local ok, err, code = resolve("{}", "delay=never", 1.5)
    assert.is_nil(ok)
    assert.equal("auth", code)
    assert.matches("no access token after 1.5 s", err)
    assert.is_true(core.now() - t0 < 5)
  end)

  it("connect's timeout bounds the token fetch too, and the handshake gets what is left", function()
    local client = assert(realtime.vertex { project = "p", location = "us-central1", model = "m",
      base_url = h:base_url "setup_ok", ca_file = h.ca_file,
      credentials = { type = "authorized_user", client_id = "cid", client_secret = SECRET,
        refresh_token = REFRESH, token_uri = h.http .. "/_token?delay=never" } })
    local t0 = core.now()
    local s, err, code = client:connect { timeout = 1.5 }
    assert.is_nil(s)
    assert.equal("auth", code)
    assert.matches("no access token after 1.5 s", err)
    assert.is_true(core.now() - t0 < 4, core.now() - t0)
    client:close()
  end)

  it("a token_uri over plain http is refused unless it is this machine", function()
    -- the scheme in any case: "HTTP://" is plain http too, never taken for https
    for _, uri in ipairs { "http://oauth2.example.com/token", "http://127.0.0.1.example.com/token",
      "http://localhost@example.com/token", "HTTP://oauth2.example.com/token",
      "Http://127.0.0.2:9/token" } do
      local ok, err, code = resolve("", nil, nil, uri)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("token_uri must be an https:// URL %(http:// only to this machine", err)
    end
    -- user information before a loopback name hides another host from a prefix check
    for _, uri in ipairs { "http://localhost:1@127.0.0.2:9/ok", "http://localhost:80@example.com/token",
      "http://127.0.0.1:9\\@example.com/ok", "http://localhost:80.example.com/token",
      "https://user@127.0.0.1:9/token" } do
      local ok, err, code = resolve("", nil, nil, uri)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("token_uri must be", err)
      assert.is_nil(err:find("example", 1, true), err)
      assert.is_nil(err:find("127.0.0.2", 1, true), err)
    end
    -- control characters and spaces are refused before any request, so never quoted
    for _, uri in ipairs { "http://127.0.0.1:9/ok\r\nX: y", "https://127.0.0.1:9/a b", "https://127.0.0.1:9/\27[31m" } do
      local ok, err, code = resolve("", nil, nil, uri)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("token_uri must be a URL without spaces, control characters", err)
      assert.is_nil(err:find("%c"), err)
    end
    -- loopback over http is fine (a local emulator): it is asked, and answers nothing here
    for _, uri in ipairs { "http://localhost:9/token", "http://[::1]:9/token", "http://127.0.0.1:9?x=1" } do
      local ok, err = resolve("", nil, nil, uri)
      assert.is_nil(ok)
      assert.matches("POST http://.*onnect", err)
    end
    local ok, err = resolve("", nil, nil, "http://127.0.0.1:9/token")
    assert.is_nil(ok)
    assert.matches("POST http://127%.0%.0%.1:9/token: .*onnect", err)
  end)
end)

describe("credential fields in messages", function()
  it("a client_email or client_id is shown cut short, without control or non-ASCII bytes", function()
    local key = assert(io.open(helper.certs .. "/server.key")):read "a"
    for _, c in ipairs {
      { type = "service_account", private_key = key, token_uri = "https://127.0.0.1:9/token",
        client_email = "evil\r\nFAKE LOG LINE \27[31m\255" .. string.rep("e", 100000) },
      { type = "authorized_user", client_secret = SECRET, refresh_token = REFRESH,
        token_uri = "https://127.0.0.1:9/token", client_id = "evil\r\nFAKE LOG LINE \27[31m\255" .. string.rep("e", 100000) },
    } do
      local ok, err, code = auth.resolve({ backend = "vertex", project = "p", location = "us-central1",
        credentials = c }, 10)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("^credentials table %((.-) evil%?%?FAKE LOG LINE %?%[31m%?e+%.%.%.%): ", err)
      assert.is_nil(err:find("[%c\128-\255]"), err)
      assert.is_true(#err < 300, #err)
    end
  end)

  -- A key file's text set where its path belongs (a CI secret pasted into the variable,
  -- or the text read and passed as `credentials`) names no file: the message said so
  -- quoting the "path", which was the refresh token, the client secret, the private key.
  it("a key file's text, or its base64, where the path belongs is refused without quoting it", function()
    local key = assert(io.open(helper.certs .. "/server.key")):read "a"
    local body = key:gsub("%-%-%-%-%-[^\n]*%-%-%-%-%-", ""):gsub("%s", "")
    local texts = {   -- as gcloud and the Cloud console write them: the secrets come early
      cjson.encode { client_id = "cid.apps.googleusercontent.com", client_secret = SECRET,
        refresh_token = REFRESH, type = "authorized_user" },
      '{\n  "type": "service_account",\n  "private_key": ' .. cjson.encode(key)
        .. ',\n  "client_email": "bot@p.iam.gserviceaccount.com"\n}\n',
    }
    local function no_secret(err, text, b64)
      assert.equal(err, auth.mask_secrets(err, SECRET, REFRESH, body, b64), err)
      assert.is_nil(err:find("PRIVATE KEY", 1, true), err)
      assert.is_nil(err:find(text:sub(1, 12), 1, true), err)
    end
    for _, text in ipairs(texts) do
      local b64 = helper.b64url(text):gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
      local ok, err, code = auth.resolve({ backend = "vertex", project = "p", credentials = text }, 5)
      assert.is_nil(ok)
      assert.equal("auth", code)
      no_secret(err, text, b64)
      assert.matches("^credentials: the string is a key file's JSON text, not a key file's "
        .. "path: ", err)
      for value, what in pairs { [text] = "JSON text", [b64] = "JSON text in base64" } do
        local _, out = helper.child([[
          local auth = require "realtime.auth"
          print(select(2, auth.resolve({ backend = "vertex", project = "p" }, 5)))
        ]], { GOOGLE_APPLICATION_CREDENTIALS = value })
        no_secret(out, text, b64)
        assert.equal(1, (out:find("GOOGLE_APPLICATION_CREDENTIALS holds a key file's " .. what
          .. ", not a key file's path: ", 1, true)), out)
      end
    end
    local _, err = auth.resolve({ backend = "vertex", project = "p", credentials = key }, 5)
    assert.equal("credentials: the string is a private key in PEM, not a key file's path: pass "
      .. "the file's path, or its decoded table", err)
    -- a missing file whose name only looks like JSON or base64 is quoted as before
    for _, path in ipairs { "{HOME}/key.json", "e2e/keys/service_account_key",
                            "eyes/only/service/account/key" } do
      local _, err = auth.resolve({ backend = "vertex", project = "p", credentials = path }, 5)
      assert.equal("cannot read credentials file " .. path .. ": No such file or directory", err)
    end
  end)

  -- An env file keeps the quotes around a value (docker --env-file, compose), and a JSON
  -- string of the text escapes its quotes: the text does not open with {" then, yet it is
  -- a key's text all the same, and naming no file it was quoted with its secrets.
  it("a key file's text in quotes or escaped once more is refused without quoting it", function()
    local text = cjson.encode { client_id = "cid.apps.googleusercontent.com",
      client_secret = SECRET, refresh_token = REFRESH, type = "authorized_user" }
    for _, value in ipairs { "'" .. text .. "'", '"' .. text .. '"', cjson.encode(text),
                             " " .. text, "x" .. text } do
      local _, err = auth.resolve({ backend = "vertex", project = "p", credentials = value }, 5)
      assert.equal(err, auth.mask_secrets(err, SECRET, REFRESH), err)
      assert.equal("credentials: the string is a key file's JSON text, not a key file's path: "
        .. "pass the file's path, or its decoded table", err)
      local _, out = helper.child([[
        local auth = require "realtime.auth"
        print(select(2, auth.resolve({ backend = "vertex", project = "p" }, 5)))
      ]], { GOOGLE_APPLICATION_CREDENTIALS = value })
      assert.equal(out, auth.mask_secrets(out, SECRET, REFRESH), out)
      assert.equal(1, (out:find("GOOGLE_APPLICATION_CREDENTIALS holds a key file's JSON text, "
        .. "not a key file's path: ", 1, true)), out)
    end
  end)

  -- A .env file or a compose file sets GOOGLE_APPLICATION_CREDENTIALS=~/key.json without
  -- a shell to expand the "~": "No such file" alone hides why a file that exists is not found.
  it("a path starting with ~ that names no file says that ~ is not expanded", function()
    for _, path in ipairs { "~/.config/no-such-key.json", "~someone/key.json" } do
      local _, err = auth.resolve({ backend = "vertex", project = "p", credentials = path }, 5)
      assert.equal("cannot read credentials file " .. path .. ": No such file or directory "
        .. "(a shell expands ~ to a home directory, this library does not: give the full path)", err)
    end
  end)

  -- A key escaped twice (a JSON string of JSON, an environment variable holding the
  -- file's escapes) has "\n" as a backslash and an n: OpenSSL only said it was no key.
  it("a private_key whose line breaks are written \\n is named as such, before any request", function()
    local key = assert(io.open(helper.certs .. "/server.key")):read "a"
    for _, escaped in ipairs { (key:gsub("\n", "\\n")), (key:gsub("\n", "\\r\\n")) } do
      local ok, err, code = auth.resolve({ backend = "vertex", project = "p", credentials = {
        type = "service_account", client_email = "bot@p.iam.gserviceaccount.com",
        private_key = escaped, token_uri = "https://127.0.0.1:9/token" } }, 5)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.equal('credentials table (service_account): "private_key" has its line breaks '
        .. 'written as \\n (a backslash and an n): the key was escaped twice; decode it once '
        .. 'more, or replace each \\n with a line break', err)
    end
  end)

  it("a quota_project_id that cannot be a header value is an 'auth' error naming the field", function()
    local h = helper.hostile { tls = true }
    for _, qp in ipairs { "p\r\nX-Evil: 1", string.rep("p", 20000), "billing\194\160" } do
      local client = assert(realtime.vertex { project = "p", location = "us-central1", model = "m",
        base_url = h:base_url "setup_ok", ca_file = h.ca_file,
        credentials = { type = "authorized_user", client_id = "cid", client_secret = SECRET,
          refresh_token = REFRESH, token_uri = h.http .. "/_token", quota_project_id = qp } })
      local ok, s, err, code = pcall(client.connect, client, { timeout = 5 })
      assert.is_true(ok, s)
      assert.is_nil(s)
      assert.equal("auth", code)
      assert.matches('^credentials table %(authorized_user%): "quota_project_id" ', err)
      assert.matches("x%-goog%-user%-project", err)
      client:close()
    end
    h:stop()
  end)
end)

-- The JSON decoder ends the text at a NUL byte: what came after one was dropped unread,
-- and a file saved as UTF-16 was only "not valid JSON".
describe("a credentials file with NUL bytes", function()
  local user = cjson.encode { type = "authorized_user", client_id = "cid", client_secret = SECRET,
    refresh_token = REFRESH, token_uri = "https://127.0.0.1:9/token" }

  local function err_of(text)
    local path = os.tmpname()
    helper.write_file(path, text)
    local ok, err, code = auth.resolve({ backend = "vertex", project = "p", credentials = path }, 5)
    os.remove(path)
    assert.is_nil(ok)
    assert.equal("auth", code)
    assert.equal(err, auth.mask_secrets(err, SECRET, REFRESH))
    return (err:gsub("^credentials file %S+ ", "credentials file F "))
  end

  it("saved as UTF-16 says so", function()
    local utf16 = user:gsub(".", "%0\0")
    for _, text in ipairs { "\255\254" .. utf16, utf16, "\254\255" .. ("\0" .. utf16):sub(1, -2) } do
      assert.equal("credentials file F is UTF-16 text: save it as UTF-8", err_of(text))
    end
  end)

  it("after the JSON, or only NUL bytes, is refused, not dropped", function()
    for _, text in ipairs { user .. "\0{}", ("\0"):rep(2048) } do
      assert.equal("credentials file F holds a NUL byte, which JSON text cannot: download the key "
        .. "file again or run `gcloud auth application-default login`", err_of(text))
    end
  end)
end)

-- Off Google Cloud, something else may answer for metadata.google.internal: the proxy of
-- $http_proxy, a captive portal, a resolver that answers every name. Google's libraries
-- take only an answer with Metadata-Flavor: Google; this one reported the proxy's 404 as
-- a failing metadata server instead of "no credentials found".
describe("the default metadata host answered by something that is no metadata server", function()
  it("is 'no Vertex AI credentials found', saying what answered", function()
    local h = helper.hostile()
    local _, out = helper.child([[
      local auth = require "realtime.auth"
      print(select(3, auth.resolve({ backend = "vertex", project = "p" }, 10)),
        (select(2, auth.resolve({ backend = "vertex", project = "p" }, 10))))
    ]], { http_proxy = h.http, no_proxy = "", NO_PROXY = "", GCE_METADATA_HOST = "",
          GOOGLE_APPLICATION_CREDENTIALS = "", CLOUDSDK_CONFIG = "", HOME = "/nonexistent" })
    h:stop()
    assert.matches("^auth\tno Vertex AI credentials found: ", out)
    assert.matches("%(metadata server http://metadata%.google%.internal: GET "
      .. "http://metadata%.google%.internal/computeMetadata/v1/instance/service%-accounts/default/token: "
      .. "its answer %(HTTP 404%) lacks Metadata%-Flavor: Google, so no metadata server gave it "
      .. "%(a proxy%? on Google Cloud, set no_proxy=metadata%.google%.internal%)%)\n$", out)
  end)
end)

describe("a GCE_METADATA_HOST of a form the core refuses", function()
  it("is an 'auth' error naming the variable, not the core's field", function()
    for host, why in pairs { ["host:99999"] = "has an invalid port %(1 to 65535%)",
      ["::::"] = "has no host", ["[::1"] = "has an unterminated IPv6 address",
      ["http:///x"] = "has no host" } do
      local _, out = helper.child([[
        local auth = require "realtime.auth"
        print(select(3, auth.resolve({ backend = "vertex", project = "p" }, 5)),
          (select(2, auth.resolve({ backend = "vertex", project = "p" }, 5))))
      ]], { GCE_METADATA_HOST = host, GOOGLE_APPLICATION_CREDENTIALS = "", CLOUDSDK_CONFIG = "",
            HOME = "/nonexistent" })
      assert.matches("^auth\tmetadata server [^\n]*: GCE_METADATA_HOST " .. why .. "\n$", out)
    end
  end)
end)

-- A key copied from a web page or a chat may bring a no-break space, a zero-width space or
-- typographic quotes with it. Keys and tokens are ASCII: such a byte went out in the
-- header and came back as the server's "API key not valid", which does not say why.
describe("a key or token with a byte outside ASCII", function()
  local pasted = { "AIzaSyD-secret-key-123\194\160", "\226\128\156AIzaSyD-secret-key-123\226\128\157",
    "AIzaSyD-secret\226\128\139-key-123" }

  it("raises when the client is made, naming the option and quoting nothing", function()
    for _, key in ipairs(pasted) do
      for _, make in ipairs {
        function() return realtime.gemini { api_key = key } end,
        function() return realtime.vertex { api_key = key } end,
        function() return realtime.vertex { project = "p", access_token = key } end,
        function() return realtime.gemini_ephemeral_token { api_key = key } end,
      } do
        local ok, err = pcall(make)
        assert.is_false(ok)
        assert.matches("option '%a+_%a+': contains a byte outside ASCII", err)
        assert.is_nil(err:find("secret", 1, true), err)
      end
    end
  end)

  it("from $GEMINI_API_KEY or $GOOGLE_API_KEY raises naming the variable", function()
    for _, var in ipairs { "GEMINI_API_KEY", "GOOGLE_API_KEY" } do
      local _, out = helper.child([[
        local realtime = require "realtime"
        print(select(2, pcall(realtime.gemini, {})))
        print(select(2, pcall(realtime.gemini_ephemeral_token, {})))
      ]], { GEMINI_API_KEY = var == "GEMINI_API_KEY" and pasted[1] or "", GOOGLE_API_KEY = pasted[1] })
      local want = "$" .. var .. " (the default of option 'api_key'): contains a byte outside ASCII"
      local a, b = out:match "^([^\n]*)\n([^\n]*)\n$"
      assert.matches(want, a, 1, true)
      assert.matches(want, b, 1, true)
      assert.is_nil(out:find("secret", 1, true), out)
    end
  end)
end)

-- An access_token copied with its scheme ("Bearer ya29...", as an Authorization header or
-- curl's -H shows it) went out as "Bearer Bearer ya29..." and came back as a bare 401.
describe("an access_token with a space", function()
  it("raises when the client is made, saying to pass the token alone", function()
    for _, token in ipairs { "Bearer ya29.secret-token", "bearer ya29.secret-token",
      "ya29.secret-token ", "ya29.secret token" } do
      local ok, err = pcall(realtime.vertex, { project = "p", access_token = token })
      assert.is_false(ok)
      assert.matches("option 'access_token': contains a space, which no bearer token holds "
        .. '%(pass the token alone, without "Bearer "%)$', err)
      assert.is_nil(err:find("secret", 1, true), err)
    end
  end)
end)

describe("an ephemeral-token endpoint that answers badly", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  local KEY = "hostile-api-key-123456"
  -- stretch: the first "@@" of the body becomes that many letters (the URL is bounded)
  local function mint(status, body, stretch)
    return realtime.gemini_ephemeral_token { api_key = KEY, ca_file = h.ca_file, timeout = 10,
      base_url = ("%s/_token/status=%d/body=%s%s"):format(h.http, status, b64url(body),
        stretch and "/stretch=" .. stretch or "") }
  end

  it("a token name that could not go in a header is refused, and not quoted", function()
    for _, name in ipairs { "auth_tokens/abc\r\nX-Evil: 1", "auth_tokens/a b", "auth_tokens/",
      "auth_tokens/@@" } do
      local tok, err, code = mint(200, cjson.encode { name = name }, name:find("@@", 1, true) and 20000)
      assert.is_nil(tok)
      assert.equal("protocol", code)
      assert.matches("answered without a usable token name$", err)
      assert.is_nil(err:find("abc", 1, true))
    end
    local tok = assert(mint(200, '{"name":"auth_tokens/fine-Token_1.2~3+/="}'))
    assert.equal("auth_tokens/fine-Token_1.2~3+/=", tok)
    -- the stretched name is what the refusal above was about: 100 letters are taken
    assert.equal("auth_tokens/" .. string.rep("t", 100),
      assert(mint(200, cjson.encode { name = "auth_tokens/@@" }, 100)))
  end)

  it("a refusal quotes the server's text shortened to printable characters", function()
    local tok, err, code = mint(400, cjson.encode { error = { status = "INVALID_ARGUMENT",
      message = "bad\r\nFAKE LOG LINE \27[31m" .. string.rep("x", 5000) } })
    assert.is_nil(tok)
    assert.equal("auth", code)
    assert.matches("refused to mint an ephemeral token %(HTTP 400 INVALID_ARGUMENT: bad%?%?FAKE LOG LINE %?%[31mx+%.%.%.%)$", err)
    assert.is_true(#err:match "%(HTTP .*$" < 300, err)   -- the URL carries the test's body
  end)

  it("a refusal that echoes the key in its status shows none of it", function()
    for _, status in ipairs { KEY, "KEY_" .. KEY:sub(3, 14) } do
      local tok, err, code = mint(400, cjson.encode { error = { status = status, message = "bad" } })
      assert.is_nil(tok)
      assert.equal("auth", code)
      assert.matches("refused to mint an ephemeral token %(HTTP 400 [%*%w_]+: bad%)$", err)
      for k = 1, #KEY - 7 do
        assert.is_nil(err:find(KEY:sub(k, k + 7), 1, true), err)
      end
    end
  end)

  it("a refusal that quotes the key, or part of it, shows neither", function()
    for _, message in ipairs {
      "API key " .. KEY:sub(1, -2) .. "... is not valid",                    -- all but its end
      string.rep("k", 150) .. " key=" .. KEY .. " rest",                      -- cut at 160 bytes
      "API key " .. KEY .. " expired; " .. KEY:sub(5) } do
      local tok, err, code = mint(400, cjson.encode { error = { status = "INVALID_ARGUMENT", message = message } })
      assert.is_nil(tok)
      assert.equal("auth", code)
      assert.matches("refused to mint an ephemeral token %(HTTP 400 INVALID_ARGUMENT: ", err)
      for k = 1, #KEY - 7 do
        assert.is_nil(err:find(KEY:sub(k, k + 7), 1, true), err)
      end
    end
  end)
end)
