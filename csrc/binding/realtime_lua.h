/* realtime_lua.h: the Lua binding's entry point, for programs that embed Lua 5.4 and link
 * librealtime-lua (`pkg-config --cflags --libs realtime-lua`).
 *
 * Give it to Lua as the module "realtime.core" before `require "realtime"` runs, so that
 * no core.so is loaded beside the library (one copy of the core per process:
 * docs/core-api.md):
 *
 *     luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
 *     lua_pushcfunction(L, luaopen_realtime_core);
 *     lua_setfield(L, -2, "realtime.core");
 *     lua_pop(L, 1);
 *
 * The Lua files (realtime/init.lua and the rest) must be on the state's package.path.
 * This header declares lua_State without including lua.h, so C and C++ hosts include
 * Lua's headers as they like (lua.hpp in C++), before or after it. */
#ifndef REALTIME_LUA_H
#define REALTIME_LUA_H

#ifdef __cplusplus
extern "C" {
#endif

struct lua_State;

/* Opens realtime.core in L and returns 1 (the module table on the stack), as every
 * lua_CFunction that opens a module does. */
int luaopen_realtime_core(struct lua_State *L);

#ifdef __cplusplus
}
#endif

#endif
