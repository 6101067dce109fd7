/* A lock-free hand-off list: any number of threads push, one thread takes everything.
 *
 * Items embed a struct rt_link. Pushing is one compare-and-swap; taking is one exchange
 * that empties the list and returns its items oldest first. Nothing waits and no lock is
 * held, so the producer (say, a thread appending audio) never stalls behind the consumer
 * (the I/O thread writing frames). Each producer's items keep their order; items of
 * different producers come in the order their pushes happened. Push tells whether the
 * list was empty, which is when the consumer needs waking: one wake-up per batch. */
#ifndef RT_MPSC_H
#define RT_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "rt_link.h"

struct rt_mpsc {
    _Atomic(struct rt_link *) top;   /* newest first; items owned by the list */
};

static inline void rt_mpsc_init(struct rt_mpsc *q)
{
    atomic_init(&q->top, NULL);
}

/* Pushes the chain first..(next links)..last, given oldest first and NULL-terminated at
 * last. Returns true when the list was empty before. */
static inline bool rt_mpsc_push_chain(struct rt_mpsc *q, struct rt_link *first)
{
    struct rt_link *rev = NULL, *tail = first, *next, *top;

    /* The list is newest first: reverse the chain, whose first item becomes the bottom. */
    while (first) {
        next = first->next;
        first->next = rev;
        rev = first;
        first = next;
    }
    top = atomic_load_explicit(&q->top, memory_order_relaxed);
    do {
        tail->next = top;
    } while (!atomic_compare_exchange_weak_explicit(&q->top, &top, rev, memory_order_release,
                                                    memory_order_relaxed));
    return top == NULL;
}

static inline bool rt_mpsc_push(struct rt_mpsc *q, struct rt_link *item)
{
    item->next = NULL;
    return rt_mpsc_push_chain(q, item);
}

/* Takes every item (the consumer only): a NULL-terminated chain, oldest first. */
static inline struct rt_link *rt_mpsc_take(struct rt_mpsc *q)
{
    struct rt_link *l = atomic_exchange_explicit(&q->top, NULL, memory_order_acquire);
    struct rt_link *rev = NULL, *next;

    while (l) {
        next = l->next;
        l->next = rev;
        rev = l;
        l = next;
    }
    return rev;
}

static inline bool rt_mpsc_empty(struct rt_mpsc *q)
{
    return atomic_load_explicit(&q->top, memory_order_relaxed) == NULL;
}

#endif
