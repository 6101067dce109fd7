/* Base64 and base64url (see rt_base64.h).
 *
 * Both hot paths (audio going out, audio coming in) have two implementations. The
 * portable one goes through lookup tables built by the compiler: the encoder turns each
 * 12 bits into two characters with one lookup, the decoder turns each character into its
 * bits already in place, so a group of four is four loads and three ORs, and one test of
 * the result catches any character outside both alphabets. On x86-64 CPUs with SSSE3
 * (checked at run time: the library is built for the baseline) the bulk of the text goes
 * 16 characters at a time through byte shuffles that serve as 16-entry tables; the
 * portable code does the last few bytes. bench/c/base64_bench.c measures them against
 * each other and OpenSSL's. */
#include "rt_base64.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define RT_B64_X86 1
#include <immintrin.h>
#endif

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

/* Encodes s[i..n) into d (i a multiple of 3, so d is where s[i]'s characters go). */
static size_t rt_b64_encode_from(const unsigned char *s, size_t i, size_t n, char *d)
{
    char *d0 = d;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        memcpy(d, rt_b64_pairs[v >> 12], 2);
        memcpy(d + 2, rt_b64_pairs[v & 0xfff], 2);
        d += 4;
    }
    if (i < n)
        d += rt_b64_tail(s + i, n - i, d, rt_b64_alphabet, true);
    return (size_t)(d - d0);
}

size_t rt_base64_encode_scalar(const void *in, size_t n, char *out)
{
    return rt_b64_encode_from(in, 0, n, out);
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

/* n without its padding when that is complete ("xx==" or "xxx=" ending a group of four);
 * any other '=' stays, to be refused as a character outside the alphabets. */
static size_t rt_b64_unpadded(const unsigned char *s, size_t n)
{
    if (n % 4 == 0 && n >= 4) {
        if (s[n - 1] == '=')
            n--;
        if (s[n - 1] == '=')
            n--;
    }
    return n;
}

/* Decodes the unpadded s[i..n) (i a multiple of 4) into out + i / 4 * 3, and stores the
 * bytes of the whole text in *outlen. 0, or -1 as rt_base64_decode. */
static int rt_b64_decode_from(const unsigned char *s, size_t i, size_t n, unsigned char *out,
                              size_t *outlen)
{
    unsigned char *d = out + i / 4 * 3;
    size_t tail;
    uint32_t v;

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
    *outlen = (size_t)(d - out);
    return 0;
}

int rt_base64_decode_scalar(const char *in, size_t n, void *out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;

    *outlen = 0;
    return rt_b64_decode_from(s, 0, rt_b64_unpadded(s, n), out, outlen);
}

/* ---- SSSE3 (x86-64) ----------------------------------------------------------------- */

#ifdef RT_B64_X86
#define RT_SSSE3 __attribute__((target("ssse3")))

/* libgcc reads the CPU's features once, before main or when the library is loaded;
 * this tests a bit of what it found. */
static bool rt_b64_ssse3(void)
{
    return __builtin_cpu_supports("ssse3");
}

/* Encodes the 12 bytes at the start of the 16 at p into 16 characters at d. A shuffle
 * makes each 3 bytes a b c the 16-bit words ab and bc of a 32-bit lane; the high half of
 * one multiply brings the first and third 6-bit fields to the bottom of their words, the
 * low half of another the second and fourth to the bottom of their words' high bytes, so
 * each byte holds one field. A field becomes its character by adding an offset that a
 * shuffle picks: entry 13 for 'A'-'Z' (fields 0-25), 0 for 'a'-'z' (26-51), 1-10 for the
 * digits, 11 '+', 12 '/'. */
RT_SSSE3 static inline void rt_b64_encode12(const unsigned char *p, char *d)
{
    const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const __m128i f13 = _mm_set1_epi32(0x0fc0fc00), f13_mul = _mm_set1_epi32(0x04000040);
    const __m128i f24 = _mm_set1_epi32(0x003f03f0), f24_mul = _mm_set1_epi32(0x01000010);
    const __m128i offset = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                         '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                         '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    __m128i x = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), spread);
    __m128i f = _mm_or_si128(_mm_mulhi_epu16(_mm_and_si128(x, f13), f13_mul),
                             _mm_mullo_epi16(_mm_and_si128(x, f24), f24_mul));
    __m128i k = _mm_subs_epu8(f, _mm_set1_epi8(51));

    k = _mm_or_si128(k, _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), f), _mm_set1_epi8(13)));
    _mm_storeu_si128((__m128i *)d, _mm_add_epi8(f, _mm_shuffle_epi8(offset, k)));
}

/* Encodes 12 bytes of s at a time while 16 can be loaded (never past n), two blocks a
 * turn, into d; returns the bytes done (a multiple of 12; 16 characters for each 12). */
