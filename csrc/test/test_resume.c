/* rt_resume: the server-message scanner, the setup rewrite, handle checks, retry rules.
 * Inputs include the fuzz regressions of csrc/fuzz/ (hostile server text). */
#include <stdlib.h>
#include <string.h>

#include "rt_resume.h"
#include "rt_test.h"

static int scan(const char *s, struct rt_scan *o)
{
    return rt_scan_server(s, strlen(s), o);
}

static void test_scan_update(void)
{
    struct rt_scan o;

    /* the simulator's pretty-printed form */
    RT_CHECK(scan("{\n  \"sessionResumptionUpdate\": {\n    \"newHandle\": \"abc_-1\",\n"
                  "    \"resumable\": true,\n    \"lastConsumedClientMessageIndex\": \"12\"\n  }\n}\n",
                  &o) == 0);
    RT_CHECK(o.update && o.resumable && o.has_index && o.last_index == 12);
    RT_CHECK(o.handle && o.handle_len == 6 && memcmp(o.handle, "abc_-1", 6) == 0);
    RT_CHECK(!o.go_away && !o.turn_complete && !o.setup_complete);

    RT_CHECK(scan("{\"sessionResumptionUpdate\":{\"newHandle\":\"\",\"resumable\":false}}", &o) == 0);
    RT_CHECK(o.update && !o.resumable && o.handle_len == 0 && !o.has_index);

    /* int64 as a number; an index that is not a number is not one */
    RT_CHECK(scan("{\"sessionResumptionUpdate\":{\"lastConsumedClientMessageIndex\":7}}", &o) == 0);
    RT_CHECK(o.has_index && o.last_index == 7);
    RT_CHECK(scan("{\"sessionResumptionUpdate\":{\"lastConsumedClientMessageIndex\":\"-1\"}}", &o) == 0);
    RT_CHECK(!o.has_index);
    RT_CHECK(scan("{\"sessionResumptionUpdate\":{\"lastConsumedClientMessageIndex\":"
                  "\"99999999999999999999\"}}", &o) == 0);
    RT_CHECK(!o.has_index);

    /* a repeated key: the last wins, as in the binding's decoded table */
    RT_CHECK(scan("{\"sessionResumptionUpdate\":{\"newHandle\":\"a\",\"newHandle\":5}}", &o) == 0);
    RT_CHECK(o.update && !o.handle);
    RT_CHECK(scan("{\"sessionResumptionUpdate\":{\"newHandle\":\"a\",\"resumable\":true},"
                  "\"sessionResumptionUpdate\":{\"lastConsumedClientMessageIndex\":3}}", &o) == 0);
    RT_CHECK(o.update && !o.handle && !o.resumable && o.has_index && o.last_index == 3);
}

static void test_scan_content(void)
{
    struct rt_scan o;

    RT_CHECK(scan("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"turnComplete\"}]}}}", &o) == 0);
    RT_CHECK(o.model_output && !o.turn_complete);
    RT_CHECK(scan("{\"serverContent\":{\"turnComplete\":true},\"usageMetadata\":{\"x\":1}}", &o) == 0);
    RT_CHECK(o.turn_complete && !o.model_output);
    RT_CHECK(scan("{\"serverContent\":{\"interrupted\":true,\"generationComplete\":false}}", &o) == 0);
    RT_CHECK(o.interrupted && !o.generation_complete);
    RT_CHECK(scan("{\"toolCall\":{\"functionCalls\":[]}}", &o) == 0);
    RT_CHECK(o.tool_call);
    /* a transcript is a turn under way (goAway waits for its handle), not model output */
    RT_CHECK(scan("{\"serverContent\":{\"inputTranscription\":{\"text\":\"hi\"}}}", &o) == 0);
    RT_CHECK(o.transcription && !o.model_output && !o.turn_complete);
    RT_CHECK(scan("{\"serverContent\":{\"outputTranscription\":{}}}", &o) == 0);
    RT_CHECK(o.transcription && !o.model_output);
    RT_CHECK(scan("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":"
                  "\"inputTranscription\"}]}}}", &o) == 0);
    RT_CHECK(!o.transcription);
    RT_CHECK(scan("{\"setupComplete\":{}}", &o) == 0);
    RT_CHECK(o.setup_complete);
    /* keys are compared decoded; a text part that names a key is not that key */
    RT_CHECK(scan("{\"set\\u0075pComplete\":{}}", &o) == 0);
    RT_CHECK(o.setup_complete);
    RT_CHECK(scan("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":"
                  "\"{\\\"setupComplete\\\":{}}\"}]}}}", &o) == 0);
    RT_CHECK(!o.setup_complete && o.model_output && !o.inline_data);
    /* keys deeper down or inside strings do not count */
    RT_CHECK(scan("{\"raw\":{\"serverContent\":{\"turnComplete\":true}},"
                  "\"x\":\"\\\"goAway\\\":{}\"}", &o) == 0);
    RT_CHECK(!o.turn_complete && !o.go_away);
}

