/* Google OAuth 2.0 access tokens, fetched and refreshed off the caller's thread, on the
 * HTTP worker (see rt_auth.h): the credential object, its checks and its worker
 * callbacks. Handing out the token and the accessors are in rt_auth_token.c. */
#include "rt_auth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_auth_private.h"
#include "rt_url.h"
#include "rt_utf8.h"

#define RT_AUTH_RETRY_MAX 30.0
/* Room for a source as messages show it, leaving the rest of a message for the cause. */
#define RT_AUTH_SOURCE_MAX 512

void rt_auth_wipe(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    rt_free(s);
}

void rt_auth_token_free(char *token)
{
    rt_auth_wipe(token);
}

/* True when url holds a space, a control character, a backslash or a non-ASCII byte:
 * curl would refuse some of them and read others (a backslash) as part of the host, and
 * an error quoting the URL would carry them into logs. */
static bool rt_auth_uri_odd(const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '\\')
            return true;
    return false;
}

/* True when a request to url cannot be read on the way: https://, or http:// to a
 * loopback host (a local emulator or test server). The authority must be the host and
 * an optional port, nothing else: user information ("localhost:1@host") would send the
 * request to the host after the '@'. */
static bool rt_auth_uri_private(const char *url)
{
    static const char *const loopback[] = { "127.0.0.1", "[::1]", "localhost" };
    const char *a = strstr(url, "://");
    size_t alen;

    a = a ? a + 3 : url;
    alen = strcspn(a, "/?#");
    if (memchr(a, '@', alen))
        return false;
    if (strncasecmp(url, "http://", 7) != 0)   /* a scheme in any case, as taken */
        return true;
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        size_t n = strlen(loopback[i]);
        if (n > alen || strncasecmp(a, loopback[i], n) != 0)
            continue;
        if (n == alen)
            return true;
        if (a[n] == ':' && alen > n + 1 && strspn(a + n + 1, "0123456789") == alen - n - 1)
            return true;
    }
    return false;
}

/* The length of the http:// or https:// (any case) that starts s, else 0. */
static size_t rt_auth_http_scheme(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 ? 7 : strncasecmp(s, "https://", 8) == 0 ? 8 : 0;
}

/* metadata_host: "host[:port]", or an http(s) URL with an optional path prefix that the
 * token path is appended to. NULL, or what is wrong (never quoting it). */
static const char *rt_auth_metadata_odd(const char *host)
{
    size_t scheme = rt_auth_http_scheme(host);
    const char *auth = host + scheme, *end = auth + strcspn(auth, "/");
    struct rt_url_authority a;

    if (rt_auth_uri_odd(host))
        return "has a space, a control character, a backslash or a byte outside ASCII";
    if (strpbrk(host, "?#"))
        return "has a query or fragment";
    if (memchr(auth, '@', (size_t)(end - auth)))
        return "has user information";
    if (!scheme && *end)
        return "has a path without http:// or https:// (expected \"host[:port]\" or a URL)";
    return rt_url_authority(auth, (size_t)(end - auth), &a);
}

double rt_auth_refresh_margin(double lifetime)
{
    double m = lifetime / 4;
    return m > 300 ? 300 : m;
}

/* ==================================================================== */
/*  O N   T H E   H T T P   W O R K E R                                 */
/* ==================================================================== */

/* Ends a fetch (worker thread): keeps the new token, or the failure and the old token
 * while it lasts; sets the next refresh; wakes whoever waits. */
/* How far a failed fetch's request went: whether it reached the endpoint, and the code
 * of its own failure (RT_OK when the endpoint answered HTTP). */
struct rt_auth_reach {
    bool reached;
    enum rt_code cause;
};

static void rt_auth_fetched(struct rt_auth *a, int rc, char *tok, double lifetime,
                            const struct rt_error *e, struct rt_auth_reach how)
{
    pthread_mutex_lock(&a->lock);
    a->fetching = false;
    a->fetches++;
    if (rc == 0) {
        rt_auth_wipe(a->token);
        a->token = tok;
        a->lifetime = lifetime;
        a->expires = a->started + lifetime;
        a->refresh_at = a->expires - rt_auth_refresh_margin(lifetime);
        a->failed = false;
        rt_error_clear(&a->last);
    } else {
        a->failed = true;
        a->last = *e;
        a->last_reached = how.reached;
        a->last_cause = how.cause;
        if (a->token) {
            /* keep the old token while it lasts; try again before it runs out */
            double now = rt_clock_now();
            double left = a->expires - now;
            double retry = left / 2 < RT_AUTH_RETRY_MAX ? left / 2 : RT_AUTH_RETRY_MAX;
            if (retry < 0.05) {
                rt_auth_wipe(a->token);
                a->token = NULL;
            } else {
                a->refresh_at = now + retry;
            }
        }
    }
    /* on the worker neither call can fail; under the lock, so that a fetch asked for
     * meanwhile is not pushed back to the refresh time */
    rt_http_task_wake(&a->task, a->token && !a->on_demand ? a->refresh_at : INFINITY, NULL);
    rt_signal_raise(&a->sg);
    pthread_mutex_unlock(&a->lock);
}

