/* Streamed function-call arguments (Vertex partialArgs): the pieces of one call put
 * together into its arguments table (see lrt_map_calls.c for the messages they give).
 *
 * A piece is { jsonPath = "$.a.b[0]", stringValue|numberValue|boolValue|nullValue,
 * willContinue }: the value is set at the path, making objects and arrays on the way;
 * a string whose piece says willContinue goes on in the next piece for the same path. */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"


/* One step of a JSON path: a member name, or an array index (from 0). */
struct step {
    const char *name;   /* NULL for an index */
    size_t len;
    lua_Integer index;
};

#define LRT_PATH_MAX 32

/* Splits a JSON path ("$.a.b[0]['c d']") into steps; returns their number, or -1 when
 * it is not one this mapping reads. Names point into path. */
static int parse_path(const char *path, struct step *st)
{
    const char *p = path;
    int n = 0;
    if (*p++ != '$')
        return -1;
    while (*p) {
        if (n == LRT_PATH_MAX)
            return -1;
        if (*p == '.') {
            const char *b = ++p;
            while (*p && *p != '.' && *p != '[')
                p++;
            if (p == b)
                return -1;
            st[n++] = (struct step){ b, (size_t)(p - b), 0 };
        } else if (p[0] == '[' && (p[1] == '\'' || p[1] == '"')) {
            char q = p[1];
            const char *b = p + 2;
            p = b;
            while (*p && *p != q)
                p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p != q || p[1] != ']')
                return -1;
            st[n++] = (struct step){ b, (size_t)(p - b), 0 };
            p += 2;
        } else if (*p == '[') {
            lua_Integer v = 0;
            const char *b = ++p;
            while (*p >= '0' && *p <= '9' && v < 1000000)
                v = v * 10 + (*p++ - '0');
            if (p == b || *p != ']')
                return -1;
            st[n++] = (struct step){ NULL, 0, v };
            p++;
        } else {
            return -1;
        }
    }
    return n;
}

/* Pushes the key of a step (a string, or the Lua index); a quoted name loses its
 * backslash escapes ($["say \"hi\""]). */
static void push_key(lua_State *L, const struct step *s)
{
    if (!s->name) {
        lua_pushinteger(L, s->index + 1);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < s->len; i++) {
        if (s->name[i] == '\\' && i + 1 < s->len)
            i++;
        luaL_addchar(&b, s->name[i]);
    }
    luaL_pushresult(&b);
}

/* A string streamed in pieces is kept as its pieces (open[path] = { parent =, key =,
 * piece, piece, ... }) and put together only now and then (lrt_partial_materialize): joining
 * each piece to what came before made a string of n pieces cost n^2 / 2 copies (8,000
 * pieces of 100 bytes took 1.5 s). open[1] counts the bytes that came since the
 * strings were last put together, open[2] their length then. */
enum { OPEN_GROWN = 1, OPEN_SIZE = 2 };

static void open_add(lua_State *L, int open, int slot, lua_Integer n)
{
    lua_rawgeti(L, open, slot);
    n += lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, n);
    lua_rawseti(L, open, slot);
}

/* Puts the pieces of the table at pieces together into parent[key], and keeps the
 * result as its only piece. Returns the string's length. */
static lua_Integer join_pieces(lua_State *L, int pieces)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, pieces);
    lrt_push_concat(L, pieces);
    lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = n; i > 1; i--) {
        lua_pushnil(L);
        lua_rawseti(L, pieces, i);
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, pieces, 1);
    lua_getfield(L, pieces, "parent");
    lua_getfield(L, pieces, "key");
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 2);
    return len;
}

/* Puts every open string of the stream (open, at idx) together into the arguments. */
void lrt_partial_materialize(lua_State *L, int open)
{
    lua_Integer size = 0;
    lua_pushnil(L);
    while (lua_next(L, open)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1))
            size += join_pieces(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_pushinteger(L, 0);
    lua_rawseti(L, open, OPEN_GROWN);
    lua_pushinteger(L, size);
    lua_rawseti(L, open, OPEN_SIZE);
}

/* Whether the strings are worth putting together for a delta now: while short, at every
 * piece; beyond 4 KiB, once they grew by an eighth (so all deltas cost O(n) copies). */
