/* The `raw` option: deep-merged into the setup last (map_setup), with the two spellings
 * of one field name made one (docs/api.md, `raw`). */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_setup.h"

/* ASCII alone: the C library's isalnum and toupper follow the host's locale (in a
 * Turkish one toupper leaves 'i' as it is), and field names are ASCII. */
static int ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Pushes the camelCase spelling of the string key at k (the service reads a snake_case
 * field name as its camelCase twin, at every depth): each '_' that follows a character
 * and comes before a letter or digit goes, and that letter is upper-cased. */
static void push_camel(lua_State *L, int k)
{
    size_t n, o = 0;
    const char *s = lua_tolstring(L, k, &n);

    if (!memchr(s, '_', n)) {
        lua_pushvalue(L, k);
        return;
    }
    luaL_Buffer b;
    char *c = luaL_buffinitsize(L, &b, n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_' && o > 0 && i + 1 < n && ascii_alnum((unsigned char)s[i + 1]))
            c[o++] = ascii_upper(s[++i]);
        else
            c[o++] = s[i];
    }
    luaL_pushresultsize(&b, o);
}

/* Notes the string keys of the table at t in the table at names: camelCase spelling ->
 * the key as written, or true once two spellings of that name are seen. */
static void note_spellings(lua_State *L, int names, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        int k = lua_gettop(L);
        if (lua_type(L, k) != LUA_TSTRING)
            continue;
        push_camel(L, k);
        lua_pushvalue(L, -1);
        int seen = lua_rawget(L, names);
        if (seen == LUA_TNIL || (seen == LUA_TSTRING && !lua_rawequal(L, -1, k))) {
            lua_pop(L, 1);
            if (seen == LUA_TNIL)
                lua_pushvalue(L, k);
            else
                lua_pushboolean(L, 1);
            lua_rawset(L, names);
        }
        lua_settop(L, k);
    }
}

/* Whether the string at a sorts before the one at b, byte by byte (lua_compare would
 * follow the locale's collation). */
static int bytes_before(lua_State *L, int a, int b)
{
    size_t na, nb;
    const char *sa = lua_tolstring(L, a, &na), *sb = lua_tolstring(L, b, &nb);
    int c = memcmp(sa, sb, na < nb ? na : nb);

    return c < 0 || (c == 0 && na < nb);
}

/* Raises when the table at src holds two keys, neither in camelCase, that make one
 * camelCase name (generation_config, generation_Config): both would merge first, in the
 * table's order, so which one won would change from run to run. path (a string at that
 * index, "" at the raw's top) says where src is in the raw; the keys are named in byte
 * order, so that the message too is the same whatever the order. */
static void refuse_twins(lua_State *L, int src, int path)
{
    lua_newtable(L);   /* camelCase spelling -> the other spelling seen */
    int odd = lua_gettop(L);

    lua_pushnil(L);
    while (lua_next(L, src)) {
        lua_pop(L, 1);
        int k = lua_gettop(L);
        if (lua_type(L, k) != LUA_TSTRING)
            continue;
        push_camel(L, k);
        if (!lua_rawequal(L, -1, k)) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, odd) == LUA_TSTRING) {
                int a = bytes_before(L, -1, k) ? lua_gettop(L) : k;
                int b = a == k ? lua_gettop(L) : k;
                size_t na, nb, nc;
                const char *sa = lua_tolstring(L, a, &na), *sb = lua_tolstring(L, b, &nb);
                const char *sc = lua_tolstring(L, k + 1, &nc);
                const char *at = lua_tostring(L, path);
                luaL_error(L, "option 'raw': keys %s and %s%s%s are two spellings of %s: give one",
                           lrt_map_shown(L, sa, na), lrt_map_shown(L, sb, nb), *at ? " at " : "",
                           at, lrt_map_shown(L, sc, nc));
            }
            lua_pop(L, 1);
            lua_pushvalue(L, k);
            lua_rawset(L, odd);
        }
        lua_settop(L, k);
    }
    lua_settop(L, odd - 1);
}

/* Pushes the key that the key at k goes under: the camelCase spelling when k is another
 * spelling of a name that names (note_spellings) saw twice, so that the two never go out
 * side by side (the service closes 1007 on a duplicate field); else k as written (it may
 * be a name of the caller's own). Returns 1 for the first case. */
static int merge_key(lua_State *L, int names, int k)
{
    if (lua_type(L, k) == LUA_TSTRING) {
        push_camel(L, k);
        if (!lua_rawequal(L, -1, k)) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, names) == LUA_TBOOLEAN) {
                lua_pop(L, 1);
                return 1;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pushvalue(L, k);
    return 0;
}

/* Moves the value of each key of dst that is another spelling of a name seen twice to
 * the camelCase key, unless that is taken (the camelCase spelling wins). dst got such a
 * key from an earlier object of the raw (generation_config = { top_p } before
 * generationConfig = { topP }). */
