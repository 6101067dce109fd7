-- What the specs of server frames share (server_shapes_spec, server_json_spec): frames for
-- the hostile server's `send` mode, a session on it with an echo tool, and readers of the
-- messages that come.
local helper = require "spec.helper"
local assert = require "luassert"

local M = {}

--- The `frames` parameter of `send` mode: each frame's text, base64url, comma-separated.
function M.frames(...)
  local t = {}
  for i, f in ipairs { ... } do t[i] = helper.b64url(f) end
  return table.concat(t, ",")
end

--- A session on `send` mode with those frames and a tool "echo" whose handler records its
-- arguments and call in `runs` and returns result(args) ({ ok = true } by default).
-- Returns session, runs, client, tag.
function M.echo_session(h, result, ...)
  local runs = {}
  local client, tag = h:client("send", { frames = M.frames(...) })
  local session = assert(client:connect {
    output_modalities = { "text" },
    tools = { { name = "echo", handler = function(args, call)
      runs[#runs + 1] = { args = args, id = call.id }
      return result and result(args) or { ok = true }
    end } },
  })
  return session, runs, client, tag
end

--- Every message until `n` (default 1) response_done messages, or an error after 5 s of
-- quiet naming what came; checks that response_created and response_done alternate.
function M.until_done(session, n)
  local all, open, done = {}, nil, 0
  while done < (n or 1) do
    local msg = session:receive(5)
    if not msg then
      local seen = {}
      for i, m in ipairs(all) do seen[i] = m.type .. (m.message and (" (" .. m.message .. ")") or "") end
      error("no response_done after " .. table.concat(seen, ", "))
    end
    all[#all + 1] = msg
    if msg.type == "response_created" then
      assert.is_nil(open, "a response started inside another")
      open = msg.response_id
    elseif msg.type == "response_done" then
      assert.equal(open, msg.response_id, "response_done without its response_created")
      open, done = nil, done + 1
    end
  end
  return all
end

--- The texts of the `error` messages among msgs, in order.
function M.errors_of(msgs)
  local t = {}
  for _, m in ipairs(msgs) do if m.type == "error" then t[#t + 1] = m.message end end
  return t
end

return M
