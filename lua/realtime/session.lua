-- realtime.session: the methods of realtime.Session written in Lua (receive, messages,
-- poll, the send shorthands, send_tool_result, resumption_handle), over the C methods of
-- core.session_methods. Loaded by init.lua (install), which core.Session's __index finds
-- them through. Internal to the module: not part of the API.
local core = require "realtime.core"
local options = require "realtime.options"
local wait = require "realtime.wait"
local suggest_hint = require("realtime.suggest").hint

local Session = core.session_methods
local one_of, BOOLEAN, shown = options.one_of, options.BOOLEAN, options.shown
local now, wait_on, check_timeout = core.now, wait.wait_on, wait.check_timeout

-- init.lua's module table, for its realtime._log (set by install).
local module

local function log(level, text)
  module._log(level, text)
end

-- The coroutine receiving on each session (weak: an abandoned receiver frees the slot).
local receivers = setmetatable({}, { __mode = "kv" })

local try_receive, session_poll = Session.try_receive, Session._poll
-- raises inside a non_blocking handler of the session that runs beside the receive
local check_handler = Session._check_handler

local send, SESSION_MT = Session.send, core.Session

-- The methods below are Lua: a call with a dot (session.send_text "hi") would take the
-- text for the session and report a missing text. Raises at the caller's line.
local function check_self(self, fname)
  if getmetatable(self) ~= SESSION_MT then
    error(("calling '%s' on bad self (realtime.Session expected, got %s; use session:%s(...))")
      :format(fname, type(self), fname), 3)
  end
end

-- session:send for the methods below: what it raises (a closed session, a value the
-- mapping refuses) points at their caller's line, not at this file. Not a tail call.
-- `who`: the method the caller called (send_image, create_response, ...), named in an
-- error instead of the one-part conversation_item_create or the response_create it sends,
-- also for a value of the result the encoder refused (its path inside the response
-- kept: "send_tool_result: response.v: cannot encode NaN").
local function send_for_caller(self, msg, who)
  local ok, sent, err, code = pcall(send, self, msg)
  if not ok then
    if who and type(sent) == "string" then
      local n
      sent, n = sent:gsub("conversation_item_create: part 1[^:]*: ", who .. ": ", 1)
      if n == 0 then sent = sent:gsub("response_create: ", who .. ": ", 1) end
    end
    error(sent, 3)
  end
  return sent, err, code
end


-- Sessions handing a failed tool handler's traceback to realtime.log, with the message
-- that carries it taken and not yet returned: a receive, poll or try_receive of the
-- session from the log function would hand out the messages after it first, so it
-- raises (check_not_logging).
-- Each entry holds the coroutine that logs and the message: a log function that yields
-- and whose coroutine is then closed (realtime.run ending, coroutine.close) never comes
-- back, and the next receive, poll or try_receive hands over that message
-- (take_stranded) instead of the session staying "logging" for ever.
local logging = setmetatable({}, { __mode = "k" })

local function log_traceback(self, msg)
  if not msg.error_traceback then return end
  logging[self] = { co = coroutine.running(), msg = msg }
  log("error", msg.error_traceback)   -- never raises: the log function runs in a pcall
  logging[self] = nil
end

-- Whether the session is handing a message back while realtime.log runs.
local function is_logging(self)
  local entry = logging[self]
  return entry ~= nil and coroutine.status(entry.co) ~= "dead"
end

-- The message whose hand-off a closed coroutine cut short, taken; nil when none.
local function take_stranded(self)
  local entry = logging[self]
  if not entry or coroutine.status(entry.co) ~= "dead" then return nil end
  logging[self] = nil
  return entry.msg
end

local function check_not_logging(self, level)
  if is_logging(self) then
    error("another receive is already waiting on this session (it is handing a message "
      .. "back, and realtime.log is called before it returns)", level + 1)
  end
end

local function receive_once(self, deadline)
  local stranded = take_stranded(self)
  if stranded then return stranded end
  while true do
    local msg, err, code = try_receive(self)
    if msg then
      log_traceback(self, msg)
      return msg
    end
    if err ~= "again" then return nil, err, code end
    local left = deadline and deadline - now()
    if left and left <= 0 then return nil, "timed out", "timeout" end
    wait_on(self, left)
  end
end

