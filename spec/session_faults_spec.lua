-- Every simulator fault ends a session the documented way: an `error` message with its
-- code, then `closed` with the close code; never a crash or a hang. With resumption off
-- nothing is retried; with it on, transient faults reconnect instead.
local helper = require "spec.helper"

local to_end = helper.to_end

local function last_type(all) return all[#all] and all[#all].type end

describe("faults without resumption", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function() client:close() end)

  local function session()
    return assert(client:connect { output_modalities = { "text" }, resumption = false })
  end

  it("sends no sessionResumption when resumption = false", function()
    local s = session()
    local list = helper.sim_get "/_sim/connections?state=open"
    list = list.connections or list
    assert.is_nil(list[#list].setup.sessionResumption)
    s:close()
    helper.drain(s)
  end)

  it("a TCP drop mid-turn gives error 'closed' and closed 1006", function()
    helper.sim_post("/_sim/next", { fault = { type = "drop", when = "turn" } })
    local s = session()
    assert(s:send_text "hello")
    local first, all = to_end(s)
    assert.equal("closed", first.error.code)
    assert.matches("connection lost", first.error.message)
    assert.equal(1006, first.closed.code)
    assert.equal("closed", last_type(all))
    assert.is_nil(first.reconnected)
    assert.equal(0, s:stats().reconnects)
  end)

  it("a response the session's end cuts off still gets its response_done (incomplete)", function()
    helper.sim_post("/_sim/next", { fault = { type = "close", code = 1011, when = "turn" } })
    local s = session()
    assert(s:send_text "hello there friend")
    local _, all = to_end(s)
    local created, done
    for _, m in ipairs(all) do
      if m.type == "response_created" then created = m end
      if m.type == "response_done" then done = m end
    end
    assert.is_table(created)
    assert.is_table(done, "no response_done before closed")
    assert.equal("incomplete", done.status)
    assert.equal(created.response_id, done.response_id)
    assert.equal("closed", last_type(all))
  end)

  it("connect's timeout error names the timeout given", function()
    helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 3000, setup = true } })
    local s, err, code = client:connect { output_modalities = { "text" }, resumption = false, timeout = 1 }
    assert.is_nil(s)
    assert.equal("timeout", code)
    assert.equal("no setupComplete within 1 s", err)
  end)

  it("a 1011 close gives error 'closed' naming the code, and closed 1011", function()
    helper.sim_post("/_sim/next", { fault = { type = "close", code = 1011, when = "turn" } })
    local s = session()
    assert(s:send_text "hello")
    local first = to_end(s)
    assert.equal("closed", first.error.code)
    assert.matches("1011", first.error.message)
    assert.equal(1011, first.closed.code)
    assert.equal("Internal error occurred.", first.closed.reason)
  end)

  it("malformed JSON gives error 'protocol' and the session goes on", function()
    helper.sim_post("/_sim/next", { fault = { type = "malformed", when = "turn" } })
    local s = session()
    assert(s:send_text "first")
    local err = helper.receive_until(s, "error")
    assert.equal("protocol", err.code)
    helper.receive_until(s, "response_done")
    assert(s:send_text "second")
    local done = helper.receive_until(s, "response_done")
    assert.equal("completed", done.status)
    s:close()
    local first = to_end(s)
    assert.equal(1000, first.closed.code)
  end)

  it("an oversized frame gives error 'protocol' and closed 1009", function()
    helper.sim_post("/_sim/next", { fault = { type = "oversize", when = "turn", bytes = 200000 } })
    local s = assert(client:connect { output_modalities = { "text" }, resumption = false,
                                      max_message_bytes = 65536 })
    assert(s:send_text "hello")
    local first = to_end(s)
    assert.equal("protocol", first.error.code)
    assert.equal(1009, first.closed.code)
  end)

  it("a refused handshake fails connect with 'handshake' and the HTTP status", function()
    helper.sim_post("/_sim/next", { fault = { type = "refuse", status = 503 } })
    local s, err, code = client:connect { output_modalities = { "text" }, resumption = false }
    assert.is_nil(s)
    assert.equal("handshake", code)
    assert.matches("503", err)
  end)

  it("a 1007 close is fatal with resumption on too", function()
    helper.sim_post("/_sim/next", { fault = { type = "close", code = 1007, when = "turn",
      reason = "Request contains an invalid argument." } })
    local s = assert(client:connect { output_modalities = { "text" } })
    assert(s:send_text "hello")
    local first = to_end(s)
    assert.equal("closed", first.error.code)
    assert.equal(1007, first.closed.code)
    assert.is_nil(first.reconnected)
  end)

  it("a 1008 close is fatal with resumption on too", function()
    helper.sim_post("/_sim/next", { fault = { type = "close", code = 1008, when = "turn",
      reason = "Requested entity was not found." } })
    local s = assert(client:connect { output_modalities = { "text" } })
    assert(s:send_text "hello")
    local first = to_end(s)
    assert.equal(1008, first.closed.code)
    assert.is_nil(first.reconnected)
  end)
