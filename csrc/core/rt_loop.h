/* The I/O thread's wait for its sockets.
 *
 * libwebsockets 4.1 waits with poll() over every descriptor of the context, so each
 * wake-up of a client with 200 sessions walks 200 sockets in the kernel. When the
 * library was built against libev (RT_HAVE_LIBEV) and lws has its libev plug-in, the
 * client runs its context on a libev loop of its own instead (epoll on Linux, kqueue on
 * the BSDs), which lws drives through that plug-in; otherwise lws's poll() loop as
 * before. Either way every piece of work still happens inside lws callbacks. */
#ifndef RT_LOOP_H
#define RT_LOOP_H

#include <libwebsockets.h>

#include "rt_client.h"
#include "rt_error.h"

struct rt_loop {
    struct lws_context *ctx;  /* the context on it, once made */
    struct rt_loop_ev *ev;    /* owned: the libev loop and its timer, or NULL: lws's poll() */
    void *foreign[1];         /* what lws is handed as its foreign loops */
    const char *name;         /* "epoll", "kqueue" or "poll" */
};

/* Creates the context described by info with the loop `want` asks for: AUTO takes libev
 * when it gives epoll or kqueue and lws can load its plug-in, else poll(); EPOLL fails
 * (RT_EINVAL, saying why) when that is not possible. NULL with err set on failure. */
struct lws_context *rt_loop_context(struct rt_loop *l, enum rt_event_loop want,
                                    struct lws_context_creation_info *info,
                                    struct rt_error *err);

/* Waits once and runs the callbacks of what woke it; < 0 when lws gave up. */
int rt_loop_run(struct rt_loop *l);

/* Frees the libev loop, once the context on it is destroyed. */
void rt_loop_free(struct rt_loop *l);

/* Calls cb(sul) on the I/O thread `us` microseconds from now (every timer of ours goes
 * through this; lws_sul_cancel cancels it).
 *
 * lws 4.1's libev plug-in re-arms its one libev timer with ev_timer_start, which does
 * nothing to a timer already running, and runs what is due from an idle watcher that
 * waits while any socket has work: a deadline set before the armed one would wait for
 * it (a 1 s reconnect behind a 20 s ping). So on libev our timers sit on lws's second
 * list (the one for wake-from-suspend, which nothing else uses here) and a libev timer
 * of ours, due at the head of that list, runs them itself. */
void rt_loop_timer(struct rt_loop *l, lws_sorted_usec_list_t *sul, sul_cb_t cb,
                   lws_usec_t us);

#endif
