/* The resolver's threads: every request answered once, in parallel up to the pool's
 * size, and requests still queued when it is freed answered with an error. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "rt_resolve.h"
#include "rt_test.h"

#define N 12

static atomic_int answered;
static atomic_int twice;

static void on_done(struct rt_resolve_req *r)
{
    /* port -1 marks the request answered: a second answer would be a bug */
    if (r->port < 0)
        atomic_fetch_add(&twice, 1);
    r->port = -1;
    atomic_fetch_add(&answered, 1);
}

static void wait_answers(int n)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };

    for (int i = 0; i < 1000 && atomic_load(&answered) < n; i++)
        nanosleep(&ts, NULL);
}

/* Submits N lookups of localhost, the answer counters reset. */
static void submit_all(struct rt_resolver *rv, struct rt_resolve_req *req)
{
    atomic_store(&answered, 0);
    atomic_store(&twice, 0);
    memset(req, 0, N * sizeof *req);
    for (int i = 0; i < N; i++) {
        req[i].host = "localhost";
        req[i].port = 443;
        req[i].done = on_done;
        RT_CHECK(rt_resolver_submit(rv, &req[i]));
    }
}

/* Waits for every request's answer and checks that none came twice. */
static void check_answered_once(void)
{
    wait_answers(N);
    RT_CHECK(atomic_load(&answered) == N);
    RT_CHECK(atomic_load(&twice) == 0);
}

static void test_every_request_answered(void)
{
    struct rt_resolve_req req[N];
    struct rt_resolver *rv = rt_resolver_new();

    RT_CHECK(rv);
    if (!rv)
        return;
    submit_all(rv, req);
    check_answered_once();
    for (int i = 0; i < N; i++)
        RT_CHECK(req[i].count > 0 && req[i].error[0] == '\0');
    rt_resolver_free(rv);
}

static void test_free_answers_the_queue(void)
{
    struct rt_resolve_req req[N];
    struct rt_resolver *rv = rt_resolver_new();

    RT_CHECK(rv);
    if (!rv)
        return;
    submit_all(rv, req);
    rt_resolver_free(rv);      /* lookups under way finish; the queued ones are refused */
    check_answered_once();
    for (int i = 0; i < N; i++)
        RT_CHECK(req[i].count > 0 || strcmp(req[i].error, "the client is being freed") == 0);
}

int main(void)
{
    RT_RUN(test_every_request_answered);
    RT_RUN(test_free_answers_the_queue);
    return rt_test_done();
}
