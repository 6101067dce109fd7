-- Whole turns over TLS against the simulator: text, audio (manual and automatic activity
-- detection, streamed in real time), images; the message sequence of each.
local helper = require "spec.helper"
local realtime = require "realtime"

local function only_one(count, t)
  assert.equal(1, count[t], ("expected exactly one %s, got %d"):format(t, count[t]))
end

describe("a text turn", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  it("answers in text with one response_created, deltas, the whole text and usage", function()
    local session = assert(client:connect { output_modalities = { "text" } })
    assert(session:send_text "hello there")
    local msgs, count = helper.collect_turn(session)
    only_one(count, "response_created")
    only_one(count, "response_done")
    assert.is_true(count.output_text_delta >= 1)
    local text, done = {}, nil
    for _, m in ipairs(msgs) do
      if m.type == "output_text_delta" then text[#text + 1] = m.text end
      if m.type == "output_text_done" then done = m.text end
      assert.is_table(m.raw)
    end
    assert.equal(table.concat(text), done)
    assert.matches("hello there", done)
    local last = msgs[#msgs]
    assert.equal("completed", last.status)
    for _, m in ipairs(msgs) do
      if m.type == "response_created" then assert.equal(m.response_id, last.response_id) end
    end
    assert.equal("integer", math.type(last.usage.output_tokens))
    assert.is_true(last.usage.total_tokens >= last.usage.output_tokens)
    session:close()
    helper.drain(session)
  end)

  it("an item of several text parts is one user message: one realtimeInput.text, one answer", function()
    local session = assert(client:connect { output_modalities = { "text" } })
    local png = "\137PNG\r\n\26\n" .. string.rep("\0", 16)
    assert(session:send { type = "conversation_item_create", item = { role = "user", content = {
      { type = "text", text = "What is" }, { type = "text", text = " the capital of France?" } } } })
    local answer = helper.reply_text(session)
    assert.matches("the capital of France", answer)
    -- a mixed item: the image splits the texts, the order holds
    assert(session:send { type = "conversation_item_create", item = { role = "user", content = {
      { type = "text", text = "Look" }, { type = "text", text = " here:" }, { type = "image", data = png, mime = "image/png" },
      { type = "text", text = "what is" }, { type = "text", text = " it?" } } } })
    -- one response to each text run ("Look here:", "what is it?"), then one to "ping";
    -- a response to each text part would make more
    assert(session:send_text "ping")
    local created = 0
    repeat
      local m = helper.receive_until(session, { "response_created", "output_text_done" })
      if m.type == "response_created" then created = created + 1 end
    until m.type == "output_text_done" and m.text:find "ping"
    assert.is_true(created <= 3, ("%d responses to two text runs and a ping"):format(created))
    local sent = {}
    for _, r in ipairs(helper.client_messages "realtimeInput") do
      sent[#sent + 1] = r.text or (r.video and "<" .. r.video.mimeType .. ">") or "?"
    end
    assert.same({ "What is the capital of France?", "Look here:", "<image/png>", "what is it?", "ping" }, sent)
    session:close()
    helper.drain(session)
  end)

  it("answers in audio with its rate, the transcript and usage", function()
    local session = assert(client:connect { output_modalities = { "audio" }, transcription = true })
    assert(session:send_text "say something")
    local msgs, count = helper.collect_turn(session)
    only_one(count, "response_created")
    only_one(count, "response_done")
    local pcm = helper.audio_of(msgs)
    assert.is_true(#pcm > 0 and #pcm % 2 == 0)
    for _, m in ipairs(msgs) do
      if m.type == "output_audio_delta" then assert.equal(24000, m.rate) end
    end
    assert.equal(1, count.output_audio_done)
    assert.equal(1, count.output_audio_transcription_done)
    local stats = session:stats()
    assert.is_true(stats.messages_received > 0 and stats.bytes_received > #pcm)
    assert.is_true(stats.bytes_sent > 0)
    -- the text ended the user's turn: the first audio is timed from it
    assert.is_number(stats.first_audio)
    assert.is_true(stats.first_audio >= 0 and stats.first_audio < 10, tostring(stats.first_audio))
    session:close()
    helper.drain(session)
  end)
end)

describe("an audio turn", function()
  local client
  before_each(function() client = helper.gemini() end)
  after_each(function() client:close() end)

  local function stream(session, pcm, chunk_ms, realtime_pace)
    local chunk = 16000 * 2 * chunk_ms // 1000
    for i = 1, #pcm, chunk do
      assert(session:append_audio(pcm:sub(i, i + chunk - 1)))
      if realtime_pace then realtime.sleep(chunk_ms / 1000) end
    end
  end

  it("with manual activity: activityStart, audio, activityEnd, then the reply", function()
    local session = assert(client:connect {
      vad = { enabled = false }, transcription = true, output_modalities = { "audio" } })
    stream(session, helper.tone(0.6), 20, true)
    assert(session:commit_audio())
    local msgs, count = helper.collect_turn(session)
    only_one(count, "response_done")
    assert.is_true(#helper.audio_of(msgs) > 0)
    assert.is_true(count.input_audio_transcription_completed >= 1)
    -- what the server received: activityStart first, activityEnd last, audio in between
    local conns = helper.connections()
    local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
    local kinds = {}
    for _, f in ipairs(frames) do
      if f.dir == "in" then
        if f.text:find '"activityStart"' then kinds[#kinds + 1] = "start"
        elseif f.text:find '"activityEnd"' then kinds[#kinds + 1] = "end"
        elseif f.text:find '"audio"' then
          assert.matches('"mimeType":"audio/pcm;rate=16000"', f.text)
          if kinds[#kinds] ~= "audio" then kinds[#kinds + 1] = "audio" end
        end
      end
    end
    assert.same({ "start", "audio", "end" }, kinds)
    session:close()
    helper.drain(session)
  end)

  it("with automatic detection: the server hears the end of speech in the silence", function()
    local session = assert(client:connect {
      vad = { enabled = true, silence_duration = 0.3 }, transcription = { input = true, output = true } })
    stream(session, helper.tone(0.5, 16000, 0.8), 20, false)
    local msgs, count = helper.collect_turn(session)
    only_one(count, "response_done")
    assert.is_true(#helper.audio_of(msgs) > 0)
    session:close()
    helper.drain(session)
  end)

  it("splits a large append into messages of at most 32,000 bytes of PCM", function()
    local session = assert(client:connect { vad = { enabled = false } })
    assert(session:append_audio(string.rep("\1\0", 40000)))   -- 80,000 bytes
    assert(session:commit_audio())
    helper.collect_turn(session)
    local conns = helper.connections()
    local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
    local sizes = {}
    for _, f in ipairs(frames) do
      local b64 = f.dir == "in" and f.text:match '"data":"([^"]+)"'
      if b64 then sizes[#sizes + 1] = #b64 // 4 * 3 - select(2, b64:gsub("=", "")) end
    end
    assert.same({ 32000, 32000, 16000 }, sizes)
    session:close()
    helper.drain(session)
  end)

  it("refuses odd-length PCM", function()
    local session = assert(client:connect {})
    assert.has_error(function() session:append_audio "\1\2\3" end)
    session:close()
    helper.drain(session)
  end)
end)

describe("an image turn", function()
  it("sends the image as realtime video input and gets a reply", function()
    local client = helper.gemini()
    local session = assert(client:connect { output_modalities = { "text" } })
    local png = "\137PNG\r\n\26\n" .. string.rep("\0", 64)
    assert(session:send_image(png, "image/png"))
    assert(session:send_text "what is in the picture?")
    local msgs, count = helper.collect_turn(session)
    assert.equal(1, count.response_done)
    local conns = helper.connections()
    local frames = helper.sim_get("/_sim/connections/" .. conns[#conns].id .. "/frames").frames
    local saw_video = false
    for _, f in ipairs(frames) do
      if f.dir == "in" and f.text:find '"video"' and f.text:find '"image/png"' then saw_video = true end
    end
    assert.is_true(saw_video)
    assert.is_true(#msgs > 0)
    client:close()
  end)
end)

describe("Vertex AI", function()
  -- "models/ID" is the Gemini spelling; Vertex (and the simulator) closes 1008 on it as is
  it("takes a model given as models/ID as Google's model, with a bearer token and in express mode", function()
    local client = helper.vertex { model = "models/" .. helper.vertex_model }
    local session, err, code = client:connect {}
    assert(session, tostring(err) .. " " .. tostring(code))
    assert.equal("projects/test-project/locations/us-central1/publishers/google/models/" .. helper.vertex_model,
      helper.client_messages("setup")[1].model)
    session:close()
    client:close()
    client = assert(realtime.vertex { api_key = helper.sim_key, base_url = helper.sim_http,
      ca_file = helper.sim_ca })
    session, err, code = client:connect { model = "models/" .. helper.vertex_model }
    assert(session, tostring(err) .. " " .. tostring(code))
    assert.equal("publishers/google/models/" .. helper.vertex_model, helper.client_messages("setup")[1].model)
    session:close()
    client:close()
  end)

  it("connects with a bearer token and reads candidatesTokenCount as output tokens", function()
    local client = helper.vertex()
    local session = assert(client:connect { output_modalities = { "text" } })
    local conns = helper.connections()
    local conn = conns[#conns]
    assert.matches("LlmBidiService/BidiGenerateContent", conn.path)
    assert.matches("^Bearer ", conn.headers.authorization)
    local setup = conn.setup.setup or conn.setup
    assert.equal("projects/test-project/locations/us-central1/publishers/google/models/" .. helper.vertex_model,
      setup.model)
    assert(session:send_text "hello vertex")
    local msgs = helper.collect_turn(session)
    local done = msgs[#msgs]
    assert.equal("response_done", done.type)
    assert.is_true(done.usage.output_tokens > 0)
    client:close()
  end)
end)
