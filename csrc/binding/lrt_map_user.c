/* Reading the caller's tables (messages, items, parts, lists, tools, a result's options)
 * as connect reads its options: a key whose look-up through the metatable raises (a
 * "strict" table, whose __index raises for a key it lacks, as penlight's strict does)
 * counts as absent. */
#include <lauxlib.h>

#include "lrt_map.h"

static int index_protected(lua_State *L)
{
    lua_gettable(L, 1);
    return 1;
}

/* With a placeholder and the key on top: t[key] (t at idx, absolute) read through its
 * metamethods in a protected call, nil when that raises, in the placeholder's place. */
static int user_guarded(lua_State *L, int idx)
{
    int key = lua_gettop(L);
    lua_pushcfunction(L, index_protected);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, key);
    int st = lua_pcall(L, 2, 1, 0);
    if (st == LUA_ERRMEM)
        lua_error(L);   /* out of memory stays what it is */
    if (st != LUA_OK) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_replace(L, key - 1);
    lua_settop(L, key - 1);
    return lua_type(L, -1);
}

/* Replaces the key on top with t[key] (t at idx, absolute), read as lrt_user_field
 * says. Returns the value's type. */
static int user_index(lua_State *L, int idx)
{
    if (!lua_istable(L, idx)) {   /* a userdata's fields are its metatable's alone */
        lua_pushnil(L);
        lua_insert(L, -2);
        return user_guarded(L, idx);
    }
    lua_pushvalue(L, -1);
    int t = lua_rawget(L, idx);
    /* A stored value, or no __index to ask: the raw read is the whole answer. Only a
     * metatable's __index pays for a protected call. */
    if (t != LUA_TNIL || !lua_getmetatable(L, idx)) {
        lua_remove(L, -2);
        return t;
    }
    lua_pushliteral(L, "__index");
    int has_index = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 3);   /* __index, the metatable, the raw nil */
    if (!has_index) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNIL;
    }
    lua_pushnil(L);
    lua_insert(L, -2);
    return user_guarded(L, idx);
}

int lrt_user_field(lua_State *L, int idx, const char *k)
{
    idx = lua_absindex(L, idx);
    if (!lua_getmetatable(L, idx))
        return lua_getfield(L, idx, k);   /* a plain table: no metamethod to guard */
    lua_pop(L, 1);
    lua_pushstring(L, k);
    return user_index(L, idx);
}

int lrt_user_geti(lua_State *L, int idx, lua_Integer i)
{
    idx = lua_absindex(L, idx);
    if (!lua_getmetatable(L, idx))
        return lua_geti(L, idx, i);
    lua_pop(L, 1);
    lua_pushinteger(L, i);
    return user_index(L, idx);
}

int lrt_user_bool(lua_State *L, int idx, const char *k)
{
    lrt_user_field(L, idx, k);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}
