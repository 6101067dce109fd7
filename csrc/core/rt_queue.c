/* Byte-bounded message FIFO (see rt_queue.h). */
#include "rt_queue.h"

#include <libwebsockets.h>
#include <stdint.h>
#include <string.h>

#include "rt_alloc.h"

_Static_assert(RT_PRE >= LWS_PRE, "RT_PRE must cover libwebsockets' LWS_PRE");

struct rt_msg *rt_msg_new(size_t len)
{
    struct rt_msg *m;

    if (len > SIZE_MAX - sizeof *m - RT_PRE - 1)
        return NULL;
    m = rt_malloc(sizeof *m + RT_PRE + len + 1);
    if (!m)
        return NULL;
    m->next = NULL;
    m->len = len;
    m->buf[RT_PRE + len] = '\0';
    return m;
}

struct rt_msg *rt_msg_copy(const void *p, size_t len)
{
    struct rt_msg *m = rt_msg_new(len);

    if (m && len)
        memcpy(rt_msg_data(m), p, len);
    return m;
}

void rt_msg_free(struct rt_msg *m)
{
    rt_free(m);
}

void rt_msg_free_chain(struct rt_msg *m)
{
    while (m) {
        struct rt_msg *next = m->next;
        rt_free(m);
        m = next;
    }
}

void rt_queue_init(struct rt_queue *q, size_t max_bytes)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
    q->count = 0;
    q->max_bytes = max_bytes;
}

void rt_queue_clear(struct rt_queue *q)
{
    rt_msg_free_chain(q->head);
    q->head = q->tail = NULL;
    q->bytes = 0;
    q->count = 0;
}

int rt_queue_push_chain(struct rt_queue *q, struct rt_msg *first, size_t bytes,
                        struct rt_error *err)
{
    struct rt_msg *last;
    size_t n = 0;

    if (!first)
        return 0;
    if (bytes > q->max_bytes) {
        rt_error_set(err, RT_EBUSY, "message of %zu bytes is larger than the send queue "
                     "can ever hold (max_queue_bytes = %zu)", bytes, q->max_bytes);
        return -1;
    }
    if (bytes > q->max_bytes - q->bytes) {
        rt_error_set(err, RT_EBUSY, "send queue full (%zu of %zu bytes queued)", q->bytes,
                     q->max_bytes);
        return -1;
    }
    for (last = first;; last = last->next) {
        n++;
        if (!last->next)
            break;
    }
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    q->bytes += bytes;
    q->count += n;
    return 0;
}

int rt_queue_push(struct rt_queue *q, struct rt_msg *m, struct rt_error *err)
{
    m->next = NULL;
    return rt_queue_push_chain(q, m, m->len, err);
}

struct rt_msg *rt_queue_pop(struct rt_queue *q)
{
    struct rt_msg *m = q->head;

    if (!m)
        return NULL;
    q->head = m->next;
    if (!q->head)
        q->tail = NULL;
    m->next = NULL;
    q->bytes -= m->len;
    q->count--;
    return m;
}
