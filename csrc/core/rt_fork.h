/* Which process an object belongs to, for programs that fork.
 *
 * After fork() the child has one thread and a copy of the parent's memory. A client,
 * session, credential or HTTP job made before it is a copy whose threads (the I/O
 * thread, the resolver, the HTTP worker) did not come along, whose descriptors
 * (sockets, eventfds, the epoll instance) it shares with the parent, and whose locks a
 * parent thread may have held at that moment. Using one in the child would wait for
 * threads that do not exist, deadlock on such a lock, or write into the parent's
 * connections. So each object is stamped with the process generation it was made in; a
 * pthread_atfork child handler moves the generation on, and one comparison (no system
 * call: glibc's getpid() is one) tells a copy. The objects' functions make that check
 * before any lock and refuse with RT_ECLOSED; their frees abandon the copy (its memory
 * and descriptors stay until the child exits or execs) instead of closing what is the
 * parent's. The child handler also forgets the parent's HTTP worker, so the child's own
 * credentials and jobs start one of their own. Not covered: the locks inside libcurl and
 * OpenSSL, which a library thread may hold at the fork (a fetch or handshake under way);
 * the child's own first fetch or handshake may then wait on them (docs/api.md). */
#ifndef RT_FORK_H
#define RT_FORK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "rt_error.h"

/* Where and in which process generation an object was made. */
struct rt_fork_stamp {
    unsigned gen;            /* rt_fork_gen when it was made */
    int pid;                 /* the process that made it (for the message) */
};

/* Forks this process has gone through since the library was loaded; written only by the
 * child handler, while the child has one thread. */
extern atomic_uint rt_fork_gen;

/* Stamps a new object with this process (registering the fork handler the first time). */
void rt_fork_stamp(struct rt_fork_stamp *st);

/* Whether the object stamped st was made by a parent, before a fork. */
static inline bool rt_fork_inherited(const struct rt_fork_stamp *st)
{
    return st->gen != atomic_load_explicit(&rt_fork_gen, memory_order_relaxed);
}

/* -1 with RT_ECLOSED and the message that says what happened and what to do ("a session
 * made by process N before fork(): ..."; `what` names the object). */
int rt_fork_refuse(const struct rt_fork_stamp *st, const char *what, struct rt_error *err);

/* 0 for an object of this process; rt_fork_refuse for a parent's copy. */
static inline int rt_fork_check(const struct rt_fork_stamp *st, const char *what,
                                struct rt_error *err)
{
    return rt_fork_inherited(st) ? rt_fork_refuse(st, what, err) : 0;
}

#endif
