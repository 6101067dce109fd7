-- Issue 15: failures come back with one of the documented codes (docs/api.md), never
-- "invalid": a missing ca_file is "tls", an append or a message larger than
-- max_queue_bytes is "busy", and user information in base_url is misuse (it raises).
local helper = require "spec.helper"
local realtime = require "realtime"

local DOCUMENTED = { timeout = true, closed = true, dns = true, connect = true, tls = true,
  handshake = true, auth = true, protocol = true, busy = true, unsupported = true }

describe("issue 15: documented error codes", function()
  it("a ca_file that does not exist is 'tls', and the message names it", function()
    local client, msg, code = realtime.gemini { api_key = "k", ca_file = "/nonexistent/ca.pem" }
    assert.is_nil(client)
    assert.equal("tls", code)
    assert.matches("ca_file", msg)
    assert.matches("/nonexistent/ca.pem", msg, 1, true)
  end)

  it("user information in base_url raises, naming base_url and not the password", function()
    local ok, err = pcall(realtime.gemini, { api_key = "k", base_url = "http://me:pw-secret@127.0.0.1:1" })
    assert.is_false(ok)
    assert.matches("option 'base_url'", err, 1, true)
    assert.is_nil(err:find("pw-secret", 1, true))
  end)

  describe("on a session", function()
    local client, session
    before_each(function()
      client = helper.gemini()
      session = assert(client:connect { output_modalities = { "text" }, max_queue_bytes = 4096 })
    end)
    after_each(function() client:close() end)

    it("an append larger than max_queue_bytes is 'busy', and the session goes on", function()
      local ok, msg, code = session:append_audio(string.rep("\0", 10000))
      assert.is_nil(ok)
      assert.equal("busy", code)
      assert.matches("max_queue_bytes", msg)
      assert(session:send_text "still here")
      local msgs = helper.collect_turn(session)
      assert.equal("response_done", msgs[#msgs].type)
    end)

    it("a message larger than max_queue_bytes is 'busy'", function()
      local ok, msg, code = session:send_text(string.rep("x", 10000))
      assert.is_nil(ok)
      assert.equal("busy", code)
      assert.matches("max_queue_bytes", msg)
    end)

    it("no failure of these paths uses a code outside the documented list", function()
      for _, r in ipairs {
        table.pack(session:append_audio(string.rep("\0", 10000))),
        table.pack(session:send_wire('{"realtimeInput":{"text":"' .. string.rep("y", 9000) .. '"}}')),
      } do
        assert.is_nil(r[1])
        assert.is_true(DOCUMENTED[r[3]] == true, tostring(r[3]))
      end
    end)
  end)
end)