static void test_scan_inline_data(void)
{
    struct rt_scan o;

    RT_CHECK(scan("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"hi\"},"
                  "{\"inlineData\":{\"mimeType\":\"audio/pcm;rate=24000\",\"data\":\"AAAA\"}}]},"
                  "\"turnComplete\":true}}", &o) == 0);
    RT_CHECK(o.model_output && o.inline_data && o.turn_complete);
    /* only an object under modelTurn.parts[*] counts */
    RT_CHECK(scan("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":null}]}}}", &o) == 0);
    RT_CHECK(o.model_output && !o.inline_data);
    RT_CHECK(scan("{\"serverContent\":{\"modelTurn\":{\"inlineData\":{}}}}", &o) == 0);
    RT_CHECK(!o.inline_data);
    RT_CHECK(scan("{\"serverContent\":{\"outputTranscription\":{\"parts\":[{\"inlineData\":{}}]}}}", &o) == 0);
    RT_CHECK(!o.inline_data && !o.model_output);
    RT_CHECK(scan("{\"toolCall\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{}}]}}}", &o) == 0);
    RT_CHECK(!o.inline_data && o.tool_call);
}

/* The user's speech edges, read by what the message is: anywhere among the top-level
 * keys, however spaced, in either spelling of voiceActivity's type (`type` first, as the
 * binding reads it), and never from text that merely names them. */
static void test_scan_speech(void)
{
    static const char *const ends[] = {
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_END\",\"audioOffset\":\"0.6s\"}}",
        "{\n  \"voiceActivity\": {\n    \"voiceActivityType\": \"ACTIVITY_END\"\n  }\n}\n",
        "{\"voiceActivityDetectionSignal\":{\"vadSignalType\":\"VAD_SIGNAL_TYPE_EOS\"}}",
        "{\"usageMetadata\":{\"promptTokenCount\":3},\"voiceActivity\":{\"voiceActivityType\":"
        "\"ACTIVITY_END\"}}",
        "{\"usageMetadata\":{\"totalTokenCount\":3},\"voiceActivityDetectionSignal\":"
        "{\"vadSignalType\":\"VAD_SIGNAL_TYPE_EOS\"}}",
        "{    \n\n\n      \"voiceActivity\"  :  {  \"type\"  :  \"ACTIVITY_END\"  }  }",
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_\\u0045ND\"}}",
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_START\"},\"voiceActivity\":{\"type\":\"ACTIVITY_END\"}}",
    };
    static const char *const starts[] = {
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_START\",\"audioOffset\":\"0.1s\"}}",
        "{\"usageMetadata\":{},\"voiceActivityDetectionSignal\":{\"vadSignalType\":"
        "\"VAD_SIGNAL_TYPE_SOS\"}}",
        /* `type` wins over voiceActivityType, as in the binding */
        "{\"voiceActivity\":{\"voiceActivityType\":\"ACTIVITY_END\",\"type\":\"ACTIVITY_START\"}}",
    };
    static const char *const none[] = {
        "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"{\\\"voiceActivity\\\":"
        "{\\\"type\\\":\\\"ACTIVITY_END\\\"}}\"}]}}}",
        "{\"serverContent\":{\"voiceActivity\":{\"type\":\"ACTIVITY_END\"}}}",
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_END_\"}}",
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_END\\u0000\"}}",
        "{\"voiceActivity\":{\"type\":null,\"voiceActivityType\":\"ACTIVITY_END\"}}",
        "{\"voiceActivity\":\"ACTIVITY_END\"}",
        "{\"voiceActivity\":{\"type\":\"ACTIVITY_END\"},\"voiceActivity\":{}}",
        "{\"voiceActivityDetectionSignal\":{\"type\":\"VAD_SIGNAL_TYPE_EOS\"}}",
        "{\"voiceActivity\":{\"type\":\"TYPE_UNSPECIFIED\"}}",
    };
    struct rt_scan o;

    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        RT_CHECK(scan(ends[i], &o) == 0);
        RT_CHECK(o.speech_end && !o.speech_start);
    }
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        RT_CHECK(scan(starts[i], &o) == 0);
        RT_CHECK(o.speech_start && !o.speech_end);
    }
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        RT_CHECK(scan(none[i], &o) == 0);
        RT_CHECK(!o.speech_start && !o.speech_end);
    }
}

