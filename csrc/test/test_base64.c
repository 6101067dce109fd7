/* Base64: RFC 4648 vectors, both alphabets, padding optional, rejects, round trips,
 * base64url without padding (JWTs), and the decoder's strictness. */
#include <stdlib.h>

#include "rt_base64.h"
#include "rt_test.h"

static const char *enc(const char *in, size_t n)
{
    static char out[256];
    size_t k = rt_base64_encode(in, n, out);
    out[k] = '\0';
    return out;
}

/* Decodes s; returns the text or "<invalid>". */
static const char *dec(const char *s)
{
    static char out[256];
    size_t n;

    if (rt_base64_decode(s, strlen(s), out, &n))
        return "<invalid>";
    out[n] = '\0';
    return out;
}

static void test_encode_vectors(void)
{
    RT_CHECK_STR(enc("", 0), "");
    RT_CHECK_STR(enc("f", 1), "Zg==");
    RT_CHECK_STR(enc("fo", 2), "Zm8=");
    RT_CHECK_STR(enc("foo", 3), "Zm9v");
    RT_CHECK_STR(enc("foob", 4), "Zm9vYg==");
    RT_CHECK_STR(enc("fooba", 5), "Zm9vYmE=");
    RT_CHECK_STR(enc("foobar", 6), "Zm9vYmFy");
    RT_CHECK_STR(enc("\xfb\xff\xbf", 3), "+/+/");
    RT_CHECK(rt_base64_encoded_len(0) == 0 && rt_base64_encoded_len(1) == 4 &&
             rt_base64_encoded_len(3) == 4 && rt_base64_encoded_len(32000) == 42668);
}

static void test_decode_vectors(void)
{
    RT_CHECK_STR(dec(""), "");
    RT_CHECK_STR(dec("Zg=="), "f");
    RT_CHECK_STR(dec("Zg"), "f");
    RT_CHECK_STR(dec("Zm8="), "fo");
    RT_CHECK_STR(dec("Zm8"), "fo");
    RT_CHECK_STR(dec("Zm9vYmFy"), "foobar");
    RT_CHECK_STR(dec("Zm9vYmE"), "fooba");
}

static void test_decode_urlsafe(void)
{
    char out[8];
    size_t n;

    RT_CHECK(rt_base64_decode("-_-_", 4, out, &n) == 0 && n == 3);
    RT_CHECK(memcmp(out, "\xfb\xff\xbf", 3) == 0);
    RT_CHECK(rt_base64_decode("+/+/", 4, out, &n) == 0 && n == 3);
    RT_CHECK(memcmp(out, "\xfb\xff\xbf", 3) == 0);
    RT_CHECK(rt_base64_decode("-_8", 3, out, &n) == 0 && n == 2);
}

static void test_decode_rejects(void)
{
    RT_CHECK_STR(dec("Z"), "<invalid>");          /* one character in the last group */
    RT_CHECK_STR(dec("Zm9vY"), "<invalid>");
    RT_CHECK_STR(dec("Zm=v"), "<invalid>");       /* '=' inside */
    RT_CHECK_STR(dec("Zm9v!A=="), "<invalid>");
    RT_CHECK_STR(dec("Zm9 v"), "<invalid>");
    RT_CHECK_STR(dec("Z==="), "<invalid>");
    RT_CHECK_STR(dec("===="), "<invalid>");
}

static void test_base64url(void)
{
    char out[16];

    RT_CHECK(rt_base64url_encode("", 0, out) == 0);
    RT_CHECK_STR(out, "");
    rt_base64url_encode("f", 1, out);
    RT_CHECK_STR(out, "Zg");
    rt_base64url_encode("fo", 2, out);
    RT_CHECK_STR(out, "Zm8");
    rt_base64url_encode("foo", 3, out);
    RT_CHECK_STR(out, "Zm9v");
    RT_CHECK(rt_base64url_encode("\xfb\xff\xbf\xfb", 4, out) == 6);
    RT_CHECK_STR(out, "-_-_-w");
    RT_CHECK(rt_base64url_len(0) == 0 && rt_base64url_len(1) == 2 && rt_base64url_len(2) == 3 &&
             rt_base64url_len(3) == 4 && rt_base64url_len(4) == 6);
}

