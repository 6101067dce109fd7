/* libFuzzer target: JSON text through the binding and back. What core.json_decode reads
 * must encode with core.json_encode (strings that are not UTF-8 aside: they are refused
 * by design), decode again to the same values (the same number subtypes too), and encode
 * again; where lua-cjson also reads the text, both must give the same values (cjson's
 * floats beyond 2^53 aside: it rounds integers through a double). A raised Lua error
 * (other than out of memory) is a bug, reported by aborting. */
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
    "local cjson = require 'cjson'.new()\n"
    "-- the same values, numbers of the same subtype (NaN equal to NaN)\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    if a ~= a and b ~= b then return true end\n"
    "    return a == b and math.type(a) == math.type(b)\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "-- a core value against cjson's: its null, its floats for integers beyond 2^53\n"
    "local function like_cjson(a, c)\n"
    "  if type(a) == 'userdata' and c == cjson.null then return true end\n"
    "  if type(a) == 'number' and type(c) == 'number' then\n"
    "    return math.abs(c) >= 2^53 or a == c\n"
    "  end\n"
    "  if type(a) ~= type(c) then return false end\n"
    "  if type(a) ~= 'table' then return a == c end\n"
    "  for k, v in pairs(a) do\n"
    "    if c[k] == nil or not like_cjson(v, c[k]) then return false end\n"
    "  end\n"
    "  for k in pairs(c) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "function fz(text)\n"
    "  local v, err = core.json_decode(text)\n"
    "  if v == nil then assert(type(err) == 'string' and #err > 0, 'no message'); return end\n"
    "  local okc, c = pcall(cjson.decode, text)\n"
    "  if okc and not text:find('\\0', 1, true) and not like_cjson(v, c) then\n"
    "    error('the core reader and cjson disagree')\n"
    "  end\n"
    "  local ok, e1 = pcall(core.json_encode, v, 128)\n"
    "  if not ok then\n"
    "    if tostring(e1):find('UTF%-8') then return end\n"
    "    error('encode of a decoded value failed: ' .. tostring(e1))\n"
    "  end\n"
    "  local v2, err2 = core.json_decode(e1)\n"
    "  if v2 == nil then error('decode of encoded text failed: ' .. tostring(err2) .. ': ' .. e1) end\n"
    "  if not same(v, v2) then error('the round trip changed the value: ' .. e1) end\n"
    "  assert(type(core.json_encode(v2, 128)) == 'string')\n"
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

    lua_getglobal(L, "fz");
    lua_pushlstring(L, (const char *)data, size);
    st = lua_pcall(L, 1, 0, 0);
    if (st != LUA_OK && st != LUA_ERRMEM) {
        fprintf(stderr, "json round trip: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    if (++runs % 4096 == 0)
        lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