static void test_scan_goaway(void)
{
    struct rt_scan o;

    RT_CHECK(scan("{\"goAway\":{\"timeLeft\":\"5s\"}}", &o) == 0);
    RT_CHECK(o.go_away && o.time_left == 5.0);
    RT_CHECK(scan("{\"goAway\":{\"timeLeft\":\"1.25s\"}}", &o) == 0);
    RT_CHECK(o.time_left == 1.25);
    RT_CHECK(scan("{\"goAway\":{\"timeLeft\":\"soon\"}}", &o) == 0);
    RT_CHECK(o.go_away && o.time_left == -1);
    RT_CHECK(scan("{\"goAway\":{}}", &o) == 0);
    RT_CHECK(o.go_away && o.time_left == -1);
    RT_CHECK(scan("{\"goAway\":{\"timeLeft\":\"99999999999999999999s\"}}", &o) == 0);
    RT_CHECK(o.time_left == 86400);
}

static void test_scan_malformed(void)
{
    static const char *bad[] = {
        "", "   ", "[]", "\"x\"", "{", "{\"a\":", "{\"a\":\"unterminated", "{\"a\":1]",
        "{\"a\":[1}", "{}}", "{} x", "{\"a\":\"\\", "{{}}", "{\"a\" \x01}", "{\"a\":[\"b\":1]}x",
        NULL,
    };
    struct rt_scan o;
    int i;

    for (i = 0; bad[i]; i++) {
        if (scan(bad[i], &o) != -1)
            fprintf(stdout, "# accepted: %s\n", bad[i]);
        RT_CHECK(scan(bad[i], &o) == -1);
    }
    RT_CHECK(rt_scan_server(NULL, 0, &o) == -1);
    RT_CHECK(scan("{}", &o) == 0);
}

static void test_scan_deep(void)
{
    /* nesting far beyond the stack is skipped over, not rejected, and never overflows */
    size_t n = 10000;
    char *s = malloc(2 * n + 64);
    struct rt_scan o;

    if (!s)
        return;

    memcpy(s, "{\"a\":", 5);
    memset(s + 5, '[', n);
    memset(s + 5 + n, ']', n);
    strcpy(s + 5 + 2 * n, ",\"goAway\":{}}");
    RT_CHECK(scan(s, &o) == 0);
    RT_CHECK(o.go_away);
    s[5] = '{';               /* an object where a value's array was: still bounded */
    RT_CHECK(scan(s, &o) == -1);
    free(s);
}

static void test_setup_rewrite(void)
{
    const char *a = "{\"setup\":{\"model\":\"m\",\"sessionResumption\":{},\"x\":1}}";
    const char *b = "{\"setup\":{\"sessionResumption\":{\"transparent\":true}}}";
    const char *c = "{\"setup\":{\"systemInstruction\":{\"parts\":[{\"text\":"
                    "\"\\\"sessionResumption\\\":{}\"}]},\"model\":\"m\"}}";
    const char *d = "{\"other\":{\"sessionResumption\":{}}}";
    char out[256];
    size_t at, n;
    bool empty;

    RT_CHECK(rt_resume_find(a, strlen(a), &at, &empty) && empty);
    n = rt_resume_setup(a, strlen(a), at, empty, "H1", 2, out, sizeof out);
    RT_CHECK(n > 0);
    out[n] = '\0';
    RT_CHECK_STR(out, "{\"setup\":{\"model\":\"m\",\"sessionResumption\":{\"handle\":\"H1\"},\"x\":1}}");

    RT_CHECK(rt_resume_find(b, strlen(b), &at, &empty) && !empty);
    n = rt_resume_setup(b, strlen(b), at, empty, "H2", 2, out, sizeof out);
    out[n] = '\0';
    RT_CHECK_STR(out, "{\"setup\":{\"sessionResumption\":{\"handle\":\"H2\",\"transparent\":true}}}");
    RT_CHECK(rt_resume_setup(b, strlen(b), at, empty, "H2", 2, out, 10) == 0);

    /* the key inside a string, or not under setup, is not the object */
    RT_CHECK(!rt_resume_find(c, strlen(c), &at, &empty));
    RT_CHECK(!rt_resume_find(d, strlen(d), &at, &empty));
}

