/* What the fuzz targets that drive the binding through Lua share: a state with the
 * standard libraries and realtime.core, and init (a chunk that gets the module as its
 * argument and defines the target's functions) run in it. Aborts on any failure: a
 * target without its state cannot run. */
#ifndef FUZZ_LUA_H
#define FUZZ_LUA_H

#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_realtime_core(lua_State *L);

static lua_State *fuzz_lua_open(const char *init)
{
    lua_State *L = luaL_newstate();

    if (!L)
        abort();
    luaL_openlibs(L);
    luaL_requiref(L, "realtime.core", luaopen_realtime_core, 0);
    if (luaL_loadstring(L, init) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        abort();
    }
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    return L;
}

#endif
