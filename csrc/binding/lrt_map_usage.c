/* usageMetadata -> the `usage` of response_done (part of map_server, see
 * lrt_map_server.c). */
#include <string.h>

#include <lauxlib.h>

#include "lrt_map.h"
#include "lrt_map_frame.h"

/* Whether the string on top is the proto3 JSON form of an int64: decimal digits with an
 * optional leading '-'. Lua's own conversion would also take "0x10", " 3" or "1e3". */
static int decimal_text(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    size_t i = n > 0 && s[0] == '-';
    if (i == n)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Reads t[k] (where.k) as a count: a non-negative integer, or one in a string of
 * decimal digits (the proto3 JSON form of an int64). -1 when absent; anything else
 * (negative, fractional, beyond 2^63, not a number, other text) is reported and left
 * out, as -1. */
lua_Integer lrt_count(struct lrt_frame *f, int t, const char *k, const char *where)
{
    lua_State *L = f->L;
    lua_Integer v = -1;
    int top = lua_gettop(L), ok = 0, ty = lua_getfield(L, t, k);
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1)) {
        v = lua_tointeger(L, -1);
        ok = v >= 0;
    } else if (ty == LUA_TSTRING && decimal_text(L)) {
        v = lua_tointegerx(L, -1, &ok);   /* fails beyond 2^63: the digits make a float */
        ok = ok && v >= 0;
    }
    if (ty != LUA_TNIL && !ok) {
        size_t n;
        const char *s = ty == LUA_TNUMBER || ty == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        lrt_msg_protocol_error(f, "%s.%s is %s, not a count: left out", where, k,
                               s ? lrt_map_shown(L, s, n) : lrt_json_kind(L, -1));
    }
    lua_settop(L, top);
    return ok ? v : -1;
}

/* Whether the table at idx has any key: an object with members, where the list's
 * array was due (an empty object and an empty array decode alike, and hold nothing). */
static int has_keys(lua_State *L, int idx)
{
    lua_pushnil(L);
    if (!lua_next(L, idx))
        return 0;
    lua_pop(L, 2);
    return 1;
}

/* Adds the tokenCount of the AUDIO and TEXT entries of t[k] (a details list); a sum
 * beyond what an integer holds stays at the largest one. A list that is not an array, an
 * entry that is not an object and a modality that is not a string are reported and left
 * out (other modalities, IMAGE or VIDEO, are not counted and are no error). */
static void modality_counts(struct lrt_frame *f, int t, const char *k, lua_Integer *audio,
                            lua_Integer *text)
{
    lua_State *L = f->L;
    int ty = lua_getfield(L, t, k), d = lua_gettop(L);
    lua_Integer n = ty == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, d) : 0;

    if (ty != LUA_TNIL && (ty != LUA_TTABLE || (n == 0 && has_keys(L, d))))
        lrt_msg_protocol_error(f, "usageMetadata.%s is %s, not an array: left out", k,
                               lrt_json_kind(L, d));
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, d, i) != LUA_TTABLE || lua_rawlen(L, -1) > 0) {
            lrt_msg_protocol_error(f, "usageMetadata.%s[%d] is %s, not an object: left out",
                                   k, (int)i, lrt_json_kind(L, -1));
            lua_pop(L, 1);
            continue;
        }
        int entry = lua_gettop(L);
        int mt = lua_getfield(L, entry, "modality");
        const char *m = mt == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (m && strlen(m) != lua_rawlen(L, -1))
            m = "";   /* "AUDIO\u0000x" is no modality we count, not AUDIO */
        if (mt != LUA_TSTRING && mt != LUA_TNIL)
            lrt_msg_protocol_error(f, "usageMetadata.%s[%d].modality is %s, not a string: "
                                   "that entry left out", k, (int)i, lrt_json_kind(L, -1));
        const char *where = lua_pushfstring(L, "usageMetadata.%s[%d]", k, (int)i);
        lua_Integer c = m ? lrt_count(f, entry, "tokenCount", where) : -1;
        lua_pop(L, 1);
        if (m && c >= 0) {
            lua_Integer *dst = strcmp(m, "AUDIO") == 0 ? audio
                               : strcmp(m, "TEXT") == 0 ? text
                                                        : NULL;
            if (dst)
                *dst = *dst < 0 ? c : *dst > LUA_MAXINTEGER - c ? LUA_MAXINTEGER : *dst + c;
        }
        lua_settop(L, entry - 1);
    }
    lua_settop(L, d - 1);
}

static void set_count(lua_State *L, int t, const char *k, lua_Integer v)
{
    if (v >= 0)
        lrt_set_int(L, t, k, v);
}

/* Pushes the neutral usage table for the usageMetadata table at um. Vertex names the
 * output "candidates" (seed bug 3: read it as output tokens). Its `raw` is um itself:
 * a usage frame that comes alone is no message's raw, and the counts not mapped here
 * (toolUsePromptTokenCount, cacheTokensDetails, IMAGE or VIDEO details) would be lost. */
void lrt_push_usage(struct lrt_frame *f, int um)
{
    lua_State *L = f->L;
    static const char w[] = "usageMetadata";
    lua_Integer in_audio = -1, in_text = -1, out_audio = -1, out_text = -1;
    lua_Integer out = lrt_count(f, um, "responseTokenCount", w);
    if (out < 0)
        out = lrt_count(f, um, "candidatesTokenCount", w);

    lua_Integer in = lrt_count(f, um, "promptTokenCount", w);
    lua_Integer total = lrt_count(f, um, "totalTokenCount", w);
    lua_Integer cached = lrt_count(f, um, "cachedContentTokenCount", w);
    lua_Integer reasoning = lrt_count(f, um, "thoughtsTokenCount", w);
    modality_counts(f, um, "promptTokensDetails", &in_audio, &in_text);
    modality_counts(f, um, "responseTokensDetails", &out_audio, &out_text);
    if (out_audio < 0 && out_text < 0)
        modality_counts(f, um, "candidatesTokensDetails", &out_audio, &out_text);

    lua_createtable(L, 0, 10);
    int u = lua_gettop(L);
    lua_pushvalue(L, um);
    lua_setfield(L, u, "raw");
    set_count(L, u, "input_tokens", in);
    set_count(L, u, "output_tokens", out);
    set_count(L, u, "total_tokens", total);
    set_count(L, u, "cached_input_tokens", cached);
    set_count(L, u, "reasoning_tokens", reasoning);
    set_count(L, u, "input_audio_tokens", in_audio);
    set_count(L, u, "input_text_tokens", in_text);
    set_count(L, u, "output_audio_tokens", out_audio);
    set_count(L, u, "output_text_tokens", out_text);
}