/* A setup that starts from a saved handle: the newest handle replaces it, wherever it
 * stands in the object, so the server reads one handle. */
static void test_setup_rewrite_replaces(void)
{
    static const char *const cases[][2] = {
        { "{\"setup\":{\"sessionResumption\":{\"handle\":\"old\"},\"m\":1}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"NEW\"},\"m\":1}}" },
        { "{\"setup\":{\"sessionResumption\":{\"handle\":\"o\\\"ld\",\"transparent\":true}}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"NEW\",\"transparent\":true}}}" },
        { "{\"setup\":{\"sessionResumption\":{\"transparent\":true,\"handle\":\"old\"}}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"NEW\",\"transparent\":true}}}" },
        { "{\"setup\":{\"sessionResumption\":{ \"x\" : {\"handle\":\"in\"} , \"handle\" : \"old\" , \"y\":[1,\"}\"]}}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"NEW\", \"x\" : {\"handle\":\"in\"} ,  \"y\":[1,\"}\"]}}}" },
    };
    char out[256];
    size_t at, n;
    bool empty;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in = cases[i][0];
        RT_CHECK(rt_resume_find(in, strlen(in), &at, &empty) && !empty);
        n = rt_resume_setup(in, strlen(in), at, empty, "NEW", 3, out, strlen(in) + 3 + 12);
        RT_CHECK(n > 0);
        out[n] = '\0';
        RT_CHECK_STR(out, cases[i][1]);
        /* and again: a rewritten setup rewrites the same way */
        RT_CHECK(rt_resume_find(out, n, &at, &empty) && !empty);
    }
}

/* A resumed setup announces no initial history, wherever historyConfig stands, in
 * either spelling. */
static void test_setup_rewrite_history(void)
{
    static const char *const cases[][2] = {
        { "{\"setup\":{\"model\":\"m\",\"sessionResumption\":{},\"historyConfig\":"
          "{\"initialHistoryInClientContent\":true}}}",
          "{\"setup\":{\"model\":\"m\",\"sessionResumption\":{\"handle\":\"H\"}}}" },
        { "{\"setup\":{\"historyConfig\":{\"a\":[1,\"}\"]} , \"sessionResumption\":{}}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"H\"}}}" },
        { "{\"setup\":{\"x\":{\"historyConfig\":1},\"sessionResumption\":{},"
          "\"history\\u0043onfig\":{},\"y\":2}}",
          "{\"setup\":{\"x\":{\"historyConfig\":1},\"sessionResumption\":{\"handle\":\"H\"},"
          "\"y\":2}}" },
        { "{\"setup\":{\"sessionResumption\":{}},\"historyConfig\":{}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"H\"}},\"historyConfig\":{}}" },
        /* the snake_case spelling (a raw setup), of either field */
        { "{\"setup\":{\"history_config\":{\"initial_history_in_client_content\":true},"
          "\"session_resumption\":{}}}",
          "{\"setup\":{\"session_resumption\":{\"handle\":\"H\"}}}" },
        { "{\"setup\":{\"sessionResumption\":{},\"history_config\":{},\"m\":1}}",
          "{\"setup\":{\"sessionResumption\":{\"handle\":\"H\"},\"m\":1}}" },
    };
    char out[256];
    size_t at, n;
    bool empty;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in = cases[i][0];
        RT_CHECK(rt_resume_find(in, strlen(in), &at, &empty) && empty);
        n = rt_resume_setup(in, strlen(in), at, empty, "H", 1, out, sizeof out);
        RT_CHECK(n > 0);
        out[n] = '\0';
        RT_CHECK_STR(out, cases[i][1]);
    }
}

