/* A tiny, strict JSON reader for token endpoint answers (see rt_auth_json.h). */
#include "rt_auth_json.h"

#include <stdbool.h>
#include <string.h>

#include "rt_alloc.h"

#define RT_AUTH_JSON_DEPTH 32

struct rt_jr {
    const char *p;     /* next byte; borrowed from the caller's text */
    const char *end;
};

static void rt_jr_ws(struct rt_jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int rt_jr_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t rt_jr_utf8(unsigned cp, char *out)
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

/* Reads a string at r->p (which is '"'). When out is not NULL it receives the decoded
 * bytes (it must have room for the raw length) and *outlen their count. */
static int rt_jr_string(struct rt_jr *r, char *out, size_t *outlen)
{
    if (r->p >= r->end || *r->p != '"') return -1;
    r->p++;
    size_t o = 0;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') {
            if (outlen) *outlen = o;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c != '\\') {
            if (out) out[o] = (char)c;
            o++;
            continue;
        }
        if (r->p >= r->end) return -1;
        char e = *r->p++;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (r->end - r->p < 4 || rt_jr_hex4(r->p, &cp) != 0) return -1;
            r->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u'
                    || rt_jr_hex4(r->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                r->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            char tmp[4];
            size_t n = rt_jr_utf8(cp, tmp);
            if (out) memcpy(out + o, tmp, n);
            o += n;
            continue;
        }
        default:
            return -1;
        }
        if (out) out[o] = ch;
        o++;
    }
    return -1;
}

static bool rt_jr_digit(const struct rt_jr *r)
{
    return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

/* Reads a number (JSON grammar) without the C locale's help. */
static int rt_jr_number(struct rt_jr *r, double *out)
{
    bool neg = false;
    double v = 0;
    if (r->p < r->end && *r->p == '-') {
        neg = true;
        r->p++;
    }
    if (!rt_jr_digit(r)) return -1;
    if (*r->p == '0') {
        r->p++;
    } else {
        while (rt_jr_digit(r)) v = v * 10 + (*r->p++ - '0');
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!rt_jr_digit(r)) return -1;
        double scale = 0.1;
        while (rt_jr_digit(r)) {
            v += (*r->p++ - '0') * scale;
            scale /= 10;
        }
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        bool eneg = false;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) eneg = *r->p++ == '-';
        if (!rt_jr_digit(r)) return -1;
        int e = 0;
        while (rt_jr_digit(r)) {
            if (e < 1000) e = e * 10 + (*r->p - '0');
            r->p++;
        }
        for (int i = 0; i < e && v != 0; i++) v = eneg ? v / 10 : v * 10;
    }
    *out = neg ? -v : v;
    return 0;
}

static int rt_jr_literal(struct rt_jr *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return -1;
    r->p += n;
    return 0;
}

static int rt_jr_skip(struct rt_jr *r, int depth);

/* Walks the members of the object at r->p, calling visit for each key with r->p at
 * its value; visit must consume the value. */
typedef int (*rt_jr_visit)(struct rt_jr *r, const char *key, size_t keylen, void *ud, int depth);

static int rt_jr_object(struct rt_jr *r, int depth, rt_jr_visit visit, void *ud)
{
    if (depth > RT_AUTH_JSON_DEPTH || r->p >= r->end || *r->p != '{') return -1;
    r->p++;
    rt_jr_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    char keybuf[128];
    for (;;) {
        rt_jr_ws(r);
        const char *start = r->p;
        struct rt_jr probe = *r;
        if (rt_jr_string(&probe, NULL, NULL) != 0) return -1;
        size_t raw = (size_t)(probe.p - start);
        size_t keylen = 0;
        bool fits = raw < sizeof keybuf;
        if (rt_jr_string(r, fits ? keybuf : NULL, &keylen) != 0) return -1;
        rt_jr_ws(r);
        if (r->p >= r->end || *r->p != ':') return -1;
        r->p++;
        rt_jr_ws(r);
        int rc = visit && fits ? visit(r, keybuf, keylen, ud, depth) : rt_jr_skip(r, depth + 1);
        if (rc != 0) return -1;
        rt_jr_ws(r);
        if (r->p >= r->end) return -1;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == '}') {
            r->p++;
            return 0;
        }
        return -1;
    }
}

