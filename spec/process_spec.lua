-- The process around the library: signals and descriptors. Each case runs a script in a
-- child process (with the sanitizer preload of `make check`, as helper.child keeps it),
-- bounded, so that a regression fails instead of hanging the suite.
local helper = require "spec.helper"
local q = helper.shell_quote

-- A client of the simulator, for the child scripts.
local CLIENT = ([[
local realtime = require "realtime"
local c = assert(realtime.gemini { api_key = %q, base_url = %q, ca_file = %q, model = %q })
]]):format(helper.sim_key, helper.sim_http, helper.sim_ca, helper.model)

-- Runs `script` in the background, sends it SIGINT once it has printed "waiting", and
-- returns its exit status, its output and the seconds from the signal to its end.
local function interrupt(script)
  local dir = os.tmpname()
  os.remove(dir)
  assert(helper.run("mkdir " .. q(dir)) == 0)
  helper.write_file(dir .. "/s.lua", script)
  local preload = os.getenv "LD_PRELOAD"
  local out_file = dir .. "/out"
  local cmd = ([[
%s timeout -s KILL 30 lua5.4 %s > %s 2>&1 &
pid=$!
i=0
while ! grep -q waiting %s && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done
sleep 0.2
t0=$(date +%%s%%N)
kill -INT $pid
wait $pid
echo "status $?"
echo "took_ms $(( ($(date +%%s%%N) - t0) / 1000000 ))"
]]):format(preload and ("LD_PRELOAD=" .. q(preload)) or "", q(dir .. "/s.lua"), q(out_file),
    q(out_file))
  local _, out = helper.run(cmd)
  local log = helper.read_file(dir .. "/out") or ""
  helper.run("rm -rf " .. q(dir))
  local ms = tonumber(out:match "took_ms (%d+)")
  return tonumber(out:match "status (%d+)"), log, ms and ms / 1000
end

describe("Ctrl-C (SIGINT) in the standalone interpreter", function()
  -- lua5.4 stops a running script at its next instruction; a wait inside the library
  -- must come back to Lua for that, not sit out its timeout.
  -- `line`: the script's line the message names, as for Lua code interrupted (it named
  -- a line of the module's wait.lua)
  local function stops(what, script, line)
    it("stops " .. what .. " at once, at the script's line", function()
      local status, log, took = interrupt(script)
      assert.is_truthy(log:find("interrupted!", 1, true), log)
      assert.equal(tostring(line), log:match "\nlua5%.4: [^\n]*/s%.lua:(%d+): interrupted!\n", log)
      assert.are_not.equal(0, status)
      assert.is_true(took ~= nil and took < 3, "took " .. tostring(took) .. " s")
    end)
  end
  stops("a receive without a bound", CLIENT .. [[
local s = assert(c:connect { output_modalities = { "text" } })
print "waiting"; io.stdout:flush()
while true do s:receive(math.huge) end   -- what the server sent first, then nothing
]], 5)
  stops("a receive with a long timeout", CLIENT .. [[
local s = assert(c:connect { output_modalities = { "text" } })
print "waiting"; io.stdout:flush()
while true do s:receive(60) end
]], 5)
  stops("realtime.run waiting on a session", CLIENT .. [[
realtime.run(function()
  local s = assert(c:connect { output_modalities = { "text" } })
  print "waiting"; io.stdout:flush()
  for _ in s:messages(60) do end
end)
]], 3)
  stops("realtime.sleep", [[
local realtime = require "realtime"
print "waiting"; io.stdout:flush()
realtime.sleep(math.huge)
]], 3)
end)

