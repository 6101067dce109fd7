/* The process's HTTP worker: one thread, libcurl's multi interface, task timers (see
 * rt_http_worker.h).
 *
 * Other threads only touch the task list and the tasks' guarded fields under the lock,
 * then wake the thread with curl_multi_wakeup. The thread makes passes: under the lock
 * it takes what changed (tasks closed, requests asked for, timers due), then, without
 * the lock, it releases, starts, runs the due timers, drives libcurl and hands finished
 * requests to their tasks, and finally sleeps in curl_multi_poll until the next timer,
 * libcurl's own timeout, socket activity or a wake-up.
 *
 * Starting and stopping the thread happen under a second lock (`life`), so a task that
 * asks for service while the last other task is being closed waits for the old thread
 * to be joined and then starts a new one.
 *
 * After fork() the child forgets the parent's worker (rt_http_worker_forget, from
 * rt_fork.c): its tasks are the parent's, whose objects refuse to run in the child. */
#include "rt_http_worker.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "rt_clock.h"
#include "rt_curl.h"
#include "rt_http_xfer.h"
#include "rt_thread.h"

/* Longest single sleep; a pass with nothing to do costs a few microseconds. */
#define RT_HW_MAX_SLEEP_MS 3600000

static struct {
    pthread_mutex_t lock;          /* guards everything below */
    pthread_mutex_t life;          /* held while the thread is started or stopped; taken
                                      before lock, never by the thread itself */
    CURLM *multi;                  /* the running thread's; NULL when none (wakers check) */
    pthread_t thread;
    bool running;                  /* the thread exists and will be joined */
    bool stop;                     /* the thread must end after releasing closed tasks */
    bool dirty;                    /* changed since the thread's last pass */
    unsigned open;                 /* open tasks */
    struct rt_http_task *tasks;    /* every task not released yet, open or closing */
} rt_hw = { .lock = PTHREAD_MUTEX_INITIALIZER, .life = PTHREAD_MUTEX_INITIALIZER };

static _Thread_local bool rt_hw_on_worker;


/* Lock held: tells the thread to make a pass. A failed wake-up (only possible when
 * libcurl's wake-up socket pair could not be written) is caught up by the next timeout. */
static void rt_hw_wake(void)
{
    rt_hw.dirty = true;
    if (rt_hw.multi)
        (void)rt_curl.multi_wakeup(rt_hw.multi);
}

static bool rt_hw_closing(struct rt_http_task *t)
{
    bool closing;

    pthread_mutex_lock(&rt_hw.lock);
    closing = t->closing;
    pthread_mutex_unlock(&rt_hw.lock);
    return closing;
}

/* Cancels and frees what a released task still holds, then lets its owner free it. */
static void rt_hw_release(struct rt_http_task *t, CURLM *m)
{
    if (t->xfer) {
        if (m)
            rt_curl.multi_remove_handle(m, rt_http_xfer_easy(t->xfer));
        rt_http_xfer_free(t->xfer);
        t->xfer = NULL;
    }
    rt_http_xfer_free(t->pending);
    t->pending = NULL;
    t->on_release(t);
}

/* ==================================================================== */
/*  T H E   T H R E A D                                                 */
/* ==================================================================== */

/* Starts the requests taken in a pass; one libcurl refuses ends at once. */
static void rt_hw_start(CURLM *m, struct rt_http_task *start)
{
    struct rt_http_task *t, *next;

    for (t = start; t; t = next) {
        CURL *e = rt_http_xfer_easy(t->xfer);
        CURLMcode mc = CURLM_OUT_OF_MEMORY;
        struct rt_error err;

        next = t->start_next;
        if (rt_curl.easy_setopt(e, CURLOPT_PRIVATE, (void *)t) == CURLE_OK &&
            (mc = rt_curl.multi_add_handle(m, e)) == CURLM_OK)
            continue;
        rt_error_clear(&err);
        rt_error_set(&err, RT_ENOMEM, "could not start an HTTP request: %s",
                     rt_curl.multi_strerror(mc));
        rt_http_xfer_free(t->xfer);
        t->xfer = NULL;
        if (!rt_hw_closing(t))
            t->on_done(t, -1, NULL, &err);
    }
}

