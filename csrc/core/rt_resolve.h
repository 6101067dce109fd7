/* Name resolution off the I/O thread.
 *
 * libwebsockets 4.1 (as Debian builds it) resolves host names with a blocking
 * getaddrinfo on its service thread, so one slow lookup would stall every session of a
 * client. Each client therefore has resolver threads (up to four, started as lookups
 * come and none is free, so one stuck lookup does not hold the next connects behind it):
 * the I/O thread hands them a request and connects to the numeric addresses it gets
 * back, keeping the host name for the Host header, SNI and the certificate check.
 * Literal addresses skip the threads. */
#ifndef RT_RESOLVE_H
#define RT_RESOLVE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "rt_link.h"

#define RT_RESOLVE_MAX_ADDRS 8
#define RT_RESOLVE_ADDR_LEN 46           /* INET6_ADDRSTRLEN */

struct rt_resolve_req {
    struct rt_link link;                 /* queued on the resolver */
    const char *host;                    /* borrowed from the requester, valid until done */
    int port;
    const void *owner;                   /* whose it is, for rt_resolver_cancel; may be NULL */
    unsigned gen;                        /* which of the owner's requests it is
                                            (rt_resolve_take) */
    struct rt_resolve_req *next_answer;  /* the next answer waiting in the owner's slot */
    /* results, written by the resolver thread before `done` is called */
    int count;                           /* addresses found */
    char addrs[RT_RESOLVE_MAX_ADDRS][RT_RESOLVE_ADDR_LEN];
    char error[128];                     /* why nothing was found ("" when count > 0) */
    /* called once: on the resolver thread when the results are in (or the resolver
     * stops: count 0, error says so), or on the thread that cancels it (count 0, error
     * "cancelled") */
    void (*done)(struct rt_resolve_req *r);
};

struct rt_resolver;

/* A resolver whose threads start with the requests. NULL when out of memory. */
struct rt_resolver *rt_resolver_new(void);
/* Queues r (any thread). Returns false when the thread cannot be started (r untouched). */
bool rt_resolver_submit(struct rt_resolver *rv, struct rt_resolve_req *r);
/* Answers at once, on the calling thread, the requests of `owner` that no thread has
 * taken yet (done() with count 0, error "cancelled"), so that lookups nobody waits for
 * any more do not hold later ones behind them in the queue. A lookup already under way
 * cannot be stopped: it answers when getaddrinfo returns. Returns how many were
 * cancelled. */
int rt_resolver_cancel(struct rt_resolver *rv, const void *owner);
/* Stops the threads: requests still queued get done() with an error; a lookup under way
 * finishes on its own (its thread then exits, the last one freeing what is left). NULL
 * ok. */
void rt_resolver_free(struct rt_resolver *rv);

/* Adds the answered request r to those waiting in `slot` for their owner (any thread).
 * It never reads the answers already there: the owner may take and free them at any
 * moment. A lookup that a later one replaced may answer after it; both wait, and the
 * owner keeps the one it asks for (rt_resolve_take). */
void rt_resolve_hand_over(_Atomic(struct rt_resolve_req *) *slot, struct rt_resolve_req *r);

/* The owner's thread: takes every answer waiting in `slot`. Returns that of request
 * `gen`, or NULL; the others go to *stale, linked by next_answer, for the caller to
 * free. */
struct rt_resolve_req *rt_resolve_take(_Atomic(struct rt_resolve_req *) *slot, unsigned gen,
                                       struct rt_resolve_req **stale);

/* Fills r's results at once when r->host is a literal IPv4 or IPv6 address; returns
 * whether it was. */
bool rt_resolve_literal(struct rt_resolve_req *r);

#endif
