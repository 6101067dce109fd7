/* The wire facts of the realtime input path (see rt_wire.h). */
#include "rt_wire.h"

#include <string.h>

#include "rt_base64.h"
#include "rt_json.h"
#include "rt_resume.h"

static const char *const rt_wire_controls[] = {
    [RT_WIRE_ACTIVITY_START] = "{\"realtimeInput\":{\"activityStart\":{}}}",
    [RT_WIRE_ACTIVITY_END] = "{\"realtimeInput\":{\"activityEnd\":{}}}",
    [RT_WIRE_AUDIO_STREAM_END] = "{\"realtimeInput\":{\"audioStreamEnd\":true}}",
};

const char *rt_wire_control_text(enum rt_wire_control c, size_t *len)
{
    const char *t = rt_wire_controls[c];

    *len = strlen(t);
    return t;
}

struct rt_msg *rt_wire_control_msg(enum rt_wire_control c)
{
    size_t n;
    const char *t = rt_wire_control_text(c, &n);
    struct rt_msg *m = rt_msg_copy(t, n);

    if (m)
        m->flags = (unsigned char)rt_wire_flags(t, n);
    return m;
}

/* The flag of an activity key of realtimeInput, in either spelling the API takes. */
static unsigned rt_wire_activity_key(const struct rt_json_val *k)
{
    if (rt_json_eq(k, "activityStart") || rt_json_eq(k, "activity_start"))
        return RT_MSG_ACT_START;
    if (rt_json_eq(k, "activityEnd") || rt_json_eq(k, "activity_end"))
        return RT_MSG_ACT_END;
    return 0;
}

/* Reads text as JSON for realtimeInput.activityStart / activityEnd (objects), however
 * it is spaced or ordered: a message written by hand means the same as ours. A text
 * that is not one JSON object, or names both, has no flag. */
static unsigned rt_wire_parse_flags(const char *text, size_t len)
{
    struct rt_json r;
    struct rt_json_val root, k, v, ik, iv;
    unsigned flags = 0, f;

    rt_json_init(&r, text, len, 0);
    if (rt_json_root(&r, &root) != RT_JSON_OBJECT)
        return 0;
    while (rt_json_member(&r, &root, &k, &v)) {
        if (v.type != RT_JSON_OBJECT ||
            !(rt_json_eq(&k, "realtimeInput") || rt_json_eq(&k, "realtime_input")))
            continue;
        while (rt_json_member(&r, &v, &ik, &iv))
            if ((f = rt_wire_activity_key(&ik)) && iv.type == RT_JSON_OBJECT)
                flags |= f;
    }
    if (rt_json_finish(&r) != 0 || flags == (RT_MSG_ACT_START | RT_MSG_ACT_END))
        return 0;
    return flags;
}

/* The bytes of JSON white space at t[0..len). */
static size_t rt_wire_ws(const char *t, size_t len)
{
    size_t i = 0;

    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* Whether the object's first key is `key` (quoted): a look at its first bytes only, so
 * that a long message (an audio item) costs nothing more. */
static bool rt_wire_first_key(const char *t, size_t len, const char *key, size_t klen)
{
    size_t i = rt_wire_ws(t, len);

    if (i >= len || t[i] != '{')
        return false;
    i++;
    i += rt_wire_ws(t + i, len - i);
    return len - i >= klen && memcmp(t + i, key, klen) == 0;
}

#define RT_WIRE_KEY(lit) (lit), sizeof(lit) - 1

/* RT_MSG_REALTIME for realtime input: its first key, or (a message written by hand) the
 * name anywhere in it, in either spelling. Held a little longer when the name is only
 * quoted in a text: harmless, where realtime input let through would close the session. */
static unsigned rt_wire_realtime_flag(const char *t, size_t len)
{
    if (rt_wire_first_key(t, len, RT_WIRE_KEY("\"realtimeInput\"")) ||
        memmem(t, len, "realtimeInput", 13) || memmem(t, len, "realtime_input", 14))
        return RT_MSG_REALTIME;
    return 0;
}

unsigned rt_wire_flags(const void *text, size_t len)
{
    static const struct { enum rt_wire_control c; unsigned flag; } acts[] = {
        { RT_WIRE_ACTIVITY_START, RT_MSG_ACT_START }, { RT_WIRE_ACTIVITY_END, RT_MSG_ACT_END },
    };

    unsigned rt;

    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        const char *t = rt_wire_controls[acts[i].c];
        if (len == strlen(t) && memcmp(text, t, len) == 0)
            return acts[i].flag | RT_MSG_REALTIME;
    }
    /* either spelling, as the API takes both: an answer not known as one would wait
     * behind the input held for it (rt_conn_gate.c) */
    if (rt_wire_first_key(text, len, RT_WIRE_KEY("\"toolResponse\"")) ||
        rt_wire_first_key(text, len, RT_WIRE_KEY("\"tool_response\"")))
        return RT_MSG_TOOL_RESPONSE;      /* no realtimeInput in it */
    rt = rt_wire_realtime_flag(text, len);
    /* Only a text that mentions an activity at all is read as JSON. */
    if (!rt || !memmem(text, len, "ctivity", 7))
        return rt;
    return rt | rt_wire_parse_flags(text, len);
}

