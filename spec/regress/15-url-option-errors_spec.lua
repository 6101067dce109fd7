-- Issue 15: a base_url, api_key, access_token or header the endpoint cannot use is refused
-- when the client is made, with a message that names the option and says what is wrong
-- (it used to surface at connect as "bad argument #1 to '_connect' (url missing)").
-- Secrets never appear in the message.
local helper = require "spec.helper"
local realtime = require "realtime"

local function refusal(make, opts)
  local ok, err = pcall(make, opts)
  assert.is_false(ok, "accepted")
  assert.is_nil(err:find("url missing", 1, true))
  return err
end

-- A copy of base with extra's fields on top.
local function merged(base, extra)
  local o = {}
  for k, v in pairs(base) do o[k] = v end
  for k, v in pairs(extra) do o[k] = v end
  return o
end

describe("issue 15: endpoint options", function()
  local base = { api_key = "k", model = helper.model }
  local function with(extra) return merged(base, extra) end

  local CASES = {
    { "an ftp:// base_url", { base_url = "ftp://example.com/x" }, "option 'base_url'", "ftp" },
    { "a file:/// base_url", { base_url = "file:///etc/passwd" }, "option 'base_url'", "file" },
    { "a base_url with a space", { base_url = "http://example.com/a b" }, "option 'base_url'", "space" },
    { "a base_url with a line break", { base_url = "http://example.com/a\r\nX: y" }, "option 'base_url'", "control" },
    { "a base_url without a host", { base_url = "https://" }, "option 'base_url'", "host" },
    { "a base_url with a query", { base_url = "https://example.com/?a=b" }, "option 'base_url'", "query" },
    { "a base_url with a bad port", { base_url = "http://example.com:99999" }, "option 'base_url'", "port" },
    { "an api_key with CR/LF", { api_key = "secret-key\r\nX-Evil: 1" }, "option 'api_key'", "CR" },
    { "a header value with CR/LF", { headers = { ["x-extra"] = "a\r\nb" } }, "option 'headers'", "x%-extra" },
    { "a header name that is not a token", { headers = { ["bad name"] = "v" } }, "option 'headers'", "bad name" },
    { "an api_version with a slash", { api_version = "v1/../x" }, "option 'api_version'", "letters" },
  }

  for _, case in ipairs(CASES) do
    it("refuses " .. case[1] .. " at realtime.gemini, naming the option", function()
      local err = refusal(realtime.gemini, with(case[2]))
      assert.matches(case[3], err, 1, true)
      assert.matches(case[4], err)
      assert.is_nil(err:find("secret-key", 1, true))
    end)
  end

  it("refuses a base_url with user information, without echoing it", function()
    local err = refusal(realtime.gemini, with { base_url = "https://user:hunter2@example.com" })
    assert.matches("option 'base_url'", err, 1, true)
    assert.matches("user", err)
    assert.is_nil(err:find("hunter2", 1, true))
  end)

  it("refuses the same for Vertex: access_token, quota_project and location", function()
    local vbase = { project = "p", location = "us-central1", model = helper.vertex_model }
    local function v(extra) return merged(vbase, extra) end
    local err = refusal(realtime.vertex, v { access_token = "tok-secret\nX: y" })
    assert.matches("option 'access_token'", err, 1, true)
    assert.is_nil(err:find("tok-secret", 1, true))
    err = refusal(realtime.vertex, v { access_token = "t", quota_project = "q\r\n" })
    assert.matches("option 'quota_project'", err, 1, true)
    err = refusal(realtime.vertex, v { access_token = "t", location = "us central" })
    assert.matches("option 'location'", err, 1, true)
    err = refusal(realtime.vertex, v { access_token = "t", base_url = "gopher://x" })
    assert.matches("option 'base_url'", err, 1, true)
  end)

  it("still accepts the forms the docs name", function()
    for _, url in ipairs { "http://127.0.0.1:8080", "https://example.com/prefix/", "ws://[::1]:9000",
      "wss://example.com" } do
      local client = realtime.gemini(with { base_url = url })
      assert.is_true(client:is_open())
      client:close()
    end
  end)
end)
