/* The WebSocket layer: the upgrade request and answer, frame headers, masking and
 * fragments, and the receive parser fed whole, byte by byte and with hostile frames. */
#include <stdlib.h>

#include "rt_alloc.h"
#include "rt_buf.h"
#include "rt_test.h"
#include "rt_ws.h"
#include "secret_watch.h"

/* ---- the upgrade ---- */

static void test_request(void)
{
    struct rt_buf b;
    struct rt_ws_header h[] = { { "x-goog-api-key", "k" } };
    char key[25];

    rt_buf_init(&b);
    RT_CHECK(rt_ws_new_key(key) == 0 && strlen(key) == 24);
    RT_CHECK(rt_ws_request(&b, "example.com:8080", "/ws?x=1", key, h, 1) == 0);
    RT_CHECK(strncmp(b.data, "GET /ws?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n", 46) == 0);
    RT_CHECK(strstr(b.data, "Sec-WebSocket-Version: 13\r\n") != NULL);
    RT_CHECK(strstr(b.data, "x-goog-api-key: k\r\n") != NULL);
    RT_CHECK(b.len > 4 && strcmp(b.data + b.len - 4, "\r\n\r\n") == 0);
    rt_buf_free(&b);
}

/* The request holds the credential: its buffer must not move (realloc frees the old
 * block as it is) once a header value is in it, however long the headers after it. */
static void test_request_secret_not_left(void)
{
    static const char secret[] = "Bearer ya29.SECRET-TOKEN-0123456789";
    static char pad[3000];
    struct rt_ws_header h[] = { { "authorization", secret }, { "x-pad", pad } };
    struct rt_buf b;
    char key[25];

    memset(pad, 'p', sizeof pad - 1);
    rt_buf_init(&b);
    RT_CHECK(rt_ws_new_key(key) == 0);
    secret_watch(secret, sizeof secret - 1);
    RT_CHECK(rt_ws_request(&b, "example.com", "/ws", key, h, 2) == 0);
    RT_CHECK(b.data && strstr(b.data, secret) && strstr(b.data, pad));
    if (b.data)
        memset(b.data, 0, b.cap);        /* the owner wipes it (rt_conn_upgrade_free) */
    rt_buf_free(&b);
    RT_CHECK(secret_watch_end() == 0);
}

/* The RFC 6455 example: key dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
static const char *ok101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
static const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

static void test_answer(void)
{
    struct rt_ws_answer a;
    char buf[512];
    size_t n = strlen(ok101);

    RT_CHECK(rt_ws_parse_answer(ok101, n, key, &a) == 1);
    RT_CHECK(a.status == 101 && a.header_len == n && a.problem[0] == '\0');
    RT_CHECK_STR(a.reason, "Switching Protocols");
    for (size_t i = 0; i < n; i++)
        RT_CHECK(rt_ws_parse_answer(ok101, i, key, &a) == 0);   /* incomplete */
    snprintf(buf, sizeof buf, "%sextra frame bytes", ok101);
    RT_CHECK(rt_ws_parse_answer(buf, strlen(buf), key, &a) == 1 && a.header_len == n);

    RT_CHECK(rt_ws_parse_answer(ok101, n, "AAAAAAAAAAAAAAAAAAAAAA==", &a) == 1);
    RT_CHECK_STR(a.problem, "wrong Sec-WebSocket-Accept in the 101 answer");
    const char *noup = "HTTP/1.1 101 OK\r\nConnection: upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    RT_CHECK(rt_ws_parse_answer(noup, strlen(noup), key, &a) == 1);
    RT_CHECK_STR(a.problem, "101 answer without Upgrade: websocket");
    const char *ext = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                      "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    RT_CHECK(rt_ws_parse_answer(ext, strlen(ext), key, &a) == 1);
    RT_CHECK_STR(a.problem, "the server chose an extension we did not offer");

    const char *refused = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                          "Content-Length: 12\r\n\r\nno such key!";
    RT_CHECK(rt_ws_parse_answer(refused, strlen(refused), key, &a) == 1);
    RT_CHECK(a.status == 403 && a.content_length == 12);
    RT_CHECK_STR(a.reason, "Forbidden");
    RT_CHECK(strcmp(refused + a.header_len, "no such key!") == 0);

    RT_CHECK(rt_ws_parse_answer("SSH-2.0-OpenSSH\r\n", 17, key, &a) == -1);
    /* a status code of four digits is not its first three (it opened a session as 101) */
    const char *four = "HTTP/1.1 1010 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    RT_CHECK(rt_ws_parse_answer(four, strlen(four), key, &a) == -1);
    RT_CHECK_STR(a.problem, "the server did not answer with HTTP");
    RT_CHECK(rt_ws_parse_answer("HTTP/1.1 4040 Nope\r\n\r\n", 24, key, &a) == -1);
    RT_CHECK(rt_ws_parse_answer("HTTP/1.1 204\r\n\r\n", 18, key, &a) == 1 && a.status == 204);
    char *big = malloc(RT_WS_RESPONSE_MAX + 10);
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memset(big + 17, 'x', RT_WS_RESPONSE_MAX - 7);
    RT_CHECK(rt_ws_parse_answer(big, RT_WS_RESPONSE_MAX + 10, key, &a) == -1);
    free(big);
}

