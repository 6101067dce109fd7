/* The I/O thread's wait: a libev loop (epoll, kqueue) under lws, or lws's poll(). */
#include "rt_loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rt_alloc.h"
#include "rt_lws_log.h"

#if defined(RT_HAVE_LIBEV) && defined(LWS_WITH_LIBEV)
#include <ev.h>
#define RT_LOOP_LIBEV 1

struct rt_loop_ev {
    struct ev_loop *loop;              /* owned */
    struct rt_loop *l;
    struct lws_dll2_owner *timers;     /* lws's list our timers are on (known once used) */
    ev_timer kick;                     /* due at the head of that list */
    lws_usec_t kick_at;                /* that deadline while kick runs */
};
#endif

/* Out of descriptors (EMFILE, ENFILE) is a limit of the process the host can act on:
 * RT_ECONNECT, as a socket() that fails is (rt_signal_init), not a raise. */
static bool rt_loop_no_fds(int e)
{
    return e == EMFILE || e == ENFILE;
}

/* " (Too many open files)" for a log line of lws that does not say so, when errno `no`
 * was that; else "". */
static const char *rt_loop_fds_note(int no, char *buf, size_t size)
{
    if (!rt_loop_no_fds(no))
        return "";
    snprintf(buf, size, " (%s)", strerror(no));
    return buf;
}

/* lws_create_context sets SIGPIPE to SIG_IGN for the whole process, for good (and
 * children inherit it): the host's disposition is put back. Our writes need no
 * ignoring: the library's threads block SIGPIPE (rt_thread.h). One context at a time,
 * so that two clients made at once cannot save each other's change. */
static struct lws_context *rt_loop_create(struct lws_context_creation_info *info)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct sigaction old;
    struct lws_context *ctx;
    bool saved;

    pthread_mutex_lock(&lock);
    saved = sigaction(SIGPIPE, NULL, &old) == 0;
    ctx = lws_create_context(info);
    if (saved)
        (void)sigaction(SIGPIPE, &old, NULL);
    pthread_mutex_unlock(&lock);
    return ctx;
}

static struct lws_context *rt_loop_plain(struct rt_loop *l,
                                         struct lws_context_creation_info *info)
{
    l->ev = NULL;
    l->name = "poll";
    info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
    info->foreign_loops = NULL;
    rt_lws_clear_log();
    return l->ctx = rt_loop_create(info);
}

#ifdef RT_LOOP_LIBEV
/* A libev loop worth having: one whose wait does not walk every descriptor. Signals are
 * the host's business, so libev leaves the signal mask alone. */
static struct ev_loop *rt_loop_ev_new(const char **name, int *why)
{
    /* libev initialises some process-wide state in its first ev_loop_new (clock
     * probing); clients made on several threads at once take turns. */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct ev_loop *loop;

    pthread_mutex_lock(&lock);
    errno = 0;
    loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    /* an epoll_create that failed (out of descriptors) leaves libev on poll() */
    *why = errno;
    pthread_mutex_unlock(&lock);

    if (!loop)
        return NULL;
    switch (ev_backend(loop)) {
    case EVBACKEND_EPOLL:
        *name = "epoll";
        return loop;
    case EVBACKEND_KQUEUE:
        *name = "kqueue";
        return loop;
    default:
        ev_loop_destroy(loop);
        return NULL;
    }
}

static lws_sorted_usec_list_t *rt_loop_first(struct rt_loop_ev *e)
{
    struct lws_dll2 *d = e->timers ? lws_dll2_get_head(e->timers) : NULL;

    return d ? lws_container_of(d, lws_sorted_usec_list_t, list) : NULL;
}

/* Runs our timers that are due, earliest first (as lws does: each is off the list
 * before its callback, which may schedule it again), then wakes lws for what they may
 * have asked of it (a connection to close at once is a timer on lws's own list). */
static void rt_loop_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rt_loop_ev *e = (struct rt_loop_ev *)((char *)w - offsetof(struct rt_loop_ev, kick));
    lws_sorted_usec_list_t *sul;
    lws_usec_t now = lws_now_usecs();
    bool ran = false;

    (void)loop;
    (void)revents;
    while ((sul = rt_loop_first(e)) && sul->us <= now) {
        sul_cb_t cb = sul->cb;
        lws_sul_cancel(sul);
        cb(sul);
        ran = true;
    }
    if (ran)
        lws_cancel_service(e->l->ctx);
}

/* Points the kick at the head of our timers (no system call: libev's timer heap). */
static void rt_loop_rearm(struct rt_loop_ev *e)
{
    lws_sorted_usec_list_t *sul = rt_loop_first(e);
    lws_usec_t now;

    if (!sul) {
        ev_timer_stop(e->loop, &e->kick);
        return;
    }
    if (ev_is_active(&e->kick) && sul->us == e->kick_at)
        return;
    ev_timer_stop(e->loop, &e->kick);
    ev_now_update(e->loop);
    now = lws_now_usecs();
    ev_timer_set(&e->kick, sul->us > now ? (ev_tstamp)(sul->us - now) / 1e6 : 0., 0.);
    ev_timer_start(e->loop, &e->kick);
    e->kick_at = sul->us;
}

static struct lws_context *rt_loop_libev(struct rt_loop *l,
                                         struct lws_context_creation_info *info,
                                         struct rt_error *err)
{
    const char *name = NULL;
    struct lws_context *ctx;
    struct rt_loop_ev *e = rt_calloc(1, sizeof *e);
    int no;

