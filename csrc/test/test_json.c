/* rt_json: walking, skipping, both modes' checks, escapes, numbers, whole-document
 * lookups, and the bounds (deep nesting, backslash runs before quotes, cut texts). */
#include <stdlib.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_json.h"
#include "rt_test.h"

static int check(const char *s)
{
    return rt_json_check(s, strlen(s));
}

/* Scans s leniently to its end: 0 or -1. */
static int lenient(const char *s, size_t n)
{
    struct rt_json r;
    struct rt_json_val v;

    rt_json_init(&r, s, n, 0);
    rt_json_root(&r, &v);
    return rt_json_finish(&r);
}

static void test_walk(void)
{
    const char *t = "{ \"a\" : [1, {\"x\": \"skip me\"}, true],\n \"b\": {\"c\": null, \"d\": -2.5e1},"
                    " \"e\": \"\\\"q\\\"\" }";
    struct rt_json r;
    struct rt_json_val root, k, v, el, k2, v2;
    double d = 0;
    int n = 0;

    rt_json_init(&r, t, strlen(t), RT_JSON_STRICT);
    RT_CHECK(rt_json_root(&r, &root) == RT_JSON_OBJECT && root.depth == 1);
    RT_CHECK(rt_json_member(&r, &root, &k, &v) && rt_json_eq(&k, "a") && v.type == RT_JSON_ARRAY);
    RT_CHECK(rt_json_element(&r, &v, &el) && el.type == RT_JSON_NUMBER && el.n == 1 && *el.s == '1');
    RT_CHECK(rt_json_element(&r, &v, &el) && el.type == RT_JSON_OBJECT);
    /* the object is left unread: the next element skips it */
    RT_CHECK(rt_json_element(&r, &v, &el) && el.type == RT_JSON_TRUE);
    RT_CHECK(!rt_json_element(&r, &v, &el) && el.type == RT_JSON_NONE && !rt_json_failed(&r));
    RT_CHECK(rt_json_member(&r, &root, &k, &v) && rt_json_eq(&k, "b") && v.type == RT_JSON_OBJECT);
    while (rt_json_member(&r, &v, &k2, &v2)) {
        n++;
        if (rt_json_eq(&k2, "d"))
            RT_CHECK(rt_json_number(&v2, &d) == 0 && d == -25);
        else
            RT_CHECK(rt_json_eq(&k2, "c") && v2.type == RT_JSON_NULL);
    }
    RT_CHECK(n == 2);
    RT_CHECK(rt_json_member(&r, &root, &k, &v) && rt_json_eq(&k, "e") && v.type == RT_JSON_STRING);
    RT_CHECK(v.n == 5 && memcmp(v.s, "\\\"q\\\"", 5) == 0);
    RT_CHECK(!rt_json_member(&r, &root, &k, &v));
    RT_CHECK(rt_json_finish(&r) == 0);

    /* stopping early: finish skips the rest and still checks it */
    rt_json_init(&r, t, strlen(t), RT_JSON_STRICT);
    RT_CHECK(rt_json_root(&r, &root) == RT_JSON_OBJECT);
    RT_CHECK(rt_json_member(&r, &root, &k, &v));
    RT_CHECK(rt_json_finish(&r) == 0);
    rt_json_init(&r, "{\"a\":[1,]}", 10, 0);
    RT_CHECK(rt_json_root(&r, &root) == RT_JSON_OBJECT && rt_json_finish(&r) == -1);

    /* a scalar root; misuse answers false without reading */
    rt_json_init(&r, " 12 ", 4, RT_JSON_STRICT);
    RT_CHECK(rt_json_root(&r, &v) == RT_JSON_NUMBER && v.n == 2);
    RT_CHECK(!rt_json_member(&r, &v, &k, &v2));
    RT_CHECK(rt_json_finish(&r) == 0);
    rt_json_init(&r, "[]", 2, 0);
    RT_CHECK(rt_json_root(&r, &v) == RT_JSON_ARRAY);
    RT_CHECK(!rt_json_member(&r, &v, &k, &v2) && !rt_json_failed(&r));
    RT_CHECK(!rt_json_element(&r, &v, &el) && rt_json_finish(&r) == 0);
}

