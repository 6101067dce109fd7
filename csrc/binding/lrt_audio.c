/* realtime.core.resample and realtime.core.resampler: Lua access to rt_resample.h.
 *
 * Lua strings hold 16-bit little-endian PCM; the core works on native int16_t, so each
 * call converts through a scratch userdata. Scratch memory and the resampler itself
 * belong to userdata collected by Lua, so a raise (including out of memory while
 * pushing the result) leaks nothing. */
#include <stdint.h>
#include <string.h>

#include "lrt_private.h"
#include "rt_resample.h"

#define LRT_RESAMPLER "realtime.Resampler"

/* Input samples converted per step by the one-shot form, to bound its scratch. */
#define LRT_AUDIO_CHUNK 8192

/* The userdata of a resampler: a box, so close can free the core object early. */
struct lrt_resampler {
    struct rt_resampler *r;   /* owned; NULL once closed */
};

/* ------------------------------------------------------------------ arguments */

static int lrt_check_rate(lua_State *L, int arg)
{
    int is_int = 0;
    lua_Integer v;

    /* a number only: "16000" is refused, as wav.encode refuses it (no string coercion) */
    if (lua_type(L, arg) != LUA_TNUMBER)
        luaL_argerror(L, arg, lua_pushfstring(L, "expected a sample rate from %d to %d Hz, got %s",
                                              RT_RESAMPLE_MIN_RATE, RT_RESAMPLE_MAX_RATE,
                                              luaL_typename(L, arg)));
    v = lua_tointegerx(L, arg, &is_int);
    /* a fraction, NaN or infinity says what was wrong, not "no integer representation";
     * NaN in the words of the other checks (printf's is "-nan" or "nan") */
    if (!is_int) {
        lua_Number n = lua_tonumber(L, arg);
        if (n != n)
            lua_pushliteral(L, "NaN");
        else
            lua_pushfstring(L, "%f", n);
        luaL_argerror(L, arg, lua_pushfstring(L, "expected a sample rate from %d to %d Hz (an "
                                              "integer), got %s", RT_RESAMPLE_MIN_RATE,
                                              RT_RESAMPLE_MAX_RATE, lua_tostring(L, -1)));
    }
    if (v < RT_RESAMPLE_MIN_RATE || v > RT_RESAMPLE_MAX_RATE)
        luaL_argerror(L, arg, lua_pushfstring(L, "expected a sample rate from %d to %d Hz, got %I",
                                              RT_RESAMPLE_MIN_RATE, RT_RESAMPLE_MAX_RATE, v));
    return (int)v;
}

/* The PCM string at arg; its length in samples goes to *n. */
static const char *lrt_check_pcm(lua_State *L, int arg, size_t *n)
{
    size_t len;
    const char *s;

    if (lua_type(L, arg) != LUA_TSTRING)
        luaL_typeerror(L, arg, "string of 16-bit PCM");
    s = lua_tolstring(L, arg, &len);
    if (len % 2 != 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "PCM must hold whole 16-bit samples, got %I bytes",
                                              (lua_Integer)len));
    *n = len / 2;
    return s;
}

/* Pushes a scratch block of n int16_t (collected with the call's stack). */
static int16_t *lrt_scratch(lua_State *L, size_t n)
{
    if (n > SIZE_MAX / sizeof(int16_t) - 1)
        luaL_error(L, "resampled audio too large");
    return lua_newuserdatauv(L, (n ? n : 1) * sizeof(int16_t), 0);
}

static void lrt_pcm_decode(int16_t *dst, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;

    for (size_t i = 0; i < n; i++) {
        long v = (long)s[2 * i] | (long)s[2 * i + 1] << 8;
        dst[i] = (int16_t)(v >= 32768 ? v - 65536 : v);
    }
}

/* Rewrites n native samples in place as little-endian bytes and pushes them. */
static void lrt_pcm_push(lua_State *L, int16_t *pcm, size_t n)
{
    unsigned char *d = (unsigned char *)pcm;

    for (size_t i = 0; i < n; i++) {
        uint16_t u = (uint16_t)pcm[i];
        d[2 * i] = (unsigned char)(u & 0xff);
        d[2 * i + 1] = (unsigned char)(u >> 8);
    }
    lua_pushlstring(L, (const char *)pcm, n * 2);
}

/* ------------------------------------------------------------------ objects */

static struct lrt_resampler *lrt_check_resampler(lua_State *L, int idx)
{
    struct lrt_resampler *b = luaL_checkudata(L, idx, LRT_RESAMPLER);

    if (!b->r)
        luaL_error(L, "resampler closed");
    return b;
}

/* Pushes a new box holding a resampler from -> to; raises when that fails. */
static struct lrt_resampler *lrt_new_resampler(lua_State *L, int from, int to)
{
    struct lrt_resampler *b = lua_newuserdatauv(L, sizeof *b, 0);
    struct rt_error err = { 0 };

    b->r = NULL;
    luaL_setmetatable(L, LRT_RESAMPLER);
    b->r = rt_resampler_new(from, to, &err);
    if (!b->r)
        luaL_error(L, "%s", err.msg);
    return b;
}

/* Feeds n samples (after a scratch block holding room for them and the output is
 * pushed) and pushes the output string. */
static void lrt_process(lua_State *L, struct rt_resampler *r, const char *pcm, size_t n)
{
    struct rt_error err = { 0 };
    size_t max = rt_resampler_out_max(r, n), got;
    int16_t *in, *out;

    if (max == SIZE_MAX || n > SIZE_MAX / 4 - max)
        luaL_error(L, "resampled audio too large");
    in = lrt_scratch(L, n + max);
    out = in + n;
    lrt_pcm_decode(in, pcm, n);
    if (rt_resampler_process(r, in, n, out, max, &got, &err) != 0)
        luaL_error(L, "%s", err.msg);
    lrt_pcm_push(L, out, got);
}

