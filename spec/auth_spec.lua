-- Credentials against the simulator's token services: service-account JWTs (the
-- simulator checks the RS256 signature with the public key registered here, and the
-- audience, issuer, scope and times), the refresh-token grant, the metadata server,
-- short-lived tokens refreshed in the background, ephemeral Gemini tokens, every failure
-- path, and no secret in any message, log line or tostring.
local realtime = require "realtime"
local auth = require "realtime.auth"
local core = require "realtime.core"
local cjson = require "cjson"
local helper = require "spec.helper"

local q = helper.shell_quote

-- Everything the suite might leak; checked against every text it collects.
local secrets = {}
local texts = {}
local function seen(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" then texts[#texts + 1] = v end
  end
  return ...
end

local function make_key(dir, name)
  local code, out = helper.run(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s"
    .. " && openssl pkey -in %s -pubout -out %s"):format(q(dir .. "/" .. name .. ".key"),
    q(dir .. "/" .. name .. ".key"), q(dir .. "/" .. name .. ".pub")))
  assert(code == 0, out)
  local key = helper.read_file(dir .. "/" .. name .. ".key")
  -- every line of the key body is a secret
  for line in key:gmatch "[^\n]+" do
    if not line:find "^%-%-%-%-%-" then secrets[#secrets + 1] = line end
  end
  return key, helper.read_file(dir .. "/" .. name .. ".pub")
end

--- Runs a Lua snippet in a child process with extra environment variables; returns its
-- output (the snippet prints what the test checks).
local function child(env, code)
  local parts = { "env -u GOOGLE_APPLICATION_CREDENTIALS -u GCE_METADATA_HOST -u CLOUDSDK_CONFIG" }
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. q(v) end
  -- under `make check` the child needs the sanitizer runtimes the suite was started with
  local preload = os.getenv "LD_PRELOAD"
  if preload and preload ~= "" then parts[#parts + 1] = "LD_PRELOAD=" .. q(preload) end
  parts[#parts + 1] = "lua5.4 -e " .. q(code)
  local status, out = helper.run(table.concat(parts, " "))
  seen(out)
  return out, status
end

describe("credentials against the simulator", function()
  local dir, sa_key, other_key, token_uri
  local email = "runner@livesim-test.iam.gserviceaccount.com"
  local user = { client_id = "1234.apps.googleusercontent.com", client_secret = "user-secret-XYZ123",
                 refresh_token = "1//refresh-token-ABC987" }

  local function sa_info(extra)
    local t = { type = "service_account", project_id = "livesim-test", private_key_id = "kid-1",
                private_key = sa_key, client_email = email, token_uri = token_uri }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end
  local function user_info(extra)
    local t = { type = "authorized_user", client_id = user.client_id, client_secret = user.client_secret,
                refresh_token = user.refresh_token, token_uri = token_uri }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end
  local function props(creds)
    return { backend = "vertex", project = "livesim-test", location = "us-central1",
             credentials = creds, ca_file = helper.sim_ca }
  end
  local function resolve(p)
    local ok, err, code = seen(auth.resolve(p, 20))
    if p.access_token then secrets[#secrets + 1] = p.access_token end
    return ok, err, code
  end
  local function close(p)
    if p.token_source then p.token_source:close() end
  end

  lazy_setup(function()
    realtime.log(function(_, text) seen(text) end)
    dir = helper.tmpdir()
    local pub, other_pub
    sa_key, pub = make_key(dir, "sa")
    other_key, other_pub = make_key(dir, "other")
    assert(other_pub)
    token_uri = helper.sim_http .. "/token"
    assert.same({ ok = true }, helper.sim_post("/_sim/service-accounts", { client_email = email, public_key = pub }))
    assert.same({ ok = true }, helper.sim_post("/_sim/authorized-users", user))
    secrets[#secrets + 1] = user.client_secret
    secrets[#secrets + 1] = user.refresh_token
    secrets[#secrets + 1] = helper.sim_key
    helper.write_file(dir .. "/sa.json", cjson.encode(sa_info()))
    helper.write_file(dir .. "/user.json", cjson.encode(user_info { quota_project_id = "billing-project" }))
  end)

  lazy_teardown(function()
    realtime.log(nil)
    helper.sim_post("/_sim/tokens", { lifetime = 3600 })
    if dir then helper.run("rm -rf " .. q(dir)) end
  end)

  describe("service account", function()
    it("signs a JWT the token endpoint accepts and gets a token", function()
      local before = #helper.sim_get("/_sim/tokens").issued
      local p = props(dir .. "/sa.json")
      assert.is_true(resolve(p))
      assert.matches("^ya29%.", p.access_token)
      local issued = helper.sim_get("/_sim/tokens").issued
      assert.equal(before + 1, #issued)
      assert.equal("jwt-bearer", issued[#issued].via)
      assert.equal(email, issued[#issued].subject)
      assert.matches("credentials file .*sa%.json %(service account " .. email:gsub("%p", "%%%0"),
        seen(tostring(p.token_source)))
      close(p)
    end)

    it("accepts the decoded table as well as the path", function()
      local p = props(sa_info())
      assert.is_true(resolve(p))
      close(p)
    end)

    it("fails with 'auth' when the key does not match the registered public key", function()
      local p = props(sa_info { private_key = other_key })
      local ok, err, code = resolve(p)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("credentials table %(service account runner@", err)
      assert.matches("HTTP 400 invalid_grant: Invalid JWT Signature", err)
    end)

    it("finds the credential again after a failed fetch: a file fixed meanwhile is read", function()
      local path = dir .. "/fixed-later.json"
      helper.write_file(path, cjson.encode(sa_info { private_key = other_key }))
      local p = props(path)
      local ok, err, code = resolve(p)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("HTTP 400 invalid_grant: Invalid JWT Signature", err)
      -- the next call reads the file again instead of asking with the same key
      helper.write_file(path, cjson.encode(sa_info()))
      assert.is_true(resolve(p))
      close(p)
    end)

    it("keeps the endpoint's reason in the error behind a long path and account name", function()
      -- a realistic 100-byte path and 70-byte account used to cut the reason off at 255 bytes
      local long = dir .. "/" .. string.rep("credentials-of-the-production-voice-assistant-", 2) .. "key.json"
      helper.write_file(long, cjson.encode(sa_info { private_key = other_key,
        client_email = "voice-assistant-runner@acme-voice-prod-123456.iam.gserviceaccount.com" }))
      local ok, err, code = resolve(props(long))
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("key%.json %(service account voice%-assistant%-runner@acme%-voice%-prod", err)
      assert.matches("refused: HTTP 400 invalid_grant: .+ the clock right%?$", err)
    end)

    it("fails with 'auth' naming the account when the endpoint does not know it", function()
      local p = props(sa_info { client_email = "ghost@livesim-test.iam.gserviceaccount.com" })
      local ok, err, code = resolve(p)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("ghost@livesim%-test", err)
      assert.matches("account not found", err)
    end)
  end)

  describe("authorized user", function()
    it("uses the refresh-token grant and takes the quota project from the file", function()
      local p = props(dir .. "/user.json")
      assert.is_true(resolve(p))
      local issued = helper.sim_get("/_sim/tokens").issued
      assert.equal("refresh_token", issued[#issued].via)
      assert.equal(user.client_id, issued[#issued].subject)
      assert.equal("billing-project", p.quota_project)
      close(p)
    end)

    it("takes a strict table (its __index raises for a field it lacks): absent fields count as not given", function()
      -- the optional fields (token_uri, quota_project_id, project_id) were read with
      -- plain indexing, so the table's own error came out of connect instead of a token
      local info = user_info()
      local strict = setmetatable(info, { __index = function(_, k) error("strict: no field " .. tostring(k)) end })
      local p = props(strict)
      assert.is_true(resolve(p))
      assert.is_nil(p.quota_project)
      close(p)
      -- what such a table lacks is still told as the credential's fault
      local ok, err, code = resolve(props(setmetatable({ type = "authorized_user", client_id = user.client_id },
        getmetatable(strict))))
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("%(authorized_user%) lacks \"client_secret\"", err)
    end)

    it("fails with 'auth' and what to fix on a wrong client secret", function()
      local ok, err, code = resolve(props(user_info { client_secret = "wrong-secret-000" }))
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("HTTP 401 invalid_client", err)
      assert.matches("check client_id and client_secret", err)
      assert.is_nil(err:find("wrong-secret-000", 1, true))
    end)

    it("fails with 'auth' and what to fix on a revoked refresh token", function()
      local ok, err, code = resolve(props(user_info { refresh_token = "1//revoked-111" }))
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("invalid_grant", err)
      assert.matches("gcloud auth application%-default login", err)
      assert.is_nil(err:find("1//revoked-111", 1, true))
    end)
  end)

  describe("metadata server", function()
    it("gets a token with Metadata-Flavor: Google", function()
      local src = assert(core.auth_new { kind = "metadata", metadata_host = helper.sim_http,
        ca_file = helper.sim_ca, source = "metadata server " .. helper.sim_http })
      local token, err = auth.token(src, 20)
      assert(token, seen(err))
      secrets[#secrets + 1] = token
      local issued = helper.sim_get("/_sim/tokens").issued
      assert.equal("metadata", issued[#issued].via)
      src:close()
    end)

    it("is the last link of the chain, found through GCE_METADATA_HOST", function()
      local out = child({ GCE_METADATA_HOST = helper.sim_http, HOME = dir .. "/nohome",
        LUA_PATH = package.path, LUA_CPATH = package.cpath }, ([[
        local auth = require "realtime.auth"
        local p = { ca_file = %q }
        local ok, err = auth.resolve(p, 20)
        print(ok and "OK " .. p.token_source:source() or "FAIL " .. tostring(err))
      ]]):format(helper.sim_ca))
      assert.matches("OK metadata server " .. helper.sim_http:gsub("%p", "%%%0"), out)
    end)

    it("takes GCE_METADATA_HOST with its scheme in capitals, shown as given", function()
      local upper = helper.sim_http:gsub("^https", "HTTPS")
      local out = child({ GCE_METADATA_HOST = upper, HOME = dir .. "/nohome",
        LUA_PATH = package.path, LUA_CPATH = package.cpath }, ([[
        local auth = require "realtime.auth"
        local p = { ca_file = %q }
        local ok, err = auth.resolve(p, 20)
        print(ok and "OK " .. p.token_source:source() or "FAIL " .. tostring(err))
      ]]):format(helper.sim_ca))
      assert.matches("OK metadata server " .. upper:gsub("%p", "%%%0") .. "\n", out)
    end)

    it("as the last link, one that answers an error or (named) is slow is that server's failure", function()
      local h = helper.hostile { tls = true }
      local script = ([[
        local auth = require "realtime.auth"
        local ok, err, code = auth.resolve({ ca_file = %q }, 2)
        print(ok and "OK" or ("FAIL %%s %%s"):format(code, err))
      ]]):format(h.ca_file)
      local env = { LUA_PATH = package.path, LUA_CPATH = package.cpath, HOME = dir .. "/nohome" }
      -- a Google Cloud machine whose metadata server fails for a while
      env.GCE_METADATA_HOST = h.http .. "/_token/status=500"
      local out = child(env, script)
      assert.matches("FAIL auth metadata server https://127%.0%.0%.1:%d+/_token/status=500: metadata server "
        .. "https://.* refused: HTTP 500", out)
      assert.is_nil(out:find("no Vertex AI credentials found", 1, true), out)
      -- one named by GCE_METADATA_HOST that does not answer in time
      env.GCE_METADATA_HOST = h.http .. "/_token/delay=never"
      out = child(env, script)
      assert.matches("FAIL auth metadata server https://.*: no access token after 2 s", out)
      assert.is_nil(out:find("no Vertex AI credentials found", 1, true), out)
      h:stop()
    end)

    it("as the last link, one that hangs up or answers something that is not HTTP is that server's failure", function()
      local h = helper.hostile { tls = true }
      local script = ([[
        local auth = require "realtime.auth"
        local ok, err, code = auth.resolve({ ca_file = %q }, 10)
        print(ok and "OK" or ("FAIL %%s %%s"):format(code, err))
      ]]):format(h.ca_file)
      local env = { LUA_PATH = package.path, LUA_CPATH = package.cpath, HOME = dir .. "/nohome" }
      -- it reads the request, then closes the connection without a word
      env.GCE_METADATA_HOST = h.http .. "/_token/reply=hangup"
      local out = child(env, script)
      assert.matches("FAIL auth metadata server https://127%.0%.0%.1:%d+/_token/reply=hangup: GET ", out)
      assert.is_nil(out:find("no Vertex AI credentials found", 1, true), out)
      -- it answers with bytes that are not HTTP
      env.GCE_METADATA_HOST = h.http .. "/_token/reply=garbage"
      out = child(env, script)
      assert.matches("FAIL auth metadata server https://127%.0%.0%.1:%d+/_token/reply=garbage: GET ", out)
      assert.is_nil(out:find("no Vertex AI credentials found", 1, true), out)
      h:stop()
    end)

    it("core.http_request answers a server that sends bytes that are not HTTP with nil, message, 'protocol'", function()
      local h = helper.hostile { tls = true }
      local req = assert(core.http_request { url = h.http .. "/_token/reply=garbage", ca_file = h.ca_file,
        timeout = 10 })
      assert.is_true(req:_wait(15))
      local ok, status, err, code = pcall(req.result, req)
      req:close()
      h:stop()
      assert.is_true(ok, status)   -- not raised: the server's answer is no misuse of the caller's
      assert.is_nil(status)
      assert.equal("protocol", code)
      assert.matches("^GET https://127%.0%.0%.1:%d+/_token/reply=garbage: the server's answer is not HTTP %(", err)
    end)

    it("reports a metadata server that refuses (no Metadata-Flavor answer) as 'auth'", function()
      local src = assert(core.auth_new { kind = "metadata", metadata_host = helper.sim_http .. "/nowhere",
        ca_file = helper.sim_ca, source = "metadata server test" })
      local token, err, code = auth.token(src, 20)
      seen(err)
      assert.is_nil(token)
      assert.equal("auth", code)
      assert.matches("^metadata server test: metadata server .* refused: HTTP 404", err)
      src:close()
    end)
  end)

  describe("the credential chain", function()
    local env
    before_each(function()
      env = { LUA_PATH = package.path, LUA_CPATH = package.cpath, HOME = dir .. "/nohome",
              GCE_METADATA_HOST = "127.0.0.1:9" }
    end)
    local script = ([[
      local auth = require "realtime.auth"
      local p = { ca_file = %q, credentials = CREDS }
      local ok, err = auth.resolve(p, 20)
      print(ok and "OK " .. p.token_source:source() or "FAIL " .. tostring(err))
    ]]):format(helper.sim_ca or "")

    it("prefers the explicit credentials over GOOGLE_APPLICATION_CREDENTIALS", function()
      env.GOOGLE_APPLICATION_CREDENTIALS = dir .. "/user.json"
      local out = child(env, "CREDS = " .. ("%q"):format(dir .. "/sa.json") .. script)
      assert.matches("OK credentials file .*sa%.json %(service account", out)
    end)

    it("uses GOOGLE_APPLICATION_CREDENTIALS before the gcloud file", function()
      env.GOOGLE_APPLICATION_CREDENTIALS = dir .. "/sa.json"
      env.CLOUDSDK_CONFIG = dir .. "/gcloud"
      helper.run("mkdir -p " .. q(dir .. "/gcloud") .. " && cp " .. q(dir .. "/user.json") .. " "
        .. q(dir .. "/gcloud/application_default_credentials.json"))
      local out = child(env, script)
      assert.matches("OK GOOGLE_APPLICATION_CREDENTIALS file .*sa%.json", out)
    end)

    it("uses the gcloud file under CLOUDSDK_CONFIG", function()
      env.CLOUDSDK_CONFIG = dir .. "/gcloud"
      helper.run("mkdir -p " .. q(dir .. "/gcloud") .. " && cp " .. q(dir .. "/user.json") .. " "
        .. q(dir .. "/gcloud/application_default_credentials.json"))
      local out = child(env, script)
      assert.matches("OK gcloud credentials file .*application_default_credentials%.json %(authorized user", out)
    end)

    it("uses ~/.config/gcloud when CLOUDSDK_CONFIG is not set", function()
      env.HOME = dir .. "/home"
      helper.run("mkdir -p " .. q(dir .. "/home/.config/gcloud") .. " && cp " .. q(dir .. "/sa.json") .. " "
        .. q(dir .. "/home/.config/gcloud/application_default_credentials.json"))
      local out = child(env, script)
      assert.matches("OK gcloud credentials file .*/home/%.config/gcloud/", out)
    end)

    it("says how to set credentials up when nothing is found", function()
      local out = child(env, script)
      assert.matches("FAIL no Vertex AI credentials found: pass credentials or access_token", out)
      assert.matches("metadata server http://127%.0%.0%.1:9", out)
    end)

    it("fails on a GOOGLE_APPLICATION_CREDENTIALS file that does not exist", function()
      env.GOOGLE_APPLICATION_CREDENTIALS = dir .. "/missing.json"
      local out = child(env, script)
      assert.matches("FAIL cannot read GOOGLE_APPLICATION_CREDENTIALS file .*missing%.json", out)
    end)
  end)

  describe("malformed credentials", function()
    local function fails(creds, pattern)
      local ok, err, code = resolve(props(creds))
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches(pattern, err)
      return err
    end

    it("an unreadable file", function()
      fails(dir .. "/nope.json", "cannot read credentials file .*nope%.json: .*No such file")
    end)

    it("a file that is not JSON, without quoting it", function()
      helper.write_file(dir .. "/bad.json", '{"type":"service_account","private_key":"' .. secrets[1] .. '",')
      local err = fails(dir .. "/bad.json", "credentials file .*bad%.json is not valid JSON")
      assert.is_nil(err:find(secrets[1], 1, true))
    end)

    it("an unknown credential type", function()
      fails({ type = "external_account" }, "unsupported credential type 'external_account'")
    end)

    it("a missing type", function()
      fails({ client_email = email }, "has no \"type\" field")
    end)

    it("a missing field", function()
      fails(sa_info { private_key = cjson.null }, "lacks \"private_key\"")
      fails(user_info { refresh_token = cjson.null }, "%(authorized_user%) lacks \"refresh_token\"")
    end)

    it("a private key that is not a key", function()
      fails(sa_info { private_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" },
        "not a PEM%-encoded, unencrypted RSA key")
    end)

    it("a token endpoint that does not answer", function()
      fails(sa_info { token_uri = "https://127.0.0.1:9/token" },
        "service account runner@.*: POST https://127%.0%.0%.1:9/token: .*onnect")
    end)

    it("a token endpoint whose certificate is not trusted", function()
      local p = props(sa_info())
      p.ca_file = helper.certs .. "/other-ca.pem"
      local ok, err, code = resolve(p)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("certificate", err)
    end)
  end)

  describe("token lifetime", function()
    after_each(function() helper.sim_post("/_sim/tokens", { lifetime = 3600 }) end)

    it("refreshes a short-lived token in the background, before it expires", function()
      helper.sim_post("/_sim/tokens", { lifetime = 2 })
      local p = props(sa_info())
      assert.is_true(resolve(p))
      local first = p.access_token
      local src = p.token_source
      assert.equal(1, src:fetches())
      -- the caller does nothing; the refresh thread renews at 3/4 of the lifetime
      realtime.sleep(1.8)
      assert.is_true(src:fetches() >= 2)
      local t0 = core.now()
      assert.is_true(resolve(p))
      assert.is_true(core.now() - t0 < 0.1, "a fresh token was waiting")
      assert.not_equal(first, p.access_token)
      realtime.sleep(2.2)
      assert.is_true(resolve(p))
      assert.is_true(src:fetches() >= 3)
      close(p)
    end)

    it("waits without blocking other coroutines under realtime.run", function()
      helper.sim_post("/_sim/tokens", { lifetime = 60 })
      local p = props(sa_info())
      local ticks, done = 0, false
      realtime.run(function()
        assert.is_true(resolve(p))
        done = true
      end, function()
        while not done do
          ticks = ticks + 1
          realtime.sleep(0.001)
        end
      end)
      assert.is_true(done)
      assert.is_true(ticks >= 1)
      close(p)
    end)

    it("surfaces a failed refresh as 'auth' naming the source once the token is gone", function()
      helper.sim_post("/_sim/tokens", { lifetime = 1 })
      local p = props(dir .. "/user.json")
      assert.is_true(resolve(p))
      -- revoke: the simulator forgets the user (reset), so every refresh now fails
      helper.sim_post("/_sim/reset")
      helper.sim_post("/_sim/tokens", { lifetime = 1 })
      realtime.sleep(1.2)
      local ok, err, code = resolve(p)
      assert.is_nil(ok)
      assert.equal("auth", code)
      assert.matches("credentials file .*user%.json %(authorized user, client 1234", err)
      assert.matches("invalid_client", err)
      close(p)
      -- put the registrations back for the tests after this one
      local pub = helper.read_file(dir .. "/sa.pub")
      helper.sim_post("/_sim/service-accounts", { client_email = email, public_key = pub })
      helper.sim_post("/_sim/authorized-users", user)
    end)
  end)

  describe("Vertex sessions", function()
    local function wired()
      if not realtime.credentials then
        pending("realtime.credentials is not wired to realtime.auth.resolve yet")
        return false
      end
      return true
    end
    local function client(creds)
      local c = assert(realtime.vertex { project = "livesim-test", location = "us-central1",
        credentials = creds, base_url = helper.sim_http, ca_file = helper.sim_ca,
        model = helper.vertex_model })
      return c
    end

    it("connect with a service-account file, end to end", function()
      if not wired() then return end
      local c = client(dir .. "/sa.json")
      local session = assert(seen(c:connect { output_modalities = { "text" } }))
      local p = c:_props()
      secrets[#secrets + 1] = p.access_token
      local conns = helper.connections()
      local h = conns[#conns].headers or {}
      assert.equal("Bearer " .. p.access_token, h.authorization)
      assert.is_nil(tostring(c):find(p.access_token, 1, true))
      session:close()
      helper.drain(session)
      c:close()
    end)

    -- the caller's own Authorization header is the credential: no search, no token source
    it("a user Authorization header is sent as given, with no credential found", function()
      if not wired() then return end
      local out = child({ LUA_PATH = package.path, LUA_CPATH = package.cpath, HOME = dir .. "/nohome",
        GCE_METADATA_HOST = "127.0.0.1:9" }, ([[
        local realtime = require "realtime"
        local c = assert(realtime.vertex { project = "livesim-test", location = "us-central1",
          base_url = %q, ca_file = %q, model = %q,
          headers = { Authorization = "Bearer test-bearer" } })
        local s, err, code = c:connect { output_modalities = { "text" }, timeout = 10 }
        print(s and "OK" or ("FAIL %%s %%s"):format(code, err))
        if s then s:close() end
        c:close()
      ]]):format(helper.sim_http, helper.sim_ca, helper.vertex_model))
      assert.matches("^OK", out)
      assert.equal("Bearer test-bearer", helper.last_connection().headers.authorization)
    end)

    it("a user Authorization header (any case) replaces the credentials file's token", function()
      if not wired() then return end
      local before = #helper.sim_get("/_sim/tokens").issued
      local c = assert(realtime.vertex { project = "livesim-test", location = "us-central1",
        credentials = dir .. "/user.json", base_url = helper.sim_http, ca_file = helper.sim_ca,
        model = helper.vertex_model, headers = { aUtHoRiZaTiOn = "Bearer test-bearer" } })
      local s = assert(seen(c:connect { output_modalities = { "text" } }))
      local conn = helper.open_connection()
      assert.equal("Bearer test-bearer", conn.headers.authorization)
      assert.is_nil(conn.headers["x-goog-user-project"], "the file was not read")
      assert.equal(before, #helper.sim_get("/_sim/tokens").issued, "no token was fetched")
      assert.is_nil(c:_props().token_source)
      -- a reconnect sends it again
      helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
      helper.receive_until(s, "reconnected", 10)
      assert.equal("Bearer test-bearer", helper.open_connection().headers.authorization)
      s:close()
      helper.drain(s)
      c:close()
    end)

    it("a quota project taken from a file that failed goes with it: the fixed file's is sent", function()
      if not wired() then return end
      local path = dir .. "/quota-fixed-later.json"
      helper.write_file(path, cjson.encode(user_info { client_secret = "wrong-secret-000",
        quota_project_id = "proj-A" }))
      local c = client(path)
      local s, err, code = seen(c:connect { output_modalities = { "text" }, timeout = 10 })
      assert.is_nil(s, "the wrong secret is refused")
      assert.equal("auth", code, err)
      -- fixed: the right secret and another quota project
      helper.write_file(path, cjson.encode(user_info { quota_project_id = "proj-B" }))
      local s2 = assert(seen(c:connect { output_modalities = { "text" } }))
      secrets[#secrets + 1] = c:_props().access_token
      assert.equal("proj-B", helper.open_connection().headers["x-goog-user-project"])
      s2:close()
      helper.drain(s2)
      c:close()
      -- a failed file replaced by one without a quota project: none is sent
      helper.write_file(path, cjson.encode(user_info { client_secret = "wrong-secret-000",
        quota_project_id = "proj-A" }))
      c = client(path)
      assert.is_nil((seen(c:connect { output_modalities = { "text" }, timeout = 10 })))
      helper.write_file(path, cjson.encode(sa_info()))
      local s3 = assert(seen(c:connect { output_modalities = { "text" } }))
      secrets[#secrets + 1] = c:_props().access_token
      assert.is_nil(helper.open_connection().headers["x-goog-user-project"])
      s3:close()
      helper.drain(s3)
      c:close()
    end)

    it("a later connect after the token expired uses a refreshed token", function()
      if not wired() then return end
      helper.sim_post("/_sim/tokens", { lifetime = 2 })
      local c = client(dir .. "/user.json")
      local s1 = assert(seen(c:connect { output_modalities = { "text" } }))
      local t1 = c:_props().access_token
      secrets[#secrets + 1] = t1
      -- a long session: it outlives its token (the server checks at the upgrade only)
      for _ = 1, 3 do
        assert(s1:send_text "hello")
        helper.receive_until(s1, "response_done", 10)
        realtime.sleep(0.8)
      end
      local s2 = assert(seen(c:connect { output_modalities = { "text" } }))
      local t2 = c:_props().access_token
      secrets[#secrets + 1] = t2
      assert.not_equal(t1, t2)
      for _, s in ipairs { s1, s2 } do
        s:close()
        helper.drain(s)
      end
      c:close()
      helper.sim_post("/_sim/tokens", { lifetime = 3600 })
    end)

    -- the next `count` upgrades are refused as Vertex refuses a revoked token
    local function refuse_next(count)
      helper.sim_post("/_sim/next", { count = count, fault = { type = "refuse", status = 401,
        body = { error = { code = 401, status = "UNAUTHENTICATED", message = "Request had " ..
          "invalid authentication credentials. Expected OAuth 2 access token, login cookie " ..
          "or other valid authentication credential. See https://developers.google.com/" ..
          "identity/sign-in/web/devconsole-project." } } } })
    end

    -- the reconnect of a session whose token the server refuses: the source forgets
    -- it and the next attempt goes with a new one
    local function refused_on_reconnect(c, count)
      local s = assert(seen(c:connect { output_modalities = { "text" } }))
      helper.receive_until(s, "session_resumption_update", 10)
      local before = c:_props().token_source:fetches()
      refuse_next(count)
      helper.sim_post("/_sim/connections/" .. helper.open_connection().id, { fault = { type = "drop" } })
      local got = {}
      for msg in s:messages(20) do
        got[msg.type] = got[msg.type] or msg
        if msg.type == "reconnected" or msg.type == "closed" then break end
      end
      helper.sim_request("DELETE", "/_sim/next")
      return s, got, before
    end

    it("a reconnect refused with 401 goes again with a new token", function()
      if not wired() then return end
      local c = client(dir .. "/sa.json")
      local s, got, before = refused_on_reconnect(c, 1)
      assert.is_nil(got.error, got.error and seen(got.error.message))
      assert.is_truthy(got.reconnected)
      assert.is_true(c:_props().token_source:fetches() > before)
      s:close()
      helper.drain(s)
      c:close()
    end)

    it("a reconnect whose new token is refused too ends with 'auth', naming the source", function()
      if not wired() then return end
      local c = client(dir .. "/sa.json")
      local s, got = refused_on_reconnect(c, 5)
      assert.is_nil(got.reconnected)
      assert.equal("auth", got.error.code, got.error.message)
      local m = seen(got.error.message)
      assert.matches("after 2 attempts", m, 1, true)
      assert.matches("sa%.json %(service account runner@livesim%-test%.iam%.gserviceaccount%.com%): " ..
        "the server refused its access token: HTTP 401", m)
      -- the server's JSON error is quoted by its status and message, whole
      assert.matches("UNAUTHENTICATED: Request had invalid .*/devconsole%-project%.$", m)
      helper.drain(s)
      c:close()
    end)

    it("a connect whose cached token the server forgot fetches a new one and goes again", function()
      if not wired() then return end
      local c = client(dir .. "/sa.json")
      local s = assert(seen(c:connect { output_modalities = { "text" } }))
      s:close()
      helper.drain(s)
      local before = c:_props().token_source:fetches()
      -- the server forgets the tokens it issued (the account stays)
      helper.sim_post("/_sim/reset")
      helper.sim_post("/_sim/service-accounts", { client_email = email,
        public_key = helper.read_file(dir .. "/sa.pub") })
      helper.sim_post("/_sim/authorized-users", user)
      -- the same call: the refused token is dropped, a new one fetched and sent
      local s2 = assert(seen(c:connect { output_modalities = { "text" } }))
      assert.equal(before + 1, c:_props().token_source:fetches())
      s2:close()
      helper.drain(s2)
      c:close()
    end)

    it("a first connect refused with 401 goes once more with a new token, in the same call", function()
      if not wired() then return end
      local c = client(dir .. "/sa.json")
      refuse_next(1)
      local s, err = seen(c:connect { output_modalities = { "text" }, timeout = 10 })
      helper.sim_request("DELETE", "/_sim/next")
      assert(s, err)
      -- the first token, refused, and the one the upgrade went again with
      assert.equal(2, c:_props().token_source:fetches())
      s:close()
      helper.drain(s)
      c:close()
    end)

    it("a connect whose new token is refused too is 'auth'; the next connect works", function()
      if not wired() then return end
      local c = client(dir .. "/sa.json")
      -- the source made (and its first token fetched) before, to be looked at after
      assert(resolve(c:_props()))
      local used = c:_props().token_source
      refuse_next(2)
      local s, err, code = seen(c:connect { output_modalities = { "text" }, timeout = 10 })
      -- the one call made both upgrades
      local left = helper.sim_get "/_sim/next"
      helper.sim_request("DELETE", "/_sim/next")
      assert.equal(0, #left)
      assert.is_nil(s)
      assert.equal("auth", code, err)
      assert.matches("sa%.json %(service account .*the server refused its access token: HTTP 401", err)
      -- two tokens went (the second refusal drops the second, which a third fetch replaces)
      assert.is_true(used:fetches() >= 2)
      -- and the client dropped the source: the next connect finds the credential anew
      assert.is_nil(c:_props().token_source)
      local s2 = assert(seen(c:connect { output_modalities = { "text" } }))
      s2:close()
      helper.drain(s2)
      c:close()
    end)

    it("a connect whose refetch after a 401 fails drops the source: a file fixed meanwhile is read", function()
      if not wired() then return end
      -- an account of its own, whose key is rotated below without touching the others'
      local rotated = "rotated@livesim-test.iam.gserviceaccount.com"
      local path = dir .. "/rotated.json"
      helper.sim_post("/_sim/service-accounts", { client_email = rotated,
        public_key = helper.read_file(dir .. "/sa.pub") })
      helper.write_file(path, cjson.encode(sa_info { client_email = rotated }))
      local c = client(path)
      local s = assert(seen(c:connect { output_modalities = { "text" } }))
      s:close()
      helper.drain(s)
      local used = c:_props().token_source
      -- the key in the file is revoked: the cached token is refused, the refetch fails
      helper.sim_post("/_sim/service-accounts", { client_email = rotated,
        public_key = helper.read_file(dir .. "/other.pub") })
      refuse_next(1)
      local s2, err, code = seen(c:connect { output_modalities = { "text" }, timeout = 10 })
      helper.sim_request("DELETE", "/_sim/next")
      assert.is_nil(s2)
      assert.equal("auth", code, err)
      assert.matches("Invalid JWT Signature", err)
      assert.is_true(used:fetches() >= 2)
      -- the source that failed is no longer the client's
      assert.is_true(c:_props().token_source ~= used)
      -- the file now holds the new key: the next connect reads it and gets a token
      helper.write_file(path, cjson.encode(sa_info { client_email = rotated, private_key = other_key }))
      local s3 = assert(seen(c:connect { output_modalities = { "text" }, timeout = 10 }))
      s3:close()
      helper.drain(s3)
      c:close()
    end)

    it("fails with 'auth' when the project is missing", function()
      local c = realtime.vertex { location = "us-central1", credentials = dir .. "/sa.json",
        base_url = helper.sim_http, ca_file = helper.sim_ca, model = helper.vertex_model }
      local p = c:_props()
      p.project = nil   -- GOOGLE_CLOUD_PROJECT may be set where the suite runs
      local s, err, code = seen(c:connect {})
      assert.is_nil(s)
      assert.equal("auth", code)
      assert.matches("project", err)
      c:close()
    end)

    it("fails with 'auth' when the project is missing, with an access token too", function()
      local c = realtime.vertex { location = "us-central1", access_token = os.getenv "RT_SIM_BEARER" or "test-bearer",
        base_url = helper.sim_http, ca_file = helper.sim_ca, model = helper.vertex_model }
      c:_props().project = nil
      local s, err, code = c:connect {}
      assert.is_nil(s)
      assert.equal("auth", code, err)
      assert.matches("no Vertex AI project", err)
      c:close()
    end)
  end)

  describe("ephemeral tokens", function()
    it("mints a token with the API key and connects with it on the constrained method", function()
      local mint = realtime.gemini_ephemeral_token or auth.ephemeral_token
      local token, info = mint {
        api_key = helper.sim_key, uses = 1, expire_time = 600, new_session_expire_time = 60,
        base_url = helper.sim_http, ca_file = helper.sim_ca, model = helper.model,
      }
      assert(token, seen(info))
      assert.matches("^auth_tokens/", token)
      assert.equal(1, info.uses)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT", info.expire_time)
      secrets[#secrets + 1] = token
      local c = helper.gemini { api_key = token }
      local s = assert(seen(c:connect { output_modalities = { "text" } }))
      local conns = helper.connections()
      local last = conns[#conns]
      assert.matches("BidiGenerateContentConstrained", last.path)
      s:close()
      helper.drain(s)
      -- one use only: a second session is refused, and that is a credential failure
      local s2, err, code = seen(c:connect { output_modalities = { "text" } })
      assert.is_nil(s2)
      assert.equal("auth", code)
      assert.matches("1008", err)
      assert.matches("no uses left", err)
      assert.is_nil(err:find(token, 1, true), "the token never appears in the message")
      c:close()
    end)

    -- the times sent are now + the seconds given, to the millisecond the simulator keeps:
    -- they were counted from the whole second (os.time), up to a second early
    it("counts a time in seconds, with its fraction, from now rather than from the whole second", function()
      local function wall_ms()
        local status, out = helper.run "date +%s%N"
        assert(status == 0 and out:find "^%d+", out)
        return tonumber(out:match "^%d+") // 1000000
      end
      local before = wall_ms()
      local token, info = realtime.gemini_ephemeral_token { api_key = helper.sim_key,
        base_url = helper.sim_http, ca_file = helper.sim_ca, expire_time = 1800.25,
        new_session_expire_time = 0.5 }
      local after = wall_ms()
      assert(token, seen(info))
      secrets[#secrets + 1] = token
      local minted
      for _, t in ipairs(helper.sim_get("/_sim/tokens").ephemeral) do
        if t.name == token then minted = t end
      end
      assert(minted, "the simulator knows the token")
      -- (one millisecond more for the microseconds sent, which may round up)
      for field, seconds in pairs { expireTime = 1800.25, newSessionExpireTime = 0.5 } do
        local early, late = before + seconds * 1000, after + seconds * 1000 + 1
        assert(minted[field] >= early and minted[field] <= late, ("%s: %d ms, expected %d to %d")
          :format(field, minted[field], early, late))
      end
    end)

    it("takes a base_url whose scheme is in capitals, as realtime.gemini does (RFC 3986)", function()
      local upper = helper.sim_http:gsub("^https", "HTTPS")
      local token, info = realtime.gemini_ephemeral_token { api_key = helper.sim_key,
        base_url = upper, ca_file = helper.sim_ca }
      assert(token, seen(info))
      secrets[#secrets + 1] = token
      assert.matches("^auth_tokens/", token)
    end)

    it("fails with 'auth' on a wrong API key, without repeating it", function()
      local token, err, code = auth.ephemeral_token { api_key = "AIzaWRONGKEY-5555",
        base_url = helper.sim_http, ca_file = helper.sim_ca }
      seen(err)
      assert.is_nil(token)
      assert.equal("auth", code)
      assert.matches("refused to mint an ephemeral token %(HTTP 400", err)
      assert.is_nil(err:find("AIzaWRONGKEY-5555", 1, true))
    end)

    it("fails with the transport's code when nothing listens", function()
      local token, err, code = auth.ephemeral_token { api_key = helper.sim_key,
        base_url = "https://127.0.0.1:9", ca_file = helper.sim_ca, timeout = 5 }
      seen(err)
      assert.is_nil(token)
      assert.equal("connect", code)
      assert.matches("POST https://127%.0%.0%.1:9/v1alpha/auth_tokens", err)
    end)

    -- A slim system without libcurl4, or with one older than 7.68: the library is loaded
    -- on first use and its absence must be an error, not a crash (the fail path once
    -- freed the header list through the table of a libcurl that never loaded). The
    -- child finds a stand-in first on LD_LIBRARY_PATH: an empty file that dlopen
    -- rejects, or a shared object without libcurl's functions.
    describe("without a usable libcurl", function()
      local function libdir(kind)
        local d = dir .. "/curl-" .. kind
        local cmd = kind == "missing"
          and ("mkdir -p %s && : > %s/libcurl.so.4 && : > %s/libcurl.so"):format(q(d), q(d), q(d))
          or ("mkdir -p %s && echo 'int rt_not_curl;' > %s/c.c && cc -shared -fPIC"
              .. " -Wl,-soname,libcurl.so.4 -o %s/libcurl.so.4 %s/c.c && cp %s/libcurl.so.4 %s/libcurl.so")
              :format(q(d), q(d), q(d), q(d), q(d), q(d))
        local status, out = helper.run(cmd)
        assert(status == 0, out)
        return d
      end
      local MINT = ([[
local realtime = require "realtime"
print("versions", realtime.versions().libcurl)
local token, err, code = realtime.gemini_ephemeral_token { api_key = %q,
  base_url = "https://127.0.0.1:9", ca_file = %q, timeout = 5 }
print("result", token, code, err)
]]):format(helper.sim_key, helper.sim_ca)

      for _, kind in ipairs { "missing", "too old" } do
        it("mints no token and says libcurl could not be loaded (" .. kind .. ")", function()
          local out, status = child({ LD_LIBRARY_PATH = libdir(kind:gsub(" ", "-")) }, MINT)
          assert.equal(0, status, out)
          assert.matches("versions%s+unavailable: libcurl could not be loaded %(install libcurl4%)", out)
          assert.matches("result%s+nil%s+connect%s+[^\n]*libcurl could not be loaded %(install libcurl4%)", out)
        end)
      end
    end)

    it("raises on misuse", function()
      assert.has_error(function() auth.ephemeral_token { uses = -1 } end)
      assert.has_error(function() auth.ephemeral_token { expire = 10 } end, "unknown option 'expire'")
    end)
  end)

  describe("secrets", function()
    it("never appear in an error message, a log line or a tostring", function()
      -- the simulator's own log is not ours; the texts gathered above are
      assert.is_true(#texts > 20)
      assert.is_true(#secrets > 10)
      for _, text in ipairs(texts) do
        for _, secret in ipairs(secrets) do
          if #secret >= 8 and text:find(secret, 1, true) then
            error(("a secret leaked into: %s"):format(text:gsub(secret:gsub("%p", "%%%0"), "<SECRET>")))
          end
        end
        assert.is_nil(text:find("PRIVATE KEY", 1, true), text)
      end
    end)
  end)
end)