/* The timer: a fetch was asked for, or the refresh time came. */
static void rt_auth_on_due(struct rt_http_task *t)
{
    struct rt_auth *a = (struct rt_auth *)t;
    struct rt_auth_req q;
    struct rt_error e, err;
    double now = rt_clock_now();

    pthread_mutex_lock(&a->lock);
    if (a->fetching || !(a->want || (a->token && !a->on_demand && now >= a->refresh_at))) {
        if (a->token && !a->fetching && !a->on_demand)
            rt_http_task_wake(t, a->refresh_at, NULL);   /* a stale wake-up */
        pthread_mutex_unlock(&a->lock);
        return;
    }
    a->want = false;
    a->fetching = true;
    a->started = now;
    rt_signal_clear(&a->sg);
    pthread_mutex_unlock(&a->lock);

    rt_error_clear(&e);
    rt_error_clear(&err);
    if (rt_auth_req_build(a, &q, &err) != 0) {
        rt_auth_fetched(a, -1, NULL, 0, &err, (struct rt_auth_reach){ false, err.code });
        return;
    }
    memcpy(a->where, q.where, sizeof a->where);
    if (rt_http_task_request(t, &q.req, &e) != 0) {
        rt_auth_unanswered(a, &e, &err);
        rt_auth_fetched(a, -1, NULL, 0, &err, (struct rt_auth_reach){ false, e.code });
    }
    rt_auth_req_free(&q);     /* the request copied what it needs */
}

static void rt_auth_on_done(struct rt_http_task *t, int rc, struct rt_http_response *resp,
                            const struct rt_error *herr)
{
    struct rt_auth *a = (struct rt_auth *)t;
    struct rt_error err;
    /* an HTTP answer, good or bad, reached the endpoint */
    struct rt_auth_reach how = { true, RT_OK };
    char *tok = NULL;
    double lifetime = 0;

    rt_error_clear(&err);
    if (rc != 0) {
        rt_auth_unanswered(a, herr, &err);
        how.reached = rc == RT_HTTP_NO_ANSWER;
        how.cause = herr->code;
        rc = -1;
    } else {
        rc = rt_auth_answer(a, a->where, resp, &tok, &lifetime, &err);
        /* no metadata server answered (a proxy, a captive portal): none is to be had */
        if (rc == RT_AUTH_NOT_METADATA)
            how = (struct rt_auth_reach){ false, RT_EPROTOCOL };
    }
    rt_http_response_free(resp);
    rt_auth_fetched(a, rc, tok, lifetime, &err, how);
}

static void rt_auth_release(struct rt_auth *a);

/* The worker is done with the task (closed): the secrets go now, the object with the last
 * reference, and waiters wake for good. */
static void rt_auth_on_release(struct rt_http_task *t)
{
    struct rt_auth *a = (struct rt_auth *)t;
    bool last;

    pthread_mutex_lock(&a->lock);
    a->released = true;
    last = a->refs == 0;
    rt_auth_wipe(a->private_key);
    rt_auth_wipe(a->client_secret);
    rt_auth_wipe(a->refresh_token);
    rt_auth_wipe(a->token);
    rt_auth_wipe(a->assertion);
    a->private_key = a->client_secret = a->refresh_token = a->token = a->assertion = NULL;
    rt_signal_raise(&a->sg);
    pthread_mutex_unlock(&a->lock);
    if (last)
        rt_auth_release(a);
}

/* ==================================================================== */
/*  T H E   O B J E C T                                                 */
/* ==================================================================== */

