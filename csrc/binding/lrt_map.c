/* The mapping's entry points that are not one direction: map_new, model_name, and the
 * small helpers the mapping files share. */
#include "lrt_map.h"

#include <stdarg.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_private.h"
#include "lrt_suggest.h"
#include "rt_base64.h"
#include "rt_model.h"

int lrt_map_vertex(lua_State *L, int state)
{
    lua_getfield(L, state, "backend");
    int v = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "vertex") == 0;
    lua_pop(L, 1);
    return v;
}

void lrt_map_append(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawseti(L, idx, (lua_Integer)lua_rawlen(L, idx) + 1);
}

void lrt_set_str(lua_State *L, int idx, const char *k, const char *v)
{
    idx = lua_absindex(L, idx);
    lua_pushstring(L, v);
    lua_setfield(L, idx, k);
}

void lrt_set_int(lua_State *L, int idx, const char *k, lua_Integer v)
{
    idx = lua_absindex(L, idx);
    lua_pushinteger(L, v);
    lua_setfield(L, idx, k);
}

void lrt_set_bool(lua_State *L, int idx, const char *k, int v)
{
    idx = lua_absindex(L, idx);
    lua_pushboolean(L, v);
    lua_setfield(L, idx, k);
}

lua_Integer lrt_get_int(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

int lrt_get_bool(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

void lrt_get_table(lua_State *L, int idx, const char *k)
{
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, idx, k) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, idx, k);
    }
}

const char *lrt_map_shown(lua_State *L, const char *s, size_t n)
{
    return lrt_push_shown(L, s, n, 40);
}

const char *lrt_map_enum(lua_State *L, int idx, const char *what, ...)
{
    size_t n;
    va_list ap;

    if (lua_type(L, idx) != LUA_TSTRING)
        return NULL;
    const char *s = lua_tolstring(L, idx, &n);
    if (!memchr(s, '\0', n))
        return s;
    va_start(ap, what);
    what = lua_pushvfstring(L, what, ap);   /* s stays alive at idx */
    va_end(ap);
    return luaL_error(L, "%s %s contains a NUL byte", what, lrt_map_shown(L, s, n)), NULL;
}

/* Pushes a short form of the key on top for an error message: 'name' (at most 40
 * bytes), a number, or the type's name. */
static const char *key_name(lua_State *L, int k)
{
    if (lua_type(L, k) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, k, &n);
        return lrt_map_shown(L, s, n);
    }
    if (lua_type(L, k) == LUA_TNUMBER)
        return lua_pushfstring(L, "%s", lua_tostring(L, k));
    return lua_pushstring(L, luaL_typename(L, k));
}

/* Whether the list at idx (n entries stored) has entries that are not stored in it, from
 * its metatable's __len or __index: a proxy, whose entries a raw read (as the mapping
 * does) would not see. A list class whose metatable only adds methods is a plain list. */
static int is_proxy(lua_State *L, int idx, lua_Integer n)
{
    int proxy;

    if (!lua_getmetatable(L, idx))
        return 0;
    lua_pop(L, 1);
    proxy = luaL_len(L, idx) != n;
    proxy |= lrt_user_geti(L, idx, n + 1) != LUA_TNIL;   /* a strict list raises: none */
    lua_pop(L, 1);
    return proxy;
}

lua_Integer lrt_map_list_len(lua_State *L, int idx, const char *who, const char *what)
{
    idx = lua_absindex(L, idx);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (is_proxy(L, idx, n))
        luaL_error(L, "%s: %s must be a plain list: its metatable gives it entries that are "
                      "not stored in it (__index or __len; %I stored)", who, what, n);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
            luaL_error(L, "%s: %s must be a list ({ x, y, ... }), but it has the key %s", who,
                       what, key_name(L, lua_gettop(L)));
        if (lua_tointeger(L, -1) > n)
            luaL_error(L, "%s: %s must be a list ({ x, y, ... }), but it has a hole before "
                          "index %I", who, what, lua_tointeger(L, -1));
    }
    return n;
}

const char *lrt_map_unknown_field(lua_State *L, int idx, const char *const names[])
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int known = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *k = lua_tolstring(L, -1, &n);
            /* with its length: "role\0x" is not "role", and must not pass as known */
            for (int i = 0; names[i] && !known; i++)
                known = strlen(names[i]) == n && memcmp(k, names[i], n) == 0;
        }
        if (!known) {
            const char *shown = key_name(L, lua_gettop(L)), *meant = NULL;
            if (lua_type(L, -2) == LUA_TSTRING) {
                size_t n;
                const char *k = lua_tolstring(L, -2, &n);
                meant = lrt_suggest(k, n, names);
            }
            return meant ? lua_pushfstring(L, "%s (did you mean '%s'?)", shown, meant) : shown;
        }
    }
    return NULL;
}

void lrt_push_base64(lua_State *L, const char *s, size_t n)
{
    luaL_Buffer b;
    size_t len = rt_base64_encoded_len(n);
    char *p = luaL_buffinitsize(L, &b, len);
    rt_base64_encode(s, n, p);
    luaL_pushresultsize(&b, len);
}

/* seen (a stack slot) maps each table copied so far to its copy: a table met again gets
 * the same copy, so the copy shares what the original shares. A cycle stays a cycle,
 * for the encoder to name, and a table that shares its subtables (2^40 leaves in 40
 * levels) is copied in the time and memory it takes, not once per path to each leaf. */