static void test_strict_rejects(void)
{
    static const char *bad[] = {
        "", " ", "[]", "\"x\"", "{", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":+1}",
        "{\"a\":1} x", "{\"a\":1}}", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}", "{\"a\":[1}",
        "{\"a\":{]}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{1:2}",
        "{\"a\":\"b}", "{\"a\":\"b\\\"}", "{'a':1}", "{\"a\":[1,2", NULL,
    };
    int i;

    for (i = 0; bad[i]; i++) {
        if (check(bad[i]) != -1)
            printf("# accepted: %s\n", bad[i]);
        RT_CHECK(check(bad[i]) == -1);
    }
    RT_CHECK(rt_json_check(NULL, 0) == -1);
    RT_CHECK(check("{}") == 0 && check(" {\"a\" : [ ] , \"b\":{}}\n") == 0);
    RT_CHECK(check("{\"a\":[0,-0,1.5,-2e-3,3E+2,true,false,null,\"\\u00e9\\ud83d\\ude00\\/\"]}") == 0);
    /* a NUL byte inside the text is not white space */
    RT_CHECK(rt_json_check("{}\0", 3) == -1 && rt_json_check("{\"a\":1}", 6) == -1);
}

static void test_modes(void)
{
    enum { LEVELS = RT_JSON_DEPTH + 6 };
    static char deep[2 * LEVELS + 16];
    size_t n = 0;
    int i;

    /* control characters and bad escapes pass the lenient reader only */
    RT_CHECK(lenient("{\"a\":\"\x01\\x\"}", 11) == 0);
    RT_CHECK(check("{\"a\":\"\x01\"}") == -1);
    /* structure is checked in both */
    RT_CHECK(lenient("{\"a\":1,}", 8) == -1 && lenient("{\"a\":[1}", 8) == -1);

    /* deeper than RT_JSON_DEPTH: strict refuses, lenient skips the part below it */
    n += (size_t)sprintf(deep, "{\"a\":");
    for (i = 0; i < LEVELS; i++)
        deep[n++] = '[';
    for (i = 0; i < LEVELS; i++)
        deep[n++] = ']';
    n += (size_t)sprintf(deep + n, ",\"b\":1}");
    RT_CHECK(rt_json_check(deep, n) == -1);
    RT_CHECK(lenient(deep, n) == 0);
    /* RT_JSON_DEPTH - 1 levels below the root is the strict limit */
    n = (size_t)sprintf(deep, "{\"a\":");
    for (i = 0; i < RT_JSON_DEPTH - 1; i++)
        deep[n++] = '[';
    for (i = 0; i < RT_JSON_DEPTH - 1; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    RT_CHECK(rt_json_check(deep, n) == 0);
    /* an unterminated deep part fails, it does not run off the end */
    RT_CHECK(lenient(deep, 5 + RT_JSON_DEPTH + 2) == -1);
}

static void test_strings(void)
{
    /* a quote after an even run of backslashes ends the string; after an odd one it does not */
    static const char t1[] = "{\"a\":\"x\\\\\\\\\",\"b\":\"\\\\\\\"\"}";
    struct rt_json_val v;
    char out[16];
    size_t len = 0;
    bool oom = true;
    char *s;

    RT_CHECK(check(t1) == 0);
    RT_CHECK(rt_json_find(t1, sizeof t1 - 1, "a", &v) == RT_JSON_STRING && v.n == 5);
    RT_CHECK(rt_json_unescape(&v, out, sizeof out, &len) == 0 && len == 3);
    RT_CHECK_STR(out, "x\\\\");
    RT_CHECK(rt_json_find(t1, sizeof t1 - 1, "b", &v) == RT_JSON_STRING && v.n == 4);
    RT_CHECK(rt_json_unescape(&v, out, sizeof out, &len) == 0);
    RT_CHECK_STR(out, "\\\"");

    static const char t2[] = "{\"k\\u0065y\":\"x\\u00e9\\ud83d\\ude00\\n\\u0000z\"}";
    RT_CHECK(rt_json_find(t2, sizeof t2 - 1, "key", &v) == RT_JSON_STRING);
    s = rt_json_strdup(&v, &len, &oom);
    RT_CHECK(s && !oom && len == 10 && memcmp(s, "x\xc3\xa9\xf0\x9f\x98\x80\n\0z", 11) == 0);
    rt_free(s);
    /* the decoded text must fit, NUL included */
    RT_CHECK(rt_json_unescape(&v, out, 10, &len) == -1);
    RT_CHECK(rt_json_unescape(&v, out, 11, &len) == 0 && len == 10);
    v.type = RT_JSON_NUMBER;
    RT_CHECK(rt_json_unescape(&v, out, sizeof out, &len) == -1 && !rt_json_strdup(&v, NULL, NULL));

    /* out of memory is told apart from invalid text */
    RT_CHECK(rt_json_find(t2, sizeof t2 - 1, "key", &v) == RT_JSON_STRING);
    rt_alloc_fail_after(0);
    s = rt_json_strdup(&v, NULL, &oom);
    rt_alloc_fail_after(-1);
    RT_CHECK(!s && oom);
}

static void test_eq(void)
{
    struct rt_json_val k = { RT_JSON_STRING, "set\\u0075pComplete", 18, 0 };

    RT_CHECK(rt_json_eq(&k, "setupComplete"));
    RT_CHECK(!rt_json_eq(&k, "setupComplet"));
    k.s = "setupComplete";
    k.n = 13;
    RT_CHECK(rt_json_eq(&k, "setupComplete") && !rt_json_eq(&k, "setup"));
    k.type = RT_JSON_NUMBER;
    RT_CHECK(!rt_json_eq(&k, "setupComplete"));
    k.type = RT_JSON_STRING;
    k.s = "\\u";           /* a broken escape never equals anything */
    k.n = 2;
    RT_CHECK(!rt_json_eq(&k, "u"));
}

static void test_numbers(void)
{
    static const struct { const char *text; double want; } cases[] = {
        { "0", 0 }, { "-0", 0 }, { "3599", 3599 }, { "1.25", 1.25 }, { "-1.5e2", -150 },
        { "2E+3", 2000 }, { "25e-1", 2.5 },
    };
    struct rt_json_val v = { RT_JSON_NUMBER, NULL, 0, 0 };
    double d;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        v.s = cases[i].text;
        v.n = strlen(cases[i].text);
        RT_CHECK(rt_json_number(&v, &d) == 0 && d == cases[i].want);
    }
    v.type = RT_JSON_STRING;
    RT_CHECK(rt_json_number(&v, &d) == -1);
}

