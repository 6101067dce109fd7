-- The life of a client's Vertex credential (docs/credentials.md, "Token lifetime"): one
-- token source per client, shared by every connect, the first ones included when they
-- run at once; a fetch slower than a connect's timeout is left running for the next
-- connect rather than abandoned; a failed fetch is every waiter's failure, and the next
-- connect tries again; client:close() closes the source, so no token is renewed and no
-- HTTP worker thread runs for a closed client, even while it and its sessions are
-- reachable. Token requests are counted by the simulator (GET /_sim/tokens) and by the
-- hostile server's /_token (GET /_tokens).
local realtime = require "realtime"
local core = require "realtime.core"
local helper = require "spec.helper"

local user = { client_id = "5678.apps.googleusercontent.com", client_secret = "lifecycle-secret-111",
               refresh_token = "1//lifecycle-refresh-222" }

local function issued()
  return #helper.sim_get("/_sim/tokens").issued
end

-- The threads of this process (the I/O thread of an open client, the HTTP worker).
local function threads()
  local f = assert(io.open "/proc/self/stat")
  local pid = f:read "a":match "^(%d+)"
  f:close()
  local n = 0
  local p = assert(io.popen("ls /proc/" .. pid .. "/task"))
  for _ in p:read("a"):gmatch "%d+" do n = n + 1 end
  p:close()
  return n
end

local function user_info(token_uri)
  return { type = "authorized_user", client_id = user.client_id, client_secret = user.client_secret,
           refresh_token = user.refresh_token, token_uri = token_uri }
end

describe("a client's credential", function()
  lazy_setup(function()
    assert.same({ ok = true }, helper.sim_post("/_sim/authorized-users", user))
  end)
  after_each(function() helper.sim_post("/_sim/tokens", { lifetime = 3600 }) end)

  local function sim_client()
    return assert(realtime.vertex { project = "livesim-test", location = "us-central1",
      credentials = user_info(helper.sim_http .. "/token"), base_url = helper.sim_http,
      ca_file = helper.sim_ca, model = helper.vertex_model })
  end

  it("is made once for concurrent first connects, which share its one token request", function()
    helper.sim_post("/_sim/tokens", { lifetime = 3600 })
    local c = sim_client()
    local before = issued()
    local sessions, fns = {}, {}
    for i = 1, 6 do
      fns[i] = function()
        sessions[i] = assert(c:connect { output_modalities = { "text" } })
      end
    end
    realtime.run(table.unpack(fns))
    assert.equal(1, issued() - before, "one token request for six connects")
    local src = c:_props().token_source
    assert.equal(1, src:fetches())
    for _, s in ipairs(sessions) do s:close() end
    c:close()
  end)

  it("stops renewing tokens on client:close(), while the client and its sessions are kept", function()
    local base = threads()
    -- a two-second token is renewed every 1.5 s
    helper.sim_post("/_sim/tokens", { lifetime = 2 })
    local c = sim_client()
    local s = assert(c:connect { output_modalities = { "text" } })
    local src = c:_props().token_source
    assert.is_true(threads() > base)
    c:close()
    collectgarbage()
    local before = issued()
    realtime.sleep(4)
    assert.equal(0, issued() - before, "no token renewed after client:close()")
    -- neither the I/O thread nor the HTTP worker runs for the closed client
    assert.equal(base, threads())
    assert.is_false(src:is_open())
    -- both still reachable here
    assert.is_false(c:is_open())
    assert.truthy(tostring(s))
  end)

  it("refused twice with 401 costs two token requests, and the dropped source renews none", function()
    -- a two-second token is renewed every 1.5 s while something renews it
    helper.sim_post("/_sim/tokens", { lifetime = 2 })
    local c = sim_client()
    local before = issued()
    helper.sim_post("/_sim/next", { count = 2, fault = { type = "refuse", status = 401 } })
    local s, err, code = c:connect { output_modalities = { "text" }, timeout = 10 }
    helper.sim_request("DELETE", "/_sim/next")
    assert.is_nil(s)
    assert.equal("auth", code, err)
    assert.is_nil(c:_props().token_source, "the client dropped the source")
    realtime.sleep(0.5)
    -- the first token and the one after the first 401; none after the second
    assert.equal(2, issued() - before)
    realtime.sleep(3)
    assert.equal(2, issued() - before, "the dropped source renewed no token")
    c:close()
  end)

  it("dropped after a 403 while holding a token renews it no more", function()
    helper.sim_post("/_sim/tokens", { lifetime = 2 })
    local c = sim_client()
    local before = issued()
    helper.sim_post("/_sim/next", { count = 1, fault = { type = "refuse", status = 403 } })
    local s, err, code = c:connect { output_modalities = { "text" }, timeout = 10 }
    helper.sim_request("DELETE", "/_sim/next")
    assert.is_nil(s)
    assert.equal("auth", code, err)
    assert.is_nil(c:_props().token_source, "the client dropped the source")
    assert.equal(1, issued() - before)
    realtime.sleep(3.5)
    assert.equal(1, issued() - before, "the dropped source renewed no token")
    c:close()
  end)

  it("makes no source for a closed client's properties: nothing renews a token for it", function()
    local c = sim_client()
    c:close()
    local before = issued()
    local ok, err, code = realtime.credentials(c:_props(), 5)
    assert.is_nil(ok)
    assert.equal("closed", code, err)
    assert.matches("client is closed", err)
    assert.is_nil(c:_props().token_source)
    assert.equal(0, issued() - before, "no token requested for a closed client")
  end)

  it("a connect waiting for the first token returns 'closed' when another closes the client", function()
    local h = helper.hostile { tls = true }
    local c = assert(realtime.vertex { project = "p", location = "us-central1",
      credentials = user_info(h.http .. "/_token/delay=3000"), base_url = (h:base_url "setup_ok"),
      ca_file = h.ca_file, model = "gemini-live-2.5-flash" })
    local res, t0 = nil, core.now()
    realtime.run(function()
      res = table.pack(c:connect { timeout = 10 })
    end, function()
      realtime.sleep(0.3)
      c:close()
    end)
    h:stop()
    assert.is_nil(res[1])
    assert.equal("closed", res[3], res[2])
    assert.is_true(core.now() - t0 < 2.5, "it did not wait for the token")
  end)

  it("under cqueues, a connect waiting for the first token wakes at once when the client closes", function()
    local ok_cq, cqueues = pcall(require, "cqueues")
    if not ok_cq then return pending("cqueues is not installed") end
    local h = helper.hostile { tls = true }
    local c = assert(realtime.vertex { project = "p", location = "us-central1",
      credentials = user_info(h.http .. "/_token/delay=20000"), base_url = (h:base_url "setup_ok"),
      ca_file = h.ca_file, model = "gemini-live-2.5-flash" })
    local res, t0 = nil, core.now()
    local cq = cqueues.new()
    cq:wrap(function()
      res = table.pack(c:connect { timeout = 15 })
    end)
    cq:wrap(function()
      cqueues.sleep(0.3)
      c:close()
    end)
    local ok, err = cq:loop()
    h:stop()
    assert(ok, err)
    assert.is_nil(res[1])
    assert.equal("closed", res[3], res[2])
    -- the connect's own timeout (15 s) is what it waited for before
    assert.is_true(core.now() - t0 < 5, "it waited for its timeout")
  end)
end)

