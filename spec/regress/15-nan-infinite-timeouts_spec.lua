-- Issue 15: a NaN timeout raises (receive, messages, realtime.sleep); an infinite one
-- waits without a bound, idle. Idleness is measured on a child process: the CPU time it
-- uses while it waits (from /proc/<pid>/stat) must stay far below the wall time.
local helper = require "spec.helper"
local realtime = require "realtime"

local CLK_TCK = 100   -- Linux reports utime and stime in ticks of 1/100 s

-- CPU seconds (user + system) a process has used so far.
local function cpu_of(pid)
  local stat = helper.read_file("/proc/" .. pid .. "/stat")
  local fields = {}
  for x in stat:match "%) (.*)$":gmatch "%S+" do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / CLK_TCK   -- utime, stime
end

-- Runs `code` (Lua, with realtime loaded) in a child until it printed `ready` (or for 5 s),
-- then measures the CPU it uses in the next `seconds`, kills it, and returns that CPU time
-- and what it printed.
local function cpu_while(code, ready, seconds)
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write('local realtime = require "realtime"\nio.stdout:setvbuf "no"\n', code)
  f:close()
  local preload = os.getenv "LD_PRELOAD"   -- the sanitizer runtimes under `make check`
  preload = preload and preload ~= "" and ("LD_PRELOAD=" .. helper.shell_quote(preload) .. " ") or ""
  local _, pid = helper.run(("%slua5.4 %s >%s 2>&1 & echo $!"):format(preload, script, out))
  pid = assert(pid:match "%d+")
  local t0 = realtime.now()
  while not helper.read_file(out):find(ready, 1, true) and realtime.now() - t0 < 5 do
    realtime.sleep(0.05)
  end
  local before = cpu_of(pid)
  realtime.sleep(seconds)
  local used = cpu_of(pid) - before
  helper.run("kill " .. pid)
  local printed = helper.read_file(out)
  os.remove(script)
  os.remove(out)
  return used, printed
end

-- Runs `code` in a child killed after 5 s (a sleep that never returns must not hang the
-- suite); returns its exit status and output.
local function child(code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write('local realtime = require "realtime"\n', code)
  f:close()
  local preload = os.getenv "LD_PRELOAD"
  preload = preload and preload ~= "" and ("LD_PRELOAD=" .. helper.shell_quote(preload) .. " ") or ""
  local status, out = helper.run(("%stimeout -s KILL 5 lua5.4 %s"):format(preload, script))
  os.remove(script)
  return status, out
end

describe("issue 15: NaN and infinite timeouts", function()
  it("realtime.sleep(0/0) raises, naming the argument", function()
    local status, out = child "print(pcall(realtime.sleep, 0 / 0))"
    assert.equal(0, status)
    assert.matches("^false\t.*sleep.*NaN", out)
  end)

  it("realtime.sleep(0/0) raises inside realtime.run too", function()
    local status, out = child "print(pcall(realtime.run, function() realtime.sleep(0 / 0) end))"
    assert.equal(0, status)
    assert.matches("^false\t.*NaN", out)
  end)

  it("realtime.sleep(math.huge) waits idle and does not return", function()
    local cpu, printed = cpu_while('print "sleeping"\nrealtime.sleep(math.huge)\nprint "returned"\n',
      "sleeping", 1)
    assert.equal("sleeping\n", printed)
    assert.is_true(cpu < 0.2, ("used %.2f s of CPU in 1 s"):format(cpu))
  end)

  it("realtime.sleep(math.huge) under realtime.run lets the others run, idle", function()
    local cpu, printed = cpu_while([[
      realtime.run(function() realtime.sleep(math.huge) end,
                   function() realtime.sleep(0.05) print "other done" end)
      print "returned"
    ]], "other done", 1)
    assert.equal("other done\n", printed)
    assert.is_true(cpu < 0.2, ("used %.2f s of CPU in 1 s"):format(cpu))
  end)

  describe("on a session", function()
    local client, session
    before_each(function()
      client = helper.gemini()
      session = assert(client:connect { output_modalities = { "text" } })
    end)
    after_each(function() client:close() end)

    it("receive(0/0) and messages(0/0) raise", function()
      local ok, err = pcall(session.receive, session, 0 / 0)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'receive'", err, 1, true)
      assert.matches("NaN", err)
      ok, err = pcall(function() for _ in session:messages(0 / 0) do end end)
      assert.is_false(ok)
      assert.matches("NaN", err)
      assert.is_true(session:is_open())
    end)

    it("receive(math.huge) waits until a message comes", function()
      assert(session:send_text "hello")
      local seen = {}
      repeat
        local msg = assert(session:receive(math.huge))
        seen[#seen + 1] = msg.type
      until msg.type == "response_done"
      assert.truthy(#seen >= 2)
    end)

    it("receive(math.huge) in a coroutine under realtime.run", function()
      local done
      realtime.run(function()
        assert(session:send_text "hello")
        repeat
          local msg = assert(session:receive(math.huge))
        until msg.type == "response_done"
        done = true
      end)
      assert.is_true(done)
    end)
  end)

  it("receive(math.huge) waits idle while nothing comes", function()
    local cpu, printed = cpu_while(([[
      local client = assert(realtime.gemini { api_key = %q, base_url = %q, ca_file = %q, model = %q })
      local session = assert(client:connect { output_modalities = { "text" }, resumption = false })
      print "connected"
      print(session:receive(math.huge))
    ]]):format(helper.sim_key, helper.sim_http, helper.sim_ca, helper.model), "connected", 1)
    assert.equal("connected\n", printed)
    assert.is_true(cpu < 0.2, ("used %.2f s of CPU in 1 s"):format(cpu))
  end)
end)
