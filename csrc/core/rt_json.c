/* The core's JSON reader (see rt_json.h). */
#include "rt_json.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_json_private.h"

/* ==================================================================== */
/*  T O K E N S                                                         */
/* ==================================================================== */

static bool rt_json_fail(struct rt_json *r)
{
    r->failed = true;
    return false;
}

static int rt_json_bad(struct rt_json *r)
{
    r->failed = true;
    return -1;
}

/* Skips white space. Pretty-printed messages (the service's and the simulator's) indent
 * with runs of spaces, which are crossed eight bytes at a time where the byte order
 * allows: the first byte of a word that is not a space ends the run. */
static void rt_json_ws_run(struct rt_json *r)
{
    const char *p = r->p, *end = r->end;

    while (p < end) {
        if (*p == ' ') {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            uint64_t w;
            while (end - p >= 8) {
                memcpy(&w, p, 8);
                w ^= 0x2020202020202020u;
                if (w) {
                    p += __builtin_ctzll(w) / 8;
                    break;
                }
                p += 8;
            }
            if (p < end && *p == ' ')
                p++;
#else
            p++;
#endif
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            p++;
        } else {
            break;
        }
    }
    r->p = p;
}

/* Most tokens follow one another without white space: that case costs one test. */
static inline void rt_json_ws(struct rt_json *r)
{
    if (r->p < r->end && (unsigned char)*r->p <= ' ')
        rt_json_ws_run(r);
}

static bool rt_json_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Reads the string at r->p (a '"'). The closing quote is found with memchr: a quote
 * preceded by an odd run of backslashes is escaped, so the search goes on past it. */
static bool rt_json_string(struct rt_json *r, struct rt_json_val *v)
{
    const char *s = r->p + 1, *q = s, *e, *b;

    for (;;) {
        e = memchr(q, '"', (size_t)(r->end - q));
        if (!e)
            return rt_json_fail(r);
        for (b = e; b > s && b[-1] == '\\'; b--)
            ;
        if (((e - b) & 1) == 0)
            break;
        q = e + 1;
    }
    if (r->strict && rt_json_decode(s, e, NULL, 0, NULL) != 0)
        return rt_json_fail(r);
    v->type = RT_JSON_STRING;
    v->s = s;
    v->n = (size_t)(e - s);
    v->depth = 0;
    r->p = e + 1;
    return true;
}

/* Reads a number of the JSON grammar; what follows it is checked by the caller's next
 * read (a delimiter must come). */
static bool rt_json_scan_number(struct rt_json *r, struct rt_json_val *v)
{
    const char *p = r->p, *end = r->end;

    if (p < end && *p == '-')
        p++;
    if (!rt_json_digit(p, end))
        return rt_json_fail(r);
    if (*p == '0')
        p++;
    else
        while (rt_json_digit(p, end))
            p++;
    if (p < end && *p == '.') {
        p++;
        if (!rt_json_digit(p, end))
            return rt_json_fail(r);
        while (rt_json_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!rt_json_digit(p, end))
            return rt_json_fail(r);
        while (rt_json_digit(p, end))
            p++;
    }
    v->type = RT_JSON_NUMBER;
    v->s = r->p;
    v->n = (size_t)(p - r->p);
    v->depth = 0;
    r->p = p;
    return true;
}

static bool rt_json_literal(struct rt_json *r, struct rt_json_val *v, const char *word,
                            enum rt_json_type type)
{
    size_t n = strlen(word);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return rt_json_fail(r);
    v->type = type;
    v->s = r->p;
    v->n = n;
    v->depth = 0;
    r->p += n;
    return true;
}

/* Lenient mode, below the tracked depth: crosses the container at r->p by counting
 * brackets (strings still crossed whole). */
static bool rt_json_skip_deep(struct rt_json *r)
{
    size_t open = 0;
    struct rt_json_val s;

    while (r->p < r->end) {
        char c = *r->p;
        if (c == '"') {
            if (!rt_json_string(r, &s))
                return false;
            continue;
        }
        r->p++;
        if (c == '{' || c == '[') {
            open++;
        } else if (c == '}' || c == ']') {
            if (--open == 0)
                return true;
        }
    }
    return rt_json_fail(r);
}

/* Reads the container head at r->p: the reader steps inside it. */
static bool rt_json_open(struct rt_json *r, struct rt_json_val *v, bool obj)
{
    v->type = obj ? RT_JSON_OBJECT : RT_JSON_ARRAY;
    v->s = r->p;
    v->n = 1;
    if (r->depth >= RT_JSON_DEPTH) {
        if (r->strict || !rt_json_skip_deep(r))
            return rt_json_fail(r);
        v->depth = r->depth + 1;          /* already behind: nothing to visit */
        r->state = RT_JSON_AFTER;
        return true;
    }
    r->p++;
    r->depth++;
    {
        uint64_t bit = (uint64_t)1 << ((r->depth - 1) % 64), *w = &r->objects[(r->depth - 1) / 64];
        *w = obj ? *w | bit : *w & ~bit;
    }
    r->state = RT_JSON_OPENED;
    v->depth = r->depth;
    return true;
}

