/* usageMetadata -> the `usage` of response_done (part of map_server, see
 * lrt_map_server.c). */
#include <string.h>

#include <lauxlib.h>

#include "lrt_map.h"
#include "lrt_map_frame.h"

/* Reads t[k] as a count: an integer, or an int64 in a string. -1 when absent. */
lua_Integer lrt_count(lua_State *L, int t, const char *k)
{
    lua_Integer v = -1;
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1)) {
        v = lua_tointeger(L, -1);
    } else if (ty == LUA_TSTRING) {
        int ok;
        lua_Integer x = lua_tointegerx(L, -1, &ok);
        if (ok)
            v = x;
    }
    lua_pop(L, 1);
    return v;
}

/* Adds the tokenCount of the AUDIO and TEXT entries of t[k] (a details list). */
static void modality_counts(lua_State *L, int t, const char *k, lua_Integer *audio,
                            lua_Integer *text)
{
    if (lua_getfield(L, t, k) == LUA_TTABLE) {
        int d = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, d);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, d, i) == LUA_TTABLE) {
                lua_getfield(L, -1, "modality");
                const char *m = lua_tostring(L, -1);
                lua_Integer c = lrt_count(L, -2, "tokenCount");
                if (m && c >= 0) {
                    lua_Integer *dst = strcmp(m, "AUDIO") == 0 ? audio
                                       : strcmp(m, "TEXT") == 0 ? text
                                                                : NULL;
                    if (dst)
                        *dst = (*dst < 0 ? 0 : *dst) + c;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static void set_count(lua_State *L, int t, const char *k, lua_Integer v)
{
    if (v >= 0)
        lrt_set_int(L, t, k, v);
}

/* Pushes the neutral usage table for the usageMetadata table at um. Vertex names the
 * output "candidates" (seed bug 3: read it as output tokens). */
void lrt_push_usage(lua_State *L, int um)
{
    lua_Integer in_audio = -1, in_text = -1, out_audio = -1, out_text = -1;
    lua_Integer out = lrt_count(L, um, "responseTokenCount");
    if (out < 0)
        out = lrt_count(L, um, "candidatesTokenCount");

    lua_createtable(L, 0, 9);
    int u = lua_gettop(L);
    set_count(L, u, "input_tokens", lrt_count(L, um, "promptTokenCount"));
    set_count(L, u, "output_tokens", out);
    set_count(L, u, "total_tokens", lrt_count(L, um, "totalTokenCount"));
    set_count(L, u, "cached_input_tokens", lrt_count(L, um, "cachedContentTokenCount"));
    set_count(L, u, "reasoning_tokens", lrt_count(L, um, "thoughtsTokenCount"));
    modality_counts(L, um, "promptTokensDetails", &in_audio, &in_text);
    modality_counts(L, um, "responseTokensDetails", &out_audio, &out_text);
    if (out_audio < 0 && out_text < 0)
        modality_counts(L, um, "candidatesTokensDetails", &out_audio, &out_text);
    set_count(L, u, "input_audio_tokens", in_audio);
    set_count(L, u, "input_text_tokens", in_text);
    set_count(L, u, "output_audio_tokens", out_audio);
    set_count(L, u, "output_text_tokens", out_text);
}
