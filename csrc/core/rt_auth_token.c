/* Handing out a credential's token (see rt_auth.h): rt_auth_token and the fetch it asks
 * the worker for, forgetting a token the server refused, waiting for a fetch, and the
 * credential's accessors. The object and its worker callbacks are in rt_auth.c. */
#include "rt_auth.h"

#include <pthread.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_auth_private.h"

/* Asks the worker for a fetch unless one is wanted or under way; false (err set) when
 * the worker cannot start. */
static bool rt_auth_want(struct rt_auth *a, struct rt_error *err)
{
    struct rt_error e;
    bool start;

    pthread_mutex_lock(&a->lock);
    if (a->closed) {
        pthread_mutex_unlock(&a->lock);
        rt_error_set(err, RT_EAUTH, "%s: the credential is closed", a->source);
        return false;
    }
    start = !a->fetching && !a->want;
    if (start) {
        a->want = true;
        rt_signal_clear(&a->sg);
    }
    pthread_mutex_unlock(&a->lock);
    rt_error_clear(&e);
    /* outside the lock: starting the worker may wait for an old one to be joined */
    if (!start || rt_http_task_wake(&a->task, 0, &e) == 0)
        return true;
    pthread_mutex_lock(&a->lock);
    a->want = false;
    rt_signal_raise(&a->sg);
    pthread_mutex_unlock(&a->lock);
    rt_error_set(err, RT_EAUTH, "%s: %s", a->source, e.msg);
    return false;
}

int rt_auth_token(struct rt_auth *a, double min_valid, char **token, double *expires_in,
                  struct rt_error *err)
{
    rt_error_clear(err);
    if (token) *token = NULL;
    if (!a || !token) {
        rt_error_set(err, RT_EINVAL, "%s is NULL", a ? "token" : "a");
        return -1;
    }
    if (rt_fork_check(&a->born, "a credential", err))
        return -1;
    pthread_mutex_lock(&a->lock);
    double now = rt_clock_now();
    /* a failure told below that is not a fetch's went nowhere (rt_auth_reached) */
    a->told_reached = false;
    a->told_cause = RT_EAUTH;
    if (a->closed) {
        pthread_mutex_unlock(&a->lock);
        rt_error_set(err, RT_EAUTH, "%s: the credential is closed", a->source);
        return -1;
    }
    if (a->token) {
        double floor = rt_auth_refresh_margin(a->lifetime) / 2;
        double need = min_valid < floor ? min_valid : floor;
        double left = a->expires - now;
        if (left > need) {
            char *copy = rt_strdup(a->token);
            pthread_mutex_unlock(&a->lock);
            if (!copy) {
                rt_error_set(err, RT_ENOMEM, "out of memory copying a token");
                return -1;
            }
            *token = copy;
            if (expires_in) *expires_in = left;
            return 1;
        }
    }
    if (a->failed && !a->fetching && !a->want) {
        a->failed = false;
        a->told_reached = a->last_reached;
        a->told_cause = a->last_cause;
        rt_error_set(err, a->last.code, "%s", a->last.msg);
        pthread_mutex_unlock(&a->lock);
        return -1;
    }
    pthread_mutex_unlock(&a->lock);
    return rt_auth_want(a, err) ? 0 : -1;
}

int rt_auth_reached(struct rt_auth *a, enum rt_code *cause)
{
    bool reached = false;

    if (cause)
        *cause = RT_OK;
    if (!a || rt_fork_inherited(&a->born))
        return 0;               /* a parent's copy: its lock may be held by no thread */
    pthread_mutex_lock(&a->lock);
    reached = a->told_reached;
    if (cause)
        *cause = a->told_cause;
    pthread_mutex_unlock(&a->lock);
    return reached ? 1 : 0;
}

/* Forgets the cached token when it is `token` (NULL: whichever it is) and, with `fetch`,
 * starts a new fetch; nothing when a fetch replaced the refused token meanwhile. */
static void rt_auth_forget(struct rt_auth *a, const char *token, bool fetch)
{
    bool same;

    if (!a) return;
    if (rt_fork_inherited(&a->born))
        return;                 /* rt_auth_token says why */
    pthread_mutex_lock(&a->lock);
    same = !token || (a->token && strcmp(a->token, token) == 0);
    if (same) {
        rt_auth_wipe(a->token);
        a->token = NULL;
        a->failed = false;
    }
    pthread_mutex_unlock(&a->lock);
    /* a worker that cannot start leaves no token: the next rt_auth_token says so */
    if (same && fetch)
        (void)rt_auth_want(a, NULL);
}

void rt_auth_invalidate(struct rt_auth *a)
{
    rt_auth_forget(a, NULL, true);
}

void rt_auth_reject(struct rt_auth *a, const char *token)
{
    if (token)
        rt_auth_forget(a, token, true);
}

void rt_auth_drop(struct rt_auth *a, const char *token)
{
    if (token)
        rt_auth_forget(a, token, false);
}

void rt_auth_on_demand(struct rt_auth *a)
{
    if (!a || rt_fork_inherited(&a->born))
        return;
    /* a refresh timer already set finds nothing to do when it fires (rt_auth_on_due) */
    pthread_mutex_lock(&a->lock);
    a->on_demand = true;
    pthread_mutex_unlock(&a->lock);
}

int rt_auth_fd(const struct rt_auth *a)
{
    return a ? a->sg.fd : -1;
}

int rt_auth_wait(struct rt_auth *a, double timeout)
{
    if (!a) return 0;
    if (rt_fork_inherited(&a->born))
        return 1;               /* nothing runs for it here: rt_auth_token says why */
    return rt_signal_wait(&a->sg, timeout);
}

const char *rt_auth_source(const struct rt_auth *a)
{
    return a ? a->source : NULL;
}

unsigned long rt_auth_fetches(struct rt_auth *a)
{
    if (!a) return 0;
    if (rt_fork_inherited(&a->born))
        return a->fetches;      /* no thread changes it here; its lock may be held */
    pthread_mutex_lock(&a->lock);
    unsigned long n = a->fetches;
    pthread_mutex_unlock(&a->lock);
    return n;
}
