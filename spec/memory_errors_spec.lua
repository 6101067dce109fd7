-- Memory errors raised inside the binding while it holds memory of its own (an event it
-- maps, a URL with the key, a token, a response body): the error reaches the caller, the
-- memory is freed (LeakSanitizer checks the children below), and the object works again
-- once memory is back. spec/memfail.c makes the shortage: memfail.pcall(n, f, ...) is
-- pcall(f, ...) with n Lua allocations allowed and the later ones refused.
local helper = require "spec.helper"
local realtime = require "realtime"

local memfail = helper.memfail()

-- A child script's prelude: the memfail module and a client for the simulator.
local function prelude()
  return ([[
    local realtime = require "realtime"
    local memfail = package.loadlib(os.getenv "MEMFAIL_SO", "luaopen_memfail")()
    local client = assert(realtime.gemini { base_url = %q, api_key = %q, ca_file = %q, model = %q })
  ]]):format(helper.sim_http, helper.sim_key, helper.sim_ca, helper.model)
end

-- Asserts that a child of helper.leak_child ended well and leaked nothing.
local function no_leak(status, out)
  assert.is_nil(out:find("LeakSanitizer", 1, true), out)
  assert.equal(0, status, out)
end

describe("a memory error inside a receive", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  -- Connects and waits until a long answer's messages wait in the core, unread.
  local function answering()
    local s = assert(client:connect { output_modalities = { "audio" } })
    assert(s:send_text "tell me a long story please")
    realtime.sleep(0.5)
    return s
  end

  it("reaches the caller, and the session receives again once memory is back", function()
    local s = answering()
    local raised = 0
    for n = 0, 40 do
      local ok, msg, err = memfail.pcall(n, s.try_receive, s)
      if ok then
        assert(msg or err == "again", "try_receive returned nothing, without a reason")
      else
        assert.equal("not enough memory", msg)
        raised = raised + 1
        -- before: "cannot receive from a session while it reads a server message" for good
        local msg, err2 = s:receive(5)
        assert(msg, err2)
      end
    end
    assert.is_true(raised > 0)
    -- the answer goes on (what was being read when memory ran out is lost)
    helper.receive_until(s, "response_done")
    s:close()
    helper.drain(s)
  end)

  it("leaves the session to client:poll", function()
    local s = answering()
    local ok, err = memfail.pcall(0, s.try_receive, s)
    assert.is_false(ok)
    assert.equal("not enough memory", err)
    -- before: skipped without a word, for good
    assert.is_true(#client:poll() > 0)
    s:close()
    helper.drain(s)
  end)

  it("frees the event when the error ends the coroutine that received", function()
    local s = answering()
    local died = 0
    for n = 0, 40 do
      -- a coroutine that dies of an error keeps its stack: nothing on it is closed
      local co = coroutine.create(function() return s:try_receive() end)
      local _, ok, err = memfail.pcall(n, coroutine.resume, co)
      if not ok then
        assert.equal("not enough memory", err)
        died = died + 1
        local ok2, err2 = pcall(s.try_receive, s)
        assert(ok2, err2)
      end
    end
    assert.is_true(died > 0)
    s:close()
    helper.drain(s)
  end)

  it("keeps the closed message for the next receive", function()
    local s = assert(client:connect { output_modalities = { "text" } })
    s:close()
    local deadline = realtime.now() + 5
    repeat realtime.sleep(0.01) until not s:_holding() or realtime.now() > deadline
    assert.is_false(s:_holding())            -- ended: the closed event waits in the core
    local raised, last = 0, nil
    for n = 0, 60 do
      local ok, msg = memfail.pcall(n, s.try_receive, s)
      if ok then
        last = msg
        if msg and msg.type == "closed" then break end
      else
        assert.equal("not enough memory", msg)
        raised = raised + 1
      end
    end
    assert.is_true(raised > 0)
    -- before: the memory error lost it, and every receive after it said "again"
    assert.equal("closed", last and last.type)
    assert.is_false(s:is_open())
  end)

  it("leaves the messages already handed on in order, with no gap", function()
    -- each new session's first answer maps to two messages, the second one where its
    -- inbox has to grow: some n runs out of memory between the two
    local split = false
    for n = 0, 60 do
      local s = assert(client:connect { output_modalities = { "text" }, resumption = false })
      assert(s:send_text "hello")
      assert.is_true(s:_wait(5))
      local ok = memfail.pcall(n, s.try_receive, s)
      local refused = memfail.refused()
      for _ = 1, 3 do
        local msg, err = s:try_receive()
        -- before: the inbox's tail moved past a message it never stored: a bare nil
        assert(msg or err == "again", "try_receive returned nothing, without a reason")
        split = split or (not ok and msg ~= nil)
      end
      s:close()
      helper.drain(s)
      if refused == 0 then break end
    end
    assert.is_true(split, "no n ran out of memory between the two messages")
  end)

  it("frees setupComplete's event when connect runs out of memory reading it", function()
    -- connect reads the session with session:try_receive(): the shortage starts there
    no_leak(helper.leak_child(prelude() .. [[
      local methods = require("realtime.core").session_methods
      local try_receive, n, raised = methods.try_receive, 0, 0
      methods.try_receive = function(self)
        local ok, a, b, c = memfail.pcall(n, try_receive, self)
        if not ok then error(a, 0) end
        return a, b, c
      end
      for k = 0, 12 do
        n = k
        local ok, s = pcall(client.connect, client, { output_modalities = { "text" } })
        if ok then s:close() else raised = raised + 1 end
      end
      methods.try_receive = try_receive
      assert(raised > 0)
      client:close()
      collectgarbage()
    ]]))
  end)
end)

describe("a memory error while the binding copies what it holds into Lua", function()
  -- A child script that loads memfail and the module's C part.
  local function script(body)
    return [[
      local core = require "realtime.core"
      local memfail = package.loadlib(os.getenv "MEMFAIL_SO", "luaopen_memfail")()
      -- Calls fn(...) under shortages of 0, 1, 2, ... allocations until one is enough;
      -- returns how many raised.
      local function sweep(fn, ...)
        local raised = 0
        for n = 0, 1000 do
          local ok, err = memfail.pcall(n, fn, ...)
          if not ok then
            assert(err == "not enough memory", err)
            raised = raised + 1
          elseif memfail.refused() == 0 then
            return raised
          end
        end
        error("no shortage was short enough")
      end
    ]] .. body
  end

  it("frees core.endpoint's URL and headers, which carry the key", function()
    no_leak(helper.leak_child(script [[
      local cfg = { backend = "gemini", api_key = "key-" .. ("k"):rep(60),
                    headers = { ["x-extra"] = "yes" } }
      assert(sweep(core.endpoint, cfg) > 0)
      local url, headers = core.endpoint(cfg)        -- memory is back: it works
      assert(url:find "^wss://" and #headers > 0)
    ]]))
  end)

  describe("with access tokens of 2,000 characters", function()
    before_each(function() helper.sim_post("/_sim/tokens", { length = 2000 }) end)
    after_each(function() helper.sim_post("/_sim/tokens", { length = require("cjson").null }) end)

    -- A metadata-server token source on the simulator.
    local source = ([[
      local src = assert(core.auth_new { kind = "metadata", metadata_host = %q, ca_file = %q,
                                         source = "metadata server test" })
    ]]):format(helper.sim_http, helper.sim_ca)

    it("wipes and frees auth:token's copy of the token", function()
      no_leak(helper.leak_child(script(source .. [[
        local token = require("realtime.auth").token(src, 20)   -- fetched and cached
        assert(#token == 2000, token)
        assert(sweep(src.token, src) > 0)
        assert(src:token() == token)
        src:close()
      ]])))
    end)

    it("frees request:result's response body", function()
      no_leak(helper.leak_child(script(([[
        local function request()
          local req = assert(core.http_request { url = %q, ca_file = %q,
            headers = { ["Metadata-Flavor"] = "Google" } })
          assert(req:_wait(20))
          return req
        end
        local raised = 0
        for n = 0, 20 do           -- a response is taken once: a new request each time
          local req = request()
          local ok, status = memfail.pcall(n, req.result, req)
          if not ok then raised = raised + 1 elseif memfail.refused() == 0 then break end
          req:close()
        end
        assert(raised > 0)
        local status, body = request():result()
        assert(status == 200 and #body > 2000, body)
      ]]):format(helper.sim_http .. "/computeMetadata/v1/instance/service-accounts/default/token",
                 helper.sim_ca))))
    end)
  end)
end)