-- Ends a receive: the slot is free again (unless the receive was made inside the
-- coroutine's own receive, by a tool handler); pcall's results become receive's.
local function receive_done(self, nested, ok, ...)
  if not nested then receivers[self] = nil end
  if not ok then error((...), 0) end
  return ...
end

-- Takes the session's receiver slot for the running coroutine; returns true when it
-- already held it (a receive inside its own receive, by a tool handler). `level` is
-- error()'s level of the user's line: 3 for a function the user called.
local function claim_receiver(self, level)
  check_not_logging(self, level)
  local co = coroutine.running()
  local current = receivers[self]
  if current and current ~= co and coroutine.status(current) ~= "dead" then
    error("another receive is already waiting on this session", level)
  end
  receivers[self] = co
  return current == co
end

-- The receive proper, for receive and the messages iterator.
local function receive_claimed(self, nested, timeout)
  return receive_done(self, nested, pcall(receive_once, self, timeout and now() + timeout))
end

--- Returns the next message, or nil, "timed out", "timeout" after `timeout` seconds
-- (nil or math.huge: no bound; NaN raises). Blocks outside coroutines; yields inside
-- them. One receiver at a time.
function Session:receive(timeout)
  check_self(self, "receive")
  timeout = check_timeout("receive", timeout, true)
  check_handler(self)
  return receive_claimed(self, claim_receiver(self, 3), timeout)
end

--- Iterates over every message, the final `closed` one included; stops early only when
-- `timeout` seconds pass with nothing received.
function Session:messages(timeout)
  check_self(self, "messages")
  timeout = check_timeout("messages", timeout, true)
  local done = false
  return function()
    if done then return nil end
    -- not self:receive, whose errors would name this line instead of the loop's
    check_handler(self)
    local msg = receive_claimed(self, claim_receiver(self, 3), timeout)
    if not msg or msg.type == "closed" then done = true end
    return msg
  end
end

--- The non-blocking primitive (C), after a message a closed log function stranded.
-- Logs a failed handler's traceback as receive and poll do, and raises where they do.
function Session:try_receive()
  check_self(self, "try_receive")
  check_not_logging(self, 2)
  local msg = take_stranded(self)
  if msg then return msg end
  local err, code
  msg, err, code = try_receive(self)
  if msg then log_traceback(self, msg) end
  return msg, err, code
end

--- Returns a ready message or nil; never blocks, never waits.
function Session:poll()
  check_self(self, "poll")
  check_not_logging(self, 2)
  local msg = take_stranded(self)
  if msg then return msg end
  msg = session_poll(self)
  if msg then log_traceback(self, msg) end
  return msg
end

function Session:send_text(text, extra)
  check_self(self, "send_text")
  if type(text) ~= "string" then
    error("bad argument #1 to 'send_text' (string expected, got " .. type(text) .. ")", 2)
  end
  -- options given here (turn_complete, a role) would be dropped without a word
  if extra ~= nil then
    error("bad argument #2 to 'send_text' (send_text takes the text alone: for other fields, "
      .. "send a conversation_item_create)", 2)
  end
  local ok, err, code = send_for_caller(self, { type = "conversation_item_create",
    item = { role = "user", content = { { type = "text", text = text } } } }, "send_text")
  return ok, err, code
end

function Session:send_image(data, mime)
  check_self(self, "send_image")
  if type(data) ~= "string" then
    error("bad argument #1 to 'send_image' (string expected, got " .. type(data) .. ")", 2)
  end
  if mime ~= nil and type(mime) ~= "string" then
    error("bad argument #2 to 'send_image' (string expected, got " .. type(mime) .. ")", 2)
  end
  local ok, err, code = send_for_caller(self, { type = "conversation_item_create",
    item = { role = "user", content = { { type = "image", data = data, mime = mime or "image/jpeg" } } } },
    "send_image")
  return ok, err, code
end

function Session:create_response()
  check_self(self, "create_response")
  local ok, err, code = send_for_caller(self, { type = "response_create" }, "create_response")
  return ok, err, code
end

local RESULT_OPTIONS = { scheduling = one_of("interrupt", "when_idle", "silent"), will_continue = BOOLEAN }

--- Answers a function call that has no handler, and asks for the response. opts:
-- { scheduling = "interrupt"|"when_idle"|"silent", will_continue = bool } (API.md).
function Session:send_tool_result(call_id, result, opts)
  check_self(self, "send_tool_result")
  if type(call_id) ~= "string" or call_id == "" then
    error("bad argument #1 to 'send_tool_result' (a call id expected, got "
      .. (call_id == "" and "an empty string" or type(call_id)) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #3 to 'send_tool_result' (table expected, got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  -- named as the method, as its other errors are (API.md)
  for k, v in pairs(opts) do
    local check = RESULT_OPTIONS[k]
    if not check then
      error(("send_tool_result: unknown option %s%s"):format(type(k) == "string" and shown(k) or tostring(k),
        suggest_hint(k, RESULT_OPTIONS)), 2)
    end
    local ok, expected = check(v)
    if not ok then error(("send_tool_result: option '%s': expected %s, got %s"):format(k, expected, shown(v)), 2) end
  end
  local ok, err, code = send_for_caller(self, { type = "conversation_item_create",
    item = { role = "user", content = { { type = "function_result", call_id = call_id, result = result,
      scheduling = options.field(opts, "scheduling"), will_continue = options.field(opts, "will_continue") } } } },
    "send_tool_result")
  if not ok then return nil, err, code end
  ok, err, code = send_for_caller(self, { type = "response_create" }, "send_tool_result")
  return ok, err, code
end

--- The latest resumption handle the server gave (at first the one the session started
-- from) if it holds everything the session sent, or nil: save it to resume the
-- conversation later with resumption = { handle = }. The core knows of a handle as soon
-- as its frame arrives, before its message is read.
function Session:resumption_handle()
  check_self(self, "resumption_handle")
  return self:_resumption_handle()
end

-- Whether a receive of another coroutine waits on the session: client:poll() leaves it
-- to that receive, whose messages it would otherwise take.
local function received_elsewhere(self)
  local co = receivers[self]
  return co ~= nil and co ~= coroutine.running() and coroutine.status(co) ~= "dead"
end

--- Sets the module table whose log the methods use (init.lua, once, as it loads).
local function install(into)
  module = into
end

-- Appends to list the sessions among the keys of set that hold a stranded message
-- (take_stranded) and are not in it yet: client:poll() visits them though the core has
-- nothing new for them.
local function add_stranded(set, list)
  local seen
  for session, entry in pairs(logging) do
    if set[session] and coroutine.status(entry.co) == "dead" then
      if not seen then
        seen = {}
        for _, s in ipairs(list) do seen[s] = true end
      end
      if not seen[session] then list[#list + 1] = session end
    end
  end
  return list
end

-- client:poll() leaves a session that is_logging out, as it leaves out a tool handler's own.
return { install = install, is_logging = is_logging, add_stranded = add_stranded,
  received_elsewhere = received_elsewhere }
