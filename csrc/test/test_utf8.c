/* UTF-8 validation: the word-at-a-time ASCII steps must stop at the first byte that is
 * not valid wherever it falls, as a byte-by-byte reading does. */
#include <stdint.h>
#include <stdlib.h>

#include "rt_utf8.h"
#include "rt_test.h"

/* The reference, by code points: a sequence's length comes from its lead byte, its value
 * from its continuation bytes, and the value must need that length (no overlong form),
 * not be a surrogate and not pass U+10FFFF. Returns the length of the valid prefix. */
static size_t ref_prefix(const unsigned char *p, size_t n)
{
    static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t i = 0;

    while (i < n) {
        size_t len = p[i] < 0x80 ? 1 : (p[i] >> 5) == 6 ? 2 : (p[i] >> 4) == 14 ? 3
                   : (p[i] >> 3) == 30 ? 4 : 0;
        uint32_t cp = len == 1 ? p[i] : p[i] & (0x7fu >> len);
        if (len == 0 || i + len > n)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] >> 6) != 2)
                return i;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < least[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return i;
        i += len;
    }
    return n;
}

/* One bad or multibyte sequence at every position of ASCII texts of 0..100 bytes. */
static void test_every_position(void)
{
    static const unsigned char seqs[][4] = {
        { 0xff }, { 0x80 }, { 0xc3, 0xa9 }, { 0xc3 }, { 0xe2, 0x82, 0xac }, { 0xed, 0xa0, 0x80 },
        { 0xf0, 0x9f, 0x98, 0x80 }, { 0xf4, 0x90, 0x80, 0x80 }, { 0xc0, 0xaf },
    };
    static const size_t lens[] = { 1, 1, 2, 1, 3, 3, 4, 4, 2 };
    unsigned char buf[112];

    for (size_t n = 0; n <= 100; n++)
        for (size_t at = 0; at <= n; at++)
            for (size_t s = 0; s < sizeof lens / sizeof lens[0]; s++) {
                size_t len = n + lens[s] <= sizeof buf ? n + lens[s] : 0;
                memset(buf, 'A', sizeof buf);
                memcpy(buf + at, seqs[s], lens[s]);
                if (len)
                    RT_CHECK(rt_utf8_valid_prefix(buf, len) == ref_prefix(buf, len));
            }
}

/* Random mixes of ASCII runs and arbitrary bytes. */
static void test_random(void)
{
    unsigned char buf[300];

    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = rand() % 16 ? (unsigned char)('a' + rand() % 26) : (unsigned char)rand();
        RT_CHECK(rt_utf8_valid_prefix(buf, n) == ref_prefix(buf, n));
        RT_CHECK(rt_utf8_valid(buf, n) == (ref_prefix(buf, n) == n));
    }
}

/* rt_printable: what messages show of a value (binding errors, a credential's source). */
static void test_printable(void)
{
    char out[16];
    int cut = -1;

    RT_CHECK(rt_printable(out, sizeof out, "a\x01\xff'\\b", 6, &cut) == 13);
    RT_CHECK(cut == 1);                  /* the backslash (\x5c) did not fit */
    RT_CHECK_STR(out, "a\\x01\\xff\\x27");
    RT_CHECK(rt_printable(out, sizeof out, "ok z", 4, &cut) == 4 && cut == 0);
    RT_CHECK_STR(out, "ok z");
    RT_CHECK(rt_printable(out, 1, "x", 1, &cut) == 0 && cut == 1 && out[0] == '\0');
}

int main(void)
{
    RT_RUN(test_every_position);
    RT_RUN(test_random);
    RT_RUN(test_printable);
    return rt_test_done();
}
