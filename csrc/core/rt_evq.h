/* The queue that carries a session's events from the I/O thread to its owner. Internal.
 *
 * The I/O thread pushes without a lock (rt_mpsc) and raises the queue's signal, which
 * costs a system call only when the owner may be asleep; the owner takes everything
 * pushed so far in one exchange and pops from its own list. The queue counts the bytes
 * its events occupy in memory (rt_event_cost), which is what the read pause of a slow
 * owner is measured against. */
#ifndef RT_EVQ_H
#define RT_EVQ_H

#include <pthread.h>
#include <stdatomic.h>

#include "rt_error.h"
#include "rt_event.h"
#include "rt_mpsc.h"
#include "rt_signal.h"

/* An event with room for cap data bytes holding a copy of data[0..len) (len <= cap). */
struct rt_event *rt_event_new(enum rt_event_type type, int code, size_t cap, const char *data,
                              size_t len);

/* Memory an allocation of `size` bytes takes from malloc: glibc's 8-byte header, rounded
 * up to 16 bytes, at least 32. What the receive bound counts. */
static inline size_t rt_alloc_cost(size_t size)
{
    size_t c = (size + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static inline size_t rt_event_cost(const struct rt_event *ev)
{
    return rt_alloc_cost(offsetof(struct rt_event, data) + ev->len + 1);
}

struct rt_evq {
    struct rt_mpsc in;              /* pushed by the I/O thread */
    pthread_mutex_t lock;           /* owner threads only: guards head/tail */
    struct rt_link *head, *tail;    /* guarded by lock: taken from `in`, oldest first */
    struct rt_signal sig;           /* raised while events may wait */
    atomic_size_t bytes;            /* rt_event_cost of every queued event */
    atomic_bool done;               /* the last event is pushed: the signal stays raised */
};

int rt_evq_init(struct rt_evq *q, struct rt_error *err);
void rt_evq_destroy(struct rt_evq *q);           /* frees what is still queued */
/* I/O thread: queues ev (taking it) and raises the signal. Returns the queue's bytes. */
size_t rt_evq_push(struct rt_evq *q, struct rt_event *ev);
/* I/O thread: queues the queue's last event (the session's closed one) as rt_evq_push
 * does, and marks the queue done: from then on its signal is never cleared, so that no
 * wait on the descriptor sleeps for ever once that event is taken (by another thread, or
 * before the wait began), as a socket at end of file stays readable. */
void rt_evq_push_last(struct rt_evq *q, struct rt_event *ev);
/* Any thread: true once the last event has been pushed. Read before a look at the queue
 * that finds it empty, true means nothing will ever come. */
static inline bool rt_evq_done(struct rt_evq *q)
{
    return atomic_load(&q->done);
}
/* Owner: the oldest event (the caller frees it), or NULL when none waits, in which case
 * the signal is cleared when `clear` is set (a caller about to wait on it) and left as it
 * is otherwise (a caller that only polls: no system call, and none for the producer's
 * next raise either). A done queue's signal stays raised. *left (optional) receives the bytes still queued. */
struct rt_event *rt_evq_pop(struct rt_evq *q, size_t *left, bool clear);
/* Owner, about to wait on the signal: true when an event waits; otherwise clears the
 * signal (a poll_event that found nothing leaves it raised) so the wait sleeps until
 * the next push, unless the queue is done. */
bool rt_evq_arm(struct rt_evq *q);
/* Any thread: whether events are queued, without the lock (one atomic load): an event
 * pushed at this moment may show only on the next call. For frame loops that ask every
 * frame. */
static inline bool rt_evq_any(struct rt_evq *q)
{
    return atomic_load_explicit(&q->bytes, memory_order_acquire) != 0;
}

#endif
