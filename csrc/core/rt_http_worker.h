/* The HTTP worker: one thread per process that runs every HTTP request of the core
 * (token fetches, HTTP jobs) through libcurl's multi interface, and the timers that
 * schedule token refreshes.
 *
 * Its users are tasks (struct rt_http_task), embedded in the objects that need the
 * worker (an rt_auth, an rt_http_job). A task has at most one request in flight and one
 * timer; the worker calls the task's functions on its thread when the request ends or
 * the timer is due. The thread starts when a task first asks for a request or a timer,
 * and stops when the last open task is closed: that close joins it, so a process (a C
 * host, a Lua state closing, a test under LeakSanitizer) that has closed every task has
 * no worker left. Callers that wait for a result wait on a signal of their own (rt_signal)
 * that their task's functions raise. */
#ifndef RT_HTTP_WORKER_H
#define RT_HTTP_WORKER_H

#include <stdbool.h>

#include "rt_error.h"
#include "rt_http.h"

struct rt_http_xfer;

struct rt_http_task {
    /* Set by the owner before rt_http_task_open; called on the worker thread, never
     * after the task was closed, never with the worker's lock held. */
    void (*on_due)(struct rt_http_task *t);       /* the time given to rt_http_task_wake
                                                     came (may be NULL if never used) */
    void (*on_done)(struct rt_http_task *t, int rc, struct rt_http_response *resp,
                    const struct rt_error *err);  /* the request ended: rc 0 with *resp (the
                                                     callee owns and frees it), or a failure:
                                                     RT_HTTP_NO_ANSWER or -1 (below) */
    void (*on_release)(struct rt_http_task *t);   /* after rt_http_task_close: the worker is
                                                     done with t, which may be freed now (on
                                                     the worker, or on the closer's thread) */

    /* The worker's; guarded by its lock unless said otherwise. */
    struct rt_http_task *next;      /* the worker's list of tasks */
    struct rt_http_xfer *pending;   /* owned: asked for, not started yet */
    struct rt_http_xfer *xfer;      /* owned, worker thread only: in flight */
    struct rt_http_task *due_next;  /* worker thread only: the pass's due or released tasks */
    struct rt_http_task *start_next;/* worker thread only: the pass's requests to start */
    double due_at;                  /* monotonic seconds (rt_clock_now) of on_due; INFINITY none */
    bool closing;                   /* rt_http_task_close was called */
};

/* The failure of a request whose server was reached: a connection was made, and no
 * usable HTTP answer came over it (rt_http_xfer_finish). Any other failure is -1: no
 * connection was made, or the request could not start. */
#define RT_HTTP_NO_ANSWER (-2)

/* Monotonic seconds, the clock of rt_http_task_wake. */

/* Registers t (its functions set, the rest of it zeroed) as an open task. */
void rt_http_task_open(struct rt_http_task *t);

/* Any thread: starts r for t, which has no other request under way. r is copied (see
 * rt_http_xfer.h). -1 with err when r is not acceptable, memory runs out or the worker
 * thread cannot start; nothing is then left running for t. */
int rt_http_task_request(struct rt_http_task *t, const struct rt_http_request *r,
                         struct rt_error *err);

/* Any thread: t's on_due runs once at monotonic time `at` (or soon, if it has passed),
 * replacing a time given before; INFINITY cancels it. -1 with err when the worker thread
 * cannot start. */
int rt_http_task_wake(struct rt_http_task *t, double at, struct rt_error *err);

/* Any thread but the worker (never from a task's function): closes t. Its request is
 * cancelled, its timer forgotten, and its on_release is called exactly once, on the
 * worker soon or, when the worker does not run, before this returns. Closing the last
 * open task stops the worker thread and waits for it to end. */
void rt_http_task_close(struct rt_http_task *t);

/* Whether the worker thread runs now (for tests and measurements). */
bool rt_http_worker_running(void);

/* The child of a fork() only (rt_fork.c's handler, while the child has one thread): the
 * parent's worker did not come along and its tasks are the parent's, so the worker's
 * state starts from nothing, as in a process that never had one; the child's own tasks
 * start a thread of their own. What the parent's state holds is abandoned, not freed. */
void rt_http_worker_forget(void);

#endif
