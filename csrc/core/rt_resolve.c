/* The resolver thread (see rt_resolve.h). */
#include "rt_resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rt_alloc.h"
#include "rt_thread.h"

/* Lookups under way at once: one stuck lookup (a resolver that does not answer for
 * seconds) must not hold every later connect of the client behind it. */
#define RT_RESOLVE_THREADS 4

struct rt_resolver {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rt_link *head, *tail;   /* guarded by lock: requests waiting, oldest first */
    int nthreads;                  /* guarded by lock: threads started */
    int idle;                      /* guarded by lock: of those, waiting for a request */
    bool stop;                     /* guarded by lock: rt_resolver_free was called */
    bool busy[RT_RESOLVE_THREADS]; /* guarded by lock: thread i is in a lookup */
    int refs;                      /* guarded by lock: the owner's + one per thread */
    pthread_t threads[RT_RESOLVE_THREADS];
};

/* A thread's argument: its resolver and its index there. */
struct rt_resolver_slot {
    struct rt_resolver *rv;
    int i;
};

static void rt_resolver_release_locked(struct rt_resolver *rv, bool *gone)
{
    *gone = --rv->refs == 0;
}

static void rt_resolver_destroy(struct rt_resolver *rv)
{
    pthread_cond_destroy(&rv->cond);
    pthread_mutex_destroy(&rv->lock);
    rt_free(rv);
}

struct rt_resolver *rt_resolver_new(void)
{
    struct rt_resolver *rv = rt_calloc(1, sizeof *rv);

    if (!rv)
        return NULL;
    if (pthread_mutex_init(&rv->lock, NULL) != 0) {
        rt_free(rv);
        return NULL;
    }
    if (pthread_cond_init(&rv->cond, NULL) != 0) {
        pthread_mutex_destroy(&rv->lock);
        rt_free(rv);
        return NULL;
    }
    rv->refs = 1;
    return rv;
}

bool rt_resolve_literal(struct rt_resolve_req *r)
{
    unsigned char buf[16];

    if (inet_pton(AF_INET, r->host, buf) != 1 && inet_pton(AF_INET6, r->host, buf) != 1)
        return false;
    snprintf(r->addrs[0], sizeof r->addrs[0], "%s", r->host);
    r->count = 1;
    r->error[0] = '\0';
    return true;
}

void rt_resolve_hand_over(_Atomic(struct rt_resolve_req *) *slot, struct rt_resolve_req *r)
{
    struct rt_resolve_req *head = atomic_load(slot);

    /* only r is written: what the slot holds is linked to, never read */
    do
        r->next_answer = head;
    while (!atomic_compare_exchange_weak(slot, &head, r));
}

struct rt_resolve_req *rt_resolve_take(_Atomic(struct rt_resolve_req *) *slot, unsigned gen,
                                       struct rt_resolve_req **stale)
{
    struct rt_resolve_req *r = atomic_exchange(slot, NULL), *next, *found = NULL;

    *stale = NULL;
    for (; r; r = next) {
        next = r->next_answer;
        if (!found && r->gen == gen) {
            found = r;
            r->next_answer = NULL;
        } else {
            r->next_answer = *stale;
            *stale = r;
        }
    }
    return found;
}

static void rt_resolve_lookup(struct rt_resolve_req *r)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int g;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    snprintf(port, sizeof port, "%d", r->port);
    r->count = 0;
    g = getaddrinfo(r->host, port, &hints, &res);
    if (g != 0) {
        snprintf(r->error, sizeof r->error, "%s", gai_strerror(g));
        return;
    }
    for (ai = res; ai && r->count < RT_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, r->addrs[r->count], RT_RESOLVE_ADDR_LEN,
                        NULL, 0, NI_NUMERICHOST) == 0)
            r->count++;
    }
    freeaddrinfo(res);
    r->error[0] = '\0';
    if (!r->count)
        snprintf(r->error, sizeof r->error, "no usable address");
}

