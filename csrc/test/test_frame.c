/* Framing: fragment reassembly under a limit, and the exact audio message text. */
#include <stdlib.h>

#include "rt_alloc.h"
#include "rt_base64.h"
#include "rt_frame.h"
#include "rt_test.h"

#define HEAD 24

static void test_single_and_fragments(void)
{
    struct rt_reasm r;
    struct rt_error err = { 0 };
    unsigned char *b;
    size_t n;

    rt_reasm_init(&r, HEAD, 100);
    RT_CHECK(rt_reasm_feed(&r, "{\"a\":1}", 7, true, true, true, &err) == 1);
    b = rt_reasm_take(&r, &n);
    RT_CHECK(b && n == 7 && strcmp((char *)b + HEAD, "{\"a\":1}") == 0);
    rt_free(b);
    /* three fragments and an empty final one, as servers that stream do */
    RT_CHECK(rt_reasm_feed(&r, "hello", 5, true, false, false, &err) == 0);
    RT_CHECK(rt_reasm_take(&r, &n) == NULL);
    RT_CHECK(rt_reasm_feed(&r, " ", 1, false, false, false, &err) == 0);
    RT_CHECK(rt_reasm_feed(&r, "world", 5, false, false, false, &err) == 0);
    RT_CHECK(rt_reasm_feed(&r, "", 0, false, true, false, &err) == 1);
    b = rt_reasm_take(&r, &n);
    RT_CHECK(b && n == 11 && strcmp((char *)b + HEAD, "hello world") == 0);
    rt_free(b);
    /* an empty message is still a message */
    RT_CHECK(rt_reasm_feed(&r, "", 0, true, true, false, &err) == 1);
    b = rt_reasm_take(&r, &n);
    RT_CHECK(b && n == 0 && b[HEAD] == '\0');
    rt_free(b);
    RT_CHECK(err.code == RT_OK);
    rt_reasm_free(&r);
}

static void test_limit(void)
{
    struct rt_reasm r;
    struct rt_error err = { 0 };
    char big[100];
    unsigned char *b;
    size_t n;

    memset(big, 'x', sizeof big);
    rt_reasm_init(&r, HEAD, 100);
    RT_CHECK(rt_reasm_feed(&r, big, 60, true, false, false, &err) == 0);
    RT_CHECK(rt_reasm_feed(&r, big, 40, false, false, false, &err) == 0); /* exactly 100 */
    RT_CHECK(rt_reasm_feed(&r, big, 1, false, true, false, &err) == -1);
    RT_CHECK(err.code == RT_EPROTOCOL);
    RT_CHECK_STR(err.msg, "server message larger than 100 bytes");
    /* the next message starts clean */
    rt_error_clear(&err);
    RT_CHECK(rt_reasm_feed(&r, big, 100, true, true, false, &err) == 1);
    b = rt_reasm_take(&r, &n);
    RT_CHECK(b && n == 100);
    rt_free(b);
    rt_reasm_free(&r);
}

static void test_continuation_without_start(void)
{
    struct rt_reasm r;
    struct rt_error err = { 0 };

    rt_reasm_init(&r, 0, 100);
    RT_CHECK(rt_reasm_feed(&r, "x", 1, false, true, false, &err) == -1);
    RT_CHECK(err.code == RT_EPROTOCOL);
    rt_reasm_free(&r);
}

static void test_reasm_nomem(void)
{
    struct rt_reasm r;
    struct rt_error err = { 0 };

    rt_reasm_init(&r, HEAD, 100);
    rt_alloc_fail_after(0);
    RT_CHECK(rt_reasm_feed(&r, "abc", 3, true, true, false, &err) == -1);
    rt_alloc_fail_after(-1);
    RT_CHECK(err.code == RT_ENOMEM);
    rt_reasm_free(&r);
}

static void test_audio_exact(void)
{
    struct rt_msg *chain;
    struct rt_error err = { 0 };
    size_t bytes;

    RT_CHECK(rt_frame_audio("\x01\x02\x03\x04", 4, "audio/pcm;rate=16000", 0, &chain, &bytes,
                            &err) == 0);
    RT_CHECK(chain && !chain->next);
    if (chain) {
        RT_CHECK_STR((char *)rt_msg_data(chain),
                     "{\"realtimeInput\":{\"audio\":{\"data\":\"AQIDBA==\","
                     "\"mimeType\":\"audio/pcm;rate=16000\"}}}");
        RT_CHECK(bytes == chain->len && chain->len == strlen((char *)rt_msg_data(chain)));
    }
    rt_msg_free_chain(chain);
    RT_CHECK(rt_frame_audio("", 0, "audio/pcm", 0, &chain, &bytes, &err) == 0);
    RT_CHECK(chain == NULL && bytes == 0);
}

