/* Allocation failure paths: the allocator itself, buffers, errors, and session creation. */
#include "realtime.h"
#include "rt_alloc.h"
#include "rt_buf.h"
#include "rt_test.h"

static void test_fail_after(void)
{
    void *a, *b, *c;

    rt_alloc_fail_after(2);
    a = rt_malloc(8);
    b = rt_calloc(2, 8);
    c = rt_malloc(8);
    RT_CHECK(a && b && !c);
    RT_CHECK(rt_strdup("x") == NULL && rt_realloc(a, 16) == NULL);
    rt_alloc_fail_after(-1);
    c = rt_realloc(a, 16);
    RT_CHECK(c);
    rt_free(c);
    rt_free(b);
    rt_free(NULL);
    RT_CHECK(rt_calloc((size_t)-1, 16) == NULL);
    RT_CHECK(rt_strdup(NULL) == NULL);
}

static void test_buf(void)
{
    struct rt_buf b;
    char *s;
    size_t n;
    int i;

    rt_buf_init(&b);
    for (i = 0; i < 1000; i++)
        RT_CHECK(rt_buf_printf(&b, "%d,", i) == 0);
    RT_CHECK(b.len == strlen(b.data) && strncmp(b.data, "0,1,2,", 6) == 0);
    rt_alloc_fail_after(0);
    RT_CHECK(rt_buf_reserve(&b, b.cap) == -1); /* b unchanged */
    rt_alloc_fail_after(-1);
    RT_CHECK(b.len == strlen(b.data));
    s = rt_buf_detach(&b, &n);
    RT_CHECK(s && n == strlen(s) && b.data == NULL);
    rt_free(s);
    s = rt_buf_detach(&b, &n);
    RT_CHECK(s && n == 0 && s[0] == '\0');
    rt_free(s);
    rt_buf_free(&b);
}

static void test_error(void)
{
    struct rt_error e = { 0 };
    char longmsg[RT_ERROR_MSG_MAX + 600];

    rt_error_set(&e, RT_EBUSY, "first %d", 1);
    rt_error_set(&e, RT_ETLS, "second");
    RT_CHECK(e.code == RT_EBUSY);
    RT_CHECK_STR(e.msg, "first 1");
    rt_error_clear(&e);
    memset(longmsg, 'y', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    rt_error_set(&e, RT_EPROTOCOL, "%s", longmsg);
    RT_CHECK(strlen(e.msg) == sizeof e.msg - 1);
    rt_error_set(NULL, RT_EINVAL, "ignored");
    RT_CHECK_STR(rt_code_name(RT_ETIMEOUT), "timeout");
    RT_CHECK_STR(rt_code_name(RT_EHANDSHAKE), "handshake");
    RT_CHECK_STR(rt_code_name(RT_ENOMEM), "nomem");
    RT_CHECK_STR(rt_code_name(RT_EINVAL), "invalid");
    RT_CHECK_STR(rt_code_name((enum rt_code)99), "unknown");
}

/* Client and session constructors under every allocation failure. The sessions point at a
 * closed port, so nothing needs a server; every one must still end with closed. */
static void test_session_new_nomem(void)
{
    struct rt_client *c;
    struct rt_error err = { 0 };
    struct rt_header h[] = { { "x-goog-api-key", "k" }, { "x-b", "2" } };
    struct rt_session_options o = {
        .url = "ws://127.0.0.1:1/ws/x?y=1", .headers = h, .nheaders = 2,
        .setup = "{\"setup\":{}}", .setup_len = 12,
    };
    struct rt_session *s;
    long n;
    int made = 0;

    c = rt_client_new(NULL, &err);
    RT_CHECK(c);
    if (!c)
        return;
    for (n = 0; n < 30 && !made; n++) {
        rt_error_clear(&err);
        rt_alloc_fail_after(n);
        s = rt_session_new(c, &o, &err);
        rt_alloc_fail_after(-1);
        if (!s) {
            RT_CHECK(err.code == RT_ENOMEM);
            continue;
        }
        made = 1;
        RT_CHECK(rt_session_wait(s, 10) == 1);
        for (;;) {
            struct rt_event *ev;
            int last;
            if (!rt_session_wait(s, 10))
                break;
            ev = rt_session_next_event(s);
            if (!ev)
                continue;
            last = ev->type == RT_EV_CLOSED;
            rt_event_free(ev);
            if (last)
                break;
        }
        rt_session_free(s);
    }
    RT_CHECK(made && n > 5);
    rt_client_free(c);
}

static void test_session_new_invalid(void)
{
    struct rt_client *c;
    struct rt_error err = { 0 };
    struct rt_header bad[] = { { "x-a", "1\r\n2" } };
    struct rt_session_options o = { .url = "http://x/", .setup = "{}", .setup_len = 2 };

    c = rt_client_new(NULL, &err);
    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(rt_session_new(c, &o, &err) == NULL && err.code == RT_EINVAL);
    rt_error_clear(&err);
    o.url = "ws://x:99999/";
    RT_CHECK(rt_session_new(c, &o, &err) == NULL && err.code == RT_EINVAL);
    rt_error_clear(&err);
    o.url = "ws://x/";
    o.headers = bad;
    o.nheaders = 1;
    RT_CHECK(rt_session_new(c, &o, &err) == NULL && err.code == RT_EINVAL);
    rt_error_clear(&err);
    o.headers = NULL;
    o.nheaders = 0;
    o.setup_len = 0;
    RT_CHECK(rt_session_new(c, &o, &err) == NULL && err.code == RT_EINVAL);
    rt_client_free(c);
    rt_client_free(NULL);
    rt_session_free(NULL);
}

int main(void)
{
    RT_RUN(test_fail_after);
    RT_RUN(test_buf);
    RT_RUN(test_error);
    RT_RUN(test_session_new_nomem);
    RT_RUN(test_session_new_invalid);
    return rt_test_done();
}
