/* The server-message scanner as it was before rt_json (csrc/core/rt_resume.c at commit
 * d5bf492), kept only so bench/c/scan_bench.c can compare the two. A byte-at-a-time
 * tokenizer with an explicit stack. Not built into the library. */
#include <stdint.h>
#include <string.h>

#include "rt_resume.h"

int rt_scan_server_old(const char *text, size_t len, struct rt_scan *out);

#define RT_SCAN_DEPTH 64

struct rt_level {
    bool obj;            /* an object (else an array) */
    bool want_key;       /* object: the next string is a key */
    const char *key;     /* object: the current key (raw, between its quotes) */
    size_t klen;
};

static bool rt_key_is(const struct rt_level *l, const char *k)
{
    size_t n = strlen(k);
    return l->obj && l->key && l->klen == n && memcmp(l->key, k, n) == 0;
}

static bool rt_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool rt_is_scalar_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '+' || c == '-' || c == '.';
}

/* Reads a non-negative decimal integer (the whole text); false on anything else or
 * overflow. */
static bool rt_parse_index(const char *p, size_t n, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (!n || n > 19)
        return false;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        if (v > (INT64_MAX - (p[i] - '0')) / 10)
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Reads a protobuf Duration ("12s", "1.5s") or a plain number of seconds, without the
 * locale; -1 when unreadable. Capped at a day. */
static double rt_parse_duration(const char *p, size_t n)
{
    double v = 0, scale = 0.1;
    size_t i = 0;
    bool digits = false;

    if (n && p[n - 1] == 's')
        n--;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        digits = true;
        if (v < 86400)
            v = v * 10 + (p[i] - '0');
    }
    if (i < n && p[i] == '.') {
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            digits = true;
            v += (p[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (!digits || i != n)
        return -1;
    return v > 86400 ? 86400 : v;
}

/* A value begins at depth `depth` (1 = a member of the top-level object): note what
 * its path means. s/sn is the value's text (a string's content without quotes, or a
 * scalar), NULL for objects and arrays. */
static void rt_scan_value(struct rt_scan *o, const struct rt_level *st, int depth,
                          const char *s, size_t sn, bool is_string)
{
    bool is_true = !is_string && s && sn == 4 && memcmp(s, "true", 4) == 0;

    if (depth == 1) {
        const struct rt_level *top = &st[0];
        if (rt_key_is(top, "setupComplete"))
            o->setup_complete = true;
        else if (rt_key_is(top, "toolCall"))
            o->tool_call = true;
        else if (rt_key_is(top, "goAway"))
            o->go_away = true;
        else if (rt_key_is(top, "sessionResumptionUpdate"))
            o->update = true;
        return;
    }
    if (depth != 2 || !st[1].obj)
        return;
    if (rt_key_is(&st[0], "serverContent")) {
        if (rt_key_is(&st[1], "modelTurn"))
            o->model_output = true;
        else if (rt_key_is(&st[1], "turnComplete"))
            o->turn_complete = is_true;
        else if (rt_key_is(&st[1], "generationComplete"))
            o->generation_complete = is_true;
        else if (rt_key_is(&st[1], "interrupted"))
            o->interrupted = is_true;
    } else if (rt_key_is(&st[0], "goAway")) {
        if (rt_key_is(&st[1], "timeLeft") && s)
            o->time_left = rt_parse_duration(s, sn);
    } else if (rt_key_is(&st[0], "sessionResumptionUpdate")) {
        if (rt_key_is(&st[1], "newHandle") && is_string) {
            o->handle = s;
            o->handle_len = sn;
        } else if (rt_key_is(&st[1], "resumable")) {
            o->resumable = is_true;
        } else if (rt_key_is(&st[1], "lastConsumedClientMessageIndex") && s) {
            o->has_index = rt_parse_index(s, sn, &o->last_index);
        }
    }
}

int rt_scan_server_old(const char *text, size_t len, struct rt_scan *out)
{
    struct rt_level st[RT_SCAN_DEPTH];
    int depth = 0;        /* open containers, including ones deeper than the stack */
    bool started = false;
    size_t i = 0;

    memset(out, 0, sizeof *out);
    out->time_left = -1;
    if (!text)
        return -1;
    while (i < len) {
        char c = text[i];
        struct rt_level *cur = depth > 0 && depth <= RT_SCAN_DEPTH ? &st[depth - 1] : NULL;

        if (rt_is_ws(c) || c == ':') {
            i++;
            continue;
        }
        if (started && depth == 0)
            return -1;               /* something after the top-level object */
        if (!started && c != '{')
            return -1;
        if (c == ',') {
            if (cur && cur->obj)
                cur->want_key = true;
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            if (depth == 0)
                return -1;
            if (cur && cur->obj != (c == '}'))
                return -1;
            depth--;
            i++;
            continue;
        }
        if (c == '"') {
            size_t start = ++i;
            while (i < len && text[i] != '"') {
                if (text[i] == '\\')
                    i++;
                i++;
            }
            if (i >= len)
                return -1;           /* unterminated string */
            if (cur && cur->obj && cur->want_key) {
                cur->key = text + start;
                cur->klen = i - start;
                cur->want_key = false;
            } else if (depth <= RT_SCAN_DEPTH) {
                rt_scan_value(out, st, depth, text + start, i - start, true);
            }
            i++;
            continue;
        }
        if (c == '{' || c == '[') {
            if (cur && cur->obj && cur->want_key)
                return -1;           /* a container where a key belongs */
            if (depth > 0 && depth <= RT_SCAN_DEPTH)
                rt_scan_value(out, st, depth, NULL, 0, false);
            if (depth < RT_SCAN_DEPTH) {
                st[depth].obj = c == '{';
                st[depth].want_key = c == '{';
                st[depth].key = NULL;
                st[depth].klen = 0;
            }
            if (depth == INT32_MAX)
                return -1;
            depth++;
            started = true;
            i++;
            continue;
        }
        if (rt_is_scalar_char(c)) {
            size_t start = i;
            while (i < len && rt_is_scalar_char(text[i]))
                i++;
            if (cur && cur->obj && cur->want_key)
                return -1;
            if (depth <= RT_SCAN_DEPTH)
                rt_scan_value(out, st, depth, text + start, i - start, false);
            continue;
        }
        return -1;                   /* a byte no JSON token starts with */
    }
    return started && depth == 0 ? 0 : -1;
}

