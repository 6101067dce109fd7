-- Nothing the server says is dropped, and a model turn is one response: the simulator's
-- realistic frames (Vertex audio chunks, an empty output transcription first, code before a
-- tool call, generationComplete after one, grounding, URL context, waitingForInput) on both
-- backends, each server frame accounted for by the messages that carry it as `raw`.
local helper = require "spec.helper"
local cjson = require "cjson"

-- The number of frames the simulator sent on a connection, and how many of them held
-- usageMetadata alone.
local function out_frames(conn)
  local n, usage_alone = 0, 0
  for _, f in ipairs(helper.sim_get("/_sim/connections/" .. conn.id .. "/frames").frames) do
    if f.dir == "out" and f.opcode ~= "close" then
      n = n + 1
      local msg = cjson.decode(f.text)
      if msg.usageMetadata and next(msg, next(msg)) == nil then usage_alone = usage_alone + 1 end
    end
  end
  return n, usage_alone
end

for _, backend in ipairs { "gemini", "vertex" } do
  describe("server frames (" .. backend .. ")", function()
    local client
    before_each(function()
      helper.sim_post("/_sim/next", { behaviour = { realism = true } })
      client = backend == "gemini" and helper.gemini() or helper.vertex()
    end)
    after_each(function()
      helper.sim_request("DELETE", "/_sim/next")
      client:close()
      collectgarbage()
    end)

    it("every frame reaches the caller; created and done alternate, one pair per response", function()
      local calls = 0
      local session = assert(client:connect {
        output_modalities = { "audio" }, transcription = true,
        tools = {
          { type = "google_search" }, { type = "url_context" },
          { name = "get_weather", description = "weather",
            parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
            handler = function(args) calls = calls + 1; return { city = args.city, sky = "clear" } end },
        },
      })
      local conn = helper.open_connection()
      local all, open, pairs_ = {}, nil, 0
      local function turn(text, done_after)
        assert(session:send_text(text))
        local seen = 0
        while seen < done_after do
          local msg = assert(session:receive(20), "no message after " .. text)
          all[#all + 1] = msg
          if msg.type == "response_created" then
            assert.is_nil(open, "a response started inside another")
            open = msg.response_id
          elseif msg.type == "response_done" then
            assert.equal(open, msg.response_id)
            open, pairs_, seen = nil, pairs_ + 1, seen + 1
          elseif open and msg.response_id and msg.type ~= "generation_complete" then
            assert.equal(open, msg.response_id, msg.type .. " outside its response")
          end
        end
      end
      turn("Hello there", 1)
      turn("What is the weather in Lima?", 2)          -- the call, then the answer about it
      turn("Search the web for Lima markets", 1)
      turn("Please read https://example.com/lima.", 1)
      turn("Well, I was thinking...", 1)                -- waitingForInput, no answer
      assert.equal(1, calls)
      session:close()
      for msg in session:messages(10) do all[#all + 1] = msg end
      assert.equal("closed", all[#all].type)

      local types, raws, frames = {}, {}, 0
      for _, m in ipairs(all) do
        types[m.type] = (types[m.type] or 0) + 1
        if m.raw and not raws[m.raw] then raws[m.raw], frames = true, frames + 1 end
      end
      assert.equal(6, pairs_)
      assert.equal(1, types.code_execution or 0, "the executableCode part before the call")
      assert.equal(1, types.grounding or 0)
      assert.equal(1, types.waiting_for_input or 0)
      assert.is_true((types.raw or 0) >= 1, "urlContextMetadata arrives as raw")
      assert.is_true((types.generation_complete or 0) >= 4)
      -- every server frame but setupComplete is the raw of some message, except usage
      -- sent alone during a response: it is kept for that response's response_done,
      -- whose usage.raw is that frame's usageMetadata
      local sent, usage_alone = out_frames(conn)
      assert.equal(sent - 1 - usage_alone, frames)
      local usage_apart = 0
      for _, m in ipairs(all) do
        if m.type == "response_done" and m.usage then
          assert.is_table(m.usage.raw)
          if m.usage.raw ~= m.raw.usageMetadata then usage_apart = usage_apart + 1 end
        end
      end
      assert.equal(usage_alone, usage_apart)
    end)
  end)
end

-- What each message's `raw` is, on the hostile server. Usage that comes in a frame of its
-- own is no message's `raw`: the whole usageMetadata, with the counts the library does not
-- map, is the `raw` of the `usage` that reports it.
describe("raw of usage and of the library's own messages (hostile server)", function()
  local hf = require "spec.hostile_frames"
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  it("response_done.usage.raw is the server's usageMetadata, the last one of the response", function()
    local alone = { promptTokenCount = 10, responseTokenCount = 7, toolUsePromptTokenCount = 2,
      totalTokenCount = 19, cacheTokensDetails = { { modality = "TEXT", tokenCount = 1 } },
      promptTokensDetails = { { modality = "IMAGE", tokenCount = 6 }, { modality = "TEXT", tokenCount = 4 } } }
    local client = h:client("send", { frames = hf.frames(
      '{"serverContent":{"modelTurn":{"parts":[{"text":"Hello"}]}}}',
      cjson.encode { usageMetadata = alone },
      '{"serverContent":{"turnComplete":true}}',
      -- two usage frames for one response: the last is kept, counts and raw alike
      '{"serverContent":{"modelTurn":{"parts":[{"text":"Again"}]}}}',
      '{"usageMetadata":{"totalTokenCount":5,"futureTokenCount":1}}',
      '{"usageMetadata":{"totalTokenCount":8,"toolUsePromptTokenCount":3}}',
      '{"serverContent":{"turnComplete":true}}',
      -- usage inside the frame that ends the response wins over one that came alone
      '{"serverContent":{"modelTurn":{"parts":[{"text":"More"}]}}}',
      '{"usageMetadata":{"totalTokenCount":1}}',
      '{"serverContent":{"turnComplete":true},"usageMetadata":{"totalTokenCount":9,"toolUsePromptTokenCount":4}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local done = {}
    for _, m in ipairs(hf.until_done(session, 3)) do
      assert.is_table(m.raw, m.type .. " made from a frame has it as raw")
      if m.type == "response_done" then done[#done + 1] = m end
    end

    assert.same(alone, done[1].usage.raw)
    assert.same({ input_tokens = 10, output_tokens = 7, total_tokens = 19, input_text_tokens = 4,
      raw = alone }, done[1].usage)
    assert.same({ serverContent = { turnComplete = true } }, done[1].raw)

    assert.same({ totalTokenCount = 8, toolUsePromptTokenCount = 3 }, done[2].usage.raw)
    assert.equal(8, done[2].usage.total_tokens)

    assert.equal(done[3].raw.usageMetadata, done[3].usage.raw)
    assert.same({ totalTokenCount = 9, toolUsePromptTokenCount = 4 }, done[3].usage.raw)
    assert.equal(9, done[3].usage.total_tokens)
    client:close()
  end)

  -- Messages the library makes without a server frame: closed and reconnected have no
  -- raw; what ends a response cut by the close is mapped from a turnComplete of the
  -- library's own, which is their raw.
  it("closed has no raw; a response the close cuts ends on the library's turnComplete", function()
    local client = h:client("send", { frames = hf.frames('{"serverContent":{"modelTurn":{"parts":[{"text":"Hi"}]}}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local delta
    repeat
      delta = assert(session:receive(5))
      assert.is_table(delta.raw)
    until delta.type == "output_text_delta"
    session:close()
    local got = {}
    for m in session:messages(5) do got[#got + 1] = m end
    local types_ = {}
    for i, m in ipairs(got) do types_[i] = m.type end
    assert.same({ "output_text_done", "response_done", "closed" }, types_)
    assert.is_nil(got[3].raw)
    assert.equal("incomplete", got[2].status)
    for i = 1, 2 do assert.same({ serverContent = { turnComplete = true } }, got[i].raw) end
    client:close()
  end)

  it("reconnected has no raw; the withdrawal of the calls it voids carries the library's frame", function()
    local client = h:client("void_calls", { n = 1 })
    local session = assert(client:connect { output_modalities = { "text" },
      tools = { { name = "echo", handler = function() return { ok = true } end } } })
    local rec, cancel
    for m in session:messages(10) do
      if rec then
        cancel = m
        break
      end
      if m.type == "reconnected" then rec = m else assert.is_table(m.raw, m.type) end
    end
    assert.is_table(rec, "the session did not reconnect")
    assert.is_nil(rec.raw)
    assert.equal("tool_call_cancellation", cancel.type)
    assert.is_true(cancel.reconnected)
    assert.same({ toolCallCancellation = { ids = { "c1" } } }, cancel.raw)
    session:close()
    client:close()
  end)
end)