/* Every integer within int64 exactly (a double would round beyond 2^53); others are not
 * integers. */
static void test_integers(void)
{
    static const struct { const char *text; int64_t want; } ok[] = {
        { "0", 0 }, { "-0", 0 }, { "9007199254740993", 9007199254740993LL },
        { "1234567890123456789", 1234567890123456789LL },
        { "9223372036854775807", INT64_MAX }, { "-9223372036854775808", INT64_MIN },
    };
    static const char *const no[] = { "9223372036854775808", "-9223372036854775809",
                                      "100000000000000000000", "1.0", "1e2", "-", "" };
    struct rt_json_val v = { RT_JSON_NUMBER, NULL, 0, 0 };
    int64_t i64 = 7;
    size_t i;

    for (i = 0; i < sizeof ok / sizeof *ok; i++) {
        v.s = ok[i].text;
        v.n = strlen(ok[i].text);
        RT_CHECK(rt_json_integer(&v, &i64) == 0 && i64 == ok[i].want);
    }
    for (i = 0; i < sizeof no / sizeof *no; i++) {
        v.s = no[i];
        v.n = strlen(no[i]);
        RT_CHECK(rt_json_integer(&v, &i64) == -1);
    }
    v.type = RT_JSON_STRING;
    v.s = "1";
    v.n = 1;
    RT_CHECK(rt_json_integer(&v, &i64) == -1);
}

