/* The lock-free hand-off list: order per producer, nothing lost, one "was empty" per
 * batch, under several producer threads. */
#include <pthread.h>
#include <stdlib.h>

#include "rt_mpsc.h"
#include "rt_test.h"

struct item {
    struct rt_link link;
    int producer, seq;
};

static void test_order_single(void)
{
    struct rt_mpsc q;
    struct item it[5];
    struct rt_link *l;
    int i;

    rt_mpsc_init(&q);
    RT_CHECK(rt_mpsc_empty(&q) && rt_mpsc_take(&q) == NULL);
    RT_CHECK(rt_mpsc_push(&q, &it[0].link));           /* was empty */
    RT_CHECK(!rt_mpsc_push(&q, &it[1].link));
    /* a chain of three, oldest first */
    it[2].link.next = &it[3].link;
    it[3].link.next = &it[4].link;
    it[4].link.next = NULL;
    RT_CHECK(!rt_mpsc_push_chain(&q, &it[2].link));
    l = rt_mpsc_take(&q);
    for (i = 0; i < 5 && l; i++, l = l->next)
        RT_CHECK(l == &it[i].link);
    RT_CHECK(i == 5 && l == NULL);
    RT_CHECK(rt_mpsc_empty(&q));
    RT_CHECK(rt_mpsc_push(&q, &it[0].link));           /* empty again after the take */
    RT_CHECK(rt_mpsc_take(&q) == &it[0].link && it[0].link.next == NULL);
}

#define PRODUCERS 4
#define PER 200000

static struct rt_mpsc shared;
static atomic_int wakeups;

static void *produce(void *arg)
{
    int p = (int)(long)arg;
    for (int i = 0; i < PER; i++) {
        struct item *it = malloc(sizeof *it);
        if (!it)
            abort();
        it->producer = p;
        it->seq = i;
        if (rt_mpsc_push(&shared, &it->link))
            atomic_fetch_add(&wakeups, 1);
    }
    return NULL;
}

static void test_many_producers(void)
{
    pthread_t th[PRODUCERS];
    int next[PRODUCERS] = { 0 }, got = 0, takes = 0, bad = 0;

    rt_mpsc_init(&shared);
    for (long p = 0; p < PRODUCERS; p++)
        RT_CHECK(pthread_create(&th[p], NULL, produce, (void *)p) == 0);
    while (got < PRODUCERS * PER) {
        struct rt_link *l = rt_mpsc_take(&shared), *n;
        if (l)
            takes++;
        for (; l; l = n) {
            struct item *it = rt_container_of(l, struct item, link);
            n = l->next;
            if (it->seq != next[it->producer])
                bad++;
            next[it->producer] = it->seq + 1;
            got++;
            free(it);
        }
    }
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(th[p], NULL);
    RT_CHECK(bad == 0);
    RT_CHECK(got == PRODUCERS * PER);
    /* A push onto an empty list happens once per non-empty take, plus at most one. */
    RT_CHECK(atomic_load(&wakeups) <= takes + 1);
    RT_CHECK(rt_mpsc_empty(&shared));
}

int main(void)
{
    RT_RUN(test_order_single);
    RT_RUN(test_many_producers);
    return rt_test_done();
}
