rockspec_format = "3.0"
package = "realtime"
version = "scm-1"
source = {
  url = "git+https://example.invalid/realtime.git",
  branch = "main",
}
description = {
  summary = "Live voice, text and tool-calling sessions with Google's Gemini Live API",
  detailed = [[
A C core (libwebsockets, OpenSSL, libcurl) with a thin Lua 5.4 binding for the
Gemini Live API on the Gemini Developer API and on Vertex AI: streaming audio,
text, images, tools as Lua functions, transcription, usage, session resumption,
coroutine- and frame-loop-friendly receiving.
]],
  license = "MIT",
  labels = { "gemini", "realtime", "websocket", "audio" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson >= 2.1.0",
}
external_dependencies = {
  LIBWEBSOCKETS = { header = "libwebsockets.h", library = "websockets" },
  OPENSSL = { header = "openssl/ssl.h", library = "ssl" },
  -- Debian keeps curl.h under a multiarch directory that LuaRocks 3.8 does not search
  LIBCURL = { library = "curl" },
}
build = {
  type = "make",
  build_target = "module",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    BUILD = "build/rock",
  },
  -- LuaRocks copies a directory named doc by itself; ours is docs (the API reference)
  copy_directories = { "docs" },
  install_target = "install-lua",
  install_variables = {
    BUILD = "build/rock",
    LUA_INCDIR = "$(LUA_INCDIR)",
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
}
