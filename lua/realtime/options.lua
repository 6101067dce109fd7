-- realtime.options: the checks of the options realtime.gemini, realtime.vertex and
-- client:connect take (API.md), and the value checkers they are made of. Internal to the
-- module (init.lua uses it): not part of the API.
--
-- A check raises "option 'x': ..." or "unknown option 'x'" at the level its caller
-- passes, so that the error points at the user's line, not into the library
-- (spec/bad_values_module_spec.lua: "errors of the Lua front"). The levels count this
-- file's functions and init.lua's: keep init.lua's calls direct (no tail calls, no
-- wrappers), or adjust them.

local names = require "realtime.suggest"
local suggest, suggest_hint = names.suggest, names.hint

-- ==================================================================== --
--  C H E C K E R S
-- ==================================================================== --

local function index(t, k) return t[k] end

-- t[k] as the table's __index gives it, or nil when that raises: a "strict" table (one
-- whose __index raises for a key it lacks, as penlight's strict does) has no such option.
local function inherited(t, k)
  local ok, v = pcall(index, t, k)
  if ok then return v end
  return nil
end

--- t[k] for a table of the caller's (an option table, a tool, a result's options), a key
-- whose look-up raises counting as absent (inherited). A plain table, and a key it
-- stores, cost no protected call.
local function field(t, k)
  local v = rawget(t, k)
  if v ~= nil or getmetatable(t) == nil then return v end
  return inherited(t, k)
end

--- ipairs over the entries t stores (up to the first nil, as ipairs): ipairs asks
-- __index for the entry after the last, and a strict list raises there.
local function stored(t)
  local i = 0
  return function()
    i = i + 1
    local v = rawget(t, i)
    if v ~= nil then return i, v end
  end
end

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