static void push_copy(lua_State *L, int idx, int bytes_as_base64, int depth, int seen)
{
    idx = lua_absindex(L, idx);
    if (bytes_as_base64 && lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (rt_utf8_valid(s, n))
            lua_pushvalue(L, idx);
        else
            lrt_push_base64(L, s, n);
        return;
    }
    if (lua_type(L, idx) != LUA_TTABLE || depth > LRT_JSON_MAX_DEPTH) {
        lua_pushvalue(L, idx);   /* too deep: shared, and the encoder says why */
        return;
    }
    luaL_checkstack(L, 5, "value nesting");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, seen) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    int copy = lua_gettop(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, copy);
    lua_rawset(L, seen);
    if (lua_getmetatable(L, idx))
        lua_setmetatable(L, copy);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        push_copy(L, -1, bytes_as_base64, depth + 1, seen);
        lua_pushvalue(L, -3);
        lua_insert(L, -2);
        lua_rawset(L, copy);
        lua_pop(L, 1);
    }
}

void lrt_push_concat(lua_State *L, int idx)
{
    luaL_Buffer b;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);

    idx = lua_absindex(L, idx);
    luaL_buffinit(L, &b);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
}

void lrt_push_copy(lua_State *L, int idx, int bytes_as_base64)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        push_copy(L, idx, bytes_as_base64, 1, 0);
        return;
    }
    lua_newtable(L);
    push_copy(L, idx, bytes_as_base64, 1, lua_gettop(L));
    lua_remove(L, -2);
}

/* Reads an optional string field of the context table; "" counts as absent. */
static const char *ctx_str(lua_State *L, int ctx, const char *k)
{
    lua_getfield(L, ctx, k);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0)
        s = lrt_cstring(L, -1, "map context: '%s'", k);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "map context: '%s' must be a string", k);
    lua_pop(L, 1);  /* the string stays alive in the context table */
    return s;
}

static int check_backend(lua_State *L, int ctx)
{
    lua_getfield(L, ctx, "backend");
    const char *b = lrt_map_enum(L, -1, "map context: backend");
    if (!b || (strcmp(b, "gemini") != 0 && strcmp(b, "vertex") != 0))
        luaL_error(L, "map context: backend must be \"gemini\" or \"vertex\"");
    int vertex = b[0] == 'v';
    lua_pop(L, 1);
    return vertex;
}

const char *lrt_map_model_name(const struct rt_model_ctx *c, const char *model, size_t n,
                               char *out, size_t outsz)
{
    const char *why = NULL;

    /* the core reads a C string: a NUL byte would cut the name short */
    if (strlen(model) != n)
        return "unsafe model name: it contains a NUL byte";
    if (rt_model_resolve(c, model, out, outsz, &why) != 0)
        return why ? why : "unsafe model name";
    return NULL;
}

/* core.model_name(ctx, model) -> the wire model name. */
static int lrt_model_name(lua_State *L)
{
    char out[RT_MODEL_OUT_MAX];
    struct rt_model_ctx c;
    size_t n;

    luaL_checktype(L, 1, LUA_TTABLE);
    const char *model = luaL_checklstring(L, 2, &n);
    c.vertex = check_backend(L, 1);
    c.project = ctx_str(L, 1, "project");
    c.location = ctx_str(L, 1, "location");
    c.express = lrt_get_bool(L, 1, "express");
    const char *why = lrt_map_model_name(&c, model, n, out, sizeof out);
    if (why)
        return luaL_error(L, "%s", why);
    lua_pushstring(L, out);
    return 1;
}

/* core.map_new(ctx) -> a fresh mapping state (fields in lrt_map.h). */
static int lrt_map_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int vertex = check_backend(L, 1);
    const char *project = ctx_str(L, 1, "project");
    const char *location = ctx_str(L, 1, "location");
    const char *version = ctx_str(L, 1, "api_version");

    lua_createtable(L, 0, 24);
    int st = lua_gettop(L);
    lrt_set_str(L, st, "backend", vertex ? "vertex" : "gemini");
    if (project)
        lrt_set_str(L, st, "project", project);
    if (location)
        lrt_set_str(L, st, "location", location);
    if (version)
        lrt_set_str(L, st, "api_version", version);
    lrt_set_bool(L, st, "express", lrt_get_bool(L, 1, "express"));
    lrt_set_bool(L, st, "vad_manual", 0);
    lrt_set_int(L, st, "input_rate", 16000);
    lrt_set_str(L, st, "input_mime", "audio/pcm;rate=16000");
    lrt_set_int(L, st, "response_seq", 0);
    lrt_set_int(L, st, "call_seq", 0);
    lrt_set_bool(L, st, "response_cancelled", 0);
    lrt_set_bool(L, st, "response_audio", 0);
    lrt_set_bool(L, st, "media_trigger", 0);
    lrt_set_bool(L, st, "turn_open", 0);
    lrt_set_bool(L, st, "after_tool_call", 0);
    static const char *const tables[] = { "text_parts", "transcript_parts", "input_parts",
                                          "calls", "generated_ids", "cancelled_ids",
                                          "pending" };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        lua_newtable(L);
        lua_setfield(L, st, tables[i]);
    }
    return 1;
}

static const luaL_Reg map_funcs[] = {
    { "map_new", lrt_map_new },
    { "map_setup", lrt_map_setup },
    { "map_client", lrt_map_client },
    { "map_history", lrt_map_history },
    { "map_server", lrt_map_server },
    { "model_name", lrt_model_name },
    { NULL, NULL },
};

int lrt_open_map(lua_State *L)
{
    lrt_json_open(L);
    luaL_setfuncs(L, map_funcs, 0);
    return 0;
}
