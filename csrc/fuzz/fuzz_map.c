/* libFuzzer target: the whole server-message path of the binding, JSON text to neutral
 * messages (core.map_server, through lua-cjson and the mapping state). Hostile input may
 * only ever give `nil, message, "protocol"` or messages; a raised Lua error (other than
 * out of memory) is a bug, reported by aborting. The first input byte picks the backend. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_lua.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;
static unsigned long runs;

static const char lrt_fz_init[] =
    "local core = ...\n"
    "local function new(ctx)\n"
    "  local s = core.map_new(ctx)\n"
    "  pcall(core.map_setup, s, { model = 'gemini-live-x', output_modalities = { 'audio' },\n"
    "        transcription = true, tools = { { name = 'get_weather', parameters = {\n"
    "        type = 'object', properties = { city = { type = 'string' } } } } } })\n"
    "  return s\n"
    "end\n"
    "fz_states = { new { backend = 'gemini' },\n"
    "              new { backend = 'vertex', project = 'p', location = 'l' } }\n"
    "function fz_step(i, text)\n"
    "  local out = core.map_server(fz_states[i], text)\n"
    "  if type(out) == 'table' then\n"
    "    for _, m in ipairs(out) do assert(type(m.type) == 'string') end\n"
    "  end\n"
    "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    L = fuzz_lua_open(lrt_fz_init);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int st;

    if (size < 1)
        return 0;
    lua_getglobal(L, "fz_step");
    lua_pushinteger(L, (data[0] & 1) + 1);
    lua_pushlstring(L, (const char *)data + 1, size - 1);
    st = lua_pcall(L, 2, 0, 0);
    if (st != LUA_OK && st != LUA_ERRMEM) {
        fprintf(stderr, "map_server raised: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    if (++runs % 4096 == 0)
        lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
