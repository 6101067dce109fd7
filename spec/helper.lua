-- Shared set-up for the busted specs: where the simulator is, how to talk to its
-- control API, and a few assertions used across files.
--
-- spec/run-tests.sh starts one simulator over TLS before the specs run and exports:
--   RT_SIM_URL  (wss://127.0.0.1:PORT)   RT_SIM_HTTP (https://127.0.0.1:PORT)
--   RT_SIM_CA   (the CA file to trust)   RT_SIM_KEY  (the API key it accepts)
local cjson = require "cjson"

local helper = {}

helper.sim_url = os.getenv "RT_SIM_URL"
helper.sim_http = os.getenv "RT_SIM_HTTP"
helper.sim_ca = os.getenv "RT_SIM_CA"
helper.sim_key = os.getenv "RT_SIM_KEY"
helper.certs = os.getenv "RT_SIM_CERTS"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helper.shell_quote = shell_quote

--- Calls the simulator's control API (JSON over HTTPS) and returns the decoded body.
function helper.sim_request(method, path, body)
  assert(helper.sim_http, "RT_SIM_HTTP is not set: run the specs through `make test`")
  local cmd = { "curl -sS --max-time 10 --cacert", shell_quote(helper.sim_ca), "-X", method,
    "-H 'content-type: application/json'" }
  if body ~= nil then
    cmd[#cmd + 1] = "--data-binary " .. shell_quote(type(body) == "string" and body or cjson.encode(body))
  end
  cmd[#cmd + 1] = shell_quote(helper.sim_http .. path)
  local p = assert(io.popen(table.concat(cmd, " ")))
  local out = p:read "a"
  p:close()
  if out == "" then return nil end
  local ok, value = pcall(cjson.decode, out)
  assert(ok, "control API answered something that is not JSON: " .. out)
  return value
end

function helper.sim_get(path) return helper.sim_request("GET", path) end
function helper.sim_post(path, body) return helper.sim_request("POST", path, body or {}) end

--- Runs a shell command and returns its exit status and output.
function helper.run(cmd)
  -- child processes never inherit the sanitizer preload of `make check`
  local p = assert(io.popen("env -u LD_PRELOAD sh -c " .. shell_quote(cmd) .. " 2>&1"))
  local out = p:read "a"
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

--- Reads a whole file.
function helper.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read "a"
  f:close()
  return s
end

return helper