/* The handle a setup starts from is the one to resume with until the server's first. */
static void test_saved_handle(void)
{
    static const char a[] = "{\"setup\":{\"sessionResumption\":{\"handle\":\"h\\\"1\",\"x\":1}}}";
    static const char b[] = "{\"setup\":{\"sessionResumption\":{\"x\":{\"handle\":\"in\"}}}}";
    static const char c[] = "{\"setup\":{\"sessionResumption\":{\"handle\":\"bad\nline\"}}}";
    const char *h;
    size_t at, n;
    bool empty;

    RT_CHECK(rt_resume_find(a, sizeof a - 1, &at, &empty));
    RT_CHECK(rt_resume_saved_handle(a, sizeof a - 1, at, &h, &n));
    RT_CHECK(n == 4 && memcmp(h, "h\\\"1", 4) == 0);
    RT_CHECK(rt_resume_find(b, sizeof b - 1, &at, &empty));
    RT_CHECK(!rt_resume_saved_handle(b, sizeof b - 1, at, &h, &n));   /* not at its level */
    RT_CHECK(rt_resume_find(c, sizeof c - 1, &at, &empty));
    RT_CHECK(!rt_resume_saved_handle(c, sizeof c - 1, at, &h, &n));   /* cannot stand as is */
}

static void test_handle_ok(void)
{
    RT_CHECK(rt_resume_handle_ok("abc", 3));
    RT_CHECK(rt_resume_handle_ok("a\\\"b\\u00e9", 10));
    RT_CHECK(!rt_resume_handle_ok("", 0));
    RT_CHECK(!rt_resume_handle_ok("a\"b", 3));
    RT_CHECK(!rt_resume_handle_ok("ab\\", 3));
    RT_CHECK(!rt_resume_handle_ok("a\\u12", 5));
    RT_CHECK(!rt_resume_handle_ok("a\\x", 3));
    RT_CHECK(!rt_resume_handle_ok("a\nb", 3));
    /* bytes that are not UTF-8 would make the setup a text frame the server refuses */
    RT_CHECK(!rt_resume_handle_ok("h\xff", 2));
    RT_CHECK(!rt_resume_handle_ok("h\xc3", 2));
    RT_CHECK(rt_resume_handle_ok("h\xc3\xa9", 3));
    /* escapes the binding's reader refuses or changes: a lone surrogate (which it reads as
     * U+FFFD), a cut pair; a pair is kept */
    RT_CHECK(!rt_resume_handle_ok("a\\ud800b", 8));
    RT_CHECK(!rt_resume_handle_ok("a\\udc00", 7));
    RT_CHECK(!rt_resume_handle_ok("a\\ud83d\\u0041", 13));
    RT_CHECK(rt_resume_handle_ok("a\\ud83d\\ude00", 13));
    RT_CHECK_STR(rt_resume_handle_problem("a\\ud800b", 8), "a text with a lone surrogate escape");
    RT_CHECK_STR(rt_resume_handle_problem("h\xff", 2), "not UTF-8");
}

static void test_rules(void)
{
    RT_CHECK(rt_resume_fatal_close(1007));
    RT_CHECK(rt_resume_fatal_close(1008));
    RT_CHECK(rt_resume_fatal_close(4000));
    RT_CHECK(!rt_resume_fatal_close(1011));
    RT_CHECK(!rt_resume_fatal_close(1006));
    RT_CHECK(!rt_resume_fatal_close(1001));
    RT_CHECK(rt_resume_backoff(0, 0.5) == 0);
    RT_CHECK(rt_resume_backoff(1, 0) == 0.2);
    RT_CHECK(rt_resume_backoff(2, 0) == 0.4);
    RT_CHECK(rt_resume_backoff(30, 0) == 5.0);
    RT_CHECK(rt_resume_backoff(30, 1) == 6.25);
    /* normal closes end a session unless goAway announced them */
    RT_CHECK(!rt_resume_close_retryable(1000, false) && rt_resume_close_retryable(1000, true));
    RT_CHECK(rt_resume_close_retryable(1011, false) && !rt_resume_close_retryable(1008, true));
    RT_CHECK(rt_resume_status_retryable(0) && rt_resume_status_retryable(503) &&
             rt_resume_status_retryable(429) && !rt_resume_status_retryable(403));
    /* the budget counts connections that never got a turn through */
    RT_CHECK(rt_resume_next_attempt(0, false, 0, false) == 1);
    RT_CHECK(rt_resume_next_attempt(5, false, 2, false) == 6);
    RT_CHECK(rt_resume_next_attempt(5, true, 2, false) == 1);
    RT_CHECK(rt_resume_next_attempt(5, false, 31, false) == 1);
    RT_CHECK(rt_resume_next_attempt(5, false, 0, true) == 1);
    /* consumed: exact with the index (message k of this connection), else the boundary */
    RT_CHECK(rt_resume_consumed(7, 20, 10, false, 0) == 7);
    RT_CHECK(rt_resume_consumed(7, 20, 10, true, 4) == 14);
    RT_CHECK(rt_resume_consumed(7, 20, 10, true, 50) == 20);
    RT_CHECK(rt_resume_goaway_leave(10) == 8 && rt_resume_goaway_leave(3) == 1.5 &&
             rt_resume_goaway_leave(-1) == 8);
}

