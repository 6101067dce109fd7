-- realtime: live voice, text and tool sessions with Google's Gemini Live API.
local core = require "realtime.core"

local realtime = {
  _VERSION = core._VERSION,
  core = core,
}

--- The versions of this module and of the libraries it was built with.
-- @treturn table { realtime, lua, libwebsockets, openssl, libcurl }
function realtime.versions()
  return core.versions()
end

return realtime
