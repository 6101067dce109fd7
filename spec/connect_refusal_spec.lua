-- A refused or unanswered upgrade against the hostile server (spec/hostile, modes `refuse`
-- and `no_answer`), over ws:// and wss://: the HTTP status stands however the body comes
-- (cut short, chunked), and a server that ends the connection before it answers is a
-- failed connect, whether it ends TCP or TLS.
local helper = require "spec.helper"
local realtime = require "realtime"

for _, tls in ipairs { false, true } do
  describe("an upgrade refused or not answered" .. (tls and " over TLS" or ""), function()
    local h
    setup(function() h = helper.hostile { tls = tls } end)
    teardown(function() h:stop() end)

    -- connect's result against the hostile server in `mode`, and the seconds it took.
    local function connect(mode, params, timeout)
      local client = h:client(mode, params)
      local t0 = realtime.now()
      local session, err, code = client:connect { timeout = timeout or 10 }
      local took = realtime.now() - t0
      client:close()
      assert.is_nil(session)
      return err, code, took
    end

    it("quotes a whole refusal's Google error (as before)", function()
      local err, code = connect("refuse", { how = "whole" })
      assert.equal("handshake", code)
      assert.equal("HTTP 503: Service Unavailable - UNAVAILABLE: hostile refusal", err)
    end)

    it("keeps the status of a refusal whose body is cut short by the server's end", function()
      local err, code = connect("refuse", { how = "cut" })
      assert.equal("handshake", code, err)
      assert.equal("HTTP 503: Service Unavailable - UNAVAILABLE: hostile refusal", err)
      err, code = connect("refuse", { how = "cut", status = 401 })
      assert.equal("auth", code, err)
      assert.matches("^HTTP 401: Unauthorized", err)
    end)

    it("reports a refusal whose body stops coming within a second, not at the timeout", function()
      local err, code, took = connect("refuse", { how = "cut_open" }, 10)
      assert.equal("handshake", code, err)
      assert.equal("HTTP 503: Service Unavailable - UNAVAILABLE: hostile refusal", err)
      assert.is_true(took < 5, took)
      -- a deadline before that second reports the refusal too
      err, code, took = connect("refuse", { how = "cut_open" }, 0.3)
      assert.equal("handshake", code, err)
      assert.matches("^HTTP 503", err)
      assert.is_true(took < 5, took)
    end)

    it("reads a chunked refusal's body without its chunk framing", function()
      local err, code, took = connect("refuse", { how = "chunked" })
      assert.equal("handshake", code, err)
      assert.equal("HTTP 503: Service Unavailable - UNAVAILABLE: hostile refusal", err)
      assert.is_true(took < 5, took)
      err, code = connect("refuse", { how = "chunked", body = helper.b64url "no JSON here" })
      assert.equal("HTTP 503: Service Unavailable - no JSON here", err)
      -- a chunk size that is no number: the body as it came
      err, code = connect("refuse", { how = "chunked_bad" })
      assert.equal("handshake", code, err)
      assert.matches('^HTTP 503: Service Unavailable %- zz {"error"', err)
    end)

    it("refuses a status line of 000 at once, and close() returns", function()
      -- it used to be taken for no refusal and parsed again for ever: the I/O thread
      -- spun, connect reported a timeout, and client:close() never returned (hence the
      -- child process and its time limit)
      local url = h:base_url("refuse", { status = "000" })
      local status, out = helper.child(([[
        local realtime = require "realtime"
        local client = assert(realtime.gemini { api_key = "hostile-key", base_url = %q,
                                                ca_file = %s, model = %q })
        local t0 = realtime.now()
        local s, err, code = client:connect { timeout = 10 }
        print(s, code, err, realtime.now() - t0 < 5)
        client:close()
        print "closed"
      ]]):format(url, h.ca_file and ("%q"):format(h.ca_file) or "nil", helper.model),
        { timeout = 20 })
      assert.equal(0, status, out)
      assert.matches("nil\thandshake\tWebSocket upgrade with 127%.0%.0%.1 failed: the server "
        .. "did not answer with HTTP %(status 000%)\ttrue\nclosed\n", out)
    end)

    it("quotes a refusal's long error message cut, from the server's text alone", function()
      -- the message (1,500 escaped newlines, then "tail") was joined with the status in a
      -- buffer of 1,024 bytes and quoted with the length it would have had: bytes of the
      -- stack after the buffer went into the error
      local body = '{"error":{"status":"X","message":"' .. ("\\n"):rep(1500) .. 'tail"}}'
      local err, code = connect("refuse", { status = 400, body = helper.b64url(body) })
      assert.equal("handshake", code, err)
      assert.equal("HTTP 400: Bad Request - X: tail", err)
      -- a message longer than the quote is cut, and says so
      body = '{"error":{"status":"X","message":"' .. ("ab "):rep(300) .. '"}}'
      err = connect("refuse", { status = 400, body = helper.b64url(body) })
      assert.equal("HTTP 400: Bad Request - X: " .. ("ab "):rep(132) .. "a...", err)
    end)

    it("quotes a refusal whose error message is empty or unprintable without a dangling colon", function()
      -- "STATUS: " was written before a message that quoted as nothing
      for _, msg in ipairs { "", "\\u0001\\u0007", "   " } do
        local body = '{"error":{"code":503,"message":"' .. msg .. '","status":"UNAVAILABLE"}}'
        local err = connect("refuse", { body = helper.b64url(body) })
        assert.equal("HTTP 503: Service Unavailable - UNAVAILABLE", err)
        -- nor status: the body as it came (runs of spaces quoted as one)
        body = '{"error":{"code":503,"message":"' .. msg .. '"}}'
        err = connect("refuse", { body = helper.b64url(body) })
        assert.equal("HTTP 503: Service Unavailable - " .. body:gsub(" +", " "), err)
      end
    end)

    it("quotes a long refusal the same however its bytes arrive", function()
      -- a Google error of 6 KB: the body was waited for up to 4 KiB, and its JSON, cut
      -- there, was quoted raw when the bytes came in pieces (whole, they were parsed)
      local want = "HTTP 503: Service Unavailable - UNAVAILABLE: hostile refusal"
      for _, how in ipairs { "whole", "drip", "chunked" } do
        local err, code = connect("refuse", { pad = 6000, how = how })
        assert.equal("handshake", code, err)
        assert.equal(want, err, how)
      end
      -- past the bound (64 KiB) the body is quoted from its start, in one write or many
      local whole = connect("refuse", { pad = 70000 })
      local drip = connect("refuse", { pad = 70000, how = "drip", piece = 4096 })
      assert.matches('^HTTP 503: Service Unavailable %- {"error":{"code":503', whole)
      assert.equal(whole, drip)
    end)

    it("skips interim (1xx) answers before the 101 or the refusal", function()
      -- a 100 or 103 before the 101 was reported as the refusal of the upgrade
      local client = h:client("setup_ok", { interim = "100.103" })
      local session, err = client:connect { timeout = 10 }
      assert.is_not_nil(session, err)
      session:close()
      client:close()
      err = connect("refuse", { interim = "100.103.102", status = 403 })
      assert.equal("HTTP 403: Forbidden - UNAVAILABLE: hostile refusal", err)
      -- a few, not any number
      local code
      err, code = connect("setup_ok", { interim = ("100."):rep(8) .. "103" })
      assert.equal("handshake", code, err)
      assert.matches("more than 8 interim %(1xx%) answers$", err)
    end)

    it("is a failed connect when the server ends the connection before answering", function()
      local err, code = connect("no_answer", {})
      assert.equal("connect", code, err)
      assert.matches("^connection to 127%.0%.0%.1 port %d+ failed before the WebSocket upgrade", err)
      if tls then
        assert.matches("the server ended TLS before answering it$", err)
      end
    end)

    if tls then
      it("stays 'tls' when TLS fails before the answer", function()
        local err, code = connect("no_answer", { how = "garbage" })
        assert.equal("tls", code, err)
      end)
    end
  end)