--- A value for an error message: strings quoted and cut at 40 bytes with their control
-- and non-ASCII bytes escaped, NaN as "NaN", other types by name.
local function shown(v)
  if type(v) == "string" then
    local cut = #v > 40 and v:sub(1, 40) or v
    cut = cut:gsub("[%c\128-\255'\\]", function(c) return ("\\x%02x"):format(c:byte()) end)
    return "'" .. cut .. (#v > 40 and ("'... (%d bytes)"):format(#v) or "'")
  end
  if type(v) == "number" then return v ~= v and "NaN" or tostring(v) end
  return type(v)
end

-- Header names to values; the fourth value says which entry is wrong (a value is never
-- quoted: it may be a credential).
-- Normalized to a plain copy of what pairs shows (a __pairs proxy too): the C side reads
-- the table with lua_next.
local function string_map(v)
  if type(v) ~= "table" then return false, "table of header names to values" end
  local copy = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" then
      return false, nil, nil, ("expected header names as strings, got a %s key"):format(type(k))
    end
    if type(x) ~= "string" then
      return false, nil, nil, ("the value of %s must be a string, got %s"):format(shown(k), type(x))
    end
    copy[k] = x
  end
  return true, nil, copy
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

-- A string that goes into the setup as text: the server closes the session on bytes that
-- are not UTF-8, so they are refused here, naming the option.
local function text(v)
  if type(v) ~= "string" then return false, "string" end
  if not utf8.len(v) then return false, nil, nil, "not valid UTF-8" end
  return true
end

-- A voice name: "" names no voice (it would go out as voiceName "", which the service
-- does not know), unlike an empty `instructions`, which sends nothing.
local function voice(v)
  if v == "" then
    return false, nil, nil, "empty: name a voice (such as \"Puck\"), or leave the option out for the default voice"
  end
  return text(v)
end

--- Raises "option 'what': expected a list, ..." (at `level`) unless t is a sequence: keys
-- 1..n and nothing else. An entry given without its list ({ name = ... } for
-- {{ name = ... }}), a key such as `first`, or a hole would otherwise be skipped silently.
-- Why the table t is no list the mapping can read, or nil: the mapping reads the entries
-- as stored, and a proxy's (__index, __len) would be lost. A list class whose metatable
-- only adds methods is a plain list still.
local function proxy_list(t)
  local n = rawlen(t)
  if getmetatable(t) ~= nil and (#t ~= n or field(t, n + 1) ~= nil) then
    return ("expected a plain list, but its metatable gives it entries that are not stored "
      .. "in it (__index or __len; %d stored)"):format(n)
  end
end

local function check_list(t, what, level)
  local n = rawlen(t)
  local why = proxy_list(t)
  if why then error(("option '%s': %s"):format(what, why), level + 1) end
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

-- Option tables whose names a caller may give to the other level: a client's option
-- given to connect, or connect's to the client (filled in below, with the tables).
local ELSEWHERE = {}

-- " (did you mean 'x'?)" or " (an option of ...)" after "unknown option 'k'", or "".
local function unknown_hint(k, spec, prefix)
  for _, other in ipairs(ELSEWHERE[spec] or {}) do
    if type(k) == "string" and other.spec[k] ~= nil then
      return (" (an option of %s)"):format(other.name)
    end
    -- another spelling of one (apiKey given to connect), when it is none of this level's
    local same = not names.spelling(k, spec) and names.spelling(k, other.spec)
    if same then return (" (did you mean '%s', an option of %s?)"):format(same, other.name) end
  end
  local meant = suggest(k, spec)
  return meant and (" (did you mean '%s%s'?)"):format(prefix, meant) or ""
end

--- Raises "unknown option 'x'" or "option 'x': expected ..., got ..." (level 3: the caller's
-- caller). Returns a shallow copy of the options with the values a checker normalized
-- (integral floats as integers); the caller's table is left as it is.
-- A table nested in another option (vad, transcription, ...) names its keys after it:
-- "unknown option 'vad.mode'", "option 'input_audio_format.rate': ...".
local function check_options(opts, spec, what, level, nested)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: expected a table of options, got %s"):format(what, type(opts)), level or 3)
  end
  local prefix = nested and what .. "." or ""
  local checked = {}
  for k, v in pairs(opts) do
    local check = spec[k]
    if check == nil then
      error(("unknown option %s%s"):format(type(k) == "string" and shown(prefix .. k)
        or ("'" .. prefix .. tostring(k) .. "'"), unknown_hint(k, spec, prefix)), level or 3)
    end
    local ok, expected, normalized, why = check(v)
    if not ok then
      error(why and ("option '%s%s': %s"):format(prefix, k, why)
        or ("option '%s%s': expected %s, got %s"):format(prefix, k, expected,
          SECRET_OPTIONS[k] and v ~= "" and type(v) or shown(v)), level or 3)
    end
    if normalized ~= nil then checked[k] = normalized else checked[k] = v end
  end
  return checked
end

-- ==================================================================== --
--  O P T I O N   T A B L E S
-- ==================================================================== --

-- 0 is not "no limit" (the core reads it as the default), so the message points at the
-- default instead.
local function max_sessions(v)
  local ok, expected, i = integer_in(1, 1000000)(v)
  return ok, expected .. " (leave it out for the default, 1024)", i
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
  max_sessions = max_sessions,
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
  instructions = text,
  voice = voice,
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
  thinking = TABLE,
  affective_dialog = BOOLEAN,
  proactive_audio = BOOLEAN,
  media_resolution = one_of("low", "medium", "high"),
  -- speech_language: below, with the BCP-47 check
  raw = TABLE,
  timeout = number_in(0.001, 86400),
  max_queue_bytes = integer_in(1024, 2 ^ 40),
  max_message_bytes = integer_in(1024, 2 ^ 40),
  max_receive_bytes = integer_in(65536, 2 ^ 40),
  close_timeout = number_in(0.001, 3600),
  hold_input_during_calls = BOOLEAN,
}

local OF_CONNECT = { spec = SESSION_OPTIONS, name = "client:connect, not of the client" }
ELSEWHERE[SESSION_OPTIONS] = { { spec = VERTEX_OPTIONS, name = "the client, not of connect" } }
ELSEWHERE[GEMINI_OPTIONS] = { { spec = VERTEX_OPTIONS, name = "realtime.vertex, not of realtime.gemini" },
  OF_CONNECT }
ELSEWHERE[VERTEX_OPTIONS] = { OF_CONNECT }

local VAD_OPTIONS = {
  enabled = BOOLEAN,
  allow_interruption = BOOLEAN,
  start_sensitivity = one_of("high", "low"),
  end_sensitivity = one_of("high", "low"),
  prefix_padding = number_in(0, 60),
  silence_duration = number_in(0, 60),
  turn_coverage = one_of("activity", "all_input", "audio_activity_and_all_video"),
  signals = BOOLEAN,
}

-- thinkingConfig: the budget in tokens (-1: the model decides, 0: off), or a level.
local THINKING_OPTIONS = {
  budget = integer_in(-1, 2 ^ 31 - 1),
  level = one_of("minimal", "low", "medium", "high"),
  include_thoughts = BOOLEAN,
}

local function string_list(v)
  if type(v) ~= "table" or rawlen(v) == 0 then return false, "a non-empty list of strings" end
  for _, x in stored(v) do if type(x) ~= "string" then return false, "a non-empty list of strings" end end
  return true
end

-- BCP-47 tags are subtags of 1 to 8 ASCII letters or digits joined by single hyphens, the
-- first (the language) 2 to 8 letters ("en-US", "cmn-Hans-CN", "es-419"); the service
-- closes the session on an empty or malformed one.
local LANGUAGE_CODE = "a BCP-47 language code such as \"en-US\" (subtags of 1 to 8 letters "
  .. "or digits joined by '-', the first 2 to 8 letters)"
local function language_code(v)
  if type(v) ~= "string" or #v > 64 then return false end
  local first = true
  for sub in (v .. "-"):gmatch("([^-]*)-") do   -- "" between two '-', or at an end
    if #sub < 1 or #sub > 8 or sub:find("%W") or first and (#sub < 2 or sub:find("%A")) then
      return false
    end
    first = false
  end
  return true
end

-- One code or a non-empty list of them; a bad entry is named by its index.
local function language(v)
  local what = LANGUAGE_CODE .. " or a non-empty list of them"
  if type(v) ~= "table" then return language_code(v), what end
  local proxy = proxy_list(v)
  if proxy then return false, what, nil, proxy end
  if rawlen(v) == 0 then return false, what end
  for i, x in stored(v) do
    if not language_code(x) then
      return false, what, nil, ("expected %s at entry %d, got %s"):format(LANGUAGE_CODE, i, shown(x))
    end
  end
  return true
end

-- The language the model speaks: one code, checked as transcription.language's are.
SESSION_OPTIONS.speech_language = function(v) return language_code(v), LANGUAGE_CODE end

-- Words and phrases the recogniser should expect from the user (customVocabulary): each a
-- non-empty UTF-8 string, a bad entry named by its index. No bound on their number or
-- length: the service documents none, and it answers what it refuses.
local function vocabulary(v)
  local what = "a non-empty list of words or phrases (strings)"
  local proxy = type(v) == "table" and proxy_list(v)
  if proxy then return false, what, nil, proxy end
  if type(v) ~= "table" or rawlen(v) == 0 then return false, what end
  for i, x in stored(v) do
    if type(x) ~= "string" or x == "" then
      return false, what, nil, ("expected a non-empty string at entry %d, got %s"):format(i, shown(x))
    end
    if not utf8.len(x) then return false, what, nil, ("entry %d is not valid UTF-8"):format(i) end
  end
  return true
end

local TRANSCRIPTION_OPTIONS = { input = BOOLEAN, output = BOOLEAN, language = language,
  vocabulary = vocabulary, word_timestamps = BOOLEAN, diarization = BOOLEAN,
  mode = one_of("verbatim", "smart") }
-- The options that describe the input transcription (the user's speech), besides language.
local INPUT_TRANSCRIPTION_DETAILS = { "vocabulary", "word_timestamps", "diarization", "mode" }
local RESUMPTION_OPTIONS = {
  handle = function(v)
    if not non_empty(v) then return false, "a non-empty string" end
    return text(v)
  end,
}
local AUDIO_FORMAT_OPTIONS = { type = one_of("audio/pcm"), rate = integer_in(8000, 192000) }
local COMPRESSION_OPTIONS = { trigger_tokens = integer_in(1, 2 ^ 53), target_tokens = integer_in(1, 2 ^ 53) }
local TOOL_FIELDS = { name = STRING, description = text, parameters = TABLE, handler = is_callable,
  type = STRING, behavior = one_of("blocking", "non_blocking") }
-- Tools the service runs itself (API.md: built-in tools); they take no other field.
local BUILTIN_TOOLS = { google_search = true, code_execution = true, url_context = true }

-- ==================================================================== --
--  C O N N E C T
-- ==================================================================== --

-- Tool fields of the wire's (Google's SDK) shape and OpenAI's, written by habit: how to
-- write them here, in place of a guess at a field name.
local OWN_ENTRY = "give each function as its own entry of tools: { name =, description =, parameters =, handler = }"
local WIRE_BUILTIN = { googleSearch = "google_search", google_search = "google_search",
  codeExecution = "code_execution", code_execution = "code_execution",
  urlContext = "url_context", url_context = "url_context" }

local function foreign_tool_field(k, v)
  if k == "functionDeclarations" or k == "function_declarations" then
    return ("field '%s' is the wire's form: %s"):format(k, OWN_ENTRY)
  elseif k == "function" and type(v) == "table" then
    return "field 'function' holds a declaration (OpenAI's form): " .. OWN_ENTRY
  elseif WIRE_BUILTIN[k] then
    return ("field '%s' is the wire's form of a built-in tool: write { type = \"%s\" }"):format(k, WIRE_BUILTIN[k])
  end
  return nil
end

local function check_tools(tools)
  local handlers, seen = {}, {}
  for i, tool in stored(tools) do
    if type(tool) ~= "table" then
      error(("option 'tools': entry %d is a %s, expected a table"):format(i, type(tool)), 4)
    end
    local name, kind_ = field(tool, "name"), field(tool, "type")
    if kind_ == nil then kind_ = "function" end
    if kind_ ~= "function" and not BUILTIN_TOOLS[kind_] then
      error(("tool %d: unknown type %s (expected \"function\", \"google_search\", "
        .. "\"code_execution\" or \"url_context\")"):format(i, shown(kind_)), 4)
    end
    if BUILTIN_TOOLS[kind_] then
      for k in pairs(tool) do
        if k ~= "type" then error(("tool %d: a %s tool takes no field %s"):format(i, kind_, shown(k)), 4) end
      end
      goto continue
    end
    for k, v in pairs(tool) do
      local check = TOOL_FIELDS[k]
      if not check then
        local foreign = foreign_tool_field(k, v)
        if foreign then error(("tool %d: %s"):format(i, foreign), 4) end
        error(("tool %d: unknown field %s%s"):format(i, shown(k), suggest_hint(k, TOOL_FIELDS)), 4)
      end
      local ok, expected, _, why = check(v)
      if not ok and k == "behavior" then
        -- a word out of a list: name the words, not the type
        error(("tool %d: field 'behavior': expected %s, got %s"):format(i, expected, shown(v)), 4)
      elseif not ok and why then
        error(("tool %d: field '%s': %s"):format(i, k, why), 4)
      elseif not ok then
        error(("tool %d: field '%s' has the wrong type (%s)"):format(i, k, type(v)), 4)
      end
    end
    if type(name) ~= "string" or not name:match "^[%a_][%w_%.:%-]*$" or #name > 64 then
      error(("tool %d: name must be 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or '_'"):format(i), 4)
    end
    if seen[name] then error(("tool '%s' is declared twice"):format(name), 4) end
    seen[name] = true
    local handler = field(tool, "handler")
    if handler then handlers[name] = handler end
    ::continue::
  end
  return handlers
end

-- A transcription session only transcribes the user: what would shape the model's
-- answers makes no sense there (API.md, "Sessions").
local NOT_FOR_TRANSCRIPTION = { "instructions", "voice", "tools", "output_modalities", "max_output_tokens",
  "history", "thinking", "affective_dialog", "proactive_audio", "media_resolution", "speech_language" }

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
  repeat   -- the spec's own keys, then those it inherits (VERTEX_OPTIONS from COMMON_CLIENT)
    for k in pairs(spec) do
      if flat[k] == nil then flat[k] = rawget(opts, k) or inherited(opts, k) end
    end
    local smt = getmetatable(spec)
    spec = smt and smt.__index
  until type(spec) ~= "table"
  return flat
end

-- A client constructor's options, those inherited through __index included (as connect
-- takes them); level 4: check_options < this < realtime.gemini/vertex < the caller.
local function check_client_options(opts, spec, what)
  local checked = check_options(with_inherited(opts, spec), spec, what, 4)
  return checked   -- not a tail call: the level counts this function