/* RFC 9110 15.2: interim (1xx) answers before the final one are skipped, a few of them
 * within the header bound; 101 is the only 1xx that upgrades. */
static void test_answer_interim(void)
{
    static const char *interim = "HTTP/1.1 100 Continue\r\n\r\n"
                                 "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
    struct rt_ws_answer a;
    char buf[2048];
    size_t skip = strlen(interim), n, early = 0;

    n = (size_t)snprintf(buf, sizeof buf, "%s%s", interim, ok101);
    RT_CHECK(rt_ws_parse_answer(buf, n, key, &a) == 1);
    RT_CHECK(a.status == 101 && a.problem[0] == '\0' && a.header_len == n);
    RT_CHECK(a.head_start == skip);
    RT_CHECK_STR(a.reason, "Switching Protocols");
    for (size_t i = 0; i < n; i++)
        early += rt_ws_parse_answer(buf, i, key, &a) != 0;      /* incomplete */
    RT_CHECK(early == 0);

    /* the final answer may refuse: its own status, headers and body */
    n = (size_t)snprintf(buf, sizeof buf, "%sHTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n"
                         "\r\nnope", interim);
    RT_CHECK(rt_ws_parse_answer(buf, n, key, &a) == 1);
    RT_CHECK(a.status == 403 && a.content_length == 4 && a.head_start == skip);
    RT_CHECK(strcmp(buf + a.header_len, "nope") == 0);

    /* eight are skipped, a ninth is too many */
    n = 0;
    for (int i = 0; i < RT_WS_INTERIM_MAX; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "HTTP/1.1 102 Processing\r\n\r\n");
    snprintf(buf + n, sizeof buf - n, "%s", ok101);
    RT_CHECK(rt_ws_parse_answer(buf, strlen(buf), key, &a) == 1 && a.status == 101);
    snprintf(buf + n, sizeof buf - n, "HTTP/1.1 100 Continue\r\n\r\n%s", ok101);
    RT_CHECK(rt_ws_parse_answer(buf, strlen(buf), key, &a) == -1);
    RT_CHECK_STR(a.problem, "more than 8 interim (1xx) answers");

    /* the interim answers count toward the header bound */
    char *big = malloc(RT_WS_RESPONSE_MAX + 200);
    n = (size_t)snprintf(big, 200, "HTTP/1.1 103 Early Hints\r\nLink: ");
    memset(big + n, 'x', RT_WS_RESPONSE_MAX - 100 - n);
    n = RT_WS_RESPONSE_MAX - 100;
    n += (size_t)snprintf(big + n, 200, "\r\n\r\nHTTP/1.1 403 Forbidden\r\nX: y\r\n");
    memset(big + n, 'x', RT_WS_RESPONSE_MAX + 200 - n);
    RT_CHECK(rt_ws_parse_answer(big, RT_WS_RESPONSE_MAX + 200, key, &a) == -1);
    RT_CHECK(strstr(a.problem, "answer headers longer than") != NULL);
    free(big);
}

/* ---- frames we send ---- */