/* A lone surrogate escape fails strict decoding; the lossy one reads it as U+FFFD. */
static void test_lone_surrogates(void)
{
    static const char t[] = "{\"a\":\"x\\ud83d!\\udc00\\ud800\\u0041\\ud83d\\ude00\"}";
    struct rt_json_val v;
    char out[64];
    size_t len = 0, lone = 0, first = 0;

    RT_CHECK(check(t) == -1);
    RT_CHECK(lenient(t, sizeof t - 1) == 0);
    {
        struct rt_json r;
        struct rt_json_val root, k;
        rt_json_init(&r, t, sizeof t - 1, 0);
        RT_CHECK(rt_json_root(&r, &root) == RT_JSON_OBJECT && rt_json_member(&r, &root, &k, &v));
    }
    RT_CHECK(rt_json_unescape(&v, out, sizeof out, &len) == -1);
    RT_CHECK(rt_json_unescape_lossy(&v, out, sizeof out, &len, &lone, &first) == 0);
    RT_CHECK(lone == 3 && first == 1);
    RT_CHECK(len == 16 && memcmp(out, "x\xef\xbf\xbd!\xef\xbf\xbd\xef\xbf\xbd" "A\xf0\x9f\x98\x80", 16) == 0);
}

static void test_find(void)
{
    const char *j = "{\"a\": \"first\", \"n\": 3599, \"o\": {\"message\": \"m\", \"deep\": [1, {\"x\": null}]},"
                    " \"o\": {\"status\": \"S\"}, \"a\": \"last\"}";
    size_t n = strlen(j);
    struct rt_json_val v;
    double d;

    RT_CHECK(rt_json_find(j, n, "a", &v) == RT_JSON_STRING && v.n == 4 && memcmp(v.s, "last", 4) == 0);
    RT_CHECK(rt_json_find(j, n, "n", &v) == RT_JSON_NUMBER && rt_json_number(&v, &d) == 0 && d == 3599);
    RT_CHECK(rt_json_find(j, n, "o", NULL) == RT_JSON_OBJECT);
    RT_CHECK(rt_json_find(j, n, "o.message", &v) == RT_JSON_STRING && rt_json_eq(&v, "m"));
    RT_CHECK(rt_json_find(j, n, "o.status", &v) == RT_JSON_STRING && rt_json_eq(&v, "S"));
    RT_CHECK(rt_json_find(j, n, "zz", &v) == RT_JSON_NONE && v.type == RT_JSON_NONE);
    RT_CHECK(rt_json_find(j, n, "a.b", NULL) == RT_JSON_NONE);
    RT_CHECK(rt_json_find(j, n, "o.deep.x", NULL) == RT_JSON_NONE);
    RT_CHECK(rt_json_find(j, n - 1, "a", NULL) == -1);
    RT_CHECK(rt_json_find("[1]", 3, "a", NULL) == -1);
    RT_CHECK(rt_json_find(j, n, "a.b.c.d.e.f.g.h.i", NULL) == -1);
    RT_CHECK(rt_json_find(j, n, NULL, NULL) == -1);
}

static void test_cut_texts(void)
{
    /* every prefix of a valid document is refused, in both modes, without reading past it */
    const char *j = "{\"a\":[1,{\"b\":\"c\\\"d\"},-2.5e+3,true,false,null],\"e\":{}}";
    size_t n = strlen(j), i;
    int bad = 0;

    for (i = 0; i < n; i++) {
        char *copy = malloc(i ? i : 1);
        if (!copy)
            return;
        memcpy(copy, j, i);
        if (rt_json_check(copy, i) != -1 || lenient(copy, i) != -1)
            bad++;
        free(copy);
    }
    RT_CHECK(bad == 0);
    RT_CHECK(check(j) == 0);
}

int main(void)
{
    RT_RUN(test_walk);
    RT_RUN(test_strict_rejects);
    RT_RUN(test_modes);
    RT_RUN(test_strings);
    RT_RUN(test_eq);
    RT_RUN(test_numbers);
    RT_RUN(test_integers);
    RT_RUN(test_lone_surrogates);
    RT_RUN(test_find);
    RT_RUN(test_cut_texts);
    return rt_test_done();
}
