/* Base64: RFC 4648 vectors, both alphabets, padding optional, rejects, round trips,
 * base64url without padding (JWTs), and the decoder's strictness. rt_base64_encode and
 * rt_base64_decode take a vector path on x86-64 CPUs with SSSE3; the last tests compare
 * them and the portable versions with the simple coders below, on every length up to 200
 * and every byte at every place of texts that fill the vector path's blocks. */
#include <stdint.h>
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

/* ---- the fast paths against simple coders ---- */

static const char ref_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char ref_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static unsigned ref_seed = 2024;

static unsigned char ref_random(void)
{
    ref_seed = ref_seed * 1103515245u + 12345u;
    return (unsigned char)(ref_seed >> 16);
}

/* Six bits at a time, padded. */
static size_t ref_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = ref_std[v >> 18];
        out[o++] = ref_std[(v >> 12) & 63];
        out[o++] = i + 1 < n ? ref_std[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? ref_std[v & 63] : '=';
    }
    return o;
}

/* The value of c in either alphabet, or -1. */
static int ref_value(unsigned char c)
{
    const char *p;

    if (c == 0)
        return -1;
    if ((p = strchr(ref_std, c)) != NULL)
        return (int)(p - ref_std);
    if ((p = strchr(ref_url, c)) != NULL)
        return (int)(p - ref_url);
    return -1;
}