static void rt_auth_release(struct rt_auth *a)
{
    rt_auth_wipe(a->source);
    rt_auth_wipe(a->scope);
    rt_auth_wipe(a->token_uri);
    rt_auth_wipe(a->client_email);
    rt_auth_wipe(a->private_key);
    rt_auth_wipe(a->private_key_id);
    rt_auth_wipe(a->subject);
    rt_auth_wipe(a->client_id);
    rt_auth_wipe(a->client_secret);
    rt_auth_wipe(a->refresh_token);
    rt_auth_wipe(a->metadata_url);
    rt_auth_wipe(a->ca_file);
    rt_auth_wipe(a->token);
    rt_auth_wipe(a->assertion);
    rt_signal_destroy(&a->sg);
    pthread_mutex_destroy(&a->lock);
    rt_free(a);
}

/* Copies s into *dst unless NULL; false when out of memory. */
static bool rt_auth_copy(char **dst, const char *s)
{
    if (!s) return true;
    *dst = rt_strdup(s);
    return *dst != NULL;
}

/* The source as messages show it: a file path may hold any byte, so control and
 * non-ASCII bytes, quotes and backslashes become \xNN (rt_printable), and "..." ends
 * one cut to fit. */
static void rt_auth_show_source(char out[RT_AUTH_SOURCE_MAX], const char *s)
{
    int cut;
    size_t w = rt_printable(out, RT_AUTH_SOURCE_MAX - 3, s, strlen(s), &cut);

    if (cut)
        memcpy(out + w, "...", 4);
}

static const char *rt_auth_kind_name(enum rt_auth_kind k)
{
    switch (k) {
    case RT_AUTH_SERVICE_ACCOUNT: return "service account";
    case RT_AUTH_AUTHORIZED_USER: return "authorized user";
    case RT_AUTH_METADATA: return "metadata server";
    }
    return "credential";
}

struct rt_auth *rt_auth_new(const struct rt_auth_options *o, struct rt_error *err)
{
    const char *missing = NULL;
    char src[RT_AUTH_SOURCE_MAX];
    rt_error_clear(err);
    if (!o) {
        rt_error_set(err, RT_EINVAL, "o is NULL");
        return NULL;
    }
    const char *kname = rt_auth_kind_name(o->kind);
    rt_auth_show_source(src, o->source && *o->source ? o->source : kname);
    switch (o->kind) {
    case RT_AUTH_SERVICE_ACCOUNT:
        if (!o->client_email || !*o->client_email) missing = "client_email";
        else if (!o->private_key || !*o->private_key) missing = "private_key";
        break;
    case RT_AUTH_AUTHORIZED_USER:
        if (!o->client_id || !*o->client_id) missing = "client_id";
        else if (!o->client_secret || !*o->client_secret) missing = "client_secret";
        else if (!o->refresh_token || !*o->refresh_token) missing = "refresh_token";
        break;
    case RT_AUTH_METADATA:
        break;
    default:
        rt_error_set(err, RT_EINVAL, "%s: unknown credential kind %d", src, (int)o->kind);
        return NULL;
    }
    if (missing) {
        rt_error_set(err, RT_EINVAL, "%s: the %s credential lacks %s", src, kname, missing);
        return NULL;
    }
    const char *token_uri = o->token_uri && *o->token_uri ? o->token_uri : RT_AUTH_TOKEN_URI;
    /* a scheme in any case (RFC 3986), as the fetch takes it */
    if (o->kind != RT_AUTH_METADATA && rt_auth_http_scheme(token_uri) == 0) {
        rt_error_set(err, RT_EINVAL, "%s: token_uri must be an http(s) URL", src);
        return NULL;
    }
    if (o->kind != RT_AUTH_METADATA && rt_auth_uri_odd(token_uri)) {
        rt_error_set(err, RT_EINVAL, "%s: token_uri must be a URL without spaces, control "
                     "characters, backslashes or non-ASCII bytes", src);
        return NULL;
    }
    if (o->kind != RT_AUTH_METADATA && !rt_auth_uri_private(token_uri)) {
        rt_error_set(err, RT_EINVAL, "%s: token_uri must be an https:// URL (http:// only to "
                     "this machine: 127.0.0.1, [::1] or localhost), without user information, "
                     "since the grant carries the credential's secrets", src);
        return NULL;
    }
    const char *odd = o->kind == RT_AUTH_METADATA && o->metadata_host && *o->metadata_host
                      ? rt_auth_metadata_odd(o->metadata_host) : NULL;
    if (odd) {
        rt_error_set(err, RT_EINVAL, "%s: metadata_host %s", src, odd);
        return NULL;
    }

