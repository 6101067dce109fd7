/* Shared by the binding's JSON files: lrt_json.c (decoding, markers, set-up) and
 * lrt_json_encode.c (the encoder). Not for other files: they use lrt_json.h. */
#ifndef LRT_JSON_PRIVATE_H
#define LRT_JSON_PRIVATE_H

#include <lua.h>

/* Registry entries lrt_json_open fills, keyed by the addresses of these bytes (defined
 * in lrt_json.c). The encoder reads them to recognise the markers. */
extern const char lrt_json_key_null;        /* cjson.null */
extern const char lrt_json_key_arraymt;     /* our array-marker metatable */
extern const char lrt_json_key_cj_arraymt;  /* cjson.array_mt (openresty fork) or nil */
extern const char lrt_json_key_cj_empty;    /* cjson.empty_array (openresty fork) or nil */

/* The registry entry at key as a pointer, to compare values with: a light userdata's
 * address, a table's identity (lua_topointer), NULL when the entry is absent. */
static inline const void *lrt_json_registry_pointer(lua_State *L, const void *key)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    const void *p = lua_type(L, -1) == LUA_TLIGHTUSERDATA ? lua_touserdata(L, -1)
                                                          : lua_topointer(L, -1);
    lua_pop(L, 1);
    return p;
}

/* Registers the metatable of the encoder's buffer (its __gc frees what an error raised
 * halfway through an encode leaves). lrt_json_open calls it once per Lua state. */
void lrt_json_encode_open(lua_State *L);

#endif