/* Reads the value at r->p (white space already skipped). */
static bool rt_json_value(struct rt_json *r, struct rt_json_val *v)
{
    bool ok;

    if (r->p >= r->end)
        return rt_json_fail(r);
    switch (*r->p) {
    case '{':
        return rt_json_open(r, v, true);
    case '[':
        return rt_json_open(r, v, false);
    case '"':
        ok = rt_json_string(r, v);
        break;
    case 't':
        ok = rt_json_literal(r, v, "true", RT_JSON_TRUE);
        break;
    case 'f':
        ok = rt_json_literal(r, v, "false", RT_JSON_FALSE);
        break;
    case 'n':
        ok = rt_json_literal(r, v, "null", RT_JSON_NULL);
        break;
    default:
        ok = rt_json_scan_number(r, v);
        break;
    }
    if (ok)
        r->state = RT_JSON_AFTER;
    return ok;
}

/* ==================================================================== */
/*  W A L K I N G                                                       */
/* ==================================================================== */

static bool rt_json_in_object(const struct rt_json *r)
{
    return (r->objects[(r->depth - 1) / 64] >> ((r->depth - 1) % 64)) & 1;
}

/* One move inside the innermost open container: reads its next member (into *key and
 * *val) or element (into *val) and returns 1, or consumes its closing bracket and
 * returns 0; -1 on a failure. */
static int rt_json_step(struct rt_json *r, struct rt_json_val *key, struct rt_json_val *val)
{
    bool obj = rt_json_in_object(r);
    char close = obj ? '}' : ']';

    rt_json_ws(r);
    if (r->p >= r->end)
        return rt_json_bad(r);
    if (r->state != RT_JSON_NEED && *r->p == close) {
        r->p++;
        r->depth--;
        r->state = RT_JSON_AFTER;
        return 0;
    }
    if (r->state == RT_JSON_AFTER) {
        if (*r->p != ',')
            return rt_json_bad(r);
        r->p++;
        r->state = RT_JSON_NEED;
        rt_json_ws(r);
        if (r->p >= r->end)
            return rt_json_bad(r);
    }
    if (obj) {
        if (*r->p != '"' || !rt_json_string(r, key))
            return rt_json_bad(r);
        rt_json_ws(r);
        if (r->p >= r->end || *r->p != ':')
            return rt_json_bad(r);
        r->p++;
        rt_json_ws(r);
    }
    return rt_json_value(r, val) ? 1 : -1;
}

/* Reads on until only `depth` containers are open. */
static bool rt_json_skip_to(struct rt_json *r, unsigned depth)
{
    struct rt_json_val k, v;

    while (r->depth > depth)
        if (rt_json_step(r, &k, &v) < 0)
            return false;
    return true;
}

void rt_json_init(struct rt_json *r, const char *text, size_t len, unsigned flags)
{
    r->p = text;
    r->end = text ? text + len : text;
    r->depth = 0;
    r->state = RT_JSON_OPENED;
    r->strict = (flags & RT_JSON_STRICT) != 0;
    r->failed = text == NULL;
}

enum rt_json_type rt_json_root(struct rt_json *r, struct rt_json_val *v)
{
    v->type = RT_JSON_NONE;
    if (r->failed || r->depth != 0 || r->state != RT_JSON_OPENED) {
        r->failed = true;
        return RT_JSON_NONE;
    }
    rt_json_ws(r);
    if (!rt_json_value(r, v)) {
        v->type = RT_JSON_NONE;
        return RT_JSON_NONE;
    }
    return v->type;
}

/* Brings the reader back to the container c (still open, the innermost one at its
 * depth) and makes one move in it. */
static bool rt_json_next_in(struct rt_json *r, const struct rt_json_val *c, bool obj,
                            struct rt_json_val *key, struct rt_json_val *val)
{
    val->type = RT_JSON_NONE;
    if (r->failed || c->type != (obj ? RT_JSON_OBJECT : RT_JSON_ARRAY) || c->depth == 0 ||
        r->depth < c->depth)
        return false;
    if (!rt_json_skip_to(r, c->depth))
        return false;
    if (rt_json_in_object(r) != obj)
        return false;
    if (rt_json_step(r, key, val) != 1) {
        val->type = RT_JSON_NONE;
        return false;
    }
    return true;
}

bool rt_json_member(struct rt_json *r, const struct rt_json_val *obj, struct rt_json_val *key,
                    struct rt_json_val *val)
{
    return rt_json_next_in(r, obj, true, key, val);
}