/* Hands every request libcurl has finished to its task. */
static void rt_hw_finish(CURLM *m)
{
    CURLMsg *msg;
    int left;

    while ((msg = rt_curl.multi_info_read(m, &left))) {
        struct rt_http_task *t;
        char *priv = NULL;
        struct rt_http_response resp = { 0 };
        struct rt_error err;
        CURLcode rc = msg->data.result;
        int r;

        if (msg->msg != CURLMSG_DONE)
            continue;
        if (rt_curl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv)
            continue;   /* not ours: cannot happen, every handle is a task's */
        t = (struct rt_http_task *)(void *)priv;
        rt_curl.multi_remove_handle(m, msg->easy_handle);
        rt_error_clear(&err);
        r = rt_http_xfer_finish(t->xfer, rc, &resp, &err);
        rt_http_xfer_free(t->xfer);
        t->xfer = NULL;
        if (rt_hw_closing(t))
            rt_http_response_free(&resp);
        else
            t->on_done(t, r, r == 0 ? &resp : NULL, &err);
    }
}

/* Sleeps until the next timer at `next`, libcurl's own deadline, socket activity or a
 * wake-up. */
static void rt_hw_sleep(CURLM *m, double next)
{
    long curl_ms = -1;
    double ms = RT_HW_MAX_SLEEP_MS;

    if (rt_curl.multi_timeout(m, &curl_ms) == CURLM_OK && curl_ms >= 0 && curl_ms < ms)
        ms = (double)curl_ms;
    if (next < INFINITY) {
        double left = ceil((next - rt_clock_now()) * 1000.0);
        if (left < ms)
            ms = left < 0 ? 0 : left;
    }
    (void)rt_curl.multi_poll(m, NULL, 0, (int)ms, NULL);
}

static void *rt_hw_main(void *ud)
{
    CURLM *m = ud;
    bool stop = false;

    rt_hw_on_worker = true;
    while (!stop) {
        struct rt_http_task *release = NULL, *start = NULL, *due = NULL, *t, *next, **pp;
        double now = rt_clock_now(), wake = INFINITY;
        bool dirty;
        int running;

        /* one pass under the lock: pointers only */
        pthread_mutex_lock(&rt_hw.lock);
        stop = rt_hw.stop;
        rt_hw.dirty = false;
        for (pp = &rt_hw.tasks; (t = *pp);) {
            if (t->closing) {
                *pp = t->next;
                t->due_next = release;
                release = t;
                continue;
            }
            pp = &t->next;
            if (stop)
                continue;
            if (t->pending && !t->xfer) {
                t->xfer = t->pending;
                t->pending = NULL;
                t->start_next = start;
                start = t;
            }
            if (t->due_at <= now) {
                t->due_at = INFINITY;
                t->due_next = due;
                due = t;
            } else if (t->due_at < wake) {
                wake = t->due_at;
            }
        }
        pthread_mutex_unlock(&rt_hw.lock);

        for (t = release; t; t = next) {
            next = t->due_next;
            rt_hw_release(t, m);
        }
        if (stop)
            break;
        rt_hw_start(m, start);
        for (t = due; t; t = next) {
            next = t->due_next;
            if (t->on_due && !rt_hw_closing(t))
                t->on_due(t);
        }
        (void)rt_curl.multi_perform(m, &running);
        rt_hw_finish(m);

        /* what the functions just called asked for is taken by the next pass at once */
        pthread_mutex_lock(&rt_hw.lock);
        dirty = rt_hw.dirty;
        pthread_mutex_unlock(&rt_hw.lock);
        if (!dirty)
            rt_hw_sleep(m, wake);
    }
    pthread_mutex_lock(&rt_hw.lock);
    rt_hw.multi = NULL;
    pthread_mutex_unlock(&rt_hw.lock);
    rt_curl.multi_cleanup(m);
    return NULL;
}

/* ==================================================================== */
/*  S T A R T   A N D   S T O P                                         */
/* ==================================================================== */

/* Makes sure the thread runs (called before handing it work). */
static int rt_hw_ensure(struct rt_error *err)
{
    CURLM *m;
    int rc = 0;

    if (rt_hw_on_worker)
        return 0;
    pthread_mutex_lock(&rt_hw.life);
    pthread_mutex_lock(&rt_hw.lock);
    if (rt_hw.running) {
        pthread_mutex_unlock(&rt_hw.lock);
        pthread_mutex_unlock(&rt_hw.life);
        return 0;
    }
    pthread_mutex_unlock(&rt_hw.lock);
    if (rt_http_global_init(err) != 0) {
        pthread_mutex_unlock(&rt_hw.life);
        return -1;
    }
    m = rt_curl.multi_init();
    if (!m) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting the HTTP worker");
        pthread_mutex_unlock(&rt_hw.life);
        return -1;
    }
    pthread_mutex_lock(&rt_hw.lock);
    rt_hw.multi = m;
    rt_hw.stop = false;
    rt_hw.dirty = true;
    if (rt_thread_start(&rt_hw.thread, rt_hw_main, m) != 0) {
        rt_hw.multi = NULL;
        rt_error_set(err, RT_ENOMEM, "could not start the HTTP worker thread");
        rc = -1;
    } else {
        rt_hw.running = true;
    }
    pthread_mutex_unlock(&rt_hw.lock);
    if (rc != 0)
        rt_curl.multi_cleanup(m);
    pthread_mutex_unlock(&rt_hw.life);
    return rc;
}

