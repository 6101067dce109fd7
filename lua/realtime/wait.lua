-- realtime.wait: how the module waits. One wait step (wait_on) serves every wait: a
-- receive, a connect, realtime.sleep, a credential fetch (auth.lua, through
-- realtime._wait_on). Under a cqueues controller it yields the pollable to it; in a
-- coroutine of realtime.run (the scheduler below) it yields to that loop; in another
-- coroutine it yields and is retried when resumed; elsewhere it blocks the thread.
-- Internal to the module (init.lua installs realtime.now, sleep, run, spawn and _wait_on
-- from here): not part of the API.
--
-- The argument errors below are raised at levels counted from the user's call (3:
-- check_timeout < realtime.sleep < the caller): the public functions must call
-- check_timeout directly, and init.lua must install them as they are (no wrappers).
local core = require "realtime.core"
local is_callable = require("realtime.options").is_callable
local cqueues_waits = require "realtime.cqueues_waits"

-- The public functions below, which install() copies into init.lua's module table.
local realtime = {}

-- init.lua's module table (set by install), for its realtime._log.
local module

-- The running realtime.run loop's way to add a coroutine (nil outside a loop): what
-- realtime.spawn calls. A nested run keeps the outer one's, puts it back while it waits
-- through the outer loop (or a cqueues controller) and at its end.
local spawn_hook

local now = core.now

--- Seconds on a monotonic clock, for deadlines and pacing.
realtime.now = core.now

-- Coroutines run by realtime.run (weak keys: an abandoned one leaks nothing), each with
-- its loop's way to take in a coroutine that has started (beside, below).
local run_threads = setmetatable({}, { __mode = "k" })
-- Coroutines started by beside under cqueues, each with the cqueues module: cqueues runs
-- them through a coroutine of its own that passes their yields on, so cqueues.running()
-- does not count them as its own and their waits must be told where to go.
local beside_cqueues = setmetatable({}, { __mode = "k" })
local RUN_WAIT = setmetatable({}, { __name = "realtime.run wait" })
-- A nested run's wait: on any of a list of pollables (its coroutines'), or a deadline.
local RUN_WAIT_ANY = setmetatable({}, { __name = "realtime.run wait for any" })
local NONE = {}

-- The error each failed realtime.run raised (with its traceback added), by the
-- coroutine it was called in (weak keys; weak values too: an error object is kept for
-- no one): a run whose coroutine that is, or a tool handler's message handler there,
-- getting it back, raises it as it is, so that it has one traceback, the innermost (and a
-- non-string one is logged once).
local run_failures = setmetatable({}, { __mode = "kv" })

-- Where msgh's traceback starts in text (the last one: msgh's words for an error object
-- may hold "stack traceback:" too), or nil.
local function last_traceback(text)
  local cut, at = nil, text:find("\nstack traceback:", 1, true)
  while at do
    cut = at
    at = text:find("\nstack traceback:", at + 1, true)
  end
  return cut
end

