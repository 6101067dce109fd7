-- realtime.ephemeral: ephemeral tokens for the Gemini API (POST {base}/v1alpha/auth_tokens),
-- minted with an API key for a client (a browser, a game build) that must not hold the key.
-- realtime.gemini_ephemeral_token is this module's `token`.
--
-- Errors are `nil, message, code`; a message never holds the key (auth.mask_secrets).
local core = require "realtime.core"
local cjson = require "cjson"
local with_inherited = require("realtime.options").with_inherited
-- realtime.auth loads this module: it is required here when first needed, not at load
local function auth() return require "realtime.auth" end

local ephemeral = {}

local GEMINI_BASE = "https://generativelanguage.googleapis.com"

-- (a state without the os library, a sandbox, has no environment)
local function getenv(name)
  local v = os and os.getenv(name)
  if v ~= nil and v ~= "" then return v end
end

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
  -- those a table inherits through a metatable too, as a client constructor's
  for k, v in pairs(with_inherited(opts, EPHEMERAL_OPTIONS)) do
    local check = EPHEMERAL_OPTIONS[k]
    if check == nil then
      error(("unknown option '%s'"):format((tostring(k):sub(1, 64):gsub("[%c\128-\255]", "?"))), level + 1)
    end
    local ok, expected, normalized = check(v)
    if not ok then
      local got = type(v) == "number" and (v ~= v and "NaN" or tostring(v))
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
  if not os then   -- a sandboxed state
    error("realtime.gemini_ephemeral_token: a time in seconds needs Lua's os library (os.date);"
      .. " give it as an RFC 3339 string", 3)
  end
  -- from the clock's fraction of a second too (os.time's whole second made a token expire
  -- up to a second early), in whole microseconds, so that a fraction never rounds up to
  -- ".1000000" (a double holds today's microseconds exactly)
  local us = math.floor((core.time() + v) * 1e6 + 0.5)
  local t, frac = us // 1000000, us % 1000000
  if frac > 0 then
    return os.date("!%Y-%m-%dT%H:%M:%S", t) .. (".%06dZ"):format(frac)
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
function ephemeral.token(opts)
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
    auth()._wait_on(req, left)
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
      local function masked(v) return type(v) == "string" and auth().mask_secrets(v, key) or "" end
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

return ephemeral
