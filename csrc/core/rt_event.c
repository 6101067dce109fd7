/* Session events and their queue (see rt_event.h). */
#include "rt_evq.h"

#include <string.h>

#include "rt_alloc.h"

struct rt_event *rt_event_new(enum rt_event_type type, int code, size_t cap, const char *data,
                              size_t len)
{
    struct rt_event *ev;

    if (len > cap)
        len = cap;
    ev = rt_malloc(offsetof(struct rt_event, data) + cap + 1);
    if (!ev)
        return NULL;
    ev->link.next = NULL;
    ev->type = type;
    ev->code = code;
    ev->seq = 0;
    ev->len = len;
    if (len)
        memcpy(ev->data, data, len);
    ev->data[len] = '\0';
    return ev;
}

void rt_event_free(struct rt_event *ev)
{
    rt_free(ev);
}

int rt_evq_init(struct rt_evq *q, struct rt_error *err)
{
    rt_mpsc_init(&q->in);
    q->head = q->tail = NULL;
    atomic_init(&q->bytes, 0);
    atomic_init(&q->done, false);
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        rt_error_set(err, RT_ENOMEM, "cannot create a mutex");
        q->sig.fd = -1;
        return -1;
    }
    if (rt_signal_init(&q->sig, err)) {
        pthread_mutex_destroy(&q->lock);
        return -1;
    }
    return 0;
}

static void rt_evq_free_chain(struct rt_link *l)
{
    while (l) {
        struct rt_link *next = l->next;
        rt_free(rt_container_of(l, struct rt_event, link));
        l = next;
    }
}

void rt_evq_destroy(struct rt_evq *q)
{
    rt_evq_free_chain(q->head);
    rt_evq_free_chain(rt_mpsc_take(&q->in));
    q->head = q->tail = NULL;
    rt_signal_destroy(&q->sig);
    pthread_mutex_destroy(&q->lock);
}

size_t rt_evq_push(struct rt_evq *q, struct rt_event *ev)
{
    size_t b = atomic_fetch_add(&q->bytes, rt_event_cost(ev)) + rt_event_cost(ev);

    rt_mpsc_push(&q->in, &ev->link);
    rt_signal_raise(&q->sig);
    return b;
}

void rt_evq_push_last(struct rt_evq *q, struct rt_event *ev)
{
    atomic_fetch_add(&q->bytes, rt_event_cost(ev));
    rt_mpsc_push(&q->in, &ev->link);
    /* done before the raise: a clear that undoes this raise then sees it (rt_evq_lower) */
    atomic_store(&q->done, true);
    rt_signal_raise(&q->sig);
}

/* Clears the signal before the owner looks once more and then waits; returns whether it
 * was raised (what was pushed before must then be taken). A done queue keeps it raised
 * for good: nothing will raise it again, and a thread waiting on the descriptor (another
 * reader, whose closed event this one took) must not sleep for ever. */
static bool rt_evq_lower(struct rt_evq *q)
{
    if (atomic_load(&q->done))
        return true;
    if (!rt_signal_clear(&q->sig))
        return false;
    if (atomic_load(&q->done))          /* the last push came during the clear */
        rt_signal_raise(&q->sig);
    return true;
}

/* Moves what the I/O thread pushed to the owner's list; the caller holds the lock. */
static void rt_evq_take_locked(struct rt_evq *q)
{
    struct rt_link *l = rt_mpsc_take(&q->in), *last;

    if (!l)
        return;
    for (last = l; last->next; last = last->next)
        ;
    if (q->tail)
        q->tail->next = l;
    else
        q->head = l;
    q->tail = last;
}

struct rt_event *rt_evq_pop(struct rt_evq *q, size_t *left, bool clear)
{
    struct rt_event *ev = NULL;
    struct rt_link *l;
    bool cleared = false;

    pthread_mutex_lock(&q->lock);
    if (!q->head)
        rt_evq_take_locked(q);
    /* Nothing here: clear the signal, then look once more (an event pushed before the
     * clear is found now, one pushed after it raises the signal again). */
    if (!q->head && clear && rt_evq_lower(q)) {
        cleared = true;
        rt_evq_take_locked(q);
    }
    l = q->head;
    if (l) {
        q->head = l->next;
        if (!q->head)
            q->tail = NULL;
        l->next = NULL;
        ev = rt_container_of(l, struct rt_event, link);
    }
    /* Several arrived during the clear: the ones left wait in this list, where no push
     * will raise the signal for them, so raise it here (an owner polling the descriptor
     * after an event that mapped to no message would otherwise sleep beside them). */
    if (cleared && q->head)
        rt_signal_raise(&q->sig);
    pthread_mutex_unlock(&q->lock);
    if (ev) {
        size_t b = atomic_fetch_sub(&q->bytes, rt_event_cost(ev)) - rt_event_cost(ev);
        if (left)
            *left = b;
    } else if (left) {
        *left = atomic_load(&q->bytes);
    }
    return ev;
}

bool rt_evq_arm(struct rt_evq *q)
{
    bool r;

    pthread_mutex_lock(&q->lock);
    r = q->head != NULL || !rt_mpsc_empty(&q->in);
    /* Cleared first, looked at again after: a push from now on raises it anew. */
    if (!r && rt_evq_lower(q))
        r = !rt_mpsc_empty(&q->in);
    pthread_mutex_unlock(&q->lock);
    return r;
}
