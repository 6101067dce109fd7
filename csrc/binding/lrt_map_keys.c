/* The mapping's interned names (lrt_map_keys.h). */
#include "lrt_map_keys.h"

#include <lauxlib.h>

static const char key_names;

static const char *const names[LRT_K_COUNT] = {
    NULL,
#define LRT_KEY_NAME(id, name) name,
    LRT_MAP_KEYS(LRT_KEY_NAME)
#undef LRT_KEY_NAME
};

void lrt_keys_push(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_names) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_createtable(L, LRT_K_COUNT - 1, 0);
    for (int k = 1; k < LRT_K_COUNT; k++) {
        lua_pushstring(L, names[k]);
        lua_rawseti(L, -2, k);
    }
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_names);
}
