-- Issue 15:
--  * client:poll() and session:poll() never yield, even when a tool handler tries to: the
--    handler's result is then an error for the model, and poll returns;
--  * send_wire refuses text that is not a JSON object or not UTF-8 (it raises, as misuse);
--  * integer options take a float with an integral value (2^30).
local helper = require "spec.helper"
local realtime = require "realtime"

describe("issue 15: poll, send_wire and integer options", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  for _, which in ipairs { "client", "session" } do
    it(which .. ":poll() never yields through a handler that tries to", function()
      local session = assert(client:connect {
        output_modalities = { "text" },
        tools = { { name = "slow", handler = function()
          coroutine.yield "handler yielded"
          return { late = true }
        end } },
      })
      assert(session:send_text "call slow {}")
      local got, yielded, rest = {}, {}, {}
      local co = coroutine.wrap(function()
        local deadline = realtime.now() + 10
        while realtime.now() < deadline do
          local batch = which == "client" and client:poll() or { session:poll() }
          local finished = false
          for _, m in ipairs(batch) do
            if finished then
              rest[#rest + 1] = m   -- client:poll() may already hold the model's answer
            else
              got[#got + 1] = m
              finished = m.type == "response_done"
            end
          end
          if finished then return "finished" end
          realtime.sleep(0.01)
        end
        return "timed out"
      end)
      local r = co()
      while r ~= "finished" and r ~= "timed out" do
        yielded[#yielded + 1] = r
        r = co()
      end
      assert.same({}, yielded)
      assert.equal("finished", r)
      local done
      for _, m in ipairs(got) do if m.type == "response_output_item_done" then done = m end end
      assert.matches("yield", done.result.error)
      assert.matches("poll", done.result.error)
      -- the model got that error and answers; the session goes on
      local answered = false
      for _, m in ipairs(rest) do answered = answered or m.type == "response_done" end
      if not answered then
        local reply = helper.collect_turn(session)
        assert.equal("response_done", reply[#reply].type)
      end
    end)
  end

  it("send_wire refuses text that is not a JSON object, or not UTF-8", function()
    local session = assert(client:connect { output_modalities = { "text" } })
    for _, bad in ipairs { "not json", '{"a":', "[1,2]", '"text"', '{"realtimeInput":{"text":"\xff"}}' } do
      local ok, err = pcall(session.send_wire, session, bad)
      assert.is_false(ok, bad)
      assert.matches("send_wire", err)
    end
    assert(session:send_wire '{"realtimeInput":{"text":"hello"}}')
    local msgs = helper.collect_turn(session)
    assert.equal("response_done", msgs[#msgs].type)
    local conns = helper.connections()
    local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
    for _, f in ipairs(frames) do
      assert.is_nil(f.text:find("not json", 1, true))
    end
  end)

  it("integer options take floats with integral values", function()
    local c2 = assert(realtime.gemini { api_key = helper.sim_key, base_url = helper.sim_http,
      ca_file = helper.sim_ca, model = helper.model, ping_interval = 2.0 ^ 4, max_sessions = 2.0 ^ 10 })
    local session = assert(c2:connect { output_modalities = { "text" }, max_queue_bytes = 2 ^ 30,
      max_message_bytes = 2 ^ 24, max_output_tokens = 2 ^ 10, top_k = 2.0 ^ 5, seed = -(2 ^ 4),
      input_audio_format = { rate = 2.0 ^ 14 }, compression = { trigger_tokens = 2 ^ 20, target_tokens = 2 ^ 19 } })
    local conns = helper.connections()
    local setup = conns[#conns].setup
    assert.equal(1024, setup.generationConfig.maxOutputTokens)
    assert.equal(32, setup.generationConfig.topK)
    assert.equal(-16, setup.generationConfig.seed)
    assert(session:append_audio(helper.tone(0.1, 16384)))
    assert.equal(math.tointeger(2 ^ 30), session.options.max_queue_bytes)
    assert.equal("integer", math.type(session.options.max_queue_bytes))
    c2:close()
    local ok, err = pcall(client.connect, client, { max_queue_bytes = 2 ^ 30 + 0.5 })
    assert.is_false(ok)
    assert.matches("option 'max_queue_bytes': expected integer", err)
  end)
end)