end

describe("a base_url whose scheme does not match the server", function()
  -- http:// to a TLS server, https:// to a plain one: the first hour's slip, which gave
  -- "failed before the WebSocket upgrade" and OpenSSL's "wrong version number"
  it("says which scheme the server wants", function()
    local client = helper.gemini { base_url = helper.sim_http:gsub("^https://", "http://") }
    local session, err, code = client:connect { timeout = 10 }
    client:close()
    assert.is_nil(session)
    assert.equal("connect", code, err)
    assert.matches("^connection to 127%.0%.0%.1 port %d+ failed before the WebSocket upgrade", err)
    assert.matches("%(if the server speaks TLS, base_url must start with https://%)$", err)

    -- a plain HTTP server answers a ClientHello as it answers any bytes that are no request
    local port, pid = helper.start_listening("node -e " .. helper.shell_quote(
      "require('http').createServer((q, r) => r.end()).listen(0, '127.0.0.1', function () {"
      .. " console.log('LISTENING ' + this.address().port) })"), "a plain HTTP server")
    client = helper.gemini { base_url = "https://127.0.0.1:" .. port }
    session, err, code = client:connect { timeout = 10 }
    client:close()
    helper.run("kill " .. pid)
    assert.is_nil(session)
    assert.equal("tls", code, err)
    assert.matches("^TLS handshake with 127%.0%.0%.1 failed: ", err)
    assert.matches("%(the server does not speak TLS: for a plain server, base_url must start with http://%)$", err)
  end)
end)

