-- realtime: live voice, text and tool sessions with Google's Gemini Live API.
--
-- This file is the thin Lua front over realtime.core (C) and the module's entry point:
-- it makes clients (building the endpoint, finding the credential) and opens sessions;
-- the session methods written in Lua are in session.lua. The option checks are in options.lua;
-- how a receive waits (blocking the thread, yielding to a cqueues controller or to
-- realtime.run) is in wait.lua. The C side never blocks on the network and never
-- chooses a scheduler.

-- The standard libraries the module cannot do without. A host that embeds Lua may open
-- only some of them (a sandboxed state): say which one is missing here, not as "attempt
-- to index a nil value" at some later call. os, io and debug are optional (docs/api.md,
-- "C API for hosts").
-- The message is joined with `..`: without the string library strings have no methods.
for _, lib in ipairs { "string", "table", "coroutine", "math", "utf8" } do
  if type(_ENV[lib]) ~= "table" then
    error("realtime: needs Lua's standard library '" .. lib .. "' (open it before require"
      .. " \"realtime\": luaL_openlibs, or luaL_requiref with luaopen_" .. lib .. ")", 0)
  end
end

local core, core_file = require "realtime.core"

-- The interface of realtime.core these Lua files were written for, and its one home: the
-- Makefile compiles this number into the C module as core._ABI. Bump it with any change
-- to what the binding exports (a function or method added, removed or changed), so that
-- a core.so from another build (a `git pull` without `make`, an older install earlier on
-- LUA_CPATH) is refused here rather than failing at its first missing method.
local CORE_ABI = 3
if core._ABI ~= CORE_ABI then
  -- require's second result names the file a searcher loaded (":preload:" otherwise)
  -- shown as every path in a message is (control, non-ASCII, quote and backslash bytes as
  -- \xNN), in Lua: a foreign core.so may lack core._shown_path
  local where = type(core_file) == "string" and not core_file:find "^:" and
    (core_file:gsub("[%c\127-\255'\\]", function(c) return ("\\x%02x"):format(c:byte()) end) .. " ")
    or ""
  error(("realtime: the C module realtime.core %sis from another build (interface %s, these Lua"
    .. " files need %d): rebuild with make, or reinstall"):format(where, tostring(core._ABI or "none"),
    CORE_ABI), 0)
end

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

-- Option checks (options.lua) and the wait step with realtime.run (wait.lua).
local options = require "realtime.options"
local is_callable = options.is_callable
local check_session_options = options.check_session_options
local check_client_options = options.check_client_options
local GEMINI_OPTIONS, VERTEX_OPTIONS = options.GEMINI_OPTIONS, options.VERTEX_OPTIONS

local wait = require "realtime.wait"
wait.install(realtime)

-- Handlers of non_blocking tools that go on beside the receive (tools.lua).
local tools = require "realtime.tools"
tools.install(realtime)

-- Credentials (auth.lua), loaded now: an error path that loaded it later could meet a
-- process out of descriptors and raise "module not found" in place of the real error.
local auth = require "realtime.auth"
-- The session methods written in Lua (installed at the end, once realtime is whole).
local session_lua = require "realtime.session"
local session_logging, add_stranded = session_lua.is_logging, session_lua.add_stranded
local received_elsewhere = session_lua.received_elsewhere
local now, wait_on = core.now, wait.wait_on

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
  p.opening = setmetatable({}, { __mode = "k" })   -- sessions whose connect has not returned
  return client
end

-- (a state without the os library, a sandbox, has no environment)
local function getenv(name)
  local v = os and os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

--- A client for the Gemini Developer API.
function realtime.gemini(opts)
  opts = check_client_options(opts, GEMINI_OPTIONS, "realtime.gemini")
  local key = opts.api_key or getenv "GEMINI_API_KEY" or getenv "GOOGLE_API_KEY"
  -- not a tail call: new_client raises at level 3, the line that called this function
  local client, err, code = new_client("gemini", opts, {
    api_key = key, model = opts.model, api_version = opts.api_version,
    base_url = opts.base_url, headers = opts.headers, ca_file = opts.ca_file,
  }, { api_key = not opts.api_key and key and (getenv "GEMINI_API_KEY" and "GEMINI_API_KEY" or "GOOGLE_API_KEY")
         or nil })
  return client, err, code
