-- How a client's I/O thread waits: epoll through libev, or libwebsockets' own poll().
-- What a client reports, many sessions' turns and closes on one client with each, a slow
-- reader's pause and resume with each, and the fall-back to poll when libev has nothing
-- better to offer.
local helper = require "spec.helper"
local realtime = require "realtime"

-- "1" or "0" under `make test` / `make check`: whether this build has libev.
local built_with_libev = os.getenv "RT_LIBEV"

-- The loops this build runs: poll always, and what "auto" picks when that is not poll.
local function loops()
  local c = helper.gemini()
  local auto = c:event_loop()
  c:close()
  if auto == "poll" then return { "poll" } end
  return { "poll", auto }
end

local child = helper.child

describe("the event loop", function()
  it("is epoll by default where this build has libev, else poll", function()
    local c = helper.gemini()
    local auto = c:event_loop()
    c:close()
    if built_with_libev == "1" then
      assert.equal("epoll", auto)
    elseif built_with_libev == "0" then
      assert.equal("poll", auto)
    else
      assert.is_truthy(({ epoll = true, kqueue = true, poll = true })[auto], auto)
    end
    local p = helper.gemini { event_loop = "poll" }
    assert.equal("poll", p:event_loop())
    p:close()
    assert.has_error(function() p:event_loop() end, "client closed")
  end)

  it("refuses a loop it does not know, naming the choices", function()
    local ok, err = pcall(realtime.gemini, { api_key = "k", event_loop = "select" })
    assert.is_false(ok)
    assert.matches("option 'event_loop': expected one of auto, poll, epoll, got 'select'", err,
                   1, true)
  end)

  it("falls back to poll when libev offers only select, and says why epoll cannot be had", function()
    if built_with_libev == "0" then
      local ok, err = pcall(realtime.gemini, { api_key = "k", event_loop = "epoll" })
      assert.is_false(ok)
      assert.matches('event_loop "epoll" is not available: this build has no libev', err, 1, true)
      return
    end
    -- LIBEV_FLAGS=1 limits libev to select(), which walks every descriptor as poll does
    local status, out = child([[
      local realtime = require "realtime"
      local c = assert(realtime.gemini { api_key = "k" })
      print("auto", c:event_loop())
      c:close()
      print("epoll", pcall(realtime.gemini, { api_key = "k", event_loop = "epoll" }))
    ]], { LIBEV_FLAGS = "1" })
    assert.equal(0, status, out)
    assert.matches("auto\tpoll", out, 1, true)
    assert.matches('epoll\tfalse\t[^\n]*event_loop "epoll" is not available: libev has no ' ..
                   "epoll or kqueue backend here", out)
  end)

  for _, loop in ipairs(loops()) do
    describe("on " .. loop, function()
      it("carries a turn on each of 12 sessions at once and closes each with 1000", function()
        local client = helper.gemini { event_loop = loop }
        assert.equal(loop, client:event_loop())
        local n, sessions, index = 12, {}, {}
        for i = 1, n do
          sessions[i] = assert(client:connect { output_modalities = { "audio" } })
          index[sessions[i]] = i
        end
        for i = 1, n do assert(sessions[i]:send_text("hello from " .. i)) end
        local audio, done, left = {}, {}, n
        local deadline = os.time() + 30
        while left > 0 do
          assert(os.time() < deadline, ("%d turns still open"):format(left))
          for _, msg in ipairs(client:poll()) do
            local i = assert(index[msg.session])
            if msg.type == "output_audio_delta" then
              audio[i] = (audio[i] or 0) + #msg.audio
            elseif msg.type == "response_done" then
              assert.is_nil(done[i])
              done[i] = true
              left = left - 1
            elseif msg.type == "error" or msg.type == "closed" then
              error(("session %d: %s"):format(i, tostring(msg.message or msg.reason)))
            end
          end
          realtime.sleep(0.005)
        end
        for i = 1, n do
          assert.is_true((audio[i] or 0) > 0, "no audio on session " .. i)
          sessions[i]:close()
        end
        for i = 1, n do
          local closed = helper.drain(sessions[i])
          assert.equal(1000, closed.code)
        end
        client:close()
      end)

      it("pauses a slow reader's socket and resumes it without losing a message", function()
        local h = helper.hostile { tls = true }
        local n = 40000
        local client = h:client("flood_tiny", { n = n }, { event_loop = loop })
        local s = assert(client:connect { max_receive_bytes = 65536, resumption = false })
        realtime.sleep(0.3)
        assert.is_true(s:stats().rx_pauses >= 1, "reading never paused")
        local raws = 0
        while raws < n do
          local msg = assert(s:receive(10))
          if msg.type == "raw" then
            raws = raws + 1
          else
            assert.equal("error", msg.type)
            assert.equal("busy", msg.code)
          end
        end
        assert.is_true(s:is_open())
        s:close()
        assert.equal(1000, helper.drain(s).code)
        client:close()
        h:stop()
      end)
    end)
  end
end)
