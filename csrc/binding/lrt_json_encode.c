/* Lua values -> JSON text: the binding's encoder (the rules are in lrt_json.h). */
#include "lrt_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json_private.h"
#include "rt_alloc.h"

static const char key_bufmt;       /* metatable of the encoder's buffer */
static const char key_bound;       /* the size bound of the mapping's encodes, an integer */
static const char key_overrun;     /* the error object an encode past the bound raises */

/* ------------------------------------------------------------ B U F F E R */

/* The encoder writes into malloc'd memory owned by a userdata on the Lua stack, so an
 * error raised halfway leaves nothing unreferenced: __gc frees it. (luaL_Buffer cannot
 * be used: it needs its box on top of the stack, and table traversal keeps keys there.) */
struct jbuf {
    char *p;      /* owned */
    size_t len;
    size_t cap;   /* never above limit: a write past the bound always reaches jbuf_grow */
    size_t limit; /* the bound on len (SIZE_MAX: none) */
};

static int jbuf_gc(lua_State *L)
{
    struct jbuf *b = lua_touserdata(L, 1);
    rt_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return 0;
}

static int overrun_tostring(lua_State *L)
{
    lua_pushliteral(L, "the JSON text passed the size bound of the send (max_queue_bytes)");
    return 1;
}

/* The buffer's metatable, the bound (none yet: the key always exists, so setting it
 * again never allocates) and the overrun error object, made once here so that raising
 * it allocates nothing; registered once by lrt_json_open (lrt_json_private.h). */
void lrt_json_encode_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, jbuf_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "realtime.json_buffer");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_bufmt);
    lua_pushinteger(L, 0);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_bound);
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, overrun_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "realtime.json_overrun");
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_overrun);
}

int lrt_json_is_overrun(lua_State *L, int idx)
{
    int is;
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_overrun);
    is = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return is;
}

/* The output would pass the bound: what was written goes at once (it may be megabytes;
 * the collector would take a while), then the overrun object is raised. */
static void jbuf_overrun(lua_State *L, struct jbuf *b)
{
    rt_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_overrun);
    lua_error(L);
}

static void jbuf_grow(lua_State *L, struct jbuf *b, size_t more)
{
    size_t need = b->len + more;
    if (need <= b->cap)
        return;
    if (need > b->limit || need < more)
        jbuf_overrun(L, b);
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->limit)
        cap = b->limit;
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
    int wrap;             /* levels of ours above the caller's value (not in its depth) */
    const char *root;
    const void *open[LRT_JSON_WIRE_DEPTH + 1];   /* the table being encoded at each level */
    const void *arraymt, *cj_arraymt, *cj_empty, *null;
    struct jpath path[LRT_JSON_WIRE_DEPTH + 1];
};

/* Raises "<path>: <message>". The path is formatted into a stack array: nothing to free. */
static int enc_fail(struct enc *e, int level, const char *fmt, ...)
{
    char path[256], msg[400];   /* room for a quoted key or error (lrt_push_shown) */
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
        if (p->key) {
            int cut = 1;
            /* a root that ends in a space ("...: ") is a prefix, not a key */
            w = snprintf(path + n, sizeof path - n, "%s", n && path[n - 1] != ' ' ? "." : "");
            if (w >= 0 && (size_t)w < sizeof path - n)
                w += (int)rt_printable(path + n + w, sizeof path - n - (size_t)w, p->key,
                                       p->klen > 40 ? 40 : p->klen, &cut);
            if (cut)
                break;   /* the path ends where it no longer fits, not with a later part */
        } else
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

    /* room first: a string past the bound is refused before it is read */
    jbuf_grow(L, b, n + 2);
    if (!rt_utf8_valid(s, n))
        enc_fail(e, level, "invalid UTF-8 in string");
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

static void enc_table(struct enc *e, int idx, int level);

/* Calls the function below its nargs arguments in protected mode: an error in a
 * metamethod of the caller's value (what) is the value's fault and is reported with its
 * path, as a bare lua_call would not. Out of memory stays out of memory. */
static void enc_call_meta(struct enc *e, int level, int nargs, int nres, const char *what)
{
    lua_State *L = e->L;
    int status = lua_pcall(L, nargs, nres, 0);

    /* out of memory stays out of memory; an encode of the metamethod's own that passed
     * the bound is the bound's, not the metamethod's fault */
    if (status == LUA_ERRMEM || (status != LUA_OK && lrt_json_is_overrun(L, -1)))
        lua_error(L);
    if (status != LUA_OK) {
        size_t n = 0;
        const char *why = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        enc_fail(e, level, "its metatable's %s raised an error (%s)", what,
                 why ? lrt_push_shown(L, why, n, 120) : luaL_typename(L, -1));
    }
}

/* A table whose __pairs shows what it holds (a proxy, an object over a store): encodes
 * what pairs() gives, as the caller sees it, instead of the empty table lua_next would
 * find. The pairs are copied into a plain table first (the encoder's array test and
 * key checks run on it), which stays on the stack until encoded. */
static void enc_pairs(struct enc *e, int idx, int level)
{
    lua_State *L = e->L;
    int f = lua_gettop(L);              /* the metamethod, then next, state, control */

    luaL_checkstack(L, 8, "JSON nesting");
    lua_pushvalue(L, idx);
    enc_call_meta(e, level, 1, 3, "__pairs");
    lua_newtable(L);                    /* f + 3: the copy */
    for (;;) {
        lua_pushvalue(L, f);
        lua_pushvalue(L, f + 1);
        lua_pushvalue(L, f + 2);
        enc_call_meta(e, level, 2, 2, "__pairs iterator");   /* key, value */
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2);
            break;
        }
        if (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2))
            enc_fail(e, level, "its __pairs gave a NaN key");
        lua_pushvalue(L, -2);
        lua_replace(L, f + 2);          /* the control variable: this key */
        lua_rawset(L, f + 3);
    }
    enc_table(e, f + 3, level);
    lua_settop(L, f - 1);
}

