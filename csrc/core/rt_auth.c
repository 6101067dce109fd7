/* Google OAuth 2.0 access tokens, fetched and refreshed off the caller's thread (see
 * rt_auth.h). */
#include "rt_auth.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "rt_alloc.h"
#include "rt_http.h"
#include "rt_json.h"
#include "rt_jwt.h"

#define RT_AUTH_JWT_LIFETIME 3600
#define RT_AUTH_DEFAULT_LIFETIME 3600.0
#define RT_AUTH_RETRY_MAX 30.0

struct rt_auth {
    /* configuration: owned copies, read-only after rt_auth_new */
    enum rt_auth_kind kind;
    char *source, *scope, *token_uri, *client_email, *private_key, *private_key_id, *subject;
    char *client_id, *client_secret, *refresh_token, *metadata_url, *ca_file;
    double timeout;
    int fd;                    /* eventfd, owned */

    pthread_mutex_t lock;
    pthread_cond_t cond;       /* wakes the refresh thread */
    pthread_t thread;
    bool started;              /* guarded by lock: the thread exists */
    bool stop;                 /* guarded by lock: the thread must end */
    atomic_bool cancel;        /* set with stop: cuts a fetch under way short */
    bool want;                 /* guarded by lock: a fetch was asked for */
    bool fetching;             /* guarded by lock: a fetch is under way */
    bool failed;               /* guarded by lock: the last fetch failed, not yet reported */
    struct rt_error last;      /* guarded by lock: that failure */
    char *token;               /* guarded by lock, owned (secret); NULL = none */
    double expires;            /* guarded by lock: monotonic seconds when token expires */
    double lifetime;           /* guarded by lock: the token's lifetime when issued */
    double refresh_at;         /* guarded by lock: monotonic seconds of the next refresh */
    unsigned long fetches;     /* guarded by lock */
    int refs;                  /* guarded by lock */
};

/* ==================================================================== */
/*  H E L P E R S                                                       */
/* ==================================================================== */

static double rt_auth_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rt_auth_wipe(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    rt_free(s);
}

double rt_auth_refresh_margin(double lifetime)
{
    double m = lifetime / 4;
    return m > 300 ? 300 : m;
}

/* A growable string for request bodies (which hold secrets: wiped on free). */
struct rt_auth_str {
    char *p;
    size_t len, cap;
    bool oom;
};

static void rt_auth_str_add(struct rt_auth_str *s, const char *text, size_t n)
{
    if (s->oom) return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *p = rt_malloc(cap);
        if (!p) {
            s->oom = true;
            return;
        }
        if (s->p) {
            memcpy(p, s->p, s->len);
            explicit_bzero(s->p, s->cap);
            rt_free(s->p);
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, text, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void rt_auth_str_cat(struct rt_auth_str *s, const char *text)
{
    rt_auth_str_add(s, text, strlen(text));
}

/* Appends text form-urlencoded (application/x-www-form-urlencoded). */
static void rt_auth_str_form(struct rt_auth_str *s, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~') {
            char ch = (char)c;
            rt_auth_str_add(s, &ch, 1);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            rt_auth_str_add(s, esc, 3);
        }
    }
}

static void rt_auth_str_free(struct rt_auth_str *s)
{
    if (s->p) {
        explicit_bzero(s->p, s->cap);
        rt_free(s->p);
    }
    s->p = NULL;
    s->len = s->cap = 0;
}

/* True when s holds one of the object's secrets (so it must not reach a message). */
static bool rt_auth_leaks(const struct rt_auth *a, const char *s)
{
    const char *secrets[] = { a->client_secret, a->refresh_token };
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        if (secrets[i] && strlen(secrets[i]) >= 4 && strstr(s, secrets[i])) return true;
    return strstr(s, "PRIVATE KEY") != NULL || strstr(s, "ya29.") != NULL;
}

/* Copies a server's error text into out: printable ASCII only, at most 160 bytes, and
 * nothing at all if it would repeat a secret. */
static void rt_auth_clean_text(const struct rt_auth *a, const char *in, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    if (!in || rt_auth_leaks(a, in)) return;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < size && o < 100; p++)
        out[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : ' ';
    while (o > 0 && out[o - 1] == ' ') o--;
    out[o] = '\0';
}

/* ==================================================================== */
/*  O N E   F E T C H                                                   */
/* ==================================================================== */

