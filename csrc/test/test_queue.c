/* The single-thread message FIFO: order, front pushes, splices, byte counts. */
#include "rt_alloc.h"
#include "rt_queue.h"
#include "rt_test.h"

static struct rt_msg *msg(const char *s)
{
    return rt_msg_copy(s, strlen(s));
}

/* The queue holds exactly these texts, in order. */
static int holds(const struct rt_queue *q, const char *const *want, size_t n)
{
    const struct rt_msg *m = q->head;
    size_t i, bytes = 0;

    for (i = 0; i < n; i++, m = rt_msg_next(m)) {
        if (!m || strcmp((const char *)m->data, want[i]) != 0)
            return 0;
        bytes += m->len;
    }
    return m == NULL && q->count == n && q->bytes == bytes &&
           (n == 0 ? q->tail == NULL : strcmp((const char *)q->tail->data, want[n - 1]) == 0);
}

static void test_fifo_order(void)
{
    struct rt_queue q;
    struct rt_msg *m;
    static const char *const three[] = { "one", "two", "three" };

    rt_queue_init(&q);
    RT_CHECK(rt_queue_empty(&q) && rt_queue_pop(&q) == NULL);
    rt_queue_push(&q, msg("one"));
    rt_queue_push(&q, msg("two"));
    rt_queue_push(&q, msg("three"));
    RT_CHECK(holds(&q, three, 3) && q.bytes == 11);
    m = rt_queue_pop(&q);
    RT_CHECK(m && m->len == 3 && strcmp((char *)m->data, "one") == 0 && m->link.next == NULL);
    rt_msg_free(m);
    RT_CHECK(holds(&q, three + 1, 2));
    rt_queue_clear(&q);
    RT_CHECK(holds(&q, NULL, 0) && rt_queue_empty(&q));
}

static void test_front_and_chains(void)
{
    struct rt_queue q, r;
    struct rt_msg *a = msg("a"), *b = msg("b"), *c = msg("c");
    static const char *const want1[] = { "x", "a", "b", "c" };
    static const char *const want2[] = { "p", "q", "x", "a", "b", "c" };

    rt_queue_init(&q);
    a->link.next = &b->link;
    b->link.next = &c->link;
    rt_queue_push_chain(&q, a);
    rt_queue_push_front(&q, msg("x"));
    RT_CHECK(holds(&q, want1, 4));
    rt_queue_init(&r);
    rt_queue_prepend(&q, &r);              /* an empty splice changes nothing */
    RT_CHECK(holds(&q, want1, 4));
    rt_queue_push(&r, msg("p"));
    rt_queue_push(&r, msg("q"));
    rt_queue_prepend(&q, &r);
    RT_CHECK(holds(&q, want2, 6) && rt_queue_empty(&r) && r.bytes == 0 && r.count == 0);
    rt_queue_clear(&q);
    /* splicing into an empty queue, and pushing to the front of one */
    rt_queue_push(&r, msg("a"));
    rt_queue_prepend(&q, &r);
    RT_CHECK(holds(&q, want1 + 1, 1));
    rt_queue_clear(&q);
    rt_queue_push_front(&q, msg("a"));
    rt_queue_push(&q, msg("b"));
    RT_CHECK(holds(&q, want1 + 1, 2));
    rt_queue_clear(&q);
}

/* A message put after the leading run of flagged ones: behind its kind, before the rest. */
static void test_push_after_run(void)
{
    struct rt_queue q;
    struct rt_msg *h1 = msg("h1"), *h2 = msg("h2"), *h0 = msg("h0");
    static const char *const want1[] = { "h1", "m1", "m2" };
    static const char *const want2[] = { "h1", "h2", "m1", "m2" };
    static const char *const want3[] = { "h0" };

    rt_queue_init(&q);
    rt_queue_push(&q, msg("m1"));
    rt_queue_push(&q, msg("m2"));
    h1->flags = h2->flags = h0->flags = RT_MSG_INITIAL;
    rt_queue_push_after_run(&q, h1, RT_MSG_INITIAL);
    RT_CHECK(holds(&q, want1, 3));
    rt_queue_push_after_run(&q, h2, RT_MSG_INITIAL);
    RT_CHECK(holds(&q, want2, 4));
    rt_queue_clear(&q);
    rt_queue_push_after_run(&q, h0, RT_MSG_INITIAL);     /* into an empty queue */
    RT_CHECK(holds(&q, want3, 1));
    rt_queue_clear(&q);
}

/* The oldest flagged message is taken from the head, the middle or the tail; the others
 * keep their order and the counts, the tail stays right for later pushes. */
static void test_take_flagged(void)
{
    struct rt_queue q;
    struct rt_msg *m;
    const char *texts[] = { "a", "B1", "c", "B2", "d", "B3" };
    static const char *const after[] = { "a", "c", "d", "e" };

    rt_queue_init(&q);
    RT_CHECK(rt_queue_take_flagged(&q, 8) == NULL && !rt_queue_has_flagged(&q, 8));
    for (size_t i = 0; i < 6; i++) {
        m = msg(texts[i]);
        m->flags = texts[i][0] == 'B' ? 8 : 1;
        rt_queue_push(&q, m);
    }
    RT_CHECK(rt_queue_has_flagged(&q, 8) && !rt_queue_has_flagged(&q, 4));
    for (size_t i = 1; i <= 3; i++) {
        m = rt_queue_take_flagged(&q, 8);
        RT_CHECK(m && m->data[0] == 'B' && m->data[1] == '0' + i && m->link.next == NULL);
        rt_msg_free(m);
    }
    RT_CHECK(rt_queue_take_flagged(&q, 8) == NULL && !rt_queue_has_flagged(&q, 8));
    rt_queue_push(&q, msg("e"));              /* the tail moved back when B3 went */
    RT_CHECK(holds(&q, after, 4));
    m = msg("F");
    m->flags = 8;
    rt_queue_push_front(&q, m);
    m = rt_queue_take_flagged(&q, 8);         /* at the head */
    RT_CHECK(m && strcmp((char *)m->data, "F") == 0);
    rt_msg_free(m);
    RT_CHECK(holds(&q, after, 4));
    rt_queue_clear(&q);
}

static void test_alloc_failure(void)
{
    rt_alloc_fail_after(0);
    RT_CHECK(rt_msg_new(10) == NULL);
    RT_CHECK(rt_msg_copy("abc", 3) == NULL);
    rt_alloc_fail_after(-1);
    RT_CHECK(rt_msg_new((size_t)-1) == NULL);  /* size overflow, not a huge malloc */
}

int main(void)
{
    RT_RUN(test_fifo_order);
    RT_RUN(test_front_and_chains);
    RT_RUN(test_push_after_run);
    RT_RUN(test_take_flagged);
    RT_RUN(test_alloc_failure);
    return rt_test_done();
}