#define LRT_PROXY_ADVICE "give it __pairs, or copy it into a plain table"

/* Raises when the chain of __index tables from the one on top (popped) gives the table
 * at idx data it does not store: lua_next sees only what is stored, so that data would
 * go missing without a word. Methods (functions) and "__" names are not data: a class
 * instance encodes as its own fields. A function on the chain is left alone here. */
static void enc_index_chain(struct enc *e, int idx, int level)
{
    lua_State *L = e->L;
    int top = lua_gettop(L) - 1;

    for (int hop = 0; hop < 16 && lua_type(L, -1) == LUA_TTABLE; hop++) {
        int chain = lua_gettop(L);
        if (lua_rawequal(L, chain, idx))
            break;
        lua_pushnil(L);
        while (lua_next(L, chain)) {
            size_t n = 0;
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
            int data = lua_type(L, -1) != LUA_TFUNCTION && !(k && n >= 2 && k[0] == '_'
                                                              && k[1] == '_');
            lua_pop(L, 1);
            if (!data)
                continue;
            lua_pushvalue(L, -1);
            if (lua_rawget(L, idx) == LUA_TNIL) {
                /* the key quoted as other errors quote names: escaped, cut short */
                const char *shown = k ? lrt_push_shown(L, k, n, 40) : NULL;
                enc_fail(e, level, "its metatable's __index gives it entries not stored in it "
                                   "(%s%s): " LRT_PROXY_ADVICE,
                         k ? shown : luaL_typename(L, -2), k ? "" : " key");
            }
            lua_pop(L, 1);
        }
        if (luaL_getmetafield(L, chain, "__index") == LUA_TNIL)
            break;
    }
    lua_settop(L, top);
}

/* The length the __len on top (popped) gives the table at idx, called in protected mode:
 * an error in it, or a length that is not an integer, is the value's fault and is
 * reported with its path, as luaL_len would not. */
