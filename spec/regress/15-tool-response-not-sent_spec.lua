-- Issue 15: when the tool response cannot be queued (the handler closed the client), the
-- error message has code "closed" and a message that says why, not the two swapped.
local helper = require "spec.helper"

describe("issue 15: a tool response that cannot be queued", function()
  it("gives an error with code 'closed' and the reason in the message", function()
    local client = helper.gemini()
    local session = assert(client:connect {
      output_modalities = { "text" },
      tools = { { name = "shutdown", handler = function() client:close(); return { ok = true } end } },
    })
    assert(session:send_text "call shutdown {}")
    local err, last
    for msg in session:messages(10) do
      if msg.type == "error" then err = msg end
      last = msg
    end
    assert.equal("closed", last.type)
    assert.is_table(err)
    assert.equal("closed", err.code)
    assert.matches("^tool response not sent: ", err.message)
    assert.is_nil(err.message:find("(null)", 1, true))
    assert.is_true(#err.message > #"tool response not sent: ")
  end)
end)