static void test_head_and_mask(void)
{
    unsigned char h[RT_WS_HEAD_MAX], key[4] = { 1, 2, 3, 4 };
    unsigned char src[300], dst[300], back[300];

    RT_CHECK(rt_ws_head(h, RT_WS_TEXT, 5, key) == 6);
    RT_CHECK(h[0] == 0x81 && h[1] == (0x80 | 5) && memcmp(h + 2, key, 4) == 0);
    RT_CHECK(rt_ws_head(h, RT_WS_TEXT, 126, key) == 8 && h[1] == (0x80 | 126) && h[2] == 0 && h[3] == 126);
    RT_CHECK(rt_ws_head(h, RT_WS_CLOSE, 70000, key) == 14 && h[0] == 0x88 && h[1] == 0xff);
    RT_CHECK(h[7] == 0x01 && h[8] == 0x11 && h[9] == 0x70);

    for (int i = 0; i < 300; i++)
        src[i] = (unsigned char)(i * 7);
    /* in one piece, and in pieces at odd offsets: same as the byte-wise definition */
    rt_ws_mask(dst, src, 300, key, 0);
    for (int i = 0; i < 300; i++)
        RT_CHECK(dst[i] == (src[i] ^ key[i & 3]));
    rt_ws_mask(back, src, 13, key, 0);
    rt_ws_mask(back + 13, src + 13, 287, key, 13);
    RT_CHECK(memcmp(back, dst, 300) == 0);
    rt_ws_mask(back, dst, 300, key, 0);   /* in place, inverse */
    RT_CHECK(memcmp(back, src, 300) == 0);
    RT_CHECK(rt_ws_mask_key(key) == 0);
}

/* Reads one masked client frame from b: its fin bit, opcode and unmasked payload (into
 * out, at *out_len); returns the frame's length. */
