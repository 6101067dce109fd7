/* JSON text -> Lua values with the core's reader (rt_json), for every decode of the
 * binding.
 *
 * lua-cjson 2.1.0 copies every string into a buffer a byte at a time and reads every
 * number as a float, which a second walk over the tables turns into an integer when it
 * is integral. A server message is mostly one long base64 string (2,560 characters for
 * 40 ms of 24 kHz audio), so this reader builds the same values straight from the text:
 * the reader crosses a string with memchr, a string without escapes is copied once into
 * its Lua string, an integer within int64 comes out exact (cjson rounds it through a
 * double), another number as an integer when it is integral.
 *
 * It does not recurse, so a server message may nest far deeper than any real one
 * (LRT_JSON_SERVER_DEPTH) and only the part too deep for its use is refused. For server
 * text a lone surrogate escape reads as U+FFFD, noted in struct lrt_json_fixes.
 *
 * What it does not take is left to cjson, for its error message: a text that is not
 * well-formed JSON, an escape rt_json_unescape refuses (a lone surrogate too, outside
 * server text).
 *
 * lrt_json_check_object, at the end, checks the text a caller sends as is (send_wire). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "rt_json.h"

/* Containers this reader builds (the root is 1); the core's reader tracks RT_JSON_DEPTH. */
#define LRT_READ_DEPTH (RT_JSON_DEPTH - 1)
/* Open containers kept on the C stack; a deeper text moves them to a userdata. */
#define LRT_READ_INLINE 32

/* One open container: the reader's value for it, the elements so far (an array), and the
 * stack index of the key it is the value of (0: an element, or the root). */
struct lrt_open {
    struct rt_json_val c;
    lua_Integer n;
    int key;
};

/* One decode. The builder does not recurse: the open containers are in `open`, their
 * tables (each after its key, in an object) on the Lua stack. */
struct lrt_read {
    lua_State *L;
    struct rt_json r;
    int limit;                  /* containers allowed: min(the caller's limit, LRT_READ_DEPTH) */
    struct lrt_json_fixes *fx;  /* NULL: a lone surrogate escape fails the read */
    int spill;                  /* stack slot for the userdata `open` moves to */
    struct lrt_open *open;
    int depth, cap;
    struct lrt_open inl[LRT_READ_INLINE];
};

/* Appends s[0..n) to the path in fx->where: a name as is, anything else quoted. */
static void where_key(struct lrt_json_fixes *fx, size_t *o, const char *s, size_t n)
{
    size_t cap = sizeof fx->where, i, plain = n > 0 && n <= 40;

    for (i = 0; plain && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_';
    }
    if (plain) {
        *o += (size_t)snprintf(fx->where + *o, cap - *o, "%s%.*s", *o ? "." : "", (int)n, s);
        return;
    }
    *o += (size_t)snprintf(fx->where + *o, cap - *o, "[\"");
    for (i = 0; i < n && i < 24 && *o < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            *o += (size_t)snprintf(fx->where + *o, cap - *o, "%c", c);
        else
            *o += (size_t)snprintf(fx->where + *o, cap - *o, "\\x%02X", c);
    }
    if (*o < cap)
        *o += (size_t)snprintf(fx->where + *o, cap - *o, "%s\"]", i < n ? "..." : "");
}

/* Writes into fx->where the path of the value being read: the keys and indexes of the
 * open containers below the root, then its own key (a stack index) or, in an array, its
 * index. as_key: the value is a key, and the path is its object's ("" for the root). */
static void where_now(struct lrt_read *d, int key, int as_key)
{
    struct lrt_json_fixes *fx = d->fx;
    size_t o = 0, cap = sizeof fx->where, n;
    int i;

    fx->where[0] = '\0';
    for (i = 1; i <= d->depth && o < cap; i++) {
        int k = i < d->depth ? d->open[i].key : key;
        if (i == d->depth && as_key)
            break;
        if (k) {
            const char *s = lua_tolstring(d->L, k, &n);
            where_key(fx, &o, s, n);
        } else {
            o += (size_t)snprintf(fx->where + o, cap - o, "[%lld]",
                                  (long long)d->open[i - 1].n + 1);
        }
    }
    if (o >= cap)
        memcpy(fx->where + cap - 4, "...", 4);
    fx->key = as_key;
}

