-- realtime.auth: Google credentials for Vertex AI, and ephemeral tokens for the Gemini API.
--
-- Vertex AI takes an OAuth access token. This module finds the credential the way
-- Google's own libraries do (Application Default Credentials), hands it to the C core
-- (realtime.Auth), which fetches the token and keeps it fresh on the core's HTTP worker
-- thread, and waits for the first token with the module's usual wait step (blocking
-- outside coroutines, yielding under cqueues or realtime.run).
--
-- The search order, first match wins:
--   1. an explicit access_token (the client uses it as is; nothing here runs);
--   2. the client's `credentials` option: a JSON file's path or its decoded table;
--   3. the file named by $GOOGLE_APPLICATION_CREDENTIALS;
--   4. gcloud's file: $CLOUDSDK_CONFIG/application_default_credentials.json, by default
--      ~/.config/gcloud/application_default_credentials.json;
--   5. the metadata server of a Google Cloud machine ($GCE_METADATA_HOST overrides
--      metadata.google.internal; "host:port" means http, a URL may say https).
--
-- Errors are `nil, message, "auth"`; a message names the credential's source (a file
-- path, an e-mail address, a URL) and what to fix, never a key or a token.
local core = require "realtime.core"
local cjson = require "cjson"

local auth = {}

--- Masks every run of 8 or more bytes of a secret in `text` (a server's close reason or
-- refusal may quote what the request carried; a reason cut at 123 bytes may hold part
-- of a key). Secrets shorter than 8 bytes cannot be told from ordinary words.
function auth.mask_secrets(text, ...)
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

local SERVICE_ACCOUNT, AUTHORIZED_USER = "service_account", "authorized_user"
local GEMINI_BASE = "https://generativelanguage.googleapis.com"

-- ==================================================================== --
--  H E L P E R S
-- ==================================================================== --

