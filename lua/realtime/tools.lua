-- realtime.tools: the wrappers of tool handlers. Under realtime.run or cqueues the
-- handler of a non_blocking tool runs in a coroutine of its own (wait.beside); when it
-- waits, the receive goes on with the session's later messages, and the handler answers
-- its call when it returns, as send_tool_result would (API.md, "Tools"). A handler that
-- does not wait, and every handler under poll() or no scheduler, runs inside the receive
-- as before. Every handler's error keeps one traceback (traced_handler).
-- Internal to the module: not part of the API.
local core = require "realtime.core"
local options = require "realtime.options"
local wait = require "realtime.wait"

local field = options.field

-- init.lua's module table, for its realtime._log (set by install, as it loads).
local module

local function log(level, text)
  module._log(level, text)
end

-- What a handler's wrapper returns to the dispatch (lrt_dispatch.c) in place of a result:
-- its handler waits beside the receive; or it raised before waiting (then its error).
local TOOL_DEFERRED, TOOL_FAILED = core._TOOL_DEFERRED, core._TOOL_FAILED

-- { error = message } for the model: the handler's error without its traceback, made
-- valid UTF-8, as the dispatch gives it (the dispatch's own function).
local error_result = core._tool_error_result

-- Why the handler's second value cannot go with its result ("tool 'name': handler's
-- options: ..."), or nil: the dispatch's own check.
local options_fault = core._tool_options_fault

-- Gives the caller an `error` message (code, text) in the session's stream, as the
-- dispatch does for a result it cannot send: queued behind the session's messages by the
-- core, which wakes a receive waiting for them. Once the session has ended nothing comes
-- after its closed message: the log line said it all.
local function tell(session, code, text)
  local ok, told, err = pcall(session._tell, session, code, text)
  if not ok or not told then
    log("info", ("the caller was not told (%s): %s"):format(tostring(ok and err or told), text))
  end
end

-- Sends result (and opts) as the answer of call, as send_tool_result does; what the
-- mapping refuses goes to the model as an error, and to the log. A result that cannot go
-- (will_continue = true on Vertex: it goes without; "busy"; larger than max_queue_bytes:
-- an error result goes instead) is logged and told to the caller as the dispatch tells
-- it. Returns nothing.
local function send_late(call, where, result, opts)
  local session = call.session
  local ok, sent, err, code = pcall(session.send_tool_result, session, call.id, result, opts)
  if not ok then
    -- in the dispatch's words: the path from the response, without the name of the
    -- method used here, which the handler never called
    local why = tostring(sent):gsub("^send_tool_result: ", "", 1)
    local text = ("tool '%s': its result cannot be sent: %s"):format(call.name, why)
    log("error", "tool handler failed: " .. text)
    ok, sent, err, code = pcall(session.send_tool_result, session, call.id, error_result(text))
  elseif not sent and code == "unsupported" and opts and field(opts, "will_continue") ~= nil then
    -- will_continue on Vertex: the caller hears it, in the dispatch's words (the tool and
    -- the call: another call's handler may have been the one); the result goes
    local text = ("%s: %s"):format(where, tostring(err))
    log("error", text)
    tell(session, code, text)
    ok, sent, err, code = pcall(session.send_tool_result, session, call.id, result,
      { scheduling = field(opts, "scheduling") })
  end
  if ok and not sent and code == "busy" and tostring(err):find("exceeds max_queue_bytes", 1, true) then
    -- larger than the whole send queue: it can never go, and nobody else answers the
    -- call. As the dispatch does: the model gets an error result, the caller is told.
    local text = ("tool '%s': its result cannot be sent: %s"):format(call.name, err)
    log("error", "tool handler failed: " .. text)
    tell(session, code, ("tool response not sent: %s: the result of %s can never be queued; "
      .. "the model got an error result instead"):format(err, where))
    ok, sent, err, code = pcall(session.send_tool_result, session, call.id, error_result(text))
  end
  if not ok or not sent then
    log("error", ("%s: its result was not sent: %s"):format(where, tostring(ok and err or sent)))
    -- worded as the dispatch's; a session closed meanwhile has its closed message
    if ok and code ~= "closed" then tell(session, code, "tool response not sent: " .. tostring(err)) end
  end
end

-- The server's call id as messages show it, as the C side's lrt_map_shown does: quoted,
-- control, non-ASCII, quote and backslash bytes as \xNN, cut after 40 bytes (before a
-- character, not inside it) with "...". It may hold any bytes: it goes to the log too.
local function shown_id(id)
  if type(id) ~= "string" then return "?" end
  local m = #id
  if m > 40 then
    m = 40
    while m > 37 and (id:byte(m + 1) or 0) & 0xC0 == 0x80 do m = m - 1 end
  end
  local out = id:sub(1, m):gsub("[\0-\31\127-\255'\\]", function(c) return ("\\x%02x"):format(c:byte()) end)
  return "'" .. out .. "'" .. (m < #id and "..." or "")
end

-- The end of a non_blocking handler that waited (wait.beside): its outcome res (xpcall's
-- values) answers the call, unless the session closed, the server withdrew the call or
-- the handler answered it itself meanwhile; each of those is logged, never raised.
local function answer_late(call, res)
  -- Lua's failure idiom, return nil, "why", fails as the dispatch has it fail
  if res[1] and not res[2] and type(res[3]) == "string" then res = { false, res[3] } end
  local where = ("tool '%s' (call %s)"):format(call.name, shown_id(call.id))
  local session = call.session
  if not session:is_open() then
    log("warn", where .. ": the session closed while its handler ran; its "
      .. (res[1] and "result" or "error") .. " was not sent"
      .. (res[1] and "" or ": " .. tostring(res[2])))
    return
  end
  local state = session:_props()._map
  if state.calls[call.id] == nil then
    if state.cancelled_ids[call.id] ~= nil then
      log("info", where .. ": the server withdrew the call while its handler ran; its result was not sent")
    elseif not res[1] or res[2] ~= nil then
      log("error", where .. ": the call was already answered with send_tool_result; the handler's "
        .. (res[1] and "return value was not sent" or "error was not sent: " .. tostring(res[2])))
    end
    return
  end
  if not res[1] then
    log("error", "tool handler failed: " .. tostring(res[2]))
    return send_late(call, where, error_result(tostring(res[2])))
  end
  local fault = options_fault(res[3], call.name)
  if fault then
    log("error", "tool handler failed: " .. fault)   -- as the dispatch logs it
    return send_late(call, where, error_result(fault))
  end
  return send_late(call, where, res[2], res[3])
end

-- The session's coroutines that run one of its handlers beside the receive (weak keys),
-- in its properties: a receive, poll or messages on the session from one of them raises
-- (lrt_dispatch.c), as from a handler inside the receive. Made on first use.
local function handler_threads(session)
  local props = session:_props()
  local set = props.handler_threads
  if not set then
    set = setmetatable({}, { __mode = "k" })
    props.handler_threads = set
  end
  return set
end

-- handler, marking its coroutine as one of the session's handler threads while it runs
-- (an error or a closed coroutine unmarks it too).
local function marked(handler)
  return function(args, call)
    local set, co = handler_threads(call.session), coroutine.running()
    set[co] = true
    local _ <close> = setmetatable({}, { __close = function() set[co] = nil end })
    return handler(args, call)
  end
end

-- A handler run under the dispatch's message handler, as the dispatch runs it, but the
-- error of a realtime.run that failed inside it keeps its one traceback, which the
-- dispatch cuts off the model's text.
local function traced_handler(handler)
  local msgh = wait.run_aware(core._traceback)
  return function(args, call)
    local res = table.pack(xpcall(handler, msgh, args, call))
    if not res[1] then return TOOL_FAILED, res[2] end
    return res[2], res[3]
  end
end

-- The handler of a non_blocking tool: under realtime.run or cqueues it runs in a
-- coroutine of its own, and when it waits, the receive goes on and the handler answers
-- its call when it returns (answer_late). Elsewhere, and while it does not wait, it is
-- called as any handler.
local function beside_handler(handler)
  local in_own, traced = marked(handler), traced_handler(handler)
  return function(args, call)
    local res = wait.beside(in_own, core._traceback, function(r) answer_late(call, r) end, args, call)
    if res == nil then return traced(args, call) end
    if res == false then return TOOL_DEFERRED end
    if not res[1] then return TOOL_FAILED, res[2] end
    return res[2], res[3]
  end
end

-- The handlers of a session, wrapped: those of non_blocking tools by beside_handler, the
-- others by traced_handler.
local function with_wrapped_handlers(handlers, tools)
  if next(handlers) == nil then return handlers end   -- no tools: the shared empty table
  local wrapped = {}
  for k, v in pairs(handlers) do wrapped[k] = traced_handler(v) end
  for _, tool in options.stored(tools or {}) do
    local name = type(tool) == "table" and field(tool, "name")
    if name and field(tool, "behavior") == "non_blocking" and handlers[name] then
      wrapped[name] = beside_handler(handlers[name])
    end
  end
  return wrapped
end

--- Sets the module table whose log the late answers use (init.lua, once, as it loads).
local function install(into)
  module = into
end

return { install = install, with_wrapped_handlers = with_wrapped_handlers }