static void fold_spellings(lua_State *L, int dst, int names)
{
    lua_newtable(L);   /* the keys to move: dst takes no new key while it is traversed */
    int moves = lua_gettop(L);

    lua_pushnil(L);
    while (lua_next(L, dst)) {
        lua_pop(L, 1);
        int k = lua_gettop(L);
        if (merge_key(L, names, k)) {
            lua_pop(L, 1);
            lua_pushvalue(L, k);
            lua_rawseti(L, moves, (lua_Integer)lua_rawlen(L, moves) + 1);
        }
        lua_settop(L, k);
    }
    for (lua_Integer i = 1, n = (lua_Integer)lua_rawlen(L, moves); i <= n; i++) {
        lua_rawgeti(L, moves, i);
        int k = lua_gettop(L);
        push_camel(L, k);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, dst) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushvalue(L, k);
            lua_rawget(L, dst);
            lua_rawset(L, dst);
        }
        lua_settop(L, k);
        lua_pushnil(L);
        lua_rawset(L, dst);
    }
    lua_settop(L, moves - 1);
}

/* Deep-merges the table at src into the table at dst: objects merge key by key, any
 * other value replaces, and cjson.null removes the key (so raw can take out something
 * the options put in). Two spellings of one name (a snake_case key and its camelCase
 * twin, in src or one in each) become the camelCase key; in src the snake_case one
 * merges first, so that the camelCase one wins where the two give a field each. An
 * object dst lacks is merged into a new table, never shared: the caller's tables are
 * not changed, and the same rule reaches inside them. */
static void merge(lua_State *L, int dst, int src, int depth, int path);

/* Pushes "<path>.<key>" ("<key>" at the top; the string key at k shown as lrt_map_shown
 * shows it, without its quotes): where an object is in the raw as the caller wrote it,
 * for an error about it. */
static void push_path(lua_State *L, int path, int k)
{
    size_t n;
    const char *key = lua_tolstring(L, k, &n);
    const char *shown = lrt_map_shown(L, key, n);
    const char *at = lua_tostring(L, path);

    n = strlen(shown);
    lua_pushfstring(L, "%s%s", at, *at ? "." : "");
    lua_pushlstring(L, shown + 1, n - 2);
    lua_concat(L, 2);
    lua_replace(L, -2);
}

/* Pushes a plain copy of what pairs shows of the table at v, whose __pairs is on top (and
 * goes): the merge reads tables as stored, which would find such a proxy empty. */
static void push_pairs_copy(lua_State *L, int v)
{
    int f = lua_gettop(L);   /* the metamethod, then next, state, control */

    luaL_checkstack(L, 8, "raw nesting");
    lua_pushvalue(L, v);
    lua_call(L, 1, 3);
    lua_newtable(L);
    for (;;) {
        lua_pushvalue(L, f);
        lua_pushvalue(L, f + 1);
        lua_pushvalue(L, f + 2);
        lua_call(L, 2, 2);
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2);
            break;
        }
        lua_pushvalue(L, -2);
        lua_replace(L, f + 2);
        lua_rawset(L, f + 3);
    }
    lua_replace(L, f);
    lua_settop(L, f);
}

/* The index of the table to merge from for the caller's object at v (path: where it
 * is): v, or a plain copy of a __pairs proxy (pushed). A table with another metatable
 * is read as stored, after the encoder's check, so that a proxy (an __index that gives
 * entries it does not store) is refused as it was when its metatable was carried over. */
static int merge_source(lua_State *L, int v, int path)
{
    if (!lua_getmetatable(L, v))
        return v;
    lua_pop(L, 1);
    if (luaL_getmetafield(L, v, "__pairs") != LUA_TNIL) {
        push_pairs_copy(L, v);
        return lua_gettop(L);
    }
    lrt_json_encode_ex(L, v, LRT_JSON_WIRE_DEPTH,
                       lua_pushfstring(L, "option 'raw': %s", lua_tostring(L, path)));
    lua_pop(L, 2);
    return v;
}

/* Merges the caller's object at v (under the key at given, as written) into dst[k], made
 * a new plain table when dst holds no object there: the caller's metatable (a __gc, a
 * proxy's __pairs) is not carried over. A __pairs proxy that shows a list replaces, as
 * a list does (its plain copy goes in). */
static void merge_object(lua_State *L, int dst, int k, int given, int v, int depth, int path)
{
    push_path(L, path, given);
    int p = lua_gettop(L);
    v = merge_source(L, v, p);
    if (lua_rawgeti(L, v, 1) != LUA_TNIL) {
        lua_pushvalue(L, k);
        lua_pushvalue(L, v);
        lua_rawset(L, dst);
        lua_settop(L, p - 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, k);
    if (lua_rawget(L, dst) != LUA_TTABLE || lua_rawlen(L, -1) != 0) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, k);
        lua_pushvalue(L, -2);
        lua_rawset(L, dst);
    }
    merge(L, lua_gettop(L), v, depth + 1, p);
    lua_settop(L, p - 1);
}

