/* JSON strings: their escapes decoded (\uXXXX and surrogate pairs into UTF-8), compared
 * and copied (see rt_json.h); the reader checks a string's escapes here too. */
#include "rt_json.h"

#include <string.h>

#include "rt_alloc.h"
#include "rt_json_private.h"

static int rt_json_hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t rt_json_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the one character (or escape) at *p into tmp (1 to 4 bytes, *k), moving *p past
 * it; -1 on a control character or a bad or cut escape. A lone surrogate escape is
 * U+FFFD counted in *lone (its offset from start in *first, the first time), or -1
 * without lone. */
static int rt_json_decode_one(const char **pp, const char *e, const char *start, char *tmp,
                              size_t *k, size_t *lone, size_t *first)
{
    const char *p = *pp;
    unsigned char c = (unsigned char)*p++;
    unsigned cp, lo;

    *k = 1;
    if (c < 0x20)
        return -1;
    tmp[0] = (char)c;
    if (c == '\\') {
        if (p >= e)
            return -1;
        switch (*p++) {
        case '"': tmp[0] = '"'; break;
        case '\\': tmp[0] = '\\'; break;
        case '/': tmp[0] = '/'; break;
        case 'b': tmp[0] = '\b'; break;
        case 'f': tmp[0] = '\f'; break;
        case 'n': tmp[0] = '\n'; break;
        case 'r': tmp[0] = '\r'; break;
        case 't': tmp[0] = '\t'; break;
        case 'u':
            if (rt_json_hex4(p, e, &cp) != 0)
                return -1;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 6 && p[0] == '\\' &&
                p[1] == 'u' && rt_json_hex4(p + 2, e, &lo) == 0 && lo >= 0xDC00 &&
                lo <= 0xDFFF) {
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                /* a lone one: no character, and no UTF-8 encodes it */
                if (!lone)
                    return -1;
                if ((*lone)++ == 0 && first)
                    *first = (size_t)(p - 6 - start);
                cp = 0xFFFD;
            }
            *k = rt_json_utf8(cp, tmp);
            break;
        default:
            return -1;
        }
    }
    *pp = p;
    return 0;
}

int rt_json_decode_lossy(const char *p, const char *e, char *out, size_t cap, size_t *len,
                         size_t *lone, size_t *first)
{
    const char *start = p;
    size_t o = 0;

    while (p < e) {
        char tmp[4];
        size_t k;

        if (rt_json_decode_one(&p, e, start, tmp, &k, lone, first) != 0)
            return -1;
        if (out) {
            if (cap < o + k + 1)
                return -1;
            memcpy(out + o, tmp, k);
        }
        o += k;
    }
    if (out)
        out[o] = '\0';
    if (len)
        *len = o;
    return 0;
}

int rt_json_decode(const char *p, const char *e, char *out, size_t cap, size_t *len)
{
    return rt_json_decode_lossy(p, e, out, cap, len, NULL, NULL);
}

bool rt_json_eqn(const struct rt_json_val *v, const char *lit, size_t n)
{
    const char *p, *e;
    size_t o = 0;

    if (v->type != RT_JSON_STRING)
        return false;
    /* an escape takes more bytes than the text it stands for (2 to 12 for 1 to 4), and
     * at most 6 per byte of text */
    if (v->n == n)
        return memcmp(v->s, lit, n) == 0 && !memchr(v->s, '\\', n);
    if (v->n < n || v->n > 6 * n || !memchr(v->s, '\\', v->n))
        return false;
    /* decoded a character at a time against lit: no buffer, so no bound on the length */
    for (p = v->s, e = v->s + v->n; p < e;) {
        char tmp[4];
        size_t k;

        if (rt_json_decode_one(&p, e, v->s, tmp, &k, NULL, NULL) != 0 || k > n - o ||
            memcmp(lit + o, tmp, k) != 0)
            return false;
        o += k;
    }
    return o == n;
}

int rt_json_unescape(const struct rt_json_val *v, char *out, size_t cap, size_t *len)
{
    if (v->type != RT_JSON_STRING || cap == 0)
        return -1;
    return rt_json_decode(v->s, v->s + v->n, out, cap, len);
}

int rt_json_unescape_lossy(const struct rt_json_val *v, char *out, size_t cap, size_t *len,
                           size_t *lone, size_t *first)
{
    size_t none = 0;

    if (v->type != RT_JSON_STRING || cap == 0)
        return -1;
    return rt_json_decode_lossy(v->s, v->s + v->n, out, cap, len, lone ? lone : &none, first);
}

char *rt_json_strdup(const struct rt_json_val *v, size_t *len, bool *oom)
{
    char *out;

    if (oom)
        *oom = false;
    if (v->type != RT_JSON_STRING)
        return NULL;
    out = rt_malloc(v->n + 1);
    if (!out) {
        if (oom)
            *oom = true;
        return NULL;
    }
    if (rt_json_decode(v->s, v->s + v->n, out, v->n + 1, len) != 0) {
        explicit_bzero(out, v->n + 1);
        rt_free(out);
        return NULL;
    }
    return out;
}
