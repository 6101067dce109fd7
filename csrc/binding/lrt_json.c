/* JSON text <-> Lua values (see lrt_json.h for the rules). */
#include "lrt_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "rt_alloc.h"

/* Registry entries, keyed by the address of these statics. */
static const char key_decode;      /* decode function of the private cjson instance */
static const char key_null;        /* cjson.null */
static const char key_arraymt;     /* our array-marker metatable */
static const char key_cj_arraymt;  /* cjson.array_mt (openresty fork) or nil */
static const char key_cj_empty;    /* cjson.empty_array (openresty fork) or nil */
static const char key_bufmt;       /* metatable of the encoder's buffer */

/* ---------------------------------------------------------------- U T F - 8 */

/* The length of the well-formed UTF-8 sequence at s[0..n) (1 to 4), or 0 when the
 * first byte does not start one (no overlongs, surrogates or values past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int lrt_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        size_t len = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

void lrt_push_utf8_fixed(lua_State *L, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    luaL_Buffer b;

    if (lrt_utf8_valid(str, n)) {
        lua_pushlstring(L, str, n);
        return;
    }
    luaL_buffinit(L, &b);
    while (i < n) {
        size_t len = utf8_seq(s + i, n - i);
        if (len) {
            i += len;
            continue;
        }
        luaL_addlstring(&b, str + run, i - run);
        luaL_addstring(&b, "\xEF\xBF\xBD");   /* U+FFFD */
        run = ++i;
    }
    luaL_addlstring(&b, str + run, n - run);
    luaL_pushresult(&b);
}

/* ------------------------------------------------------------ B U F F E R */

/* The encoder writes into malloc'd memory owned by a userdata on the Lua stack, so an
 * error raised halfway leaves nothing unreferenced: __gc frees it. (luaL_Buffer cannot
 * be used: it needs its box on top of the stack, and table traversal keeps keys there.) */
struct jbuf {
    char *p;      /* owned */
    size_t len;
    size_t cap;
};

static int jbuf_gc(lua_State *L)
{
    struct jbuf *b = lua_touserdata(L, 1);
    rt_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return 0;
}

static void jbuf_grow(lua_State *L, struct jbuf *b, size_t more)
{
    size_t need = b->len + more;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = rt_realloc(b->p, cap);
    if (!p)
        luaL_error(L, "not enough memory");
    b->p = p;
    b->cap = cap;
}

static inline void jbuf_add(lua_State *L, struct jbuf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n)
        jbuf_grow(L, b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void jbuf_addc(lua_State *L, struct jbuf *b, char c)
{
    if (b->cap == b->len)
        jbuf_grow(L, b, 1);
    b->p[b->len++] = c;
}

/* ---------------------------------------------------------- E N C O D E R */

struct jpath {
    const char *key;      /* borrowed from the key on the Lua stack; NULL for an index */
    size_t klen;
    lua_Integer index;
};

struct enc {
    lua_State *L;
    struct jbuf *b;
    int max_depth;
    const char *root;
    const void *arraymt, *cj_arraymt, *cj_empty, *null;
    struct jpath path[LRT_JSON_WIRE_DEPTH + 1];
};

/* Raises "<path>: <message>". The path is formatted into a stack array: nothing to free. */
static int enc_fail(struct enc *e, int level, const char *fmt, ...)
{
    char path[256], msg[160];
    size_t n = 0;
    va_list ap;

    path[0] = '\0';
    if (e->root)
        n = (size_t)snprintf(path, sizeof path, "%s", e->root);
    for (int i = 0; i < level && n < sizeof path; i++) {
        const struct jpath *p = &e->path[i];
        int w;
        if (level > 8 && i == 3) {
            /* a deep path keeps its head and its tail */
            w = snprintf(path + n, sizeof path - n, ".(%d more levels)", level - 6);
            if (w < 0)
                break;
            n += (size_t)w;
            i = level - 4;
            continue;
        }
        if (p->key)
            w = snprintf(path + n, sizeof path - n, "%s%.*s", n ? "." : "",
                         (int)(p->klen > 40 ? 40 : p->klen), p->key);
        else
            w = snprintf(path + n, sizeof path - n, "[%lld]", (long long)p->index);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path[0])
        return luaL_error(e->L, "%s: %s", path, msg);
    return luaL_error(e->L, "%s", msg);
}

static void enc_string(struct enc *e, int level, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    struct jbuf *b = e->b;
    lua_State *L = e->L;
    size_t i = 0, run = 0;

    if (!lrt_utf8_valid(s, n))
        enc_fail(e, level, "invalid UTF-8 in string");
    jbuf_grow(L, b, n + 2);
    b->p[b->len++] = '"';
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        jbuf_add(L, b, s + run, i - run);
        char esc[6] = { '\\', 0 };
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            elen = 6;
        }
        jbuf_add(L, b, esc, elen);
        run = ++i;
    }
    jbuf_add(L, b, s + run, n - run);
    jbuf_addc(L, b, '"');
}

