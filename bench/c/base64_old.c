/* The base64 encoder and decoder as they were before the table-driven ones
 * (csrc/core/rt_base64.c at commit a0805ad), kept only so bench/c/base64_bench.c can
 * compare them. Not built into the library. */
#include <stddef.h>
#include <stdint.h>

size_t rt_base64_encode_old(const void *in, size_t n, char *out);
int rt_base64_decode_old(const char *in, size_t n, void *out, size_t *outlen);

static const char rt_b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t rt_base64_encode_old(const void *in, size_t n, char *out)
{
    const unsigned char *s = in;
    char *d = out;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        d[0] = rt_b64_alphabet[v >> 18];
        d[1] = rt_b64_alphabet[(v >> 12) & 63];
        d[2] = rt_b64_alphabet[(v >> 6) & 63];
        d[3] = rt_b64_alphabet[v & 63];
        d += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        d[0] = rt_b64_alphabet[v >> 18];
        d[1] = rt_b64_alphabet[(v >> 12) & 63];
        d[2] = '=';
        d[3] = '=';
        d += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        d[0] = rt_b64_alphabet[v >> 18];
        d[1] = rt_b64_alphabet[(v >> 12) & 63];
        d[2] = rt_b64_alphabet[(v >> 6) & 63];
        d[3] = '=';
        d += 4;
    }
    return (size_t)(d - out);
}

/* Each character's value plus one (1..64) in both alphabets, 65 for '=', 0 for anything
 * else; subtracting one in unsigned arithmetic makes every non-digit exceed 63. */
static const unsigned char rt_b64_value[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0, 63,  0, 64,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0, 65,  0,  0,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0, 64,
     0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

int rt_base64_decode_old(const char *in, size_t n, void *out, size_t *outlen)
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
    /* Fast path: whole groups of four valid characters. */
    for (; i + 4 <= n; i += 4) {
        unsigned a = rt_b64_value[s[i]] - 1u, b = rt_b64_value[s[i + 1]] - 1u;
        unsigned c = rt_b64_value[s[i + 2]] - 1u, e = rt_b64_value[s[i + 3]] - 1u;
        if ((a | b | c | e) & ~63u)
            return -1; /* invalid character or '=' inside the data */
        v = a << 18 | b << 12 | c << 6 | e;
        d[0] = (unsigned char)(v >> 16);
        d[1] = (unsigned char)(v >> 8);
        d[2] = (unsigned char)v;
        d += 3;
    }
    tail = n - i;
    if (tail == 1)
        return -1;
    if (tail >= 2) {
        unsigned a = rt_b64_value[s[i]] - 1u, b = rt_b64_value[s[i + 1]] - 1u;
        unsigned c = tail == 3 ? rt_b64_value[s[i + 2]] - 1u : 0;
        if ((a | b | c) & ~63u)
            return -1;
        v = a << 18 | b << 12 | c << 6;
        *d++ = (unsigned char)(v >> 16);
        if (tail == 3)
            *d++ = (unsigned char)(v >> 8);
    }
    *outlen = (size_t)(d - (unsigned char *)out);
    return 0;
}