--- A message handler around msgh (the dispatch's, core._traceback) for a tool handler
-- (tools.lua, beside): the error of a realtime.run that failed in the running coroutine
-- has its traceback already (a string) or had it logged (any other value), so it gets no
-- second one: a string as it is, any other value in msgh's words alone. The model then
-- gets the text alone (the dispatch cuts at the last traceback) and the log one
-- traceback. Any other error gets msgh's words and traceback, as without this handler.
local function run_aware(msgh)
  return function(e)
    local failed_run = e ~= nil and run_failures[coroutine.running()] == e
    if failed_run and type(e) == "string" then return e end
    local text = msgh(e)
    local cut = type(text) == "string" and last_traceback(text)
    if not cut then return text end
    if failed_run then return text:sub(1, cut - 1) end
    -- msgh's traceback starts at this function: from its caller's level (the raise), as
    -- msgh alone would give it
    if debug and debug.traceback then return text:sub(1, cut - 1) .. debug.traceback("", 2) end
    return text
  end
end

local function cqueues_running()
  local cqueues = package.loaded.cqueues
  if type(cqueues) == "table" and cqueues.running then
    -- (controller, true) inside a coroutine the controller runs; (nil, false) elsewhere
    local controller, managed = cqueues.running()
    return controller ~= nil and managed and cqueues or nil
  end
end

-- The cqueues module when the running coroutine is one a cqueues controller runs (or
-- one beside started under it, whose yields reach the controller); nil elsewhere.
local function host_cqueues()
  local co, is_main = coroutine.running()
  if is_main or not coroutine.isyieldable() then return nil end
  return cqueues_running() or beside_cqueues[co]
end

--- Checks a timeout argument: a number, not NaN. Returns it, or nil for math.huge (no
-- bound), or 0 for a negative one (-math.huge too: it would pass on as "no timeout" to
-- cqueues.poll, and a wait below 0 is none). A nil timeout is allowed where `optional`
-- (no bound either).
-- A coroutine's error with its traceback; the message alone in a state without the
-- debug library (a sandbox), where it must still reach the caller. The message is
-- joined here: debug.traceback reads it as a C string, cut at its first NUL.
local function traceback(co, msg)
  if debug and debug.traceback then return msg .. debug.traceback(co, "") end
  return msg
end

local function check_timeout(fname, t, optional)
  if t == nil and optional then return nil end
  if type(t) ~= "number" then
    error(("bad argument #1 to '%s' (number expected, got %s)"):format(fname, type(t)), 3)
  end
  if t ~= t then error(("bad argument #1 to '%s' (timeout is NaN)"):format(fname), 3) end
  if t == math.huge then return nil end
  return t < 0 and 0 or t
end

-- The module's own files, by the prefix of their chunk names ("@.../realtime/"); nil
-- without the debug library (a sandbox).
local OWN = debug and debug.getinfo and debug.getinfo(1, "S").source:match "^(@.*[/\\])[^/\\]*$"

-- Ends a blocking wait that raised. lua5.4's Ctrl-C ("interrupted!", raised by its hook
-- as the wait returns) is raised again at the first line outside the module, where the
-- program was, rather than at a line of this file; any other error goes on as it is.
local function wait_failed(err)
  if err == "interrupted!" and OWN then
    local level = 2
    while true do
      local info = debug.getinfo(level, "S")
      if not info then break end
      if info.what ~= "C" and info.source:sub(1, #OWN) ~= OWN then error(err, level) end
      level = level + 1
    end
  end
  error(err, 0)
end

local function waited(ok, ...)
  if not ok then wait_failed((...)) end
  return ...
end

-- Calls a C wait (a pollable's _wait, core.sleep, core.poll_fds) that blocks the thread.
local function blocking(fn, ...)
  return waited(pcall(fn, ...))
end

--- Waits until obj (a pollable, or nil) may be ready or `timeout` seconds pass.
-- Yields to cqueues or realtime.run when running under them; elsewhere blocks the thread.
local function wait_on(obj, timeout)
  -- below 0 (an elapsed deadline): no wait. Neither cqueues.poll nor the core's waits
  -- may get one: both take a negative timeout for "no bound".
  if timeout and timeout < 0 then timeout = 0 end
  local co, is_main = coroutine.running()
  if not is_main and coroutine.isyieldable() then
    local cqueues = cqueues_running() or beside_cqueues[co]
    if cqueues then
      if obj then return cqueues.poll(obj, timeout) end
      return cqueues.poll(timeout)
    end
    if run_threads[co] then
      return coroutine.yield(RUN_WAIT, obj, timeout)
    end
    -- an unknown scheduler: give it the turn; the caller retries when resumed
    return coroutine.yield()
  end
  if obj then return blocking(obj._wait, obj, timeout) end
  if timeout and timeout > 0 then blocking(core.sleep, timeout) end
end

-- For other parts of the module (credential fetches) that wait the same way.
realtime._wait_on = wait_on

--- Sleeps `seconds` without blocking other coroutines under cqueues or realtime.run.
-- NaN raises; math.huge waits for good, idle, a day at a time (so that no scheduler ever
-- sees an infinite timeout).
function realtime.sleep(seconds)
  seconds = check_timeout("sleep", seconds, false)
  if seconds == nil then
    while true do wait_on(nil, 86400) end
  end
  local deadline = now() + seconds
  repeat
    wait_on(nil, deadline - now())
  until now() >= deadline
end

--- Runs each function as a coroutine until all have finished; a coroutine that waits
-- on a session (receive, messages, sleep) lets the others run. Raises the first error
-- with its traceback. Functions started with realtime.spawn join the same loop. A
-- coroutine closed from outside (coroutine.close, a way to cancel it) has finished too.
-- In a coroutine of a cqueues controller, or of another run, the loop waits through
-- that scheduler.
function realtime.run(...)
  local threads = {}
  -- Called in a coroutine of a cqueues controller or of another run's loop: the loop
  -- waits through it, so that its other coroutines run meanwhile rather than stall
  -- until this run ends.
  local host = host_cqueues()
  local outer = not host and coroutine.isyieldable() and run_threads[coroutine.running()]
  -- cqueues waits of its coroutines (cqueues_waits.lua)
  local cq_waits = cqueues_waits.new()
  -- How th waits after yielding res (coroutine.resume's values): on a pollable, on any
  -- of a nested run's, through cqueues (cqueues.poll's values), until a deadline, or (a
  -- plain yield) not at all.
  local function set_wait(th, res)
    local cq_args = cqueues_waits.yielded(res)
    if cq_args then
      cq_waits:start(th, cq_args)
    elseif res[2] == RUN_WAIT or res[2] == RUN_WAIT_ANY then
      th.objs = res[2] == RUN_WAIT_ANY and res[3] or nil
      th.obj = res[2] == RUN_WAIT and res[3] or nil
      th.deadline = res[4] and now() + res[4] or nil
    else
      th.args = {}   -- a plain yield: run again on the next pass
    end
  end
  -- Takes in co, which has started and yielded res: it waits as it asked, then runs as
  -- the loop's own.
  local function adopt(co, res)
    local th = { co = co }
    set_wait(th, res)
    threads[#threads + 1] = th
  end
  local function spawn(fname, fn, ...)
    if not is_callable(fn) then error(("%s: expected functions, got %s"):format(fname, type(fn)), 3) end
    -- coroutine.create takes only functions; a callable table runs through its __call
    local co = coroutine.create(type(fn) == "function" and fn or function(...) return fn(...) end)
    run_threads[co] = adopt
    threads[#threads + 1] = { co = co, args = table.pack(...) }
  end
  for i = 1, select("#", ...) do spawn("realtime.run", (select(i, ...))) end

  -- The loop ends early (a coroutine failed, or the caller's coroutine was closed while
  -- the loop waited through its host): every coroutine is closed, so that their
  -- to-be-closed variables (sessions opened with <close>) run now rather than never (a
  -- coroutine that failed keeps its stack for the traceback, so its own are pending
  -- too). The first error wins; one raised while closing goes to the log.
  local function close_threads(why, failed_co, failed_err)
    for _, th in ipairs(threads) do
      local status = coroutine.status(th.co)
      if status == "suspended" or status == "dead" then
        local closed, cerr = coroutine.close(th.co)
        if not closed and not (th.co == failed_co and cerr == failed_err) then
          module._log("error", "realtime.run: closing a coroutine " .. why .. ": "
            .. tostring(cerr))
        end
      end
    end
  end
  local ended = false
  local _ <close> = setmetatable({}, { __close = function()
    if ended then return end
    close_threads("as the loop's caller was closed")
    cq_waits:close()   -- their cqueues waits end with them
  end })

  local previous = spawn_hook
  local own_hook = function(...) return spawn("realtime.spawn", ...) end
  spawn_hook = own_hook
  -- Waits until one of fds is readable (their pollables in objs) or timeout passes;
  -- returns poll_fds's answer. Under a host controller or an outer loop, another of
  -- their coroutines may run meanwhile: its realtime.spawn must reach its own loop.
  local function block(fds, objs, timeout)
    if not host and not outer then
      if #fds > 0 then return blocking(core.poll_fds, fds, timeout) end
      if timeout then blocking(core.sleep, timeout) end
      return nil
    end
    spawn_hook = previous
    if host then
      local args = table.move(objs, 1, #objs, 1, {})
      if timeout then args[#args + 1] = timeout end
      host.poll(table.unpack(args))
    else
      coroutine.yield(RUN_WAIT_ANY, objs, timeout)
    end
    spawn_hook = own_hook
    return #fds > 0 and core.poll_fds(fds, 0) or nil
  end
  local failed_co, failed_err
  local ok, err = pcall(function()
    -- Raises a coroutine's error: a string with the coroutine's traceback; any other
    -- value (an error object, a number) as it is, its traceback to the log.
    local function failed(co, e)
      failed_co, failed_err = co, e
      local t = type(e)
      if e ~= nil and run_failures[co] == e then error(e, 0) end
      if t == "string" then error(traceback(co, e), 0) end
      local ok_s, text = pcall(tostring, e)
      module._log("error", traceback(co, "realtime.run: a coroutine failed: "
        .. (ok_s and type(text) == "string" and text or t)))
      error(e, 0)
    end
    while #threads > 0 do
      local t0 = now()
      -- resume every thread that is ready: new, its pollable readable, or its deadline passed
      local fds, objs, waiting, earliest = {}, {}, {}, nil
      local i = 1
      while i <= #threads do
        local th = threads[i]
        local ready = th.args ~= nil or th.ready or (th.deadline and t0 >= th.deadline)
        if th.cq_failed then failed(th.co, th.cq_failed) end
        if coroutine.status(th.co) == "dead" then
          -- closed from outside (coroutine.close) while it waited: finished, not resumed
          table.remove(threads, i)
          i = i - 1
        elseif ready then
          local args = th.args or {}
          th.args, th.ready, th.obj, th.objs, th.deadline = nil, nil, nil, nil, nil
          local res = table.pack(cq_waits:resume(th.co, table.unpack(args, 1, args.n or 0)))
          if not res[1] then
            failed(th.co, res[2])
          end
          if coroutine.status(th.co) == "dead" then
            table.remove(threads, i)
            i = i - 1
          else
            set_wait(th, res)
          end
        end
        i = i + 1
      end
      -- a thread closed from outside during this pass waits on nothing any more
      for k = #threads, 1, -1 do
        if coroutine.status(threads[k].co) == "dead" then table.remove(threads, k) end
      end
      -- block until one of the waiting threads can go on
      local pending = false
      local function watch(th, obj)
        -- a pollable without a descriptor (closed) is ready at once
        local fd = obj:pollfd()
        if fd then
          fds[#fds + 1] = fd
          waiting[#fds] = th
          -- for a host or an outer loop: each pollable once (two connects may wait on
          -- one credential)
          if not objs[obj] then
            objs[obj] = true
            objs[#objs + 1] = obj
          end
        else
          th.ready = true
          pending = true
        end
      end
      -- the controller of the coroutines' cqueues waits, whose timers are its own
      local cq_due = cq_waits:watch(fds, waiting, objs, now)
      if cq_due then earliest = math.min(earliest or math.huge, cq_due) end
      for _, th in ipairs(threads) do
        if th.args then pending = true end
        if th.obj then watch(th, th.obj) end
        for _, obj in ipairs(th.objs or NONE) do watch(th, obj) end
        if th.deadline and (not earliest or th.deadline < earliest) then earliest = th.deadline end
      end
      if #threads > 0 then
        -- a thread ready to run (a plain yield) must not starve those waiting on a
        -- descriptor: look at theirs without waiting
        local timeout = pending and 0 or earliest and math.max(0, earliest - now()) or nil
        if #fds > 0 or (timeout and (not pending or host or outer)) then
          local ready = block(fds, objs, timeout)   -- nil when the timeout passed
          if ready then
            for k, th in pairs(waiting) do if ready[k] then th.ready = true end end
          end
          cq_waits:step()   -- the cqueues waits that came due end
        end
      end
    end
  end)
  spawn_hook = previous
  ended = true
  cq_waits:close()
  if not ok then
    close_threads("after another failed", failed_co, failed_err)
    run_failures[coroutine.running()] = err
    error(err, 0)
  end
  return true
end

--- Starts fn as another coroutine of the running realtime.run loop.
function realtime.spawn(fn, ...)
  if not spawn_hook then error("realtime.spawn: call it inside realtime.run", 2) end
  spawn_hook(fn, ...)
end

-- A cqueues coroutine that runs co, which has yielded res, on: passes each of its yields
-- to the controller and the controller's answer back, until co ends.
local function forward_yields(co, res)
  return function()
    while coroutine.status(co) == "suspended" do
      local answer = table.pack(coroutine.yield(table.unpack(res, 2, res.n)))
      -- co closed from outside (coroutine.close) while it waited: it has finished
      if coroutine.status(co) == "dead" then return end
      res = table.pack(coroutine.resume(co, table.unpack(answer, 1, answer.n)))
      if not res[1] then error(res[2], 0) end
    end
  end
end

--- Calls fn(...) in a coroutine of its own when the caller runs under realtime.run or a
-- cqueues controller, so that fn may wait without holding the caller. Returns
-- fn's results as { ok, ... } (xpcall's, errors through msgh, except a failed
-- realtime.run's, which has its own traceback: run_aware) when fn ended without
-- waiting; false when it waits: it then goes on beside the caller under the same
-- scheduler, and done(results) is called in its coroutine when it ends (an error done
-- raises goes to the log). Returns nil, and calls nothing, under no scheduler (or where
-- the caller cannot yield): the caller runs fn itself.
local function beside(fn, msgh, done, ...)
  local co, is_main = coroutine.running()
  if is_main or not coroutine.isyieldable() then return nil end
  local cqueues = cqueues_running() or beside_cqueues[co]
  local adopt = not cqueues and run_threads[co]
  if not cqueues and not adopt then return nil end
  local waited = false
  local h = coroutine.create(function(...)
    local res = table.pack(xpcall(fn, run_aware(msgh), ...))
    if not waited then return res end
    local ok, err = pcall(done, res)
    if not ok then module._log("error", "realtime: after a tool handler: " .. tostring(err)) end
  end)
  if cqueues then beside_cqueues[h] = cqueues else run_threads[h] = adopt end
  local res = table.pack(coroutine.resume(h, ...))
  if not res[1] then error(res[2], 0) end   -- xpcall's own failure (memory)
  if coroutine.status(h) == "dead" then return res[2] end
  waited = true
  if cqueues then
    cqueues.running():wrap(forward_yields(h, res))
  else
    adopt(h, res)
  end
  return false
end

--- Puts the functions above into `into`, init.lua's module table (once, as it loads).
local function install(into)
  for k, v in pairs(realtime) do into[k] = v end
  module = into
end

return { install = install, wait_on = wait_on, check_timeout = check_timeout, beside = beside,
  run_aware = run_aware }
