-- The hostile server (spec/hostile) as the specs use it: a client of the library gets a
-- session from it in the plain modes, over ws:// and wss://, and its log shows what it saw.
local helper = require "spec.helper"
local realtime = require "realtime"

for _, tls in ipairs { false, true } do
  describe("hostile server" .. (tls and " over TLS" or ""), function()
    local h
    setup(function() h = helper.hostile { tls = tls } end)
    teardown(function() h:stop() end)

    -- The server's record of a connection once it logged n pongs (or after 5 s).
    local function after_pongs(tag, n)
      local log
      for _ = 1, 100 do
        log = h:log(tag)
        if #log[1].pongs >= n then break end
        realtime.sleep(0.05)
      end
      return log[1]
    end

    it("answers setup and a text turn, and logs the close code it saw", function()
      local client, tag = h:client("setup_ok", nil, {})
      local session = assert(client:connect { output_modalities = { "text" } })
      assert(session:send_text "hello")
      local msgs = helper.collect_turn(session)
      local text
      for _, m in ipairs(msgs) do if m.type == "output_text_done" then text = m.text end end
      assert.equal("You said: hello", text)
      session:close()
      assert.equal("closed", helper.drain(session).type)
      client:close()
      local log = h:log(tag)
      assert.equal(1, #log)
      assert.equal("setup_ok", log[1].mode)
      assert.equal(1000, log[1].closeReceived.code)
      assert.equal("client closed", log[1].closeReceived.text)
      assert.matches('"text":"hello"', log[1].received[2].text)
    end)

    it("answers each ping with its payload, the longest and an empty one too", function()
      local client, tag = h:client("ping", { sizes = "125,0,3" })
      local session = assert(client:connect { output_modalities = { "text" } })
      local rec = after_pongs(tag, 3)
      -- byte i of a ping of n bytes is (7i + n) mod 256 (spec/hostile/lib/modes.js)
      local function payload(n)
        local t = {}
        for i = 0, n - 1 do t[#t + 1] = ("%02x"):format((7 * i + n) % 256) end
        return table.concat(t)
      end
      local got = {}
      for i, p in ipairs(rec.pongs) do got[i] = p.hex end
      assert.same({ payload(125), "", payload(3) }, got)
      -- the connection carries on
      assert(session:send_text "hello")
      local text
      for _, m in ipairs(helper.collect_turn(session)) do
        if m.type == "output_text_done" then text = m.text end
      end
      assert.equal("You said: hello", text)
      client:close()
      assert.equal(1001, h:log(tag)[1].closeReceived.code)
      assert.equal("client freed", h:log(tag)[1].closeReceived.text)
    end)

    it("answers the latest of pings read together (RFC 6455 5.5.3)", function()
      local client, tag = h:client("ping", { sizes = "5,4,3", every = 0 })
      local session = assert(client:connect { output_modalities = { "text" } })
      after_pongs(tag, 1)
      realtime.sleep(0.2)
      local pongs = h:log(tag)[1].pongs
      assert.equal("030a11", pongs[#pongs].hex)
      assert.is_true(session:is_open())
      client:close()
    end)
  end)
end
