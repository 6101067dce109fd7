-- Issue 15, decided (docs/api.md, "Server data the library corrects"):
--  * output audio that is not whole 16-bit samples: the delta carries the whole samples,
--    and an error (code "protocol") says how many bytes were dropped;
--  * an output audio rate that is not an integer of 8,000 to 192,000 Hz: an error (code
--    "protocol", once per response) names the mime type, and the deltas carry 24000, the
--    Live API's output rate;
--  * a close reason that is not UTF-8: each invalid byte sequence becomes U+FFFD, so the
--    reason can be logged and JSON-encoded as is; the code is kept.
local helper = require "spec.helper"

local REPLACEMENT = "\xEF\xBF\xBD"

describe("issue 15: server data the library corrects", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  local function turn(mode)
    local client = h:client(mode)
    local session = assert(client:connect { output_modalities = { "audio" } })
    local msgs, count = helper.collect_turn(session)
    local by_type = {}
    for _, m in ipairs(msgs) do by_type[m.type] = by_type[m.type] or m end
    assert.equal(1, count.response_created)
    assert.equal(1, count.response_done)
    session:close()
    helper.drain(session)
    client:close()
    return by_type, count
  end

  it("odd-length output audio: whole samples are delivered and the cut is reported", function()
    local m = turn "odd_audio"
    assert.equal("\1\0", m.output_audio_delta.audio)
    assert.equal(24000, m.output_audio_delta.rate)
    assert.equal("protocol", m.error.code)
    assert.matches("3 bytes", m.error.message)
    assert.matches("16%-bit", m.error.message)
  end)

  it("an absurd output rate: reported, and the delta carries 24000", function()
    local m, count = turn "absurd_rate"
    assert.equal("\1\0\2\0", m.output_audio_delta.audio)
    assert.equal(24000, m.output_audio_delta.rate)
    assert.equal(1, count.error)
    assert.equal("protocol", m.error.code)
    assert.matches("rate=1e20", m.error.message, 1, true)
  end)

  it("a close reason that is not UTF-8 arrives with U+FFFD in place of the bad bytes", function()
    local client = h:client("close_reason", { code = 4001, reason_hex = "6f6bc328ff" })
    local session = assert(client:connect { output_modalities = { "text" } })
    local closed = helper.receive_until(session, "closed", 5)
    assert.equal(4001, closed.code)
    assert.equal("ok" .. REPLACEMENT .. "(" .. REPLACEMENT, closed.reason)
    client:close()
  end)

  it("the same when the close comes before setupComplete", function()
    local client = h:client("close_reason", { code = 4002, reason_hex = "ff", when = "connect" })
    local session, msg = client:connect { output_modalities = { "text" }, timeout = 5 }
    assert.is_nil(session)
    assert.is_not_nil(utf8.len(msg), "message is not UTF-8: " .. msg)
    assert.matches("4002", msg)
    client:close()
  end)
end)
