/* The WebSocket protocol for a client, without sockets. */
#include "rt_ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "rt_alloc.h"
#include "rt_base64.h"
#include "rt_utf8.h"

#define RT_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ==================================================================== *
 *  T H E   U P G R A D E
 * ==================================================================== */

int rt_ws_new_key(char key[25])
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    rt_base64_encode(raw, sizeof raw, key);
    key[24] = '\0';
    return 0;
}

int rt_ws_request(struct rt_buf *out, const char *host_header, const char *path,
                  const char *key, const struct rt_ws_header *headers, size_t n)
{
    size_t i, room = strlen(path) + strlen(host_header) + strlen(key) + 160;

    /* the whole request's room first: a buffer that grew after a header value (the
     * credential) went in would leave the old block to realloc, which frees it unwiped */
    for (i = 0; i < n; i++)
        room += strlen(headers[i].name) + strlen(headers[i].value) + 4;
    if (rt_buf_reserve(out, room))
        return -1;
    if (rt_buf_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n", path, host_header, key) < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (rt_buf_printf(out, "%s: %s\r\n", headers[i].name, headers[i].value) < 0)
            return -1;
    return rt_buf_append(out, "\r\n", 2);
}

/* True when the comma-separated list v (n bytes) holds the token tok, any case. */
static bool rt_ws_has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;

    while (i < n) {
        size_t j;
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - i == tl && strncasecmp(v + i, tok, tl) == 0)
            return true;
        i = j;
    }
    return false;
}

static void rt_ws_expected_accept(const char *key, char out[29])
{
    unsigned char sha[SHA_DIGEST_LENGTH];
    char in[64];
    int n = snprintf(in, sizeof in, "%s%s", key, RT_WS_GUID);

    SHA1((const unsigned char *)in, (size_t)n, sha);
    rt_base64_encode(sha, sizeof sha, out);
    out[28] = '\0';
}

/* Reads one answer head from buf[0..len), whose end must come within its first `max`
 * bytes; as rt_ws_parse_answer, with header_len counted from buf. */
static int rt_ws_parse_head(const char *buf, size_t len, size_t max, const char *key,
                            struct rt_ws_answer *a)
{
    const char *end = NULL, *line, *eol;
    bool upgrade = false, connection = false, accept = false;
    char want[29];
    size_t scan = len < max ? len : max;
    int status;