int lrt_partial_due(lua_State *L, int open)
{
    lua_rawgeti(L, open, OPEN_GROWN);
    lua_rawgeti(L, open, OPEN_SIZE);
    lua_Integer grown = lua_tointeger(L, -2), size = lua_tointeger(L, -1);
    lua_pop(L, 2);
    return grown == 0 || size + grown <= 4096 || grown * 8 >= size;
}

/* Applies one PartialArg (the table at pa) to the arguments built so far (at args);
 * open (a table) holds the strings that go on in the next piece, as pieces.
 * Returns 0, or -1 with a message pushed. */
int lrt_partial_apply(lua_State *L, int args, int open, int pa, const char *fname)
{
    struct step st[LRT_PATH_MAX];
    int top = lua_gettop(L);
    if (lua_getfield(L, pa, "jsonPath") != LUA_TSTRING) {
        lua_pushfstring(L, "function call '%s': a partial argument has no jsonPath", fname);
        return -1;
    }
    const char *path = lua_tostring(L, -1);
    int n = parse_path(path, st);
    if (n <= 0 || !st[0].name) {
        /* the arguments are an object: a path must start with a member's name */
        lua_pushfstring(L, "function call '%s': cannot read the argument path '%s'", fname, path);
        return -1;
    }
    int path_idx = lua_gettop(L);

    /* walk to the parent, making objects and arrays on the way */
    lua_pushvalue(L, args);
    for (int i = 0; i < n - 1; i++) {
        push_key(L, &st[i]);
        if (lua_rawget(L, -2) != LUA_TTABLE) {
            lua_pop(L, 1);
            if (st[i + 1].name)
                lua_newtable(L);
            else
                lrt_json_newarray(L, 0);
            push_key(L, &st[i]);
            lua_pushvalue(L, -2);
            lua_rawset(L, -4);
        }
        lua_remove(L, -2);
    }
    int parent = lua_gettop(L);

    int more = lrt_get_bool(L, pa, "willContinue");
    push_key(L, &st[n - 1]);
    int key = lua_gettop(L);
    if (lua_getfield(L, pa, "stringValue") == LUA_TSTRING) {
        int value = lua_gettop(L);
        open_add(L, open, OPEN_GROWN, (lua_Integer)lua_rawlen(L, value));
        lua_pushvalue(L, path_idx);
        if (lua_rawget(L, open) == LUA_TTABLE) {
            /* the string goes on: one more piece, put together when its last one came */
            int pieces = lua_gettop(L);
            lua_pushvalue(L, value);
            lua_rawseti(L, pieces, (lua_Integer)lua_rawlen(L, pieces) + 1);
            if (!more) {
                join_pieces(L, pieces);
                lua_pushvalue(L, path_idx);
                lua_pushnil(L);
                lua_rawset(L, open);
            }
            lua_settop(L, top);
            return 0;
        }
        lua_pop(L, 1);
        if (more) {
            lua_createtable(L, 4, 2);
            lua_pushvalue(L, parent);
            lua_setfield(L, -2, "parent");
            lua_pushvalue(L, key);
            lua_setfield(L, -2, "key");
            lua_pushvalue(L, value);
            lua_rawseti(L, -2, 1);
            lua_pushvalue(L, path_idx);
            lua_insert(L, -2);
            lua_rawset(L, open);
        }
    } else {
        lua_pop(L, 1);
        lua_pushvalue(L, path_idx);   /* a value of another kind ends a string there */
        lua_pushnil(L);
        lua_rawset(L, open);
        if (lua_getfield(L, pa, "numberValue") == LUA_TNUMBER) {
            lua_Integer iv;
            if (!lua_isinteger(L, -1) && lua_numbertointeger(lua_tonumber(L, -1), &iv) &&
                (lua_Number)iv == lua_tonumber(L, -1)) {
                lua_pop(L, 1);
                lua_pushinteger(L, iv);
            }
        } else if (lua_pop(L, 1), lua_getfield(L, pa, "boolValue") == LUA_TBOOLEAN) {
            /* as is */
        } else if (lua_pop(L, 1), lua_getfield(L, pa, "nullValue") != LUA_TNIL) {
            lua_pop(L, 1);
            lrt_json_pushnull(L);
        } else {
            lua_settop(L, top);   /* a piece without a value: nothing to set */
            return 0;
        }
    }
    lua_pushvalue(L, key);
    lua_insert(L, -2);
    lua_rawset(L, parent);
    lua_settop(L, top);
    return 0;
}
