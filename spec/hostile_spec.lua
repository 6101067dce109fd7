-- The hostile server (spec/hostile) as the specs use it: a client of the library gets a
-- session from it in the plain modes, over ws:// and wss://, and its log shows what it saw.
local helper = require "spec.helper"

for _, tls in ipairs { false, true } do
  describe("hostile server" .. (tls and " over TLS" or ""), function()
    local h
    setup(function() h = helper.hostile { tls = tls } end)
    teardown(function() h:stop() end)

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
      assert.matches('"text":"hello"', log[1].received[2].text)
    end)
  end)
end
