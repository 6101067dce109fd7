/* Outgoing messages and the single-thread FIFO (see rt_queue.h). */
#include "rt_queue.h"

#include <stdint.h>
#include <string.h>

#include "rt_alloc.h"

_Static_assert(offsetof(struct rt_msg, link) == 0, "rt_msg_next relies on link being first");

struct rt_msg *rt_msg_new(size_t len)
{
    return rt_msg_new_calls(len, 0);
}

struct rt_msg *rt_msg_new_calls(size_t len, unsigned ncalls)
{
    struct rt_msg *m;
    size_t tail = (size_t)ncalls * sizeof(uint64_t);

    if (len > SIZE_MAX - sizeof *m - 8 - tail)
        return NULL;
    /* the numbers past the NUL, aligned (rt_msg_calls) */
    m = rt_malloc(sizeof *m + rt_msg_calls_at(len) + tail);
    if (!m)
        return NULL;
    m->link.next = NULL;
    m->len = len;
    m->flags = 0;
    m->ncalls = ncalls;
    m->data[len] = '\0';
    return m;
}

struct rt_msg *rt_msg_copy(const void *p, size_t len)
{
    struct rt_msg *m = rt_msg_new(len);

    if (m && len)
        memcpy(m->data, p, len);
    return m;
}

void rt_msg_free(struct rt_msg *m)
{
    rt_free(m);
}

void rt_msg_free_chain(struct rt_msg *m)
{
    while (m) {
        struct rt_msg *next = rt_msg_next(m);
        rt_free(m);
        m = next;
    }
}

void rt_queue_init(struct rt_queue *q)
{
    q->head = q->tail = NULL;
    q->bytes = q->count = 0;
}

void rt_queue_clear(struct rt_queue *q)
{
    rt_msg_free_chain(q->head);
    rt_queue_init(q);
}

void rt_queue_push(struct rt_queue *q, struct rt_msg *m)
{
    m->link.next = NULL;
    if (q->tail)
        q->tail->link.next = &m->link;
    else
        q->head = m;
    q->tail = m;
    q->bytes += m->len;
    q->count++;
}

void rt_queue_push_front(struct rt_queue *q, struct rt_msg *m)
{
    m->link.next = q->head ? &q->head->link : NULL;
    q->head = m;
    if (!q->tail)
        q->tail = m;
    q->bytes += m->len;
    q->count++;
}

void rt_queue_push_chain(struct rt_queue *q, struct rt_msg *first)
{
    while (first) {
        struct rt_msg *next = rt_msg_next(first);
        rt_queue_push(q, first);
        first = next;
    }
}

void rt_queue_prepend(struct rt_queue *q, struct rt_queue *from)
{
    if (!from->head)
        return;
    from->tail->link.next = q->head ? &q->head->link : NULL;
    q->head = from->head;
    if (!q->tail)
        q->tail = from->tail;
    q->bytes += from->bytes;
    q->count += from->count;
    rt_queue_init(from);
}

void rt_queue_push_after_run(struct rt_queue *q, struct rt_msg *m, unsigned flags)
{
    struct rt_queue run;

    rt_queue_init(&run);
    while (q->head && (q->head->flags & flags))
        rt_queue_push(&run, rt_queue_pop(q));
    rt_queue_push(&run, m);
    rt_queue_prepend(q, &run);
}

struct rt_msg *rt_queue_pop(struct rt_queue *q)
{
    struct rt_msg *m = q->head;

    if (!m)
        return NULL;
    q->head = rt_msg_next(m);
    if (!q->head)
        q->tail = NULL;
    q->bytes -= m->len;
    q->count--;
    m->link.next = NULL;
    return m;
}

size_t rt_queue_drop_flagged(struct rt_queue *q, unsigned flags)
{
    struct rt_queue keep;
    struct rt_msg *m;
    size_t dropped = 0;

    rt_queue_init(&keep);
    while ((m = rt_queue_pop(q)) != NULL) {
        if (m->flags & flags) {
            rt_msg_free(m);
            dropped++;
        } else {
            rt_queue_push(&keep, m);
        }
    }
    *q = keep;
    return dropped;
}

struct rt_msg *rt_queue_take_flagged(struct rt_queue *q, unsigned flags)
{
    struct rt_msg *prev = NULL, *m;

    for (m = q->head; m && !(m->flags & flags); m = rt_msg_next(m))
        prev = m;
    if (!m)
        return NULL;
    if (!prev)
        return rt_queue_pop(q);
    prev->link.next = m->link.next;
    if (q->tail == m)
        q->tail = prev;
    q->bytes -= m->len;
    q->count--;
    m->link.next = NULL;
    return m;
}

bool rt_queue_has_flagged(const struct rt_queue *q, unsigned flags)
{
    for (const struct rt_msg *m = q->head; m; m = rt_msg_next(m))
        if (m->flags & flags)
            return true;
    return false;
}
