-- realtime: live voice, text and tool sessions with Google's Gemini Live API.
--
-- This file is the thin Lua front over realtime.core (C): it checks options, builds
-- the endpoint, and decides how a receive waits: blocking the thread, yielding to a
-- cqueues controller, or yielding to realtime.run. The C side never blocks on the
-- network and never chooses a scheduler.
local core = require "realtime.core"

local realtime = {
  _VERSION = core._VERSION,
  core = core,
}

--- The versions of this module and of the libraries it was built with.
-- @treturn table { realtime, lua, libwebsockets, openssl, libcurl }
function realtime.versions()
  return core.versions()
end

-- Audio helpers: resampling in C, WAV files in Lua.
realtime.resample = core.resample
realtime.resampler = core.resampler
realtime.wav = require "realtime.wav"

local Client = core.Client.__index
local Session = core.session_methods   -- core.Session's __index looks here, then in _props()

-- ==================================================================== --
--  O P T I O N S
-- ==================================================================== --

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and type(mt.__call) == "function"
end

-- A checker per option: a Lua type name, or a function(value) -> ok, expected.
local function kind(t)
  return function(v) return type(v) == t, t end
end
local function one_of(...)
  local set, names = {}, { ... }
  for _, n in ipairs(names) do set[n] = true end
  return function(v) return set[v] == true, "one of " .. table.concat(names, ", ") end
end
local function either(a, b)
  return function(v)
    local ok1, e1 = a(v)
    if ok1 then return true end
    local ok2, e2 = b(v)
    if ok2 then return true end
    return false, e1 .. " or " .. e2
  end
end
local function number_in(lo, hi)
  return function(v)
    return type(v) == "number" and v >= lo and v <= hi, ("number between %s and %s"):format(lo, hi)
  end
end
-- A float with an integral value (2^30, 1e3) counts as an integer; the checked copy of
-- the options holds it as an integer (the third value).
local function integer_in(lo, hi)
  return function(v)
    local i = type(v) == "number" and math.tointeger(v) or nil
    return i ~= nil and i >= lo and i <= hi, ("integer between %d and %d"):format(lo, hi), i
  end
end
-- Header names to values; the fourth value says which entry is wrong (a value is never
-- quoted: it may be a credential).
local function string_map(v)
  if type(v) ~= "table" then return false, "table of header names to values" end
  for k, x in pairs(v) do
    if type(k) ~= "string" then
      return false, nil, nil, ("expected header names as strings, got a %s key"):format(type(k))
    end
    if type(x) ~= "string" then
      return false, nil, nil, ("the value of '%s' must be a string, got %s"):format(k:sub(1, 64), type(x))
    end
  end
  return true
end

local function non_empty(v)
  return type(v) == "string" and v ~= "", "a non-empty string"
end

-- A file name: a NUL byte would end it early, so that another file is read.
local function path(v)
  return type(v) == "string" and v ~= "" and not v:find("\0", 1, true),
    "a file path (a non-empty string without NUL bytes)"
end

local STRING, TABLE, BOOLEAN = kind "string", kind "table", kind "boolean"

