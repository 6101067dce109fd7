/* Server audio parts -> output_audio_delta (part of map_server).
 *
 * The Live API sends 16-bit mono PCM, base64 in `inlineData.data`, labelled
 * "audio/pcm;rate=N" (Vertex leaves the rate out: 24000). Audio that breaks those rules
 * is handled as docs/api.md ("Server data the library corrects") says, and always with
 * an `error` message (code "protocol") in the place of the part, so nothing is lost
 * without a word and the rest of the frame, and its response, go on:
 *   - audio that is not audio/pcm (audio/ogg, ...): no delta (played as PCM it would be
 *     noise), the error says so and carries the frame in its raw;
 *   - data that is not base64: no delta, the error says so;
 *   - PCM of an odd number of bytes: the delta has the whole samples, the error says
 *     how many bytes came and that the last one was dropped;
 *   - a rate that is not an integer of 8,000 to 192,000 Hz (what realtime.resample
 *     takes): the delta says 24000, and the error (once per response) quotes the mime
 *     type.
 * Empty data ("") is no fault: it gives no delta, and no error. */
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_map.h"
#include "lrt_map_frame.h"
#include "rt_base64.h"

#define LRT_DEFAULT_OUTPUT_RATE 24000
lua_Integer lrt_mime_rate(const char *mime, lua_Integer dflt)
{
    lua_Integer rate = dflt;
    int seen = 0;

    for (const char *p = mime; (p = strchr(p, ';')) != NULL; p++) {
        const char *q = p + 1;
        lua_Integer r = 0;
        int digits = 0;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, "rate=", 5) != 0)
            continue;
        for (q += 5; *q >= '0' && *q <= '9' && digits < 7; q++, digits++)
            r = r * 10 + (*q - '0');
        /* a second rate= makes the type ambiguous: the service refuses it (1007) */
        if (seen++)
            return -2;
        if (!digits || (*q && *q != ';' && *q != ' ') || r < LRT_MIN_RATE ||
            r > LRT_MAX_RATE)
            return -1;
        rate = r;
    }
    return rate;
}

int lrt_mime_is_pcm16(const char *mime, size_t mlen)
{
    /* audio/pcm and its parameters; not audio/pcmu or audio/pcma (G.711, 8-bit), and not
     * a type with a NUL byte (its rate would be read only up to it) */
    return strlen(mime) == mlen && strncasecmp(mime, "audio/pcm", 9) == 0 &&
           (mime[9] == '\0' || mime[9] == ';' || mime[9] == ' ');
}

int lrt_pcm_is_wav(const char *pcm, size_t n)
{
    return n >= 12 && memcmp(pcm, "RIFF", 4) == 0 && memcmp(pcm + 8, "WAVE", 4) == 0;
}

/* Decoded audio goes through one scratch block per Lua state (a userdata in the
 * registry) and then into its Lua string: one allocation per part, where a luaL_Buffer
 * of that size takes three. Blocks above LRT_SCRATCH_KEEP are not kept. */
#define LRT_SCRATCH_KEEP (256u * 1024u)
static const char key_scratch;

/* Pushes a block of at least n bytes (kept in the registry when small enough). */
static void *push_scratch(lua_State *L, size_t n)
{
    void *p;

    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_scratch) == LUA_TUSERDATA &&
        lua_rawlen(L, -1) >= n)
        return lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (n < 4096)
        n = 4096;
    p = lua_newuserdatauv(L, n, 0);
    if (n <= LRT_SCRATCH_KEEP) {
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &key_scratch);
    }
    return p;
}

/* Pushes the bytes of the base64 string at idx and returns 0, or returns -1 (nothing
 * pushed) when it is not base64. */
static int push_decoded(lua_State *L, int idx)
{
    size_t n, len = 0;
    const char *b64 = lua_tolstring(L, idx, &n);
    char *p = push_scratch(L, rt_base64_decoded_max(n));
    int bad = rt_base64_decode(b64, n, p, &len) != 0;

    if (bad) {
        lua_pop(L, 1);
        return -1;
    }
    lua_pushlstring(L, p, len);
    lua_remove(L, -2);
    return 0;
}

/* The rate's error, once per response: state.rate_reported holds the response it was
 * given for. */
static void report_rate(struct lrt_frame *f, const char *mime)
{
    lua_State *L = f->L;
    lua_getfield(L, f->state, "response_id");
    lua_getfield(L, f->state, "rate_reported");
    int done = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
    if (done) {
        lua_pop(L, 1);
        return;
    }
    lua_setfield(L, f->state, "rate_reported");
    lrt_msg_protocol_error(f, "server audio '%s' has no usable sample rate (an integer of "
                              "%d to %d Hz); taken as %d Hz", mime, LRT_MIN_RATE,
                           LRT_MAX_RATE, LRT_DEFAULT_OUTPUT_RATE);
}

void lrt_map_audio_part(struct lrt_frame *f, const char *mime, size_t mlen, int data)
{
    lua_State *L = f->L;
    int pcm16 = lrt_mime_is_pcm16(mime, mlen);
    lua_Integer rate = lrt_mime_rate(mime, LRT_DEFAULT_OUTPUT_RATE);

    lrt_ensure_response(f);
    if (!pcm16) {
        /* played as PCM it would be noise: the bytes stay in the error's raw */
        lrt_msg_protocol_error(f, "server audio %s is not 16-bit PCM (audio/pcm): no "
                                  "output_audio_delta for it; its data is in this "
                                  "message's raw", lrt_map_shown(L, mime, mlen));
        lua_pop(L, 1);   /* the quoted mime type */
        return;
    }
    if (push_decoded(L, data) != 0) {
        lrt_msg_protocol_error(f, "server audio part is not valid base64 (%d characters): "
                                  "skipped", (int)lua_rawlen(L, data));
        return;
    }
    int audio = lua_gettop(L);
    size_t n = lua_rawlen(L, audio);
    if (n % 2) {
        lua_pushlstring(L, lua_tostring(L, audio), n - 1);
        lua_replace(L, audio);
    }
    if (rate < 0) {
        rate = LRT_DEFAULT_OUTPUT_RATE;
        report_rate(f, mime);
    }
    /* a delta holds at least one sample: an empty part (data "") carries nothing, and an
     * empty delta would count as audio for a caller timing or summing it */
    if (lua_rawlen(L, audio) > 0) {
        int m = lrt_msg_newk(f, LRT_K_OUTPUT_AUDIO_DELTA);
        lua_pushvalue(L, audio);
        lrt_setk(L, m, f->keys, LRT_K_AUDIO);
        lua_pushinteger(L, rate);
        lrt_setk(L, m, f->keys, LRT_K_RATE);
        lrt_msg_push(f);
        lua_pushboolean(L, 1);
        lrt_setk(L, f->state, f->keys, LRT_K_RESPONSE_AUDIO);
    }
    if (n % 2)
        lrt_msg_protocol_error(f, "server audio of %d bytes is not whole 16-bit samples; "
                                  "the last byte was dropped", (int)n);
    lua_pop(L, 1);
}
