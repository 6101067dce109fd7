-- Server frames whose JSON is well-formed but unusual, sent by the hostile server
-- (spec/hostile, mode `send`) over a real socket: deep nesting, lone surrogate escapes,
-- integers beyond 2^53. Each frame is read, what it holds that cannot be used is reported
-- ("protocol" errors), and the rest maps as usual, a response ending with its
-- response_done.
local helper = require "spec.helper"
local core = require "realtime.core"

local hf = require "spec.hostile_frames"
local frames, until_done, errors_of = hf.frames, hf.until_done, hf.errors_of

local function deep(n) return string.rep('{"a":', n) .. "1" .. string.rep("}", n) end

local function of_type(msgs, type_)
  for _, m in ipairs(msgs) do if m.type == type_ then return m end end
end

describe("server frames with unusual JSON", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  local function session_for(...)
    return hf.echo_session(h, nil, ...)
  end

  it("args nested 130 levels deep drop that call alone: the other call runs, the response ends", function()
    local session, runs, client = session_for(
      '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":' .. deep(130) .. '},'
      .. '{"id":"c2","name":"echo","args":{"n":2}}]}}')
    local msgs = until_done(session)
    assert.same({ "toolCall.functionCalls[1]: args nest deeper than 64 levels: that call cannot be answered" },
      errors_of(msgs))
    assert.equal(1, #runs)
    assert.equal("c2", runs[1].id)
    assert.equal(2, runs[1].args.n)
    client:close()
  end)

  it("a frame nested beyond 1000 levels is refused as too deep, not as malformed", function()
    local session, _, client = session_for(
      '{"serverContent":{"x":' .. string.rep("[", 1100) .. string.rep("]", 1100) .. '}}',
      '{"serverContent":{"modelTurn":{"parts":[{"text":"after"}]},"turnComplete":true}}')
    local msgs = until_done(session)
    local errs = errors_of(msgs)
    assert.equal(1, #errs)
    assert.matches("nests deeper than 1000 levels", errs[1])
    assert.not_matches("malformed", errs[1])
    assert.equal("after", of_type(msgs, "output_text_done").text)
    client:close()
  end)

  it("a lone surrogate escape reads as U+FFFD, reported where it is; the turn ends", function()
    local session, _, client = session_for(
      '{"serverContent":{"modelTurn":{"parts":[{"text":"Hello "}]}}}',
      '{"serverContent":{"modelTurn":{"parts":[{"text":"a"},{"text":"world \\ud83d"}]},"turnComplete":true}}')
    local msgs = until_done(session)
    assert.same({ "serverContent.modelTurn.parts[2].text holds a lone surrogate escape (\\ud83d): read as U+FFFD" },
      errors_of(msgs))
    assert.equal("Hello aworld \u{FFFD}", of_type(msgs, "output_text_done").text)
    client:close()
  end)

  it("a lone low surrogate in a call's args reads as U+FFFD; the call runs", function()
    local session, runs, client = session_for(
      '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":{"s":"x\\udc00y","k\\ud800":1}}]}}')
    local msgs = until_done(session)
    assert.same({ "toolCall.functionCalls[1].args.s holds a lone surrogate escape (\\udc00) (2 in the message): read as U+FFFD" },
      errors_of(msgs))
    assert.equal(1, #runs)
    assert.equal("x\u{FFFD}y", runs[1].args.s)
    assert.equal(1, runs[1].args["k\u{FFFD}"])
    client:close()
  end)

  it("a newHandle with a lone surrogate is refused; the session resumes with its last handle", function()
    local client, tag = h:client("send", { frames = frames(
      '{"sessionResumptionUpdate":{"newHandle":"good","resumable":true}}',
      '{"sessionResumptionUpdate":{"newHandle":"a\\ud800b","resumable":true}}',
      '{"goAway":{"timeLeft":"0s"}}') })
    local session = assert(client:connect { output_modalities = { "text" } })
    local _, seen = helper.receive_until(session, "reconnected", 15)
    assert.equal("good", h:log(tag)[2].setup.sessionResumption.handle)
    assert.same({ "sessionResumptionUpdate.newHandle holds a lone surrogate escape (\\ud800): read as U+FFFD",
      "sessionResumptionUpdate.newHandle is a text with a lone surrogate escape: the session keeps its last handle" },
      errors_of(seen))
    assert.equal("good", session:resumption_handle())
    client:close()
  end)

  it("integers beyond 2^53 arrive exact: call args, token counts", function()
    local session, runs, client = session_for(
      '{"toolCall":{"functionCalls":[{"id":"c1","name":"echo","args":{"n":9007199254740993,"m":-9223372036854775808}}]},'
      .. '"usageMetadata":{"promptTokenCount":9223372036854775807}}')
    local msgs = until_done(session)
    assert.same({}, errors_of(msgs))
    assert.equal(1, #runs)
    assert.equal(math.tointeger(9007199254740993), runs[1].args.n)
    assert.equal(math.mininteger, runs[1].args.m)
    assert.equal(math.maxinteger, of_type(msgs, "response_done").usage.input_tokens)
    client:close()
  end)
end)

describe("core.json_decode numbers", function()
  it("gives every integer within int64 exactly, and floats beyond", function()
    assert.equal(9007199254740993, core.json_decode "9007199254740993")
    assert.equal(math.maxinteger, core.json_decode "9223372036854775807")
    assert.equal(math.mininteger, core.json_decode "-9223372036854775808")
    assert.equal("integer", math.type(core.json_decode "9223372036854775807"))
    assert.equal("float", math.type(core.json_decode "9223372036854775808"))
    assert.equal("float", math.type(core.json_decode "-9223372036854775809"))
    assert.equal(1234567890123456789, core.json_decode('{"n":1234567890123456789}').n)
    assert.equal("integer", math.type(core.json_decode "1e2"))
  end)
end)
