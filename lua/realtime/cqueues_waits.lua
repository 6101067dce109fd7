-- realtime.cqueues_waits: the cqueues waits of realtime.run's coroutines (wait.lua).
-- cqueues.poll (cqueues.sleep, a cqueues socket's or condition's wait) yields its wait to
-- whatever resumed the coroutine wherever a cqueues controller is running, also in a
-- coroutine that controller did not start: one of realtime.run's. The loop hands each
-- such wait to a controller of its own (a coroutine there makes that cqueues.poll) and
-- waits on that controller as on a session; with no controller running it resumes its
-- coroutines inside one of its own, so that the wait yields to it rather than block the
-- thread (cqueues's fallback outside a controller).
-- Internal to the module: not part of the API.

local M = {}

-- The cqueues module when loaded, else nil: the loop needs it only once a coroutine
-- has used it.
local function loaded()
  local cqueues = package.loaded.cqueues
  return type(cqueues) == "table" and cqueues.running and cqueues or nil
end

--- The values of a cqueues wait in res (coroutine.resume's values: true, cqueues's
-- marker, then cqueues.poll's arguments), packed; nil when res is not one.
function M.yielded(res)
  local cqueues = loaded()
  if not cqueues or res.n < 2 or res[2] == nil or res[2] ~= cqueues._POLL then return nil end
  return table.pack(table.unpack(res, 3, res.n))
end

-- Steps q without waiting; returns step's values. Where a controller runs, cqueues's
-- step first polls q through it (a yield): answered here at once, so that neither that
-- controller nor whatever resumed the caller sees it (q's readiness is the loop's
-- business).
local function step_now(q)
  local stepper = coroutine.create(function() return q:step(0) end)
  local res = table.pack(coroutine.resume(stepper))
  while coroutine.status(stepper) == "suspended" do
    res = table.pack(coroutine.resume(stepper))
  end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- Resumes co with ...; returns coroutine.resume's values. With cqueues loaded and no
-- controller running, inside a coroutine of a controller of the loop's (stepped at once),
-- so that a cqueues wait in co yields to the loop.
local function resume(self, co, ...)
  local cqueues = loaded()
  if not cqueues or cqueues.running() then return coroutine.resume(co, ...) end
  self.resumer = self.resumer or cqueues.new()
  local args, res = table.pack(...), nil
  self.resumer:wrap(function() res = table.pack(coroutine.resume(co, table.unpack(args, 1, args.n))) end)
  -- no controller runs: cqueues's step does not yield here
  local stepped, err = self.resumer:step(0)
  if not stepped then error(err, 0) end
  return table.unpack(res, 1, res.n)
end

--- Starts th's cqueues wait (args: cqueues.poll's) in a coroutine of the loop's
-- controller, stepped at once so that what it waits on is watched from now on (a
-- condition signalled before would be missed). When cqueues.poll returns, its values
-- are th.args (the loop resumes th with them); if the controller refuses the wait, its
-- error is th.cq_failed.
local function start(self, th, args)
  local cqueues = loaded()
  self.q = self.q or cqueues.new()
  self.count = self.count + 1
  self.q:wrap(function()
    local res = table.pack(cqueues.poll(table.unpack(args, 1, args.n)))
    self.count = self.count - 1
    th.args = res
  end)
  local stepped, err = step_now(self.q)
  if not stepped then
    self.count = self.count - 1
    th.cq_failed = err
  end
end

--- While waits are pending: adds the controller's descriptor to fds (its entry in
-- waiting marks no coroutine) and the controller to objs (a pollable, for a host or an
-- outer loop); returns when it is next due (now() + its timeout), or nil.
local function watch(self, fds, waiting, objs, now)
  if self.count == 0 then return nil end
  fds[#fds + 1] = self.q:pollfd()
  waiting[#fds] = {}
  objs[#objs + 1] = self.q
  local due = self.q:timeout()
  return due and now() + due or nil
end

--- After the loop waited: ends the waits that came due (their coroutines get th.args).
local function step(self)
  if self.count == 0 then return end
  local stepped, err = step_now(self.q)
  if not stepped then error(err, 0) end
end

--- Closes the controllers: the waits of coroutines that never ran again end.
local function close(self)
  if self.q then self.q:close() end
  if self.resumer then self.resumer:close() end
end

local Waits = { resume = resume, start = start, watch = watch, step = step, close = close }
Waits.__index = Waits

--- A loop's cqueues waits; its controllers are made on first use.
function M.new()
  return setmetatable({ count = 0 }, Waits)
end

return M