    memset(a, 0, sizeof *a);
    a->content_length = -1;
    for (size_t i = 3; i < scan; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = buf + i + 1;
            break;
        }
    }
    if (!end) {
        if (len >= max) {
            snprintf(a->problem, sizeof a->problem, "answer headers longer than %d bytes",
                     RT_WS_RESPONSE_MAX);
            return -1;
        }
        if (len >= 5 && strncmp(buf, "HTTP/", 5) != 0) {
            snprintf(a->problem, sizeof a->problem, "the server did not answer with HTTP");
            return -1;
        }
        return 0;
    }
    a->header_len = (size_t)(end - buf);
    /* Status line: HTTP/1.x SSS reason */
    eol = memchr(buf, '\r', a->header_len);
    if (a->header_len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
        !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]) || (buf[12] != ' ' && buf[12] != '\r')) {
        /* exactly three digits: "1010" is no 101, "4040" no 404 */
        snprintf(a->problem, sizeof a->problem, "the server did not answer with HTTP");
        return -1;
    }
    status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    a->status = status;
    if (eol > buf + 13) {
        size_t rl = (size_t)(eol - (buf + 13));
        if (rl >= sizeof a->reason)
            rl = sizeof a->reason - 1;
        for (size_t i = 0; i < rl; i++) {
            unsigned char c = (unsigned char)buf[13 + i];
            a->reason[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        a->reason[rl] = '\0';
    }
    rt_ws_expected_accept(key, want);
    for (line = eol + 2; line < end - 2; line = eol + 2) {
        const char *colon, *v, *ve;
        size_t nl;

        eol = memchr(line, '\r', (size_t)(end - line));
        if (!eol)
            break;
        colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon)
            continue;
        nl = (size_t)(colon - line);
        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
#define RT_IS(h) (nl == sizeof h - 1 && strncasecmp(line, h, nl) == 0)
        if (RT_IS("Upgrade"))
            upgrade = rt_ws_has_token(v, (size_t)(ve - v), "websocket");
        else if (RT_IS("Connection"))
            connection = rt_ws_has_token(v, (size_t)(ve - v), "upgrade");
        else if (RT_IS("Sec-WebSocket-Accept"))
            accept = (size_t)(ve - v) == 28 && memcmp(v, want, 28) == 0;
        else if (RT_IS("Sec-WebSocket-Extensions") && ve > v && status == 101)
            snprintf(a->problem, sizeof a->problem, "the server chose an extension we did not offer");
        else if (RT_IS("Sec-WebSocket-Protocol") && ve > v && status == 101)
            snprintf(a->problem, sizeof a->problem, "the server chose a subprotocol we did not offer");
        else if (RT_IS("Content-Length")) {
            char *e;
            long cl = strtol(v, &e, 10);
            if (e == ve && cl >= 0)
                a->content_length = cl;
        }
#undef RT_IS
    }
    if (status == 101 && !a->problem[0]) {
        if (!upgrade)
            snprintf(a->problem, sizeof a->problem, "101 answer without Upgrade: websocket");
        else if (!connection)
            snprintf(a->problem, sizeof a->problem, "101 answer without Connection: upgrade");
        else if (!accept)
            snprintf(a->problem, sizeof a->problem, "wrong Sec-WebSocket-Accept in the 101 answer");
    }
    return 1;
}

int rt_ws_parse_answer(const char *buf, size_t len, const char *key, struct rt_ws_answer *a)
{
    size_t off = 0;
    int r;

    /* Interim answers (1xx but 101: 100 Continue, 103 Early Hints) come before the final
     * one and say nothing about the upgrade (RFC 9110 15.2): skipped, a few, all heads
     * together within RT_WS_RESPONSE_MAX. */
    for (int interim = 0;; interim++) {
        r = rt_ws_parse_head(buf + off, len - off, RT_WS_RESPONSE_MAX - off, key, a);
        if (r <= 0 || a->status < 100 || a->status > 199 || a->status == 101)
            break;
        if (interim == RT_WS_INTERIM_MAX) {
            snprintf(a->problem, sizeof a->problem, "more than %d interim (1xx) answers",
                     RT_WS_INTERIM_MAX);
            return -1;
        }
        off += a->header_len;
    }
    a->head_start = off;
    if (r == 1)
        a->header_len += off;
    return r;
}

/* ==================================================================== *
 *  F R A M E S   W E   S E N D
 * ==================================================================== */

bool rt_ws_close_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Keys come from OpenSSL's generator in blocks, one call for 1,024 frames: each call also
 * costs a getpid() (OpenSSL's fork check), which at 64 frames a call was 7 % of the Stream
 * workload's system calls. 4 KB a thread that sends frames. */
static _Thread_local unsigned char rt_ws_keys[4096];
static _Thread_local size_t rt_ws_keys_left;

int rt_ws_mask_key(unsigned char key[4])
{
    if (rt_ws_keys_left < 4) {
        if (RAND_bytes(rt_ws_keys, sizeof rt_ws_keys) != 1)
            return -1;
        rt_ws_keys_left = sizeof rt_ws_keys;
    }
    rt_ws_keys_left -= 4;
    memcpy(key, rt_ws_keys + rt_ws_keys_left, 4);
    return 0;
}

static size_t rt_ws_head_fin(unsigned char *out, int opcode, bool fin, size_t len,
                             const unsigned char key[4])
{
    size_t h;

    out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (unsigned char)(0x80 | len);
        h = 2;
    } else if (len < 65536) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        h = 4;
    } else {
        uint64_t l = len;
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(l >> (56 - 8 * i));
        h = 10;
    }
    memcpy(out + h, key, 4);
    return h + 4;
}