static size_t client_frame(const unsigned char *b, bool *fin, int *opcode, unsigned char *out,
                           size_t *out_len)
{
    size_t len = b[1] & 0x7f, h = 2;

    RT_CHECK(b[1] & 0x80);
    if (len == 126) {
        len = (size_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        h = 10;
    }
    *fin = b[0] & 0x80;
    *opcode = b[0] & 0x0f;
    for (size_t i = 0; i < len; i++)
        out[*out_len + i] = b[h + 4 + i] ^ b[h + (i & 3)];
    *out_len += len;
    return h + 4 + len;
}

/* A long message goes in fragments, each call ending at a frame boundary (where a ping or
 * pong may go), and comes out whole; a short one is one frame, and waits for an empty
 * buffer rather than start as a fragment. */
static void test_frame_next(void)
{
    enum { LEN = 200000, ROOM = 65536, WHOLE = ROOM - 2 * RT_WS_CONTROL_MAX };
    unsigned char *msg = malloc(LEN), *got = malloc(LEN), *buf = malloc(ROOM);
    size_t off = 0, n, got_len = 0, k;
    int opcode, frames = 0;
    bool fin = false;

    for (size_t i = 0; i < LEN; i++)
        msg[i] = (unsigned char)(i * 31 + 7);
    /* each call has the room of a buffer that began with a 131-byte pong */
    while (off < LEN) {
        RT_CHECK(rt_ws_frame_next(buf, ROOM - RT_WS_CONTROL_MAX, WHOLE, RT_WS_TEXT, msg, LEN,
                                  &off, &n) == 0);
        RT_CHECK(n > 0 && n <= ROOM - RT_WS_CONTROL_MAX);
        k = client_frame(buf, &fin, &opcode, got, &got_len);
        RT_CHECK(k == n);                          /* exactly one whole frame */
        RT_CHECK(opcode == (frames ? RT_WS_CONT : RT_WS_TEXT));
        RT_CHECK(fin == (off == LEN));
        frames++;
    }
    RT_CHECK(frames == 4 && got_len == LEN && memcmp(got, msg, LEN) == 0);

    /* fits: one frame with fin, as rt_ws_head writes it */
    off = got_len = 0;
    RT_CHECK(rt_ws_frame_next(buf, 1000, WHOLE, RT_WS_TEXT, msg, 640, &off, &n) == 0);
    RT_CHECK(off == 640 && n == 644 + 4 && buf[0] == 0x81 && buf[1] == (0x80 | 126));
    RT_CHECK(client_frame(buf, &fin, &opcode, got, &got_len) == n && fin);
    RT_CHECK(memcmp(got, msg, 640) == 0);
    /* does not fit the room left, fits an empty buffer: nothing now */
    off = 0;
    RT_CHECK(rt_ws_frame_next(buf, 600, WHOLE, RT_WS_TEXT, msg, 640, &off, &n) == 0);
    RT_CHECK(off == 0 && n == 0);
    RT_CHECK(rt_ws_frame_next(buf, 5000, WHOLE, RT_WS_TEXT, msg, WHOLE - RT_WS_HEAD_MAX, &off,
                              &n) == 0);
    RT_CHECK(off == 0 && n == 0);
    /* the boundary: the longest message whose frame (8-byte header) fits WHOLE waits when
     * something is before it, and fills WHOLE exactly as one frame when it is first; one
     * byte more may start as a fragment (before, 65,261 to 65,522 bytes went in two) */
    RT_CHECK(rt_ws_frame_next(buf, 5000, WHOLE, RT_WS_TEXT, msg, WHOLE - 8, &off, &n) == 0);
    RT_CHECK(off == 0 && n == 0);
    RT_CHECK(rt_ws_frame_next(buf, WHOLE, WHOLE, RT_WS_TEXT, msg, WHOLE - 8, &off, &n) == 0);
    RT_CHECK(off == WHOLE - 8 && n == WHOLE && buf[0] == 0x81);
    off = 0;
    RT_CHECK(rt_ws_frame_next(buf, 5000, WHOLE, RT_WS_TEXT, msg, WHOLE - 7, &off, &n) == 0);
    RT_CHECK(off == 5000 - RT_WS_HEAD_MAX && buf[0] == RT_WS_TEXT);
    off = 0;
    /* a long one starts as a fragment where there is room enough, not in a sliver */
    RT_CHECK(rt_ws_frame_next(buf, RT_WS_PIECE_MIN, WHOLE, RT_WS_TEXT, msg, LEN, &off, &n) == 0);
    RT_CHECK(off == 0 && n == 0);
    RT_CHECK(rt_ws_frame_next(buf, 5000, WHOLE, RT_WS_TEXT, msg, LEN, &off, &n) == 0);
    RT_CHECK(n == 8 + 5000 - RT_WS_HEAD_MAX && off == 5000 - RT_WS_HEAD_MAX && buf[0] == RT_WS_TEXT);
    /* the empty message */
    off = 0;
    RT_CHECK(rt_ws_frame_next(buf, 100, WHOLE, RT_WS_TEXT, msg, 0, &off, &n) == 0);
    RT_CHECK(n == 6 && buf[0] == 0x81 && buf[1] == 0x80);
    free(msg);
    free(got);
    free(buf);
}

/* Every length 0..70 (the 32- and 16-byte steps, the 8-byte one and the last bytes in
 * each combination) from every offset into the key (and past it: offsets count from the
 * message's start), in buffers of their exact size (ASan sees a step past them), and in
 * place: the byte-wise definition of RFC 6455. */
static void test_mask_every_length(void)
{
    unsigned char key[4] = { 0x9c, 0x01, 0xe7, 0x5a };
    size_t len, off, i;
    int bad = 0;

    for (len = 0; len <= 70; len++) {
        for (off = 0; off < 8; off++) {
            size_t size = len ? len : 1;
            unsigned char *src = malloc(size), *dst = malloc(size), *want = malloc(size);
            if (!src || !dst || !want) {
                bad++;
            } else {
                for (i = 0; i < len; i++) {
                    src[i] = (unsigned char)(i * 131 + len * 7 + off);
                    want[i] = src[i] ^ key[(off + i) % 4];
                }
                rt_ws_mask(dst, src, len, key, off);
                bad += memcmp(dst, want, len) != 0;
                rt_ws_mask(src, src, len, key, off);
                bad += memcmp(src, want, len) != 0;
            }
            free(src);
            free(dst);
            free(want);
        }
    }
    RT_CHECK(bad == 0);
}

/* ---- frames we receive ---- */

struct got {
    int messages, pings, pongs, closes, stop_after;
    char last[256];
    unsigned char ping[125];     /* the last ping's payload */
    size_t ping_len;
    size_t last_len;
    bool binary;
    struct rt_ws_rx *p;
};

static int on_event(void *ctx, enum rt_ws_event ev, const unsigned char *pl, size_t len)
{
    struct got *g = ctx;
    size_t n;
    bool bin;
    char *b;

    switch (ev) {
    case RT_WS_EV_MESSAGE:
        RT_CHECK(pl == g->p->block + 8);        /* valid until the take, which may move it */
        b = rt_ws_rx_take(g->p, &n, &bin);
        g->messages++;
        g->last_len = n;
        g->binary = bin;
        memcpy(g->last, b + 8, n < 255 ? n + 1 : 255);
        RT_CHECK(b[8 + n] == '\0' && n == len);
        rt_free(b);
        break;
    case RT_WS_EV_PING:
        g->pings++;
        g->ping_len = len;
        memcpy(g->ping, pl, len);
        break;
    case RT_WS_EV_PONG: g->pongs++; break;
    case RT_WS_EV_CLOSE: g->closes++; break;
    }
    return g->stop_after && g->messages >= g->stop_after ? RT_WS_STOP : RT_WS_GO_ON;
}

static long feed(struct rt_ws_rx *p, struct got *g, const void *b, size_t n, struct rt_error *e)
{
    g->p = p;
    return rt_ws_rx_feed(p, b, n, on_event, g, e);
}

static void test_rx_frames(void)
{
    /* text "hi", fragmented text "ab"+"cd" with a ping between, binary, pong, close 1000 "bye" */
    static const unsigned char s[] = {
        0x81, 2, 'h', 'i',
        0x01, 2, 'a', 'b', 0x89, 1, 'p', 0x80, 2, 'c', 'd',
        0x82, 3, 0, 1, 2,
        0x8a, 0,
        0x88, 5, 0x03, 0xe8, 'b', 'y', 'e',
        0x81, 1, 'x'   /* after the close: ignored */
    };
    struct rt_ws_rx p;
    struct rt_error e = { 0 };
    struct got g = { 0 };

    /* whole, then one byte at a time */
    for (int mode = 0; mode < 2; mode++) {
        memset(&g, 0, sizeof g);
        rt_ws_rx_init(&p, 8, 1000);
        if (mode == 0) {
            RT_CHECK(feed(&p, &g, s, sizeof s, &e) == (long)sizeof s);
        } else {
            for (size_t i = 0; i < sizeof s; i++)
                RT_CHECK(feed(&p, &g, s + i, 1, &e) == 1);
        }
        RT_CHECK(g.messages == 3 && g.pings == 1 && g.pongs == 1 && g.closes == 1);
        RT_CHECK(g.binary && g.last_len == 3);
        RT_CHECK(p.close_code == 1000);
        RT_CHECK_STR(p.close_reason, "bye");
        rt_ws_rx_free(&p);
    }
    /* the fragmented one */
    memset(&g, 0, sizeof g);
    rt_ws_rx_init(&p, 8, 1000);
    RT_CHECK(feed(&p, &g, s + 4, 11, &e) == 11);
    RT_CHECK(g.messages == 1 && g.pings == 1 && g.last_len == 4);
    RT_CHECK_STR(g.last, "abcd");
    rt_ws_rx_free(&p);

    /* a stop after the first message leaves the rest for the next feed */
    memset(&g, 0, sizeof g);
    g.stop_after = 1;
    rt_ws_rx_init(&p, 8, 1000);
    RT_CHECK(feed(&p, &g, s, sizeof s, &e) == 4);
    g.stop_after = 0;
    RT_CHECK(feed(&p, &g, s + 4, sizeof s - 4, &e) == (long)sizeof s - 4);
    RT_CHECK(g.messages == 3);
    rt_ws_rx_free(&p);
}

static void test_rx_lengths(void)
{
    struct rt_ws_rx p;
    struct rt_error e = { 0 };
    struct got g = { 0 };
    unsigned char *f = malloc(70000 + 10);

    /* 16-bit and 64-bit lengths */
    f[0] = 0x82; f[1] = 126; f[2] = 0x01; f[3] = 0x00;
    memset(f + 4, 'z', 256);
    rt_ws_rx_init(&p, 8, 100000);
    RT_CHECK(feed(&p, &g, f, 260, &e) == 260 && g.messages == 1 && g.last_len == 256);
    f[0] = 0x82; f[1] = 127;
    memset(f + 2, 0, 8);
    f[7] = 0x01; f[8] = 0x11; f[9] = 0x70;   /* 70000 */
    memset(f + 10, 'y', 70000);
    RT_CHECK(feed(&p, &g, f, 70010, &e) == 70010 && g.messages == 2 && g.last_len == 70000);
    rt_ws_rx_free(&p);
    free(f);
}

static void expect_fail(const unsigned char *b, size_t n, int code, const char *msg)
{
    struct rt_ws_rx p;
    struct rt_error e = { 0 };
    struct got g = { 0 };

    rt_ws_rx_init(&p, 8, 16);
    RT_CHECK(feed(&p, &g, b, n, &e) == -1);
    RT_CHECK(p.fail_code == code);
    RT_CHECK_STR(e.msg, msg);
    RT_CHECK(e.code == RT_EPROTOCOL);
    rt_ws_rx_free(&p);
}

static void test_rx_hostile(void)
{
    static const unsigned char masked[] = { 0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2 };
    static const unsigned char bad_utf8[] = { 0x81, 2, 0xc3, 0x28 };
    static const unsigned char big[] = { 0x81, 17 };
    static const unsigned char big_frag[] = { 0x01, 10, 0,0,0,0,0,0,0,0,0,0, 0x80, 7 };
    static const unsigned char rsv[] = { 0xc1, 0 };
    static const unsigned char opcode[] = { 0x83, 0 };
    static const unsigned char long_ping[] = { 0x89, 126, 0, 200 };
    static const unsigned char frag_ping[] = { 0x09, 0 };
    static const unsigned char lone_cont[] = { 0x80, 1, 'x' };
    static const unsigned char new_mid[] = { 0x01, 1, 'a', 0x81, 1, 'b' };
    static const unsigned char close1[] = { 0x88, 1, 3 };

    expect_fail(masked, sizeof masked, 1002, "masked frame from the server (RFC 6455 5.1)");
    expect_fail(bad_utf8, sizeof bad_utf8, 1007, "text message that is not UTF-8");
    expect_fail(big, sizeof big, 1009, "server message larger than the limit");
    expect_fail(big_frag, sizeof big_frag, 1009, "server message larger than the limit");
    expect_fail(rsv, sizeof rsv, 1002, "frame with reserved bits set (no extension was agreed)");
    expect_fail(opcode, sizeof opcode, 1002, "frame with an unknown opcode");
    expect_fail(long_ping, sizeof long_ping, 1002, "control frame fragmented or longer than 125 bytes");
    expect_fail(frag_ping, sizeof frag_ping, 1002, "control frame fragmented or longer than 125 bytes");
    expect_fail(lone_cont, sizeof lone_cont, 1002, "continuation frame without a message");
    expect_fail(new_mid, sizeof new_mid, 1002, "new message before the last one's final fragment");
    expect_fail(close1, sizeof close1, 1002, "close frame with a one-byte payload");
}

/* RFC 6455 7.4.1: 1005, 1006 and 1015 never go in a close frame; codes below 1000, 1004,
 * 1016-2999 and 5000 up are reserved or unassigned. Such a close fails the connection. */
static void test_rx_close_codes(void)
{
    static const int bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                               5000, 65535 };
    static const int good[] = { 1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 4999 };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char f[] = { 0x88, 4, (unsigned char)(bad[i] >> 8), (unsigned char)bad[i],
                              'o', 'k' };
        char msg[64];
        snprintf(msg, sizeof msg, "close frame with an invalid code (%d)", bad[i]);
        expect_fail(f, sizeof f, 1002, msg);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        unsigned char f[] = { 0x88, 4, (unsigned char)(good[i] >> 8), (unsigned char)good[i],
                              'o', 'k' };
        struct rt_ws_rx p;
        struct rt_error e = { 0 };
        struct got g = { 0 };
        rt_ws_rx_init(&p, 0, 16);
        RT_CHECK(feed(&p, &g, f, sizeof f, &e) == (long)sizeof f);
        RT_CHECK(g.closes == 1 && p.close_code == good[i] && p.closed);
        RT_CHECK_STR(p.close_reason, "ok");
        rt_ws_rx_free(&p);
    }
}

