/* A FIFO of outgoing messages bounded in bytes.
 *
 * Each message is one allocation holding RT_PRE bytes of headroom followed by the
 * payload and a NUL, so the I/O thread can hand the payload to lws_write without a copy
 * (lws writes the frame header into the headroom). The queue itself does no locking: its
 * owner guards it (the session's mutex). */
#ifndef RT_QUEUE_H
#define RT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "rt_error.h"

/* Headroom before each payload; at least libwebsockets' LWS_PRE (checked in rt_queue.c). */
#define RT_PRE 16

struct rt_msg {
    struct rt_msg *next;   /* owned by the queue (or the chain) while linked */
    size_t len;            /* payload bytes */
    unsigned char buf[];   /* RT_PRE headroom, then len payload bytes, then a NUL */
};

/* Payload of m. */
static inline unsigned char *rt_msg_data(struct rt_msg *m)
{
    return m->buf + RT_PRE;
}

/* A message with room for len payload bytes (content uninitialised, terminator set);
 * NULL when out of memory. Free with rt_msg_free. */
struct rt_msg *rt_msg_new(size_t len);
/* A message holding a copy of p. */
struct rt_msg *rt_msg_copy(const void *p, size_t len);
void rt_msg_free(struct rt_msg *m);          /* NULL ok; frees m only, not m->next */
void rt_msg_free_chain(struct rt_msg *m);    /* frees m and everything linked after it */

struct rt_queue {
    struct rt_msg *head;   /* owned */
    struct rt_msg *tail;   /* borrowed: last of the head chain */
    size_t bytes;          /* payload bytes queued */
    size_t count;          /* messages queued */
    size_t max_bytes;      /* bound on bytes */
};

void rt_queue_init(struct rt_queue *q, size_t max_bytes);
void rt_queue_clear(struct rt_queue *q);     /* frees every queued message */

/* Appends the chain first..(NULL-terminated) holding `bytes` payload bytes in all, taking
 * ownership only on success. Fails, queuing nothing, with RT_EBUSY when the bound would
 * be exceeded, also when the chain alone is larger than the bound (the message says so). */
int rt_queue_push_chain(struct rt_queue *q, struct rt_msg *first, size_t bytes,
                        struct rt_error *err);
/* Appends one message (see rt_queue_push_chain). */
int rt_queue_push(struct rt_queue *q, struct rt_msg *m, struct rt_error *err);

/* Removes and returns the oldest message (the caller owns it), NULL when empty. */
struct rt_msg *rt_queue_pop(struct rt_queue *q);

static inline bool rt_queue_empty(const struct rt_queue *q)
{
    return q->head == NULL;
}

#endif
