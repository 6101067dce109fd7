/* The session event queue: order, byte counts, and its descriptor, which must be readable
 * whenever an event waits for the owner (cqueues, realtime.run and C hosts poll it). */
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_evq.h"
#include "rt_test.h"

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

static struct rt_event *ev_of(int n)
{
    return rt_event_new(RT_EV_MESSAGE, n, 16, "x", 1);
}

/* The producer's moment inside the owner's clear, made deterministic: this program's
 * read() (which the statically linked core calls to empty the eventfd) first pushes
 * `inject_n` events, as the I/O thread would while the owner sits in that system call. */
static struct rt_evq *inject_q;
static int inject_n;
static int inject_last;          /* the last one injected is the queue's last (closed) */

ssize_t read(int fd, void *buf, size_t n)
{
    if (inject_q && fd == inject_q->sig.fd && inject_n > 0) {
        int k = inject_n;
        inject_n = 0;
        for (int i = 1; i <= k; i++) {
            if (i == k && inject_last)
                rt_evq_push_last(inject_q, ev_of(100 + i));
            else
                rt_evq_push(inject_q, ev_of(100 + i));
        }
    }
    return syscall(SYS_read, fd, buf, n);
}

static void test_order_and_bytes(void)
{
    struct rt_evq q;
    struct rt_error err = { 0 };
    struct rt_event *ev;
    size_t left = 99;

    RT_CHECK(rt_evq_init(&q, &err) == 0);
    RT_CHECK(rt_evq_pop(&q, &left, true) == NULL);
    RT_CHECK(left == 0);
    RT_CHECK(!rt_evq_any(&q));
    for (int i = 1; i <= 3; i++) {
        ev = ev_of(i);
        size_t cost = rt_event_cost(ev);
        RT_CHECK(rt_evq_push(&q, ev) == (size_t)i * cost);
    }
    RT_CHECK(readable(q.sig.fd));
    for (int i = 1; i <= 3; i++) {
        RT_CHECK(rt_evq_any(&q));     /* while one waits, in `in` or the owner's list */
        ev = rt_evq_pop(&q, &left, true);
        RT_CHECK(ev && ev->code == i);
        if (ev)
            RT_CHECK(left == (size_t)(3 - i) * rt_event_cost(ev));
        rt_event_free(ev);
    }
    /* empty: the pop that finds nothing lowers the signal */
    RT_CHECK(!rt_evq_any(&q));
    RT_CHECK(rt_evq_pop(&q, NULL, true) == NULL);
    RT_CHECK(!readable(q.sig.fd));
    rt_evq_destroy(&q);
}

/* Events that arrive while the owner lowers the signal are taken by that pop; when more
 * than one came, the rest wait in the owner's list, and the descriptor must say so. */
static void test_events_during_clear(void)
{
    struct rt_evq q;
    struct rt_error err = { 0 };
    struct rt_event *ev;

    RT_CHECK(rt_evq_init(&q, &err) == 0);
    rt_evq_push(&q, ev_of(1));
    ev = rt_evq_pop(&q, NULL, true);         /* taken without a clear: still raised */
    RT_CHECK(ev && ev->code == 1);
    rt_event_free(ev);
    inject_q = &q;
    inject_n = 2;
    ev = rt_evq_pop(&q, NULL, true);         /* nothing, clear (two arrive), look again */
    RT_CHECK(inject_n == 0);
    RT_CHECK(ev && ev->code == 101);
    rt_event_free(ev);
    RT_CHECK(readable(q.sig.fd));            /* 102 waits: an owner may poll for it */
    ev = rt_evq_pop(&q, NULL, true);
    RT_CHECK(ev && ev->code == 102);
    rt_event_free(ev);
    RT_CHECK(rt_evq_pop(&q, NULL, true) == NULL);
    RT_CHECK(!readable(q.sig.fd));
    inject_q = NULL;
    rt_evq_destroy(&q);
}

/* A producer pushes bursts while the owner pops one event at a time, as try_receive does,
 * waiting on the descriptor only when a pop finds nothing. Whenever events are left in
 * the owner's list after a pop, the descriptor must be readable: an owner that waits on
 * it then (an event that mapped to no message) would otherwise sleep with events queued. */
#define EVQ_TOTAL 100000