/* Pushes the string v, its escapes decoded; -1 (nothing pushed) on an invalid escape.
 * With fixes, a lone surrogate escape becomes U+FFFD and is noted; `key` is the stack
 * index of the string's key (0: none), -1 when the string is a key itself. */
static int push_string(struct lrt_read *d, const struct rt_json_val *v, int key)
{
    lua_State *L = d->L;
    luaL_Buffer b;
    size_t len, lone = 0, first = 0;
    char *p;
    int st;

    if (!memchr(v->s, '\\', v->n)) {
        lua_pushlstring(L, v->s, v->n);
        return 0;
    }
    p = luaL_buffinitsize(L, &b, v->n + 1);
    if (d->fx)
        st = rt_json_unescape_lossy(v, p, v->n + 1, &len, &lone, &first);
    else
        st = rt_json_unescape(v, p, v->n + 1, &len);
    if (st != 0) {
        luaL_pushresultsize(&b, 0);
        lua_pop(L, 1);
        return -1;
    }
    luaL_pushresultsize(&b, len);
    if (lone) {
        if (d->fx->lone == 0) {
            memcpy(d->fx->escape, v->s + first, 6);   /* "\ud800": checked hex digits */
            d->fx->escape[6] = '\0';
            where_now(d, key < 0 ? 0 : key, key < 0);
        }
        d->fx->lone += (int)lone;
    }
    return 0;
}

/* An integer within int64 exactly (a double holds only 53 bits); one beyond as a float;
 * a number with a fraction or an exponent as a float, made an integer when integral (1e2,
 * 1.0), as lrt_json_normalize makes it. */
static int push_number(lua_State *L, const struct rt_json_val *v)
{
    int64_t i64;
    double d;
    lua_Integer i;
    int whole = !memchr(v->s, '.', v->n) && !memchr(v->s, 'e', v->n) &&
                !memchr(v->s, 'E', v->n);

    if (whole && rt_json_integer(v, &i64) == 0) {
        lua_pushinteger(L, (lua_Integer)i64);
        return 0;
    }
    if (rt_json_number(v, &d) != 0)
        return -1;
    /* beyond a double's range (1e999) strtod gives infinity, which no JSON text can carry
     * back: the value is kept as the largest finite double of its sign, so a server's
     * message, or a call's arguments a handler echoes, encodes again */
    if (isinf(d))
        d = copysign(DBL_MAX, d);
    /* a whole number beyond int64 rounds to one at its edge (-2^63): it stays a float */
    if (!whole && lua_numbertointeger(d, &i) && (lua_Number)i == d)
        lua_pushinteger(L, i);
    else
        lua_pushnumber(L, (lua_Number)d);
    return 0;
}

/* Pushes the scalar v; -1 when the text is left to cjson. */
static int push_scalar(struct lrt_read *d, const struct rt_json_val *v, int key)
{
    switch (v->type) {
    case RT_JSON_STRING:
        return push_string(d, v, key);
    case RT_JSON_NUMBER:
        return push_number(d->L, v);
    case RT_JSON_TRUE:
    case RT_JSON_FALSE:
        lua_pushboolean(d->L, v->type == RT_JSON_TRUE);
        return 0;
    case RT_JSON_NULL:
        lrt_json_pushnull(d->L);
        return 0;
    default:
        return -1;
    }
}