/* Durations read to the double nearest their decimal value, as the same text read by
 * Lua would: a word's "0.120s" must equal 0.12 (summing the digits one by one did not). */
static void test_duration(void)
{
    RT_CHECK(rt_resume_duration("0.120s", 6) == 0.12);
    RT_CHECK(rt_resume_duration("1.1s", 4) == 1.1);
    RT_CHECK(rt_resume_duration("12.345s", 7) == 12.345);
    RT_CHECK(rt_resume_duration("0.3s", 4) == 0.3);
    RT_CHECK(rt_resume_duration("0.000000001s", 12) == 1e-9);
    RT_CHECK(rt_resume_duration("1.5", 3) == 1.5);
    RT_CHECK(rt_resume_duration("10s", 3) == 10);
    RT_CHECK(rt_resume_duration(".5s", 3) == 0.5);
    /* past nanoseconds the digits are read but count for nothing */
    RT_CHECK(rt_resume_duration("0.1234567899s", 13) == 0.123456789);
    RT_CHECK(rt_resume_duration("90000s", 6) == 86400);
    RT_CHECK(rt_resume_duration("-1s", 3) == -1);
    RT_CHECK(rt_resume_duration("1e3s", 4) == -1);
    RT_CHECK(rt_resume_duration("s", 1) == -1);
    RT_CHECK(rt_resume_duration("1.s", 3) == 1);
    RT_CHECK(rt_resume_duration("99999999999999999999999s", 24) == 86400);
}

/* An offset is not capped: its true value, up to Duration's range, past which it does
 * not read (-1), as a text that is no duration does not. */
static void test_offset(void)
{
    RT_CHECK(rt_resume_offset("0.120s", 6) == 0.12);
    RT_CHECK(rt_resume_offset(".5s", 3) == 0.5 && rt_resume_offset("1.s", 3) == 1 &&
             rt_resume_offset("5", 1) == 5);
    RT_CHECK(rt_resume_offset("86400.75s", 9) == 86400.75);
    RT_CHECK(rt_resume_offset("90000s", 6) == 90000);
    RT_CHECK(rt_resume_offset("123456.125s", 11) == 123456.125);
    RT_CHECK(rt_resume_offset("315576000000s", 13) == 315576000000.0);
    /* past 2^53 ns the whole seconds and the fraction are added as doubles */
    RT_CHECK(rt_resume_offset("315575999999.5s", 15) == 315575999999.5);
    RT_CHECK(rt_resume_offset("315576000001s", 13) == -1);
    RT_CHECK(rt_resume_offset("99999999999999999999999s", 24) == -1);
    RT_CHECK(rt_resume_offset("-1s", 3) == -1 && rt_resume_offset("1e3s", 4) == -1 &&
             rt_resume_offset("s", 1) == -1);
}

int main(void)
{
    RT_RUN(test_scan_update);
    RT_RUN(test_scan_content);
    RT_RUN(test_scan_inline_data);
    RT_RUN(test_scan_speech);
    RT_RUN(test_scan_goaway);
    RT_RUN(test_scan_malformed);
    RT_RUN(test_scan_deep);
    RT_RUN(test_setup_rewrite);
    RT_RUN(test_setup_rewrite_replaces);
    RT_RUN(test_setup_rewrite_history);
    RT_RUN(test_saved_handle);
    RT_RUN(test_handle_ok);
    RT_RUN(test_rules);
    RT_RUN(test_duration);
    RT_RUN(test_offset);
    return rt_test_done();
}