describe("Ctrl-C (SIGINT) during client:close()", function()
  -- A server that never answers the close keeps client:close() waiting for close_timeout;
  -- the wait must come back to Lua on the signal like every other wait.
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  -- A client of the hostile server's mode, for the child scripts.
  local function hostile_client(mode)
    return ([[
local realtime = require "realtime"
local c = assert(realtime.gemini { api_key = "hostile-key", base_url = %q, ca_file = %q,
  model = %q })
]]):format(h:base_url(mode), h.ca_file, helper.model)
  end

  -- The process sends itself SIGINT after `delay` seconds: lua5.4's hook raises
  -- "interrupted!" in the script, where pcall can catch it.
  local SELF_INTERRUPT = [[
local function interrupt_in(delay)
  local pid = assert(io.open "/proc/self/stat"):read("a"):match "^(%d+)"
  assert(os.execute(("(sleep %g; kill -INT %s) &"):format(delay, pid)))
end
]]

  it("stops the wait at once", function()
    local status, log, took = interrupt(hostile_client "no_close_reply" .. [[
local s = assert(c:connect { resumption = false, close_timeout = 60 })
assert(s:send_text "are you there")
print "waiting"; io.stdout:flush()
c:close()
print "close returned"
]])
    assert.is_truthy(log:find("interrupted!", 1, true), log)
    assert.is_falsy(log:find("close returned", 1, true), log)
    assert.are_not.equal(0, status)
    -- the collector at exit does not wait for the rest either
    assert.is_true(took ~= nil and took < 5, "took " .. tostring(took) .. " s")
  end)

  it("leaves a second close() to finish the close within the bound, as documented", function()
    local status, out = helper.child(hostile_client "no_close_reply" .. SELF_INTERRUPT .. [[
local s = assert(c:connect { resumption = false, close_timeout = 3 })
assert(s:send_text "are you there")
local t0 = realtime.now()
interrupt_in(0.3)
local ok, err = pcall(c.close, c)
print("first", ok, err, realtime.now() - t0 < 2.5)
print("open", c:is_open(), pcall(c.connect, c, {}))
c:close()
local took = realtime.now() - t0
print("second", took >= 2.5 and took < 10)
c:close()
print("again", realtime.now() - t0 - took < 1)
local seen = {}
for m in s:messages(5) do seen[m.type] = m end
print("error", seen.error.code, seen.error.message)
print("closed", seen.closed.code, seen.closed.reason)
print("polled", #c:poll())
]], { timeout = 30 })
    assert.equal(0, status, out)
    assert.is_truthy(out:find("first\tfalse\t[^\n]*interrupted!\ttrue"), out)
    assert.is_truthy(out:find("open\tfalse\tfalse\t[^\n]*client closed"), out)
    assert.is_truthy(out:find("second\ttrue", 1, true), out)
    assert.is_truthy(out:find("again\ttrue", 1, true), out)
    assert.is_truthy(out:find("error\ttimeout\tclose: the server did not answer the close within 3 s",
      1, true), out)
    assert.is_truthy(out:find("closed\t1001\tclient freed", 1, true), out)
  end)

  it("lets the collector end an interrupted close without waiting for it", function()
    -- the session holds its client: both are dropped
    local status, out = helper.child(hostile_client "no_close_reply" .. SELF_INTERRUPT .. ([[
local s = assert(c:connect { resumption = false, close_timeout = 60 })
assert(s:send_text "are you there")
local t0 = realtime.now()
interrupt_in(0.3)
print("first", pcall(c.close, c))
c, s = nil, nil
collectgarbage()
collectgarbage()
print("collected", realtime.now() - t0 < 5)
local c2 = assert(realtime.gemini { api_key = "hostile-key", base_url = %q, ca_file = %q })
c2:close()
print "done"
]]):format(h:base_url "no_close_reply", h.ca_file), { timeout = 30 })
    assert.equal(0, status, out)
    assert.is_truthy(out:find("first\tfalse\t[^\n]*interrupted!"), out)
    assert.is_truthy(out:find("collected\ttrue", 1, true), out)
    assert.is_truthy(out:find("done", 1, true), out)
  end)
end)

describe("signal dispositions", function()
  it("are the host's: making a client leaves SIGPIPE as it was", function()
    local status, out = helper.child(CLIENT:gsub("^local realtime", function() return [[
local function ignored()
  for l in io.lines "/proc/self/status" do
    local m = l:match "^SigIgn:%s*(%x+)"
    if m then return m end
  end
end
local before = ignored()
local realtime]] end) .. [[
local s = assert(c:connect { output_modalities = { "text" } })
s:close()
c:close()
print("SigIgn", before, ignored())
]], { timeout = 20 })
    assert.equal(0, status, out)
    local before, after = out:match "SigIgn%s+(%x+)%s+(%x+)"
    assert.is_truthy(before, out)
    -- SIGPIPE is signal 13: bit 12 of the mask (glibc's own signals 32 and 33 may move)
    local function pipe(mask) return (tonumber(mask:sub(-4), 16) >> 12) & 1 end
    assert.equal(pipe(before), pipe(after))
  end)
end)

describe("a process out of descriptors", function()
  -- each session takes an eventfd and a socket: two limits one apart make either one
  -- the descriptor that cannot be had
  for _, limit in ipairs { 48, 49 } do
    it("gets nil, message, code from connect, and the client works again after (ulimit -n "
       .. limit .. ")", function()
      local status, out = helper.child(CLIENT .. [[
local held, err, code = {}, nil, nil
for _ = 1, 200 do
  local s, e, c2 = c:connect { output_modalities = { "text" }, timeout = 5 }
  if not s then err, code = e, c2 break end
  held[#held + 1] = s
end
print("failed", #held, code, err)
for _, s in ipairs(held) do s:close() end
for _, s in ipairs(held) do for _ in s:messages(5) do end end
local s = assert(c:connect { output_modalities = { "text" } })
print("again", s:is_open())
  ]], { timeout = 60, before = "ulimit -n " .. limit .. ";" })
      assert.equal(0, status, out)
      assert.is_truthy(out:find("failed%s+%d+%s+connect%s+%S"), out)
      assert.is_truthy(out:find("Too many open files", 1, true), out)   -- the cause, named
      assert.is_falsy(out:find("not found", 1, true), out)
      assert.is_truthy(out:find("again\ttrue", 1, true), out)
    end)
  end
end)

describe("a client made while the process is nearly out of descriptors", function()
  -- The child fills its descriptor table, frees `free` of them, makes a client, gives the
  -- rest back and connects. Every step of making a client takes descriptors (the
  -- ca_file, an epoll descriptor, the libev plug-in, /dev/urandom, libwebsockets'
  -- wake-up eventfd, ...), so each count fails a different one. lws 4.1 keeps a context
  -- whose wake-up it could not make: such a client connected only on its own timers
  -- (8 s for a 3 s timeout) and its close never returned.
  local FILL = ([[
local realtime = require "realtime"
local function make(loop)
  return realtime.gemini { api_key = %q, base_url = %q, ca_file = %q, model = %q,
                           event_loop = loop }
end
]]):format(helper.sim_key, helper.sim_http, helper.sim_ca, helper.model) .. [[
local loop, now = os.getenv "RT_SPEC_LOOP", realtime.now
for free = 0, 6 do
  local hold = {}
  while true do local f = io.open("/dev/null") if not f then break end hold[#hold + 1] = f end
  for _ = 1, free do hold[#hold]:close() hold[#hold] = nil end
  local ok, c, err, code = pcall(make, loop)
  for _, f in ipairs(hold) do f:close() end
  hold = nil
  if not ok then
    print(free, "raised", c)       -- only bad input and running out of memory raise
  elseif c then
    local t = now()
    local s, e2, code2 = c:connect { output_modalities = { "text" }, timeout = 3 }
    print(free, "connect", tostring(s and "ok" or code2), ("%.1f"):format(now() - t), e2)
    io.stdout:flush()
    t = now()
    c:close()
    print(free, "close", ("%.1f"):format(now() - t))
  else
    print(free, "failed", code, err)
  end
  io.stdout:flush()
end
print "done"
]]
  local loops = { "auto", "poll" }
  do   -- a build without libev has no "epoll" to ask for
    local ok, c = pcall(helper.gemini, { event_loop = "epoll" })
    if ok and c then loops[#loops + 1] = "epoll" c:close() end
  end
  for _, loop in ipairs(loops) do
    it("fails at once as \"connect\" naming the cause, or works (event_loop " .. loop .. ")",
       function()
      local status, out = helper.child(FILL, { RT_SPEC_LOOP = loop, timeout = 30,
                                                before = "ulimit -n 64;" })
      assert.equal(0, status, out)
      assert.is_truthy(out:find("\ndone\n", 1, true) or out:find("^done\n"), out)
      local failed = 0
      for line in out:gmatch "[^\n]+" do
        local what, rest = line:match "^%d+\t(%a+)\t(.*)$"
        assert.is_not.equal("raised", what, line)
        if what == "failed" then
          failed = failed + 1
          assert.is_truthy(rest:find("^connect\t"), line)
          assert.is_truthy(rest:find("Too many open files", 1, true), line)
        elseif what == "connect" then
          local result, secs = rest:match "^(%S+)\t(%S+)"
          assert.equal("ok", result, line)
          assert.is_true(tonumber(secs) < 5, line)      -- was 8 s for a 3 s timeout
        elseif what == "close" then
          assert.is_true(tonumber(rest) < 5, line)      -- was never
        end
      end
      assert.is_true(failed > 0, out)                   -- the counts did reach the limit
    end)
  end
end)

describe("a program run while a token fetch is under way", function()
  -- The connection of a fetch must not reach a program the host execs (io.popen,
  -- os.execute): it would hold the token server's connection open after ours is gone.
  local h
  setup(function() h = helper.hostile { tls = true } end)
  teardown(function() h:stop() end)

  it("does not inherit the fetch's connection (close-on-exec)", function()
    local status, out = helper.child(([[
local core = require "realtime.core"
local port = %q
local src = assert(core.auth_new { kind = "authorized_user", source = "test", client_id = "cid",
  client_secret = "secret", refresh_token = "refresh", ca_file = %q, timeout = 30,
  token_uri = %q })
src:token()   -- starts the fetch; the endpoint never answers
-- The socket inodes of the connections to the token server (this side: remote port).
local function conns()
  local set, want = {}, (":%%04X"):format(tonumber(port))
  for _, file in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
    local f = io.open(file)
    for line in (f and f:read "a" or ""):gmatch "[^\n]+" do
      local rem, inode = line:match "^%%s*%%d+:%%s+%%S+%%s+(%%S+)%%s+%%S+%%s+%%S+%%s+%%S+%%s+%%S+%%s+%%S+%%s+%%S+%%s+(%%d+)"
      if rem and rem:sub(-5) == want then set["socket:[" .. inode .. "]"] = true end
    end
    if f then f:close() end
  end
  return set
end
-- The descriptors of this process ($PPID of the shell) and of the program it runs.
local function fds()
  local p = assert(io.popen [=[exec env -u LD_PRELOAD sh -c 'for f in /proc/$PPID/fd/*; do echo "parent $(readlink $f)"; done; for f in /proc/$$/fd/*; do echo "child $(readlink $f)"; done']=])
  local text = p:read "a"
  p:close()
  return text
end
local parent, child = 0, 0
for _ = 1, 50 do
  local set, text = conns(), fds()
  parent, child = 0, 0
  for who, what in text:gmatch "(%%a+) (%%S+)" do
    if set[what] then
      if who == "parent" then parent = parent + 1 else child = child + 1 end
    end
  end
  if parent > 0 then break end
  core.sleep(0.1)
end
print("parent", parent, "child", child)
src:close()
]]):format(h.http:match ":(%d+)$", h.ca_file, h.http .. "/_token?delay=never"), { timeout = 30 })
    assert.equal(0, status, out)
    assert.matches("parent\t1\t", out)       -- the fetch was under way
    assert.matches("child\t0\n", out)
  end)
end)