struct producer {
    struct rt_evq *q;
    int pushed;
};

static void *produce(void *arg)
{
    struct producer *p = arg;

    unsigned seed = 1;

    while (p->pushed < EVQ_TOTAL) {
        int burst = 2 + p->pushed % 3;
        for (int i = 0; i < burst && p->pushed < EVQ_TOTAL; i++)
            rt_evq_push(p->q, ev_of(++p->pushed));
        /* a pause of up to a few microseconds, so that bursts land at every point of
         * the owner's pop, the clear among them */
        seed = seed * 1103515245u + 12345u;
        for (volatile unsigned spin = (seed >> 16) % 600; spin; spin--)
            ;
    }
    return NULL;
}

static void test_readable_while_events_wait(void)
{
    struct rt_evq q;
    struct rt_error err = { 0 };
    struct producer p = { &q, 0 };
    pthread_t t;
    int got = 0, stuck = 0, last = 0, in_order = 1;

    RT_CHECK(rt_evq_init(&q, &err) == 0);
    RT_CHECK(pthread_create(&t, NULL, produce, &p) == 0);
    while (got < EVQ_TOTAL) {
        struct rt_event *ev = rt_evq_pop(&q, NULL, true);
        if (!ev) {
            struct pollfd pf = { .fd = q.sig.fd, .events = POLLIN };
            if (poll(&pf, 1, 2000) == 0) {
                stuck++;   /* nothing woke the owner although the producer goes on */
                break;
            }
            continue;
        }
        if (ev->code != last + 1)
            in_order = 0;
        last = ev->code;
        got++;
        rt_event_free(ev);
        if (q.head && !readable(q.sig.fd))
            stuck++;
        if (stuck)
            break;
    }
    RT_CHECK(stuck == 0);
    RT_CHECK(in_order);
    pthread_join(t, NULL);
    rt_evq_destroy(&q);
}

/* Once the last event (a session's closed one) is pushed, the descriptor stays readable
 * for good, also after that event is taken, so that no wait on it sleeps for ever; and
 * so it does when that push comes while the owner clears the signal. */
static void test_readable_after_last(void)
{
    struct rt_evq q;
    struct rt_error err = { 0 };
    struct rt_event *ev;

    RT_CHECK(rt_evq_init(&q, &err) == 0);
    RT_CHECK(!rt_evq_done(&q));
    rt_evq_push(&q, ev_of(1));
    rt_evq_push_last(&q, ev_of(2));
    RT_CHECK(rt_evq_done(&q));
    for (int i = 1; i <= 2; i++) {
        ev = rt_evq_pop(&q, NULL, true);
        RT_CHECK(ev && ev->code == i);
        rt_event_free(ev);
    }
    RT_CHECK(rt_evq_pop(&q, NULL, true) == NULL);
    RT_CHECK(readable(q.sig.fd));
    RT_CHECK(!rt_evq_arm(&q));
    RT_CHECK(readable(q.sig.fd));
    RT_CHECK(!rt_evq_any(&q));
    rt_evq_destroy(&q);

    /* the last push lands inside the owner's clear of a signal an earlier pop left up */
    RT_CHECK(rt_evq_init(&q, &err) == 0);
    rt_evq_push(&q, ev_of(1));
    ev = rt_evq_pop(&q, NULL, true);
    RT_CHECK(ev && ev->code == 1);
    rt_event_free(ev);
    RT_CHECK(readable(q.sig.fd));             /* left raised: the pop found an event */
    inject_q = &q;
    inject_n = 1;
    inject_last = 1;
    ev = rt_evq_pop(&q, NULL, true);          /* finds nothing, clears, the last comes */
    inject_q = NULL;
    inject_last = 0;
    RT_CHECK(ev && ev->code == 101);
    rt_event_free(ev);
    RT_CHECK(readable(q.sig.fd));
    RT_CHECK(rt_evq_pop(&q, NULL, true) == NULL);
    RT_CHECK(readable(q.sig.fd));
    rt_evq_destroy(&q);
}

int main(void)
{
    RT_RUN(test_order_and_bytes);
    RT_RUN(test_events_during_clear);
    RT_RUN(test_readable_while_events_wait);
    RT_RUN(test_readable_after_last);
    return rt_test_done();
}