RT_SSSE3 static size_t rt_b64_encode_ssse3(const unsigned char *s, size_t n, char *d)
{
    size_t i = 0;

    if (n < 16)
        return 0;
    for (; i + 12 <= n - 16; i += 24, d += 32) {
        rt_b64_encode12(s + i, d);
        rt_b64_encode12(s + i + 12, d + 16);
    }
    if (i <= n - 16) {
        rt_b64_encode12(s + i, d);
        i += 12;
    }
    return i;
}

/* Decodes the 16 characters at p into 12 bytes at the bottom of the result (the top 4
 * are zero), and ORs into *bad a non-zero byte for each character outside both
 * alphabets.
 *
 * Validity: the low nibble picks a set of bits, the high nibble one bit (one per high
 * nibble class: 2, 3, 4 and 6, 5, 7, and all others), and a character is valid when its
 * class's bit is not in its low nibble's set. Value: the character plus an offset picked
 * by its high nibble, moved for the low nibbles D and F so that '-' '/' '_' (and 'M' 'm'
 * 'O' 'o' with them) land on entries of their own. Then a multiply-add joins pairs of
 * 6-bit values and a second one pairs of 12-bit values, and a shuffle puts the three
 * bytes of each lane in order. */
RT_SSSE3 static inline __m128i rt_b64_decode16(const unsigned char *p, __m128i *bad)
{
    const __m128i lo_set = _mm_setr_epi8(0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
                                         0x21, 0x23, 0x3a, 0x3b, 0x3a, 0x3b, 0x32);
    const __m128i hi_bit = _mm_setr_epi8(0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x20,
                                         0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20);
    const __m128i lo_move = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 11);
    /* entry hi + lo_move[lo]: '_' 'o' '+' digits A-O P-Z a-o p-z - - '-' - 'M' '/' 'm' 'O' */
    const __m128i offset = _mm_setr_epi8(63 - '_', 26 - 'a', 62 - '+', 52 - '0', -'A', -'A',
                                         26 - 'a', 26 - 'a', 0, 0, 62 - '-', 0, -'A', 63 - '/',
                                         26 - 'a', -'A');
    const __m128i order = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_and_si128(x, nib), hi = _mm_and_si128(_mm_srli_epi32(x, 4), nib);
    __m128i v;

    *bad = _mm_or_si128(*bad, _mm_and_si128(_mm_shuffle_epi8(lo_set, lo), _mm_shuffle_epi8(hi_bit, hi)));
    v = _mm_add_epi8(x, _mm_shuffle_epi8(offset, _mm_add_epi8(hi, _mm_shuffle_epi8(lo_move, lo))));
    v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
    v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));
    return _mm_shuffle_epi8(v, order);
}

/* Decodes the unpadded s[0..n) 16 characters at a time while 16 are left, two blocks a
 * turn, into out; returns the characters done (a multiple of 16), or SIZE_MAX when one of
 * them is outside both alphabets. Each 16 become 12 bytes, written as one 16-byte store
 * while 20 characters are left (15 bytes of output to go, plus the 3 spare bytes of
 * rt_base64_decoded_max), as 8 + 4 bytes for the last block. */
RT_SSSE3 static size_t rt_b64_decode_ssse3(const unsigned char *s, size_t n, unsigned char *out)
{
    __m128i bad = _mm_setzero_si128(), v;
    size_t i = 0;
    uint32_t last;

    for (; i + 36 <= n; i += 32, out += 24) {
        _mm_storeu_si128((__m128i *)out, rt_b64_decode16(s + i, &bad));
        _mm_storeu_si128((__m128i *)(out + 12), rt_b64_decode16(s + i + 16, &bad));
    }
    if (i + 20 <= n) {
        _mm_storeu_si128((__m128i *)out, rt_b64_decode16(s + i, &bad));
        i += 16;
        out += 12;
    }
    if (i + 16 <= n) {
        v = rt_b64_decode16(s + i, &bad);
        _mm_storel_epi64((__m128i *)out, v);
        last = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 8));
        memcpy(out + 8, &last, 4);
        i += 16;
    }
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(bad, _mm_setzero_si128())) != 0xffff)
        return SIZE_MAX;
    return i;
}
#endif

/* ---- the entry points --------------------------------------------------------------- */

bool rt_base64_simd(void)
{
#ifdef RT_B64_X86
    return rt_b64_ssse3();
#else
    return false;
#endif
}

size_t rt_base64_encode(const void *in, size_t n, char *out)
{
    size_t i = 0;

#ifdef RT_B64_X86
    if (rt_b64_ssse3())
        i = rt_b64_encode_ssse3(in, n, out);
#endif
    return i / 3 * 4 + (i < n ? rt_b64_encode_from(in, i, n, out + i / 3 * 4) : 0);
}

int rt_base64_decode(const char *in, size_t n, void *out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;

    *outlen = 0;
    n = rt_b64_unpadded(s, n);
#ifdef RT_B64_X86
    if (rt_b64_ssse3())
        i = rt_b64_decode_ssse3(s, n, out);
    if (i == SIZE_MAX)
        return -1;
#endif
    return rt_b64_decode_from(s, i, n, out, outlen);
}