/* The request body of a token-endpoint grant; NULL when out of memory. */
static char *rt_auth_grant_body(struct rt_auth *a, size_t *len, struct rt_error *err)
{
    struct rt_auth_str s = { 0 };
    if (a->kind == RT_AUTH_SERVICE_ACCOUNT) {
        long long iat = (long long)time(NULL);
        struct rt_jwt_claims c = {
            .iss = a->client_email, .sub = a->subject, .scope = a->scope, .aud = a->token_uri,
            .kid = a->private_key_id, .iat = iat, .exp = iat + RT_AUTH_JWT_LIFETIME,
        };
        char *jwt = NULL;
        struct rt_error e = { RT_OK, "" };
        if (rt_jwt_assertion(&c, a->private_key, &jwt, &e) != 0) {
            rt_error_set(err, e.code == RT_ENOMEM ? RT_ENOMEM : RT_EAUTH, "%s: %s", a->source, e.msg);
            return NULL;
        }
        rt_auth_str_cat(&s, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
        rt_auth_str_form(&s, jwt);
        rt_auth_wipe(jwt);
    } else {
        rt_auth_str_cat(&s, "grant_type=refresh_token&client_id=");
        rt_auth_str_form(&s, a->client_id);
        rt_auth_str_cat(&s, "&client_secret=");
        rt_auth_str_form(&s, a->client_secret);
        rt_auth_str_cat(&s, "&refresh_token=");
        rt_auth_str_form(&s, a->refresh_token);
    }
    if (s.oom) {
        rt_auth_str_free(&s);
        rt_error_set(err, RT_ENOMEM, "%s: out of memory building the token request", a->source);
        return NULL;
    }
    *len = s.len;
    return s.p;
}

/* A hint for what to fix, by credential kind and OAuth error. */
static const char *rt_auth_hint(const struct rt_auth *a, long status, const char *error)
{
    if (a->kind == RT_AUTH_METADATA)
        return status == 404 ? "; is a service account attached to the machine?" : "";
    if (strcmp(error, "invalid_client") == 0 || strcmp(error, "unauthorized_client") == 0)
        return "; check client_id and client_secret";
    if (strcmp(error, "invalid_grant") == 0)
        return a->kind == RT_AUTH_SERVICE_ACCOUNT
                   ? "; is the key still active and the clock right?"
                   : "; run `gcloud auth application-default login` again";
    if (strcmp(error, "invalid_scope") == 0) return "; check the requested scope";
    return "";
}

/* Copies the string at path in the JSON body into out, cleaned (see rt_auth_clean_text);
 * false when there is none. */
static bool rt_auth_body_text(const struct rt_auth *a, const struct rt_http_response *r,
                              const char *path, char *out, size_t size)
{
    struct rt_json_val v;
    char *s;

    out[0] = '\0';
    if (rt_json_find(r->body, r->len, path, &v) != RT_JSON_STRING)
        return false;
    s = rt_json_strdup(&v, NULL, NULL);
    rt_auth_clean_text(a, s, out, size);
    rt_auth_wipe(s);
    return true;
}

/* Turns a refusal (any status but 200) into an error naming source, endpoint and cause. */
static void rt_auth_refused(struct rt_auth *a, const char *where, const struct rt_http_response *r,
                            struct rt_error *err)
{
    char e[168], d[168];
    e[0] = d[0] = '\0';
    int t = rt_json_find(r->body, r->len, "error", NULL);
    if (t == RT_JSON_STRING) {
        rt_auth_body_text(a, r, "error", e, sizeof e);
        rt_auth_body_text(a, r, "error_description", d, sizeof d);
    } else if (t == RT_JSON_OBJECT) {
        /* Google's API error shape: {"error":{"code":..,"message":..,"status":..}} */
        rt_auth_body_text(a, r, "error.status", e, sizeof e);
        rt_auth_body_text(a, r, "error.message", d, sizeof d);
    } else if (r->body && r->len > 0 && r->len < 200 && t < 0) {
        rt_auth_clean_text(a, r->body, d, sizeof d);   /* a plain-text answer */
    }
    const char *what = a->kind == RT_AUTH_METADATA ? "metadata server" : "token endpoint";
    rt_error_set(err, RT_EAUTH, "%s: %s %s refused: HTTP %ld%s%s%s%s%s",
                 a->source, what, where, r->status, e[0] ? " " : "", e, d[0] ? ": " : "", d,
                 rt_auth_hint(a, r->status, e));
}

int rt_auth_fetch_now(struct rt_auth *a, char **token, double *lifetime, struct rt_error *err)
{
    *token = NULL;
    int rc = -1;
    char *body = NULL, *url = NULL;
    size_t body_len = 0;
    struct rt_http_response resp = { 0, NULL, 0 };
    struct rt_http_header headers[2];
    size_t nheaders = 0;
    struct rt_http_request req = { 0 };

    if (a->kind == RT_AUTH_METADATA) {
        struct rt_auth_str u = { 0 };
        rt_auth_str_cat(&u, a->metadata_url);
        rt_auth_str_cat(&u, "/computeMetadata/v1/instance/service-accounts/default/token");
        if (strcmp(a->scope, RT_AUTH_CLOUD_PLATFORM) != 0) {
            rt_auth_str_cat(&u, "?scopes=");
            rt_auth_str_form(&u, a->scope);
        }
        if (u.oom) {
            rt_auth_str_free(&u);
            rt_error_set(err, RT_ENOMEM, "%s: out of memory", a->source);
            return -1;
        }
        url = u.p;
        headers[nheaders++] = (struct rt_http_header){ "Metadata-Flavor", "Google" };
        req.method = "GET";
        req.url = url;
    } else {
        body = rt_auth_grant_body(a, &body_len, err);
        if (!body) return -1;
        headers[nheaders++] = (struct rt_http_header){ "Content-Type", "application/x-www-form-urlencoded" };
        req.method = "POST";
        req.url = a->token_uri;
        req.body = body;
        req.body_len = body_len;
    }
    headers[nheaders++] = (struct rt_http_header){ "Accept", "application/json" };
    req.headers = headers;
    req.nheaders = nheaders;
    req.ca_file = a->ca_file;
    req.timeout = a->timeout;
    req.max_response = 64 * 1024;
    req.cancel = &a->cancel;

    char where[300];
    rt_http_redact_url(req.url, where, sizeof where);
    struct rt_error e = { RT_OK, "" };
    if (rt_http_perform(&req, &resp, &e) != 0) {
        rt_error_set(err, e.code == RT_ENOMEM ? RT_ENOMEM : RT_EAUTH, "%s: %s", a->source, e.msg);
        goto out;
    }
    if (resp.status != 200) {
        rt_auth_refused(a, where, &resp, err);
        goto out;
    }
    char *tok = NULL;
    size_t toklen = 0;
    double expires_in = 0;
    bool oom = false;
    struct rt_json_val v;
    if (rt_json_find(resp.body, resp.len, "access_token", &v) == RT_JSON_STRING)
        tok = rt_json_strdup(&v, &toklen, &oom);
    if (oom) {
        rt_error_set(err, RT_ENOMEM, "%s: out of memory reading the token", a->source);
        goto out;
    }
    if (!tok || !tok[0] || strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") != toklen) {
        if (tok) explicit_bzero(tok, toklen);
        rt_free(tok);
        rt_error_set(err, RT_EAUTH, "%s: the %s %s answered without a usable access_token",
                     a->source, a->kind == RT_AUTH_METADATA ? "metadata server" : "token endpoint", where);
        goto out;
    }
    if (rt_json_find(resp.body, resp.len, "expires_in", &v) != RT_JSON_NUMBER
        || rt_json_number(&v, &expires_in) != 0 || !(expires_in > 0) || expires_in > 86400 * 7)
        expires_in = RT_AUTH_DEFAULT_LIFETIME;
    *token = tok;
    *lifetime = expires_in;
    rc = 0;
out:
    rt_http_response_free(&resp);
    if (body) {
        explicit_bzero(body, body_len);
        rt_free(body);
    }
    rt_free(url);
    return rc;
}

/* ==================================================================== */
/*  T H E   R E F R E S H   T H R E A D                                 */
/* ==================================================================== */

static void rt_auth_signal(struct rt_auth *a)
{
    uint64_t one = 1;
    ssize_t w;
    do w = write(a->fd, &one, sizeof one); while (w < 0 && errno == EINTR);
}

static void rt_auth_drain(struct rt_auth *a)
{
    uint64_t v;
    ssize_t r;
    do r = read(a->fd, &v, sizeof v); while (r < 0 && errno == EINTR);
}

static void *rt_auth_main(void *ud)
{
    struct rt_auth *a = ud;
    pthread_mutex_lock(&a->lock);
    while (!a->stop) {
        double now = rt_auth_now();
        bool due = a->want || (a->token && now >= a->refresh_at);
        if (!due) {
            if (a->token) {
                double at = a->refresh_at;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                double wait = at - now;
                if (wait > 86400) wait = 86400;
                time_t sec = (time_t)wait;
                long nsec = (long)((wait - (double)sec) * 1e9);
                ts.tv_sec += sec;
                ts.tv_nsec += nsec;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&a->cond, &a->lock, &ts);
            } else {
                pthread_cond_wait(&a->cond, &a->lock);
            }
            continue;
        }
        a->want = false;
        a->fetching = true;
        pthread_mutex_unlock(&a->lock);

        char *tok = NULL;
        double lifetime = 0;
        struct rt_error e = { RT_OK, "" };
        double started = rt_auth_now();
        int rc = rt_auth_fetch_now(a, &tok, &lifetime, &e);

        pthread_mutex_lock(&a->lock);
        a->fetching = false;
        a->fetches++;
        if (rc == 0) {
            rt_auth_wipe(a->token);
            a->token = tok;
            a->lifetime = lifetime;
            a->expires = started + lifetime;
            a->refresh_at = a->expires - rt_auth_refresh_margin(lifetime);
            a->failed = false;
            rt_error_clear(&a->last);
        } else {
            a->failed = true;
            a->last = e;
            if (a->token) {
                /* keep the old token while it lasts; try again before it runs out */
                double left = a->expires - rt_auth_now();
                double retry = left / 2 < RT_AUTH_RETRY_MAX ? left / 2 : RT_AUTH_RETRY_MAX;
                if (retry < 0.05) {
                    rt_auth_wipe(a->token);
                    a->token = NULL;
                } else {
                    a->refresh_at = rt_auth_now() + retry;
                }
            }
        }
        pthread_mutex_unlock(&a->lock);
        rt_auth_signal(a);
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
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
    if (a->fd >= 0) close(a->fd);
    pthread_cond_destroy(&a->cond);
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
    const char *kname = rt_auth_kind_name(o->kind);
    const char *src = o->source && *o->source ? o->source : kname;
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
    if (o->kind != RT_AUTH_METADATA && strncmp(token_uri, "https://", 8) != 0
        && strncmp(token_uri, "http://", 7) != 0) {
        rt_error_set(err, RT_EINVAL, "%s: token_uri must be an http(s) URL", src);
        return NULL;
    }

    struct rt_auth *a = rt_calloc(1, sizeof *a);
    if (!a) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a credential");
        return NULL;
    }
    a->fd = -1;
    atomic_init(&a->cancel, false);
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        rt_free(a);
        rt_error_set(err, RT_ENOMEM, "could not create a mutex");
        return NULL;
    }
    pthread_condattr_t ca;
    bool cond_ok = pthread_condattr_init(&ca) == 0;
    if (cond_ok) {
        cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0
                  && pthread_cond_init(&a->cond, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cond_ok) {
        pthread_mutex_destroy(&a->lock);
        rt_free(a);
        rt_error_set(err, RT_ENOMEM, "could not create a condition variable");
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
        bool has_scheme = strncmp(host, "http://", 7) == 0 || strncmp(host, "https://", 8) == 0;
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
    a->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->fd < 0) {
        rt_error_set(err, RT_ENOMEM, "could not create an eventfd: %s", strerror(errno));
        rt_auth_release(a);
        return NULL;
    }
    return a;
}