/* resampler:process(pcm) -> pcm: the output the new samples complete */
static int lrt_resampler_process(lua_State *L)
{
    struct lrt_resampler *b = lrt_check_resampler(L, 1);
    size_t n;
    const char *pcm = lrt_check_pcm(L, 2, &n);

    lua_settop(L, 2);
    lrt_process(L, b->r, pcm, n);
    return 1;
}

/* resampler:flush() -> pcm: the rest of the stream; the resampler starts a new one */
static int lrt_resampler_flush(lua_State *L)
{
    struct lrt_resampler *b = lrt_check_resampler(L, 1);
    struct rt_error err = { 0 };
    size_t max = rt_resampler_out_max(b->r, 0), got;
    int16_t *out = lrt_scratch(L, max);

    if (rt_resampler_flush(b->r, out, max, &got, &err) != 0)
        luaL_error(L, "%s", err.msg);
    lrt_pcm_push(L, out, got);
    return 1;
}

/* resampler:reset(): drops the stream so far without producing its tail */
static int lrt_resampler_reset(lua_State *L)
{
    rt_resampler_reset(lrt_check_resampler(L, 1)->r);
    return 0;
}

/* resampler:rates() -> from, to */
static int lrt_resampler_rates(lua_State *L)
{
    struct lrt_resampler *b = lrt_check_resampler(L, 1);

    lua_pushinteger(L, rt_resampler_from(b->r));
    lua_pushinteger(L, rt_resampler_to(b->r));
    return 2;
}

/* resampler:close(), also __gc and __close: frees the filter; later calls raise */
static int lrt_resampler_close(lua_State *L)
{
    struct lrt_resampler *b = luaL_checkudata(L, 1, LRT_RESAMPLER);

    rt_resampler_free(b->r);
    b->r = NULL;
    return 0;
}

static int lrt_resampler_tostring(lua_State *L)
{
    struct lrt_resampler *b = luaL_checkudata(L, 1, LRT_RESAMPLER);

    if (b->r)
        lua_pushfstring(L, "%s (%d Hz -> %d Hz): %p", LRT_RESAMPLER, rt_resampler_from(b->r),
                        rt_resampler_to(b->r), (void *)b);
    else
        lua_pushfstring(L, "%s (closed): %p", LRT_RESAMPLER, (void *)b);
    return 1;
}

/* ------------------------------------------------------------------ module */

/* realtime.core.resampler(from, to) -> resampler */
static int lrt_resampler_new(lua_State *L)
{
    int from = lrt_check_rate(L, 1), to = lrt_check_rate(L, 2);

    lrt_new_resampler(L, from, to);
    return 1;
}

/* realtime.core.resample(pcm, from, to) -> pcm */
static int lrt_resample(lua_State *L)
{
    size_t n, total, done = 0, got;
    const char *pcm = lrt_check_pcm(L, 1, &n);
    int from = lrt_check_rate(L, 2), to = lrt_check_rate(L, 3);
    struct rt_error err = { 0 };
    struct lrt_resampler *b;
    int16_t *in, *out;

    lua_settop(L, 3);
    b = lrt_new_resampler(L, from, to);
    /* On a fresh resampler this is the exact length of the whole result. */
    total = rt_resampler_out_max(b->r, n);
    if (total == SIZE_MAX || total > SIZE_MAX / 4 - LRT_AUDIO_CHUNK)
        luaL_error(L, "resampled audio too large");
    in = lrt_scratch(L, LRT_AUDIO_CHUNK + total);
    out = in + LRT_AUDIO_CHUNK;
    for (size_t i = 0; i < n; i += LRT_AUDIO_CHUNK) {
        size_t c = n - i < LRT_AUDIO_CHUNK ? n - i : LRT_AUDIO_CHUNK;

        lrt_pcm_decode(in, pcm + 2 * i, c);
        if (rt_resampler_process(b->r, in, c, out + done, total - done, &got, &err) != 0)
            luaL_error(L, "%s", err.msg);
        done += got;
    }
    if (rt_resampler_flush(b->r, out + done, total - done, &got, &err) != 0)
        luaL_error(L, "%s", err.msg);
    done += got;
    /* Free the filter now rather than at the next collection. */
    rt_resampler_free(b->r);
    b->r = NULL;
    lrt_pcm_push(L, out, done);
    return 1;
}

static const luaL_Reg lrt_resampler_methods[] = {
    { "process", lrt_resampler_process },
    { "flush", lrt_resampler_flush },
    { "reset", lrt_resampler_reset },
    { "rates", lrt_resampler_rates },
    { "close", lrt_resampler_close },
    { NULL, NULL },
};

static const luaL_Reg lrt_resampler_meta[] = {
    { "__gc", lrt_resampler_close },
    { "__close", lrt_resampler_close },
    { "__tostring", lrt_resampler_tostring },
    { NULL, NULL },
};

static const luaL_Reg lrt_audio_funcs[] = {
    { "resample", lrt_resample },
    { "resampler", lrt_resampler_new },
    { NULL, NULL },
};

void lrt_open_audio(lua_State *L)
{
    if (luaL_newmetatable(L, LRT_RESAMPLER)) {
        luaL_setfuncs(L, lrt_resampler_meta, 0);
        luaL_newlib(L, lrt_resampler_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, lrt_audio_funcs, 0);
}