static int rt_jr_skip(struct rt_jr *r, int depth)
{
    if (depth > RT_AUTH_JSON_DEPTH) return -1;
    rt_jr_ws(r);
    if (r->p >= r->end) return -1;
    double d;
    switch (*r->p) {
    case '{':
        return rt_jr_object(r, depth, NULL, NULL);
    case '[':
        r->p++;
        rt_jr_ws(r);
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return 0;
        }
        for (;;) {
            if (rt_jr_skip(r, depth + 1) != 0) return -1;
            rt_jr_ws(r);
            if (r->p >= r->end) return -1;
            if (*r->p == ',') {
                r->p++;
                continue;
            }
            if (*r->p == ']') {
                r->p++;
                return 0;
            }
            return -1;
        }
    case '"':
        return rt_jr_string(r, NULL, NULL);
    case 't':
        return rt_jr_literal(r, "true");
    case 'f':
        return rt_jr_literal(r, "false");
    case 'n':
        return rt_jr_literal(r, "null");
    default:
        return rt_jr_number(r, &d);
    }
}

/* Parses a whole document that must be one object, visiting its members. */
static int rt_jr_document(const char *json, size_t len, rt_jr_visit visit, void *ud)
{
    struct rt_jr r = { json, json + len };
    rt_jr_ws(&r);
    if (rt_jr_object(&r, 1, visit, ud) != 0) return -1;
    rt_jr_ws(&r);
    return r.p == r.end ? 0 : -1;
}

int rt_auth_json_check(const char *json, size_t len)
{
    return json ? rt_jr_document(json, len, NULL, NULL) : -1;
}

struct rt_jr_lookup {
    const char *key;
    const char *inner;      /* second-level key, or NULL */
    int type;
    char **str;
    double *num;
    bool oom;
};

static int rt_jr_take(struct rt_jr *r, struct rt_jr_lookup *q, int depth)
{
    if (r->p >= r->end) return -1;
    if (*r->p == '"') {
        const char *start = r->p;
        struct rt_jr probe = *r;
        if (rt_jr_string(&probe, NULL, NULL) != 0) return -1;
        size_t raw = (size_t)(probe.p - start);
        char *s = q->str ? rt_malloc(raw + 1) : NULL;
        if (q->str && !s) {
            q->oom = true;
            return -1;
        }
        size_t n = 0;
        if (rt_jr_string(r, s, &n) != 0) {
            rt_free(s);
            return -1;
        }
        if (s) {
            s[n] = '\0';
            if (*q->str) {
                explicit_bzero(*q->str, strlen(*q->str));
                rt_free(*q->str);
            }
            *q->str = s;
        }
        q->type = RT_AUTH_JSON_STRING;
        return 0;
    }
    if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
        double d;
        if (rt_jr_number(r, &d) != 0) return -1;
        if (q->num) *q->num = d;
        q->type = RT_AUTH_JSON_NUMBER;
        return 0;
    }
    if (rt_jr_skip(r, depth + 1) != 0) return -1;
    q->type = RT_AUTH_JSON_OTHER;
    return 0;
}

static int rt_jr_visit_inner(struct rt_jr *r, const char *key, size_t keylen, void *ud, int depth)
{
    struct rt_jr_lookup *q = ud;
    if (strlen(q->inner) == keylen && memcmp(key, q->inner, keylen) == 0)
        return rt_jr_take(r, q, depth);
    return rt_jr_skip(r, depth + 1);
}

static int rt_jr_visit_outer(struct rt_jr *r, const char *key, size_t keylen, void *ud, int depth)
{
    struct rt_jr_lookup *q = ud;
    if (strlen(q->key) != keylen || memcmp(key, q->key, keylen) != 0)
        return rt_jr_skip(r, depth + 1);
    if (!q->inner) return rt_jr_take(r, q, depth);
    if (r->p < r->end && *r->p == '{') return rt_jr_object(r, depth + 1, rt_jr_visit_inner, q);
    return rt_jr_skip(r, depth + 1);
}

static int rt_jr_lookup(const char *json, size_t len, const char *key, const char *inner,
                        char **str, double *num)
{
    if (str) *str = NULL;
    if (!json || !key) return -1;
    struct rt_jr_lookup q = { key, inner, RT_AUTH_JSON_MISSING, str, num, false };
    if (rt_jr_document(json, len, rt_jr_visit_outer, &q) != 0) {
        if (str && *str) {
            explicit_bzero(*str, strlen(*str));
            rt_free(*str);
            *str = NULL;
        }
        return -1;
    }
    return q.type;
}

int rt_auth_json_get(const char *json, size_t len, const char *key, char **str, double *num)
{
    return rt_jr_lookup(json, len, key, NULL, str, num);
}

int rt_auth_json_get2(const char *json, size_t len, const char *obj, const char *key, char **str,
                      double *num)
{
    return rt_jr_lookup(json, len, obj, key, str, num);
}
