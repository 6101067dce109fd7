-- Issue 15: a server audio part that is not valid base64 gives a "protocol" error in
-- place of that part; the rest of the server message is kept (the text parts around it,
-- the transcription) and the response still has its response_created / response_done pair.
local helper = require "spec.helper"

describe("issue 15: server audio that is not base64", function()
  local h
  setup(function() h = helper.hostile() end)
  teardown(function() h:stop() end)

  it("is reported in its place, and the rest of the message and the turn are kept", function()
    local client = h:client "bad_base64_audio"
    local session = assert(client:connect { output_modalities = { "audio" } })
    local msgs, count = helper.collect_turn(session)
    local types = {}
    for _, m in ipairs(msgs) do types[#types + 1] = m.type end
    assert.same({ "response_created", "output_text_delta", "error", "output_text_delta",
      "output_audio_transcription_delta", "output_text_done", "output_audio_transcription_done",
      "response_done" }, types)
    assert.equal(1, count.response_created)
    assert.equal(1, count.response_done)
    local err = msgs[3]
    assert.equal("protocol", err.code)
    assert.matches("base64", err.message)
    assert.equal(msgs[1].response_id, err.response_id)
    assert.equal("before", msgs[2].text)
    assert.equal("after", msgs[4].text)
    assert.equal("said", msgs[5].text)
    assert.equal("beforeafter", msgs[6].text)
    assert.equal("completed", msgs[8].status)
    assert.is_true(session:is_open())
    session:close()
    helper.drain(session)
    client:close()
  end)
end)
