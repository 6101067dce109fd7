-- cqueues.lua: several sessions side by side under one cqueues controller, with a tool
-- that makes an HTTP request without holding up the others.
--
--   lua5.4 examples/cqueues.lua [City ...]        (default: Oslo Lima Tokyo)
--
-- Inside a cqueues coroutine, session:receive() and messages() yield to the controller
-- while nothing is ready, and so may a tool handler: here get_weather asks a small HTTP
-- weather service (started by this script on 127.0.0.1, standing in for a real one) over
-- a cqueues socket. Environment as in text_chat.lua.
local cqueues = require "cqueues"
local socket = require "cqueues.socket"
local cjson = require "cjson"
local realtime = require "realtime"

local cities = #arg > 0 and { table.unpack(arg) } or { "Oslo", "Lima", "Tokyo" }
-- An empty city would be asked about as "What is the weather in ?", and send_text raises
-- for a name that is not UTF-8 (a terminal in Latin-1): refuse either at once.
for i, city in ipairs(cities) do
  if not city:match "%S" then
    io.stderr:write(("usage: cqueues.lua [City ...]: a city must be named (got %q)\n"):format(city))
    os.exit(2)
  elseif not utf8.len(city) then
    io.stderr:write(("usage: cqueues.lua [City ...]: a city must be named in UTF-8 text (argument %d is not)\n")
      :format(i))
    os.exit(2)
  end
end
local cq = cqueues.new()

-- ---- a tiny HTTP weather service -----------------------------------------------------

local server = socket.listen { host = "127.0.0.1", port = 0 }
assert(server:listen())
local _, _, port = server:localname()

local function serve(conn)
  conn:setmode("t", "b")
  local request = conn:read "*l"                   -- "GET /weather?city=Oslo HTTP/1.1"
  repeat local header = conn:read "*l" until header == nil or header == ""   -- text mode: "*l" drops the \r\n
  local city = (request and request:match "city=([%w%%]+)" or "nowhere")
    :gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end)
  cqueues.sleep(0.2)                               -- a slow backend: the sessions go on meanwhile
  local body = cjson.encode { city = city, forecast = "sunny", celsius = #city * 3 }
  conn:write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" ..
    "Connection: close\r\n\r\n%s"):format(#body, body))
  conn:flush()                                     -- "b": output is buffered until flushed
  conn:close()
end

local running = #cities          -- sessions still at work; the service stops after the last

cq:wrap(function()
  while running > 0 do
    local conn = server:accept(0.1)                -- nil after 0.1 s without a client
    if conn then cq:wrap(serve, conn) end
  end
  server:close()
end)

-- ---- the tool: an HTTP GET on a cqueues socket (every wait yields) ----------------------

local function http_get_json(path)
  local conn = assert(socket.connect("127.0.0.1", port))
  conn:setmode("t", "b")
  assert(conn:write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"):format(path)))
  assert(conn:flush())
  local status = tonumber(conn:read("*l"):match "^HTTP/1%.%d (%d+)")
  repeat local header = conn:read "*l" until header == nil or header == ""
  local body = conn:read "*a"
  conn:close()
  assert(status == 200, "weather service answered HTTP " .. tostring(status))
  return cjson.decode(body)
end

local tools = {
  { name = "get_weather", description = "Current weather for a city",
    parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
    handler = function(args)
      local city = args.city:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)
      return http_get_json("/weather?city=" .. city)
    end },
}

-- ---- one coroutine per session ------------------------------------------------------------

local function env(name)
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

-- Network, TLS, credential and setup failures come back as nil, message, code.
local function connected(value, err, code)
  if value then return value end
  io.stderr:write(("cqueues: could not connect (%s): %s\n"):format(code, err))
  os.exit(1)
end

-- A malformed option (e.g. REALTIME_MODEL="bad model") makes client creation raise, not
-- return nil: end with one line naming the variable it came from, not a traceback.
local FROM_ENV = { model = "REALTIME_MODEL", base_url = "REALTIME_BASE_URL",
  ca_file = "REALTIME_CA_FILE", access_token = "VERTEX_ACCESS_TOKEN" }
local function new_client(new, options)
  local ok, client, err, code = pcall(new, options)
  if ok then return connected(client, err, code) end
  local msg = tostring(client):gsub("^[^\n]-:%d+: ", "", 1)    -- the raising line's position
  local var = FROM_ENV[msg:match "^option '([%w_]+)'" or ""]
  if var and env(var) then msg = var .. ": " .. msg end
  io.stderr:write(("cqueues: %s\n"):format(msg))
  os.exit(1)
end

local client = new_client(realtime.gemini, {
  base_url = env "REALTIME_BASE_URL", ca_file = env "REALTIME_CA_FILE",
  model = env "REALTIME_MODEL" or "gemini-2.5-flash-native-audio-preview-09-2025",
})

local started = cqueues.monotime()
local answers = {}

for i, city in ipairs(cities) do
  cq:wrap(function()
    -- connect yields too: the handshakes of all sessions overlap
    local session = connected(client:connect {
      output_modalities = { "audio" }, transcription = { output = true }, tools = tools,
    })
    assert(session:send_text(("What is the weather in %s?"):format(city)))
    local words, called_tool, answered = {}, false, false
    for msg in session:messages(60) do
      if msg.type == "response_output_item_done" then
        print(("[%5.2f s] session %d: %s -> %s"):format(cqueues.monotime() - started, i,
          msg.item.content[1].name, cjson.encode(msg.result)))
        called_tool = true
      elseif msg.type == "output_audio_transcription_delta" then
        words[#words + 1] = msg.text
      elseif msg.type == "response_done" then
        -- a response ending in a tool call is followed by the answer that uses its result
        if not called_tool then answered = true break end
        called_tool = false
      elseif msg.type == "error" or msg.type == "closed" then
        error(("session %d: %s %s"):format(i, msg.code, msg.message or msg.reason))
      end
    end
    -- messages(60) also ends when 60 s pass without a message: that is no answer
    if not answered then
      io.stderr:write(("cqueues: no answer: timed out (session %d, %s)\n"):format(i, city))
      os.exit(1)
    end
    answers[i] = table.concat(words)
    print(("[%5.2f s] session %d: %s"):format(cqueues.monotime() - started, i, answers[i]))
    session:close()
    running = running - 1
  end)
end

-- Runs every coroutine until all are done; an error in one of them ends the loop.
assert(cq:loop())
client:close()
print(("%d sessions answered in %.2f s"):format(#cities, cqueues.monotime() - started))
