/* Outgoing messages and the FIFO that holds them on one thread.
 *
 * A message is one allocation: the link, the length, the JSON text and a NUL. The I/O
 * thread frames and masks it while copying it into its write buffer, so the text itself
 * is never modified and a message kept for replay after a reconnect is written again as
 * it was. A queue is owned by one thread and does no locking: senders hand messages to
 * the I/O thread through a struct rt_mpsc (rt_mpsc.h), which it moves into its queues. */
#ifndef RT_QUEUE_H
#define RT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_link.h"

/* What the I/O thread must know of a message besides its text (rt_msg.flags). */
enum {
    RT_MSG_ACT_START = 1,  /* {"realtimeInput":{"activityStart":{}}} */
    RT_MSG_ACT_END = 2,    /* {"realtimeInput":{"activityEnd":{}}} */
    RT_MSG_INITIAL = 4,    /* initial history: never sent again on a resumed connection */
    RT_MSG_TOOL_RESPONSE = 8, /* {"toolResponse":...} (its first key, either spelling):
                                 answers of calls a reconnect voided are taken out
                                 (rt_conn_calls.c) */
    RT_MSG_REALTIME = 16      /* realtimeInput (appended audio, activity, or a text that
                                 names it): held while a tool call is open (rt_conn_gate.c) */
};

struct rt_msg {
    struct rt_link link;   /* owned by the list or queue that holds the message */
    size_t len;            /* payload bytes */
    unsigned char flags;   /* RT_MSG_*; 0 from rt_msg_new */
    unsigned ncalls;       /* numbers after the text (rt_msg_calls); 0 from rt_msg_new */
    unsigned char data[];  /* len bytes, then a NUL, then (aligned) ncalls uint64_t */
};

/* A message with room for len payload bytes (content uninitialised, NUL set); NULL when
 * out of memory. Free with rt_msg_free. */
struct rt_msg *rt_msg_new(size_t len);
/* A message with room for len payload bytes and ncalls numbers after them (uninitialised):
 * a toolResponse's, the server message of the call each answer answers when that call
 * came without an id, else 0 (rt_session_sendv_answers). */
struct rt_msg *rt_msg_new_calls(size_t len, unsigned ncalls);
/* A message holding a copy of p[0..len). */
struct rt_msg *rt_msg_copy(const void *p, size_t len);
void rt_msg_free(struct rt_msg *m);                  /* NULL ok; m only */
void rt_msg_free_chain(struct rt_msg *first);        /* m and everything linked after it */

static inline struct rt_msg *rt_msg_next(const struct rt_msg *m)
{
    return (struct rt_msg *)(void *)m->link.next;   /* link is the first member */
}

/* Where the numbers of a message of len payload bytes start in data: past the NUL, at
 * an 8-aligned offset from the message's start. */
static inline size_t rt_msg_calls_at(size_t len)
{
    size_t head = offsetof(struct rt_msg, data);
    return ((head + len + 1 + 7) & ~(size_t)7) - head;
}

/* The ncalls numbers of m. */
static inline uint64_t *rt_msg_calls(struct rt_msg *m)
{
    return (uint64_t *)(void *)(m->data + rt_msg_calls_at(m->len));
}

struct rt_queue {
    struct rt_msg *head;   /* owned */
    struct rt_msg *tail;   /* borrowed: last of the head chain */
    size_t bytes;          /* payload bytes queued */
    size_t count;          /* messages queued */
};

void rt_queue_init(struct rt_queue *q);
void rt_queue_clear(struct rt_queue *q);                     /* frees every message */
void rt_queue_push(struct rt_queue *q, struct rt_msg *m);    /* at the tail */
void rt_queue_push_front(struct rt_queue *q, struct rt_msg *m);
/* Appends the NULL-terminated chain first..., oldest first. */
void rt_queue_push_chain(struct rt_queue *q, struct rt_msg *first);
/* Moves every message of `from` in front of q's, keeping their order; from ends empty. */
void rt_queue_prepend(struct rt_queue *q, struct rt_queue *from);
/* Puts m after the leading run of messages with any of `flags` set and before the rest:
 * a message that must go out before what waits, behind others of its kind. */
void rt_queue_push_after_run(struct rt_queue *q, struct rt_msg *m, unsigned flags);
struct rt_msg *rt_queue_pop(struct rt_queue *q);             /* oldest, or NULL */
/* Frees the messages with any of `flags` set, keeping the others' order; returns how
 * many it freed. */
size_t rt_queue_drop_flagged(struct rt_queue *q, unsigned flags);

/* Takes out the oldest message with any of `flags` set (the others keep their order), or
 * NULL when none has. */
struct rt_msg *rt_queue_take_flagged(struct rt_queue *q, unsigned flags);
/* Whether a message with any of `flags` set waits. */
bool rt_queue_has_flagged(const struct rt_queue *q, unsigned flags);

static inline bool rt_queue_empty(const struct rt_queue *q)
{
    return q->head == NULL;
}

#endif
