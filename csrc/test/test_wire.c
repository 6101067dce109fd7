/* The wire facts of the realtime input path: audio messages, control messages, and the
 * recognition of setupComplete and of model audio. */
#include <stdlib.h>

#include "rt_alloc.h"
#include "rt_base64.h"
#include "rt_test.h"
#include "rt_wire.h"

static void test_audio_exact(void)
{
    struct rt_msg *chain;
    struct rt_error err = { 0 };
    size_t bytes;

    RT_CHECK(rt_wire_audio("\x01\x02\x03\x04", 4, "audio/pcm;rate=16000", &chain, &bytes,
                            &err) == 0);
    RT_CHECK(chain && !chain->link.next);
    if (chain) {
        RT_CHECK_STR((char *)chain->data,
                     "{\"realtimeInput\":{\"audio\":{\"data\":\"AQIDBA==\","
                     "\"mimeType\":\"audio/pcm;rate=16000\"}}}");
        RT_CHECK(bytes == chain->len && chain->len == strlen((char *)chain->data));
    }
    rt_msg_free_chain(chain);
    RT_CHECK(rt_wire_audio("", 0, "audio/pcm", &chain, &bytes, &err) == 0);
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
    RT_CHECK(rt_wire_audio(pcm, len, "audio/pcm;rate=24000", &chain, &bytes, &err) == 0);
    for (m = chain, i = 0; m; m = rt_msg_next(m), i++) {
        char *t = (char *)m->data;
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

    RT_CHECK(rt_wire_audio("ab", 2, "audio/\"pcm", &chain, &bytes, &err) == -1);
    RT_CHECK(err.code == RT_EINVAL && chain == NULL);
    rt_error_clear(&err);
    RT_CHECK(rt_wire_audio("abc", 3, "audio/pcm", &chain, &bytes, &err) == -1);
    RT_CHECK(err.code == RT_EINVAL);
    RT_CHECK(rt_wire_mime_ok("audio/pcm;rate=16000") && !rt_wire_mime_ok("a\\b") &&
             !rt_wire_mime_ok("a\nb"));
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
        if (rt_wire_audio(pcm, sizeof pcm, "audio/pcm", &chain, &bytes, &err) == -1) {
            failures++;
            RT_CHECK(err.code == RT_ENOMEM && chain == NULL);
        } else {
            rt_msg_free_chain(chain);
        }
        rt_alloc_fail_after(-1);
    }
    RT_CHECK(failures == 4); /* four messages: the first four budgets fail */
}

static void test_controls(void)
{
    size_t n;
    struct rt_msg *m;

    RT_CHECK_STR(rt_wire_control_text(RT_WIRE_ACTIVITY_START, &n),
                 "{\"realtimeInput\":{\"activityStart\":{}}}");
    RT_CHECK(n == strlen("{\"realtimeInput\":{\"activityStart\":{}}}"));
    RT_CHECK_STR(rt_wire_control_text(RT_WIRE_ACTIVITY_END, &n),
                 "{\"realtimeInput\":{\"activityEnd\":{}}}");
    RT_CHECK_STR(rt_wire_control_text(RT_WIRE_AUDIO_STREAM_END, &n),
                 "{\"realtimeInput\":{\"audioStreamEnd\":true}}");
    rt_wire_control_text(RT_WIRE_ACTIVITY_END, &n);
    m = rt_wire_control_msg(RT_WIRE_ACTIVITY_END);
    RT_CHECK(m && m->len == n && strcmp((char *)m->data, "{\"realtimeInput\":{\"activityEnd\":{}}}") == 0);
    rt_msg_free(m);
}

/* An activity message is known by its JSON, however a caller spaced or spelled it; a
 * mention elsewhere (a text that says "activityStart") is not one. Every message that
 * names realtimeInput is realtime input (RT). */
static void test_activity_flags(void)
{
    enum { RT = RT_MSG_REALTIME };
    static const struct { const char *text; unsigned flags; } cases[] = {
        { "{\"realtimeInput\":{\"activityStart\":{}}}", RT_MSG_ACT_START | RT },
        { "{\"realtimeInput\": {\"activityEnd\": {}}}", RT_MSG_ACT_END | RT },
        { " { \"realtimeInput\" : { \"activityStart\" : { } } }\n", RT_MSG_ACT_START | RT },
        { "{\"realtime_input\":{\"activity_end\":{}}}", RT_MSG_ACT_END | RT },
        { "{\"realtimeInput\":{\"activity_start\":{}}}", RT_MSG_ACT_START | RT },
        { "{\"realtimeInput\":{\"text\":\"activityStart\"}}", RT },
        { "{\"clientContent\":{\"activityStart\":{}}}", 0 },
        { "{\"realtimeInput\":{\"activityStart\":true}}", RT },
        { "{\"realtimeInput\":{\"activityStart\":{},\"activityEnd\":{}}}", RT },
        { "{\"realtimeInput\":{\"activityStart\":{}}", RT },      /* not JSON */
        { "[{\"realtimeInput\":{\"activityStart\":{}}}]", RT },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned got = rt_wire_flags(cases[i].text, strlen(cases[i].text));
        if (got != cases[i].flags)
            printf("# case %zu: got %u\n", i, got);
        RT_CHECK(got == cases[i].flags);
    }
}