/* rt_base64_decode's contract, one character at a time. */
static int ref_decode(const unsigned char *in, size_t n, unsigned char *out, size_t *outlen)
{
    uint32_t acc = 0;
    size_t i, o = 0;
    int bits = 0;

    if (n >= 4 && n % 4 == 0 && in[n - 1] == '=')
        n -= in[n - 2] == '=' ? 2 : 1;
    if (n % 4 == 1)
        return -1;
    for (i = 0; i < n; i++) {
        int v = ref_value(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    return 0;
}

/* Decodes the n characters at t (a buffer of exactly n bytes) with both decoders into
 * buffers of exactly rt_base64_decoded_max(n) bytes; true when both agree with
 * ref_decode, whose result goes to *rc. */
static bool decode_agrees(const unsigned char *t, size_t n, int *rc)
{
    size_t max = rt_base64_decoded_max(n), rn = 0, fn = 0, sn = 0;

    *rc = -2;
    unsigned char *want = malloc(max), *fast = malloc(max), *slow = malloc(max);
    int r, f, sl;
    bool ok;

    if (!want || !fast || !slow) {
        free(want);
        free(fast);
        free(slow);
        return false;
    }
    r = *rc = ref_decode(t, n, want, &rn);
    f = rt_base64_decode((const char *)t, n, fast, &fn);
    sl = rt_base64_decode_scalar((const char *)t, n, slow, &sn);
    ok = f == r && sl == r && (r != 0 || (fn == rn && sn == rn && memcmp(fast, want, rn) == 0 &&
                                          memcmp(slow, want, rn) == 0));
    if (r != 0)
        ok = ok && fn == 0 && sn == 0;
    free(want);
    free(fast);
    free(slow);
    return ok;
}

/* The vector path is taken on every x86-64 CPU that can: the tests below test it. */
static void test_simd_dispatch(void)
{
    printf("# vector path: %s\n", rt_base64_simd() ? "yes (SSSE3)" : "no");
#if defined(__x86_64__) && defined(__GNUC__)
    RT_CHECK(rt_base64_simd() == (__builtin_cpu_supports("ssse3") != 0));
#else
    RT_CHECK(!rt_base64_simd());
#endif
}

/* Every length 0..200 of random bytes, in buffers of their exact size: both encoders give
 * ref_encode's text, and both decoders the bytes back. */
static void test_encode_every_length(void)
{
    size_t len, i;
    int bad = 0, rc;

    for (len = 0; len <= 200; len++) {
        size_t tn = rt_base64_encoded_len(len);
        unsigned char *in = malloc(len ? len : 1);
        char *want = malloc(tn + 1), *fast = malloc(tn + 1), *slow = malloc(tn + 1);
        if (in && want && fast && slow) {
            for (i = 0; i < len; i++)
                in[i] = ref_random();
            if (ref_encode(in, len, want) != tn || rt_base64_encode(in, len, fast) != tn ||
                rt_base64_encode_scalar(in, len, slow) != tn || memcmp(fast, want, tn) != 0 ||
                memcmp(slow, want, tn) != 0 || !decode_agrees((unsigned char *)fast, tn, &rc) || rc != 0) {
                printf("# encoding %zu bytes differs\n", len);
                bad++;
            }
        } else {
            bad++;
        }
        free(in);
        free(want);
        free(fast);
        free(slow);
    }
    RT_CHECK(bad == 0);
}

/* Every length 0..200 of random characters of both alphabets: what the encoder never
 * writes (mixed alphabets, set bits in the last character, lengths 4k+1). */
static void test_decode_every_length(void)
{
    size_t len, i;
    int bad = 0, refused = 0, rc;

    for (len = 0; len <= 200; len++) {
        unsigned char *t = malloc(len ? len : 1);
        if (!t) {
            bad++;
            continue;
        }
        for (i = 0; i < len; i++) {
            unsigned char r = ref_random();
            t[i] = (unsigned char)(r & 64 ? ref_url[r & 63] : ref_std[r & 63]);
        }
        if (!decode_agrees(t, len, &rc)) {
            printf("# decoding %zu characters differs\n", len);
            bad++;
        }
        refused += rc == -1;
        free(t);
    }
    RT_CHECK(bad == 0);
    RT_CHECK(refused == 50); /* only the lengths 1, 5, ..., 197 */
}

/* Each of the 256 byte values at each place of texts of 16, 32, 40 and 64 characters
 * (the vector decoder's blocks in each of their three kinds of store, and a scalar rest):
 * each valid character gives its bits in both alphabets, anything else (including '='
 * out of place) gives -1, as ref_decode says. */
static void test_decode_every_byte(void)
{
    static const size_t lens[] = { 16, 32, 40, 64 };
    size_t l, pos, i;
    int c, bad = 0, valid = 0, accepted = 0, rc;

    for (l = 0; l < sizeof lens / sizeof *lens; l++) {
        size_t len = lens[l];
        unsigned char *t = malloc(len);
        if (!t) {
            bad++;
            continue;
        }
        for (pos = 0; pos < len; pos++) {
            for (c = 0; c < 256; c++) {
                for (i = 0; i < len; i++) {
                    unsigned char r = ref_random();
                    t[i] = (unsigned char)(r & 64 ? ref_url[r & 63] : ref_std[r & 63]);
                }
                t[pos] = (unsigned char)c;
                valid += ref_value((unsigned char)c) >= 0;
                if (!decode_agrees(t, len, &rc)) {
                    printf("# byte %d at %zu of %zu differs\n", c, pos, len);
                    bad++;
                }
                accepted += rc == 0;
            }
        }
        free(t);
    }
    RT_CHECK(bad == 0);
    RT_CHECK(valid == 66 * (16 + 32 + 40 + 64));
    /* and '=' at the end of each, complete padding */
    RT_CHECK(accepted == valid + 4);
}

/* '=' and "==" at every place of every length 1..72 of a valid text: only complete
 * padding decodes. */
static void test_decode_padding_everywhere(void)
{
    size_t len, pos, i;
    int bad = 0, accepted = 0, rc;

    for (len = 1; len <= 72; len++) {
        unsigned char *t = malloc(len);
        if (!t) {
            bad++;
            continue;
        }
        for (pos = 0; pos < len; pos++) {
            for (int two = 0; two < 2 && pos + (size_t)two < len; two++) {
                for (i = 0; i < len; i++)
                    t[i] = (unsigned char)ref_std[ref_random() & 63];
                t[pos] = '=';
                if (two)
                    t[pos + 1] = '=';
                if (!decode_agrees(t, len, &rc)) {
                    printf("# '=' at %zu of %zu differs\n", pos, len);
                    bad++;
                }
                accepted += rc == 0;
            }
        }
        free(t);
    }
    RT_CHECK(bad == 0);
    /* "xxx=" and "xx==" for each of the 18 lengths 4..72 that are multiples of 4 */
    RT_CHECK(accepted == 2 * 18);
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
    RT_RUN(test_simd_dispatch);
    RT_RUN(test_encode_every_length);
    RT_RUN(test_decode_every_length);
    RT_RUN(test_decode_every_byte);
    RT_RUN(test_decode_padding_everywhere);
    return rt_test_done();
}