describe("a setup refused by the server's close", function()
  local client
  setup(function() client = helper.gemini() end)
  teardown(function() client:close() end)
  before_each(function() helper.sim_request("DELETE", "/_sim/next") end)

  -- connect's results, all of them, against a simulator told to close at the connect
  local function refused(fault, opts)
    if fault then helper.sim_post("/_sim/next", { fault = fault }) end
    local out = table.pack(client:connect(opts or {}))
    assert.is_nil(out[1])
    return out
  end

  it("returns the close code and reason after the message and 'closed'", function()
    -- 1011: a fault of the service, worth trying again
    local out = refused { type = "close", code = 1011, when = "connect", reason = "quota" }
    assert.equal(5, out.n)
    assert.equal("server closed the connection (1011: quota)", out[2])
    assert.equal("closed", out[3])
    assert.equal(1011, out[4])
    assert.equal("quota", out[5])
    -- 1007 for a setup the service does not take (a field v1beta lacks): the caller's
    -- config; the reason as the server sent it (the message escapes its quotes)
    local pinned = helper.gemini { api_version = "v1beta" }
    out = table.pack(pinned:connect { proactive_audio = true })
    pinned:close()
    assert.equal(5, out.n, out[2])
    assert.equal("closed", out[3], out[2])
    assert.matches("^server closed the connection %(1007: ", out[2])
    assert.equal(1007, out[4])
    assert.matches([[^Invalid JSON payload received%. Unknown name "proactivity" at 'setup']], out[5])
  end)

  it("returns them for a normal close before setupComplete too", function()
    local out = refused { type = "close", code = 1000, when = "connect", reason = "bye" }
    assert.same({ n = 5, nil, "connection closed before setup completed (1000: bye)",
                  "closed", 1000, "bye" }, out)
  end)

  it("returns them with 'auth' for a close that refuses the key", function()
    local bad = helper.gemini { api_key = "wrong-key-123" }
    local out = table.pack(bad:connect {})
    bad:close()
    assert.equal(5, out.n, out[2])
    assert.equal("auth", out[3])
    assert.equal(1007, out[4])
    assert.matches("API key not valid", out[5])
    assert.is_nil(out[5]:find("wrong-key-123", 1, true))
  end)

  it("marks the closed message of a server's close, not that of the caller's", function()
    local s = assert(client:connect {})
    local conn = helper.last_connection()
    helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "close", code = 1008 } })
    local closed = helper.drain(s)
    assert.equal(1008, closed.code)
    assert.is_true(closed.by_server)
    s = assert(client:connect {})
    s:close()
    closed = helper.drain(s)
    assert.equal(1000, closed.code)
    assert.is_nil(closed.by_server)
  end)

  it("keeps three results when no server close caused the failure", function()
    local out = refused { type = "drop", when = "connect" }
    assert.equal(3, out.n, out[2])
    assert.equal("closed", out[3], out[2])
    out = refused { type = "refuse", status = 503 }
    assert.equal(3, out.n, out[2])
    assert.equal("handshake", out[3], out[2])
  end)
end)
