/* The resolver's threads: every request answered once, in parallel up to the pool's
 * size, requests still queued when it is freed answered with an error, and a cancel
 * taking back only its owner's requests that no thread has taken. */
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rt_resolve.h"
#include "rt_test.h"

#define N 12

static atomic_int answered;
static atomic_int twice;

#define HELD_HOST "held.invalid"
#define POOL 4                       /* RT_RESOLVE_THREADS */

static atomic_int held_in;           /* lookups of HELD_HOST under way */
static atomic_bool release_held;

static void pause_10ms(void)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };

    nanosleep(&ts, NULL);
}

/* The resolver's getaddrinfo (this definition comes first): a lookup of HELD_HOST keeps
 * its thread until the test releases it (10 s at most), so that the threads are busy
 * and later requests stay queued; any other name is looked up as usual. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

    if (node && strcmp(node, HELD_HOST) == 0) {
        atomic_fetch_add(&held_in, 1);
        for (int i = 0; i < 1000 && !atomic_load(&release_held); i++)
            pause_10ms();
        return EAI_NONAME;
    }
    *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    return real ? real(node, service, hints, res) : EAI_FAIL;
}

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

/* Queues n lookups of HELD_HOST for owner, numbered from `from` in req. */
static void submit_held(struct rt_resolver *rv, struct rt_resolve_req *req, int from, int n,
                        const void *owner)
{
    for (int i = from; i < from + n; i++) {
        memset(&req[i], 0, sizeof req[i]);
        req[i].host = HELD_HOST;
        req[i].port = 443;
        req[i].owner = owner;
        req[i].done = on_done;
        RT_CHECK(rt_resolver_submit(rv, &req[i]));
    }
}

static void test_cancel_takes_back_the_queued(void)
{
    struct rt_resolve_req req[POOL + 5];
    struct rt_resolver *rv = rt_resolver_new();
    int a, b, c;                     /* the owners: only their addresses count */

    RT_CHECK(rv);
    if (!rv)
        return;
    atomic_store(&answered, 0);
    atomic_store(&twice, 0);
    atomic_store(&held_in, 0);
    atomic_store(&release_held, false);
    /* a's lookups take every thread; b's and c's wait in the queue behind them */
    submit_held(rv, req, 0, POOL, &a);
    for (int i = 0; i < 1000 && atomic_load(&held_in) < POOL; i++)
        pause_10ms();
    RT_CHECK(atomic_load(&held_in) == POOL);
    submit_held(rv, req, POOL, 3, &b);
    submit_held(rv, req, POOL + 3, 2, &c);
    /* b's are answered at once, by the cancel; a's are under way and stay so */
    RT_CHECK(rt_resolver_cancel(rv, &b) == 3);
    RT_CHECK(atomic_load(&answered) == 3);
    for (int i = POOL; i < POOL + 3; i++)
        RT_CHECK(req[i].port == -1 && req[i].count == 0 && strcmp(req[i].error, "cancelled") == 0);
    RT_CHECK(rt_resolver_cancel(rv, &a) == 0);
    RT_CHECK(rt_resolver_cancel(rv, &b) == 0);
    RT_CHECK(rt_resolver_cancel(rv, NULL) == 0);
    /* c's are still queued: looked up once a thread is free */
    atomic_store(&release_held, true);
    wait_answers(POOL + 5);
    RT_CHECK(atomic_load(&answered) == POOL + 5);
    RT_CHECK(atomic_load(&twice) == 0);
    RT_CHECK(atomic_load(&held_in) == POOL + 2);
    for (int i = POOL + 3; i < POOL + 5; i++)
        RT_CHECK(req[i].count == 0 && strcmp(req[i].error, "cancelled") != 0);
    rt_resolver_free(rv);
}

/* The answers of a session's lookups meet in one slot: the owner keeps the current
 * lookup's, whichever answered first (a reconnect's lookup may answer before the one it
 * replaced, still under way in getaddrinfo), and frees the others. */
static void test_take_keeps_the_current_answer(void)
{
    _Atomic(struct rt_resolve_req *) slot = NULL;
    struct rt_resolve_req older = { .gen = 1 }, newer = { .gen = 2 }, *stale;

    RT_CHECK(rt_resolve_take(&slot, 2, &stale) == NULL && stale == NULL);
    /* in either order: the one asked for is returned, the other is stale */
    for (int newer_first = 0; newer_first <= 1; newer_first++) {
        rt_resolve_hand_over(&slot, newer_first ? &newer : &older);
        rt_resolve_hand_over(&slot, newer_first ? &older : &newer);
        RT_CHECK(rt_resolve_take(&slot, 2, &stale) == &newer);
        RT_CHECK(newer.next_answer == NULL);
        RT_CHECK(stale == &older && older.next_answer == NULL);
        RT_CHECK(atomic_load(&slot) == NULL);
    }
    /* none current (the lookup timed out and a later one is under way): all stale */
    rt_resolve_hand_over(&slot, &older);
    rt_resolve_hand_over(&slot, &newer);
    RT_CHECK(rt_resolve_take(&slot, 3, &stale) == NULL);
    RT_CHECK(stale && stale->next_answer && !stale->next_answer->next_answer);
    RT_CHECK(stale != stale->next_answer);
}

/* A hand-over runs on a resolver thread while the owner's thread may take what waits in
 * the slot and free it: it must never read that answer. Here the slot holds an address
 * no read reaches (a page without access), and the hand-over runs in a child process,
 * so that such a read fails this test instead of ending the run. */
static void test_hand_over_never_reads_the_waiting_answer(void)
{
    long page = sysconf(_SC_PAGESIZE);
    void *gone = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int st = -1;
    pid_t pid;

    RT_CHECK(gone != MAP_FAILED);
    if (gone == MAP_FAILED)
        return;
    pid = fork();
    if (pid == 0) {
        _Atomic(struct rt_resolve_req *) slot = (struct rt_resolve_req *)gone;
        struct rt_resolve_req r = { .gen = 1 };

        (void)rt_resolve_hand_over(&slot, &r);
        _exit(atomic_load(&slot) == &r ? 0 : 1);
    }
    RT_CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    munmap(gone, (size_t)page);
}

int main(void)
{
    RT_RUN(test_every_request_answered);
    RT_RUN(test_free_answers_the_queue);
    RT_RUN(test_cancel_takes_back_the_queued);
    RT_RUN(test_take_keeps_the_current_answer);
    RT_RUN(test_hand_over_never_reads_the_waiting_answer);
    return rt_test_done();
}