/* setupComplete is a top-level key, not a word found anywhere. */
/* A tool response is known by its first key, in its first bytes: a later key or a mention
 * inside a string is not one (nor read through, so long audio costs nothing more). */
static void test_tool_response_flag(void)
{
    static const struct { const char *text; unsigned flags; } cases[] = {
        { "{\"toolResponse\":{\"functionResponses\":[]}}", RT_MSG_TOOL_RESPONSE },
        { " \n{ \t\"toolResponse\" : {}}", RT_MSG_TOOL_RESPONSE },
        { "{\"clientContent\":{},\"toolResponse\":{}}", 0 },
        { "{\"realtimeInput\":{\"text\":\"toolResponse\"}}", RT_MSG_REALTIME },
        { "{\"tool_response\":{\"function_responses\":[]}}", RT_MSG_TOOL_RESPONSE },
        { "{\"toolResponses\":{}}", 0 },
        { "{\"toolRespon", 0 },
        { "[\"toolResponse\"]", 0 },
        { "", 0 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        RT_CHECK(rt_wire_flags(cases[i].text, strlen(cases[i].text)) == cases[i].flags);
}

/* Realtime input, which a tool call holds: by its first key, or named anywhere (held
 * when in doubt); appended audio always. Other messages are not. */
static void test_realtime_flag(void)
{
    static const struct { const char *text; unsigned flags; } cases[] = {
        { "{\"realtimeInput\":{\"text\":\"hi\"}}", RT_MSG_REALTIME },
        { "{\"realtimeInput\":{\"audioStreamEnd\":true}}", RT_MSG_REALTIME },
        { " {\"realtime_input\":{\"video\":{}}}", RT_MSG_REALTIME },
        { "{\"x\":1,\"realtimeInput\":{}}", RT_MSG_REALTIME },
        { "{\"clientContent\":{\"turns\":[],\"turnComplete\":true}}", 0 },
        { "{\"toolResponse\":{\"functionResponses\":[{\"response\":{\"realtimeInput\":1}}]}}",
          RT_MSG_TOOL_RESPONSE },
    };
    struct rt_msg *chain = NULL;
    struct rt_error err;
    size_t bytes;
    static const unsigned char pcm[8];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        RT_CHECK(rt_wire_flags(cases[i].text, strlen(cases[i].text)) == cases[i].flags);
    RT_CHECK(rt_wire_audio(pcm, sizeof pcm, "audio/pcm", &chain, &bytes, &err) == 0);
    RT_CHECK(chain && chain->flags == RT_MSG_REALTIME);
    rt_msg_free_chain(chain);
}

static void test_setup_complete(void)
{
    static const char ok[] = "{\"setupComplete\":{}}";
    static const char ok2[] = "{ \"setupComplete\" : { \"sessionId\": \"x\" } }";
    static const char fake[] =
        "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"\\\"setupComplete\\\"\"}]}}}";
    static const char nested[] = "{\"serverContent\":{\"setupComplete\":{}}}";

    RT_CHECK(rt_wire_is_setup_complete(ok, sizeof ok - 1));
    RT_CHECK(rt_wire_is_setup_complete(ok2, sizeof ok2 - 1));
    RT_CHECK(!rt_wire_is_setup_complete(fake, sizeof fake - 1));
    RT_CHECK(!rt_wire_is_setup_complete(nested, sizeof nested - 1));
    RT_CHECK(!rt_wire_is_setup_complete("setupComplete", 13));
}

int main(void)
{
    RT_RUN(test_audio_exact);
    RT_RUN(test_audio_split);
    RT_RUN(test_audio_rejects);
    RT_RUN(test_audio_nomem);
    RT_RUN(test_controls);
    RT_RUN(test_activity_flags);
    RT_RUN(test_tool_response_flag);
    RT_RUN(test_realtime_flag);
    RT_RUN(test_setup_complete);
    return rt_test_done();
}