bool rt_json_element(struct rt_json *r, const struct rt_json_val *arr, struct rt_json_val *val)
{
    struct rt_json_val unused;

    return rt_json_next_in(r, arr, false, &unused, val);
}

int rt_json_finish(struct rt_json *r)
{
    if (r->failed || !rt_json_skip_to(r, 0) || r->state != RT_JSON_AFTER)
        return -1;
    rt_json_ws(r);
    return r->p == r->end ? 0 : -1;
}

bool rt_json_failed(const struct rt_json *r)
{
    return r->failed;
}

/* ==================================================================== */
/*  N U M B E R S                                                       */
/* ==================================================================== */

/* The C locale for strtod_l: the text's '.' is the decimal point whatever the process's
 * LC_NUMERIC says. */
static locale_t rt_json_c_locale;
static pthread_once_t rt_json_locale_once = PTHREAD_ONCE_INIT;

static void rt_json_locale_init(void)
{
    rt_json_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

int rt_json_number(const struct rt_json_val *v, double *out)
{
    char small[64], *buf = small;
    const char *p;
    uint64_t u = 0;
    size_t i = 0;
    int r = 0;

    if (v->type != RT_JSON_NUMBER || v->n == 0)
        return -1;
    /* An integer of up to 15 digits is exact as a double: no parse needed. */
    p = v->s;
    if (*p == '-')
        i++;
    for (; i < v->n && i < 16 && p[i] >= '0' && p[i] <= '9'; i++)
        u = u * 10 + (uint64_t)(p[i] - '0');
    if (i == v->n && i < 16) {
        *out = *p == '-' ? -(double)u : (double)u;
        return 0;
    }
    /* Anything else is rounded correctly by strtod_l. */
    if (pthread_once(&rt_json_locale_once, rt_json_locale_init) != 0 || !rt_json_c_locale)
        return -1;
    if (v->n >= sizeof small && !(buf = rt_malloc(v->n + 1)))
        return -1;
    memcpy(buf, v->s, v->n);
    buf[v->n] = '\0';
    {
        char *e;
        double d = strtod_l(buf, &e, rt_json_c_locale);
        if (e != buf + v->n)
            r = -1;
        else
            *out = d;
    }
    if (buf != small)
        rt_free(buf);
    return r;
}

int rt_json_integer(const struct rt_json_val *v, int64_t *out)
{
    const char *p, *end;
    bool neg;
    uint64_t u = 0, max;

    if (v->type != RT_JSON_NUMBER || v->n == 0)
        return -1;
    p = v->s;
    end = v->s + v->n;
    neg = *p == '-';
    p += neg;
    if (p == end)
        return -1;
    /* |INT64_MIN| is one more than INT64_MAX */
    max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || u > (max - d) / 10)
            return -1;   /* a fraction, an exponent, or beyond int64_t */
        u = u * 10 + d;
    }
    *out = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
    return 0;
}

/* ==================================================================== */
/*  W H O L E   D O C U M E N T S                                       */
/* ==================================================================== */

int rt_json_check(const char *text, size_t len)
{
    struct rt_json r;
    struct rt_json_val root;

    rt_json_init(&r, text, len, RT_JSON_STRICT);
    if (rt_json_root(&r, &root) != RT_JSON_OBJECT)
        return -1;
    return rt_json_finish(&r);
}

#define RT_JSON_FIND_LEVELS 8

int rt_json_find(const char *text, size_t len, const char *path, struct rt_json_val *val)
{
    struct rt_json r;
    struct rt_json_val level[RT_JSON_FIND_LEVELS], key, v, found = { RT_JSON_NONE, NULL, 0, 0 };
    const char *seg[RT_JSON_FIND_LEVELS];
    size_t segn[RT_JSON_FIND_LEVELS];
    int nseg = 0, d = 0;
    const char *p = path;

    if (!path)
        return -1;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (nseg == RT_JSON_FIND_LEVELS)
            return -1;
        seg[nseg] = p;
        segn[nseg++] = n;
        if (!dot)
            break;
        p = dot + 1;
    }
    rt_json_init(&r, text, len, RT_JSON_STRICT);
    if (rt_json_root(&r, &level[0]) != RT_JSON_OBJECT)
        return -1;
    for (;;) {
        if (!rt_json_member(&r, &level[d], &key, &v)) {
            if (r.failed)
                return -1;
            if (d == 0)
                break;
            d--;
            continue;
        }
        if (!rt_json_eqn(&key, seg[d], segn[d]))
            continue;
        if (d == nseg - 1)
            found = v;
        else if (v.type == RT_JSON_OBJECT)
            level[++d] = v;
    }
    if (rt_json_finish(&r) != 0)
        return -1;
    if (val)
        *val = found;
    return (int)found.type;
}