/* Shortest of %.15g..%.17g that reads back as the same double, with whatever the C
 * locale uses as decimal point replaced by '.'. */
static void enc_float(struct enc *e, int level, double d)
{
    char tmp[40], out[40];
    size_t n = 0;
    lua_Integer iv;

    if (!isfinite(d))
        enc_fail(e, level, "cannot encode %s", isnan(d) ? "NaN" : "an infinite number");
    if (lua_numbertointeger(d, &iv) && (double)iv == d) {
        snprintf(out, sizeof out, "%lld", (long long)iv);
        jbuf_add(e->L, e->b, out, strlen(out));
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    int dot = 0;
    for (const char *p = tmp; *p; p++) {
        char c = *p;
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
            out[n++] = c;
        } else if (!dot) {
            out[n++] = '.';
            dot = 1;
        }
    }
    jbuf_add(e->L, e->b, out, n);
}

static void enc_value(struct enc *e, int idx, int level);

static void enc_table(struct enc *e, int idx, int level)
{
    lua_State *L = e->L;
    struct jbuf *b = e->b;

    if (level + 1 > e->max_depth)
        enc_fail(e, level, "nesting deeper than %d levels", e->max_depth);
    luaL_checkstack(L, 4, "JSON nesting");

    lua_Unsigned n = lua_rawlen(L, idx);
    lua_Unsigned count = 0;
    int allstr = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) != LUA_TSTRING)
            allstr = 0;
        lua_pop(L, 1);
    }

    if (count == 0) {
        int arr = 0;
        if (lua_getmetatable(L, idx)) {
            const void *mt = lua_topointer(L, -1);
            arr = mt == e->arraymt || (e->cj_arraymt && mt == e->cj_arraymt);
            lua_pop(L, 1);
        }
        jbuf_add(L, b, arr ? "[]" : "{}", 2);
        return;
    }
    if (n > 0 && count == n) {
        jbuf_addc(L, b, '[');
        for (lua_Unsigned i = 1; i <= n; i++) {
            if (i > 1)
                jbuf_addc(L, b, ',');
            e->path[level].key = NULL;
            e->path[level].index = (lua_Integer)i;
            lua_rawgeti(L, idx, (lua_Integer)i);
            enc_value(e, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        jbuf_addc(L, b, ']');
        return;
    }
    if (!allstr)
        enc_fail(e, level, "cannot encode a table with mixed or non-string keys (or holes)");

    int first = 1;
    jbuf_addc(L, b, '{');
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t klen;
        const char *k = lua_tolstring(L, -2, &klen);  /* a string already: no conversion */
        if (!first)
            jbuf_addc(L, b, ',');
        first = 0;
        e->path[level].key = k;
        e->path[level].klen = klen;
        enc_string(e, level + 1, k, klen);
        jbuf_addc(L, b, ':');
        enc_value(e, lua_gettop(L), level + 1);
        lua_pop(L, 1);
    }
    jbuf_addc(L, b, '}');
}

static void enc_value(struct enc *e, int idx, int level)
{
    lua_State *L = e->L;

    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        jbuf_add(L, e->b, "null", 4);
        break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            jbuf_add(L, e->b, "true", 4);
        else
            jbuf_add(L, e->b, "false", 5);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            char tmp[32];
            int w = snprintf(tmp, sizeof tmp, "%lld", (long long)lua_tointeger(L, idx));
            jbuf_add(L, e->b, tmp, (size_t)w);
        } else {
            enc_float(e, level, (double)lua_tonumber(L, idx));
        }
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        enc_string(e, level, s, n);
        break;
    }
    case LUA_TTABLE:
        enc_table(e, idx, level);
        break;
    case LUA_TLIGHTUSERDATA: {
        const void *p = lua_touserdata(L, idx);
        if (p == e->null) {
            jbuf_add(L, e->b, "null", 4);
            break;
        }
        if (e->cj_empty && p == e->cj_empty) {
            jbuf_add(L, e->b, "[]", 2);
            break;
        }
    }
        /* fall through */
    default:
        enc_fail(e, level, "cannot encode a %s", luaL_typename(L, idx));
    }
}