--- A value for an error message: strings quoted and cut at 40 bytes with their control
-- and non-ASCII bytes escaped, NaN as "NaN", other types by name.
local function shown(v)
  if type(v) == "string" then
    local cut = #v > 40 and v:sub(1, 40) or v
    cut = cut:gsub("[%c\128-\255']", function(c) return ("\\x%02x"):format(c:byte()) end)
    return "'" .. cut .. (#v > 40 and ("'... (%d bytes)"):format(#v) or "'")
  end
  if type(v) == "number" then return v ~= v and "NaN" or tostring(v) end
  return type(v)
end

--- Raises "option 'what': expected a list, ..." (at `level`) unless t is a sequence: keys
-- 1..n and nothing else. An entry given without its list ({ name = ... } for
-- {{ name = ... }}), a key such as `first`, or a hole would otherwise be skipped silently.
local function check_list(t, what, level)
  local n = rawlen(t)
  for k in next, t do
    if math.type(k) ~= "integer" or k < 1 then
      error(("option '%s': expected a list ({ x, y, ... }), but it has the key %s"):format(what, shown(k)), level + 1)
    elseif k > n then
      error(("option '%s': expected a list ({ x, y, ... }), but it has a hole before index %d"):format(what, k),
        level + 1)
    end
  end
end

-- Options whose refused value is shown by its type alone: it may be a credential.
local SECRET_OPTIONS = { api_key = true, access_token = true }

--- Raises "unknown option 'x'" or "option 'x': expected ..., got ..." (level 3: the caller's
-- caller). Returns a shallow copy of the options with the values a checker normalized
-- (integral floats as integers); the caller's table is left as it is.
local function check_options(opts, spec, what, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: expected a table of options, got %s"):format(what, type(opts)), level or 3)
  end
  local checked = {}
  for k, v in pairs(opts) do
    local check = spec[k]
    if check == nil then
      error(("unknown option %s"):format(type(k) == "string" and shown(k) or ("'" .. tostring(k) .. "'")), level or 3)
    end
    local ok, expected, normalized, why = check(v)
    if not ok then
      error(why and ("option '%s': %s"):format(k, why)
        or ("option '%s': expected %s, got %s"):format(k, expected,
          SECRET_OPTIONS[k] and v ~= "" and type(v) or shown(v)), level or 3)
    end
    if normalized ~= nil then checked[k] = normalized else checked[k] = v end
  end
  return checked
end

local COMMON_CLIENT = {
  model = STRING,
  api_key = non_empty,
  api_version = STRING,
  base_url = STRING,
  ca_file = path,
  headers = string_map,
  ping_interval = integer_in(1, 3600),
  ping_timeout = integer_in(30, 3600),
  max_sessions = integer_in(1, 1000000),
  event_loop = one_of("auto", "poll", "epoll"),
}

local GEMINI_OPTIONS = COMMON_CLIENT

local VERTEX_OPTIONS = setmetatable({
  project = non_empty,
  location = non_empty,
  credentials = either(path, TABLE),
  access_token = non_empty,
  quota_project = STRING,
}, { __index = COMMON_CLIENT })

local SESSION_OPTIONS = {
  model = STRING,
  instructions = STRING,
  voice = STRING,
  output_modalities = TABLE,
  max_output_tokens = integer_in(1, 2 ^ 31 - 1),
  temperature = number_in(0, 2),
  top_p = number_in(0, 1),
  top_k = integer_in(1, 2 ^ 31 - 1),
  seed = integer_in(-(2 ^ 31), 2 ^ 31 - 1),
  tools = TABLE,
  history = TABLE,
  kind = one_of("conversation", "transcription"),
  input_audio_format = TABLE,
  transcription = either(BOOLEAN, TABLE),
  vad = TABLE,
  resumption = either(BOOLEAN, TABLE),
  compression = either(BOOLEAN, TABLE),
  raw = TABLE,
  timeout = number_in(0.001, 86400),
  max_queue_bytes = integer_in(1024, 2 ^ 40),
  max_message_bytes = integer_in(1024, 2 ^ 40),
  max_receive_bytes = integer_in(65536, 2 ^ 40),
  close_timeout = number_in(0.001, 3600),
}

local VAD_OPTIONS = {
  enabled = BOOLEAN,
  allow_interruption = BOOLEAN,
  start_sensitivity = one_of("high", "low"),
  end_sensitivity = one_of("high", "low"),
  prefix_padding = number_in(0, 60),
  silence_duration = number_in(0, 60),
}

local function string_list(v)
  if type(v) ~= "table" or rawlen(v) == 0 then return false, "a non-empty list of strings" end
  for _, x in ipairs(v) do if type(x) ~= "string" then return false, "a non-empty list of strings" end end
  return true
end

local TRANSCRIPTION_OPTIONS = { input = BOOLEAN, output = BOOLEAN, language = either(STRING, string_list) }
local RESUMPTION_OPTIONS = { handle = non_empty }
local AUDIO_FORMAT_OPTIONS = { type = one_of("audio/pcm"), rate = integer_in(8000, 192000) }
local COMPRESSION_OPTIONS = { trigger_tokens = integer_in(1, 2 ^ 53), target_tokens = integer_in(1, 2 ^ 53) }
local TOOL_FIELDS = { name = STRING, description = STRING, parameters = TABLE, handler = is_callable,
  type = STRING, behavior = one_of("blocking", "non_blocking") }
-- Tools the service runs itself (API.md: built-in tools); they take no other field.
local BUILTIN_TOOLS = { google_search = true, code_execution = true, url_context = true }

local function check_tools(tools)
  local handlers, seen = {}, {}
  for i, tool in ipairs(tools) do
    if type(tool) ~= "table" then
      error(("option 'tools': entry %d is a %s, expected a table"):format(i, type(tool)), 4)
    end
    local kind_ = tool.type == nil and "function" or tool.type
    if kind_ ~= "function" and not BUILTIN_TOOLS[kind_] then
      error(("tool %d: unknown type '%s' (expected \"function\", \"google_search\", "
        .. "\"code_execution\" or \"url_context\")"):format(i, tostring(kind_)), 4)
    end
    if BUILTIN_TOOLS[kind_] then
      for k in pairs(tool) do
        if k ~= "type" then error(("tool %d: a %s tool takes no field '%s'"):format(i, kind_, tostring(k)), 4) end
      end
      goto continue
    end
    for k, v in pairs(tool) do
      local check = TOOL_FIELDS[k]
      if not check then error(("tool %d: unknown field '%s'"):format(i, tostring(k)), 4) end
      local ok = k == "handler" and check(v) or (k ~= "handler" and select(1, check(v)))
      if not ok then
        error(("tool %d: field '%s' has the wrong type (%s)"):format(i, k, type(v)), 4)
      end
    end
    if type(tool.name) ~= "string" or not tool.name:match "^[%a_][%w_%.%-]*$" or #tool.name > 64 then
      error(("tool %d: name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or '_'"):format(i), 4)
    end
    if seen[tool.name] then error(("tool '%s' is declared twice"):format(tool.name), 4) end
    seen[tool.name] = true
    if tool.handler then handlers[tool.name] = tool.handler end
    ::continue::
  end
  return handlers
end

-- A transcription session only transcribes the user: what would shape the model's
-- answers makes no sense there (API.md, "Sessions").
local NOT_FOR_TRANSCRIPTION = { "instructions", "voice", "tools", "output_modalities", "max_output_tokens" }

local function check_transcription_session(opts)
  for _, k in ipairs(NOT_FOR_TRANSCRIPTION) do
    if opts[k] ~= nil then
      error(("option '%s': a transcription session takes none (it only transcribes the user)"):format(k), 4)
    end
  end
  local t = opts.transcription
  if t == false or (type(t) == "table" and t.input == false) then
    error("option 'transcription': a transcription session always transcribes its input", 4)
  end
  if type(t) == "table" and t.output then
    error("option 'transcription.output': a transcription session has no output to transcribe", 4)
  end
  if type(opts.vad) == "table" and opts.vad.allow_interruption then
    error("option 'vad.allow_interruption': a transcription session never interrupts", 4)
  end
end

--- Checks connect's options; returns the tool handlers and the checked copy of the options
-- (with the option tables that hold integers copied too).
-- The tool handlers of a session that has no tools: one table for all of them (the
-- binding only looks names up in it), so an idle session does not carry an empty one.
local NO_TOOLS = setmetatable({}, { __newindex = function() error("NO_TOOLS is read-only", 2) end })

-- Options inherited through a metatable (setmetatable(opts, { __index = defaults })) count
-- as given: the checked copy is built with pairs, which would skip them without a word.
local function with_inherited(opts, spec)
  local mt = type(opts) == "table" and getmetatable(opts)
  if type(mt) ~= "table" or mt.__index == nil then return opts end
  local flat = {}
  for k, v in pairs(opts) do flat[k] = v end
  for k in pairs(spec) do
    if flat[k] == nil then flat[k] = opts[k] end
  end
  return flat
end

local function check_session_options(opts)
  opts = with_inherited(opts, SESSION_OPTIONS)
  -- level 4: check_options < check_session_options < connect < the caller
  opts = check_options(opts, SESSION_OPTIONS, "connect", 4)
  if opts.vad then check_options(opts.vad, VAD_OPTIONS, "vad", 4) end
  if type(opts.transcription) == "table" then
    check_options(opts.transcription, TRANSCRIPTION_OPTIONS, "transcription", 4)
    if type(opts.transcription.language) == "table" then
      check_list(opts.transcription.language, "transcription.language", 3)
    end
  end
  if opts.input_audio_format then
    opts.input_audio_format = check_options(opts.input_audio_format, AUDIO_FORMAT_OPTIONS, "input_audio_format", 4)
  end
  if type(opts.compression) == "table" then
    opts.compression = check_options(opts.compression, COMPRESSION_OPTIONS, "compression", 4)
    local c = opts.compression
    -- the service refuses the setup (close 1007, "invalid argument") otherwise
    if c.trigger_tokens and c.target_tokens and c.target_tokens >= c.trigger_tokens then
      error(("option 'compression': target_tokens (%d) must be less than trigger_tokens (%d)")
        :format(c.target_tokens, c.trigger_tokens), 3)
    end
  end
  if type(opts.resumption) == "table" then
    check_options(opts.resumption, RESUMPTION_OPTIONS, "resumption", 4)
    if opts.resumption.handle == nil then
      error("option 'resumption': expected true, false or { handle = \"...\" }", 3)
    end
  end
  for _, k in ipairs { "history", "tools", "output_modalities" } do
    if opts[k] then check_list(opts[k], k, 3) end
  end
  if opts.history then
    for i, item in ipairs(opts.history) do
      if type(item) ~= "table" then
        error(("option 'history': item %d is a %s, expected a table"):format(i, type(item)), 3)
      end
    end
  end
  if opts.kind == "transcription" then check_transcription_session(opts) end
  if opts.output_modalities then
    -- the Live API answers in one modality: it closes a setup asking for two (1007)
    if rawlen(opts.output_modalities) ~= 1 then
      error(("option 'output_modalities': expected { \"audio\" } or { \"text\" } (one modality), got %d entries")
        :format(rawlen(opts.output_modalities)), 3)
    end
    for i, m in ipairs(opts.output_modalities) do
      if m ~= "audio" and m ~= "text" then
        error(("option 'output_modalities': entry %d must be \"audio\" or \"text\""):format(i), 3)
      end
    end
  end
  return opts.tools and check_tools(opts.tools) or NO_TOOLS, opts
end

-- ==================================================================== --
--  W A I T I N G
-- ==================================================================== --

local now = core.now

--- Seconds on a monotonic clock, for deadlines and pacing.
realtime.now = core.now

-- Coroutines run by realtime.run (weak keys: an abandoned one leaks nothing).
local run_threads = setmetatable({}, { __mode = "k" })
local RUN_WAIT = setmetatable({}, { __name = "realtime.run wait" })

local function cqueues_running()
  local cqueues = package.loaded.cqueues
  if type(cqueues) == "table" and cqueues.running then
    -- (controller, true) inside a coroutine the controller runs; (nil, false) elsewhere
    local controller, managed = cqueues.running()
    return controller ~= nil and managed and cqueues or nil
  end
end

--- Checks a timeout argument: a number, not NaN. Returns it, or nil for math.huge (no
-- bound). A nil timeout is allowed where `optional` (no bound either).
local function check_timeout(fname, t, optional)
  if t == nil and optional then return nil end
  if type(t) ~= "number" then
    error(("bad argument #1 to '%s' (number expected, got %s)"):format(fname, type(t)), 3)
  end
  if t ~= t then error(("bad argument #1 to '%s' (timeout is NaN)"):format(fname), 3) end
  if t == math.huge then return nil end
  return t
end

--- Waits until obj (a pollable, or nil) may be ready or `timeout` seconds pass.
-- Yields to cqueues or realtime.run when running under them; elsewhere blocks the thread.
local function wait_on(obj, timeout)
  local co, is_main = coroutine.running()
  if not is_main and coroutine.isyieldable() then
    local cqueues = cqueues_running()
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
  if obj then return obj:_wait(timeout) end
  if timeout and timeout > 0 then core.sleep(timeout) end
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
-- with its traceback. Functions started with realtime.spawn join the same loop.
function realtime.run(...)
  local threads = {}
  local function spawn(fname, fn, ...)
    if not is_callable(fn) then error(("%s: expected functions, got %s"):format(fname, type(fn)), 3) end
    -- coroutine.create takes only functions; a callable table runs through its __call
    local co = coroutine.create(type(fn) == "function" and fn or function(...) return fn(...) end)
    run_threads[co] = true
    threads[#threads + 1] = { co = co, args = table.pack(...) }
  end
  for i = 1, select("#", ...) do spawn("realtime.run", (select(i, ...))) end

  local previous = realtime.spawn_hook
  realtime.spawn_hook = function(...) return spawn("realtime.spawn", ...) end
  local ok, err = pcall(function()
    while #threads > 0 do
      local t0 = now()
      -- resume every thread that is ready: new, its pollable readable, or its deadline passed
      local fds, waiting, earliest = {}, {}, nil
      local i = 1
      while i <= #threads do
        local th = threads[i]
        local ready = th.args ~= nil or th.ready or (th.deadline and t0 >= th.deadline)
        if ready then
          local args = th.args or {}
          th.args, th.ready, th.obj, th.deadline = nil, nil, nil, nil
          local res = table.pack(coroutine.resume(th.co, table.unpack(args, 1, args.n or 0)))
          if not res[1] then
            error(debug.traceback(th.co, tostring(res[2])), 0)
          end
          if coroutine.status(th.co) == "dead" then
            table.remove(threads, i)
            i = i - 1
          elseif res[2] == RUN_WAIT then
            th.obj = res[3]
            th.deadline = res[4] and now() + res[4] or nil
          else
            th.args = {}   -- a plain yield: run again on the next pass
          end
        end
        i = i + 1
      end
      -- block until one of the waiting threads can go on
      local pending = false
      for _, th in ipairs(threads) do
        if th.args then pending = true end
        if th.obj then
          -- a pollable without a descriptor (closed) is ready at once
          local fd = th.obj:pollfd()
          if fd then fds[#fds + 1] = fd; waiting[#fds] = th else th.ready = true; pending = true end
        end
        if th.deadline and (not earliest or th.deadline < earliest) then earliest = th.deadline end
      end
      if not pending and #threads > 0 then
        local timeout = earliest and math.max(0, earliest - now()) or nil
        if #fds > 0 then
          local ready = core.poll_fds(fds, timeout)   -- nil when the timeout passed
          if ready then
            for k, th in pairs(waiting) do if ready[k] then th.ready = true end end
          end
        elseif timeout then
          core.sleep(timeout)
        end
      end
    end
  end)
  realtime.spawn_hook = previous
  if not ok then error(err, 0) end
  return true
end

--- Starts fn as another coroutine of the running realtime.run loop.
function realtime.spawn(fn, ...)
  if not realtime.spawn_hook then error("realtime.spawn: call it inside realtime.run", 2) end
  realtime.spawn_hook(fn, ...)
end

-- ==================================================================== --
--  L O G G I N G
-- ==================================================================== --

local log_fn

--- Installs fn(level, text) for diagnostic lines; nil removes it.
function realtime.log(fn)
  if fn ~= nil and not is_callable(fn) then error("realtime.log: expected a function or nil", 2) end
  log_fn = fn
end

local function log(level, text)
  if log_fn then pcall(log_fn, level, text) end
end
realtime._log = log

-- ==================================================================== --
--  C L I E N T S
-- ==================================================================== --

--- The session URL and headers of a client's properties: url, headers, or nil, message,
-- code (no credential). With check_only, only checks the forms of the options (true).
-- An option of the wrong form raises "option 'x': ..." at `level` (the user's call).
local function endpoint(p, check_only, level)
  local res = table.pack(pcall(core.endpoint, {
    backend = p.backend, api_key = p.api_key, access_token = p.access_token,
    project = p.project, location = p.location, api_version = p.api_version,
    base_url = p.base_url, quota_project = p.quota_project, headers = p.headers,
  }, check_only))
  if not res[1] then error(res[2], level + 1) end
  return table.unpack(res, 2, res.n)
end

--- The client's model goes into the setup of each of its sessions: a bad name raises
-- when the client is made, naming the option, not at every connect. (The project and
-- location, which the Vertex name holds too, are the endpoint check's.)
local function check_model(props, level)
  local model = props.model
  if model == nil then return end
  local ok, err = pcall(core.model_name, { backend = props.backend, express = props.express,
    project = "p", location = "l" }, model)
  if ok and model:find("[\128-\255]") then
    ok, err = false, "unsafe model name: it contains a byte outside ASCII"
  end
  if not ok then error(("option 'model': %s"):format(err), level + 1) end
end

--- Makes the client. `from_env` maps an option whose value came from the environment to
-- its variable, so that a bad one is named for what the user set.
local function new_client(backend, opts, props, from_env)
  props.backend = backend
  -- base_url, headers, credentials' forms: raise before anything (level -1: the message
  -- alone, to be raised at the user's call below)
  local ok, err = pcall(endpoint, props, true, -1)
  if not ok then
    for option, var in pairs(from_env or {}) do
      err = err:gsub("^option '" .. option .. "'", ("$%s (the default of option '%s')"):format(var, option))
    end
    error(err, 3)
  end
  check_model(props, 3)
  local client, err, code = core.client_new {
    ca_file = opts.ca_file, ping_interval = opts.ping_interval, ping_timeout = opts.ping_timeout,
    max_sessions = opts.max_sessions, event_loop = opts.event_loop,
  }
  if not client then return nil, err, code end
  local p = client:_props()
  for k, v in pairs(props) do p[k] = v end
  p.backend = backend
  p.sessions = setmetatable({}, { __mode = "k" })
  return client
end

local function getenv(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

--- A client for the Gemini Developer API.
function realtime.gemini(opts)
  opts = check_options(opts, GEMINI_OPTIONS, "realtime.gemini")
  local key = opts.api_key or getenv "GEMINI_API_KEY" or getenv "GOOGLE_API_KEY"
  return new_client("gemini", opts, {
    api_key = key, model = opts.model, api_version = opts.api_version,
    base_url = opts.base_url, headers = opts.headers, ca_file = opts.ca_file,
  }, { api_key = not opts.api_key and key and (getenv "GEMINI_API_KEY" and "GEMINI_API_KEY" or "GOOGLE_API_KEY")
         or nil })
end

--- A client for Vertex AI.
function realtime.vertex(opts)
  opts = check_options(opts, VERTEX_OPTIONS, "realtime.vertex")
  -- Express mode takes the key alone: with a project, a location or OAuth credentials
  -- one of them would be ignored without a word (Google's SDKs refuse the mix as well).
  if opts.api_key ~= nil then
    for _, k in ipairs { "project", "location", "access_token", "credentials" } do
      if opts[k] ~= nil then
        error(("options 'api_key' and '%s' exclude each other: Vertex express mode takes the "
          .. "API key alone (global endpoint, no project or location)"):format(k), 2)
      end
    end
  end
  local express = opts.api_key ~= nil
  return new_client("vertex", opts, {
    api_key = opts.api_key, model = opts.model, api_version = opts.api_version,
    base_url = opts.base_url, headers = opts.headers, ca_file = opts.ca_file,
    project = opts.project or (not express and getenv "GOOGLE_CLOUD_PROJECT") or nil,
    location = opts.location or (not express and (getenv "GOOGLE_CLOUD_LOCATION" or "us-central1")) or nil,
    access_token = opts.access_token, credentials = opts.credentials,
    quota_project = opts.quota_project, express = express,
  }, { project = not opts.project and "GOOGLE_CLOUD_PROJECT" or nil,
       location = not opts.location and "GOOGLE_CLOUD_LOCATION" or nil })
end

-- Resolves the handshake credential; nil, message, "auth" when there is none.
local function credential(p)
  if p.backend == "gemini" then
    if not p.api_key then
      return nil, "no API key: pass api_key or set GEMINI_API_KEY (or GOOGLE_API_KEY)", "auth"
    end
    return true
  end
  -- an explicit token is used as is; one we fetched is refreshed through its source
  if p.express or (p.access_token and not p.token_source) then return true end
  if not p.project then
    return nil, "no Vertex AI project: pass project or set GOOGLE_CLOUD_PROJECT", "auth"
  end
  return realtime.credentials(p)
end

--- Finds Vertex AI credentials for a client (Application Default Credentials) and sets
-- p.access_token to a fresh token; see docs/credentials.md.
function realtime.credentials(p, timeout)
  return require("realtime.auth").resolve(p, timeout)
end

--- Mints an ephemeral Gemini API token for a game client to use in place of a key.
function realtime.gemini_ephemeral_token(opts)
  return require("realtime.auth").ephemeral_token(opts)
end

local function options_copy(opts)
  local copy = {}
  for k, v in pairs(opts) do copy[k] = v end
  return copy
end

-- Credentials refused before setupComplete are an "auth" failure: Vertex answers the
-- upgrade with HTTP 401/403, Gemini closes the socket with a reason naming the key, and
-- an ephemeral token that is used up or expired gets a policy close (1008) on the
-- constrained method.
local function refused_credentials(msg, ephemeral)
  if msg.code == "handshake" then
    return msg.message:match "^HTTP 40[13]%f[%D]" ~= nil
  end
  local text = msg.message:lower()
  return msg.code == "closed" and ((text:find("api key", 1, true) or text:find("credential", 1, true)
    or text:find("unregistered caller", 1, true) or text:find("authenticat", 1, true)
    or text:find("permission", 1, true) or text:find("ephemeral token", 1, true)
    or text:find("access token", 1, true)) ~= nil
    or (ephemeral and text:find("%f[%d]1008%f[%D]") ~= nil))
end

--- Masks every run of 8 or more bytes of a secret in `text` (a server's close reason or
-- refusal may quote what the request carried; a reason cut at 123 bytes may hold part
-- of a key). Secrets shorter than 8 bytes cannot be told from ordinary words.
local function mask_secrets(text, ...)
  for i = 1, select("#", ...) do
    local secret = select(i, ...)
    if type(secret) == "string" and #secret >= 8 and #text >= 8 then
      local masked = {}
      for k = 1, #secret - 7 do
        local from = 1
        while true do
          local a = text:find(secret:sub(k, k + 7), from, true)
          if not a then break end
          for j = a, a + 7 do masked[j] = true end
          from = a + 1
        end
      end
      if next(masked) then
        text = text:gsub("()(.)", function(j, c) return masked[j] and "*" or c end)
      end
    end
  end
  return text
end

-- The server's session id, from the setupComplete text (Vertex sends one).
local function session_id(text)
  local ok, msg = pcall(core.json_decode, text)
  local sc = ok and type(msg) == "table" and msg.setupComplete
  if type(sc) == "table" and type(sc.sessionId) == "string" and sc.sessionId ~= "" then
    return sc.sessionId
  end
end

--- Raises unless self is a client: `client.connect{...}` (a dot for the colon) would
-- otherwise fail deep inside with a message about something else. Worded as the
-- sessions' check_self below.
local function check_client(self, fname)
  if getmetatable(self) ~= core.Client then
    local mt = getmetatable(self)
    local got = type(mt) == "table" and type(mt.__name) == "string" and mt.__name or type(self)
    error(("calling '%s' on bad self (realtime.Client expected, got %s; use client:%s(...))")
      :format(fname, got, fname), 3)
  end
end

--- Opens a session: returns once the server acknowledged the setup, or nil, message, code.
function Client:connect(opts)
  check_client(self, "connect")
  local handlers
  handlers, opts = check_session_options(opts or {})
  local p = self:_props()
  if not self:is_open() then error("client closed", 2) end
  local eff = options_copy(opts)
  eff.model = opts.model or p.model
  if not eff.model then error("no model: pass model to connect or to the client", 2) end
  if eff.resumption == nil then eff.resumption = true end
  if eff.kind == "transcription" and eff.transcription == nil then eff.transcription = { input = true } end

  local ok, err, code = credential(p)
  if not ok then return nil, err, code end
  local url, headers, ecode = endpoint(p, false, 2)
  if not url then return nil, headers, ecode end

  local state = core.map_new {
    backend = p.backend, project = p.project, location = p.location,
    express = p.express or false, api_version = p.api_version,
  }
  -- what the mapping cannot convert is the caller's error, raised at the caller's line
  local mapped, setup = pcall(core.map_setup, state, eff)
  if not mapped then error(setup, 2) end
  -- the history turns, sent once the setup is acknowledged and before anything else
  local history = state.history_message
  local fmt = eff.input_audio_format or {}
  local vad_on = not (eff.vad and eff.vad.enabled == false)
  local timeout = eff.timeout or 15
  local props = { options = eff, client = self, _map = state }
  local session
  session, err, code = self:_connect({
    url = url, headers = headers, setup = setup, timeout = timeout,
    max_queue_bytes = eff.max_queue_bytes, max_message_bytes = eff.max_message_bytes,
    max_receive_bytes = eff.max_receive_bytes, close_timeout = eff.close_timeout,
    audio_mime = "audio/pcm;rate=" .. math.tointeger(fmt.rate or 16000),
    manual_activity = not vad_on,
    audio_stream_end = vad_on and p.backend == "gemini",
    resumption = eff.resumption ~= false, transparent = p.backend == "vertex",
    token_source = p.token_source,
  }, state, handlers, props)
  if not session then return nil, err, code end

  -- the core times the handshake out itself; the deadline here is only a backstop
  local deadline = now() + timeout + 5
  while true do
    local msg, e, c = session:try_receive()
    if msg then
      if msg.type == "_ready" then
        props.id = session_id(msg.text)
        break
      end
      local ephemeral = p.backend == "gemini" and p.api_key and p.api_key:find("^auth_tokens/") ~= nil
      if msg.type == "error" then
        session:close()
        return nil, mask_secrets(msg.message, p.api_key, p.access_token),
          refused_credentials(msg, ephemeral) and "auth" or msg.code
      end
      if msg.type == "closed" then
        local text = ("connection closed before setup completed (%s %s)"):format(msg.code, msg.reason)
        local refused = refused_credentials({ code = "closed", message = text }, ephemeral)
        return nil, mask_secrets(text, p.api_key, p.access_token), refused and "auth" or "closed"
      end
    elseif e ~= "again" then
      return nil, mask_secrets(e, p.api_key, p.access_token), c
    else
      local left = deadline - now()
      if left <= 0 then
        session:close()
        return nil, "timed out waiting for setupComplete", "timeout"
      end
      wait_on(session, left)
    end
  end
  if history then
    local ok, err2, code2 = session:send_wire(history)
    if not ok then
      session:close()
      return nil, "could not send the history: " .. tostring(err2), code2
    end
  end
  p.sessions[session] = true
  return session
end

--- Drains every session of the client without blocking or yielding. Returns an array of
-- the messages that were ready, each with a `session` field naming its session.
function Client:poll()
  check_client(self, "poll")
  local out = {}
  if not self:is_open() then return out end
  for session in pairs(self:_props().sessions) do
    while true do
      local msg = session:poll()   -- never yields; logs a failed handler's traceback
      if not msg then break end
      msg.session = session
      out[#out + 1] = msg
    end
  end
  return out
end

-- ==================================================================== --
--  S E S S I O N S
-- ==================================================================== --

-- The coroutine receiving on each session (weak: an abandoned receiver frees the slot).
local receivers = setmetatable({}, { __mode = "kv" })

local try_receive, session_poll = Session.try_receive, Session._poll

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
local function send_for_caller(self, msg)
  local ok, sent, err, code = pcall(send, self, msg)
  if not ok then error(sent, 3) end
  return sent, err, code
end


local function receive_once(self, deadline)
  while true do
    local msg, err, code = try_receive(self)
    if msg then
      if msg.error_traceback then log("error", "tool handler failed: " .. msg.error_traceback) end
      return msg
    end
    if err ~= "again" then return nil, err, code end
    local left = deadline and deadline - now()
    if left and left <= 0 then return nil, "timed out", "timeout" end
    wait_on(self, left)
  end
end

-- Ends a receive: the slot is free again; pcall's results become receive's.
local function receive_done(self, ok, ...)
  receivers[self] = nil
  if not ok then error((...), 0) end
  return ...
end

--- Returns the next message, or nil, "timed out", "timeout" after `timeout` seconds
-- (nil or math.huge: no bound; NaN raises). Blocks outside coroutines; yields inside
-- them. One receiver at a time.
function Session:receive(timeout)
  check_self(self, "receive")
  timeout = check_timeout("receive", timeout, true)
  local co = coroutine.running()
  local current = receivers[self]
  if current and current ~= co and coroutine.status(current) ~= "dead" then
    error("another receive is already waiting on this session", 2)
  end
  receivers[self] = co
  return receive_done(self, pcall(receive_once, self, timeout and now() + timeout))
end

--- Iterates over every message, the final `closed` one included; stops early only when
-- `timeout` seconds pass with nothing received.
function Session:messages(timeout)
  check_self(self, "messages")
  timeout = check_timeout("messages", timeout, true)
  local done = false
  return function()
    if done then return nil end
    local msg = self:receive(timeout)
    if not msg or msg.type == "closed" then done = true end
    return msg
  end
end

--- Returns a ready message or nil; never blocks, never waits.
function Session:poll()
  check_self(self, "poll")
  local msg = session_poll(self)
  if msg and msg.error_traceback then log("error", "tool handler failed: " .. msg.error_traceback) end
  return msg
end

function Session:send_text(text)
  check_self(self, "send_text")
  if type(text) ~= "string" then
    error("bad argument #1 to 'send_text' (string expected, got " .. type(text) .. ")", 2)
  end
  local ok, err, code = send_for_caller(self, { type = "conversation_item_create",
    item = { role = "user", content = { { type = "text", text = text } } } })
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
    item = { role = "user", content = { { type = "image", data = data, mime = mime or "image/jpeg" } } } })
  return ok, err, code
end

function Session:create_response()
  check_self(self, "create_response")
  local ok, err, code = send_for_caller(self, { type = "response_create" })
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
  for k, v in pairs(opts) do
    local check = RESULT_OPTIONS[k]
    if not check then error(("unknown option %s"):format(type(k) == "string" and shown(k) or tostring(k)), 2) end
    local ok, expected = check(v)
    if not ok then error(("option '%s': expected %s, got %s"):format(k, expected, shown(v)), 2) end
  end
  local ok, err, code = send_for_caller(self, { type = "conversation_item_create",
    item = { role = "user", content = { { type = "function_result", call_id = call_id, result = result,
      scheduling = opts.scheduling, will_continue = opts.will_continue } } } })
  if not ok then return nil, err, code end
  ok, err, code = send_for_caller(self, { type = "response_create" })
  return ok, err, code
end

--- The latest resumption handle the server gave (at first the one the session started
-- from), or nil: save it to resume the conversation later with resumption = { handle = }.
function Session:resumption_handle()
  local state = self:_props()._map
  return state and state.resumption_handle
end

return realtime
