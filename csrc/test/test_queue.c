/* The byte-bounded send queue: order, bounds, chains, headroom. */
#include "rt_alloc.h"
#include "rt_queue.h"
#include "rt_test.h"

static struct rt_msg *msg(const char *s)
{
    return rt_msg_copy(s, strlen(s));
}

static void test_fifo_order(void)
{
    struct rt_queue q;
    struct rt_error err = { 0 };
    struct rt_msg *m;

    rt_queue_init(&q, 100);
    RT_CHECK(rt_queue_empty(&q));
    RT_CHECK(rt_queue_push(&q, msg("one"), &err) == 0);
    RT_CHECK(rt_queue_push(&q, msg("two"), &err) == 0);
    RT_CHECK(rt_queue_push(&q, msg("three"), &err) == 0);
    RT_CHECK(q.bytes == 11 && q.count == 3);
    m = rt_queue_pop(&q);
    RT_CHECK(m && m->len == 3 && strcmp((char *)rt_msg_data(m), "one") == 0);
    rt_msg_free(m);
    m = rt_queue_pop(&q);
    RT_CHECK_STR((char *)rt_msg_data(m), "two");
    rt_msg_free(m);
    m = rt_queue_pop(&q);
    RT_CHECK_STR((char *)rt_msg_data(m), "three");
    rt_msg_free(m);
    RT_CHECK(rt_queue_pop(&q) == NULL && q.bytes == 0 && q.count == 0 && rt_queue_empty(&q));
}

static void test_bound(void)
{
    struct rt_queue q;
    struct rt_error err = { 0 };
    struct rt_msg *m;

    rt_queue_init(&q, 10);
    RT_CHECK(rt_queue_push(&q, msg("123456"), &err) == 0);
    m = msg("12345");
    RT_CHECK(rt_queue_push(&q, m, &err) == -1 && err.code == RT_EBUSY);
    RT_CHECK_STR(err.msg, "send queue full (6 of 10 bytes queued)");
    RT_CHECK(q.count == 1 && q.bytes == 6);
    rt_msg_free(m);
    rt_error_clear(&err);
    RT_CHECK(rt_queue_push(&q, msg("1234"), &err) == 0);   /* exactly full */
    RT_CHECK(q.bytes == 10);
    m = msg("12345678901");
    rt_queue_clear(&q);
    RT_CHECK(rt_queue_push(&q, m, &err) == -1 && err.code == RT_EBUSY);
    RT_CHECK(strstr(err.msg, "max_queue_bytes") != NULL);
    rt_msg_free(m);
    rt_queue_clear(&q);
}

static void test_chain_all_or_nothing(void)
{
    struct rt_queue q;
    struct rt_error err = { 0 };
    struct rt_msg *a = msg("aaaa"), *b = msg("bbbb"), *c = msg("cccc"), *m;

    rt_queue_init(&q, 12);
    RT_CHECK(rt_queue_push(&q, msg("xx"), &err) == 0);
    a->next = b;
    b->next = c;
    RT_CHECK(rt_queue_push_chain(&q, a, 12, &err) == -1 && err.code == RT_EBUSY);
    RT_CHECK(q.count == 1 && q.bytes == 2);
    rt_error_clear(&err);
    c->next = NULL;
    b->next = NULL;
    rt_msg_free(c);
    RT_CHECK(rt_queue_push_chain(&q, a, 8, &err) == 0);
    RT_CHECK(q.count == 3 && q.bytes == 10);
    rt_msg_free(rt_queue_pop(&q));
    m = rt_queue_pop(&q);
    RT_CHECK_STR((char *)rt_msg_data(m), "aaaa");
    rt_msg_free(m);
    m = rt_queue_pop(&q);
    RT_CHECK_STR((char *)rt_msg_data(m), "bbbb");
    rt_msg_free(m);
    RT_CHECK(rt_queue_empty(&q) && q.tail == NULL);
    RT_CHECK(rt_queue_push(&q, msg("after"), &err) == 0 && q.head == q.tail);
    rt_queue_clear(&q);
}

static void test_headroom(void)
{
    struct rt_msg *m = rt_msg_new(5);

    RT_CHECK(m);
    if (!m)
        return;
    RT_CHECK(rt_msg_data(m) - m->buf == RT_PRE);
    RT_CHECK(rt_msg_data(m)[5] == '\0');
    memset(m->buf, 0xaa, RT_PRE); /* the headroom is ours to scribble on */
    rt_msg_free(m);
    rt_msg_free(NULL);
    rt_msg_free_chain(NULL);
}

static void test_alloc_failure(void)
{
    rt_alloc_fail_after(0);
    RT_CHECK(rt_msg_new(10) == NULL);
    RT_CHECK(rt_msg_copy("x", 1) == NULL);
    rt_alloc_fail_after(-1);
}

int main(void)
{
    RT_RUN(test_fifo_order);
    RT_RUN(test_bound);
    RT_RUN(test_chain_all_or_nothing);
    RT_RUN(test_headroom);
    RT_RUN(test_alloc_failure);
    return rt_test_done();
}