/* A close reason that is not UTF-8 is kept as sent (NUL-terminated). */
static void test_rx_close_reason(void)
{
    static const unsigned char c[] = { 0x88, 6, 0x0f, 0xa0, 'o', 'k', 0xff, 'x' };
    struct rt_ws_rx p;
    struct rt_error e = { 0 };
    struct got g = { 0 };

    rt_ws_rx_init(&p, 0, 16);
    RT_CHECK(feed(&p, &g, c, sizeof c, &e) == (long)sizeof c);
    RT_CHECK(p.close_code == 4000);
    RT_CHECK_STR(p.close_reason, "ok\xffx");
    rt_ws_rx_free(&p);
}

/* Allocation failures while assembling are reported, not crashed on, and leak nothing. */
static void test_rx_nomem(void)
{
    static const unsigned char s[] = { 0x01, 2, 'a', 'b', 0x80, 2, 'c', 'd' };
    struct rt_ws_rx p;
    struct got g = { 0 };

    for (long k = 0; k < 3; k++) {
        struct rt_error e = { 0 };
        rt_ws_rx_init(&p, 8, 1000);
        rt_alloc_fail_after(k);
        long r = feed(&p, &g, s, sizeof s, &e);
        rt_alloc_fail_after(-1);
        RT_CHECK(r == (long)sizeof s || (r == -1 && e.code == RT_ENOMEM && p.fail_code == 1011));
        rt_ws_rx_free(&p);
    }
}

