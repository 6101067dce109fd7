-- Server frames that are valid JSON but of the wrong shape, sent by the hostile server
-- (spec/hostile, mode `send`) over a real socket: each is mapped, passed on as raw, or
-- corrected with a "protocol" error that says what was wrong; no handler gets arguments
-- that are not the server's object, every answer carries its call's own id, and
-- response_created / response_done stay paired.
local helper = require "spec.helper"
local core = require "realtime.core"
local cjson = require "cjson"

local hf = require "spec.hostile_frames"
local frames, until_done = hf.frames, hf.until_done

local function of_type(msgs, type_)
  local t = {}
  for _, m in ipairs(msgs) do if m.type == type_ then t[#t + 1] = m end end
  return t
end

-- The functionResponses the server received on a connection.
local function answers(h, tag)
  local got = {}
  for _, r in ipairs(h:log(tag)[1].received) do
    local msg = r.text and cjson.decode(r.text)
    if msg and msg.toolResponse then
      for _, fr in ipairs(msg.toolResponse.functionResponses) do got[#got + 1] = fr end
    end
  end
  return got
end

describe("server frames of the wrong shape", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  -- A session on `send` mode with the frames, and an echo tool whose handler records
  -- its arguments and call.
  local function session_for(...)
    return hf.echo_session(h, function(args) return { n = args.n } end, ...)
  end

  describe("tool calls", function()
    it("each toolCall is answered for itself, even when several arrive while a handler runs", function()
      local client, tag = h:client("send", { frames = frames(
        '{"toolCall":{"functionCalls":[{"id":"c0","name":"echo","args":{"n":0}}]}}',
        '{"toolCall":{"functionCalls":[{"id":"c2","name":"manual","args":{}}]}}',
        '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":{"n":1}}]}}') })
      local session = assert(client:connect {
        output_modalities = { "text" },
        tools = { { name = "echo", handler = function(args)
                    require("realtime").sleep(0.2)   -- the other frames come in meanwhile
                    return { n = args.n }
                  end },
                  { name = "manual" } },
      })
      local manual
      for m in session:messages(1.5) do
        if m.type == "response_output_item_done" and m.item.content[1].name == "manual" then
          manual = m.item.content[1].call_id
        end
      end
      assert.equal("c2", manual)
      local ids = {}
      for _, fr in ipairs(answers(h, tag)) do ids[#ids + 1] = fr.id end
      assert.same({ "c0", "c1" }, ids)   -- c1's answer did not wait for c2's
      assert(session:send_tool_result("c2", { ok = true }))
      require("realtime").sleep(0.3)
      ids = {}
      for _, fr in ipairs(answers(h, tag)) do ids[#ids + 1] = fr.id end
      assert.same({ "c0", "c1", "c2" }, ids)
      client:close()
    end)

    it("a call with unusable args is reported; the frame's text and other calls go on, paired", function()
      local deep = string.rep('{"a":', 70) .. "1" .. string.rep("}", 70)
      local session, runs, client, tag = session_for(
        '{"serverContent":{"modelTurn":{"parts":[{"text":"Let me see."}]}},"toolCall":{"functionCalls":['
        .. '{"id":"c0","name":"echo","args":{"n":0}},'
        .. '{"id":"c1","name":"echo","args":' .. deep .. '},'
        .. '{"id":"c2","name":"echo","args":"{\\"n\\":2}"},'
        .. '{"id":"c3","name":"echo","args":[1,2]},'
        .. '{"id":"c4","name":"echo","args":7}]}}')
      local msgs = until_done(session, 2)   -- the call's response, and the tiny model's answer
      assert.equal("Let me see.", of_type(msgs, "output_text_delta")[1].text)
      local errs = of_type(msgs, "error")
      assert.equal(4, #errs)
      for _, e in ipairs(errs) do assert.equal("protocol", e.code) end
      assert.matches("functionCalls%[2%]: args nest deeper than 64", errs[1].message)
      assert.matches("functionCalls%[3%]: args is a string, not an object", errs[2].message)
      assert.matches("functionCalls%[4%]: args is an array, not an object", errs[3].message)
      assert.matches("functionCalls%[5%]: args is a number, not an object", errs[4].message)
      assert.equal(1, #runs)
      assert.equal("c0", runs[1].id)
      assert.same({ n = 0 }, runs[1].args)
      local sent = answers(h, tag)
      assert.equal(1, #sent)
      assert.equal("c0", sent[1].id)
      client:close()
    end)

    it("a toolCall none of whose calls can be answered still ends its response, incomplete", function()
      -- the model waits for answers after a toolCall: a caller waiting for response_done
      -- (which a toolCall gives) waited for ever when every call was unusable
      for _, tc in ipairs {
        '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":7}]}}',
        '{"toolCall":{"functionCalls":{"id":"c1","name":"echo"}}}',
        '{"toolCall":{"functionCalls":[{"id":"c1","args":{"n":1}}]}}',
      } do
        local session, runs, client = session_for(
          '{"serverContent":{"modelTurn":{"parts":[{"text":"Let me see."}]}}}', tc)
        local msgs = until_done(session, 1)
        assert.equal("Let me see.", of_type(msgs, "output_text_done")[1].text)
        assert.equal(1, #of_type(msgs, "error"))
        local done = of_type(msgs, "response_done")[1]
        assert.equal("incomplete", done.status)
        assert.matches("no call of the toolCall could be answered", done.reason)
        assert.equal(0, #runs)
        client:close()
      end
      -- alone, it still gives its pair, with the error in it
      local session, runs, client = session_for('{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":[1]}]}}')
      local msgs = until_done(session, 1)
      local types = {}
      for i, m in ipairs(msgs) do types[i] = m.type end
      assert.same({ "response_created", "error", "response_done" }, types)
      assert.equal(msgs[1].response_id, msgs[2].response_id)
      assert.equal("incomplete", msgs[3].status)
      assert.equal(0, #runs)
      client:close()
    end)

    it("an id a later toolCall reuses after the first call was answered is a new call, answered too", function()
      local logged = {}
      require("realtime").log(function(_, text) logged[#logged + 1] = text end)
      -- the first handler waits, so the second toolCall has come (and is read ahead of
      -- the first answer, as withdrawals are) when the first answer goes out
      local session, runs, client, tag = hf.echo_session(h, function(args)
          if args.n == 1 then require("realtime").sleep(0.2) end
          return { n = args.n }
        end,
        '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":{"n":1}}]}}',
        '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":{"n":2}}]}}')
      local msgs = until_done(session, 2)
      require("realtime").log(nil)
      local done = of_type(msgs, "response_output_item_done")
      assert.equal(2, #runs)
      assert.same({ n = 1 }, done[1].result)
      assert.same({ n = 2 }, done[2].result)
      assert.equal(0, #of_type(msgs, "error"))
      require("realtime").sleep(0.3)   -- the second answer reaches the server
      assert.same({ { id = "c1", name = "echo", response = { n = 1 } },
        { id = "c1", name = "echo", response = { n = 2 } } }, answers(h, tag))
      assert.is_nil(table.concat(logged, "\n"):find("already answered", 1, true))
      client:close()
    end)

    it("a repeated id is answered once; a made-up id never takes a server's", function()
      local session, runs, client, tag = session_for(
        '{"toolCall":{"functionCalls":[{"id":"x","name":"echo","args":{"n":1}},'
        .. '{"id":"x","name":"echo","args":{"n":2}}]}}')
      local msgs = until_done(session, 2)
      local errs = of_type(msgs, "error")
      assert.equal(1, #errs)
      assert.matches("functionCalls%[2%] repeats the id 'x'", errs[1].message)
      assert.equal(1, #runs)
      assert.same({ n = 1 }, runs[1].args)
      assert.same({ { id = "x", name = "echo", response = { n = 1 } } }, answers(h, tag))
      client:close()

      session, runs, client, tag = session_for(
        '{"toolCall":{"functionCalls":[{"name":"echo","args":{"n":1}},'
        .. '{"id":"call_1","name":"echo","args":{"n":2}}]}}')
      msgs = until_done(session, 2)
      assert.equal(0, #of_type(msgs, "error"))
      assert.equal(2, #runs)
      assert.are_not.equal(runs[1].id, runs[2].id)
      assert.equal("call_1", runs[2].id)
      -- the server's call_1 is answered with its id, the one without an id without one
      assert.same({ { name = "echo", response = { n = 1 } },
        { id = "call_1", name = "echo", response = { n = 2 } } }, answers(h, tag))
      client:close()
    end)

    it("an id that is not a non-empty string is reported, and answered without an id", function()
      local session, runs, client, tag = session_for(
        '{"toolCall":{"functionCalls":[{"id":5,"name":"echo","args":{"n":1}},'
        .. '{"id":"","name":"echo","args":{"n":2}}]}}')
      local msgs = until_done(session, 2)
      local errs = of_type(msgs, "error")
      assert.equal(2, #errs)
      assert.matches("functionCalls%[1%] has an id that is a number", errs[1].message)
      assert.matches("functionCalls%[2%] has an id that is empty", errs[2].message)
      assert.equal(2, #runs)
      assert.same({ { name = "echo", response = { n = 1 } }, { name = "echo", response = { n = 2 } } },
        answers(h, tag))
      client:close()
    end)

    it("a call without a name, or with one that is not a string, is reported and not answered; the call beside it is", function()
      local session, runs, client, tag = session_for(
        '{"toolCall":{"functionCalls":[{"id":"a","name":5,"args":{}},{"id":"b","args":{}},'
        .. '{"id":"c","name":"echo","args":{"n":3}}]}}')
      local msgs = until_done(session, 2)
      local errs = of_type(msgs, "error")
      assert.equal(2, #errs)
      assert.equal("toolCall.functionCalls[1] (id 'a') has a name that is a number, not a string: "
        .. "that call cannot be answered", errs[1].message)
      assert.matches("functionCalls%[2%] %(id 'b'%) has no name", errs[2].message)
      assert.equal(1, #of_type(msgs, "response_output_item_done"))
      assert.equal(1, #runs)
      assert.same({ { id = "c", name = "echo", response = { n = 3 } } }, answers(h, tag))
      client:close()
    end)

    it("an error about a frame's first call comes in the response, with the call's index, as one about a later call", function()
      local session, runs, client = session_for(
        '{"toolCall":{"functionCalls":[{"id":"a","name":"echo","args":5},'
        .. '{"id":"b","name":"echo","args":{"n":2},"willContinue":"no"}]}}')
      local msgs = until_done(session, 1)
      local got = {}
      for i, m in ipairs(msgs) do got[i] = m.type end
      assert.same({ "response_created", "error", "error", "response_output_item_added", "response_output_item_done",
        "response_done" }, got)
      assert.equal("toolCall.functionCalls[1]: args is a number, not an object: that call cannot be answered",
        msgs[2].message)
      assert.equal("toolCall.functionCalls[2].willContinue is a string, not a boolean: taken as false",
        msgs[3].message)
      for i = 2, 6 do assert.equal(msgs[1].response_id, msgs[i].response_id) end
      assert.equal(1, #runs)
      client:close()
    end)

    it("an id or a name that is not UTF-8 cannot be echoed back: that call is reported, the other answered", function()
      local session, runs, client, tag = session_for(
        '{"toolCall":{"functionCalls":[{"id":"\255\254","name":"echo","args":{"n":1}},'
        .. '{"id":"b","name":"ec\255ho","args":{}},{"id":"c","name":"echo","args":{"n":3}}]}}')
      local msgs = until_done(session, 2)
      local errs = of_type(msgs, "error")
      assert.equal(2, #errs)
      assert.matches("^toolCall.functionCalls%[1%] has an id that is not UTF%-8: that call cannot be answered", errs[1].message)
      assert.matches("^toolCall.functionCalls%[2%] %(id 'b'%) has a name that is not UTF%-8: that call cannot be answered",
        errs[2].message)
      assert.equal(1, #runs)
      assert.same({ { id = "c", name = "echo", response = { n = 3 } } }, answers(h, tag))
      client:close()
    end)

    it("cancellation ids that are not strings are reported, the string ones withdrawn", function()
      local session, _, client = session_for('{"toolCallCancellation":{"ids":[5,"c1",null]}}',
        '{"toolCallCancellation":{"ids":"c2"}}')
      local msgs = {}
      for _ = 1, 5 do msgs[#msgs + 1] = assert(session:receive(5)) end
      local errs = of_type(msgs, "error")
      assert.equal(3, #errs)
      assert.matches("toolCallCancellation.ids%[1%] is a number, not a string", errs[1].message)
      assert.matches("toolCallCancellation.ids%[3%] is null, not a string", errs[2].message)
      assert.matches("toolCallCancellation.ids is a string, not an array", errs[3].message)
      local cancels = of_type(msgs, "tool_call_cancellation")
      assert.same({ "c1" }, cancels[1].call_ids)
      assert.same({}, cancels[2].call_ids)
      client:close()
    end)
  end)

  -- The first n messages of a session on `send` mode with the frames.
  local function first(n, extra, ...)
    local client = h:client("send", { frames = frames(...) })
    local opts = { output_modalities = { "text" } }
    for k, v in pairs(extra or {}) do opts[k] = v end
    local session = assert(client:connect(opts))
    local msgs = {}
    for i = 1, n do msgs[i] = assert(session:receive(5), "message " .. i) end
    return msgs, session, client
  end

  local messages_of = hf.errors_of

  it("content that is not a string is reported and left out; the rest of the turn maps", function()
    local msgs, _, client = first(11, nil,
      '{"serverContent":{"modelTurn":{"parts":[{"text":"ok"},{"text":5},'
      .. '{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":5}},{"inlineData":{"mimeType":true,"data":"AAAA"}},'
      .. '{"executableCode":{"code":5,"language":"PYTHON"}}]}}}',
      '{"serverContent":{"inputTranscription":{"text":5},"outputTranscription":{"text":{"a":1}}}}',
      '{"serverContent":{"turnComplete":true}}')
    assert.same({ "serverContent.modelTurn.parts[2].text is a number, not a string: left out",
      "serverContent.modelTurn.parts[3].inlineData.data is a number, not a string: left out",
      "serverContent.modelTurn.parts[4].inlineData.mimeType is a boolean, not a string: left out",
      "serverContent.modelTurn.parts[5].executableCode.code is a number, not a string: left out",
      "serverContent.inputTranscription.text is a number, not a string: left out",
      "serverContent.outputTranscription.text is an object, not a string: left out" }, messages_of(msgs))
    local code
    for _, m in ipairs(msgs) do if m.type == "code_execution" then code = m end end
    assert.equal("PYTHON", code.language)
    assert.is_nil(code.code)
    assert.equal("output_text_done", msgs[10].type)
    assert.equal("ok", msgs[10].text)
    assert.equal("response_done", msgs[11].type)
    client:close()
  end)

  it("a part's or serverContent's member that is not an object is reported and left out", function()
    local client = h:client("send", { frames = frames(
      '{"serverContent":{"modelTurn":{"parts":[{"text":"ok"},{"codeExecutionResult":"bad"},'
      .. '{"executableCode":[1]},{"inlineData":7}]},"groundingMetadata":"oops"}}',
      '{"serverContent":{"inputTranscription":"t","outputTranscription":5}}',
      '{"serverContent":{"turnComplete":true}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local msgs = until_done(session, 1)
    local got = messages_of(msgs)
    table.sort(got)
    assert.same({ "serverContent.groundingMetadata is a string, not an object: left out",
      "serverContent.inputTranscription is a string, not an object: left out",
      "serverContent.modelTurn.parts[2].codeExecutionResult is a string, not an object: left out",
      "serverContent.modelTurn.parts[3].executableCode is an array, not an object: left out",
      "serverContent.modelTurn.parts[4].inlineData is a number, not an object: left out",
      "serverContent.outputTranscription is a number, not an object: left out" }, got)
    for _, m in ipairs(of_type(msgs, "error")) do assert.equal("protocol", m.code) end
    assert.equal("ok", of_type(msgs, "output_text_done")[1].text)
    client:close()
  end)

  it("an audio part with empty data gives no output_audio_delta; the rest of the frame and turn map", function()
    local pcm = '{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AQACAA=="}}'
    local empty = '{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":""}}'
    local client = h:client("send", { frames = frames(
      '{"serverContent":{"modelTurn":{"parts":[{"text":"before"},' .. empty .. ',' .. pcm .. ',{"text":"after"}]}}}',
      '{"serverContent":{"modelTurn":{"parts":[' .. empty .. ']}}}',
      '{"serverContent":{"turnComplete":true}}') })
    local session = assert(client:connect { output_modalities = { "audio" } })
    local msgs = until_done(session, 1)
    local types = {}
    for i, m in ipairs(msgs) do types[i] = m.type end
    -- the frame of empty audio alone maps to nothing: it is passed on as raw
    assert.same({ "response_created", "output_text_delta", "output_audio_delta", "output_text_delta",
      "raw", "output_text_done", "output_audio_done", "response_done" }, types)
    assert.equal("\1\0\2\0", msgs[3].audio)
    assert.equal(24000, msgs[3].rate)
    assert.equal("after", msgs[4].text)
    assert.equal("completed", msgs[8].status)
    client:close()
  end)

  it("a frame that is valid JSON but not an object is an error that carries it; the session goes on", function()
    local msgs, session, client = first(4, nil, '[1,2]', '5', '"hi"', 'null')
    assert.same({ "unexpected server message: an array, not a JSON object",
      "unexpected server message: a number, not a JSON object",
      "unexpected server message: a string, not a JSON object",
      "unexpected server message: null, not a JSON object" }, messages_of(msgs))
    assert.same({ 1, 2 }, msgs[1].raw)
    assert.equal(5, msgs[2].raw)
    assert.equal("hi", msgs[3].raw)
    assert.equal(core.json_null, msgs[4].raw)
    assert(session:send_text "still there?")
    assert.equal("You said: still there?", helper.receive_until(session, "output_text_done", 5).text)
    client:close()
  end)

  it("a member that is not the object or array it should be is reported, the rest maps", function()
    local msgs, _, client = first(9, nil,
      '{"serverContent":5,"toolCall":[1]}',
      '{"serverContent":{"modelTurn":{"parts":{"a":{"text":"lost"}}}}}',
      '{"serverContent":{"modelTurn":{"parts":[7,{"text":"kept"}]}}}',
      '{"serverContent":{"modelTurn":"x","turnComplete":true}}')
    assert.same({ "serverContent is a number, not an object", "toolCall is an array, not an object",
      "serverContent.modelTurn.parts is an object, not an array: left out",
      "serverContent.modelTurn.parts[1] is a number, not an object: left out",
      "serverContent.modelTurn is a string, not an object: left out" }, messages_of(msgs))
    local got = {}
    for i, m in ipairs(msgs) do got[i] = m.type end
    -- the modelTurn's errors are in the response its frame opens; serverContent's are not
    assert.same({ "error", "error", "response_created", "error", "error", "output_text_delta", "error",
      "output_text_done", "response_done" }, got)
    for i = 4, 9 do assert.equal(msgs[3].response_id, msgs[i].response_id) end
    assert.equal("kept", msgs[8].text)
    client:close()
  end)

  it("a flag that is not a boolean is reported and taken as false, as the core takes it", function()
    local msgs, _, client = first(7, nil,
      '{"serverContent":{"modelTurn":{"parts":[{"text":"hi","thought":"no"}]},"interrupted":null}}',
      '{"serverContent":{"turnComplete":0}}',
      '{"serverContent":{"turnComplete":true}}')
    local want = { "response_created", "error", "output_text_delta", "error", "error", "output_text_done",
      "response_done" }
    local got = {}
    for i, m in ipairs(msgs) do got[i] = m.type end
    assert.same(want, got)
    assert.same({ "serverContent.modelTurn.parts[1].thought is a string, not a boolean: taken as false",
      "serverContent.interrupted is null, not a boolean: taken as false",
      "serverContent.turnComplete is a number, not a boolean: taken as false" }, messages_of(msgs))
    assert.equal("hi", msgs[3].text)
    assert.equal("completed", msgs[7].status)
    client:close()
  end)

  it("a modelTurn or a part that is an array is reported and left out, as any other that is not an object", function()
    local msgs, _, client = first(6, nil,
      '{"serverContent":{"modelTurn":[{"text":"lost"}]}}',
      '{"serverContent":{"modelTurn":{"parts":[["text","lost"],{"text":"ok"}]},"turnComplete":true}}')
    local got = {}
    for i, m in ipairs(msgs) do got[i] = m.type end
    assert.same({ "response_created", "error", "error", "output_text_delta", "output_text_done", "response_done" },
      got)
    assert.same({ "serverContent.modelTurn is an array, not an object: left out",
      "serverContent.modelTurn.parts[1] is an array, not an object: left out" }, messages_of(msgs))
    assert.equal("ok", msgs[5].text)
    client:close()
  end)

  it("an error about a frame's first part comes in the response, with the part's index, as one about a later part", function()
    local msgs, _, client = first(7, nil,
      '{"serverContent":{"modelTurn":{"parts":["x",{"text":"y","thought":"no"},{"text":{"a":1}}]}}}',
      '{"serverContent":{"turnComplete":true}}')
    local got = {}
    for i, m in ipairs(msgs) do got[i] = m.type end
    assert.same({ "response_created", "error", "error", "output_text_delta", "error", "output_text_done",
      "response_done" }, got)
    assert.same({ "serverContent.modelTurn.parts[1] is a string, not an object: left out",
      "serverContent.modelTurn.parts[2].thought is a string, not a boolean: taken as false",
      "serverContent.modelTurn.parts[3].text is an object, not a string: left out" }, messages_of(msgs))
    for i = 2, 7 do assert.equal(msgs[1].response_id, msgs[i].response_id) end
    client:close()
  end)

  it("an interruption before any content of the turn is a response of its own, cancelled", function()
    local client = h:client("send", { frames = frames('{"serverContent":{"interrupted":true}}',
      '{"serverContent":{"turnComplete":true}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local msgs = until_done(session, 1)
    local got = {}
    for i, m in ipairs(msgs) do got[i] = m.type end
    assert.same({ "response_created", "interrupted", "response_done" }, got)
    assert.equal(msgs[1].response_id, msgs[2].response_id)
    assert.equal("cancelled", msgs[3].status)
    -- the next response is not cancelled
    assert(session:send_text "again")
    local done = helper.receive_until(session, "response_done", 5)
    assert.equal("completed", done.status)
    client:close()
  end)

  it("a token count in a string is decimal digits; other text is reported and left out, in the response", function()
    local msgs, _, client = first(6, nil,
      '{"usageMetadata":{"promptTokenCount":"0x10","responseTokenCount":" 3","totalTokenCount":"12",'
      .. '"cachedContentTokenCount":"1e3","promptTokensDetails":[{"modality":"AUDIO","tokenCount":4},'
      .. '{"modality":"TEXT","tokenCount":"+4"}]},"serverContent":{"turnComplete":true}}')
    local got = {}
    for i, m in ipairs(msgs) do got[i] = m.type end
    assert.same({ "response_created", "error", "error", "error", "error", "response_done" }, got)
    assert.same({ "usageMetadata.responseTokenCount is ' 3', not a count: left out",
      "usageMetadata.promptTokenCount is '0x10', not a count: left out",
      "usageMetadata.cachedContentTokenCount is '1e3', not a count: left out",
      "usageMetadata.promptTokensDetails[2].tokenCount is '+4', not a count: left out" }, messages_of(msgs))
    for i = 2, 6 do assert.equal(msgs[1].response_id, msgs[i].response_id) end
    -- usage.raw keeps what the server sent, the values left out too
    assert.same({ total_tokens = 12, input_audio_tokens = 4, raw = msgs[6].raw.usageMetadata }, msgs[6].usage)
    assert.equal("0x10", msgs[6].usage.raw.promptTokenCount)
    client:close()
  end)

  it("token counts that are not counts are reported and left out; sums stop at the largest integer", function()
    local msgs, _, client = first(8, nil,
      '{"serverContent":{"modelTurn":{"parts":[{"text":"a"}]}}}',
      '{"usageMetadata":{"promptTokenCount":-5,"responseTokenCount":"7","totalTokenCount":1.5,'
      .. '"cachedContentTokenCount":"lots","promptTokensDetails":[{"modality":"AUDIO","tokenCount":"9223372036854775807"},'
      .. '{"modality":"AUDIO","tokenCount":"9223372036854775807"},{"modality":"TEXT","tokenCount":-1}]},'
      .. '"serverContent":{"turnComplete":true}}')
    local done = msgs[8]
    assert.equal("response_done", done.type)
    assert.same({ output_tokens = 7, input_audio_tokens = math.maxinteger, raw = done.raw.usageMetadata },
      done.usage)
    assert.same({ "usageMetadata.promptTokenCount is '-5', not a count: left out",
      "usageMetadata.totalTokenCount is '1.5', not a count: left out",
      "usageMetadata.cachedContentTokenCount is 'lots', not a count: left out",
      "usageMetadata.promptTokensDetails[3].tokenCount is '-1', not a count: left out" }, messages_of(msgs))
    client:close()
  end)

  it("a details list that is not an array, an entry not an object, a modality not a string are reported", function()
    local client = h:client("send", { frames = frames(
      '{"serverContent":{"modelTurn":{"parts":[{"text":"a"}]}}}',
      '{"usageMetadata":{"promptTokensDetails":[7,{"modality":5,"tokenCount":3},["AUDIO",4],'
      .. '{"modality":"AUDIO","tokenCount":2},{"modality":"IMAGE","tokenCount":8}],'
      .. '"responseTokensDetails":{"modality":"TEXT","tokenCount":1}},'
      .. '"serverContent":{"turnComplete":true}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local msgs = {}
    repeat
      msgs[#msgs + 1] = assert(session:receive(5))
    until msgs[#msgs].type == "response_done"
    assert.same({ input_audio_tokens = 2, raw = msgs[#msgs].raw.usageMetadata }, msgs[#msgs].usage)
    assert.same({ "usageMetadata.promptTokensDetails[1] is a number, not an object: left out",
      "usageMetadata.promptTokensDetails[2].modality is a number, not a string: that entry left out",
      "usageMetadata.promptTokensDetails[3] is an array, not an object: left out",
      "usageMetadata.responseTokensDetails is an object, not an array: left out" }, messages_of(msgs))
    client:close()
  end)

  it("goAway: an unreadable timeLeft is reported, a huge one capped at a day; any goAway is go_away", function()
    local msgs, _, client = first(8, { resumption = false },
      '{"goAway":{"timeLeft":"abc"}}', '{"goAway":{"timeLeft":"-3s"}}',
      '{"goAway":{"timeLeft":"' .. string.rep("9", 400) .. 's"}}', '{"goAway":{"timeLeft":"1.5s"}}',
      '{"goAway":7}')
    local left = {}
    for _, m in ipairs(msgs) do if m.type == "go_away" then left[#left + 1] = m.time_left or "none" end end
    assert.same({ "none", "none", 86400, 1.5, "none" }, left)
    assert.same({ "goAway.timeLeft is 'abc', not a duration such as \"10s\": go_away has no time_left",
      "goAway.timeLeft is '-3s', not a duration such as \"10s\": go_away has no time_left",
      "goAway is a number, not an object" }, messages_of(msgs))
    client:close()
  end)

  it("goAway: a timeLeft that is a number or has escapes reads as the session reads it", function()
    -- the session acts on the frame's text ("0.00001" is a time; "1E2", "-0" and an escape
    -- are not), so go_away tells the time it leaves by, not what Lua's tostring makes of it
    local client = h:client("send", { frames = frames(
      '{"goAway":{"timeLeft":0.00001}}', '{"goAway":{"timeLeft":1E2}}',
      '{"goAway":{"timeLeft":-0}}', '{"goAway":{"timeLeft":"\\u0031s"}}',
      '{"goAway":{"timeLeft":30}}', '{"goAway":{"timeLeft":"7s"}}') })
    local session = assert(client:connect { output_modalities = { "text" }, resumption = false })
    local msgs, left = {}, {}
    repeat
      msgs[#msgs + 1] = assert(session:receive(5))
      if msgs[#msgs].type == "go_away" then left[#left + 1] = msgs[#msgs].time_left or "none" end
    until left[#left] == 7
    assert.same({ 0.00001, "none", "none", "none", 30, 7 }, left)
    assert.same({ "goAway.timeLeft is a number, not a duration such as \"10s\": go_away has no time_left",
      "goAway.timeLeft is a number, not a duration such as \"10s\": go_away has no time_left",
      "goAway.timeLeft is '1s' written with escapes, not a duration such as \"10s\": go_away has no time_left" },
      messages_of(msgs))
    client:close()
  end)

  -- The "new" utterance's completed transcript, with none of the "stale" piece's details.
  local function only_new(done)
    assert.equal("new", done.text)
    assert.same({ { word = "new" } }, done.words)
    assert.is_nil(done.language)
  end

  it("the details of a user transcript piece without text end with its turn, not in the next transcript", function()
    local msgs, _, client = first(5, nil,
      '{"serverContent":{"inputTranscription":{"words":[{"word":"stale"}],"languageCode":"fr-FR"}}}',
      '{"serverContent":{"turnComplete":true}}',
      '{"serverContent":{"inputTranscription":{"text":"new","words":[{"word":"new"}]}}}',
      '{"serverContent":{"inputTranscription":{"finished":true}}}')
    assert.same({ "raw", "response_created", "response_done", "input_audio_transcription_delta",
      "input_audio_transcription_completed" },
      { msgs[1].type, msgs[2].type, msgs[3].type, msgs[4].type, msgs[5].type })
    local done = msgs[5]
    only_new(done)
    client:close()
  end)

  it("the details of a user transcript piece without text end at a reconnect, not in the next transcript", function()
    -- the piece comes, the connection drops, and the resumed one transcribes anew
    local client = h:client("send", { handle = 1, drop = 1,
      frames = frames('{"serverContent":{"inputTranscription":{"words":[{"word":"stale"}],"languageCode":"fr-FR"}}}'),
      resumed = frames('{"serverContent":{"inputTranscription":{"text":"new","words":[{"word":"new"}]}}}',
        '{"serverContent":{"inputTranscription":{"finished":true}}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local done
    for m in session:messages(5) do
      if m.type == "input_audio_transcription_completed" then done = m; break end
    end
    assert(done, "no input_audio_transcription_completed")
    only_new(done)
    client:close()
  end)

  it("a voice-activity edge whose type only begins with a known name is another kind: raw", function()
    -- a NUL in the value ends it for strcmp, not for the server: "ACTIVITY_START\0..." is
    -- a kind the library does not know, not the start of speech
    local msgs, _, client = first(3, nil,
      '{"voiceActivity":{"type":"ACTIVITY_START\\u0000_LATER","audioOffset":"1s"}}',
      '{"voiceActivityDetectionSignal":{"vadSignalType":"VAD_SIGNAL_TYPE_EOS\\u0000"}}',
      '{"voiceActivity":{"type":"ACTIVITY_END","audioOffset":"2s"}}')
    assert.same({ "raw", "raw", "input_audio_buffer_speech_stopped" },
      { msgs[1].type, msgs[2].type, msgs[3].type })
    assert.equal("ACTIVITY_START\0_LATER", msgs[1].raw.voiceActivity.type)
    assert.equal(2, msgs[3].audio_offset)
    client:close()
  end)

  it("a resumption handle that is not a string, not UTF-8 or too long is reported; the session keeps its last one", function()
    local msgs, session, client = first(8, nil,
      '{"sessionResumptionUpdate":{"newHandle":"h1","resumable":true}}',
      '{"sessionResumptionUpdate":{"newHandle":5,"resumable":"yes"}}',
      '{"sessionResumptionUpdate":{"newHandle":"h\255","resumable":true}}',
      '{"sessionResumptionUpdate":{"newHandle":"' .. string.rep("h", 3000) .. '","resumable":true}}')
    assert.same({ "sessionResumptionUpdate.newHandle is a number, not a string: the session keeps its last handle",
      "sessionResumptionUpdate.resumable is a string, not a boolean: taken as false",
      "sessionResumptionUpdate.newHandle is not UTF-8: the session keeps its last handle",
      "sessionResumptionUpdate.newHandle is longer than 2048 bytes: the session keeps its last handle" },
      messages_of(msgs))
    assert.equal("h1", msgs[1].handle)
    assert.is_false(msgs[4].resumable)
    assert.equal("h1", session:resumption_handle())
    client:close()
  end)

  it("server values quoted in an error never show the session's key", function()
    local key = "hostile-key"   -- what h:client connects with
    local msgs, session, client = first(3, nil,
      '{"goAway":{"timeLeft":"' .. key .. '-and-more"}}',
      '{"toolCall":{"functionCalls":[{"id":"x' .. key .. '","args":{}}]}}',
      '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/x-' .. key
        .. '","data":"AAAA"}}]},"turnComplete":true}}')
    for m in session:messages(1) do msgs[#msgs + 1] = m end
    local errors = 0
    for _, m in ipairs(msgs) do
      if m.type == "error" then
        errors = errors + 1
        assert.is_nil(m.message:find("hostile-", 1, true), m.message)
        assert.matches("%*%*%*%*%*%*%*%*", m.message)
      end
    end
    assert.equal(3, errors)
    client:close()
  end)
end)