/* 70,000 bytes split at 32,000: 32,000 + 32,000 + 6,000, in order. */
static void test_audio_split(void)
{
    size_t len = 70000, i, sizes[3] = { 32000, 32000, 6000 }, off = 0, total = 0, bytes;
    unsigned char *pcm = malloc(len), *back = malloc(32003);
    struct rt_msg *chain = NULL, *m;
    struct rt_error err = { 0 };
    static const char head[] = "{\"realtimeInput\":{\"audio\":{\"data\":\"";
    static const char tail[] = "\",\"mimeType\":\"audio/pcm;rate=24000\"}}}";

    RT_CHECK(pcm && back);
    if (!pcm || !back)
        goto out;
    for (i = 0; i < len; i++)
        pcm[i] = (unsigned char)(i * 7);
    RT_CHECK(rt_frame_audio(pcm, len, "audio/pcm;rate=24000", 0, &chain, &bytes, &err) == 0);
    for (m = chain, i = 0; m; m = m->next, i++) {
        char *t = (char *)rt_msg_data(m);
        size_t b64 = m->len - (sizeof head - 1) - (sizeof tail - 1), n = 0;
        RT_CHECK(i < 3);
        if (i >= 3)
            break;
        RT_CHECK(strncmp(t, head, sizeof head - 1) == 0);
        RT_CHECK(strcmp(t + m->len - (sizeof tail - 1), tail) == 0);
        RT_CHECK(b64 == rt_base64_encoded_len(sizes[i]));
        RT_CHECK(rt_base64_decode(t + sizeof head - 1, b64, back, &n) == 0 && n == sizes[i]);
        RT_CHECK(memcmp(back, pcm + off, n) == 0);
        off += n;
        total += m->len;
    }
    RT_CHECK(i == 3 && off == len && total == bytes);
out:
    rt_msg_free_chain(chain);
    free(pcm);
    free(back);
}

static void test_audio_rejects(void)
{
    struct rt_msg *chain;
    struct rt_error err = { 0 };
    size_t bytes;

    RT_CHECK(rt_frame_audio("ab", 2, "audio/\"pcm", 0, &chain, &bytes, &err) == -1);
    RT_CHECK(err.code == RT_EINVAL && chain == NULL);
    rt_error_clear(&err);
    RT_CHECK(rt_frame_audio("ab", 2, "audio/pcm", 3, &chain, &bytes, &err) == -1);
    RT_CHECK(err.code == RT_EINVAL);
    RT_CHECK(rt_frame_mime_ok("audio/pcm;rate=16000") && !rt_frame_mime_ok("a\\b") &&
             !rt_frame_mime_ok("a\nb"));
}

/* Every allocation of a multi-message build can fail without leaking. */
static void test_audio_nomem(void)
{
    static unsigned char pcm[100000];
    struct rt_msg *chain;
    struct rt_error err;
    size_t bytes;
    long n;
    int failures = 0;

    for (n = 0; n < 6; n++) {
        rt_error_clear(&err);
        rt_alloc_fail_after(n);
        if (rt_frame_audio(pcm, sizeof pcm, "audio/pcm", 0, &chain, &bytes, &err) == -1) {
            failures++;
            RT_CHECK(err.code == RT_ENOMEM && chain == NULL);
        } else {
            rt_msg_free_chain(chain);
        }
        rt_alloc_fail_after(-1);
    }
    RT_CHECK(failures == 4); /* four messages: the first four budgets fail */
}

int main(void)
{
    RT_RUN(test_single_and_fragments);
    RT_RUN(test_limit);
    RT_RUN(test_continuation_without_start);
    RT_RUN(test_reasm_nomem);
    RT_RUN(test_audio_exact);
    RT_RUN(test_audio_split);
    RT_RUN(test_audio_rejects);
    RT_RUN(test_audio_nomem);
    return rt_test_done();
}