/* A control frame's payload is allocated for the frame: its failure closes with 1011, and
 * a ping split over several reads is whole when it is handed over. */
static void test_rx_control_nomem(void)
{
    static const unsigned char ping[] = { 0x89, 3, 'a', 'b', 'c', 0x88, 4, 0x0f, 0xa1, 'o', 'k' };
    struct rt_ws_rx p;
    struct got g = { 0 };
    struct rt_error e = { 0 };

    rt_ws_rx_init(&p, 8, 1000);
    rt_alloc_fail_after(0);
    RT_CHECK(feed(&p, &g, ping, sizeof ping, &e) == -1);
    rt_alloc_fail_after(-1);
    RT_CHECK(e.code == RT_ENOMEM && p.fail_code == 1011 && g.pings == 0);
    RT_CHECK_STR(e.msg, "out of memory receiving a control frame");
    rt_ws_rx_free(&p);

    memset(&g, 0, sizeof g);
    rt_ws_rx_init(&p, 8, 1000);
    RT_CHECK_STR(p.close_reason, "");
    for (size_t i = 0; i < sizeof ping; i++)
        RT_CHECK(feed(&p, &g, ping + i, 1, &e) == 1);
    RT_CHECK(g.pings == 1 && g.closes == 1);
    RT_CHECK(g.ping_len == 3 && memcmp(g.ping, "abc", 3) == 0);
    RT_CHECK(p.close_code == 4001);
    RT_CHECK_STR(p.close_reason, "ok");
    rt_ws_rx_free(&p);
    RT_CHECK_STR(p.close_reason, "");
}

int main(void)
{
    RT_RUN(test_request);
    RT_RUN(test_request_secret_not_left);
    RT_RUN(test_answer);
    RT_RUN(test_answer_interim);
    RT_RUN(test_head_and_mask);
    RT_RUN(test_mask_every_length);
    RT_RUN(test_frame_next);
    RT_RUN(test_rx_frames);
    RT_RUN(test_rx_lengths);
    RT_RUN(test_rx_hostile);
    RT_RUN(test_rx_close_reason);
    RT_RUN(test_rx_close_codes);
    RT_RUN(test_rx_nomem);
    RT_RUN(test_rx_control_nomem);
    return rt_test_done();
}
