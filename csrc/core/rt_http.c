/* HTTP(S) requests as jobs on the HTTP worker (see rt_http.h). */
#include "rt_http.h"

#include <pthread.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_fork.h"
#include "rt_http_worker.h"
#include "rt_signal.h"

void rt_http_redact_url(const char *url, char *out, size_t size)
{
    if (size == 0) return;
    out[0] = '\0';
    if (!url) return;
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    size_t o = 0;
    /* scheme */
    for (const char *p = url; p < host && o + 1 < size; p++) out[o++] = *p;
    /* host[:port], after any user info */
    const char *h = at ? at + 1 : host;
    for (const char *p = h; p < host + auth_len && o + 1 < size; p++) out[o++] = *p;
    /* path up to the query or fragment */
    for (const char *p = host + auth_len; *p && *p != '?' && *p != '#' && o + 1 < size; p++)
        out[o++] = *p;
    out[o] = '\0';
}

void rt_http_response_free(struct rt_http_response *resp)
{
    if (!resp) return;
    if (resp->body) {
        explicit_bzero(resp->body, resp->len);
        rt_free(resp->body);
    }
    resp->body = NULL;
    resp->len = 0;
    resp->status = 0;
    resp->metadata_flavor = false;
}

/* ==================================================================== */
/*  J O B S                                                             */
/* ==================================================================== */

struct rt_http_job {
    struct rt_http_task task;         /* the worker's handle; first, so a task is its job */
    struct rt_signal done_sg;         /* raised once the request has ended, never cleared */
    pthread_mutex_t lock;
    bool done;                        /* guarded by lock */
    bool taken;                       /* guarded by lock: the response was handed out */
    int rc;                           /* guarded by lock: 0 response, -1 error */
    struct rt_http_response resp;     /* guarded by lock; owned until taken */
    struct rt_error err;              /* guarded by lock */
    struct rt_fork_stamp born;        /* the process that started it: in a child of a fork
                                         the job is the parent's copy (rt_fork.h) */
};

/* Records the outcome and wakes whoever waits. */
static void rt_http_job_end(struct rt_http_job *j, int rc, struct rt_http_response *resp,
                            const struct rt_error *err)
{
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    if (rc == 0)
        j->resp = *resp;
    else
        j->err = *err;
    j->done = true;
    pthread_mutex_unlock(&j->lock);
    rt_signal_raise(&j->done_sg);
}

static void rt_http_job_on_done(struct rt_http_task *t, int rc, struct rt_http_response *resp,
                                const struct rt_error *err)
{
    rt_http_job_end((struct rt_http_job *)t, rc, resp, err);
}

static void rt_http_job_on_release(struct rt_http_task *t)
{
    struct rt_http_job *j = (struct rt_http_job *)t;

    rt_http_response_free(&j->resp);
    rt_signal_destroy(&j->done_sg);
    pthread_mutex_destroy(&j->lock);
    rt_free(j);
}

struct rt_http_job *rt_http_start(const struct rt_http_request *r, struct rt_error *err)
{
    struct rt_http_job *j;
    struct rt_error e;

    j = rt_calloc(1, sizeof *j);
    if (!j) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
        return NULL;
    }
    rt_fork_stamp(&j->born);
    if (pthread_mutex_init(&j->lock, NULL) != 0) {
        rt_free(j);
        rt_error_set(err, RT_ENOMEM, "could not create a mutex for an HTTP request");
        return NULL;
    }
    if (rt_signal_init(&j->done_sg, err) != 0) {
        pthread_mutex_destroy(&j->lock);
        rt_free(j);
        return NULL;
    }
    j->task.on_done = rt_http_job_on_done;
    j->task.on_release = rt_http_job_on_release;
    rt_http_task_open(&j->task);
    rt_error_clear(&e);
    if (rt_http_task_request(&j->task, r, &e) != 0) {
        if (e.code == RT_ENOMEM) {
            rt_error_set(err, e.code, "%s", e.msg);
            rt_http_task_close(&j->task);
            return NULL;
        }
        rt_http_job_end(j, -1, NULL, &e);
    }
    return j;
}

int rt_http_job_fd(const struct rt_http_job *j)
{
    return j->done_sg.fd;
}

/* A parent's copy in a child of a fork has ended for the child (nothing runs for it
 * there), and its result says why; its lock is never taken. */
bool rt_http_job_done(struct rt_http_job *j)
{
    if (rt_fork_inherited(&j->born))
        return true;
    pthread_mutex_lock(&j->lock);
    bool done = j->done;
    pthread_mutex_unlock(&j->lock);
    return done;
}

int rt_http_job_wait(struct rt_http_job *j, double timeout)
{
    if (rt_fork_inherited(&j->born))
        return 1;
    rt_signal_wait(&j->done_sg, timeout);
    return rt_http_job_done(j) ? 1 : 0;
}

int rt_http_job_result(struct rt_http_job *j, struct rt_http_response *resp, struct rt_error *err)
{
    rt_error_clear(err);
    if (rt_fork_check(&j->born, "an HTTP request", err))
        return -1;
    pthread_mutex_lock(&j->lock);
    int rc = -1;
    if (!j->done) {
        rt_error_set(err, RT_EBUSY, "the HTTP request is still running");
    } else if (j->rc != 0) {
        rt_error_set(err, j->err.code, "%s", j->err.msg);
    } else if (j->taken) {
        rt_error_set(err, RT_ECLOSED, "the HTTP response was already taken");
    } else {
        *resp = j->resp;
        j->resp.body = NULL;
        j->resp.len = 0;
        j->taken = true;
        rc = 0;
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

void rt_http_job_free(struct rt_http_job *j)
{
    /* a parent's copy in a child of a fork is abandoned: its task is the parent's worker's */
    if (j && !rt_fork_inherited(&j->born))
        rt_http_task_close(&j->task);
}

int rt_http_perform(const struct rt_http_request *r, struct rt_http_response *resp,
                    struct rt_error *err)
{
    struct rt_http_job *j = rt_http_start(r, err);
    int rc;

    resp->status = 0;
    resp->body = NULL;
    resp->len = 0;
    resp->metadata_flavor = false;
    if (!j)
        return -1;
    while (rt_http_job_wait(j, -1) != 1)
        ;
    rc = rt_http_job_result(j, resp, err);
    rt_http_job_free(j);
    return rc;
}