describe("a token endpoint", function()
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  local function requests() return h:token_requests() end

  local function client(settings)
    return assert(realtime.vertex { project = "p", location = "us-central1",
      credentials = user_info(h.http .. "/_token/" .. settings), base_url = (h:base_url "setup_ok"),
      ca_file = h.ca_file, model = "gemini-live-2.5-flash" })
  end

  it("slower than connect's timeout answers the next connect, with one request", function()
    local c = client "delay=4000"
    local before = requests()
    local t0 = core.now()
    local s, err, code = c:connect { timeout = 2.5 }
    assert.is_nil(s)
    assert.equal("auth", code)
    assert.matches("no access token after 2%.5 s", err)
    -- the fetch goes on: the next connect gets its token
    s, err = c:connect { timeout = 4 }
    assert(s, err)
    assert.is_true(core.now() - t0 < 6)
    assert.equal(1, requests() - before)
    s:close()
    c:close()
  end)

  -- A client of the simulator whose token endpoint is this slow one, answering a token the
  -- simulator takes (its static bearer), so that a 401 the simulator is told to give makes
  -- the connect fetch again from here.
  local function slow_client(delay_ms)
    local body = helper.b64url '{"access_token":"test-bearer","expires_in":3600}'
    return assert(realtime.vertex { project = "p", location = "us-central1",
      credentials = user_info(("%s/_token/delay=%d/body=%s"):format(h.http, delay_ms, body)),
      base_url = helper.sim_http, ca_file = helper.sim_ca, model = helper.vertex_model })
  end
  local function refuse_next()
    helper.sim_post("/_sim/next", { count = 1, fault = { type = "refuse", status = 401 } })
  end

  it("slower than 5 s after a 401 serves the same connect, within its timeout", function()
    local c = slow_client(5500)
    local before = requests()
    refuse_next()
    local s, err, code = c:connect { output_modalities = { "text" }, timeout = 20 }
    helper.sim_request("DELETE", "/_sim/next")
    assert(s, tostring(err) .. " " .. tostring(code))
    assert.equal(2, requests() - before, "the first token and the one after the 401")
    assert.equal(2, c:_props().token_source:fetches())
    s:close()
    helper.drain(s)
    c:close()
  end)

  it("slower than what a connect has left after a 401 is 'timeout'; the source is kept", function()
    local c = slow_client(3000)
    local before = requests()
    refuse_next()
    local s, err, code = c:connect { output_modalities = { "text" }, timeout = 4.5 }
    helper.sim_request("DELETE", "/_sim/next")
    assert.is_nil(s)
    assert.equal("timeout", code, err)
    assert.matches("waiting for a new access token after the server refused one", err)
    local src = assert(c:_props().token_source, "the source is kept")
    -- the fetch went on: the next connect takes its token
    s, err = c:connect { output_modalities = { "text" }, timeout = 10 }
    assert(s, err)
    assert.equal(src, c:_props().token_source)
    assert.equal(2, requests() - before)
    s:close()
    helper.drain(s)
    c:close()
  end)

  it("that fails gives every connect waiting for it the failure; the next connect tries again", function()
    local c = client "delay=1000/status=400"
    local before = requests()
    local res, fns = {}, {}
    for i = 1, 3 do
      fns[i] = function() res[i] = table.pack(c:connect { timeout = 10 }) end
    end
    realtime.run(table.unpack(fns))
    for i = 1, 3 do
      assert.is_nil(res[i][1])
      assert.equal("auth", res[i][3])
      assert.matches("refused: HTTP 400", res[i][2])
    end
    assert.equal(1, requests() - before, "one request for the three connects")
    local s, err, code = c:connect { timeout = 10 }
    assert.is_nil(s)
    assert.equal("auth", code, err)
    assert.equal(2, requests() - before, "the next connect asked again")
    c:close()
  end)
end)