size_t rt_ws_head(unsigned char *out, int opcode, size_t len, const unsigned char key[4])
{
    return rt_ws_head_fin(out, opcode, true, len, key);
}

/* The header length of a masked frame with a payload of len bytes. */
static size_t rt_ws_head_len(size_t len)
{
    return len < 126 ? 6 : len < 65536 ? 8 : RT_WS_HEAD_MAX;
}

int rt_ws_frame_next(unsigned char *out, size_t room, size_t whole, int opcode,
                     const unsigned char *msg, size_t len, size_t *off, size_t *n)
{
    size_t rest = len - *off, p = rest, h;
    const size_t need = rest + rt_ws_head_len(rest);   /* the rest as one frame */
    unsigned char key[4];
    bool fin = true;

    *n = 0;
    if (need > room) {
        /* a message that fits an empty buffer (frame header included) goes whole next
         * time: no fragments for the small ones, which are most (audio chunks) */
        if ((*off == 0 && need <= whole) || room < RT_WS_PIECE_MIN + RT_WS_HEAD_MAX)
            return 0;
        p = room - RT_WS_HEAD_MAX;   /* < rest: rest + its header did not fit */
        fin = false;
    }
    if (rt_ws_mask_key(key))
        return -1;
    h = rt_ws_head_fin(out, *off ? RT_WS_CONT : opcode, fin, p, key);
    rt_ws_mask(out + h, msg + *off, p, key, 0);
    *off += p;
    *n = h + p;
    return 0;
}

void rt_ws_mask(unsigned char *dst, const unsigned char *src, size_t n,
                const unsigned char key[4], size_t off)
{
    unsigned char k[8];
    uint64_t k8, w;
    size_t i = 0;

    /* the key as it falls from src[0] on, twice: what every 8 bytes at a multiple of 4
     * are XORed with */
    for (int j = 0; j < 4; j++)
        k[j] = k[j + 4] = key[(off + (size_t)j) & 3];
    memcpy(&k8, k, 8);
#ifdef __SSE2__
    /* 32 bytes a turn, then 16 (SSE2 is in every x86-64) */
    {
        const __m128i kv = _mm_set1_epi64x((long long)k8);
        for (; i + 32 <= n; i += 32) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, kv));
            _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, kv));
        }
        if (i + 16 <= n) {
            _mm_storeu_si128((__m128i *)(dst + i),
                             _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + i)), kv));
            i += 16;
        }
    }
#endif
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ k[i & 7];
}

/* ==================================================================== *
 *  F R A M E S   W E   R E C E I V E
 * ==================================================================== */

void rt_ws_rx_init(struct rt_ws_rx *p, size_t headroom, size_t max)
{
    memset(p, 0, sizeof *p);
    p->headroom = headroom;
    p->max = max;
    p->head_need = 2;
    p->close_reason = "";
}

void rt_ws_rx_free(struct rt_ws_rx *p)
{
    rt_free(p->block);
    rt_free(p->ctl);
    rt_ws_rx_init(p, p->headroom, p->max);
}

static long rt_ws_fail(struct rt_ws_rx *p, struct rt_error *err, int code, enum rt_code rc,
                       const char *what)
{
    p->fail_code = code;
    rt_error_set(err, rc, "%s", what);
    return -1;
}

/* Makes room for `more` payload bytes of the message being assembled. */
static int rt_ws_grow(struct rt_ws_rx *p, uint64_t more)
{
    size_t want, cap;
    unsigned char *b;

    if (more > p->max - p->len)
        return 1;
    want = p->len + (size_t)more;
    if (p->block && want <= p->cap)
        return 0;
    /* Exact for a message in one frame; doubling while fragments keep coming. */
    cap = p->block ? (p->cap * 2 > want ? p->cap * 2 : want) : want;
    if (cap > p->max)
        cap = p->max;
    b = rt_realloc(p->block, p->headroom + cap + 1);
    if (!b)
        return -1;
    p->block = b;
    p->cap = cap;
    return 0;
}

