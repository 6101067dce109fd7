/* JSON text -> Lua values with the core's reader (rt_json), for every decode of the
 * binding.
 *
 * lua-cjson 2.1.0 copies every string into a buffer a byte at a time and reads every
 * number as a float, which a second walk over the tables turns into an integer when it
 * is integral. A server message is mostly one long base64 string (2,560 characters for
 * 40 ms of 24 kHz audio), so this reader builds the same values straight from the text:
 * the reader crosses a string with memchr, a string without escapes is copied once into
 * its Lua string, and a number comes out as an integer when it is integral.
 *
 * What it does not take is left to cjson, so that the result and the error message are
 * cjson's: a text that is not well-formed JSON, an escape rt_json_unescape refuses,
 * nesting deeper than the reader tracks or than the caller allows.
 *
 * lrt_json_check_object, at the end, checks the text a caller sends as is (send_wire). */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "rt_json.h"

/* Containers this reader builds (the root is 1); deeper texts go to cjson. */
#define LRT_READ_DEPTH (RT_JSON_DEPTH - 1)

/* One decode: the reader, and the nesting it may still build. */
struct lrt_read {
    lua_State *L;
    struct rt_json r;
    int limit;   /* containers allowed: min(the caller's limit, LRT_READ_DEPTH) */
};

static int push_value(struct lrt_read *d, const struct rt_json_val *v, int depth);

/* Pushes the string v, its escapes decoded; -1 (nothing pushed) on an invalid escape. */
static int push_string(lua_State *L, const struct rt_json_val *v)
{
    luaL_Buffer b;
    size_t len;
    char *p;

    if (!memchr(v->s, '\\', v->n)) {
        lua_pushlstring(L, v->s, v->n);
        return 0;
    }
    p = luaL_buffinitsize(L, &b, v->n + 1);
    if (rt_json_unescape(v, p, v->n + 1, &len) != 0) {
        luaL_pushresultsize(&b, 0);
        lua_pop(L, 1);
        return -1;
    }
    luaL_pushresultsize(&b, len);
    return 0;
}

/* An integral number becomes an integer, as lrt_json_normalize makes it. */
static int push_number(lua_State *L, const struct rt_json_val *v)
{
    double d;
    lua_Integer i;

    if (rt_json_number(v, &d) != 0)
        return -1;
    if (lua_numbertointeger(d, &i) && (lua_Number)i == d)
        lua_pushinteger(L, i);
    else
        lua_pushnumber(L, (lua_Number)d);
    return 0;
}

static int push_object(struct lrt_read *d, const struct rt_json_val *obj, int depth)
{
    struct rt_json_val k, v;

    lua_createtable(d->L, 0, 2);
    while (rt_json_member(&d->r, obj, &k, &v)) {
        if (push_string(d->L, &k) != 0 || push_value(d, &v, depth) != 0)
            return -1;
        lua_rawset(d->L, -3);   /* a repeated key: the last one wins, as in cjson */
    }
    return rt_json_failed(&d->r) ? -1 : 0;
}

static int push_array(struct lrt_read *d, const struct rt_json_val *arr, int depth)
{
    struct rt_json_val v;
    lua_Integer i = 0;

    lua_createtable(d->L, 1, 0);
    while (rt_json_element(&d->r, arr, &v)) {
        if (push_value(d, &v, depth) != 0)
            return -1;
        lua_rawseti(d->L, -2, ++i);
    }
    return rt_json_failed(&d->r) ? -1 : 0;
}

/* Pushes the value v, inside `depth` containers; -1 when the text is left to cjson (the
 * stack then holds whatever was built so far: the caller resets it). */
static int push_value(struct lrt_read *d, const struct rt_json_val *v, int depth)
{
    lua_State *L = d->L;

    switch (v->type) {
    case RT_JSON_OBJECT:
    case RT_JSON_ARRAY:
        if (depth >= d->limit)
            return -1;
        luaL_checkstack(L, 4, "JSON nesting");
        return v->type == RT_JSON_OBJECT ? push_object(d, v, depth + 1)
                                         : push_array(d, v, depth + 1);
    case RT_JSON_STRING:
        return push_string(L, v);
    case RT_JSON_NUMBER:
        return push_number(L, v);
    case RT_JSON_TRUE:
    case RT_JSON_FALSE:
        lua_pushboolean(L, v->type == RT_JSON_TRUE);
        return 0;
    case RT_JSON_NULL:
        lrt_json_pushnull(L);
        return 0;
    default:
        return -1;
    }
}

int lrt_json_read(lua_State *L, const char *s, size_t n, int max_depth)
{
    struct lrt_read d;
    struct rt_json_val root;
    int top = lua_gettop(L);

    d.L = L;
    d.limit = max_depth < LRT_READ_DEPTH ? max_depth : LRT_READ_DEPTH;
    /* Lenient: the structure is checked, string contents are not (cjson takes control
     * characters as they are); push_string checks the escapes it decodes. */
    rt_json_init(&d.r, s, n, 0);
    if (rt_json_root(&d.r, &root) == RT_JSON_NONE || push_value(&d, &root, 0) != 0 ||
        rt_json_finish(&d.r) != 0) {
        lua_settop(L, top);
        return -1;
    }
    return 0;
}

/* The offset of the first control character (below 0x20) inside a string of the JSON
 * text s[0..n), which parsed already, or n when there is none. JSON wants them escaped,
 * and the service closes the session on one; cjson lets them through. */
static size_t raw_control(const char *s, size_t n)
{
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!in_string) {
            in_string = c == '"';
        } else if (c == '\\') {
            i++;
        } else if (c == '"') {
            in_string = 0;
        } else if (c < 0x20) {
            return i;
        }
    }
    return n;
}

int lrt_json_check_object(lua_State *L, const char *s, size_t n)
{
    size_t i = 0;

    if (!rt_utf8_valid(s, n)) {
        lua_pushliteral(L, "not valid UTF-8");
        return -1;
    }
    if (lrt_json_decode(L, s, n) != 0) {
        lua_pushfstring(L, "not JSON (%s)", lua_tostring(L, -1));
        lua_remove(L, -2);
        return -1;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    /* "[]" and "{}" decode to the same empty table: the first character tells them apart */
    if (s[i] != '{') {
        lua_pushfstring(L, "a JSON %s, not an object", s[i] == '[' ? "array" : luaL_typename(L, -1));
        lua_remove(L, -2);
        return -1;
    }
    lua_pop(L, 1);
    if ((i = raw_control(s, n)) < n) {
        char msg[128];
        unsigned c = (unsigned char)s[i];
        snprintf(msg, sizeof msg, "not JSON (a string holds the control character 0x%02X at "
                                  "byte %zu: write it as \\u%04X)", c, i + 1, c);
        lua_pushstring(L, msg);
        return -1;
    }
    return 0;
}