/* Stops and joins the thread when no task is open, then releases the tasks closed
 * while it was stopping (it took no new work then). */
static void rt_hw_stop(void)
{
    struct rt_http_task *release = NULL, *t, **pp;

    pthread_mutex_lock(&rt_hw.life);
    pthread_mutex_lock(&rt_hw.lock);
    if (!rt_hw.running || rt_hw.open > 0) {
        pthread_mutex_unlock(&rt_hw.lock);
        pthread_mutex_unlock(&rt_hw.life);
        return;
    }
    rt_hw.stop = true;
    rt_hw_wake();
    pthread_mutex_unlock(&rt_hw.lock);
    pthread_join(rt_hw.thread, NULL);
    pthread_mutex_lock(&rt_hw.lock);
    rt_hw.running = false;
    rt_hw.stop = false;
    for (pp = &rt_hw.tasks; (t = *pp);) {
        if (t->closing) {
            *pp = t->next;
            t->due_next = release;
            release = t;
        } else {
            pp = &t->next;
        }
    }
    pthread_mutex_unlock(&rt_hw.lock);
    pthread_mutex_unlock(&rt_hw.life);
    while ((t = release)) {
        release = t->due_next;
        rt_hw_release(t, NULL);
    }
}

/* ==================================================================== */
/*  T A S K S                                                           */
/* ==================================================================== */

void rt_http_task_open(struct rt_http_task *t)
{
    t->pending = NULL;
    t->xfer = NULL;
    t->due_at = INFINITY;
    t->closing = false;
    pthread_mutex_lock(&rt_hw.lock);
    t->next = rt_hw.tasks;
    rt_hw.tasks = t;
    rt_hw.open++;
    pthread_mutex_unlock(&rt_hw.lock);
}

int rt_http_task_request(struct rt_http_task *t, const struct rt_http_request *r,
                         struct rt_error *err)
{
    struct rt_http_xfer *x = rt_http_xfer_new(r, err);

    if (!x)
        return -1;
    if (rt_hw_ensure(err) != 0) {
        rt_http_xfer_free(x);
        return -1;
    }
    pthread_mutex_lock(&rt_hw.lock);
    if (t->pending || t->closing) {
        pthread_mutex_unlock(&rt_hw.lock);
        rt_http_xfer_free(x);
        rt_error_set(err, RT_EBUSY, "an HTTP request of this task is already waiting");
        return -1;
    }
    t->pending = x;
    rt_hw_wake();
    pthread_mutex_unlock(&rt_hw.lock);
    return 0;
}

int rt_http_task_wake(struct rt_http_task *t, double at, struct rt_error *err)
{
    if (at < INFINITY && rt_hw_ensure(err) != 0)
        return -1;
    pthread_mutex_lock(&rt_hw.lock);
    if (!t->closing) {
        t->due_at = at;
        rt_hw_wake();
    }
    pthread_mutex_unlock(&rt_hw.lock);
    return 0;
}

void rt_http_task_close(struct rt_http_task *t)
{
    struct rt_http_task **pp;
    bool last;

    pthread_mutex_lock(&rt_hw.lock);
    t->closing = true;
    rt_hw.open--;
    last = rt_hw.open == 0;
    if (rt_hw.running) {
        rt_hw_wake();
        pthread_mutex_unlock(&rt_hw.lock);
        if (last)
            rt_hw_stop();
        return;
    }
    for (pp = &rt_hw.tasks; *pp && *pp != t; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = t->next;
    pthread_mutex_unlock(&rt_hw.lock);
    rt_hw_release(t, NULL);
}

/* The locks are made anew, not taken: a parent thread may have held them at the fork.
 * The multi handle and the tasks are left as they are (cleaning the handle up would
 * close connections the parent's libcurl still uses: a TLS close_notify on them). */
void rt_http_worker_forget(void)
{
    rt_hw.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    rt_hw.life = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    rt_hw.multi = NULL;
    rt_hw.running = false;
    rt_hw.stop = false;
    rt_hw.dirty = false;
    rt_hw.open = 0;
    rt_hw.tasks = NULL;
}

bool rt_http_worker_running(void)
{
    bool running;

    pthread_mutex_lock(&rt_hw.lock);
    running = rt_hw.running;
    pthread_mutex_unlock(&rt_hw.lock);
    return running;
}