local function getenv(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

--- Waits on a pollable with the front's wait step when the front is loaded.
local function wait_on(obj, timeout)
  local realtime = package.loaded.realtime
  if type(realtime) == "table" and realtime._wait_on then
    return realtime._wait_on(obj, timeout)
  end
  return obj:_wait(timeout)
end

local function log(level, text)
  local realtime = package.loaded.realtime
  if type(realtime) == "table" and type(realtime._log) == "function" then
    pcall(realtime._log, level, text)
  end
end

--- Reads and decodes a credentials file (`origin` and `path` name it: `what`); nil,
-- message when it cannot. At most 1 MiB; a pipe (`<(command)`) is read for at most
-- 5 s: io.open on a FIFO waited for a writer for ever, /dev/zero never ends.
local function read_json_file(path, origin, what)
  local text, err = core._read_file(path, origin, 1024 * 1024, 5)
  if not text then
    return nil, err   -- "cannot read <what>: <why>", "<what> is a directory, not a file", ...
  end
  if text == "" then
    return nil, ("%s is empty"):format(what)
  end
  -- an editor on Windows may have put a UTF-8 byte order mark in front
  local body = text:gsub("^\239\187\191", "")
  local ok, value = pcall(cjson.decode, body)
  -- a JSON array decodes to a table too: only an object is a credential
  if ok and (type(value) ~= "table" or not body:find("^%s*{")) then ok = "not an object" end
  if ok ~= true then
    -- cjson's message quotes the text near the error, which may be a key: leave it out
    return nil, ("%s is not %s: download the key file again or run `gcloud auth "
      .. "application-default login`"):format(what, ok and "a JSON object" or "valid JSON")
  end
  return value
end

-- The fields of each credential type: those it cannot work without, and those it uses
-- when present.
local FIELDS = {
  [SERVICE_ACCOUNT] = { required = { "client_email", "private_key" },
    optional = { "private_key_id", "token_uri", "quota_project_id", "project_id" } },
  [AUTHORIZED_USER] = { required = { "client_id", "client_secret", "refresh_token" },
    optional = { "token_uri", "quota_project_id", "project_id" } },
}

--- The string fields of a credential of type `kind`, or nil, message: a required one
-- missing, or any of them of another type or holding a NUL byte (C would read the string
-- only up to it). An empty or null field counts as absent, as gcloud writes them. A
-- message names the field, never its value.
local function fields(info, what, kind)
  local out, spec = {}, FIELDS[kind]
  for _, list in ipairs { spec.required, spec.optional } do
    for _, name in ipairs(list) do
      local v = info[name]
      if v == nil or v == cjson.null or v == "" then
        if list == spec.required then return nil, ("%s (%s) lacks \"%s\""):format(what, kind, name) end
      elseif type(v) ~= "string" then
        return nil, ("%s (%s): \"%s\" must be a string, got %s"):format(what, kind, name, type(v))
      elseif v:find("\0", 1, true) then
        return nil, ("%s (%s): \"%s\" contains a NUL byte"):format(what, kind, name)
      else
        out[name] = v
      end
    end
  end
  return out
end

--- A value from a credentials file as messages show it: at most 64 bytes, control and
-- non-ASCII bytes as "?", so that a file cannot write lines or terminal escapes into logs.
local function shown(v)
  return (v:sub(1, 64):gsub("[%c\128-\255]", "?")) .. (#v > 64 and "..." or "")
end

--- Turns decoded credentials into core.auth_new options; nil, message when malformed.
-- `what` names the origin in messages ("credentials file /path/key.json"); `raw`, the
-- same with the path as it is, goes into the source, which the C side escapes itself.
local function from_info(info, what, raw)
  raw = raw or what
  local kind = info.type
  if kind == nil or kind == cjson.null then
    return nil, ("%s has no \"type\" field: expected \"service_account\" or \"authorized_user\""):format(what)
  end
  if type(kind) ~= "string" then
    return nil, ("%s: \"type\" must be a string, got %s"):format(what, type(kind))
  end
  if not FIELDS[kind] then
    return nil, ("%s has the unsupported credential type '%s': use a service account key "
      .. "(\"service_account\") or `gcloud auth application-default login` (\"authorized_user\")")
      :format(what, shown(kind))
  end
  local f, err = fields(info, what, kind)
  if not f then return nil, err end
  local qp = f.quota_project_id
  if qp and (qp:find "%c" or #qp > 16384) then
    -- checked here, so that it is this file's fault and not a raise about an option
    return nil, ("%s (%s): \"quota_project_id\" %s (it is sent as the x-goog-user-project "
      .. "header)"):format(what, kind, qp:find "%c" and "holds a control character"
      or "is longer than 16384 bytes")
  end
  if kind == SERVICE_ACCOUNT then
    if not f.private_key:find("-----BEGIN", 1, true) then
      return nil, ("%s (%s): \"private_key\" is not a PEM key"):format(what, kind)
    end
    return {
      kind = SERVICE_ACCOUNT, client_email = f.client_email, private_key = f.private_key,
      private_key_id = f.private_key_id, token_uri = f.token_uri,
      source = ("%s (service account %s)"):format(raw, shown(f.client_email)),
      quota_project = f.quota_project_id, project = f.project_id,
    }
  end
  return {
    kind = AUTHORIZED_USER, client_id = f.client_id, client_secret = f.client_secret,
    refresh_token = f.refresh_token, token_uri = f.token_uri,
    source = ("%s (authorized user, client %s)"):format(raw, shown(f.client_id)),
    quota_project = f.quota_project_id,
  }
end

local function from_file(path, origin)
  -- a path may hold any byte: messages show it escaped, as the C side does
  local what = ("%s %s"):format(origin, core._shown_path(path))
  if path:find("\0", 1, true) then
    -- the C library would open the file named by the part before it
    return nil, ("%s: the path contains a NUL byte"):format(origin)
  end
  local info, err = read_json_file(path, origin, what)
  if not info then return nil, err end
  return from_info(info, what, ("%s %s"):format(origin, path))
end

--- True when $GCE_METADATA_HOST is "host[:port]" or an http(s) URL the token path can be
-- appended to (no user information, query or fragment, which would end up in messages
-- and swallow the path).
local function metadata_host_ok(v)
  local rest = v:match "^[Hh][Tt][Tt][Pp][Ss]?://(.*)$"
  if rest then return rest ~= "" and not rest:find "[@?#%s%c\128-\255]" end
  return v:find "^[%w%.%-_:%[%]]+$" ~= nil
end

--- The gcloud well-known file's path ($CLOUDSDK_CONFIG, else ~/.config/gcloud).
function auth.well_known_file()
  local dir = getenv "CLOUDSDK_CONFIG"
  if not dir then
    local home = getenv "HOME"
    if not home then return nil end
    dir = home .. "/.config/gcloud"
  end
  return dir .. "/application_default_credentials.json"
end

-- ==================================================================== --
--  F I N D I N G   T H E   C R E D E N T I A L
-- ==================================================================== --

--- Finds the credential for a client's properties `p` (see the search order above).
-- Returns the options for core.auth_new, or nil, message.
function auth.find(p)
  p = p or {}
  local creds = p.credentials
  if type(creds) == "table" then
    return from_info(creds, "credentials table")
  elseif type(creds) == "string" then
    return from_file(creds, "credentials file")
  elseif creds ~= nil then
    return nil, "credentials must be a file path or a table"
  end
  local env = getenv "GOOGLE_APPLICATION_CREDENTIALS"
  if env then
    return from_file(env, "GOOGLE_APPLICATION_CREDENTIALS file")
  end
  local well_known = auth.well_known_file()
  if well_known and core._file_exists(well_known) then
    return from_file(well_known, "gcloud credentials file")
  end
  local host = getenv "GCE_METADATA_HOST"
  if host and not metadata_host_ok(host) then
    -- not quoted: user information or a query may hold a secret
    return nil, "GCE_METADATA_HOST: expected host[:port] or an http:// or https:// URL "
      .. "without user information, query or fragment"
  end
  local shown = host or "metadata.google.internal"
  if not shown:match "^https?://" then shown = "http://" .. shown end
  return {
    kind = "metadata", metadata_host = host, fallback = true, named = host ~= nil,
    -- off Google Cloud the lookup fails fast on DNS; a listed host gets the usual timeout
    timeout = not host and 5 or nil,
    source = ("metadata server %s"):format(shown),
  }
end

local NO_CREDENTIALS = "no Vertex AI credentials found: pass credentials or access_token, "
  .. "set GOOGLE_APPLICATION_CREDENTIALS to a key file, run `gcloud auth application-default "
  .. "login`, or run on Google Cloud"

--- True when the failure of the metadata server found as the last link of the search
-- means there is none to be had here (no such host, nothing listening, nothing in time
-- from the default host): only then is "no credentials found" the news. A server that
-- was reached (it answered an HTTP error or an unusable token, hung up, answered with
-- something that is not HTTP) is a Google Cloud machine's failing metadata server, and
-- so is one named by $GCE_METADATA_HOST (`named`) that did not answer in time. The core
-- says which: `failure` is what auth.token gave, { reached = whether a connection to
-- the server was made, cause = the code of the request's own failure or nil when it
-- answered HTTP } (rt_auth_reached), `waited_out` whether the wait for it ended first.
local function no_metadata_server(failure, waited_out, named)
  if waited_out or (failure and failure.cause == "timeout") then return not named end
  return failure ~= nil and not failure.reached
end

-- What the waiters of one token source share (weak keys: it goes with the source):
-- `failed`, the last failure a waiter was given and the fetch count it came after;
-- `had_token`, true once it gave a token; `fallback`, true for the metadata server found
-- as the last link of the search; `named`, true when $GCE_METADATA_HOST named it.
local shared = setmetatable({}, { __mode = "k" })

local function shared_of(src)
  local st = shared[src]
  if not st then
    st = {}
    shared[src] = st
  end
  return st
end

--- Waits up to `timeout` seconds for a token of `src` (a realtime.Auth) valid for at
-- least `min_valid` seconds. Returns token, expires_in, or nil, message, code: "auth",
-- or "closed" when the source is (or gets) closed; after them `waited_out` (true when
-- only the wait ended) and, for a failed fetch, its record { message, code, reached,
-- cause } (no_metadata_server reads the last two). Any number of callers may wait on one
-- source (coroutines of realtime.run): a fetch that fails gives its failure to every
-- caller that waited for it, not only to the first that looks (the core reports a
-- failure once, then starts a new fetch), so concurrent connects cost one request.
function auth.token(src, timeout, min_valid)
  local deadline = core.now() + (timeout or 60)   -- math.huge: no bound
  if not src:is_open() then return nil, "the credential is closed", "closed" end
  local st, source = shared_of(src), src:source()
  -- a failure of a fetch that ends after this point is this call's answer too
  local since = src:fetches()
  while true do
    local failed = st.failed
    if failed and failed.after > since then return nil, failed.message, failed.code, false, failed end
    if not src:is_open() then
      return nil, ("%s: closed while waiting for an access token"):format(source), "closed"
    end
    local token, extra, code, reached, cause = src:token(min_valid or 60)
    if token then
      st.had_token = true
      return token, extra
    end
    if extra ~= "again" then
      st.failed = { after = src:fetches(), message = extra, code = code or "auth",
                    reached = reached, cause = cause }
      return nil, extra, code or "auth", false, st.failed
    end
    local left = deadline - core.now()
    if left <= 0 then
      -- the fourth value: only the wait ended, the fetch goes on for the next caller
      return nil, ("%s: no access token after %g s"):format(source, timeout or 60), "auth", true
    end
    wait_on(src, math.min(left, 86400))   -- no scheduler is handed an infinite timeout
  end
end

--- Drops p's token source `src` after a fetch failed, so that the next connect finds
-- the credential again (a credentials file fixed meanwhile, a new environment) rather
-- than asking with the same one. A source that gave a token may be held by sessions for
-- their reconnects: it is kept open (weakly) for client:close() to close, renewing its
-- token only when a reconnect asks for one; one that never
-- did is closed now (a connect waiting on it already has the failure: auth.token).
-- Also Client:connect's, for a connect refused "auth" after it took a token of src.
function auth.retire(p, src)
  if p.token_source ~= src then return end   -- another connect's wait did it
  p.token_source, p.access_token = nil, nil  -- a token left here would count as explicit
  -- a quota project the credential gave goes with it: the next one's (or none) is used
  if p.quota_source == src then p.quota_project, p.quota_source = nil, nil end
  if shared_of(src).had_token then
    -- no renewals on a timer for nobody: a session's reconnect that needs a token asks
    src:_on_demand()
    p.retired_sources = p.retired_sources or setmetatable({}, { __mode = "k" })
    p.retired_sources[src] = true
  else
    src:close()
  end
end

--- What realtime.credentials(p) needs: makes sure p.access_token holds a fresh token
-- for the client whose properties are `p`. The token source is created once per client
-- (p.token_source), before its first token is asked for, so that every connect shares
-- it: one that comes while a fetch is under way waits for that fetch (within its own
-- timeout), and one that gives up leaves the fetch running for the next. The source
-- refreshes itself before expiry; each call (each connect) takes the current token.
-- A fetch that fails drops it (retire): the next call finds the credential anew.
-- Client:close() closes it (and sets p.closed: a closed client's properties get no new
-- source, "closed"). Returns true, or nil, message, code.
function auth.resolve(p, timeout)
  if type(p) ~= "table" then
    error(("bad argument #1 to 'credentials' (table of client properties expected, got %s)")
      :format(type(p)), 2)
  end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout) then
    error(("bad argument #2 to 'credentials' (timeout: seconds expected, got %s)")
      :format(timeout ~= timeout and "NaN" or type(timeout)), 2)
  end
  local src = p.token_source
  -- nothing is renewed for a closed client (Client:close): a source made now would be
  -- closed by nobody, renewing its token for ever
  if p.closed then return nil, "the client is closed: no credential is looked up for it", "closed" end
  if not src then
    local spec, err = auth.find(p)
    if not spec then return nil, err, "auth" end
    spec.ca_file = p.ca_file
    local fallback, named = spec.fallback, spec.named
    local quota = spec.quota_project
    spec.fallback, spec.named, spec.project, spec.quota_project = nil, nil, nil, nil
    local code
    src, err, code = core.auth_new(spec)
    if not src then return nil, err, code or "auth" end
    log("info", "credentials: " .. src:source())
    -- nothing above yields: no other connect of the client can have made one meanwhile
    p.token_source = src
    shared_of(src).fallback, shared_of(src).named = fallback, named
    -- the user's quota_project wins; one taken from the credential is marked as the
    -- source's, for retire to drop with it
    if quota and not p.quota_project then p.quota_project, p.quota_source = quota, src end
  end
  local token, err, code, waited_out, failure = auth.token(src, timeout)
  if not token then
    local st = shared_of(src)
    if st.fallback and not st.had_token and code ~= "closed"
      and no_metadata_server(failure, waited_out, st.named) then
      err = NO_CREDENTIALS .. " (" .. err .. ")"
    end
    if code == "auth" and not waited_out then auth.retire(p, src) end
    return nil, err, code
  end
  p.access_token = token
  return true
end

-- ==================================================================== --
--  E P H E M E R A L   T O K E N S   ( G E M I N I   A P I )
-- ==================================================================== --

--- True when s is an RFC 3339 time: 2026-01-01T00:00:00Z, with an optional fraction
-- of a second and a "Z" or a "+hh:mm" / "-hh:mm" offset.
-- A date that exists (month 1-12, its days in that year) and a time of day (a leap
-- second 60 allowed, as RFC 3339 allows it); the offset at most 23:59.
local function is_rfc3339(s)
  local y, mo, d, h, mi, sec, rest = s:match "^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$"
  if not y then return false end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  local leap = y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
  local days = ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[mo]
  if not days or d < 1 or d > days or tonumber(h) > 23 or tonumber(mi) > 59
    or tonumber(sec) > 60 then
    return false
  end
  rest = rest:gsub("^%.%d+", "", 1)
  if rest:find "^[Zz]$" then return true end
  local oh, om = rest:match "^[%+%-](%d%d):(%d%d)$"
  return oh ~= nil and tonumber(oh) <= 23 and tonumber(om) <= 59
end

-- A checker per option: function(v) -> ok, what the option takes.
local function of_type(t)
  return function(v) return type(v) == t, "a " .. t end
end
local function time_or_seconds(v)
  local ok = type(v) == "number" and v > 0 and v <= 20 * 3600 or type(v) == "string" and is_rfc3339(v)
  return ok, "seconds between 0 and 72000, or an RFC 3339 time such as \"2026-01-01T00:00:00Z\""
end

local EPHEMERAL_OPTIONS = {
  api_key = function(v) return type(v) == "string" and v ~= "", "a non-empty string" end,
  uses = function(v)
    local i = type(v) == "number" and math.tointeger(v) or nil
    return i ~= nil and i >= 0 and i <= 2 ^ 31 - 1, "an integer from 0 to 2147483647", i
  end,
  expire_time = time_or_seconds, new_session_expire_time = time_or_seconds,
  model = of_type "string", setup = of_type "table",
  lock_fields = function(v)
    if type(v) ~= "table" then return false, "a list of field paths" end
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    for i = 1, n do
      if type(v[i]) ~= "string" or v[i] == "" then return false, "a list of field paths (non-empty strings)" end
    end
    return true
  end,
  base_url = function(v) return type(v) == "string" and v:find "^[Hh][Tt][Tt][Pp][Ss]?://" ~= nil,
    "an http:// or https:// URL" end,
  api_version = of_type "string",
  ca_file = function(v) return type(v) == "string" and v ~= "" and not v:find("\0", 1, true),
    "a file path (a non-empty string without NUL bytes)" end,
  timeout = function(v) return type(v) == "number" and v > 0 and v <= 86400, "seconds between 0 and 86400" end,
}

--- Checks the options of ephemeral_token (raising at `level` with the option's name) and
-- returns a copy with integral floats as integers.
local function check_ephemeral(opts, level)
  if type(opts) ~= "table" then
    error("gemini_ephemeral_token: expected a table of options, got " .. type(opts), level + 1)
  end
  local checked = {}
  for k, v in pairs(opts) do
    local check = EPHEMERAL_OPTIONS[k]
    if check == nil then
      error(("unknown option '%s'"):format((tostring(k):sub(1, 64):gsub("[%c\128-\255]", "?"))), level + 1)
    end
    local ok, expected, normalized = check(v)
    if not ok then
      local got = type(v) == "number" and tostring(v)
        or type(v) == "string" and k ~= "api_key" and #v <= 64 and ("'" .. v:gsub("[%c\128-\255]", "?") .. "'")
        or type(v)
      error(("option '%s': expected %s, got %s"):format(k, expected, got), level + 1)
    end
    checked[k] = normalized == nil and v or normalized
  end
  -- the key, base URL and version as a client's (control characters, a query, user
  -- information, NUL bytes), the model name and the setup as a session's
  local ok, err = pcall(core.endpoint, { backend = "gemini", api_key = checked.api_key,
    base_url = checked.base_url, api_version = checked.api_version }, true)
  if ok and checked.model then
    ok, err = pcall(core.model_name, { backend = "gemini" }, checked.model)
    err = ok and checked.model:find("[\128-\255]") and "unsafe model name: it contains a byte outside ASCII" or err
    ok = ok and not checked.model:find("[\128-\255]")
    if not ok then err = "option 'model': " .. err end
  end
  if ok and checked.setup then
    ok, err = pcall(core.json_encode, checked.setup)
    if not ok then err = "option 'setup': " .. err end
  end
  if not ok then error(err, level + 1) end
  return checked
end

--- An RFC 3339 time from seconds from now (a number) or a ready string.
local function rfc3339(v)
  if type(v) == "string" then return v end
  -- whole milliseconds, so that a fraction never rounds up to ".1000"
  local ms = math.floor(v * 1000 + 0.5)
  local t = os.time() + ms // 1000
  if ms % 1000 > 0 then
    return os.date("!%Y-%m-%dT%H:%M:%S", t) .. (".%03dZ"):format(ms % 1000)
  end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

--- Mints an ephemeral token through the Gemini API (POST {base}/v1alpha/auth_tokens),
-- for a game backend to hand to clients that must not hold the API key:
--   realtime.gemini_ephemeral_token {
--     api_key = nil,                 -- default $GEMINI_API_KEY, then $GOOGLE_API_KEY
--     uses = 1,                      -- sessions the token may start
--     expire_time = 1800,            -- seconds from now (or an RFC 3339 string)
--     new_session_expire_time = 60,  -- new sessions only before this (same forms)
--     model = nil, setup = nil,      -- lock the session's setup (wire form) to these
--     lock_fields = nil,             -- field mask: further setup fields to lock
--     base_url = nil, api_version = "v1alpha", ca_file = nil, timeout = 30,
--   }
-- Returns the token name ("auth_tokens/..."), to pass as a client's api_key, and a table
-- { name, uses, expire_time, new_session_expire_time }; or nil, message, code.
function auth.ephemeral_token(opts)
  opts = check_ephemeral(opts or {}, 2)
  local key = opts.api_key or getenv "GEMINI_API_KEY" or getenv "GOOGLE_API_KEY"
  if not key then
    return nil, "no API key: pass api_key or set GEMINI_API_KEY (or GOOGLE_API_KEY)", "auth"
  end
  if key:find("^auth_tokens/") then
    return nil, "an ephemeral token cannot mint other tokens: pass an API key", "auth"
  end
  if not opts.api_key then
    -- a key from the environment is checked as the option is, and named for its variable
    local ok, err = pcall(core.endpoint, { backend = "gemini", api_key = key }, true)
    if not ok then
      local var = getenv "GEMINI_API_KEY" and "GEMINI_API_KEY" or "GOOGLE_API_KEY"
      error((err:gsub("^option 'api_key'", ("$%s (the default of option 'api_key')"):format(var))), 2)
    end
  end

  local body = {
    uses = opts.uses or 1,
    expireTime = opts.expire_time and rfc3339(opts.expire_time) or nil,
    newSessionExpireTime = opts.new_session_expire_time and rfc3339(opts.new_session_expire_time) or nil,
  }
  if opts.setup or opts.model then
    local setup = {}
    for k, v in pairs(opts.setup or {}) do setup[k] = v end
    if opts.model then
      setup.model = opts.model:find("/", 1, true) and opts.model or "models/" .. opts.model
    end
    body.bidiGenerateContentSetup = setup
  end
  if opts.lock_fields and #opts.lock_fields > 0 then
    body.fieldMask = table.concat(opts.lock_fields, ",")
  end

  local base = (opts.base_url or GEMINI_BASE):gsub("/+$", "")
  local url = ("%s/%s/auth_tokens"):format(base, opts.api_version or "v1alpha")
  local req, err, code = core.http_request {
    method = "POST", url = url, body = cjson.encode(body), ca_file = opts.ca_file,
    timeout = opts.timeout, headers = { ["x-goog-api-key"] = key, ["content-type"] = "application/json" },
  }
  if not req then return nil, err, code end
  local status, text
  local deadline = core.now() + (opts.timeout or 30) + 5
  while true do
    status, text, code = req:result()
    if status or text ~= "again" then break end
    local left = deadline - core.now()
    if left <= 0 then
      req:close()
      return nil, "ephemeral token request to " .. url .. " timed out", "timeout"
    end
    wait_on(req, left)
  end
  req:close()
  if not status then return nil, text, code end

  -- the core's reader: integers stay integers (lua-cjson gives uses = 1.0)
  local ok, answer = pcall(core.json_decode, text)
  if status ~= 200 then
    local detail = ""
    if ok and type(answer) == "table" and type(answer.error) == "table" then
      local e = answer.error
      -- the server's words, as printable text of a bounded length (they go into logs)
      local function text(v, n)
        v = type(v) == "string" and v or ""
        return (v:sub(1, n):gsub("[%c\128-\255]", "?")) .. (#v > n and "..." or "")
      end
      -- every quoted field masked before it is cut, so that a key cut short is masked too
      -- (a server may echo the request's key in status as well as in message)
      local function masked(v) return type(v) == "string" and auth.mask_secrets(v, key) or "" end
      detail = (" %s: %s"):format(text(masked(e.status), 40), text(masked(e.message), 160))
    end
    return nil, ("the Gemini API at %s refused to mint an ephemeral token (HTTP %d%s)")
      :format(url, status, detail), (status == 400 or status == 401 or status == 403) and "auth" or "handshake"
  end
  -- the name is used as a key, in a header: only the characters of one, never quoted
  if not ok or type(answer) ~= "table" or type(answer.name) ~= "string"
      or not answer.name:find("^auth_tokens/[%w%-%._~%+/=]+$") or #answer.name > 16384 then
    return nil, ("the Gemini API at %s answered without a usable token name"):format(url), "protocol"
  end
  return answer.name, {
    name = answer.name, uses = answer.uses, expire_time = answer.expireTime,
    new_session_expire_time = answer.newSessionExpireTime,
  }
end

return auth
