/* libFuzzer target: the core's JSON reader (rt_json) in both modes. Any input must be
 * read without going out of bounds; what the strict mode accepts the lenient mode must
 * accept too; and in a strictly valid text every string must decode, to at most its raw
 * length, and every key must compare equal to its own decoded text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes a string the strict reader accepted: must succeed and fit its raw length. */
static void rt_fz_string(const struct rt_json_val *v, bool key)
{
    size_t len;
    bool oom;
    char *s = rt_json_strdup(v, &len, &oom);

    if (!s || len > v->n)
        abort();
    if (key && strlen(s) == len && len < 200 && !rt_json_eq(v, s))
        abort();
    rt_free(s);
}

/* Visits every value of a strictly valid text with an explicit stack. */
static void rt_fz_walk(const char *text, size_t len)
{
    struct rt_json r;
    struct rt_json_val stack[RT_JSON_DEPTH + 1], k, v;
    int top = 0;

    rt_json_init(&r, text, len, RT_JSON_STRICT);
    if (rt_json_root(&r, &stack[0]) != RT_JSON_OBJECT)
        abort();
    for (;;) {
        bool more = stack[top].type == RT_JSON_OBJECT ? rt_json_member(&r, &stack[top], &k, &v)
                                                      : rt_json_element(&r, &stack[top], &v);
        if (!more) {
            if (rt_json_failed(&r))
                abort();
            if (top == 0)
                break;
            top--;
            continue;
        }
        if (stack[top].type == RT_JSON_OBJECT)
            rt_fz_string(&k, true);
        if (v.type == RT_JSON_STRING)
            rt_fz_string(&v, false);
        if ((v.type == RT_JSON_OBJECT || v.type == RT_JSON_ARRAY) && top < RT_JSON_DEPTH)
            stack[++top] = v;
    }
    if (rt_json_finish(&r) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct rt_json r;
    struct rt_json_val v;
    char out[64];
    size_t len;
    int lenient;

    rt_json_init(&r, text, size, 0);
    rt_json_root(&r, &v);
    lenient = rt_json_finish(&r);
    if (rt_json_check(text, size) == 0) {
        if (lenient != 0)
            abort();
        rt_fz_walk(text, size);
        (void)rt_json_find(text, size, "error.message", &v);
    }
    /* the whole input as a string's content: decoding must stay in bounds */
    v.type = RT_JSON_STRING;
    v.s = text;
    v.n = size;
    (void)rt_json_unescape(&v, out, sizeof out, &len);
    (void)rt_json_eq(&v, "setupComplete");
    return 0;
}