    if (!e) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a client");
        return NULL;
    }
    if (!(e->loop = rt_loop_ev_new(&name, &no))) {
        rt_free(e);
        if (rt_loop_no_fds(no))
            rt_error_set(err, RT_ECONNECT, "cannot create an epoll descriptor: %s",
                         strerror(no));
        else
            rt_error_set(err, RT_EINVAL, "libev has no epoll or kqueue backend here");
        return NULL;
    }
    ev_timer_init(&e->kick, rt_loop_kick_cb, 0., 0.);
    e->l = l;
    l->ev = e;
    l->name = name;
    l->foreign[0] = e->loop;
    info->options |= LWS_SERVER_OPTION_LIBEV;
    info->foreign_loops = l->foreign;
    rt_lws_clear_log();
    ctx = l->ctx = rt_loop_create(info);
    if (!ctx) {
        /* lws names the plug-in it could not load, not why (dlopen out of descriptors) */
        const char *why = rt_lws_last_log();
        char note[64];
        no = rt_lws_last_errno();
        rt_error_set(err, rt_loop_no_fds(no) ? RT_ECONNECT : RT_EINVAL,
                     "libwebsockets cannot run on libev%s%s%s", *why ? ": " : "", why,
                     rt_loop_fds_note(no, note, sizeof note));
        rt_loop_free(l);
    }
    return ctx;
}
#endif

/* lws 4.1 makes the wake-up that lws_cancel_service writes to (an eventfd) inside
 * lws_create_context and, when that fails, keeps the context without one and logs
 * nothing (lws_create_event_pipes skips it): every wake then writes to descriptor -1,
 * and the I/O thread never hears of a connect or a close, only of its own timers. One
 * wake before the thread runs tells: its write fails with EBADF only then. The wake it
 * leaves pending costs the first loop turn an empty EVENT_WAIT_CANCELLED. Returns 0, or
 * why an eventfd cannot be made (EMFILE when one can be again: a descriptor was freed
 * meanwhile). */
static int rt_loop_wake_check(struct lws_context *ctx)
{
    int fd;

    errno = 0;
    lws_cancel_service(ctx);
    if (errno != EBADF)
        return 0;
    fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0)
        return errno ? errno : EMFILE;
    close(fd);
    return EMFILE;
}

/* ctx, or NULL with err when it cannot be woken (rt_loop_wake_check): it is destroyed. */
static struct lws_context *rt_loop_wakeable(struct rt_loop *l, struct lws_context *ctx,
                                            struct rt_error *err)
{
    int no = rt_loop_wake_check(ctx);

    if (!no)
        return ctx;
    lws_context_destroy(ctx);
    l->ctx = NULL;
    rt_loop_free(l);
    rt_error_set(err, rt_loop_no_fds(no) ? RT_ECONNECT : RT_ENOMEM,
                 "cannot create the libwebsockets context: it could not make its wake-up "
                 "eventfd: %s", strerror(no));
    return NULL;
}

struct lws_context *rt_loop_context(struct rt_loop *l, enum rt_event_loop want,
                                    struct lws_context_creation_info *info,
                                    struct rt_error *err)
{
    struct lws_context *ctx;

    memset(l, 0, sizeof *l);
#ifdef RT_LOOP_LIBEV
    if (want != RT_EVENT_LOOP_POLL) {
        struct rt_error why;
        rt_error_clear(&why);
        ctx = rt_loop_libev(l, info, &why);
        if (ctx)
            return rt_loop_wakeable(l, ctx, err);
        /* out of descriptors: poll() would be short of them too */
        if (why.code == RT_ECONNECT) {
            rt_error_set(err, why.code, "cannot create the libwebsockets context: %s",
                         why.msg);
            return NULL;
        }
        if (want == RT_EVENT_LOOP_EPOLL) {
            rt_error_set(err, why.code, "event_loop \"epoll\" is not available: %s", why.msg);
            return NULL;
        }
    }
#else
    if (want == RT_EVENT_LOOP_EPOLL) {
        rt_error_set(err, RT_EINVAL, "event_loop \"epoll\" is not available: this build "
                     "has no libev (see docs/design.md, \"The I/O thread's wait\")");
        return NULL;
    }
#endif
    ctx = rt_loop_plain(l, info);
    if (!ctx) {
        /* lws says "Unable to open random device /dev/urandom -1, errno 24" */
        const char *why = rt_lws_last_log();
        int no = rt_lws_last_errno();
        char note[64];
        rt_error_set(err, rt_loop_no_fds(no) ? RT_ECONNECT : RT_ENOMEM,
                     "cannot create the libwebsockets context%s%s%s", *why ? ": " : "", why,
                     rt_loop_fds_note(no, note, sizeof note));
        return NULL;
    }
    return rt_loop_wakeable(l, ctx, err);
}

void rt_loop_timer(struct rt_loop *l, lws_sorted_usec_list_t *sul, sul_cb_t cb,
                   lws_usec_t us)
{
#ifdef RT_LOOP_LIBEV
    if (l->ev) {
        lws_sul_schedule_wakesuspend(l->ctx, 0, sul, cb, us);
        l->ev->timers = sul->list.owner;
        return;                      /* the kick is re-armed after this loop turn */
    }
#endif
    lws_sul_schedule(l->ctx, 0, sul, cb, us);
}

int rt_loop_run(struct rt_loop *l)
{
#ifdef RT_LOOP_LIBEV
    if (l->ev) {
        /* One wait and its callbacks, as lws_service() does for poll(). */
        ev_run(l->ev->loop, EVRUN_ONCE);
        rt_loop_rearm(l->ev);
        return 0;
    }
#endif
    return lws_service(l->ctx, 0);
}

void rt_loop_free(struct rt_loop *l)
{
#ifdef RT_LOOP_LIBEV
    if (l->ev) {
        ev_timer_stop(l->ev->loop, &l->ev->kick);
        ev_loop_destroy(l->ev->loop);
        rt_free(l->ev);
    }
#endif
    l->ev = NULL;
}
