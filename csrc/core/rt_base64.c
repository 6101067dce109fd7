/* Base64 and base64url (see rt_base64.h).
 *
 * Both hot paths (audio going out, audio coming in) go through lookup tables built by
 * the compiler: the encoder turns each 12 bits into two characters with one lookup, the
 * decoder turns each character into its bits already in place, so a group of four is
 * four loads and three ORs, and one test of the result catches any character outside
 * both alphabets. bench/c/base64_bench.c measures them against OpenSSL's. */
#include "rt_base64.h"

#include <stdint.h>
#include <string.h>

static const char rt_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char rt_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- the tables --------------------------------------------------------------------- */

/* The character of a 6-bit value, and the value of a character (-1 outside both
 * alphabets), as constant expressions. */
#define RT_B64_CHAR(x) \
    ((x) < 26 ? 'A' + (x) : (x) < 52 ? 'a' + (x) - 26 : (x) < 62 ? '0' + (x) - 52 : (x) == 62 ? '+' : '/')
#define RT_B64_VAL(c) \
    ((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 : \
     (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 : (c) == '+' || (c) == '-' ? 62 :       \
     (c) == '/' || (c) == '_' ? 63 : -1)

/* The two characters of each 12-bit value. */
#define RT_P(h, l) { (char)RT_B64_CHAR(h), (char)RT_B64_CHAR(l) }
#define RT_P4(h, l) RT_P(h, l), RT_P(h, (l) + 1), RT_P(h, (l) + 2), RT_P(h, (l) + 3)
#define RT_P16(h, l) RT_P4(h, l), RT_P4(h, (l) + 4), RT_P4(h, (l) + 8), RT_P4(h, (l) + 12)
#define RT_PROW(h) RT_P16(h, 0), RT_P16(h, 16), RT_P16(h, 32), RT_P16(h, 48)
#define RT_PROW4(h) RT_PROW(h), RT_PROW((h) + 1), RT_PROW((h) + 2), RT_PROW((h) + 3)
#define RT_PROW16(h) RT_PROW4(h), RT_PROW4((h) + 4), RT_PROW4((h) + 8), RT_PROW4((h) + 12)
static const char rt_b64_pairs[4096][2] = {
    RT_PROW16(0), RT_PROW16(16), RT_PROW16(32), RT_PROW16(48)
};

/* Each character's bits at the place of the sh-th character of a group (shift 18, 12,
 * 6, 0), or RT_B64_BAD, which no valid group's bits can have. */
#define RT_B64_BAD 0x01000000u
#define RT_D(c, sh) (RT_B64_VAL(c) < 0 ? RT_B64_BAD : (uint32_t)RT_B64_VAL(c) << (sh))
#define RT_D4(c, sh) RT_D(c, sh), RT_D((c) + 1, sh), RT_D((c) + 2, sh), RT_D((c) + 3, sh)
#define RT_D16(c, sh) RT_D4(c, sh), RT_D4((c) + 4, sh), RT_D4((c) + 8, sh), RT_D4((c) + 12, sh)
#define RT_D64(c, sh) RT_D16(c, sh), RT_D16((c) + 16, sh), RT_D16((c) + 32, sh), RT_D16((c) + 48, sh)
#define RT_DTABLE(sh) { RT_D64(0, sh), RT_D64(64, sh), RT_D64(128, sh), RT_D64(192, sh) }
static const uint32_t rt_b64_d0[256] = RT_DTABLE(18);
static const uint32_t rt_b64_d1[256] = RT_DTABLE(12);
static const uint32_t rt_b64_d2[256] = RT_DTABLE(6);
static const uint32_t rt_b64_d3[256] = RT_DTABLE(0);

/* ---- encoding ----------------------------------------------------------------------- */

/* Encodes the last 1 or 2 bytes (rest) with the alphabet a, padded or not. */
static size_t rt_b64_tail(const unsigned char *s, size_t rest, char *d, const char *a, bool pad)
{
    uint32_t v;
    size_t o = 0;

    if (rest == 0)
        return 0;
    v = (uint32_t)s[0] << 16 | (rest == 2 ? (uint32_t)s[1] << 8 : 0);
    d[o++] = a[v >> 18];
    d[o++] = a[(v >> 12) & 63];
    if (rest == 2)
        d[o++] = a[(v >> 6) & 63];
    else if (pad)
        d[o++] = '=';
    if (pad)
        d[o++] = '=';
    return o;
}

size_t rt_base64_encode(const void *in, size_t n, char *out)
{
    const unsigned char *s = in;
    char *d = out;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        memcpy(d, rt_b64_pairs[v >> 12], 2);
        memcpy(d + 2, rt_b64_pairs[v & 0xfff], 2);
        d += 4;
    }
    d += rt_b64_tail(s + i, n - i, d, rt_b64_alphabet, true);
    return (size_t)(d - out);
}

size_t rt_base64url_encode(const void *in, size_t n, char *out)
{
    const unsigned char *s = in;
    size_t i = 0, o = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = rt_b64url_alphabet[v >> 18];
        out[o++] = rt_b64url_alphabet[(v >> 12) & 63];
        out[o++] = rt_b64url_alphabet[(v >> 6) & 63];
        out[o++] = rt_b64url_alphabet[v & 63];
    }
    o += rt_b64_tail(s + i, n - i, out + o, rt_b64url_alphabet, false);
    out[o] = '\0';
    return o;
}

