-- realtime.suggest: the option a mistyped or foreign name most likely meant, for the
-- "unknown option" errors of options.lua ("... (did you mean 'output_modalities'?)").
-- Internal to the module: not part of the API.
--
-- Three ways a name goes wrong, tried in order:
-- - the wire's or another SDK's name for an option (`systemInstruction`,
--   `response_modalities`, OpenAI's `turn_detection`): a table of known ones;
-- - a typo (`modle`, `instruction`): the closest name within a small edit distance;
-- - a part of the name (`modalities` for `output_modalities`).

-- Names other APIs use, in snake_case (a camelCase name is converted first), and ours.
local FOREIGN = {
  system_instruction = "instructions", system_prompt = "instructions", prompt = "instructions",
  response_modalities = "output_modalities", modalities = "output_modalities",
  speech_config = "voice", voice_config = "voice", voice_name = "voice",
  prebuilt_voice_config = "voice",
  input_audio_transcription = "transcription", output_audio_transcription = "transcription",
  realtime_input_config = "vad", automatic_activity_detection = "vad", turn_detection = "vad",
  session_resumption = "resumption",
  context_window_compression = "compression", sliding_window = "compression",
  thinking_config = "thinking", thinking_budget = "thinking",
  enable_affective_dialog = "affective_dialog", proactivity = "proactive_audio",
  max_tokens = "max_output_tokens", max_response_output_tokens = "max_output_tokens",
  language_code = "speech_language", tool = "tools", function_declarations = "tools",
  callback = "handler", fn = "handler", func = "handler", ["function"] = "handler",
  parameters_json_schema = "parameters", input_schema = "parameters", schema = "parameters",
  key = "api_key", apikey = "api_key", token = "access_token",
  project_id = "project", region = "location", http_options = "headers",
  prefix_padding_ms = "prefix_padding", silence_duration_ms = "silence_duration",
  start_of_speech_sensitivity = "start_sensitivity", end_of_speech_sensitivity = "end_sensitivity",
}

local FOREIGN_NAMES = {}
for k in pairs(FOREIGN) do FOREIGN_NAMES[#FOREIGN_NAMES + 1] = k end
table.sort(FOREIGN_NAMES)

local function snake(name)
  return (name:gsub("(%l)(%u)", "%1_%2"):lower())
end

-- Edit distance (insertions, deletions, substitutions, a swap of two neighbours) between a
-- and b, or a number above limit as soon as it passes it.
local function distance(a, b, limit)
  if math.abs(#a - #b) > limit then return limit + 1 end
  local prev2, prev, cur = {}, {}, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur[0] = i
    local best = i
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local d = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d = math.min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
      if d < best then best = d end
    end
    if best > limit then return limit + 1 end
    prev2, prev, cur = prev, cur, prev2
  end
  return prev[#b]
end

-- The names of spec, those it inherits through its metatable's __index (VERTEX_OPTIONS
-- from the common client options) too, sorted: the same answer whatever the table order.
local function names_of(spec)
  local list, seen = {}, {}
  repeat
    for k in pairs(spec) do
      if type(k) == "string" and not seen[k] then seen[k] = true; list[#list + 1] = k end
    end
    local mt = getmetatable(spec)
    spec = mt and mt.__index
  until type(spec) ~= "table"
  table.sort(list)
  return list, seen
end

-- The known name that s (a name in snake_case) spells another way, or nil.
local function spelled(s, known)
  if known[s] then return s end              -- topK, maxOutputTokens
  if FOREIGN[s] and known[FOREIGN[s]] then return FOREIGN[s] end
  return nil
end

local function usable(name)
  return type(name) == "string" and #name > 0 and #name <= 64
end

--- The name of spec that name is another spelling of (camelCase, another API's), or nil.
local function spelling(name, spec)
  if not usable(name) then return nil end
  local _, known = names_of(spec)
  return spelled(snake(name), known)
end

--- The name of spec that the unknown name most likely meant, or nil.
local function suggest(name, spec)
  if not usable(name) then return nil end
  local list, known = names_of(spec)
  local s = snake(name)
  local same = spelled(s, known)
  if same then return same end
  local limit = #s <= 4 and 1 or 2
  -- Only a name closer than every other is a guess: of two as close ("top_x": top_k,
  -- top_p) either may be wrong, and a wrong guess misleads more than none.
  local best, best_d, tied
  for _, k in ipairs(list) do
    local d = distance(s, k, limit)
    if d <= limit and (not best_d or d <= best_d) then
      tied = best_d == d
      best, best_d = k, d
    end
  end
  if best_d then return not tied and best or nil end
  for _, f in ipairs(FOREIGN_NAMES) do   -- a typo of another API's name: "regoin"
    if known[FOREIGN[f]] and distance(s, f, limit) <= limit then return FOREIGN[f] end
  end
  -- a whole part of one longer name: "modalities" in "output_modalities" (not "output",
  -- also in max_output_tokens)
  local part
  for _, k in ipairs(list) do
    if #s >= 4 and (("_" .. k .. "_"):find("_" .. s .. "_", 1, true)) then
      if part then return nil end
      part = k
    end
  end
  return part
end

--- " (did you mean 'x'?)" for an unknown name, or "" when nothing is close.
local function hint(name, spec)
  local s = suggest(name, spec)
  return s and (" (did you mean '%s'?)"):format(s) or ""
end

return { suggest = suggest, spelling = spelling, hint = hint }