/* Server audio is decoded with it: nothing but the alphabets passes, whatever its place
 * (white space that some decoders trim, NUL, bytes above 127, '=' inside a long text). */
static void test_decode_strict(void)
{
    static const char *bad[] = { " Zm9v", "Zm9v ", "Zm9v\n", "\tZg==", "Zm9vYmFyZm9vYmFy\r\n",
                                 "Zm9vYmFy=m9vYmFy", "Zm9vYmFyZm9vYmF\xc3", "Zg=", "Zm9vYmFyZm9v=g==",
                                 NULL };
    char out[64];
    size_t n;
    int i;

    for (i = 0; bad[i]; i++) {
        if (rt_base64_decode(bad[i], strlen(bad[i]), out, &n) != -1)
            printf("# accepted: %s\n", bad[i]);
        RT_CHECK(rt_base64_decode(bad[i], strlen(bad[i]), out, &n) == -1);
    }
    RT_CHECK(rt_base64_decode("Zm9v\0Zm9", 8, out, &n) == -1);
    /* a bad character in every position of a 24-character text is caught */
    for (i = 0; i < 24; i++) {
        char t[25] = "Zm9vYmFyZm9vYmFyZm9vYmFy";
        t[i] = '*';
        RT_CHECK(rt_base64_decode(t, 24, out, &n) == -1);
    }
}

/* Inputs in buffers of their exact size, so that a read or write past them shows under
 * the sanitizers (make check): the encoder reads n bytes, the decoder writes at most
 * rt_base64_decoded_max(n). */
static void test_exact_buffers(void)
{
    size_t len, n;
    int ok = 1;

    for (len = 0; len <= 40 && ok; len++) {
        unsigned char *in = malloc(len ? len : 1);
        char *txt = malloc(rt_base64_encoded_len(len) + 1);
        unsigned char *back;
        if (!in || !txt) {
            free(in);
            free(txt);
            return;
        }
        for (n = 0; n < len; n++)
            in[n] = (unsigned char)(n * 37 + 11);
        n = rt_base64_encode(in, len, txt);
        back = malloc(rt_base64_decoded_max(n));
        ok = back && rt_base64_decode(txt, n, back, &n) == 0 && n == len && memcmp(in, back, len) == 0;
        free(back);
        free(in);
        free(txt);
    }
    RT_CHECK(ok);
    RT_CHECK(rt_base64_encode(NULL, 0, NULL) == 0);
}

static void test_round_trip(void)
{
    size_t len, n, i;
    unsigned char *in = malloc(70001), *back = malloc(70001 + 3);
    char *txt = malloc(rt_base64_encoded_len(70001));
    unsigned seed = 12345;
    int ok = 1;

    RT_CHECK(in && back && txt);
    if (!in || !back || !txt)
        goto out;
    for (i = 0; i < 70001; i++) {
        seed = seed * 1103515245u + 12345u;
        in[i] = (unsigned char)(seed >> 16);
    }
    for (len = 0; len <= 70001 && ok; len += len < 20 ? 1 : 9973) {
        n = rt_base64_encode(in, len, txt);
        ok = n == rt_base64_encoded_len(len) && rt_base64_decode(txt, n, back, &n) == 0 &&
             n == len && memcmp(in, back, len) == 0;
    }
    RT_CHECK(ok);
out:
    free(in);
    free(back);
    free(txt);
}

int main(void)
{
    RT_RUN(test_encode_vectors);
    RT_RUN(test_decode_vectors);
    RT_RUN(test_decode_urlsafe);
    RT_RUN(test_decode_rejects);
    RT_RUN(test_base64url);
    RT_RUN(test_decode_strict);
    RT_RUN(test_exact_buffers);
    RT_RUN(test_round_trip);
    return rt_test_done();
}