    struct rt_auth *a = rt_calloc(1, sizeof *a);
    if (!a) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a credential");
        return NULL;
    }
    a->sg.fd = -1;
    rt_fork_stamp(&a->born);
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        rt_free(a);
        rt_error_set(err, RT_ENOMEM, "could not create a mutex");
        return NULL;
    }
    a->kind = o->kind;
    a->timeout = o->timeout > 0 ? o->timeout : 30.0;
    a->refs = 1;

    char *meta = NULL;
    bool ok = rt_auth_copy(&a->source, src)
              && rt_auth_copy(&a->scope, o->scope && *o->scope ? o->scope : RT_AUTH_CLOUD_PLATFORM)
              && rt_auth_copy(&a->ca_file, o->ca_file && *o->ca_file ? o->ca_file : NULL);
    if (ok && o->kind == RT_AUTH_SERVICE_ACCOUNT)
        ok = rt_auth_copy(&a->token_uri, token_uri) && rt_auth_copy(&a->client_email, o->client_email)
             && rt_auth_copy(&a->private_key, o->private_key)
             && rt_auth_copy(&a->private_key_id, o->private_key_id && *o->private_key_id ? o->private_key_id : NULL)
             && rt_auth_copy(&a->subject, o->subject && *o->subject ? o->subject : NULL);
    else if (ok && o->kind == RT_AUTH_AUTHORIZED_USER)
        ok = rt_auth_copy(&a->token_uri, token_uri) && rt_auth_copy(&a->client_id, o->client_id)
             && rt_auth_copy(&a->client_secret, o->client_secret)
             && rt_auth_copy(&a->refresh_token, o->refresh_token);
    else if (ok) {
        const char *host = o->metadata_host && *o->metadata_host ? o->metadata_host : RT_AUTH_METADATA_HOST;
        a->metadata_default = !(o->metadata_host && *o->metadata_host);
        bool has_scheme = rt_auth_http_scheme(host) != 0;
        size_t n = strlen(host) + 8;
        meta = rt_malloc(n);
        if (meta) {
            snprintf(meta, n, "%s%s", has_scheme ? "" : "http://", host);
            size_t l = strlen(meta);
            while (l > 0 && meta[l - 1] == '/') meta[--l] = '\0';
            a->metadata_url = meta;
        }
        ok = meta != NULL;
    }
    if (!ok) {
        rt_auth_release(a);
        rt_error_set(err, RT_ENOMEM, "out of memory creating a credential");
        return NULL;
    }
    if (rt_signal_init(&a->sg, err) != 0) {
        rt_auth_release(a);
        return NULL;
    }
    rt_signal_raise(&a->sg);    /* no fetch under way */
    a->task.on_due = rt_auth_on_due;
    a->task.on_done = rt_auth_on_done;
    a->task.on_release = rt_auth_on_release;
    rt_http_task_open(&a->task);
    return a;
}

/* A parent's copy in a child of a fork is never freed (rt_auth_free abandons it), so its
 * count does not matter there. */
struct rt_auth *rt_auth_retain(struct rt_auth *a)
{
    if (!a) return NULL;
    if (rt_fork_inherited(&a->born))
        return a;
    pthread_mutex_lock(&a->lock);
    a->refs++;
    pthread_mutex_unlock(&a->lock);
    return a;
}

/* Marks a closed under its lock; true when the caller is the one to close the task. */
static bool rt_auth_mark_closed(struct rt_auth *a)
{
    bool first = !a->closed;

    a->closed = true;
    a->want = false;
    rt_signal_raise(&a->sg);   /* again in rt_auth_on_release, after a fetch start */
    return first;
}

void rt_auth_close(struct rt_auth *a)
{
    bool first;

    if (!a) return;
    /* a parent's copy in a child of a fork: its task is the parent's worker's, and that
     * worker is not here; abandoned (rt_fork.h) */
    if (rt_fork_inherited(&a->born)) return;
    pthread_mutex_lock(&a->lock);
    first = rt_auth_mark_closed(a);
    pthread_mutex_unlock(&a->lock);
    /* the worker cancels a fetch under way, then calls rt_auth_on_release */
    if (first) rt_http_task_close(&a->task);
}

void rt_auth_free(struct rt_auth *a)
{
    bool close_task = false, free_now = false;

    if (!a) return;
    if (rt_fork_inherited(&a->born)) return;    /* abandoned, as in rt_auth_close */
    pthread_mutex_lock(&a->lock);
    if (--a->refs == 0) {
        close_task = rt_auth_mark_closed(a);
        free_now = a->released;   /* else rt_auth_on_release frees it */
    }
    pthread_mutex_unlock(&a->lock);
    if (close_task) rt_http_task_close(&a->task);
    else if (free_now) rt_auth_release(a);
}
