/* JSON text <-> Lua values (see lrt_json.h for the rules): decoding, the array and null
 * markers, the module's json_* functions and the set-up. The encoder is in
 * lrt_json_encode.c, the UTF-8 checks in lrt_utf8.c. */
#include "lrt_json.h"

#include <string.h>

#include <lauxlib.h>

#include "lrt_json_private.h"

#define LRT_JSON_STR_(x) #x
#define LRT_JSON_STR(x) LRT_JSON_STR_(x)

/* Registry entries, keyed by the address of these bytes (lrt_json_private.h). */
static const char key_decode;      /* decode function of the private cjson instance */
const char lrt_json_key_null;        /* cjson.null */
const char lrt_json_key_arraymt;     /* our array-marker metatable */
const char lrt_json_key_cj_arraymt;  /* cjson.array_mt (openresty fork) or nil */
const char lrt_json_key_cj_empty;    /* cjson.empty_array (openresty fork) or nil */

/* ---------------------------------------------------------- D E C O D E R */

int lrt_json_normalize(lua_State *L, int idx, int max_depth)
{
    int deepest = 1;

    if (max_depth < 1)
        return -1;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "JSON nesting");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int t = lua_type(L, -1);
        if (t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number d = lua_tonumber(L, -1);
            lua_Integer iv;
            if (lua_numbertointeger(d, &iv) && (lua_Number)iv == d) {
                /* Assigning to an existing field during lua_next is allowed. */
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_pushinteger(L, iv);
                lua_rawset(L, idx);
                continue;
            }
        } else if (t == LUA_TTABLE) {
            int d = lrt_json_normalize(L, -1, max_depth - 1);
            if (d < 0) {
                lua_pop(L, 2);
                return -1;
            }
            if (d + 1 > deepest)
                deepest = d + 1;
        }
        lua_pop(L, 1);
    }
    return deepest;
}

/* Decodes the string at idx with cjson; see lrt_json_decode. */
static int decode_cjson(lua_State *L, int idx, int max_depth)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_decode);
    if (lua_type(L, -1) != LUA_TFUNCTION)
        luaL_error(L, "BUG: lrt_json_open was not called");
    lua_pushvalue(L, idx);
    int st = lua_pcall(L, 1, 1, 0);
    if (st == LUA_ERRMEM)
        lua_error(L);
    if (st != LUA_OK) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushstring(L, "malformed JSON");
        }
        return -1;
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (lrt_json_normalize(L, -1, max_depth) < 0) {
            lua_pop(L, 1);
            lua_pushfstring(L, "JSON nests deeper than %d levels", max_depth);
            return -1;
        }
    } else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
        lua_Number d = lua_tonumber(L, -1);
        lua_Integer iv;
        if (lua_numbertointeger(d, &iv) && (lua_Number)iv == d) {
            lua_pop(L, 1);
            lua_pushinteger(L, iv);
        }
    }
    return 0;
}

/* Decodes s[0..n) (the string at idx, or idx 0): the core's reader first, cjson for the
 * message of what it leaves. */
static int decode_text(lua_State *L, int idx, const char *s, size_t n, int max_depth,
                       struct lrt_json_fixes *fx)
{
    int st = s ? lrt_json_read(L, s, n, max_depth, fx) : -1;

    if (st == 0)
        return 0;
    if (st == -2) {
        lua_pushfstring(L, "JSON nests deeper than %d levels", max_depth);
        return -1;
    }
    if (idx) {
        st = decode_cjson(L, idx, max_depth);
    } else {
        lua_pushlstring(L, s, n);
        st = decode_cjson(L, -1, max_depth);
        lua_remove(L, -2);
    }
    /* cjson 2.1.0 takes a NUL byte for the end of the text: it read a whole value up to
     * one and ignored the rest, which the core's reader refused as trailing data */
    if (st == 0 && s && memchr(s, '\0', n)) {
        lua_pop(L, 1);
        lua_pushfstring(L, "Expected the end but found a NUL byte at character %I",
                        (LUAI_UACINT)(strlen(s) + 1));
        return -1;
    }
    return st;
}

static int decode_at(lua_State *L, int idx, int max_depth)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);

    return decode_text(L, lua_absindex(L, idx), s, n, max_depth, NULL);
}

int lrt_json_decode_at(lua_State *L, int idx)
{
    return decode_at(L, idx, LRT_JSON_WIRE_DEPTH);
}

int lrt_json_decode(lua_State *L, const char *s, size_t n)
{
    return decode_text(L, 0, s, n, LRT_JSON_WIRE_DEPTH, NULL);
}

int lrt_json_decode_server(lua_State *L, const char *s, size_t n, struct lrt_json_fixes *fx)
{
    int st = lrt_json_read(L, s, n, LRT_JSON_SERVER_DEPTH, fx);

    if (st == 0)
        return 0;
    if (st == -2) {
        lua_pushliteral(L, "the server message nests deeper than "
                           LRT_JSON_STR(LRT_JSON_SERVER_DEPTH) " levels");
        return -1;
    }
    /* the reader refuses what JSON does not allow: cjson says where */
    lua_pushlstring(L, s, n);
    st = decode_cjson(L, -1, LRT_JSON_SERVER_DEPTH);
    lua_remove(L, -2);
    if (st == 0) {
        lua_pop(L, 1);
        lua_pushliteral(L, "not read");
    }
    lua_pushfstring(L, "malformed JSON from the server: %s", lua_tostring(L, -1));
    lua_remove(L, -2);
    return -1;
}

