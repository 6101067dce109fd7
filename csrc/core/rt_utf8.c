/* UTF-8 validation with an ASCII fast path; printable forms for messages. */
#include "rt_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t rt_utf8_valid_prefix(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i = 0;

    while (i < n) {
        /* 32, then 8 ASCII bytes at a time: most JSON is ASCII (server audio is base64). */
        while (n - i >= 32) {
            uint64_t w[4];
            memcpy(w, p + i, 32);
            if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull)
                break;
            i += 32;
        }
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned c = p[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xbf;   /* range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;          /* no overlong 3-byte forms */
            else if (c == 0xed)
                hi = 0x9f;          /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;          /* no overlong 4-byte forms */
            else if (c == 0xf4)
                hi = 0x8f;          /* nothing above U+10FFFF */
        } else {
            return i;
        }
        if (n - i <= need)
            return i;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
        i += need + 1;
    }
    return n;
}

bool rt_utf8_valid(const void *s, size_t n)
{
    return rt_utf8_valid_prefix(s, n) == n;
}

size_t rt_printable(char *dst, size_t cap, const char *s, size_t n, int *cut)
{
    size_t w = 0, i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
            if (cap - w < 5)
                break;
            snprintf(dst + w, 5, "\\x%02x", c);
            w += 4;
        } else {
            if (cap - w < 2)
                break;
            dst[w++] = (char)c;
        }
    }
    dst[w] = '\0';
    if (cut)
        *cut = i < n;
    return w;
}