/* A frame header is complete: check it and get ready for its payload. */
static long rt_ws_frame_start(struct rt_ws_rx *p, struct rt_error *err)
{
    const unsigned char *h = p->head;
    uint64_t len = h[1] & 0x7f;
    bool control = p->opcode & 8;

    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        if (len >> 63)
            return rt_ws_fail(p, err, 1002, RT_EPROTOCOL, "frame length with the top bit set");
    }
    p->left = len;
    if (control) {
        if (!p->fin || len > 125)
            return rt_ws_fail(p, err, 1002, RT_EPROTOCOL,
                              "control frame fragmented or longer than 125 bytes");
        p->ctl_len = 0;
        rt_free(p->ctl);
        p->ctl = len ? rt_malloc((size_t)len + 1) : NULL;
        if (len && !p->ctl)
            return rt_ws_fail(p, err, 1011, RT_ENOMEM, "out of memory receiving a control frame");
        return 0;
    }
    if (p->opcode == RT_WS_CONT) {
        if (!p->in_msg)
            return rt_ws_fail(p, err, 1002, RT_EPROTOCOL, "continuation frame without a message");
    } else {
        if (p->in_msg)
            return rt_ws_fail(p, err, 1002, RT_EPROTOCOL,
                              "new message before the last one's final fragment");
        p->in_msg = true;
        p->binary = p->opcode == RT_WS_BINARY;
        p->len = 0;
    }
    switch (rt_ws_grow(p, len)) {
    case 1:
        return rt_ws_fail(p, err, 1009, RT_EPROTOCOL, "server message larger than the limit");
    case -1:
        return rt_ws_fail(p, err, 1011, RT_ENOMEM, "out of memory receiving a message");
    }
    return 0;
}

/* Reads a close frame's code and reason. A code no endpoint may send (RFC 6455 7.4:
 * 1005, 1006 and 1015 stand for "none" and for failures seen locally; below 1000, and
 * 1004 and 2999 and under are reserved or unassigned) is a protocol failure: taken as
 * sent, a 1006 would read as a dropped connection and a 1005 as an empty close. */
static long rt_ws_close_frame(struct rt_ws_rx *p, struct rt_error *err)
{
    int code;

    if (p->ctl_len == 0) {
        p->closed = true;
        p->close_code = 1005;
        return 0;
    }
    if (p->ctl_len == 1)
        return rt_ws_fail(p, err, 1002, RT_EPROTOCOL, "close frame with a one-byte payload");
    code = p->ctl[0] << 8 | p->ctl[1];
    if (!rt_ws_close_code_ok(code)) {
        char what[64];
        snprintf(what, sizeof what, "close frame with an invalid code (%d)", code);
        return rt_ws_fail(p, err, 1002, RT_EPROTOCOL, what);
    }
    p->closed = true;
    p->close_code = code;
    /* Kept as sent, even when it is not UTF-8: the binding shows such bytes as U+FFFD.
     * The payload's block holds it (nothing is parsed after a close frame). A NUL would
     * end it early as a C string: it becomes '?' and what follows is kept. */
    p->ctl[p->ctl_len] = '\0';
    for (size_t i = 2; i < p->ctl_len; i++)
        if (p->ctl[i] == '\0')
            p->ctl[i] = '?';
    p->close_reason = (const char *)p->ctl + 2;
    return 0;
}

/* A frame's payload is complete. Returns the callback's verdict, or -1. */
static long rt_ws_frame_end(struct rt_ws_rx *p, rt_ws_rx_cb cb, void *ctx,
                            struct rt_error *err)
{
    const unsigned char *pl = p->ctl ? p->ctl : (const unsigned char *)"";
    long r;

