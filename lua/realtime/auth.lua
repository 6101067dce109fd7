-- realtime.auth: Google credentials for Vertex AI (ephemeral tokens for the Gemini API are
-- in realtime.ephemeral).
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
-- ==================================================================== --
--  H E L P E R S
-- ==================================================================== --

-- (a state without the os library, a sandbox, has no environment)
local function getenv(name)
  local v = os and os.getenv(name)
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
  -- the decoder ends the text at a NUL byte, dropping what follows; UTF-16 text (an editor
  -- or a shell on Windows) has one in every other byte, a byte order mark in front (a file
  -- of NUL bytes alone, as a crash may leave, is not UTF-16)
  if text:find "^\255\254" or text:find "^\254\255" or text:find "^[^\0]\0"
    or text:find "^\0[^\0]" then
    return nil, ("%s is UTF-16 text: save it as UTF-8"):format(what)
  elseif text:find("\0", 1, true) then
    return nil, ("%s holds a NUL byte, which JSON text cannot: download the key file again or "
      .. "run `gcloud auth application-default login`"):format(what)
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

-- info[k] for a credentials table of the caller's, as for option tables: a key whose
-- look-up raises counts as absent, so that a "strict" table can leave out the optional
-- fields.
local field = require("realtime.options").field

--- The string fields of a credential of type `kind`, or nil, message: a required one
-- missing, or any of them of another type or holding a NUL byte (C would read the string
-- only up to it). An empty or null field counts as absent, as gcloud writes them. A
-- message names the field, never its value.
local function fields(info, what, kind)
  local out, spec = {}, FIELDS[kind]
  for _, list in ipairs { spec.required, spec.optional } do
    for _, name in ipairs(list) do
      local v = field(info, name)
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
  local kind = field(info, "type")
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
  if qp and (qp:find "[%c\128-\255]" or #qp > 16384) then
    -- checked here, so that it is this file's fault and not a raise about an option
    return nil, ("%s (%s): \"quota_project_id\" %s (it is sent as the x-goog-user-project "
      .. "header)"):format(what, kind, qp:find "%c" and "holds a control character"
      or qp:find "[\128-\255]" and "holds a byte outside ASCII" or "is longer than 16384 bytes")
  end
  if kind == SERVICE_ACCOUNT then
    if not f.private_key:find("-----BEGIN", 1, true) then
      return nil, ("%s (%s): \"private_key\" is not a PEM key"):format(what, kind)
    end
    if not f.private_key:find("\n", 1, true) and f.private_key:find("\\n", 1, true) then
      -- escaped twice: OpenSSL would only say that it is no key
      return nil, ("%s (%s): \"private_key\" has its line breaks written as \\n (a backslash "
        .. "and an n): the key was escaped twice; decode it once more, or replace each \\n "
        .. "with a line break"):format(what, kind)
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

--- What `v`, a value that names no file, holds when it is a credential itself rather than
-- a path: "a key file's JSON text" (an object whose first key follows the brace, or a
-- member written anywhere: an env file keeps the quotes around it, a JSON string escapes
-- its quotes), the same "in base64" (as CI secrets are often stored), "a private key in
-- PEM", or nil.
local function key_text(v)
  local function json(t) return t:gsub("^\239\187\191", ""):find '^%s*{%s*"' ~= nil end
  if json(v) or v:find '{%s*\\*"[^"\\]*\\*"%s*:' then return "a key file's JSON text" end
  if v:find("-----BEGIN", 1, true) then return "a private key in PEM" end
  -- the first 12 bytes it decodes to (4-space indentation, a CR included); a path that
  -- merely looks like base64 ("e2e/keys/sa") decodes to no such text
  if #v < 24 or not v:find "^[%w+/_%-]+=*$" then return nil end
  local bytes, acc = {}, 0
  for i = 1, 16 do
    local c = v:byte(i)
    local d = c >= 65 and c <= 90 and c - 65 or c >= 97 and c <= 122 and c - 71
      or c >= 48 and c <= 57 and c + 4 or (c == 43 or c == 45) and 62 or 63
    acc = acc * 64 + d
    if i % 4 == 0 then
      bytes[#bytes + 1] = string.char(acc >> 16, (acc >> 8) & 255, acc & 255)
      acc = 0
    end
  end
  return json(table.concat(bytes)) and "a key file's JSON text in base64" or nil
end

-- What to do with a key's text where its path belongs, by origin (what key_text found).
local KEY_TEXT = {
  ["credentials file"] = "credentials: the string is %s, not a key file's path: pass the "
    .. "file's path, or its decoded table",
  ["GOOGLE_APPLICATION_CREDENTIALS file"] = "GOOGLE_APPLICATION_CREDENTIALS holds %s, not a "
    .. "key file's path: write the key file's JSON to a file and set "
    .. "GOOGLE_APPLICATION_CREDENTIALS to that file's path",
}

local function from_file(path, origin)
  -- a path may hold any byte: messages show it escaped, as the C side does
  local what = ("%s %s"):format(origin, core._shown_path(path))
  if path:find("\0", 1, true) then
    -- the C library would open the file named by the part before it
    return nil, ("%s: the path contains a NUL byte"):format(origin)
  end
  -- a key's own text names no file, and quoting it as a path would put its secrets in
  -- the message
  local text = KEY_TEXT[origin] and not core._file_exists(path) and key_text(path)
  if text then
    return nil, KEY_TEXT[origin]:format(text)
  end
  local info, err = read_json_file(path, origin, what)
  if not info and path:find "^~" and not core._file_exists(path) then
    -- set in a .env or compose file, which no shell expanded
    err = err .. " (a shell expands ~ to a home directory, this library does not: give the "
      .. "full path)"
  end
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
  -- a scheme in any case (RFC 3986), as the fetch reads it
  if not shown:lower():match "^https?://" then shown = "http://" .. shown end
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
    if not src then
      -- the core names its field; the user set the variable (a form auth.find let through)
      if named then err = err:gsub(": metadata_host ", ": GCE_METADATA_HOST ", 1) end
      return nil, err, code or "auth"
    end
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

-- Ephemeral tokens for the Gemini API (realtime.gemini_ephemeral_token)
auth.ephemeral_token = require("realtime.ephemeral").token
auth._wait_on = wait_on

return auth
