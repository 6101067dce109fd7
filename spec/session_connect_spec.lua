-- Connecting, option checking, closing and lifetimes, over TLS against the simulator.
local realtime = require "realtime"
local helper = require "spec.helper"

describe("client:connect", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function()
    client:close()
    collectgarbage()
  end)

  it("returns a session once the server acknowledged the setup", function()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert.is_true(session:is_open())
    assert.equal("models/" .. helper.model, session.options.model:match "^models/" and session.options.model
      or "models/" .. session.options.model)
    session:close()
    local closed = helper.drain(session)
    assert.equal("closed", closed.type)
    assert.equal(1000, closed.code)
    assert.is_false(session:is_open())
  end)

  it("finds methods, then the session's fields, and refuses a method called on something else", function()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert.equal("function", type(session.append_audio))
    assert.equal("table", type(session.options))
    assert.is_nil(session.no_such_field)
    local append = session.append_audio
    local err = select(2, pcall(append, 42, "\0\0"))
    assert.matches("bad argument #1 to '[^']+' %(realtime.Session expected, got number%)", err)
    err = select(2, pcall(append, client, "\0\0"))
    assert.matches("realtime.Session expected, got realtime.Client", err)
    err = select(2, pcall(getmetatable(session).__index, {}, "options"))
    assert.matches("realtime.Session expected, got table", err)
    session:close()
    helper.drain(session)
  end)

  it("sends the setup built from the options, with the key in a header and not in the URL", function()
    local session = assert(client:connect { instructions = "Be brief.", voice = "Puck" })
    local conns = helper.connections()
    local conn = conns[#conns]
    assert.is_nil(conn.query and conn.query.key)
    assert.is_nil((conn.path or ""):match "key=")
    local headers = conn.headers or {}
    assert.equal(helper.sim_key, headers["x-goog-api-key"])
    local setup = conn.setup.setup or conn.setup
    assert.equal("models/" .. helper.model, setup.model)
    assert.equal("Be brief.", setup.systemInstruction.parts[1].text)
    assert.equal("Puck", setup.generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName)
    session:close()
    helper.drain(session)
  end)

  it("takes client options inherited through __index, and headers shown by __pairs", function()
    local realtime = require "realtime"
    local hidden = { ["x-proxied"] = "yes" }
    local c2 = assert(realtime.gemini(setmetatable({ model = helper.model,
      headers = setmetatable({}, { __pairs = function() return next, hidden, nil end }) },
      { __index = { api_key = helper.sim_key, base_url = helper.sim_http, ca_file = helper.sim_ca } })))
    local session = assert(c2:connect { output_modalities = { "text" } })
    local conns = helper.connections()
    assert.equal("yes", (conns[#conns].headers or {})["x-proxied"])
    session:close()
    helper.drain(session)
    c2:close()
  end)

  it("fails with 'auth' and the server's close when the key is refused", function()
    -- Gemini accepts the upgrade and closes with 1007 once the setup arrives
    local bad = helper.gemini { api_key = "wrong-key-123" }
    local session, err, code = bad:connect {}
    bad:close()
    assert.is_nil(session)
    assert.equal("auth", code)
    assert.matches("1007", err)
    assert.is_nil(err:find("wrong-key-123", 1, true))
  end)

  it("fails with 'auth' and the HTTP status when Vertex refuses the token on the upgrade", function()
    local bad = helper.vertex { access_token = "not-a-valid-token" }
    local session, err, code = bad:connect {}
    bad:close()
    assert.is_nil(session)
    assert.equal("auth", code)
    assert.matches("HTTP 401", err)
    assert.is_nil(err:find("not-a-valid-token", 1, true))
  end)

  it("fails with 'auth' when Vertex express mode refuses the API key (HTTP 400)", function()
    local bad = assert(realtime.vertex { api_key = "wrong-express-key-123", base_url = helper.sim_http,
                                         ca_file = helper.sim_ca, model = helper.vertex_model })
    local session, err, code = bad:connect {}
    bad:close()
    assert.is_nil(session)
    assert.equal("auth", code, err)
    assert.matches("HTTP 400", err)
    assert.matches("API key not valid", err)
    assert.is_nil(err:find("wrong-express-key-123", 1, true))
  end)

  it("fails with 'handshake' and the HTTP status when the upgrade is refused otherwise", function()
    helper.sim_post("/_sim/next", { fault = { type = "refuse", status = 503, body = "overloaded" } })
    local session, err, code = client:connect {}
    assert.is_nil(session)
    assert.equal("handshake", code)
    assert.matches("HTTP 503", err)
  end)
  it("fails with 'tls' naming the problem when the certificate is not trusted", function()
    local untrusted = helper.gemini { ca_file = helper.certs .. "/other-ca.pem" }
    local session, err, code = untrusted:connect {}
    untrusted:close()
    assert.is_nil(session)
    assert.equal("tls", code)
    assert.matches("certificate", err)
  end)

  it("fails with 'connect' when nothing listens", function()
    local c = helper.gemini { base_url = "https://127.0.0.1:9" }
    local session, err, code = c:connect { timeout = 5 }
    c:close()
    assert.is_nil(session)
    assert.equal("connect", code, err)
  end)

  it("times out waiting for setupComplete (seed bug 17: the seeds wait forever)", function()
    helper.sim_post("/_sim/next", { fault = { type = "delay", ms = 3000, setup = true } })
    local t0 = realtime.now()
    local session, err, code = client:connect { timeout = 0.5 }
    assert.is_nil(session)
    assert.equal("timeout", code, err)
    assert.is_true(realtime.now() - t0 < 2.5)
  end)

  -- setupComplete arriving within a few ms after the deadline: the timeout had fired and
  -- asked for the connection's end, yet the answer still made connect return a session,
  -- which then ended with "no setupComplete within 0.2 s". One outcome or the other.
  it("either returns a session that lives or times out when setupComplete races the deadline", function()
    -- the sweep is placed around the deadline as this build connects (a sanitizer build
    -- takes tens of milliseconds more for the TLS handshake)
    local t0 = realtime.now()
    local probe = assert(client:connect { output_modalities = { "text" }, timeout = 5 })
    local setup_ms = math.floor((realtime.now() - t0) * 1000)
    probe:close()
    helper.drain(probe)
    local from = math.max(0, 200 - setup_ms - 30)
    local returned, bad = 0, {}
    for ms = from, from + 45 do
      helper.sim_post("/_sim/next", { fault = { type = "delay", ms = ms, setup = true } })
      local s, err, code = client:connect { output_modalities = { "text" }, timeout = 0.2 }
      if s then
        returned = returned + 1
        for m in s:messages(0.3) do
          if m.type == "error" or m.type == "closed" or m.type == "reconnected" then
            bad[#bad + 1] = ("%d ms: %s %s"):format(ms, m.type, tostring(m.message or m.reason))
          end
        end
        s:close()
        helper.drain(s)
      else
        assert.equal("timeout", code, err)
      end
    end
    assert.is_true(returned > 0, "no delay was short enough: the sweep misses the deadline")
    assert.same({}, bad)
  end)

  it("fails with 'auth' when there is no key at all", function()
    local c = realtime.gemini { api_key = nil, base_url = helper.sim_http, ca_file = helper.sim_ca,
                                model = helper.model }
    -- the environment may hold a key; only check when it does not
    if not os.getenv "GEMINI_API_KEY" and not os.getenv "GOOGLE_API_KEY" then
      local session, err, code = c:connect {}
      assert.is_nil(session)
      assert.equal("auth", code)
      assert.matches("GEMINI_API_KEY", err)
    end
    c:close()
  end)
end)

describe("options", function()
  it("raise on unknown keys and wrong types, naming the key", function()
    assert.has_error(function() realtime.gemini { timout = 3 } end, "unknown option 'timout'")
    assert.has_error(function() realtime.gemini { api_key = 42 } end)
    local client = helper.gemini()
    assert.has_error(function() client:connect { timout = 3 } end,
      "unknown option 'timout' (did you mean 'timeout'?)")
    assert.has_error(function() client:connect { temperature = "hot" } end)
    assert.has_error(function() client:connect { vad = { enabled = "yes" } } end)
    assert.has_error(function() client:connect { output_modalities = { "video" } } end)
    assert.has_error(function() client:connect { tools = { { name = "x y" } } } end)
    local ok, err = pcall(client.connect, client, { temperature = "hot" })
    assert.is_false(ok)
    assert.matches("temperature", err)
    client:close()
  end)

  it("an unknown option names the one it most likely meant, and opens no connection", function()
    local client = helper.gemini()
    local before = #helper.connections()
    local cases = {
      -- typos, and the spelling of the wire and of other SDKs
      { { instruction = "x" }, "unknown option 'instruction' (did you mean 'instructions'?)" },
      { { tempreature = 1 }, "unknown option 'tempreature' (did you mean 'temperature'?)" },
      { { maxOutputTokens = 5 }, "unknown option 'maxOutputTokens' (did you mean 'max_output_tokens'?)" },
      { { systemInstruction = "x" }, "unknown option 'systemInstruction' (did you mean 'instructions'?)" },
      { { responseModalities = { "TEXT" } },
        "unknown option 'responseModalities' (did you mean 'output_modalities'?)" },
      { { modalities = { "text" } }, "unknown option 'modalities' (did you mean 'output_modalities'?)" },
      { { turn_detection = {} }, "unknown option 'turn_detection' (did you mean 'vad'?)" },
      { { sessionResumption = {} }, "unknown option 'sessionResumption' (did you mean 'resumption'?)" },
      { { vad = { silence_duration_ms = 500 } },
        "unknown option 'vad.silence_duration_ms' (did you mean 'vad.silence_duration'?)" },
      { { tools = { { name = "f", parametersJsonSchema = {} } } },
        "tool 1: unknown field 'parametersJsonSchema' (did you mean 'parameters'?)" },
      { { tools = { { name = "f", behaviour = "blocking" } } },
        "tool 1: unknown field 'behaviour' (did you mean 'behavior'?)" },
      -- a client's option given to connect
      { { api_key = "k" }, "unknown option 'api_key' (an option of the client, not of connect)" },
      { { apiKey = "k" }, "unknown option 'apiKey' (did you mean 'api_key', an option of the client, not of connect?)" },
      -- nothing close: no guess
      { { zzz = 1 }, "unknown option 'zzz'" },
      { { top = 1 }, "unknown option 'top'" },
      -- two names as close, or both holding the part: no guess (a wrong one misleads)
      { { top_x = 1 }, "unknown option 'top_x'" },
      { { output = {} }, "unknown option 'output'" },
      { { vad = { sensitivity = "low" } }, "unknown option 'vad.sensitivity'" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(client.connect, client, c[1])
      assert.is_false(ok)
      assert.equal(c[2], (err:gsub("^[^:]*:%d+: ", "")))
    end
    assert.equal(before, #helper.connections(), "a refused option opened a connection")
    client:close()
    assert.has_error(function() realtime.gemini { timeout = 3 } end,
      "unknown option 'timeout' (an option of client:connect, not of the client)")
    assert.has_error(function() realtime.gemini { location = "us-central1" } end,
      "unknown option 'location' (an option of realtime.vertex, not of realtime.gemini)")
    assert.has_error(function() realtime.gemini { systemInstruction = "x" } end,
      "unknown option 'systemInstruction' (did you mean 'instructions', an option of client:connect, "
      .. "not of the client?)")
    assert.has_error(function() realtime.vertex { regoin = "us-central1" } end,
      "unknown option 'regoin' (did you mean 'location'?)")
  end)

  it("an empty Vertex project or location is refused at once, with the option's name", function()
    assert.has_error(function() realtime.vertex { project = "" } end,
      "option 'project': expected a non-empty string, got ''")
    assert.has_error(function() realtime.vertex { project = "p", location = "" } end,
      "option 'location': expected a non-empty string, got ''")
  end)

  it("a transcription language goes out as languageCodes on the Gemini API too", function()
    local client = helper.gemini()
    local session = assert(client:connect { transcription = { language = { "de-DE", "fr-FR" } } })
    local conns = helper.connections()
    assert.same({ languageCodes = { "de-DE", "fr-FR" } }, conns[#conns].setup.inputAudioTranscription)
    session:close()
    helper.drain(session)
    client:close()
  end)

  it("raw in snake_case merges into the setup the options built, without a duplicate field", function()
    local client = helper.gemini()
    -- the service takes either spelling, and closes 1007 on both side by side
    local session, err = client:connect { temperature = 0.5,
      raw = { generation_config = { thinking_config = { thinking_budget = 0 } } } }
    assert.is_truthy(session, err)
    local conns = helper.connections()
    local setup = conns[#conns].setup   -- as the simulator read it: names in camelCase
    assert.equal(0.5, setup.generationConfig.temperature)
    assert.same({ thinkingBudget = 0 }, setup.generationConfig.thinkingConfig)
    session:close()
    helper.drain(session)
    client:close()
  end)

  it("response_create overrides are returned as unsupported, not dropped", function()
    local client = helper.gemini()
    local session = assert(client:connect { output_modalities = { "text" } })
    local ok, err, code = session:send { type = "response_create", instructions = "Answer in French." }
    assert.is_nil(ok)
    assert.equal("unsupported", code)
    assert.matches("response_create overrides %('instructions'%)", err)
    assert.is_true(session:is_open())
    session:close()
    helper.drain(session)
    client:close()
  end)
end)

describe("lifetimes", function()
  it("tostring shows the type and never a secret", function()
    local client = helper.gemini { api_key = helper.sim_key }
    local session = assert(client:connect {})
    assert.matches("^realtime%.Client", tostring(client))
    assert.matches("^realtime%.Session", tostring(session))
    assert.is_nil(tostring(client):find(helper.sim_key, 1, true))
    assert.is_nil(tostring(session):find(helper.sim_key, 1, true))
    client:close()
  end)

  it("closing the client closes its sessions, which end with a closed message", function()
    local client = helper.gemini()
    local a = assert(client:connect {})
    local b = assert(client:connect {})
    client:close()
    client:close()   -- idempotent
    for _, s in ipairs { a, b } do
      local last
      for msg in s:messages(5) do last = msg end
      assert.equal("closed", last.type)
    end
    local ok, _, code = a:send_text "hi"
    assert.is_nil(ok)
    assert.equal("closed", code)
    assert.has_error(function() client:connect {} end, "client closed")
  end)

  -- closed by a metamethod the connect itself calls (a "strict" table's __index, which the
  -- setup's encoder asks once): the error came from the session's start, at init.lua's line
  it("a client closed by a metamethod its connect reads raises 'client closed' at the caller's line", function()
    for _, where in ipairs { "raw", "tool schema" } do
      local client = helper.gemini()
      local strict = setmetatable({}, { __index = function(_, k)
        client:close()
        error("strict: no field " .. tostring(k), 2)
      end })
      local opts = where == "raw" and { raw = { generationConfig = strict } }
        or { tools = { { name = "f", description = "d",
          parameters = { type = "object", properties = { x = strict } } } } }
      local line
      local ok, err = pcall(function()
        line = debug.getinfo(1, "l").currentline; client:connect(opts)
      end)
      assert.is_false(ok, where)
      assert.equal(tostring(line), err:match "^[^:]*session_connect_spec%.lua:(%d+): client closed$", where .. ": " .. err)
      assert.is_false(client:is_open())
    end
  end)

  it("close is idempotent and works through <close> and the collector", function()
    local client = helper.gemini()
    do
      local s <close> = assert(client:connect {})
      s:close()
      s:close()
    end
    for _ = 1, 3 do assert(client:connect {}) end   -- dropped without close
    collectgarbage()
    collectgarbage()
    client:close()
    collectgarbage()
  end)
end)