/* ---- decoding ----------------------------------------------------------------------- */

int rt_base64_decode(const char *in, size_t n, void *out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *d = out;
    size_t i = 0, tail;
    uint32_t v;

    *outlen = 0;
    /* Strip complete padding: "xx==" or "xxx=" in the last group of four. */
    if (n % 4 == 0 && n >= 4) {
        if (s[n - 1] == '=')
            n--;
        if (s[n - 1] == '=')
            n--;
    }
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* eight characters at a time, written as one 8-byte store of which 6 bytes count
     * (rt_base64_decoded_max leaves the room) */
    for (; i + 8 <= n; i += 8) {
        uint32_t a = rt_b64_d0[s[i]] | rt_b64_d1[s[i + 1]] | rt_b64_d2[s[i + 2]] | rt_b64_d3[s[i + 3]];
        uint32_t b = rt_b64_d0[s[i + 4]] | rt_b64_d1[s[i + 5]] | rt_b64_d2[s[i + 6]] | rt_b64_d3[s[i + 7]];
        uint64_t w;
        if ((a | b) & RT_B64_BAD)
            return -1;
        w = __builtin_bswap64((uint64_t)a << 40 | (uint64_t)b << 16);
        memcpy(d, &w, 8);
        d += 6;
    }
#endif
    for (; i + 4 <= n; i += 4) {
        v = rt_b64_d0[s[i]] | rt_b64_d1[s[i + 1]] | rt_b64_d2[s[i + 2]] | rt_b64_d3[s[i + 3]];
        if (v & RT_B64_BAD)
            return -1; /* a character outside both alphabets, or '=' inside the data */
        d[0] = (unsigned char)(v >> 16);
        d[1] = (unsigned char)(v >> 8);
        d[2] = (unsigned char)v;
        d += 3;
    }
    tail = n - i;
    if (tail == 1)
        return -1;
    if (tail >= 2) {
        v = rt_b64_d0[s[i]] | rt_b64_d1[s[i + 1]] | (tail == 3 ? rt_b64_d2[s[i + 2]] : 0);
        if (v & RT_B64_BAD)
            return -1;
        *d++ = (unsigned char)(v >> 16);
        if (tail == 3)
            *d++ = (unsigned char)(v >> 8);
    }
    *outlen = (size_t)(d - (unsigned char *)out);
    return 0;
}
