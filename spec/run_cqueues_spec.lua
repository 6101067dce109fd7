-- realtime.run and cqueues together: cqueues waits (cqueues.sleep, cqueues.poll on a
-- cqueues socket) inside the loop's coroutines, and errors of nested loops.
local helper = require "spec.helper"
local realtime = require "realtime"
local cqueues = require "cqueues"
local csocket = require "cqueues.socket"
local condition = require "cqueues.condition"

local text_turn = helper.text_turn

describe("realtime.run with cqueues", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  -- The loop's coroutines: one sleeps through cqueues, one reads a cqueues socket and one
  -- waits on a cqueues condition, which the last writes to and signals once its
  -- session's turn is done. `run` is realtime.run, or a run nested in one. Returns what
  -- each saw.
  local function mixed(run)
    local a, b = assert(csocket.pair())
    b:settimeout(5)
    local turn_done = condition.new()
    local seen = {}
    run(function()
      local t0 = realtime.now()
      cqueues.sleep(0.2)
      seen.slept = realtime.now() - t0
    end, function()
      seen.line = b:read "*l"
    end, function()
      seen.signalled = turn_done:wait(5)
    end, function()
      local s <close> = assert(client:connect { output_modalities = { "text" }, resumption = false })
      seen.text = text_turn(s, "beside cqueues")
      assert(a:write "turn done\n")
      assert(a:flush())
      turn_done:signal()
    end)
    a:close()
    b:close()
    return seen
  end

  local function check(seen)
    -- under a controller: cqueues.sleep and the condition's wait returned at once (run
    -- resumed them with nothing); with none, the socket's read held up the thread, so the
    -- coroutine that would write to it never ran and the read timed out
    assert.is_true(seen.slept >= 0.2, ("cqueues.sleep(0.2) took %.3f s"):format(seen.slept))
    assert.equal("turn done", seen.line)
    assert.is_true(seen.signalled)
    assert.matches("beside cqueues", seen.text)
  end

  it("in a coroutine of a controller: cqueues waits in the loop wait through the controller", function()
    local cq = cqueues.new()
    local seen
    cq:wrap(function() seen = mixed(realtime.run) end)
    assert(cq:loop(30))
    check(seen)
  end)

  it("nested in a run in a coroutine of a controller: the waits pass up both loops", function()
    local cq = cqueues.new()
    local seen
    cq:wrap(function()
      assert(realtime.run(function()
        seen = mixed(realtime.run)
      end))
    end)
    assert(cq:loop(30))
    check(seen)
  end)

  it("in a plain coroutine inside a controller's: cqueues waits in the loop are the loop's", function()
    -- cqueues.poll yields wherever a controller runs, also to a run with no controller
    -- of its own to wait through
    local cq = cqueues.new()
    local seen
    cq:wrap(function()
      local co = coroutine.wrap(function() seen = mixed(realtime.run) end)
      co()
    end)
    assert(cq:loop(30))
    check(seen)
  end)

  it("with no controller running: cqueues waits in the loop wait while the others go on", function()
    -- cqueues.poll (cqueues.sleep, a socket's wait) yielded nothing to the loop: it
    -- blocked the thread (cqueues's fallback outside a controller), and the loop's other
    -- coroutines stood still meanwhile, the one the read waited for too
    check(mixed(realtime.run))
  end)
end)