    switch (p->opcode) {
    case RT_WS_PING:
    case RT_WS_PONG:
        r = cb(ctx, p->opcode == RT_WS_PING ? RT_WS_EV_PING : RT_WS_EV_PONG, pl, p->ctl_len);
        rt_free(p->ctl);
        p->ctl = NULL;
        return r;
    case RT_WS_CLOSE:
        if (rt_ws_close_frame(p, err) < 0)
            return -1;
        return cb(ctx, RT_WS_EV_CLOSE, pl, p->ctl_len);
    default:
        break;
    }
    if (!p->fin)
        return RT_WS_GO_ON;
    p->block[p->headroom + p->len] = '\0';
    if (!p->binary && !rt_utf8_valid(p->block + p->headroom, p->len))
        return rt_ws_fail(p, err, 1007, RT_EPROTOCOL, "text message that is not UTF-8");
    p->in_msg = false;
    return cb(ctx, RT_WS_EV_MESSAGE, p->block + p->headroom, p->len);
}

long rt_ws_rx_feed(struct rt_ws_rx *p, const unsigned char *in, size_t n, rt_ws_rx_cb cb,
                   void *ctx, struct rt_error *err)
{
    size_t i = 0;

    if (p->fail_code)
        return rt_ws_fail(p, err, p->fail_code, RT_EPROTOCOL, "protocol failure");
    while (i < n) {
        if (p->closed)
            return (long)n;           /* nothing counts after the close frame */
        if (p->head_len < p->head_need) {
            p->head[p->head_len++] = in[i++];
            if (p->head_len == 2) {
                unsigned char b0 = p->head[0], b1 = p->head[1];
                if (b0 & 0x70)
                    return rt_ws_fail(p, err, 1002, RT_EPROTOCOL,
                                      "frame with reserved bits set (no extension was agreed)");
                p->opcode = b0 & 0x0f;
                p->fin = b0 & 0x80;
                if ((p->opcode > 2 && p->opcode < 8) || p->opcode > 10)
                    return rt_ws_fail(p, err, 1002, RT_EPROTOCOL, "frame with an unknown opcode");
                if (b1 & 0x80)
                    return rt_ws_fail(p, err, 1002, RT_EPROTOCOL,
                                      "masked frame from the server (RFC 6455 5.1)");
                p->head_need = 2 + ((b1 & 0x7f) == 126 ? 2 : (b1 & 0x7f) == 127 ? 8 : 0);
            }
            if (p->head_len < p->head_need)
                continue;
            if (rt_ws_frame_start(p, err) < 0)
                return -1;
        } else if (p->left) {
            size_t m = n - i < p->left ? n - i : (size_t)p->left;
            if (p->opcode & 8) {
                memcpy(p->ctl + p->ctl_len, in + i, m);
                p->ctl_len += m;
            } else {
                memcpy(p->block + p->headroom + p->len, in + i, m);
                p->len += m;
            }
            p->left -= m;
            i += m;
        }
        if (p->head_len == p->head_need && !p->left) {
            long r;
            p->head_len = 0;
            p->head_need = 2;
            r = rt_ws_frame_end(p, cb, ctx, err);
            if (r < 0)
                return -1;
            if (r == RT_WS_STOP)
                return (long)i;
        }
    }
    return (long)i;
}

void *rt_ws_rx_take(struct rt_ws_rx *p, size_t *len, bool *binary)
{
    unsigned char *b = p->block;

    *len = p->len;
    *binary = p->binary;
    /* A fragmented message grew by doubling: give back what it does not use. */
    if (p->cap > p->len + 64) {
        unsigned char *s = rt_realloc(b, p->headroom + p->len + 1);
        if (s)
            b = s;
    }
    p->block = NULL;
    p->len = p->cap = 0;
    return b;
}