struct rt_auth *rt_auth_retain(struct rt_auth *a)
{
    pthread_mutex_lock(&a->lock);
    a->refs++;
    pthread_mutex_unlock(&a->lock);
    return a;
}

void rt_auth_free(struct rt_auth *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->lock);
    bool last = --a->refs == 0;
    bool started = a->started;
    if (last) {
        a->stop = true;
        atomic_store(&a->cancel, true);
        pthread_cond_signal(&a->cond);
    }
    pthread_mutex_unlock(&a->lock);
    if (!last) return;
    /* a fetch under way ends within its timeout; the thread checks stop after it */
    if (started) pthread_join(a->thread, NULL);
    rt_auth_release(a);
}

int rt_auth_token(struct rt_auth *a, double min_valid, char **token, double *expires_in,
                  struct rt_error *err)
{
    *token = NULL;
    rt_auth_drain(a);
    pthread_mutex_lock(&a->lock);
    if (!a->started) {
        if (pthread_create(&a->thread, NULL, rt_auth_main, a) != 0) {
            pthread_mutex_unlock(&a->lock);
            rt_error_set(err, RT_EAUTH, "%s: could not start the token refresh thread", a->source);
            return -1;
        }
        a->started = true;
    }
    double now = rt_auth_now();
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
        rt_error_set(err, a->last.code, "%s", a->last.msg);
        pthread_mutex_unlock(&a->lock);
        return -1;
    }
    if (!a->fetching && !a->want) {
        a->want = true;
        pthread_cond_signal(&a->cond);
    }
    pthread_mutex_unlock(&a->lock);
    return 0;
}

void rt_auth_invalidate(struct rt_auth *a)
{
    pthread_mutex_lock(&a->lock);
    rt_auth_wipe(a->token);
    a->token = NULL;
    a->failed = false;
    if (!a->fetching) a->want = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

int rt_auth_fd(const struct rt_auth *a)
{
    return a->fd;
}

int rt_auth_wait(struct rt_auth *a, double timeout)
{
    struct pollfd p = { .fd = a->fd, .events = POLLIN };
    int ms = timeout < 0 ? -1 : timeout > 86400.0 ? 86400000 : (int)ceil(timeout * 1000.0);
    int n;
    do n = poll(&p, 1, ms); while (n < 0 && errno == EINTR);
    return n > 0 ? 1 : 0;
}

const char *rt_auth_source(const struct rt_auth *a)
{
    return a->source;
}

unsigned long rt_auth_fetches(struct rt_auth *a)
{
    pthread_mutex_lock(&a->lock);
    unsigned long n = a->fetches;
    pthread_mutex_unlock(&a->lock);
    return n;
}