end)

describe("reconnects that fail", function()
  local client
  before_each(function() client = helper.clean_gemini() end)
  after_each(function() helper.close_clean(client) end)

  local function dropped_then(fault, count)
    local s = assert(client:connect { output_modalities = { "text" } })
    helper.sim_post("/_sim/next", { count = count, fault = fault })
    local list = helper.sim_get "/_sim/connections?state=open"
    list = list.connections or list
    helper.sim_post("/_sim/connections/" .. list[#list].id, { fault = { type = "drop" } })
    return s, to_end(s, 40)
  end

  it("give up after a bounded number of attempts, saying why", function()
    local s, first = dropped_then({ type = "refuse", status = 503 }, 20)
    assert.equal("handshake", first.error.code)
    assert.matches("cannot resume the session after 6 attempts (connection lost): HTTP 503",
                   first.error.message, 1, true)
    assert.equal(1006, first.closed.code)
    assert.is_nil(first.reconnected)
    assert.equal(0, s:stats().reconnects)
  end)

  it("give up after connections that each got through setup: counting the unanswered text", function()
    -- the text goes unanswered; every later connection closes 1011 right after setup
    helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 5000 } })
    local s = assert(client:connect { output_modalities = { "text" } })
    helper.sim_post("/_sim/next", { count = 20, fault = { type = "close", code = 1011, when = "setup" } })
    local conn = helper.open_connection()
    assert(s:send_text "hello there")
    helper.run "sleep 0.3"
    helper.sim_post("/_sim/connections/" .. conn.id, { fault = { type = "drop" } })
    local first = to_end(s, 60)
    assert.matches("cannot resume the session after 6 attempts: server closed the connection (1011",
      first.error.message, 1, true)
    -- counted either way: written on one of the attempts (not known to be received), or
    -- still waiting when the last one ended (not sent), depending on timing
    assert.is_truthy(first.error.message:match "%(1 message, %d+ bytes, written before the connection was lost and not known to be received%)$"
      or first.error.message:match "%(1 message, %d+ bytes, not sent%)$", first.error.message)
    assert.equal(1011, first.closed.code)
  end)

  it("stop at once when the credentials are refused", function()
    local _, first = dropped_then({ type = "refuse", status = 401 }, 5)
    assert.equal("handshake", first.error.code)
    assert.matches("after 1 attempt (connection lost): HTTP 401", first.error.message, 1, true)
    assert.equal(1006, first.closed.code)
  end)
end)

-- The dead-peer check needs pings far below the 30 s minimum: a child process runs with
-- the test-only RT_TEST_PING_SECS (see docs/design.md, "Resilience").
describe("a stalled peer", function()
  local function child(resumption)
    local script = ([[
      local helper = require "spec.helper"
      helper.sim_request("DELETE", "/_sim/next")
      helper.sim_post("/_sim/next", { fault = { type = "stall", when = "turn" } })
      local client = helper.gemini()
      local s = assert(client:connect { output_modalities = { "text" }, resumption = %s })
      assert(s:send_text "are you there")
      local seen = {}
      for msg in s:messages(30) do
        if msg.type == "error" or msg.type == "closed" or msg.type == "reconnected" then
          seen[#seen + 1] = msg.type .. "|" .. tostring(msg.code or msg.attempt) .. "|" ..
            tostring(msg.message or msg.reason)
        end
        if msg.type == "closed" then break end
        if msg.type == "reconnected" then
          helper.receive_until(s, "response_done")
          s:close()
        end
      end
      print(table.concat(seen, "\n"))
      client:close()
    ]]):format(tostring(resumption))
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    -- under `make check` the child needs the sanitizer runtimes preloaded like us
    local preload = os.getenv "LD_PRELOAD"
    local env = preload and ("LD_PRELOAD=" .. helper.shell_quote(preload) .. " ") or ""
    local status, out = helper.run(env .. "RT_TEST_PING_SECS=1:2 lua5.4 " .. path)
    os.remove(path)
    assert.equal(0, status, out)
    return out
  end

  it("is found dead by the ping timeout: error and closed 1006 without resumption", function()
    local out = child(false)
    assert.matches("error|closed|connection lost: no pong", out, 1, true)
    assert.matches("closed|1006|", out, 1, true)
  end)

  it("is left for a new connection with resumption", function()
    local out = child(true)
    assert.matches("reconnected|1|connection lost: no pong", out, 1, true)
    assert.matches("closed|1000|", out, 1, true)
    assert.is_nil(out:find("error|", 1, true))
  end)
end)
