-- Server frames -> neutral messages (core.map_server), on both backends.
local core = require "realtime.core"
local cmp = require "golden.compare"

local function state(backend) return core.map_new { backend = backend or "gemini" } end

-- Feeds frames (Lua tables or JSON text) and returns every message produced.
local function feed(st, ...)
  local all = {}
  for _, frame in ipairs { ... } do
    local text = type(frame) == "table" and core.json_encode(frame, 128) or frame
    local msgs, err, code = core.map_server(st, text)
    assert(msgs, tostring(err) .. " " .. tostring(code))
    for _, m in ipairs(msgs) do
      assert.is_table(m.raw)
      all[#all + 1] = m
    end
  end
  return all
end

local function types(msgs)
  local t = {}
  for i, m in ipairs(msgs) do t[i] = m.type end
  return t
end

local function only(msgs, type_)
  local t = {}
  for _, m in ipairs(msgs) do if m.type == type_ then t[#t + 1] = m end end
  return t
end

local function sc(content) return { serverContent = content } end
local function parts(...) return sc { modelTurn = { parts = { ... } } } end
-- base64 of s, through the image path of map_client
local function b64(s)
  local st = core.map_new { backend = "gemini" }
  local f = core.map_client(st, { type = "conversation_item_create",
    item = { content = { { type = "image", data = s, mime = "image/png" } } } })
  return core.json_decode(f[1]).realtimeInput.video.data
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("map_server (" .. backend .. ")", function()
    it("a text turn: created, deltas, text done, response done with usage", function()
      local st = state(backend)
      local msgs = feed(st,
        parts({ text = "Hel" }), parts({ text = "lo" }),
        sc { generationComplete = true },
        { serverContent = { turnComplete = true },
          usageMetadata = { promptTokenCount = 515, responseTokenCount = 38, totalTokenCount = 553,
            promptTokensDetails = { { modality = "TEXT", tokenCount = 515 } },
            responseTokensDetails = { { modality = "TEXT", tokenCount = 38 } } } })
      cmp.assert_same(types(msgs), { "response_created", "output_text_delta", "output_text_delta",
        "generation_complete", "output_text_done", "response_done" })
      assert.equal("resp_1", msgs[1].response_id)
      assert.equal("resp_1", msgs[4].response_id)
      assert.equal("Hello", msgs[5].text)
      local done = msgs[6]
      assert.equal("completed", done.status)
      assert.equal("resp_1", done.response_id)
      cmp.assert_same(done.usage, { input_tokens = 515, output_tokens = 38, total_tokens = 553,
        input_text_tokens = 515, output_text_tokens = 38, raw = done.raw.usageMetadata })
      assert.equal("integer", math.type(done.usage.input_tokens))
    end)

    it("seed bug 1: generationComplete and turnComplete give one response_done", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "x" }), sc { generationComplete = true }, sc { turnComplete = true })
      assert.equal(1, #only(msgs, "response_created"))
      assert.equal(1, #only(msgs, "response_done"))
      msgs = feed(st, sc { generationComplete = true, turnComplete = true })
      cmp.assert_same(types(msgs), { "response_created", "generation_complete", "response_done" },
        "a bare turnComplete is still one balanced pair")
      assert.equal("resp_2", msgs[3].response_id)
    end)

    it("seed bug 2: usage in the same frame as turnComplete is kept", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "x" }),
        { serverContent = { turnComplete = true }, usageMetadata = { totalTokenCount = 9 } })
      assert.equal(9, only(msgs, "response_done")[1].usage.total_tokens)
    end)

    it("usage arriving alone during the turn goes to its response_done, and closes nothing", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "x" }), { usageMetadata = { totalTokenCount = 7 } },
        parts({ text = "y" }), sc { turnComplete = true })
      cmp.assert_same(types(msgs), { "response_created", "output_text_delta", "output_text_delta",
        "output_text_done", "response_done" })
      assert.equal(7, msgs[5].usage.total_tokens)
      cmp.assert_same(msgs[5].usage.raw, { totalTokenCount = 7 })   -- its frame is no message's raw
    end)

    it("usage with no response in progress is passed on as raw", function()
      cmp.assert_same(types(feed(state(backend), { usageMetadata = { totalTokenCount = 1 } })), { "raw" })
    end)

    it("seed bug 3: Vertex candidatesTokenCount is read as output tokens", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "x" }), { serverContent = { turnComplete = true },
        usageMetadata = { promptTokenCount = 10, candidatesTokenCount = 20, totalTokenCount = 30,
          candidatesTokensDetails = { { modality = "AUDIO", tokenCount = 20 } },
          promptTokensDetails = { { modality = "AUDIO", tokenCount = 4 }, { modality = "TEXT", tokenCount = 6 } },
          thoughtsTokenCount = 3, cachedContentTokenCount = 2 } })
      local done = only(msgs, "response_done")[1]
      cmp.assert_same(done.usage, {
        input_tokens = 10, output_tokens = 20, total_tokens = 30, output_audio_tokens = 20,
        input_audio_tokens = 4, input_text_tokens = 6, reasoning_tokens = 3, cached_input_tokens = 2,
        raw = done.raw.usageMetadata })
    end)

    it("decodes audio into PCM bytes with the rate from the mime type, else 24000", function()
      local st = state(backend)
      local pcm = "\1\2\3\4\5\6"
      local msgs = feed(st,
        parts({ inlineData = { mimeType = "audio/pcm;rate=24000", data = b64(pcm) } }),
        parts({ inlineData = { mimeType = "audio/pcm", data = b64(pcm) } }),
        parts({ inlineData = { mimeType = "audio/pcm; rate=16000", data = b64(pcm) } }),
        sc { turnComplete = true })
      local a = only(msgs, "output_audio_delta")
      assert.equal(3, #a)
      assert.equal(pcm, a[1].audio)
      assert.equal(24000, a[1].rate)
      assert.equal(24000, a[2].rate)
      assert.equal(16000, a[3].rate)
      assert.equal("resp_1", a[1].response_id)
      cmp.assert_same(types(msgs), { "response_created", "output_audio_delta", "output_audio_delta",
        "output_audio_delta", "output_audio_done", "response_done" })
    end)

    it("URL-safe base64 audio is accepted; garbage is a protocol error in its place", function()
      local st = state(backend)
      local msgs = feed(st, parts({ inlineData = { mimeType = "audio/pcm", data = "-_8" } }))
      assert.equal("\251\255", only(msgs, "output_audio_delta")[1].audio)
      msgs = assert(core.map_server(st, core.json_encode(parts({ inlineData = { mimeType = "audio/pcm", data = "*" } },
        { text = "still here" }))))
      cmp.assert_same(types(msgs), { "error", "output_text_delta" })
      assert.equal("protocol", msgs[1].code)
      assert.equal("server audio part is not valid base64 (1 characters): skipped", msgs[1].message)
      assert.equal("resp_1", msgs[1].response_id)
    end)

    it("audio that is not 16-bit PCM is no delta (it would play as noise): an error carries it in raw", function()
      local st = state(backend)
      for _, mime in ipairs { "audio/ogg", "audio/pcmu;rate=8000", "audio/PCMA" } do
        local frame = parts({ inlineData = { mimeType = mime, data = b64("\1\2\3\4") } }, { text = "still here" })
        local msgs = assert(core.map_server(st, core.json_encode(frame)))
        local t = types(msgs)
        if t[1] == "response_created" then table.remove(t, 1); table.remove(msgs, 1) end
        cmp.assert_same(t, { "error", "output_text_delta" })
        assert.equal("protocol", msgs[1].code)
        assert.equal("server audio '" .. mime .. "' is not 16-bit PCM (audio/pcm): no output_audio_delta "
          .. "for it; its data is in this message's raw", msgs[1].message)
        assert.equal(b64("\1\2\3\4"), msgs[1].raw.serverContent.modelTurn.parts[1].inlineData.data)
      end
      -- "audio/pcm" with parameters, in any case, is PCM
      local msgs = feed(st, parts({ inlineData = { mimeType = "AUDIO/PCM;rate=16000", data = b64("\1\2") } }))
      assert.equal(16000, only(msgs, "output_audio_delta")[1].rate)
      -- a NUL byte would end the type early (its rate unread): not taken as PCM either
      msgs = assert(core.map_server(st, core.json_encode(parts({ inlineData = {
        mimeType = "audio/pcm\0;rate=8000", data = b64("\1\2") } }))))
      assert.same({}, only(msgs, "output_audio_delta"))
      assert.matches("is not 16%-bit PCM", only(msgs, "error")[1].message)
    end)

    it("seed bug 6: thought parts become reasoning_delta, never output text", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "thinking...", thought = true }, { text = "Answer" }),
        sc { turnComplete = true })
      cmp.assert_same(types(msgs), { "response_created", "reasoning_delta", "output_text_delta",
        "output_text_done", "response_done" })
      assert.equal("thinking...", msgs[2].text)
      assert.equal("Answer", msgs[4].text)
    end)

    it("seed bug 5: input transcription deltas, then one completed with the whole text", function()
      local st = state(backend)
      local msgs = feed(st,
        sc { inputTranscription = { text = "What is " } },
        sc { inputTranscription = { text = "the time?", finished = true } },
        sc { inputTranscription = { text = "And" } },
        sc { inputTranscription = { text = " then" } },
        parts({ text = "x" }), sc { turnComplete = true })
      cmp.assert_same(types(msgs), { "input_audio_transcription_delta", "input_audio_transcription_delta",
        "input_audio_transcription_completed", "input_audio_transcription_delta",
        "input_audio_transcription_delta", "response_created", "output_text_delta",
        "input_audio_transcription_completed", "output_text_done", "response_done" })
      assert.equal("What is the time?", msgs[3].text)
      assert.equal("And then", msgs[8].text)
    end)

    it("output transcription: deltas and a done with the whole transcript", function()
      local st = state(backend)
      local msgs = feed(st, sc { outputTranscription = {} }, sc { outputTranscription = { text = "We" } },
        sc { outputTranscription = { text = " go" } }, sc { turnComplete = true })
      cmp.assert_same(types(msgs), { "response_created", "output_audio_transcription_delta",
        "output_audio_transcription_delta", "output_audio_transcription_done", "response_done" })
      assert.equal("We go", msgs[4].text)
    end)

    describe("transcript details (languageCode, speakerLabel, words)", function()
      local function word(w, s, e) return { word = w, startOffset = s, endOffset = e } end

      it("a delta carries language, speaker and words in seconds; completed gathers them", function()
        local st = state(backend)
        local msgs = feed(st,
          sc { inputTranscription = { text = "book a", languageCode = "en-US", speakerLabel = "spk-1",
            words = { word("book", "0.120s", "0.480s"), word("a", "0.5s", "0.6s") } } },
          sc { inputTranscription = { text = " table" } },
          sc { inputTranscription = { text = " now", speakerLabel = "spk-2", finished = true,
            words = { word("table", "0.7s", "1.1s"), word("now", "1.2s", "1.5s") } } })
        cmp.assert_same(types(msgs), { "input_audio_transcription_delta", "input_audio_transcription_delta",
          "input_audio_transcription_delta", "input_audio_transcription_completed" })
        local d = msgs[1]
        assert.equal("en-US", d.language)
        assert.equal("spk-1", d.speaker)
        cmp.assert_same({ { word = "book", start = 0.12, stop = 0.48 }, { word = "a", start = 0.5, stop = 0.6 } },
          d.words)
        -- a piece without details has none
        assert.is_nil(msgs[2].language)
        assert.is_nil(msgs[2].words)
        -- the whole transcript: every word in order, the last language and speaker given
        local c = msgs[4]
        assert.equal("book a table now", c.text)
        assert.equal("en-US", c.language)
        assert.equal("spk-2", c.speaker)
        cmp.assert_same({ "book", "a", "table", "now" }, (function()
          local t = {}
          for i, w in ipairs(c.words) do t[i] = w.word end
          return t
        end)())
        assert.equal(1.5, c.words[4].stop)
        -- the next transcript starts without them
        msgs = feed(st, sc { inputTranscription = { text = "again", finished = true } })
        assert.is_nil(msgs[2].language)
        assert.is_nil(msgs[2].speaker)
        assert.is_nil(msgs[2].words)
      end)

      it("a piece without text still counts toward the completed transcript", function()
        local st = state(backend)
        local msgs = feed(st, sc { inputTranscription = { text = "hi" } },
          sc { inputTranscription = { finished = true, languageCode = "de-DE",
            words = { word("hi", "0s", "0.25s") } } })
        cmp.assert_same(types(msgs), { "input_audio_transcription_delta", "input_audio_transcription_completed" })
        assert.equal("de-DE", msgs[2].language)
        cmp.assert_same({ { word = "hi", start = 0, stop = 0.25 } }, msgs[2].words)
      end)

      it("output transcripts carry them too, and done gathers them per response", function()
        local st = state(backend)
        local msgs = feed(st,
          sc { outputTranscription = { text = "We", languageCode = "fr-FR", words = { word("We", "0s", "0.2s") } } },
          sc { outputTranscription = { text = " go", speakerLabel = "model" } }, sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "response_created", "output_audio_transcription_delta",
          "output_audio_transcription_delta", "output_audio_transcription_done", "response_done" })
        assert.equal("fr-FR", msgs[2].language)
        assert.equal("resp_1", msgs[2].response_id)
        local done = msgs[4]
        assert.equal("We go", done.text)
        assert.equal("fr-FR", done.language)
        assert.equal("model", done.speaker)
        cmp.assert_same({ { word = "We", start = 0, stop = 0.2 } }, done.words)
        msgs = feed(st, sc { outputTranscription = { text = "Next" } }, sc { turnComplete = true })
        assert.equal("output_audio_transcription_done", msgs[3].type)
        assert.is_nil(msgs[3].language)
        assert.is_nil(msgs[3].words)
      end)

      it("a bad detail is reported as a protocol error and left out; the rest comes through", function()
        local st = state(backend)
        local msgs = feed(st, sc { inputTranscription = { text = "one two three four five", languageCode = 7,
          speakerLabel = { "x" },
          words = { word("one", "0.1s", "0.2s"), "two", { startOffset = "0.3s" }, word(3, "0.5s", "0.6s"),
            word("four", "soon", "0.8s"), word("five", "0.9s", -1) } } })
        local errors = only(msgs, "error")
        local expect = {
          "serverContent.inputTranscription.languageCode is a number, not a string: left out",
          "serverContent.inputTranscription.speakerLabel is an array, not a string: left out",
          "serverContent.inputTranscription.words[2] is a string, not an object: left out",
          "serverContent.inputTranscription.words[3] has no word: left out",
          "serverContent.inputTranscription.words[4].word is a number, not a string: left out",
          "serverContent.inputTranscription.words[5].startOffset is 'soon', not a duration such as \"1.5s\": left out",
          "serverContent.inputTranscription.words[6].endOffset is a number, not a duration such as \"1.5s\": left out",
        }
        assert.equal(#expect, #errors)
        for i, e in ipairs(errors) do
          assert.equal("protocol", e.code)
          assert.equal(expect[i], e.message)
        end
        local d = only(msgs, "input_audio_transcription_delta")[1]
        assert.equal("one two three four five", d.text)
        assert.is_nil(d.language)
        assert.is_nil(d.speaker)
        cmp.assert_same({ { word = "one", start = 0.1, stop = 0.2 } }, d.words)
      end)

      it("words that are not an array are reported; a word without offsets keeps its text", function()
        local st = state(backend)
        local msgs = feed(st, sc { inputTranscription = { text = "a", words = { word = "a" } } },
          sc { inputTranscription = { text = " b", words = { { word = "b" } } } })
        cmp.assert_same(types(msgs), { "error", "input_audio_transcription_delta", "input_audio_transcription_delta" })
        assert.equal("serverContent.inputTranscription.words is an object, not an array: left out", msgs[1].message)
        assert.is_nil(msgs[2].words)
        cmp.assert_same({ { word = "b" } }, msgs[3].words)
      end)
    end)

    it("seed bug 4: interrupted is surfaced and the response ends cancelled", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "long answer" }), sc { interrupted = true }, sc { turnComplete = true })
      cmp.assert_same(types(msgs), { "response_created", "output_text_delta", "interrupted",
        "output_text_done", "response_done" })
      assert.equal("resp_1", msgs[3].response_id)
      assert.equal("cancelled", msgs[5].status)
      -- the next response is clean
      msgs = feed(st, parts({ text = "y" }), sc { turnComplete = true })
      assert.equal("completed", msgs[#msgs].status)
    end)

    it("a cut-short turn ends incomplete with its reason", function()
      local msgs = feed(state(backend), parts({ text = "x" }),
        sc { turnComplete = true, turnCompleteReason = "RESPONSE_REJECTED" })
      assert.equal("incomplete", msgs[#msgs].status)
      assert.equal("RESPONSE_REJECTED", msgs[#msgs].reason)
    end)

    it("seed bug 4: goAway surfaces time_left in seconds", function()
      local st = state(backend)
      assert.equal(10, feed(st, { goAway = { timeLeft = "10s" } })[1].time_left)
      assert.equal(1.5, feed(st, { goAway = { timeLeft = "1.500s" } })[1].time_left)
      local m = feed(st, { goAway = {} })[1]
      assert.equal("go_away", m.type)
      assert.is_nil(m.time_left)
    end)

    it("seed bug 4: sessionResumptionUpdate surfaces the handle", function()
      local st = state(backend)
      local m = feed(st, { sessionResumptionUpdate = { newHandle = "h1", resumable = true,
        lastConsumedClientMessageIndex = "42" } })[1]
      assert.equal("session_resumption_update", m.type)
      assert.equal("h1", m.handle)
      assert.is_true(m.resumable)
      assert.equal(42, m.last_consumed_index)
      assert.equal("h1", st.resumption_handle)
      m = feed(st, { sessionResumptionUpdate = { newHandle = "", resumable = false } })[1]
      assert.is_nil(m.handle)
      assert.is_false(m.resumable)
      assert.equal("h1", st.resumption_handle, "an empty handle keeps the last good one")
    end)

    describe("tool calls", function()
      it("each call is an output item, added then done, with decoded integer arguments", function()
        local st = state(backend)
        local msgs = feed(st, '{"toolCall":{"functionCalls":[{"id":"c1","name":"get_weather","args":{"city":"Paris","days":3,"ratio":0.5,"list":[1,2.0]}},{"id":"c2","name":"noargs"}]}}')
        cmp.assert_same(types(msgs), { "response_created", "response_output_item_added",
          "response_output_item_done", "response_output_item_added", "response_output_item_done",
          "response_done" })
        local item = msgs[3].item
        assert.equal("c1", item.id)
        assert.equal("assistant", item.role)
        local c = item.content[1]
        assert.equal("function_call", c.type)
        assert.equal("c1", c.call_id)
        assert.equal("get_weather", c.name)
        cmp.assert_same(c.arguments, { city = "Paris", days = 3, ratio = 0.5, list = { 1, 2 } })
        assert.equal("integer", math.type(c.arguments.days))
        assert.equal("integer", math.type(c.arguments.list[2]))
        cmp.assert_same(msgs[5].item.content[1].arguments, {})
        assert.equal("get_weather", st.calls.c1)
      end)

      it("seed bug 13: a call without an id gets a generated one", function()
        local st = state(backend)
        local msgs = feed(st, { toolCall = { functionCalls = { { name = "f" }, { name = "g" } } } })
        assert.equal("call_1", msgs[2].item.id)
        assert.equal("call_2", msgs[4].item.id)
        assert.is_true(st.generated_ids.call_1)
      end)

      it("a call whose arguments nest deeper than 64 levels is a protocol error, not a call", function()
        local args = {}
        local t = args
        for _ = 1, 64 do t.x = {}; t = t.x end
        local msgs = feed(state(backend),
          core.json_encode({ toolCall = { functionCalls = { { id = "c", name = "f", args = args } } } }, 128))
        -- the model waits for an answer: its response ends, incomplete; the error is in it
        cmp.assert_same(types(msgs), { "response_created", "error", "response_done" })
        assert.equal("toolCall.functionCalls[1]: args nest deeper than 64 levels: that call cannot be answered",
          msgs[2].message)
        assert.equal("protocol", msgs[2].code)
        assert.equal(msgs[1].response_id, msgs[2].response_id)
        assert.equal("incomplete", msgs[3].status)
      end)

      it("a tool call ends its response; what follows the results is a new response", function()
        local st = state(backend)
        local msgs = feed(st, parts({ text = "Let me check." }),
          { toolCall = { functionCalls = { { id = "c1", name = "f", args = {} } } } })
        cmp.assert_same(types(msgs), { "response_created", "output_text_delta",
          "response_output_item_added", "response_output_item_done", "output_text_done", "response_done" })
        assert.equal("completed", msgs[6].status)
        assert.is_nil(st.response_id)
        msgs = feed(st, sc { generationComplete = true }, parts({ text = "It rains." }), sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "generation_complete", "response_created", "output_text_delta",
          "output_text_done", "response_done" })
        assert.equal("resp_1", msgs[1].response_id, "generationComplete after a toolCall belongs to its response")
        assert.equal("resp_2", msgs[5].response_id)
      end)

      it("a turnComplete right after a tool-call response closes nothing more (it comes out as raw)", function()
        local st = state(backend)
        feed(st, { toolCall = { functionCalls = { { id = "c1", name = "f", args = {} } } } })
        local msgs = feed(st, sc { generationComplete = true }, sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "generation_complete", "raw" })
        assert.is_true(msgs[2].raw.serverContent.turnComplete)
        -- but the next bare turnComplete is a turn of its own again
        cmp.assert_same(types(feed(st, sc { turnComplete = true })), { "response_created", "response_done" })
      end)

      it("usage in the toolCall frame goes to that response_done", function()
        local msgs = feed(state(backend), { toolCall = { functionCalls = { { id = "c1", name = "f" } } },
          usageMetadata = { totalTokenCount = 5 } })
        assert.equal(5, msgs[#msgs].usage.total_tokens)
      end)

      it("streamed arguments (partialArgs): deltas with what is known so far, then the call put together", function()
        local st = state(backend)
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local msgs = feed(st,
          piece { id = "c1", name = "book", willContinue = true, partialArgs = {
            { jsonPath = "$.city", stringValue = "San ", willContinue = true } } },
          piece { id = "c1", willContinue = true, partialArgs = {
            { jsonPath = "$.city", stringValue = "Francisco" },
            { jsonPath = "$.nights", numberValue = 3 } } },
          piece { id = "c1", willContinue = true, partialArgs = {
            { jsonPath = "$.guests[0].name", stringValue = "Ann" },
            { jsonPath = "$.guests[1]['full name']", stringValue = "Bo B" },
            { jsonPath = "$.late", boolValue = true }, { jsonPath = "$.note", nullValue = "NULL_VALUE" } } },
          piece { id = "c1", name = "book" })
        cmp.assert_same(types(msgs), { "response_created", "function_call_arguments_delta",
          "function_call_arguments_delta", "function_call_arguments_delta",
          "response_output_item_added", "response_output_item_done", "response_done" })
        cmp.assert_same(msgs[2].arguments, { city = "San " })
        assert.equal("book", msgs[2].name)
        assert.equal("c1", msgs[2].call_id)
        assert.equal("book", msgs[3].name)
        cmp.assert_same(msgs[3].arguments, { city = "San Francisco", nights = 3 })
        assert.equal("integer", math.type(msgs[3].arguments.nights))
        local want = { city = "San Francisco", nights = 3, late = true, note = core.json_null,
          guests = { { name = "Ann" }, { ["full name"] = "Bo B" } } }
        cmp.assert_same(msgs[4].arguments, want)
        local call = msgs[6].item.content[1]
        assert.equal("c1", call.call_id)
        assert.equal("book", call.name)
        cmp.assert_same(call.arguments, want)
        assert.equal("book", st.calls.c1)
        assert.is_nil(st.streams.c1, "the stream is over")
      end)

      it("streamed pieces without ids belong to the call being streamed; whole args win", function()
        local st = state(backend)
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local msgs = feed(st,
          piece { name = "f", willContinue = true, partialArgs = { { jsonPath = "$.a", stringValue = "x" } } },
          piece { willContinue = false, partialArgs = { { jsonPath = "$.b", numberValue = 1.5 } } })
        assert.equal("call_1", msgs[2].call_id)
        local call = msgs[#msgs - 1].item.content[1]
        assert.equal("call_1", call.call_id)
        assert.equal("f", call.name)
        cmp.assert_same(call.arguments, { a = "x", b = 1.5 })
        msgs = feed(st, piece { id = "c2", name = "g", willContinue = true,
          partialArgs = { { jsonPath = "$.a", stringValue = "part" } } },
          piece { id = "c2", name = "g", args = { a = "whole" } })
        cmp.assert_same(msgs[#msgs - 1].item.content[1].arguments, { a = "whole" })
      end)

      it("the simulator's sequence: a bare first piece, fragments, a bare last piece; $[\"key\"] paths", function()
        local st = state(backend)
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local msgs = feed(st, parts({ text = "One moment." }),
          piece { id = "u1", name = "f", willContinue = true },
          piece { id = "u1", name = "f", willContinue = true, partialArgs = {
            { jsonPath = '$["odd key"]', stringValue = "ab", willContinue = true } } },
          piece { id = "u1", name = "f", willContinue = true, partialArgs = {
            { jsonPath = '$["odd key"]', stringValue = "cd" } } },
          piece { id = "u1", name = "f", willContinue = true, partialArgs = {
            { jsonPath = '$["say \\"hi\\""]', boolValue = false } } },
          piece { id = "u1", name = "f" })
        cmp.assert_same(types(msgs), { "response_created", "output_text_delta",
          "function_call_arguments_delta", "function_call_arguments_delta", "function_call_arguments_delta",
          "function_call_arguments_delta", "response_output_item_added", "response_output_item_done",
          "output_text_done", "response_done" })
        cmp.assert_same(msgs[3].arguments, {}, "the first piece announces the call")
        cmp.assert_same(msgs[8].item.content[1].arguments, { ["odd key"] = "abcd", ['say "hi"'] = false })
      end)

      it("a partial argument with an unreadable path is a protocol error; the stream ends", function()
        local st = state(backend)
        local msgs = feed(st, { toolCall = { functionCalls = {
          { id = "c", name = "f", willContinue = true, partialArgs = { { jsonPath = "city", stringValue = "x" } } } } } })
        cmp.assert_same(types(msgs), { "response_created", "error" })
        assert.equal("function call 'f': cannot read the argument path 'city': that call cannot be answered",
          msgs[2].message)
        assert.equal("protocol", msgs[2].code)
        assert.is_nil(st.streams.c)
        assert.equal("c", st.stream_last, "its pieces without an id are still its own")
        -- the arguments are an object: a path may not index them as an array
        msgs = feed(state(backend), { toolCall = { functionCalls = {
          { id = "d", name = "f", partialArgs = { { jsonPath = "$[999999]", stringValue = "x" } } } } } })
        -- its last piece (no willContinue): the response ends there, incomplete
        cmp.assert_same(types(msgs), { "response_created", "error", "response_done" })
        assert.equal("incomplete", msgs[3].status)
        assert.equal("function call 'f': cannot read the argument path '$[999999]': that call cannot be answered",
          msgs[2].message)
      end)

      it("a stream reported as not answerable ignores its later pieces: no item, no handler", function()
        -- its later pieces started a fresh stream: the handler got {nights = 3}, city lost
        local st = state(backend)
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local msgs = feed(st,
          piece { id = "a", name = "book", willContinue = true, partialArgs = { { jsonPath = "$.city", stringValue = "Paris" } } },
          piece { id = "a", name = "book", willContinue = true, partialArgs = { { jsonPath = "$.items[*]", stringValue = "q" } } },
          piece { id = "a", name = "book", willContinue = true, partialArgs = { { jsonPath = "$.nights", numberValue = 3 } } },
          piece { name = "book", willContinue = true, partialArgs = { { jsonPath = "$.guests", numberValue = 2 } } })
        assert.equal(1, #only(msgs, "error"))
        assert.matches("cannot read the argument path '%$%.items%[%*%]': that call cannot be answered", only(msgs, "error")[1].message)
        assert.equal(1, #only(msgs, "function_call_arguments_delta"), "none after the error")
        assert.equal(0, #only(msgs, "response_output_item_done"))
        assert.equal(0, #only(msgs, "response_done"), "the stream goes on")
        assert.is_nil(next(st.streams))
        -- its last piece ends the response, with no call answered
        msgs = feed(st, piece { id = "a", name = "book" })
        cmp.assert_same(types(msgs), { "response_done" })
        assert.equal("incomplete", msgs[1].status)
        assert.is_nil(st.calls.a)
        assert.is_nil(st.stream_last)
        -- a later call under the same id is a call of its own again
        msgs = feed(st, piece { id = "a", name = "book", args = { city = "Rome" } })
        cmp.assert_same(only(msgs, "response_output_item_done")[1].item.content[1].arguments, { city = "Rome" })
      end)

      it("a stream still open at turnComplete or an interruption is reported, not answered, and does not leak into a later call", function()
        local st = state(backend)
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local msgs = feed(st,
          piece { id = "a", name = "book", willContinue = true, partialArgs = { { jsonPath = "$.city", stringValue = "Paris" } } },
          sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "response_created", "function_call_arguments_delta", "error", "response_done" })
        assert.equal("function call 'book' (id 'a'): the turn ended before the rest of its streamed arguments came: "
          .. "that call cannot be answered", msgs[3].message)
        assert.equal("protocol", msgs[3].code)
        assert.equal(msgs[1].response_id, msgs[3].response_id)
        assert.equal("incomplete", msgs[4].status)
        assert.is_nil(next(st.streams))
        assert.is_nil(st.stream_last)
        -- an id-less call of a later turn is a call of its own
        msgs = feed(st,
          piece { name = "book", willContinue = true, partialArgs = { { jsonPath = "$.nights", numberValue = 2 } } },
          piece { name = "book" })
        local call = only(msgs, "response_output_item_done")[1].item.content[1]
        assert.are_not.equal("a", call.call_id)
        cmp.assert_same(call.arguments, { nights = 2 })
        -- an interruption cuts the stream the same way; the response ends "cancelled"
        msgs = feed(st,
          piece { id = "b", name = "book", willContinue = true, partialArgs = { { jsonPath = "$.city", stringValue = "Oslo" } } },
          sc { interrupted = true }, sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "response_created", "function_call_arguments_delta", "error", "interrupted",
          "response_done" })
        assert.matches("^function call 'book' %(id 'b'%): the turn ended", msgs[3].message)
        assert.equal("cancelled", msgs[5].status)
        assert.is_nil(next(st.streams))
      end)

      it("a call withdrawn in the middle of its stream gives no item afterwards", function()
        local st = state(backend)
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local msgs = feed(st,
          piece { id = "a", name = "f", willContinue = true, partialArgs = { { jsonPath = "$.a", stringValue = "x" } } },
          { toolCallCancellation = { ids = { "a" } } },
          piece { id = "a", name = "f", willContinue = true, partialArgs = { { jsonPath = "$.b", stringValue = "y" } } },
          piece { id = "a", name = "f" })
        assert.equal(1, #only(msgs, "function_call_arguments_delta"))
        assert.equal(0, #only(msgs, "response_output_item_added"))
        assert.equal(0, #only(msgs, "response_output_item_done"))
        assert.equal(1, #only(msgs, "response_created"))
        assert.equal(1, #only(msgs, "response_done"))
        assert.is_nil(st.calls.a)
      end)

      it("two streamed calls of one turn are one response, interleaved or not", function()
        local function piece(t) return { toolCall = { functionCalls = { t } } } end
        local st = state(backend)
        local msgs = feed(st,
          piece { id = "a", name = "f", willContinue = true },
          piece { id = "b", name = "g", willContinue = true },
          piece { id = "a", name = "f", willContinue = true, partialArgs = { { jsonPath = "$.x", stringValue = "A" } } },
          piece { id = "b", name = "g", willContinue = true, partialArgs = { { jsonPath = "$.x", stringValue = "B1", willContinue = true } } },
          piece { id = "a", name = "f" },
          piece { id = "b", name = "g", willContinue = true, partialArgs = { { jsonPath = "$.x", stringValue = "B2" } } },
          piece { id = "b", name = "g" })
        assert.equal(1, #only(msgs, "response_created"))
        assert.equal(1, #only(msgs, "response_done"))
        assert.equal("response_done", msgs[#msgs].type)
        for _, m in ipairs(msgs) do assert.equal("resp_1", m.response_id, m.type) end
        local done = only(msgs, "response_output_item_done")
        cmp.assert_same(done[2].item.content[1].arguments, { x = "B1B2" })
        -- one after the other: the first one's last piece does not end the response
        msgs = feed(st, sc { turnComplete = true },
          { toolCall = { functionCalls = { { id = "c", name = "f", willContinue = true }, { id = "d", name = "g", willContinue = true } } } },
          piece { id = "c", name = "f" },
          piece { id = "d", name = "g" })
        assert.equal(1, #only(msgs, "response_created"))
        assert.equal(1, #only(msgs, "response_done"))
        assert.equal("completed", only(msgs, "response_done")[1].status)
      end)

      it("a string streamed in many pieces is put together whole; past 4 KiB its deltas come as it grows by an eighth", function()
        -- joining each piece to what came before cost n^2 / 2 copies: 64,000 pieces of
        -- 100 bytes took minutes; now a delta copies the string only once it grew enough
        local st = state(backend)
        local n, deltas, whole = 20000, 0, {}
        for i = 1, n do
          local text = ("%05d"):format(i) .. string.rep("x", 95)
          whole[i] = text
          local msgs = assert(core.map_server(st, core.json_encode({ toolCall = { functionCalls = {
            { id = "s", name = "g", willContinue = i < n,
              partialArgs = { { jsonPath = "$.text", stringValue = text, willContinue = i < n } } } } } })))
          for _, m in ipairs(msgs) do
            if m.type == "function_call_arguments_delta" then
              deltas = deltas + 1
              -- each delta holds every piece so far, in order
              assert.equal(i * 100, #m.arguments.text)
              if i <= 40 then assert.equal(deltas, i) end   -- short: a delta per piece
            elseif m.type == "response_output_item_done" then
              assert.equal(table.concat(whole), m.item.content[1].arguments.text)
            end
          end
        end
        assert.is_true(deltas < 200, deltas)   -- geometric: about 8 ln(2 MB / 4 KiB), not 20,000
        assert.equal("g", st.calls.s)
      end)

      it("a failed call beside a stream that goes on leaves the response open until the stream ends", function()
        local st = state(backend)
        local msgs = feed(st, { toolCall = { functionCalls = {
          { id = "bad", name = "f", args = 7 },
          { id = "s", name = "g", willContinue = true, partialArgs = { { jsonPath = "$.city", stringValue = "Par" } } } } } })
        assert.equal(0, #only(msgs, "response_done"))
        assert.equal(1, #only(msgs, "error"))
        msgs = feed(st, { toolCall = { functionCalls = {
          { id = "s", name = "g", partialArgs = { { jsonPath = "$.city", stringValue = "is" } } } } } })
        local done = only(msgs, "response_done")
        assert.equal(1, #done)
        assert.equal("completed", done[1].status)
        assert.equal(0, #only(msgs, "response_created"))
      end)

      it("partialArgs that is not an array of objects is a protocol error, not pieces skipped", function()
        for _, case in ipairs {
          { { jsonPath = "$.city", stringValue = "x" }, "partialArgs is an object, not an array" },
          { { { jsonPath = "$.city", stringValue = "x" }, 7 }, "partialArgs%[2%] is a number, not an object" },
          { "city=x", "partialArgs is a string, not an array" },
        } do
          local st = state(backend)
          local msgs = feed(st, { toolCall = { functionCalls = {
            { id = "c", name = "f", willContinue = true, partialArgs = case[1] } } } })
          local errs = only(msgs, "error")
          assert.equal(1, #errs)
          assert.matches("^function call 'f': " .. case[2] .. ": that call cannot be answered$", errs[1].message)
          assert.equal(0, #only(msgs, "function_call_arguments_delta"))
          assert.is_nil(st.streams.c)
        end
      end)

      it("a lone surrogate in the model's output is reported inside its response, after response_created", function()
        -- it was raised while the JSON was decoded: before response_created, with no response_id
        local msgs = feed(state(backend), '{"serverContent":{"modelTurn":{"parts":[{"text":"x\\ud83c"}]}}}')
        cmp.assert_same(types(msgs), { "response_created", "error", "output_text_delta" })
        assert.equal("resp_1", msgs[2].response_id)
        assert.matches("^serverContent%.modelTurn%.parts%[1%]%.text holds a lone surrogate", msgs[2].message)
        msgs = feed(state(backend), '{"toolCall":{"functionCalls":[{"id":"c1","name":"f","args":{"a":"\\udc00"}}]}}')
        cmp.assert_same(types(msgs), { "response_created", "error", "response_output_item_added",
          "response_output_item_done", "response_done" })
        assert.equal("resp_1", msgs[2].response_id)
        -- one outside the model's output opens no response
        msgs = feed(state(backend), '{"sessionResumptionUpdate":{"newHandle":"a\\ud800b","resumable":true}}')
        assert.equal(0, #only(msgs, "response_created"))
      end)

      it("tool_call_cancellation lists the ids", function()
        local msgs = feed(state(backend), { toolCallCancellation = { ids = { "a", "b" } } })
        cmp.assert_same(types(msgs), { "tool_call_cancellation" })
        cmp.assert_same(msgs[1].call_ids, { "a", "b" })
      end)
    end)

    it("a later setupComplete comes out as raw", function()
      local msgs = feed(state(backend), { setupComplete = { sessionId = "x" } })
      cmp.assert_same(types(msgs), { "raw" })
      assert.equal("x", msgs[1].raw.setupComplete.sessionId)
    end)

    it("a transcription session passes on only the input transcript and the lifecycle", function()
      local st = state(backend)
      core.map_setup(st, { model = "m", kind = "transcription" })
      local msgs = feed(st,
        sc { inputTranscription = { text = "Hello" } },
        parts({ text = "Hi! How can I help?" }),
        sc { inputTranscription = { text = " there", finished = true } },
        { serverContent = { turnComplete = true }, usageMetadata = { totalTokenCount = 3 } },
        { voiceActivity = { type = "ACTIVITY_END" } },
        { sessionResumptionUpdate = { newHandle = "h", resumable = true } },
        { goAway = { timeLeft = "5s" } })
      cmp.assert_same(types(msgs), { "input_audio_transcription_delta", "input_audio_transcription_delta",
        "input_audio_transcription_completed", "input_audio_buffer_speech_stopped",
        "session_resumption_update", "go_away" })
      assert.equal("Hello there", msgs[3].text)
    end)

    it("a transcription session passes on the mapping's own errors too", function()
      local st = state(backend)
      core.map_setup(st, { model = "m", kind = "transcription" })
      local msgs = feed(st, sc { inputTranscription = { text = 5 } }, { goAway = { timeLeft = "abc" } })
      cmp.assert_same(types(msgs), { "error", "error", "go_away" })
      assert.equal("protocol", msgs[1].code)
      assert.matches("serverContent.inputTranscription.text", msgs[1].message, 1, true)
    end)

    describe("nothing is dropped", function()
      it("code execution parts: code_execution and code_execution_result in the response", function()
        local st = state(backend)
        local msgs = feed(st,
          parts({ executableCode = { language = "PYTHON", code = "print(6*7)" } }),
          parts({ codeExecutionResult = { outcome = "OUTCOME_OK", output = "42\n" } }, { text = "42." }),
          sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "response_created", "code_execution", "code_execution_result",
          "output_text_delta", "output_text_done", "response_done" })
        assert.equal("PYTHON", msgs[2].language)
        assert.equal("print(6*7)", msgs[2].code)
        assert.equal("OUTCOME_OK", msgs[3].outcome)
        assert.equal("42\n", msgs[3].output)
        for i = 2, 3 do assert.equal("resp_1", msgs[i].response_id) end
      end)

      it("an executableCode part before a toolCall stays in the tool call's response", function()
        local st = state(backend)
        local msgs = feed(st, parts({ executableCode = { language = "PYTHON", code = "default_api.f()" } }),
          { toolCall = { functionCalls = { { id = "c1", name = "f", args = {} } } } })
        cmp.assert_same(types(msgs), { "response_created", "code_execution", "response_output_item_added",
          "response_output_item_done", "response_done" })
      end)

      it("groundingMetadata alone is a grounding message of the response", function()
        local st = state(backend)
        local meta = { webSearchQueries = { "weather Paris" },
          groundingChunks = { { web = { uri = "https://example.com", title = "Example" } } } }
        local msgs = feed(st, sc { groundingMetadata = meta }, parts({ text = "Sunny." }),
          sc { turnComplete = true })
        cmp.assert_same(types(msgs), { "response_created", "grounding", "output_text_delta",
          "output_text_done", "response_done" })
        cmp.assert_same(msgs[2].metadata, meta)
        assert.equal("resp_1", msgs[2].response_id)
      end)

      it("waitingForInput is waiting_for_input, inside the model's (silent) turn", function()
        local msgs = feed(state(backend), parts({ text = "Hm?" }), sc { turnComplete = true, waitingForInput = true })
        cmp.assert_same(types(msgs), { "response_created", "output_text_delta", "waiting_for_input",
          "output_text_done", "response_done" })
        -- as the simulator sends it: alone, then a bare turnComplete
        msgs = feed(state(backend), sc { waitingForInput = true }, { serverContent = { turnComplete = true },
          usageMetadata = { totalTokenCount = 4 } })
        cmp.assert_same(types(msgs), { "response_created", "waiting_for_input", "response_done" })
        assert.equal(msgs[1].response_id, msgs[2].response_id)
        assert.equal(4, msgs[3].usage.total_tokens)
      end)

      it("a frame that maps to nothing is raw: urlContextMetadata alone, a non-audio blob", function()
        local st = state(backend)
        local msgs = feed(st, sc { urlContextMetadata = { urlMetadata = { { retrievedUrl = "https://x" } } } })
        cmp.assert_same(types(msgs), { "raw" })
        assert.equal("https://x", msgs[1].raw.serverContent.urlContextMetadata.urlMetadata[1].retrievedUrl)
        msgs = feed(st, { voiceActivityDetectionSignal = { vadSignalType = "VAD_SIGNAL_TYPE_UNSPECIFIED" } })
        cmp.assert_same(types(msgs), { "raw" })
      end)

      it("an empty outputTranscription opens the response (Vertex starts turns with one)", function()
        local msgs = feed(state(backend), sc { outputTranscription = {} })
        cmp.assert_same(types(msgs), { "response_created" })
      end)

      it("every frame of a real Vertex session gives a message", function()
        local st = state(backend)
        local frames = {
          '{\n  "serverContent": {\n    "outputTranscription": {}\n  }\n}\n',
          { serverContent = { modelTurn = { role = "model", parts = { { inlineData = { mimeType = "audio/pcm", data = "AAA=" } } } } } },
          { serverContent = { outputTranscription = { text = "We" } } },
          { serverContent = { generationComplete = true } },
          { serverContent = { turnComplete = true }, usageMetadata = { promptTokenCount = 3, candidatesTokenCount = 4,
            totalTokenCount = 7, candidatesTokensDetails = { { modality = "AUDIO", tokenCount = 4 } } } },
          { sessionResumptionUpdate = { newHandle = "h", resumable = true, lastConsumedClientMessageIndex = "2" } },
        }
        for i, f in ipairs(frames) do
          assert.is_true(#feed(st, f) > 0, "frame " .. i .. " gave no message")
        end
      end)
    end)

    it("unknown messages come out as raw", function()
      local msgs = feed(state(backend), { laterSignal = { type = "ACTIVITY_START" } })
      cmp.assert_same(types(msgs), { "raw" })
      assert.equal("ACTIVITY_START", msgs[1].raw.laterSignal.type)
    end)

    it("malformed JSON is a protocol error, not a raise", function()
      for _, bad in ipairs { "{", "" } do
        local ok, err, code = core.map_server(state(backend), bad)
        assert.is_nil(ok)
        assert.is_string(err)
        assert.equal("protocol", code)
      end
    end)

    it("JSON that is not an object is an error message carrying it", function()
      for bad, kind in pairs { ["[1,2]"] = "an array", ["42"] = "a number" } do
        local msgs = assert(core.map_server(state(backend), bad))
        cmp.assert_same(types(msgs), { "error" })
        cmp.assert_same(msgs[1].raw, core.json_decode(bad))
        assert.equal("protocol", msgs[1].code)
        assert.equal("unexpected server message: " .. kind .. ", not a JSON object", msgs[1].message)
      end
    end)

    it("response ids count up", function()
      local st = state(backend)
      for i = 1, 3 do
        local msgs = feed(st, parts({ text = "x" }), sc { turnComplete = true })
        assert.equal("resp_" .. i, msgs[1].response_id)
      end
    end)

    it("raw is the decoded frame, with integral numbers as integers", function()
      local m = feed(state(backend), '{"goAway":{"timeLeft":"5s"},"n":3}')[1]
      assert.equal(3, m.raw.n)
      assert.equal("integer", math.type(m.raw.n))
    end)

    it("accepts pretty-printed frames like the real server sends", function()
      local msgs = feed(state(backend), '{\n  "serverContent": {\n    "turnComplete": true\n  }\n}\n')
      cmp.assert_same(types(msgs), { "response_created", "response_done" })
    end)

    it("voice activity: speech started and stopped, with the audio offset in seconds", function()
      local msgs = feed(state(backend),
        { voiceActivity = { type = "ACTIVITY_START", audioOffset = "1.25s" } },
        { voiceActivity = { voiceActivityType = "ACTIVITY_END" } },
        { voiceActivityDetectionSignal = { vadSignalType = "VAD_SIGNAL_TYPE_SOS" } },
        { voiceActivityDetectionSignal = { vadSignalType = "VAD_SIGNAL_TYPE_EOS" } })
      cmp.assert_same(types(msgs), { "input_audio_buffer_speech_started",
        "input_audio_buffer_speech_stopped", "input_audio_buffer_speech_started",
        "input_audio_buffer_speech_stopped" })
      assert.equal(1.25, msgs[1].audio_offset)
      assert.is_nil(msgs[2].audio_offset)
      assert.equal("voice_activity", msgs[1].source)
      assert.equal("vad_signal", msgs[3].source)
      for _, m in ipairs(msgs) do assert.is_nil(m.response_id) end
      assert.equal("ACTIVITY_START", msgs[1].raw.voiceActivity.type)
    end)

    it("voice activity during a response comes before what it caused, outside the response", function()
      local st = state(backend)
      local msgs = feed(st, parts({ text = "Hel" }),
        { voiceActivity = { type = "ACTIVITY_START", audioOffset = "2s" },
          serverContent = { interrupted = true } })
      cmp.assert_same(types(msgs), { "response_created", "output_text_delta",
        "input_audio_buffer_speech_started", "interrupted" })
      assert.is_nil(msgs[3].response_id)
      assert.equal("resp_1", msgs[4].response_id)
    end)

    it("voice activity it cannot read: unknown kinds are raw, bad shapes and offsets reported", function()
      local msgs = feed(state(backend), { voiceActivity = { type = "TYPE_UNSPECIFIED" } },
        { voiceActivityDetectionSignal = { vadSignalType = "VAD_SIGNAL_TYPE_UNSPECIFIED" } })
      cmp.assert_same(types(msgs), { "raw", "raw" })
      msgs = feed(state(backend), { voiceActivity = "ACTIVITY_START" })
      cmp.assert_same(types(msgs), { "error" })
      assert.equal("voiceActivity is a string, not an object", msgs[1].message)
      msgs = feed(state(backend), { voiceActivity = { type = "ACTIVITY_END", audioOffset = "soon" } })
      cmp.assert_same(types(msgs), { "error", "input_audio_buffer_speech_stopped" })
      assert.is_nil(msgs[2].audio_offset)
      assert.equal([[voiceActivity.audioOffset is 'soon', not a duration such as "1.5s": left out]],
        msgs[1].message)
    end)

    it("interim input transcripts: each the words so far, outside the final transcript", function()
      local st = state(backend)
      local msgs = feed(st,
        sc { interimInputTranscription = { text = "what" } },
        sc { interimInputTranscription = { text = "what is the" } },
        sc { interimInputTranscription = { text = "" } },
        sc { inputTranscription = { text = "what is the time", finished = true } })
      cmp.assert_same(types(msgs), { "input_audio_transcription_interim",
        "input_audio_transcription_interim", "raw", "input_audio_transcription_delta",
        "input_audio_transcription_completed" })
      assert.equal("what is the", msgs[2].text)
      assert.equal("what is the time", msgs[5].text)
      msgs = feed(st, sc { interimInputTranscription = { text = 7 } })
      cmp.assert_same(types(msgs), { "error" })
      assert.equal("serverContent.interimInputTranscription.text is a number, not a string: left out",
        msgs[1].message)
    end)

    it("a transcription session gets the speech edges and interim transcripts", function()
      local st = core.map_new { backend = backend }
      core.map_setup(st, { model = "m", kind = "transcription" })
      local msgs = feed(st, { voiceActivity = { type = "ACTIVITY_START" } },
        sc { interimInputTranscription = { text = "hi" } },
        sc { modelTurn = { parts = { { text = "model words" } } } },
        { voiceActivity = { type = "ACTIVITY_END" } })
      cmp.assert_same(types(msgs), { "input_audio_buffer_speech_started",
        "input_audio_transcription_interim", "input_audio_buffer_speech_stopped" })
    end)
  end)
end


-- Server messages are decoded by the binding's own reader (lrt_json_read.c), not by
-- lua-cjson: whatever the text, raw must be the table cjson makes of all of it.
describe("map_server decoding of audio messages", function()
  local long = string.rep("QUJD", 700)            -- 2,800 characters of base64
  local texts = {
    ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"%s"}}]}}}'):format(long),
    ('{"serverContent":{"modelTurn":{"role":"model","parts":[{"text":"hi"},{"inlineData":{"data":"%s","mimeType":"audio/pcm"}},{"inlineData":{"mimeType":"audio/pcm","data":"%s"}}]}},"usageMetadata":{"totalTokenCount":3}}'):format(long, long:reverse()),
    -- escapes, a short string, a control character: left to cjson
    ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"%s\\/x"}}]}}}'):format(long),
    '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"QUJD"}}]}}}',
    -- repeated keys: cjson keeps the last, and so must we
    ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"%s","data":"QUJD"}}]}}}'):format(long),
    ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"%s"}}]},"modelTurn":{"parts":[{"text":"x"}]}}}'):format(long),
    ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"%s"}}]}},"serverContent":{"turnComplete":true}}'):format(long),
    ('{ "serverContent" : { "modelTurn" : { "parts" : [ { "inlineData" : { "mimeType" : "audio/pcm;rate=24000" , "data" : "%s" } } ] } } }\n'):format(long),
  }

  it("gives the same raw table as decoding the whole text", function()
    for i, text in ipairs(texts) do
      local msgs = assert(core.map_server(state(), text))
      assert.is_true(#msgs > 0, "text " .. i)
      cmp.assert_same(msgs[1].raw, core.json_decode(text), "text " .. i)
    end
  end)

  it("reports malformed text as cjson does", function()
    local msgs, err, code = core.map_server(state(),
      ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"%s"}}]}}'):format(long))
    assert.is_nil(msgs)
    assert.equal("protocol", code)
    assert.matches("malformed JSON", err)
  end)
end)