end

local function check_session_options(opts)
  opts = with_inherited(opts, SESSION_OPTIONS)
  -- level 4: check_options < check_session_options < connect < the caller
  opts = check_options(opts, SESSION_OPTIONS, "connect", 4)
  -- the nested option tables too count what they inherit (with_inherited), and go on as
  -- their checked copies
  if opts.vad then opts.vad = check_options(with_inherited(opts.vad, VAD_OPTIONS), VAD_OPTIONS, "vad", 4, true) end
  if type(opts.transcription) == "table" then
    opts.transcription = check_options(with_inherited(opts.transcription, TRANSCRIPTION_OPTIONS),
      TRANSCRIPTION_OPTIONS, "transcription", 4, true)
    local t = opts.transcription
    for _, k in ipairs { "language", "vocabulary" } do
      if type(t[k]) == "table" then check_list(t[k], "transcription." .. k, 3) end
    end
    if t.language ~= nil and t.input == false then
      error("option 'transcription.language': it is the language of the input transcription, "
        .. "which input = false turns off", 3)
    end
    for _, k in ipairs(INPUT_TRANSCRIPTION_DETAILS) do
      if t[k] ~= nil and t.input == false then
        error(("option 'transcription.%s': it concerns the input transcription, which input = false "
          .. "turns off"):format(k), 3)
      end
    end
  end
  if opts.thinking then
    opts.thinking = check_options(with_inherited(opts.thinking, THINKING_OPTIONS), THINKING_OPTIONS, "thinking", 4, true)
    -- the service refuses a request that gives both (400 "cannot use both")
    if opts.thinking.budget ~= nil and opts.thinking.level ~= nil then
      error("option 'thinking': give budget or level, not both (the service refuses the two together)", 3)
    end
  end
  if opts.input_audio_format then
    opts.input_audio_format = check_options(with_inherited(opts.input_audio_format, AUDIO_FORMAT_OPTIONS),
      AUDIO_FORMAT_OPTIONS, "input_audio_format", 4, true)
  end
  if type(opts.compression) == "table" then
    opts.compression = check_options(with_inherited(opts.compression, COMPRESSION_OPTIONS),
      COMPRESSION_OPTIONS, "compression", 4, true)
    local c = opts.compression
    -- the service refuses the setup (close 1007, "invalid argument") otherwise
    if c.trigger_tokens and c.target_tokens and c.target_tokens >= c.trigger_tokens then
      error(("option 'compression': target_tokens (%d) must be less than trigger_tokens (%d)")
        :format(c.target_tokens, c.trigger_tokens), 3)
    end
  end
  if type(opts.resumption) == "table" then
    opts.resumption = check_options(with_inherited(opts.resumption, RESUMPTION_OPTIONS),
      RESUMPTION_OPTIONS, "resumption", 4, true)
    if opts.resumption.handle == nil then
      error("option 'resumption': expected true, false or { handle = \"...\" }", 3)
    end
  end
  for _, k in ipairs { "history", "tools", "output_modalities" } do
    if opts[k] then check_list(opts[k], k, 3) end
  end
  if opts.history then
    for i, item in stored(opts.history) do
      if type(item) ~= "table" then
        error(("option 'history': item %d is a %s, expected a table"):format(i, type(item)), 3)
      end
    end
    -- initial history is for a new session; the service answers it in a resumed one
    if rawlen(opts.history) > 0 and type(opts.resumption) == "table" then
      error("option 'history': cannot be given with resumption = { handle = ... }: the "
        .. "resumed session has its conversation already, and the service would answer "
        .. "the history as a new question", 3)
    end
  end
  if opts.kind == "transcription" then check_transcription_session(opts) end
  if opts.output_modalities then
    -- the Live API answers in one modality: it closes a setup asking for two (1007)
    if rawlen(opts.output_modalities) ~= 1 then
      error(("option 'output_modalities': expected { \"audio\" } or { \"text\" } (one modality), got %d entries")
        :format(rawlen(opts.output_modalities)), 3)
    end
    for i, m in stored(opts.output_modalities) do
      if m ~= "audio" and m ~= "text" then
        error(("option 'output_modalities': entry %d must be \"audio\" or \"text\""):format(i), 3)
      end
    end
  end
  return opts.tools and check_tools(opts.tools) or NO_TOOLS, opts
end

return {
  is_callable = is_callable, one_of = one_of, BOOLEAN = BOOLEAN, shown = shown,
  field = field, stored = stored, with_inherited = with_inherited,
  check_options = check_options, check_session_options = check_session_options,
  check_client_options = check_client_options,
  GEMINI_OPTIONS = GEMINI_OPTIONS, VERTEX_OPTIONS = VERTEX_OPTIONS,
}
