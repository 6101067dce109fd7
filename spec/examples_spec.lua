-- Every example under examples/ (and the README's quick start) runs here against the
-- simulator, as a child process with only its environment pointing it there, exactly as
-- a user would run it.
local helper = require "spec.helper"
local realtime = require "realtime"
local cjson = require "cjson"

local q = helper.shell_quote

-- The repository root (the specs run from it), for a child started elsewhere.
local repo = (function()
  local p = assert(io.popen "pwd")
  local dir = p:read "l"
  p:close()
  return dir
end)()

-- The build tree holding examples/host: BUILD, else the one LUA_CPATH points into.
local function build_dir()
  local b = os.getenv "BUILD"
  if b and b ~= "" then return b end
  local cpath = os.getenv "LUA_CPATH" or ""
  return cpath:match "([^;]*)/%?%.so" or "build"
end

-- Credentials and endpoints of the caller's shell must not leak into the examples.
local CLEAN = "env -u GEMINI_API_KEY -u GOOGLE_API_KEY -u GOOGLE_CLOUD_PROJECT -u GOOGLE_CLOUD_LOCATION"
  .. " -u GOOGLE_APPLICATION_CREDENTIALS -u GCE_METADATA_HOST -u CLOUDSDK_CONFIG -u VERTEX_ACCESS_TOKEN"
  .. " -u REALTIME_BASE_URL -u REALTIME_CA_FILE -u REALTIME_MODEL -u REALTIME_PACE -u REALTIME_LUA_DIR"

-- The sanitizer preload a Lua child needs under `make check` ("LD_PRELOAD=... "), or "".
local function preload_var()
  local preload = os.getenv "LD_PRELOAD"
  return (preload and preload ~= "") and "LD_PRELOAD=" .. q(preload) .. " " or ""
end

--- Runs `program args` with the simulator's environment plus `env`; returns status, output.
-- `stdin` (a string) is fed to it; `cwd` is the directory it runs in (default: here).
-- Under `make check`, a Lua child keeps the sanitizer preload it needs for the
-- instrumented module; nothing else gets it.
local function run(program, args, env, stdin, cwd)
  local ca = helper.sim_ca
  if cwd and not ca:match "^/" then ca = repo .. "/" .. ca end   -- relative to the repository
  local parts = { cwd and "cd " .. q(cwd) .. " &&" or "", CLEAN, "REALTIME_BASE_URL=" .. q(helper.sim_http), "REALTIME_CA_FILE=" .. q(ca) }
  for k, v in pairs(env or { GEMINI_API_KEY = helper.sim_key }) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = "timeout 120 env"
  parts[#parts + 1] = (program == "lua5.4" and preload_var() or "") .. program
  for _, a in ipairs(args or {}) do parts[#parts + 1] = q(a) end
  local input
  if stdin then
    input = os.tmpname()
    local f = assert(io.open(input, "wb"))
    f:write(stdin)
    f:close()
    parts[#parts + 1] = "<" .. q(input)
  end
  local status, out = helper.run(table.concat(parts, " "))
  if input then os.remove(input) end
  return status, out
end

local function rms(pcm)
  local sum, n = 0, #pcm // 2
  for i = 1, #pcm - 1, 2 do
    local v = string.unpack("<i2", pcm, i)
    sum = sum + v * v
  end
  return math.sqrt(sum / math.max(n, 1))
end

describe("examples", function()
  local dir
  lazy_setup(function() dir = helper.tmpdir() end)
  lazy_teardown(function() if dir then helper.run("rm -rf " .. q(dir)) end end)

  describe("voice_chat.lua", function()
    it("streams a spoken question, calls the Lua tool and writes the spoken answer", function()
      local question, reply = dir .. "/question.wav", dir .. "/reply.wav"
      local code, out = helper.run("espeak-ng -w " .. q(question) .. " 'What is the weather in Paris?'")
      assert.equal(0, code, out)
      -- the simulator does not recognise speech: it is told what this connection "hears"
      helper.sim_post("/_sim/next", { count = 1, behaviour = { heard = "What is the weather in Paris?" } })
      code, out = run("lua5.4", { "examples/voice_chat.lua", question, reply },
        { GEMINI_API_KEY = helper.sim_key, REALTIME_PACE = "fast" })
      helper.sim_request("DELETE", "/_sim/next")   -- unused if the example never connected
      assert.equal(0, code, out)
      assert.matches("question: .*question%.wav %([%d.]+ s, resampled from 22050 Hz%)", out)
      assert.matches("you: What is the weather in Paris%?", out)
      assert.matches('tool: get_weather%({"city":"Paris"}%) %-> {', out)
      assert.matches('model: The result of get_weather is {[^\n]*"city":"Paris"', out)
      assert.matches("tool calls: 1 | turn latency: [%d.]+ s | tokens: %d+ %(%d+ in, %d+ out%)", out)

      -- what the simulator received: 16 kHz audio, as long as the recording
      local conns = helper.connections()
      local setup = conns[#conns].setup.setup or conns[#conns].setup
      assert.is_true(setup.realtimeInputConfig.automaticActivityDetection.disabled)

      local pcm, rate, channels = assert(realtime.wav.read(reply))
      assert.equal(24000, rate)
      assert.equal(1, channels)
      assert.is_true(#pcm / 2 / rate > 1, "reply shorter than a second")
      assert.is_true(rms(pcm) > 300, "reply is silent")
    end)

    it("falls back to a tone when the default recording is missing", function()
      -- run where there is no examples/question.wav (espeak-ng missing), without arguments
      local cwd = dir .. "/no-recording"
      assert.equal(0, (helper.run("mkdir -p " .. q(cwd))))
      local code, out = run("lua5.4", { repo .. "/examples/voice_chat.lua" },
        { GEMINI_API_KEY = helper.sim_key, REALTIME_PACE = "fast" }, nil, cwd)
      assert.equal(0, code, out)
      assert.matches("question: [^\n]*question%.wav: No such file or directory; sending a 1 s tone instead", out)
      assert.matches("you: hello", out)                 -- the simulator's default --heard
      assert.matches("model: You said: hello%.", out)
      assert.matches("tool calls: 0", out)
      assert.truthy(realtime.wav.read(cwd .. "/reply.wav"))
    end)

    it("refuses a question file it was named but cannot use, before connecting", function()
      local text, slow, fast = dir .. "/question.txt", dir .. "/slow.wav", dir .. "/fast.wav"
      helper.write_file(text, "What is the weather in Paris?\n")
      assert(realtime.wav.write(slow, helper.tone(0.5, 4000), 4000))
      assert(realtime.wav.write(fast, helper.tone(0.1, 200000), 200000))
      local empty = dir .. "/empty.wav"
      assert(realtime.wav.write(empty, "", 16000))
      local cases = {
        { empty, "voice_chat: " .. dir .. "/empty%.wav holds no audio" },
        { dir .. "/missing.wav", "voice_chat: cannot read " .. dir .. "/missing%.wav: [^\n]*No such file or directory" },
        { text, "voice_chat: cannot read " .. dir .. "/question%.txt: [^\n]*%S" },
        { slow, "voice_chat: " .. dir .. "/slow%.wav is 4000 Hz: recordings from 8000 to 192000 Hz are supported" },
        { fast, "voice_chat: " .. dir .. "/fast%.wav is 200000 Hz: recordings from 8000 to 192000 Hz are supported" },
        { "", "voice_chat: the question's file name is empty" },
      }
      for _, case in ipairs(cases) do
        local before = #helper.connections()
        local code, out = run("lua5.4", { "examples/voice_chat.lua", case[1], dir .. "/r.wav" },
          { GEMINI_API_KEY = helper.sim_key, REALTIME_PACE = "fast" })
        assert.equal(1, code, out)
        assert.matches(case[2]:gsub("%-", "%%-"), out)
        assert.is_nil(out:find("traceback", 1, true), out)
        assert.is_nil(out:find("tone", 1, true), out)
        assert.equal(before, #helper.connections(), "it talked to the model first")
      end
    end)

    it("refuses a reply path it cannot write, before connecting", function()
      local question = dir .. "/q.wav"
      assert(realtime.wav.write(question, helper.tone(0.5), 16000))
      local before = #helper.connections()
      local code, out = run("lua5.4", { "examples/voice_chat.lua", question, dir .. "/no/such/dir/reply.wav" },
        { GEMINI_API_KEY = helper.sim_key, REALTIME_PACE = "fast" })
      assert.equal(1, code, out)
      assert.matches(("voice_chat: cannot write " .. dir .. "/no/such/dir/reply%.wav: [^\n]*No such file or directory")
        :gsub("%-", "%%-"), out)
      assert.is_nil(out:find("traceback", 1, true), out)
      assert.equal(before, #helper.connections(), "it talked to the model first")
      code, out = run("lua5.4", { "examples/voice_chat.lua", question, "" },
        { GEMINI_API_KEY = helper.sim_key, REALTIME_PACE = "fast" })
      assert.equal(1, code, out)
      assert.matches("voice_chat: the reply's file name is empty", out, 1, true)
      assert.equal(before, #helper.connections(), "it talked to the model first")
    end)

    it("reports a refused key and exits non-zero", function()
      local question = dir .. "/q.wav"
      assert(realtime.wav.write(question, helper.tone(0.5), 16000))
      local code, out = run("lua5.4", { "examples/voice_chat.lua", question, dir .. "/r.wav" },
        { GEMINI_API_KEY = "wrong-key", REALTIME_PACE = "fast" })
      assert.is_not.equal(0, code)
      -- a 16 kHz recording is sent as it is: no "resampled from" for it
      assert.matches("question: [^\n]*/q%.wav %(0%.5 s%)\n", out)
      assert.matches("voice_chat: could not connect %(auth%): [^\n]*1007: API key not valid", out)
    end)
  end)

  it("the README's quick start runs as written, pointed at the simulator", function()
    local readme = helper.read_file "README.md"
    local code = assert(readme:match("## Quick start.-```lua\n(.-)```"), "README.md has a Quick start in Lua")
    local wav = dir .. "/answer.wav"
    local n1, n2
    -- only where it connects and where it writes change: the simulator, a scratch file
    code, n1 = code:gsub("realtime%.gemini {", 'realtime.gemini { base_url = os.getenv "REALTIME_BASE_URL", '
      .. 'ca_file = os.getenv "REALTIME_CA_FILE",', 1)
    code, n2 = code:gsub('"answer%.wav"', ("%q"):format(wav), 1)
    assert.equal(1, n1)
    assert.equal(1, n2)
    local script = dir .. "/quick_start.lua"
    local f = assert(io.open(script, "w"))
    f:write(code)
    f:close()
    local status, out = run("lua5.4", { script })
    assert.equal(0, status, out)
    -- the handler's result, as the model speaks about it (its transcript)
    assert.matches('The result of get_weather is {[^\n]*"forecast":"rainy"', out)
    local pcm, rate = realtime.wav.read(wav)
    assert.equal(24000, rate)
    assert.is_true(rms(pcm) > 100, "the spoken answer is not silence")
  end)

  it("text_chat.lua answers each line piped in, in one session", function()
    local code, out = run("lua5.4", { "examples/text_chat.lua" }, nil,
      "hello there\n\nrecap\n/quit\nnever sent\n")
    assert.equal(0, code, out)
    assert.matches("you: hello there\nmodel: You said: hello there%.\n", out)
    assert.matches("you: recap\nmodel: Earlier you said: hello there%.\n", out)
    assert.matches("bye\n$", out)
    assert.is_nil(out:find("never sent", 1, true))
  end)

  it("text_chat.lua says a line is not UTF-8 and goes on with the next", function()
    -- a line in another encoding (Latin-1 "café") ended the chat with send_text's traceback
    local code, out = run("lua5.4", { "examples/text_chat.lua" }, nil, "caf\xe9\nrecap\n")
    assert.equal(0, code, out)
    assert.is_nil(out:find("traceback", 1, true), out)
    assert.matches("text_chat: that line is not UTF%-8 text %(another encoding%?%): not sent\n", out)
    assert.matches("you: recap\nmodel: You have not said anything before%.\n", out)
    assert.matches("bye\n$", out)
  end)

  it("text_chat.lua ends on Ctrl-C while an answer comes with one line, not a traceback", function()
    helper.sim_request("DELETE", "/_sim/next")
    helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 60000 } })   -- no answer comes
    local tmp = helper.tmpdir()
    local function file(name)   -- its text, or nil while it is not there
      local f = io.open(tmp .. "/" .. name, "rb")
      if not f then return nil end
      local text = f:read "a"
      f:close()
      return text
    end
    -- the question goes in through a FIFO held open, so that the chat waits for the answer
    local _, out = helper.run(([[
mkfifo %s
( %s REALTIME_BASE_URL=%s REALTIME_CA_FILE=%s GEMINI_API_KEY=%s timeout -s KILL 60 env %slua5.4 examples/text_chat.lua <%s >%s 2>&1 &
  echo $! >%s; wait $!; echo "status $?" >%s ) >/dev/null 2>&1 &
( exec 3>%s; echo 'ask slowly' >&3; exec sleep 60 ) >/dev/null 2>&1 &
echo "writer $!"
]]):format(q(tmp .. "/in"), CLEAN, q(helper.sim_http), q(helper.sim_ca), q(helper.sim_key),
      preload_var(), q(tmp .. "/in"), q(tmp .. "/out"), q(tmp .. "/pid"), q(tmp .. "/status"), q(tmp .. "/in")))
    local writer = assert(out:match "writer (%d+)", out)
    local asked
    for _ = 1, 200 do
      for _, t in ipairs(helper.client_messages "realtimeInput") do asked = asked or t.text == "ask slowly" end
      if asked then break end
      helper.run "sleep 0.05"
    end
    helper.run("kill -INT " .. assert((file "pid" or ""):match "%d+", "the chat did not start"))
    local status
    for _ = 1, 200 do
      status = file "status"
      if status then break end
      helper.run "sleep 0.05"
    end
    helper.run("kill " .. writer)
    out = file "out" or ""
    helper.run("rm -rf " .. q(tmp))
    helper.sim_request("DELETE", "/_sim/next")
    assert.is_true(asked, "the question did not reach the simulator: " .. out)
    assert.equal("status 130\n", status, out)
    assert.matches("\ntext_chat: interrupted\n", out)
    assert.is_nil(out:find("traceback", 1, true), out)
  end)

  describe("trip_assistant.lua", function()
    local function check(out)
      assert.matches("history: 3 turns given\n", out)
      assert.matches("you: Search the web for Lisbon tram fares\n"
        .. "sources: https://example%.com/lisbon%-tram%-fares https://example%.org/lisbon%-tram%-fares\n"
        .. "model: I found 2 results for Lisbon tram fares%.\n", out)
      assert.matches('tool: get_exchange_rate%({"currency":"EUR"}%) %-> {[^\n]*"per_usd":0%.92', out)
      assert.matches('model: The result of get_exchange_rate is {[^\n]*"per_usd":0%.92', out)
      -- the simulator's answer to "history" lists the turns it holds: the seeded ones first
      assert.matches("model: History: user: I am planning a weekend in Lisbon and I will pay in euros%.; "
        .. "model: Lovely! Lisbon has trams, miradouros and great pastries%.; "
        .. "user: My budget is 300 US dollars%.", out)
    end

    it("seeds the history and answers with Google Search and a Lua function (Gemini API)", function()
      local code, out = run("lua5.4", { "examples/trip_assistant.lua" })
      assert.equal(0, code, out)
      check(out)
      local conns = helper.connections()
      local setup = conns[#conns].setup
      assert.same({ initialHistoryInClientContent = true }, setup.historyConfig)
      assert.same({ googleSearch = {} }, setup.tools[1])
    end)

    it("the same on Vertex AI", function()
      local code, out = run("lua5.4", { "examples/trip_assistant.lua" },
        { VERTEX_ACCESS_TOKEN = os.getenv "RT_SIM_BEARER" or "test-bearer", GOOGLE_CLOUD_PROJECT = "test-project" })
      assert.equal(0, code, out)
      check(out)
      local conns = helper.connections()
      assert.equal("vertex", conns[#conns].backend)
    end)
  end)

  it("cqueues.lua runs sessions side by side, each tool call an HTTP request", function()
    local code, out = run("lua5.4", { "examples/cqueues.lua", "Oslo", "Lima", "Tokyo" })
    assert.equal(0, code, out)
    for i, city in ipairs { "Oslo", "Lima", "Tokyo" } do
      local result = out:match("session " .. i .. ": get_weather %-> ({[^\n]*})")
      assert.truthy(result, out)
      assert.same({ city = city, forecast = "sunny", celsius = 3 * #city }, cjson.decode(result))
      assert.matches("session " .. i .. ": The result of get_weather is {[^\n]*" .. city, out)
    end
    assert.matches("3 sessions answered in [%d.]+ s", out)
  end)

  it("frame_loop.lua talks and listens from a 60 Hz loop in a bounded number of frames", function()
    local code, out = run("lua5.4", { "examples/frame_loop.lua", "600" })
    assert.equal(0, code, out)
    assert.matches("heard: hello", out)
    assert.matches("answer: You said: hello%.", out)
    local frames, played = out:match "(%d+) frames, ([%d.]+) s of reply audio played"
    assert.truthy(frames, out)
    assert.is_true(tonumber(frames) < 600)
    assert.is_true(tonumber(played) > 0)
  end)

  it("frame_loop.lua refuses a frame count that is not a whole number of at least 71, at once", function()
    for _, arg in ipairs { "abc", "1.5", "0", "-5", "70", "" } do
      local t0 = os.time()
      local code, out = run("lua5.4", { "examples/frame_loop.lua", arg })
      assert.equal(2, code, out)
      assert.matches("usage: frame_loop%.lua %[max_frames%]: frames to run, a whole number of at least 71 %(got '"
        .. arg:gsub("%p", "%%%0") .. "'%)", out)
      assert.is_true(os.time() - t0 < 5, "it ran the loop anyway")
    end
  end)

  -- An ordinary failure (a refused key, a CA file that cannot be loaded) is one line
  -- naming the example and the code, and exit status 1: never a Lua traceback.
  describe("a failure to connect is reported, not raised", function()
    local function host() return { build_dir() .. "/examples/host", { "0.5" } } end
    local programs = {
      text_chat = function() return { "lua5.4", { "examples/text_chat.lua" } } end,
      cqueues = function() return { "lua5.4", { "examples/cqueues.lua", "Oslo" } } end,
      frame_loop = function() return { "lua5.4", { "examples/frame_loop.lua", "600" } } end,
      trip_assistant = function() return { "lua5.4", { "examples/trip_assistant.lua" } } end,
      host = host,
    }
    for name, program in pairs(programs) do
      it(name .. ": a refused key, a CA file that is a directory", function()
        local p = program()
        local code, out = run(p[1], p[2], { GEMINI_API_KEY = "wrong-key" }, "hello\n")
        assert.equal(1, code, out)
        assert.matches(name .. ": could not connect %(auth%): [^\n]*API key not valid", out)
        assert.is_nil(out:find("traceback", 1, true), out)
        code, out = run(p[1], p[2], { GEMINI_API_KEY = helper.sim_key, REALTIME_CA_FILE = dir }, "hello\n")
        assert.equal(1, code, out)
        assert.matches(name .. ": could not connect %(tls%): [^\n]*is a directory", out)
        assert.is_nil(out:find("traceback", 1, true), out)
      end)
    end

    it("vertex: a refused token, a CA file that is a directory", function()
      local env = { VERTEX_ACCESS_TOKEN = "wrong-token", GOOGLE_CLOUD_PROJECT = "test-project" }
      local code, out = run("lua5.4", { "examples/vertex.lua" }, env)
      assert.equal(1, code, out)
      assert.matches("vertex: could not connect %(auth%): ", out)
      assert.is_nil(out:find("traceback", 1, true), out)
      env.REALTIME_CA_FILE = dir
      code, out = run("lua5.4", { "examples/vertex.lua" }, env)
      assert.equal(1, code, out)
      assert.matches("vertex: could not connect %(tls%): [^\n]*is a directory", out)
      assert.is_nil(out:find("traceback", 1, true), out)
    end)

    it("voice_chat: a CA file that is a directory", function()
      local question = dir .. "/q.wav"
      assert(realtime.wav.write(question, helper.tone(0.5), 16000))
      local code, out = run("lua5.4", { "examples/voice_chat.lua", question, dir .. "/r.wav" },
        { GEMINI_API_KEY = helper.sim_key, REALTIME_CA_FILE = dir })
      assert.equal(1, code, out)
      assert.matches("voice_chat: could not connect %(tls%): [^\n]*is a directory", out)
      assert.is_nil(out:find("traceback", 1, true), out)
    end)
  end)

  it("trip_assistant.lua refuses an empty question, or one not in UTF-8, at once", function()
    for _, arg in ipairs { "", "  " } do
      local t0 = os.time()
      local code, out = run("lua5.4", { "examples/trip_assistant.lua", "What is my budget?", arg })
      assert.equal(2, code, out)
      assert.matches("usage: trip_assistant%.lua %[\"question\" %.%.%.%]: a question must say something", out)
      assert.is_nil(out:find("you: What is my budget", 1, true), "it connected and asked first")
      assert.is_true(os.time() - t0 < 30, "it waited for an answer that could not come")
    end
    -- one that is not UTF-8 (Latin-1 "café") ended in send_text's traceback after connecting
    local code, out = run("lua5.4", { "examples/trip_assistant.lua", "What is my budget?", "caf\xe9?" })
    assert.equal(2, code, out)
    assert.matches("usage: trip_assistant%.lua %[\"question\" %.%.%.%]: a question must be UTF%-8 text "
      .. "%(argument 2 is not%)", out)
    assert.is_nil(out:find("you: What is my budget", 1, true), "it connected and asked first")
  end)

  it("vertex.lua refuses an empty question, or one not in UTF-8, at once", function()
    for _, arg in ipairs { "", "  " } do
      local t0 = os.time()
      local before = #helper.connections()
      local code, out = run("lua5.4", { "examples/vertex.lua", arg },
        { VERTEX_ACCESS_TOKEN = os.getenv "RT_SIM_BEARER" or "test-bearer", GOOGLE_CLOUD_PROJECT = "test-project" })
      assert.equal(2, code, out)
      assert.matches("usage: vertex%.lua %[\"question\"%]: a question must say something", out)
      assert.equal(before, #helper.connections(), "it connected first")
      assert.is_true(os.time() - t0 < 30, "it waited for an answer that could not come")
    end
    local before = #helper.connections()
    local code, out = run("lua5.4", { "examples/vertex.lua", "caf\xe9?" },
      { VERTEX_ACCESS_TOKEN = os.getenv "RT_SIM_BEARER" or "test-bearer", GOOGLE_CLOUD_PROJECT = "test-project" })
    assert.equal(2, code, out)
    assert.matches("usage: vertex%.lua %[\"question\"%]: a question must be UTF%-8 text", out)
    assert.equal(before, #helper.connections(), "it connected first")
  end)

  it("cqueues.lua refuses an empty city, or one not in UTF-8, at once", function()
    for _, arg in ipairs { "", "  " } do
      local t0 = os.time()
      local before = #helper.connections()
      local code, out = run("lua5.4", { "examples/cqueues.lua", "Oslo", arg })
      assert.equal(2, code, out)
      assert.matches("usage: cqueues%.lua %[City %.%.%.%]: a city must be named", out)
      assert.is_nil(out:find("weather in ?", 1, true), out)
      assert.equal(before, #helper.connections(), "it connected first")
      assert.is_true(os.time() - t0 < 30, "it waited for an answer")
    end
    local before = #helper.connections()
    local code, out = run("lua5.4", { "examples/cqueues.lua", "Oslo", "Z\xfcrich" })
    assert.equal(2, code, out)
    assert.matches("usage: cqueues%.lua %[City %.%.%.%]: a city must be named in UTF%-8 text %(argument 2 is not%)", out)
    assert.equal(before, #helper.connections(), "it connected first")
  end)

  -- Client creation raises for a malformed option; an example reports it in one line
  -- naming the variable the value came from, never a traceback.
  describe("a malformed environment value is reported, not raised", function()
    local examples = {
      text_chat = { "examples/text_chat.lua" },
      cqueues = { "examples/cqueues.lua", "Oslo" },
      frame_loop = { "examples/frame_loop.lua", "600" },
      trip_assistant = { "examples/trip_assistant.lua" },
      vertex = { "examples/vertex.lua" },
      voice_chat = { "examples/voice_chat.lua" },   -- args set below: a question it can read
    }
    local cases = {
      { var = "REALTIME_MODEL", value = "bad model", names = "REALTIME_MODEL" },
      { var = "REALTIME_BASE_URL", value = "ftp://x", names = "REALTIME_BASE_URL" },
      { var = "GEMINI_API_KEY", value = "k\1", names = "GEMINI_API_KEY", gemini = true },
      { var = "GOOGLE_CLOUD_PROJECT", value = "bad project", names = "GOOGLE_CLOUD_PROJECT", vertex = true },
    }
    for name, args in pairs(examples) do
      it(name, function()
        if name == "voice_chat" then
          local question = dir .. "/env-q.wav"
          assert(realtime.wav.write(question, helper.tone(0.2), 16000))
          args = { args[1], question, dir .. "/env-r.wav" }
        end
        local on_vertex = name == "vertex"
        for _, case in ipairs(cases) do
          -- the key only on a Gemini client, the project only where it picks Vertex AI
          if not (case.gemini and on_vertex) then
            local env = { GEMINI_API_KEY = helper.sim_key }
            if on_vertex or case.vertex then
              env = { GOOGLE_CLOUD_PROJECT = "test-project", VERTEX_ACCESS_TOKEN = "t" }
            end
            if not case.vertex or name == "vertex" or name == "trip_assistant" or name == "voice_chat" then
              env[case.var] = case.value
              local before = #helper.connections()
              local code, out = run("lua5.4", args, env, "hello\n")
              assert.equal(1, code, out)
              -- its last line (voice_chat names its question first)
              assert.matches(name .. ": [^\n]*" .. case.names .. "[^\n]*\n$", out)
              assert.matches("^" .. name .. ": ", out:match "([^\n]*)\n$" or "")
              assert.is_nil(out:find("traceback", 1, true), out)
              assert.equal(before, #helper.connections(), "it connected")
            end
          end
        end
      end)
    end
  end)

  it("host (examples/host.c) embeds Lua and streams audio from a second thread", function()
    local host = build_dir() .. "/examples/host"
    assert.truthy(io.open(host), "missing " .. host .. ": make builds it")
    local code, out = run(host, { "0.5" })
    assert.equal(0, code, out)
    assert.matches("heard: hello", out)
    assert.matches("answer: You said: hello%.", out)
    assert.matches("0%.5 s of audio sent from the audio thread, [%d.]+ s of reply audio received", out)
  end)

  it("host refuses a duration it cannot send (less than a 20 ms block, or not a number) at once", function()
    local host = build_dir() .. "/examples/host"
    for _, arg in ipairs { "abc", "0.01", "0", "" } do
      local t0 = os.time()
      local code, out = run(host, { arg })
      assert.equal(2, code, out)
      assert.matches("usage: host %[seconds%]: seconds of audio to send, from 0%.02 to 600", out)
      assert.is_true(os.time() - t0 < 30, "it waited for a reply that could not come")
    end
  end)

  describe("vertex.lua", function()
    it("connects with a bearer token", function()
      local code, out = run("lua5.4", { "examples/vertex.lua", "Hello Vertex" },
        { VERTEX_ACCESS_TOKEN = os.getenv "RT_SIM_BEARER" or "test-bearer", GOOGLE_CLOUD_PROJECT = "test-project" })
      assert.equal(0, code, out)
      assert.matches("model: You said: Hello Vertex%.", out)
      local conns = helper.connections()
      assert.equal("vertex", conns[#conns].backend)
      assert.matches("projects/test%-project/locations/us%-central1/", conns[#conns].setup.model
        or conns[#conns].setup.setup.model)
    end)

    it("connects with Application Default Credentials (a service-account key file)", function()
      local key = dir .. "/sa.key"
      local code, out = helper.run(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s"
        .. " && openssl pkey -in %s -pubout -out %s.pub"):format(q(key), q(key), q(key)))
      assert.equal(0, code, out)
      local email = "examples@livesim-test.iam.gserviceaccount.com"
      helper.sim_post("/_sim/service-accounts", { client_email = email, public_key = helper.read_file(key .. ".pub") })
      local f = assert(io.open(dir .. "/sa.json", "wb"))
      f:write(cjson.encode { type = "service_account", project_id = "livesim-test", private_key_id = "k1",
        private_key = helper.read_file(key), client_email = email, token_uri = helper.sim_http .. "/token" })
      f:close()
      code, out = run("lua5.4", { "examples/vertex.lua" },
        { GOOGLE_APPLICATION_CREDENTIALS = dir .. "/sa.json", GOOGLE_CLOUD_PROJECT = "livesim-test" })
      assert.equal(0, code, out)
      assert.matches("model: You said: Say hello to Vertex AI%.", out)
      local conns = helper.connections()
      assert.matches("^Bearer ", conns[#conns].headers.authorization)
    end)

    it("says why when there are no credentials", function()
      local code, out = run("lua5.4", { "examples/vertex.lua" },
        { GOOGLE_CLOUD_PROJECT = "livesim-test", HOME = dir .. "/nohome", GCE_METADATA_HOST = "127.0.0.1:9" })
      assert.is_not.equal(0, code)
      assert.matches("vertex: could not connect %(auth%): no Vertex AI credentials found", out)
    end)
  end)
end)
