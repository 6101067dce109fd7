/* Fragment reassembly and audio message building (see rt_frame.h). */
#include "rt_frame.h"

#include <stdint.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_base64.h"

void rt_reasm_init(struct rt_reasm *r, size_t headroom, size_t max)
{
    memset(r, 0, sizeof *r);
    r->headroom = headroom;
    r->max = max;
}

void rt_reasm_free(struct rt_reasm *r)
{
    rt_free(r->block);
    r->block = NULL;
    r->len = r->cap = 0;
    r->active = false;
}

/* Grows the block so that `need` message bytes plus a NUL fit. */
static int rt_reasm_grow(struct rt_reasm *r, size_t need)
{
    size_t cap = r->cap ? r->cap : 4096;
    unsigned char *p;

    while (cap < need + 1)
        cap = cap > SIZE_MAX / 4 ? need + 1 : cap * 2;
    if (cap > r->max + 1)
        cap = r->max + 1 > need + 1 ? r->max + 1 : need + 1;
    p = rt_realloc(r->block, r->headroom + cap);
    if (!p)
        return -1;
    r->block = p;
    r->cap = cap;
    return 0;
}

int rt_reasm_feed(struct rt_reasm *r, const void *p, size_t n, bool first, bool final,
                  bool binary, struct rt_error *err)
{
    if (first) {
        r->active = true;
        r->binary = binary;
        r->len = 0;
    } else if (!r->active) {
        rt_error_set(err, RT_EPROTOCOL, "continuation fragment without a message start");
        return -1;
    }
    if (n > r->max - r->len) {
        rt_error_set(err, RT_EPROTOCOL, "server message larger than %zu bytes", r->max);
        rt_reasm_free(r);
        return -1;
    }
    if (r->len + n + 1 > r->cap && rt_reasm_grow(r, r->len + n)) {
        rt_error_set(err, RT_ENOMEM, "out of memory receiving a %zu-byte message",
                     r->len + n);
        rt_reasm_free(r);
        return -1;
    }
    if (n)
        memcpy(r->block + r->headroom + r->len, p, n);
    r->len += n;
    if (!final)
        return 0;
    r->active = false;
    return 1;
}

void *rt_reasm_take(struct rt_reasm *r, size_t *len)
{
    void *b;

    if (r->active)
        return NULL;
    if (!r->block && rt_reasm_grow(r, 0))
        return NULL;
    b = r->block;
    r->block[r->headroom + r->len] = '\0';
    *len = r->len;
    r->block = NULL;
    r->len = r->cap = 0;
    return b;
}

bool rt_frame_mime_ok(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

static const char rt_audio_head[] = "{\"realtimeInput\":{\"audio\":{\"data\":\"";
static const char rt_audio_mid[] = "\",\"mimeType\":\"";
static const char rt_audio_tail[] = "\"}}}";

int rt_frame_audio(const void *pcm, size_t len, const char *mime, size_t split,
                   struct rt_msg **chain, size_t *bytes, struct rt_error *err)
{
    const unsigned char *p = pcm;
    struct rt_msg *first = NULL, **link = &first;
    size_t mlen = strlen(mime), total = 0, off;

    *chain = NULL;
    *bytes = 0;
    if (!split)
        split = RT_FRAME_AUDIO_SPLIT;
    if (split % 2) {
        rt_error_set(err, RT_EINVAL, "audio split size must be even");
        return -1;
    }
    if (!rt_frame_mime_ok(mime)) {
        rt_error_set(err, RT_EINVAL, "audio mime type contains characters JSON would escape");
        return -1;
    }
    for (off = 0; off < len; off += split) {
        size_t n = len - off < split ? len - off : split;
        size_t b64 = rt_base64_encoded_len(n);
        size_t size = sizeof rt_audio_head - 1 + b64 + sizeof rt_audio_mid - 1 + mlen +
                      sizeof rt_audio_tail - 1;
        struct rt_msg *m = rt_msg_new(size);
        unsigned char *d;

        if (!m) {
            rt_msg_free_chain(first);
            rt_error_set(err, RT_ENOMEM, "out of memory building an audio message");
            return -1;
        }
        d = rt_msg_data(m);
        memcpy(d, rt_audio_head, sizeof rt_audio_head - 1);
        d += sizeof rt_audio_head - 1;
        d += rt_base64_encode(p + off, n, (char *)d);
        memcpy(d, rt_audio_mid, sizeof rt_audio_mid - 1);
        d += sizeof rt_audio_mid - 1;
        memcpy(d, mime, mlen);
        d += mlen;
        memcpy(d, rt_audio_tail, sizeof rt_audio_tail - 1);
        *link = m;
        link = &m->next;
        total += size;
    }
    *chain = first;
    *bytes = total;
    return 0;
}