/* Opens the container v (its table pushed, above its key if any): -2 beyond the limit. */
static int open_container(struct lrt_read *d, const struct rt_json_val *v, int key)
{
    lua_State *L = d->L;

    if (d->depth >= d->limit)
        return -2;
    if (d->depth == d->cap) {
        /* deeper than the inline slots: room for the limit, owned by the Lua state so
         * that a memory error raised later frees it */
        struct lrt_open *big = lua_newuserdatauv(L, sizeof *big * (size_t)d->limit, 0);
        memcpy(big, d->open, sizeof *big * (size_t)d->depth);
        lua_replace(L, d->spill);
        d->open = big;
        d->cap = d->limit;
    }
    luaL_checkstack(L, 4, "JSON nesting");
    if (v->type == RT_JSON_OBJECT)
        lua_createtable(L, 0, 2);
    else
        lua_createtable(L, 1, 0);
    d->open[d->depth].c = *v;
    d->open[d->depth].n = 0;
    d->open[d->depth].key = key;
    d->depth++;
    return 0;
}

/* Stores the value on top in the innermost open container. */
static void attach(struct lrt_read *d)
{
    struct lrt_open *o = &d->open[d->depth - 1];

    if (o->c.type == RT_JSON_OBJECT)
        lua_rawset(d->L, -3);   /* a repeated key: the last one wins, as in cjson */
    else
        lua_rawseti(d->L, -2, ++o->n);
}

/* One move in the innermost open container: its next value read (pushed and stored, or
 * opened), or its end (closed, and stored in its parent). 0 while containers are open,
 * 1 when the root is done, -1 / -2 as lrt_json_read. */
static int step(struct lrt_read *d)
{
    struct lrt_open *o = &d->open[d->depth - 1];
    struct rt_json_val k, v;
    int key = 0, got;

    if (o->c.type == RT_JSON_OBJECT) {
        got = rt_json_member(&d->r, &o->c, &k, &v);
        if (got) {
            if (push_string(d, &k, -1) != 0)
                return -1;
            key = lua_gettop(d->L);
        }
    } else {
        got = rt_json_element(&d->r, &o->c, &v);
    }
    if (!got) {
        if (rt_json_failed(&d->r))
            return -1;
        if (--d->depth == 0)
            return 1;
        attach(d);
        return 0;
    }
    if (v.type == RT_JSON_OBJECT || v.type == RT_JSON_ARRAY)
        return open_container(d, &v, key);
    if (push_scalar(d, &v, key) != 0)
        return -1;
    attach(d);
    return 0;
}

/* Builds the value of the text. */
static int build(struct lrt_read *d)
{
    struct rt_json_val root;
    int st = 0;

    if (rt_json_root(&d->r, &root) == RT_JSON_NONE)
        return -1;
    if (root.type != RT_JSON_OBJECT && root.type != RT_JSON_ARRAY)
        return push_scalar(d, &root, 0) == 0 && rt_json_finish(&d->r) == 0 ? 0 : -1;
    if ((st = open_container(d, &root, 0)) != 0)
        return st;
    while ((st = step(d)) == 0)
        ;
    if (st < 0)
        return st;
    return rt_json_finish(&d->r) == 0 ? 0 : -1;
}

int lrt_json_read(lua_State *L, const char *s, size_t n, int max_depth,
                  struct lrt_json_fixes *fx)
{
    struct lrt_read d;
    int top = lua_gettop(L), st;

    d.L = L;
    d.limit = max_depth < LRT_READ_DEPTH ? max_depth : LRT_READ_DEPTH;
    d.fx = fx;
    d.open = d.inl;
    d.depth = 0;
    d.cap = LRT_READ_INLINE;
    if (fx) {
        fx->lone = 0;
        fx->key = 0;
        fx->where[0] = fx->escape[0] = '\0';
    }
    lua_pushnil(L);
    d.spill = lua_gettop(L);
    /* Lenient: the structure is checked, string contents are not (cjson takes control
     * characters as they are); push_string checks the escapes it decodes. */
    rt_json_init(&d.r, s, n, 0);
    st = build(&d);
    if (st != 0) {
        lua_settop(L, top);
        return st;
    }
    lua_remove(L, d.spill);
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