static void *rt_resolver_main(void *arg)
{
    struct rt_resolver_slot slot = *(struct rt_resolver_slot *)arg;
    struct rt_resolver *rv = slot.rv;
    struct rt_resolve_req *r;
    bool gone;

    rt_free(arg);
    pthread_mutex_lock(&rv->lock);
    for (;;) {
        rv->idle++;
        while (!rv->head && !rv->stop)
            pthread_cond_wait(&rv->cond, &rv->lock);
        rv->idle--;
        if (!rv->head)
            break;                               /* stopping, nothing left */
        r = rt_container_of(rv->head, struct rt_resolve_req, link);
        rv->head = rv->head->next;
        if (!rv->head)
            rv->tail = NULL;
        if (rv->stop) {
            snprintf(r->error, sizeof r->error, "the client is being freed");
            r->count = 0;
        } else {
            rv->busy[slot.i] = true;
            pthread_mutex_unlock(&rv->lock);
            rt_resolve_lookup(r);
            pthread_mutex_lock(&rv->lock);
            rv->busy[slot.i] = false;
        }
        pthread_mutex_unlock(&rv->lock);
        r->done(r);
        pthread_mutex_lock(&rv->lock);
    }
    rt_resolver_release_locked(rv, &gone);
    pthread_mutex_unlock(&rv->lock);
    if (gone)
        rt_resolver_destroy(rv);
    return NULL;
}

/* Starts one more thread when none is idle and the pool has room (lock held). False only
 * when there is no thread at all to take the request. */
static bool rt_resolver_grow_locked(struct rt_resolver *rv)
{
    struct rt_resolver_slot *slot;

    if (rv->idle > 0 || rv->nthreads == RT_RESOLVE_THREADS)
        return true;
    slot = rt_malloc(sizeof *slot);
    if (slot) {
        slot->rv = rv;
        slot->i = rv->nthreads;
        if (rt_thread_start(&rv->threads[rv->nthreads], rt_resolver_main, slot) == 0) {
            rv->nthreads++;
            rv->refs++;
            return true;
        }
        rt_free(slot);
    }
    return rv->nthreads > 0;     /* the others take it when one is free */
}

bool rt_resolver_submit(struct rt_resolver *rv, struct rt_resolve_req *r)
{
    pthread_mutex_lock(&rv->lock);
    if (rv->stop || !rt_resolver_grow_locked(rv)) {
        pthread_mutex_unlock(&rv->lock);
        return false;
    }
    r->link.next = NULL;
    if (rv->tail)
        rv->tail->next = &r->link;
    else
        rv->head = &r->link;
    rv->tail = &r->link;
    pthread_cond_signal(&rv->cond);
    pthread_mutex_unlock(&rv->lock);
    return true;
}

/* Unlinks owner's queued requests onto a list of their own (lock held). */
static struct rt_link *rt_resolver_take_owned_locked(struct rt_resolver *rv, const void *owner)
{
    struct rt_link **at = &rv->head, *taken = NULL, **end = &taken, *l;

    rv->tail = NULL;
    while ((l = *at)) {
        if (rt_container_of(l, struct rt_resolve_req, link)->owner == owner) {
            *at = l->next;
            l->next = NULL;
            *end = l;
            end = &l->next;
        } else {
            rv->tail = l;
            at = &l->next;
        }
    }
    return taken;
}

int rt_resolver_cancel(struct rt_resolver *rv, const void *owner)
{
    struct rt_link *l, *next;
    int n = 0;

    if (!rv || !owner)
        return 0;
    pthread_mutex_lock(&rv->lock);
    l = rt_resolver_take_owned_locked(rv, owner);
    pthread_mutex_unlock(&rv->lock);
    /* Answered outside the lock: done() may submit again. */
    for (; l; l = next) {
        struct rt_resolve_req *r = rt_container_of(l, struct rt_resolve_req, link);

        next = l->next;
        r->count = 0;
        snprintf(r->error, sizeof r->error, "cancelled");
        r->done(r);
        n++;
    }
    return n;
}

void rt_resolver_free(struct rt_resolver *rv)
{
    bool gone, join[RT_RESOLVE_THREADS];
    int i, n;

    if (!rv)
        return;
    pthread_mutex_lock(&rv->lock);
    rv->stop = true;
    pthread_cond_broadcast(&rv->cond);
    /* A lookup can take as long as the system's resolver wants: a thread in one is not
     * waited for; it frees the resolver when it is the last one out. Its code stays
     * mapped after a dlclose of the library (-z nodelete, Makefile). */
    n = rv->nthreads;
    for (i = 0; i < n; i++) {
        join[i] = !rv->busy[i];
        if (!join[i])
            pthread_detach(rv->threads[i]);
    }
    pthread_mutex_unlock(&rv->lock);
    for (i = 0; i < n; i++)
        if (join[i])
            pthread_join(rv->threads[i], NULL);
    pthread_mutex_lock(&rv->lock);
    rt_resolver_release_locked(rv, &gone);
    pthread_mutex_unlock(&rv->lock);
    if (gone)
        rt_resolver_destroy(rv);
}