static lua_Integer enc_meta_len(struct enc *e, int idx, int level)
{
    lua_State *L = e->L;
    lua_Integer len;
    int isint;

    lua_pushvalue(L, idx);
    lua_pushvalue(L, idx);   /* the operands, as the # operator passes them */
    enc_call_meta(e, level, 2, 1, "__len");
    len = lua_tointegerx(L, -1, &isint);
    if (!isint) {
        if (lua_type(L, -1) == LUA_TNUMBER)
            enc_fail(e, level, "its metatable's __len gives a length that is not an integer "
                               "(%.14g)", (double)lua_tonumber(L, -1));
        enc_fail(e, level, "its metatable's __len gives a length that is not an integer "
                           "(a %s)", luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return len;
}

/* A table whose metatable gives it entries it does not store (and has no __pairs): a
 * proxy over __index, a list whose __len counts entries it does not hold. Encoding what
 * is stored would send the data as {} without a word, so it raises, naming the path.
 * count is how many entries lua_next found. A metatable with only other fields
 * (__tostring, __name, __close, the array markers) changes nothing, nor does a strict
 * __index (one that raises for a key the table lacks), also on an empty table. */
static void enc_check_proxy(struct enc *e, int idx, int level, lua_Unsigned count)
{
    lua_State *L = e->L;
    int t;

    if (luaL_getmetafield(L, idx, "__len") != LUA_TNIL) {
        lua_Integer len = enc_meta_len(e, idx, level), raw = (lua_Integer)lua_rawlen(L, idx);
        if (len != raw)
            enc_fail(e, level, "its metatable's __len gives it %lld entries, %lld stored: "
                               LRT_PROXY_ADVICE, (long long)len, (long long)raw);
    }
    t = luaL_getmetafield(L, idx, "__index");
    if (t == LUA_TFUNCTION && count == 0 && !lrt_json_strict_empty(L, idx))
        enc_fail(e, level, "it stores nothing and its metatable's __index is a function "
                           "(a proxy): " LRT_PROXY_ADVICE);
    if (t == LUA_TTABLE)
        enc_index_chain(e, idx, level);
    else if (t != LUA_TNIL)
        lua_pop(L, 1);
}

static void enc_table(struct enc *e, int idx, int level)
{
    lua_State *L = e->L;
    struct jbuf *b = e->b;

    const void *t = lua_topointer(L, idx);
    for (int i = 0; i < level; i++)
        if (e->open[i] == t)
            enc_fail(e, level, "a table that contains itself (a cycle)");
    if (level + 1 > e->max_depth)
        enc_fail(e, level, "nesting deeper than %d levels", e->max_depth - e->wrap);
    e->open[level] = t;
    luaL_checkstack(L, 4, "JSON nesting");
    if (luaL_getmetafield(L, idx, "__pairs") != LUA_TNIL) {
        enc_pairs(e, idx, level);       /* takes the metamethod on top */
        return;
    }

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
    if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        enc_check_proxy(e, idx, level, count);
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

/* The bound the mapping's encodes take (lrt_json_pcall_bounded), SIZE_MAX for none. */
static size_t current_bound(lua_State *L)
{
    lua_Integer bound;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_bound);
    bound = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return bound > 0 ? (size_t)bound : SIZE_MAX;
}

static int encode(lua_State *L, int idx, int max_depth, const char *root, int wrap,
                  size_t limit)
{
    struct enc e;

    idx = lua_absindex(L, idx);
    if (max_depth < 1 || max_depth > LRT_JSON_WIRE_DEPTH)
        max_depth = LRT_JSON_WIRE_DEPTH;
    e.L = L;
    e.max_depth = max_depth;
    e.wrap = wrap;
    e.root = root;
    e.arraymt = lrt_json_registry_pointer(L, &lrt_json_key_arraymt);
    e.cj_arraymt = lrt_json_registry_pointer(L, &lrt_json_key_cj_arraymt);
    e.cj_empty = lrt_json_registry_pointer(L, &lrt_json_key_cj_empty);
    e.null = lrt_json_registry_pointer(L, &lrt_json_key_null);
    if (!e.arraymt)
        luaL_error(L, "BUG: lrt_json_open was not called");

    e.b = lua_newuserdatauv(L, sizeof *e.b, 0);
    memset(e.b, 0, sizeof *e.b);
    e.b->limit = limit;
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

int lrt_json_encode_ex(lua_State *L, int idx, int max_depth, const char *root)
{
    return encode(L, idx, max_depth, root, 0, current_bound(L));
}

int lrt_json_encode_wrapped(lua_State *L, int idx, int max_depth, const char *root, int wrap)
{
    return encode(L, idx, max_depth, root, wrap, current_bound(L));
}

int lrt_json_encode(lua_State *L, int idx, int max_depth)
{
    return encode(L, idx, max_depth, NULL, 0, SIZE_MAX);
}

int lrt_json_pcall_bounded(lua_State *L, size_t bound, int nargs, int nresults)
{
    lua_Integer before;
    int st;

    /* room for the results and the restore, checked before anything changes */
    luaL_checkstack(L, nresults + 2, "bounded call");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_bound);
    before = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, bound > (size_t)LUA_MAXINTEGER ? 0 : (lua_Integer)bound);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_bound);
    st = lua_pcall(L, nargs, nresults, 0);
    /* the key exists: setting it again allocates nothing, whatever the call left */
    lua_pushinteger(L, before);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_bound);
    if (st != LUA_OK && lrt_json_is_overrun(L, -1)) {
        lua_pop(L, 1);
        lua_pushfstring(L, "a send of more than %I bytes exceeds max_queue_bytes (%I)",
                        (lua_Integer)bound, (lua_Integer)bound);
        return LRT_JSON_OVERRUN;
    }
    return st;
}
