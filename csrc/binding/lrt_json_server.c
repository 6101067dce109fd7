/* Decoding a server message: lua-cjson reads every string a byte at a time, and an audio
 * message is mostly one long base64 string (2,560 characters for 40 ms of 24 kHz audio).
 * So the audio strings (serverContent.modelTurn.parts[i].inlineData.data) are found with
 * the core's reader first, cut out of the text given to cjson, and put back into the
 * decoded table as Lua strings copied straight from the text. Only strings that decode to
 * themselves qualify (no backslash): the result is the table cjson would have made from
 * the whole text. */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "rt_json.h"

/* Strings shorter than this are left to cjson: cutting them saves nothing. */
#define LRT_CUT_MIN 256
#define LRT_CUT_MAX 16

struct lrt_cut {
    lua_Integer part;      /* 1-based index in parts */
    const char *s;         /* the string's content in the text */
    size_t n;
};

/* A string without escapes decodes to itself (cjson takes control characters as they
 * are). */
static int lrt_plain(const char *s, size_t n)
{
    return memchr(s, '\\', n) == NULL;
}

/* The value of member `name` of the object obj, read with r. */
static int lrt_member(struct rt_json *r, const struct rt_json_val *obj, const char *name,
                      struct rt_json_val *out)
{
    struct rt_json_val k, v;

    while (rt_json_member(r, obj, &k, &v)) {
        if (rt_json_eq(&k, name)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Whether the rest of obj holds `name` again (cjson keeps the last of repeated keys: such
 * a text is left to cjson whole). */
static int lrt_again(struct rt_json *r, const struct rt_json_val *obj, const char *name)
{
    struct rt_json_val v;

    return lrt_member(r, obj, name, &v);
}

/* Finds the audio strings worth cutting; returns how many. */
static int lrt_find_cuts(const char *text, size_t len, struct lrt_cut *cuts)
{
    struct rt_json r;
    struct rt_json_val root, sc, mt, parts, part, id, data;
    lua_Integer i = 0;
    int n = 0;

    rt_json_init(&r, text, len, 0);
    if (rt_json_root(&r, &root) != RT_JSON_OBJECT ||
        !lrt_member(&r, &root, "serverContent", &sc) || sc.type != RT_JSON_OBJECT ||
        !lrt_member(&r, &sc, "modelTurn", &mt) || mt.type != RT_JSON_OBJECT ||
        !lrt_member(&r, &mt, "parts", &parts) || parts.type != RT_JSON_ARRAY)
        return 0;
    while (rt_json_element(&r, &parts, &part)) {
        i++;
        if (part.type != RT_JSON_OBJECT || !lrt_member(&r, &part, "inlineData", &id) ||
            id.type != RT_JSON_OBJECT || !lrt_member(&r, &id, "data", &data))
            continue;
        if (n < LRT_CUT_MAX && data.type == RT_JSON_STRING && data.n >= LRT_CUT_MIN &&
            lrt_plain(data.s, data.n)) {
            cuts[n].part = i;
            cuts[n].s = data.s;
            cuts[n].n = data.n;
            n++;
        }
        if (lrt_again(&r, &id, "data") || lrt_again(&r, &part, "inlineData"))
            return 0;
    }
    if (lrt_again(&r, &mt, "parts") || lrt_again(&r, &sc, "modelTurn") ||
        lrt_again(&r, &root, "serverContent"))
        return 0;
    /* A text that is not well-formed goes to cjson whole, so it says what is wrong. */
    return rt_json_failed(&r) ? 0 : n;
}

/* Puts the cut strings back into the decoded message on top of the stack. Returns 0, or
 * -1 when the decoded table does not have the shape the text had (it always does). */
static int lrt_put_back(lua_State *L, const struct lrt_cut *cuts, int n)
{
    int msg = lua_gettop(L), ok = 0;

    if (lua_getfield(L, msg, "serverContent") == LUA_TTABLE &&
        lua_getfield(L, -1, "modelTurn") == LUA_TTABLE &&
        lua_getfield(L, -1, "parts") == LUA_TTABLE) {
        int parts = lua_gettop(L);
        ok = 1;
        for (int k = 0; k < n && ok; k++) {
            ok = lua_rawgeti(L, parts, cuts[k].part) == LUA_TTABLE &&
                 lua_getfield(L, -1, "inlineData") == LUA_TTABLE;
            if (ok) {
                lua_pushlstring(L, cuts[k].s, cuts[k].n);
                lua_setfield(L, -2, "data");
            }
            lua_settop(L, parts);
        }
    }
    lua_settop(L, msg);
    return ok ? 0 : -1;
}

int lrt_json_decode_server(lua_State *L, int idx)
{
    struct lrt_cut cuts[LRT_CUT_MAX];
    size_t len;
    const char *text;
    int n, r;

    idx = lua_absindex(L, idx);
    text = lua_tolstring(L, idx, &len);
    n = text ? lrt_find_cuts(text, len, cuts) : 0;
    if (n == 0)
        return lrt_json_decode_at(L, idx);
    {
        luaL_Buffer b;
        const char *p = text;
        luaL_buffinit(L, &b);
        for (int k = 0; k < n; k++) {
            luaL_addlstring(&b, p, (size_t)(cuts[k].s - p));
            p = cuts[k].s + cuts[k].n;
        }
        luaL_addlstring(&b, p, (size_t)(text + len - p));
        luaL_pushresult(&b);
    }
    r = lrt_json_decode_at(L, -1);
    lua_remove(L, -2);
    if (r != 0)
        return r;
    if (lrt_put_back(L, cuts, n) != 0) {
        lua_pop(L, 1);
        return lrt_json_decode_at(L, idx);
    }
    return 0;
}