bool rt_wire_mime_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

static const char rt_audio_head[] = "{\"realtimeInput\":{\"audio\":{\"data\":\"";
static const char rt_audio_mid[] = "\",\"mimeType\":\"";
static const char rt_audio_tail[] = "\"}}}";

static size_t rt_wire_audio_len_m(size_t n, size_t mlen)
{
    return sizeof rt_audio_head - 1 + rt_base64_encoded_len(n) + sizeof rt_audio_mid - 1 +
           mlen + sizeof rt_audio_tail - 1;
}

size_t rt_wire_audio_len(size_t n, const char *mime)
{
    return rt_wire_audio_len_m(n, strlen(mime));
}

static size_t rt_wire_audio_text_m(char *out, const void *pcm, size_t n, const char *mime,
                                   size_t mlen)
{
    char *d = out;

    memcpy(d, rt_audio_head, sizeof rt_audio_head - 1);
    d += sizeof rt_audio_head - 1;
    d += rt_base64_encode(pcm, n, d);
    memcpy(d, rt_audio_mid, sizeof rt_audio_mid - 1);
    d += sizeof rt_audio_mid - 1;
    memcpy(d, mime, mlen);
    d += mlen;
    memcpy(d, rt_audio_tail, sizeof rt_audio_tail - 1);
    d += sizeof rt_audio_tail - 1;
    return (size_t)(d - out);
}

size_t rt_wire_audio_text(char *out, const void *pcm, size_t n, const char *mime)
{
    return rt_wire_audio_text_m(out, pcm, n, mime, strlen(mime));
}

int rt_wire_audio(const void *pcm, size_t len, const char *mime, struct rt_msg **chain,
                  size_t *bytes, struct rt_error *err)
{
    *chain = NULL;
    *bytes = 0;
    if (!rt_wire_mime_ok(mime)) {
        rt_error_set(err, RT_EINVAL, "audio mime type contains characters JSON would escape");
        return -1;
    }
    return rt_wire_audio_checked(pcm, len, mime, strlen(mime), chain, bytes, err);
}

int rt_wire_audio_checked(const void *pcm, size_t len, const char *mime, size_t mime_len,
                          struct rt_msg **chain, size_t *bytes, struct rt_error *err)
{
    const unsigned char *p = pcm;
    struct rt_queue q;
    size_t off;

    *chain = NULL;
    *bytes = 0;
    if (len % 2) {
        rt_error_set(err, RT_EINVAL, "PCM length %zu is odd (16-bit samples expected)", len);
        return -1;
    }
    rt_queue_init(&q);
    for (off = 0; off < len; off += RT_WIRE_AUDIO_CHUNK) {
        size_t n = len - off < RT_WIRE_AUDIO_CHUNK ? len - off : RT_WIRE_AUDIO_CHUNK;
        struct rt_msg *m = rt_msg_new(rt_wire_audio_len_m(n, mime_len));

        if (!m) {
            rt_queue_clear(&q);
            rt_error_set(err, RT_ENOMEM, "out of memory building an audio message");
            return -1;
        }
        rt_wire_audio_text_m((char *)m->data, p + off, n, mime, mime_len);
        m->flags = RT_MSG_REALTIME;
        rt_queue_push(&q, m);
    }
    *chain = q.head;
    *bytes = q.bytes;
    return 0;
}

bool rt_wire_is_setup_complete(const char *text, size_t len)
{
    struct rt_scan sc;

    return rt_scan_server(text, len, &sc) == 0 && sc.setup_complete;
}