static void merge_value(lua_State *L, int dst, int k, int given, int v, int depth, int path)
{
    if (lrt_json_isnull(L, v)) {
        lua_pushvalue(L, k);
        lua_pushnil(L);
        lua_rawset(L, dst);
    } else if (lua_type(L, v) == LUA_TTABLE && lua_type(L, k) == LUA_TSTRING &&
               lua_rawlen(L, v) == 0 && !lrt_json_marked_array(L, v)) {
        merge_object(L, dst, k, given, v, depth, path);
    } else {   /* a scalar or an array (an empty one marked so) replaces */
        lua_pushvalue(L, k);
        lua_pushvalue(L, v);
        lua_rawset(L, dst);
    }
}

static void merge(lua_State *L, int dst, int src, int depth, int path)
{
    if (depth > LRT_JSON_MAX_DEPTH)
        luaL_error(L, "option 'raw': nesting deeper than %d levels", LRT_JSON_MAX_DEPTH);
    luaL_checkstack(L, 16, "raw nesting");
    lua_newtable(L);
    int names = lua_gettop(L);
    refuse_twins(L, src, path);
    note_spellings(L, names, dst);
    note_spellings(L, names, src);
    fold_spellings(L, dst, names);
    for (int pass = 1; pass >= 0; pass--) {
        lua_pushnil(L);
        while (lua_next(L, src)) {
            int v = lua_gettop(L);
            if (merge_key(L, names, v - 1) == pass)
                merge_value(L, dst, v + 1, v - 1, v, depth, path);
            lua_settop(L, v - 1);
        }
    }
    lua_settop(L, names - 1);
}

/* The index of the table to merge for the raw table itself (or the setup of its
 * { setup = {...} } form) at v: a plain copy of a __pairs proxy (pushed), which read as
 * stored would be empty; else v, read as stored (what it only inherits is not merged). */
static int top_source(lua_State *L, int v)
{
    if (luaL_getmetafield(L, v, "__pairs") == LUA_TNIL)
        return v;
    push_pairs_copy(L, v);
    return lua_gettop(L);
}

/* Encodes a plain copy of the table at 1 (read as stored, as the merge reads the raw's
 * top), naming error places from the root at 2 (nil: none). */
static int encode_raw(lua_State *L)
{
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 3);
    }
    return lrt_json_encode_ex(L, 3, LRT_JSON_WIRE_DEPTH, lua_tostring(L, 2));
}

/* Raises, naming the option and the place in the raw as written, when a value in the
 * raw's top at idx (root: its place, NULL at the top) cannot go out as JSON (NaN, a
 * function, invalid UTF-8, a proxy): merged, it was refused only when the whole message
 * was encoded, named by its place in the wire message (setup.generationConfig.x). */
static void check_encodes(lua_State *L, int idx, const char *root)
{
    lua_pushcfunction(L, encode_raw);
    lua_pushvalue(L, idx);
    if (root)
        lua_pushstring(L, root);
    else
        lua_pushnil(L);
    int status = lua_pcall(L, 2, 1, 0);
    if (status == LUA_OK) {
        lua_pop(L, 1);
        return;
    }
    if (status == LUA_ERRMEM || lua_type(L, -1) != LUA_TSTRING)
        lua_error(L);   /* as it is: no words of ours to add */
    luaL_error(L, "option 'raw': %s", lua_tostring(L, -1));
}

/* Raises when the table at t (the raw's top, path: where) shows a list: its entries
 * would go into the setup object under number keys, which no JSON can carry. */
static void refuse_list(lua_State *L, int t, const char *path)
{
    int list = lua_rawgeti(L, t, 1) != LUA_TNIL || lrt_json_marked_array(L, t);
    lua_pop(L, 1);
    if (list)
        luaL_error(L, "option 'raw': %s%sexpected an object (setup fields by name), got a list",
                   path, *path ? ": " : "");
}

void lrt_setup_raw(lua_State *L, int opts, int setup)
{
    int t = opt(L, opts, "raw");
    if (t == LUA_TTABLE) {
        int raw = top_source(L, lua_gettop(L));
        lua_pushliteral(L, "");
        int path = lua_gettop(L);
        /* Accept { setup = {...} } as well as the inside of setup. */
        int only = 0;
        lua_pushnil(L);
        if (lua_next(L, raw)) {
            const char *k = lrt_map_enum(L, -2, "option 'raw': key");
            only = k && strcmp(k, "setup") == 0 && lua_type(L, -1) == LUA_TTABLE;
            lua_pop(L, 1);
            if (lua_next(L, raw))
                only = 0;
        }
        lua_settop(L, path);
        if (only) {
            lua_getfield(L, raw, "setup");
            raw = top_source(L, lua_gettop(L));
            lua_pushliteral(L, "setup");
            lua_replace(L, path);
        }
        refuse_list(L, raw, lua_tostring(L, path));
        check_encodes(L, raw, only ? "setup" : NULL);
        merge(L, setup, raw, 1, path);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'raw': expected a table");
    }
    lua_settop(L, setup);
}