/* ------------------------------------------------------------ M A R K E R S */

void lrt_json_newarray(lua_State *L, int narr)
{
    lua_createtable(L, narr, 0);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_json_key_arraymt);
    lua_setmetatable(L, -2);
}

int lrt_json_marked_array(lua_State *L, int idx)
{
    int marked;

    if (!lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_json_key_arraymt);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_json_key_cj_arraymt);   /* nil without one */
    marked = lua_rawequal(L, -3, -2) || lua_rawequal(L, -3, -1);
    lua_pop(L, 3);
    return marked;
}

static int get_probe(lua_State *L)
{
    lua_gettable(L, 1);
    return 1;
}

int lrt_json_strict_empty(lua_State *L, int idx)
{
    int st;

    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 3, "strict table");
    lua_pushcfunction(L, get_probe);
    lua_pushvalue(L, idx);
    lua_pushliteral(L, "realtime: a key no table has");
    st = lua_pcall(L, 2, 1, 0);
    /* out of memory stays what it is, and so does a send's bound passed in the __index */
    if (st == LUA_ERRMEM || (st != LUA_OK && lrt_json_is_overrun(L, -1)))
        lua_error(L);
    lua_pop(L, 1);
    return st != LUA_OK;
}

void lrt_json_pushnull(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_json_key_null);
}

int lrt_json_isnull(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
           lua_touserdata(L, idx) == lrt_json_registry_pointer(L, &lrt_json_key_null);
}

/* ------------------------------------------------------ L U A   F A C E */

/* core.json_encode(value [, max_depth]) -> text; raises on what cannot be encoded. */
static int lrt_json_encode_l(lua_State *L)
{
    lua_Integer depth = luaL_optinteger(L, 2, LRT_JSON_MAX_DEPTH);
    luaL_argcheck(L, depth >= 1 && depth <= LRT_JSON_WIRE_DEPTH, 2,
                  "expected an integer between 1 and 128");
    luaL_checkany(L, 1);
    return lrt_json_encode(L, 1, (int)depth);
}

/* core.json_decode(text) -> value | nil, message. Numbers that are integral come back
 * as integers; nesting deeper than 64 is refused. */
static int lrt_json_decode_l(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    if (decode_at(L, 1, LRT_JSON_MAX_DEPTH) < 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* core.json_array([t]) -> t, marked so that it encodes as [] while empty. */
static int lrt_json_array_l(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lrt_json_newarray(L, 0);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_json_key_arraymt);
    lua_setmetatable(L, 1);
    return 1;
}

static const luaL_Reg json_funcs[] = {
    { "json_encode", lrt_json_encode_l },
    { "json_decode", lrt_json_decode_l },
    { "json_array", lrt_json_array_l },
    { NULL, NULL },
};

void lrt_json_open(lua_State *L)
{
    luaL_checkstack(L, 6, NULL);

    /* a host that opens this module before the standard libraries has no require yet */
    if (lua_getglobal(L, "require") != LUA_TFUNCTION)
        luaL_error(L, "realtime.core: needs Lua's package library (require) to load cjson: "
                      "open the standard libraries (luaL_openlibs) first");
    lua_pushstring(L, "cjson");
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "BUG: require 'cjson' did not return a table");
    int cj = lua_gettop(L);

    /* A private instance, so that our depth and number settings never touch the
     * user's cjson configuration. */
    if (lua_getfield(L, cj, "new") == LUA_TFUNCTION) {
        lua_call(L, 0, 1);
    } else {
        lua_pop(L, 1);
        lua_pushvalue(L, cj);
    }
    int inst = lua_gettop(L);
    if (lua_getfield(L, inst, "decode_max_depth") == LUA_TFUNCTION) {
        lua_pushinteger(L, LRT_JSON_WIRE_DEPTH + 1);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    if (lua_getfield(L, inst, "decode_invalid_numbers") == LUA_TFUNCTION) {
        lua_pushboolean(L, 0);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    if (lua_getfield(L, inst, "decode") != LUA_TFUNCTION)
        luaL_error(L, "BUG: cjson has no decode function");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_decode);

    if (lua_getfield(L, cj, "null") != LUA_TLIGHTUSERDATA)
        luaL_error(L, "BUG: cjson.null is missing");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_json_key_null);
    int null_idx = lua_gettop(L);

    lua_getfield(L, cj, "array_mt");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_json_key_cj_arraymt);
    lua_getfield(L, cj, "empty_array");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_json_key_cj_empty);

    /* One array marker per state: arrays marked before the module was opened again
     * (package.loaded["realtime.core"] = nil, then require) still encode as arrays. */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_json_key_arraymt) != LUA_TTABLE) {
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "realtime.json_array");
        lua_setfield(L, -2, "__name");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_json_key_arraymt);
    }
    lua_pop(L, 1);

    lrt_json_encode_open(L);

    /* module table is below cjson, the instance and null */
    int mod = cj - 1;
    lua_pushvalue(L, null_idx);
    lua_setfield(L, mod, "json_null");
    lua_settop(L, mod);
    luaL_setfuncs(L, json_funcs, 0);
}