static const void *registry_pointer(lua_State *L, const void *key)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    const void *p = lua_type(L, -1) == LUA_TLIGHTUSERDATA ? lua_touserdata(L, -1)
                                                          : lua_topointer(L, -1);
    lua_pop(L, 1);
    return p;
}

int lrt_json_encode_ex(lua_State *L, int idx, int max_depth, const char *root)
{
    struct enc e;

    idx = lua_absindex(L, idx);
    if (max_depth < 1 || max_depth > LRT_JSON_WIRE_DEPTH)
        max_depth = LRT_JSON_WIRE_DEPTH;
    e.L = L;
    e.max_depth = max_depth;
    e.root = root;
    e.arraymt = registry_pointer(L, &key_arraymt);
    e.cj_arraymt = registry_pointer(L, &key_cj_arraymt);
    e.cj_empty = registry_pointer(L, &key_cj_empty);
    e.null = registry_pointer(L, &key_null);
    if (!e.arraymt)
        luaL_error(L, "BUG: lrt_json_open was not called");

    e.b = lua_newuserdatauv(L, sizeof *e.b, 0);
    memset(e.b, 0, sizeof *e.b);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_bufmt);
    lua_setmetatable(L, -2);
    int bufidx = lua_gettop(L);

    enc_value(&e, idx, 0);

    lua_pushlstring(L, e.b->p ? e.b->p : "", e.b->len);
    /* Free now rather than at the next collection: frames can be large. */
    rt_free(e.b->p);
    e.b->p = NULL;
    e.b->len = e.b->cap = 0;
    lua_remove(L, bufidx);
    return 1;
}

int lrt_json_encode(lua_State *L, int idx)
{
    return lrt_json_encode_ex(L, idx, LRT_JSON_MAX_DEPTH, NULL);
}

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

/* Decodes the string at idx: the core's reader first, cjson for what it leaves. */
static int decode_at(lua_State *L, int idx, int max_depth)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);

    if (s && lrt_json_read(L, s, n, max_depth) == 0)
        return 0;
    return decode_cjson(L, idx, max_depth);
}

int lrt_json_decode_at(lua_State *L, int idx)
{
    return decode_at(L, idx, LRT_JSON_WIRE_DEPTH);
}

int lrt_json_decode(lua_State *L, const char *s, size_t n)
{
    if (lrt_json_read(L, s, n, LRT_JSON_WIRE_DEPTH) == 0)
        return 0;
    lua_pushlstring(L, s, n);
    int r = decode_cjson(L, -1, LRT_JSON_WIRE_DEPTH);
    lua_remove(L, -2);
    return r;
}

/* ------------------------------------------------------------ M A R K E R S */

void lrt_json_newarray(lua_State *L, int narr)
{
    lua_createtable(L, narr, 0);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_arraymt);
    lua_setmetatable(L, -2);
}

void lrt_json_pushnull(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_null);
}

int lrt_json_isnull(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
           lua_touserdata(L, idx) == registry_pointer(L, &key_null);
}

/* ------------------------------------------------------ L U A   F A C E */

/* core.json_encode(value [, max_depth]) -> text; raises on what cannot be encoded. */
static int lrt_json_encode_l(lua_State *L)
{
    lua_Integer depth = luaL_optinteger(L, 2, LRT_JSON_MAX_DEPTH);
    luaL_argcheck(L, depth >= 1 && depth <= LRT_JSON_WIRE_DEPTH, 2,
                  "expected an integer between 1 and 128");
    luaL_checkany(L, 1);
    return lrt_json_encode_ex(L, 1, (int)depth, NULL);
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
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_arraymt);
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

    lua_getglobal(L, "require");
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
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_null);
    int null_idx = lua_gettop(L);

    lua_getfield(L, cj, "array_mt");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_cj_arraymt);
    lua_getfield(L, cj, "empty_array");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_cj_empty);

    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "realtime.json_array");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_arraymt);

    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, jbuf_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "realtime.json_buffer");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_bufmt);

    /* module table is below cjson, the instance and null */
    int mod = cj - 1;
    lua_pushvalue(L, null_idx);
    lua_setfield(L, mod, "json_null");
    lua_settop(L, mod);
    luaL_setfuncs(L, json_funcs, 0);
}