end

--- A client for Vertex AI.
function realtime.vertex(opts)
  opts = check_client_options(opts, VERTEX_OPTIONS, "realtime.vertex")
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
  local client, err, code = new_client("vertex", opts, {   -- not a tail call (as in gemini)
    api_key = opts.api_key, model = opts.model, api_version = opts.api_version,
    base_url = opts.base_url, headers = opts.headers, ca_file = opts.ca_file,
    project = opts.project or (not express and getenv "GOOGLE_CLOUD_PROJECT") or nil,
    location = opts.location or (not express and (getenv "GOOGLE_CLOUD_LOCATION" or "us-central1")) or nil,
    access_token = opts.access_token, credentials = opts.credentials,
    quota_project = opts.quota_project, express = express,
  }, { project = not opts.project and "GOOGLE_CLOUD_PROJECT" or nil,
       location = not opts.location and "GOOGLE_CLOUD_LOCATION" or nil })
  return client, err, code
end

--- The value of the caller's own Authorization header (any case), or nil.
local function user_authorization(p)
  for name, value in pairs(p.headers or {}) do
    if name:lower() == "authorization" then return value end
  end
end

--- The secrets an error quoting the server must not show: the key, the token, and the
-- credential of the caller's Authorization header (not its scheme: "Bearer " is a word).
local function secrets_of(p)
  local h = user_authorization(p)
  return p.api_key or false, p.access_token or false, h and (h:match "^%S+%s+(.-)%s*$" or h) or false
end

-- Resolves the handshake credential within `timeout` seconds (a fetch included); nil,
-- message, "auth" when there is none.
local function credential(p, timeout, model)
  if p.backend == "gemini" then
    if not p.api_key then
      return nil, "no API key: pass api_key or set GEMINI_API_KEY (or GOOGLE_API_KEY)", "auth"
    end
    return true
  end
  if p.express then return true end
  -- a model given as a whole resource name (projects/...) names its project itself
  if not p.project and not (type(model) == "string" and model:find("^projects/")) then
    return nil, "no Vertex AI project: pass project or set GOOGLE_CLOUD_PROJECT", "auth"
  end
  -- an explicit token is used as is; one we fetched is refreshed through its source
  if p.access_token and not p.token_source then return true end
  -- the caller's own Authorization header is the credential, sent as given: no search
  -- and no token source, whose Bearer would replace it (as Google's SDKs skip ADC then)
  if user_authorization(p) then return true end
  return realtime.credentials(p, timeout)
end

--- Finds Vertex AI credentials for a client (Application Default Credentials) and sets
-- p.access_token to a fresh token; see docs/credentials.md.
function realtime.credentials(p, timeout)
  return auth.resolve(p, timeout)
end

--- Mints an ephemeral Gemini API token for a game client to use in place of a key.
function realtime.gemini_ephemeral_token(opts)
  return auth.ephemeral_token(opts)
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

-- A server's close reason or refusal may quote what the request carried (auth.lua).
local function mask_secrets(text, ...)
  return auth.mask_secrets(text, ...)
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
-- sessions' check_self (session.lua).
local function check_client(self, fname)
  if getmetatable(self) ~= core.Client then
    local mt = getmetatable(self)
    local got = type(mt) == "table" and type(mt.__name) == "string" and mt.__name or type(self)
    error(("calling '%s' on bad self (realtime.Client expected, got %s; use client:%s(...))")
      :format(fname, got, fname), 3)
  end
end

-- Closes the session being opened unless connect returned it: a coroutine closed while
-- connect waits (realtime.run ending after another coroutine failed) or an error would
-- otherwise leave it connecting, holding a max_sessions place, until it is collected.
local OPENING = { __close = function(o) if o.session then o.session:close() end end }

--- Whether a full collection freed sessions of this client (the weak sets given: its
-- sessions, and those whose connect has not returned) that their owner dropped without
-- close(): they hold max_sessions places until then.
-- Not when the program stopped the collector: it manages its memory itself.
local function dropped_sessions(...)
  if not collectgarbage "isrunning" then return false end
  local sets = { ... }
  -- those holding a place: a closed session that ended frees none when collected
  local function count()
    local n = 0
    for _, set in ipairs(sets) do
      for s in pairs(set) do if s:_holding() then n = n + 1 end end
    end
    return n
  end
  local before = count()
  -- two cycles: a finalized key leaves a weak table in the cycle after its finalizer ran
  collectgarbage "collect"
  collectgarbage "collect"
  return count() < before
end

-- True when a session of the client is closing: close() called (or the session collected)
-- and the close not done yet. The core counts them: a closed session that the collector
-- freed is gone from the weak sets but still holds its place until its close ends.
local function closing_sessions(client)
  return client:_closing() > 0
end

local open_session   -- below: connect's second half

--- A table of `raw` as the merge reads it: a __pairs proxy (its metatable's own field,
-- as the C side looks it up) copied as pairs shows it, any other table as it is.
local function as_merged(t)
  local mt = getmetatable(t)
  if type(mt) ~= "table" or rawget(mt, "__pairs") == nil then return t end
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  return copy
end

--- What `raw` does to the setup field at path (a list of its keys, each as { camelCase,
-- snake_case }, which the merge takes alike): nil when it leaves the field alone, false
-- when it takes it out (JSON null, or a value that is not an object above it), true when
-- it may give one (through either spelling at any level). Read as the merge reads it:
-- raw fields only (a "strict" table's __index is never called, and what a table
-- inherits is not merged), a __pairs proxy as pairs shows it.
local function raw_sets(t, path, i)
  if type(t) ~= "table" then return nil end
  t = as_merged(t)
  if not i then
    local first = next(t)
    if first == "setup" and next(t, first) == nil and type(rawget(t, "setup")) == "table" then
      t = as_merged(rawget(t, "setup"))
    end
    i = 1
  end
  local result
  for _, name in ipairs(path[i]) do
    local v = rawget(t, name)
    if v ~= nil then
      local r
      if v == core.json_null or (i < #path and type(v) ~= "table") then r = false
      elseif i == #path then r = true
      else r = raw_sets(v, path, i + 1) end
      if r then return true end
      if r == false then result = false end
    end
  end
  return result
end

-- The setup fields the Gemini API knows only in v1alpha, with the option that gives each.
local V1ALPHA_FIELDS = {
  affective_dialog = { { "generationConfig", "generation_config" },
    { "enableAffectiveDialog", "enable_affective_dialog" } },
  proactive_audio = { { "proactivity", "proactivity" } },
}

--- The client's properties for a session's URL. The Gemini API knows affective dialog and
-- proactivity only in v1alpha (v1beta closes the session with 1007 "Unknown name", even
-- for false): a session whose setup has either (from its option or from raw) goes there,
-- unless the client pins api_version.
local function session_endpoint_props(p, opts)
  if p.backend ~= "gemini" or p.api_version ~= nil then return p end
  local needed = false
  for option, path in pairs(V1ALPHA_FIELDS) do
    local by_raw = raw_sets(opts.raw, path)
    if by_raw or (by_raw == nil and opts[option] ~= nil) then needed = true end
  end
  if not needed then return p end
  return setmetatable({ api_version = "v1alpha" }, { __index = p })
end

--- Opens a session: returns once the server acknowledged the setup, or nil, message, code.
function Client:connect(opts)
  check_client(self, "connect")
  local handlers
  handlers, opts = check_session_options(opts or {})
  handlers = tools.with_wrapped_handlers(handlers, opts.tools)
  local p = self:_props()
  if not self:is_open() then error("client closed", 2) end
  local eff = options_copy(opts)
  eff.model = opts.model or p.model
  if not eff.model then error("no model: pass model to connect or to the client", 2) end
  if eff.resumption == nil then eff.resumption = true end
  if eff.kind == "transcription" and eff.transcription == nil then eff.transcription = { input = true } end

  -- connect's timeout covers a token fetch too; the handshake gets what is left
  local timeout, t0 = eff.timeout or 15, now()
  local ok, err, code = credential(p, timeout, eff.model)
  if not ok then return nil, err, code end
  -- only a fetch takes time worth counting (the handshake's error then names what is left)
  local spent = now() - t0
  if spent >= 0.001 then timeout = timeout - spent end
  if timeout <= 0 then
    return nil, ("timed out: fetching the access token took the whole timeout (%g s)")
      :format(eff.timeout or 15), "timeout"
  end
  local ep = session_endpoint_props(p, eff)
  local url, headers, ecode = endpoint(ep, false, 2)
  if not url then return nil, headers, ecode end

  local state = core.map_new {
    backend = p.backend, project = p.project, location = p.location,
    express = p.express or false, api_version = ep.api_version,
  }
  -- errors quoting server values mask these (a server may echo what the request carried)
  state.secrets = { secrets_of(p) }
  -- what the mapping cannot convert is the caller's error, raised at the caller's line
  local mapped, setup = pcall(core.map_setup, state, eff)
  if not mapped then error(setup, 2) end
  -- a history longer than max_queue_bytes could never be queued: the encode stopped
  -- there, and the connect ends before it opens anything
  if state.history_overrun then
    return nil, "could not send the history: " .. state.history_overrun, "busy"
  end
  -- the history turns, sent once the setup is acknowledged and before anything else
  local history = state.history_message
  local fmt = eff.input_audio_format or {}
  local vad_on = not (eff.vad and eff.vad.enabled == false)
  local props = { options = eff, client = self, _map = state }
  local cfg = {
    url = url, headers = headers, setup = setup, timeout = timeout,
    max_queue_bytes = eff.max_queue_bytes, max_message_bytes = eff.max_message_bytes,
    max_receive_bytes = eff.max_receive_bytes, close_timeout = eff.close_timeout,
    audio_mime = "audio/pcm;rate=" .. math.tointeger(fmt.rate or 16000),
    manual_activity = not vad_on,
    audio_stream_end = vad_on and p.backend == "gemini",
    resumption = eff.resumption ~= false, transparent = p.backend == "vertex",
    -- sent with _send_initial below: the core then knows which handles lack it
    initial_history = history ~= nil,
    no_call_hold = eff.hold_input_during_calls == false,
    token_source = p.token_source,
  }
  -- closed by code of the caller's that the lines above ran (a metamethod of the options
  -- or the raw, which the mapping reads): the same misuse as a closed client at the start
  if not self:is_open() then error("client closed", 2) end
  -- a server's close that refused the setup adds its code and reason
  local session, close_code, close_reason
  session, err, code, close_code, close_reason =
    open_session(self, p, cfg, state, handlers, props, timeout, history)
  -- refused for its credential after it took a token of the client's source (a 401 whose
  -- refetch failed, a second 401, a 403): the next connect finds the credential anew
  if not session and code == "auth" and cfg.token_source then
    auth.retire(p, cfg.token_source)
  end
  if close_code then return session, err, code, close_code, close_reason end
  return session, err, code
end

--- The closed message of a session whose setup ended in an error, when the server's close
-- ended it: connect returns its code and reason too. nil when the error left the session
-- open, or when the close was not the server's (a lost connection, our own 1007).
local function server_close(session, deadline)
  while true do
    local msg, e = session:try_receive()
    if msg then
      if msg.type == "closed" then return msg.by_server and msg or nil end
    elseif e ~= "again" or session:is_open() or now() >= deadline then
      return nil
    else
      -- the session has ended: its closed message follows the error at once
      wait_on(session, deadline - now())
    end
  end
end

-- connect's results for a setup that a server's close (`closed`, a message) refused.
local function refused_by_close(text, code, closed, secrets)
  if not closed then return nil, text, code end
  return nil, text, code, closed.code, mask_secrets(closed.reason or "", secrets)
end

--- The rest of connect once the setup is made: opens the session (waiting for a place
-- while the client is full) and waits for setupComplete. Returns the session, or nil,
-- message, code (and the close code and reason when the server's close refused it).
function open_session(self, p, cfg, state, handlers, props, timeout, history)
  -- looked at before the attempt: a close that ends between the attempt's "busy" and a
  -- look after it would leave nothing closing to wait for, and its free place untried
  -- (the count drops only after the place is free)
  local closing = closing_sessions(self)
  local session, err, code = self:_connect(cfg, state, handlers, props)
  -- places held by sessions whose close is under way (closed, or collected) free soon
  local wait_for = code == "busy" and (closing and timeout
    or dropped_sessions(p.sessions, p.opening) and math.min(timeout, 2))
  if not session and wait_for then
    local give_up = now() + wait_for
    repeat
      wait_on(nil, 0.01)
      -- closed meanwhile (by another coroutine): the network's answer, not misuse
      if not self:is_open() then return nil, "client closed while waiting for a place", "closed" end
      closing = closing_sessions(self)
      session, err, code = self:_connect(cfg, state, handlers, props)
      -- busy with nothing closing: the places that freed went to other connects, and
      -- none will free by itself now
    until session or code ~= "busy" or not closing or now() >= give_up
  end
  if not session then return nil, err, code end
  local opening <close> = setmetatable({ session = session }, OPENING)
  -- seen by a connect waiting for a place while this one is abandoned and closes it
  p.opening[session] = true

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
        return refused_by_close(mask_secrets(msg.message, secrets_of(p)),
          refused_credentials(msg, ephemeral) and "auth" or msg.code,
          server_close(session, deadline), secrets_of(p))
      end
      if msg.type == "closed" then
        -- written as the core writes a server's close: "(1005)", "(1000: reason)"
        local reason = msg.reason or ""
        local text = ("connection closed before setup completed (%s%s%s)"):format(msg.code,
          reason ~= "" and ": " or "", reason)
        local refused = refused_credentials({ code = "closed", message = text }, ephemeral)
        return refused_by_close(mask_secrets(text, secrets_of(p)), refused and "auth" or "closed",
          msg.by_server and msg, secrets_of(p))
      end
    elseif e ~= "again" then
      return nil, mask_secrets(e, secrets_of(p)), c
    else
      local left = deadline - now()
      if left <= 0 then
        return nil, "timed out waiting for setupComplete", "timeout"
      end
      wait_on(session, left)
    end
  end
  if history then
    -- Gemini takes it as initial history (historyConfig), only in a new session: the core
    -- never sends it into a resumed one. Vertex says what a handle holds: one whose
    -- lastConsumedClientMessageIndex is short of the history is not handed out either,
    -- and a reconnect before one holds it starts anew, as on Gemini.
    local ok, err2, code2 = session:_send_initial(history)
    if not ok then
      return nil, "could not send the history: " .. tostring(err2), code2
    end
  end
  p.opening[session] = nil
  p.sessions[session] = true
  opening.session = nil
  return session
end

-- Seconds of one step of close()'s wait: each ends early when a signal handler runs.
local CLOSE_STEP = 1

--- Closes every session of the client (each gets its closed message), waits for their
-- closes within their bounds, stops the I/O thread and frees it. The wait is a loop of
-- bounded steps that come back here when a signal handler runs, so that Ctrl-C in lua5.4
-- stops it at once ("interrupted!"); a close() after that waits for the rest, and the
-- collector ends what is left without waiting. Idempotent; also `<close>`.
-- The client's token source is closed too: it would go on renewing tokens (and keep the
-- HTTP worker thread) while the client is reachable. Its sessions hold their own
-- reference for reconnects, which they drop as they end; a connect waiting for its token
-- returns "closed".
function Client:close()
  check_client(self, "close")
  self:_close_start()
  local p = self:_props()
  p.closed = true   -- auth.resolve makes no source for it after this
  if p.token_source then p.token_source:close() end
  -- sources dropped after a failed fetch that sessions may still hold (auth.lua)
  for src in pairs(p.retired_sources or {}) do src:close() end
  while not self:_close_wait(CLOSE_STEP) do end
end
core.Client.__close = Client.close

--- Drains every session of the client without blocking or yielding. Returns an array of
-- the messages that were ready, each with a `session` field naming its session. After
-- client:close() it still hands over what its sessions hold, their closed messages too.
function Client:poll()
  check_client(self, "poll")
  local out = {}
  local sessions = self:_props().sessions
  for _, session in ipairs(add_stranded(sessions, self:_ready_sessions(sessions))) do
    -- From the log function while this session hands a message back, its poll would
    -- raise and lose what was taken from the others: it waits for its receive instead.
    -- So do the messages a receive of another coroutine waits for.
    while not session_logging(session) and not received_elsewhere(session) do
      local msg = session:poll()   -- never yields; logs a failed handler's traceback
      if not msg then break end
      msg.session = session
      out[#out + 1] = msg
    end
  end
  return out
end

session_lua.install(realtime)

return realtime
