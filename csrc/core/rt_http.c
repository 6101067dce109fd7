/* HTTP(S) requests through libcurl, blocking or on a worker thread (see rt_http.h). */
#include "rt_http.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <curl/curl.h>

#include "rt_alloc.h"

#ifndef RT_VERSION
#define RT_VERSION "0"
#endif

#define RT_HTTP_DEFAULT_TIMEOUT 30.0
#define RT_HTTP_DEFAULT_MAX (1024 * 1024)

/* ==================================================================== */
/*  B L O C K I N G   R E Q U E S T S                                   */
/* ==================================================================== */

static pthread_once_t rt_http_once = PTHREAD_ONCE_INIT;
static CURLcode rt_http_init_rc = CURLE_FAILED_INIT;

static void rt_http_global_init(void)
{
    rt_http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

struct rt_http_sink {
    struct rt_http_response *resp;
    size_t cap;
    size_t max;
    bool too_large;
    bool oom;
    const atomic_bool *abort;   /* borrowed from the job; NULL for blocking requests */
};

static size_t rt_http_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct rt_http_sink *s = ud;
    size_t n = size * nmemb;
    struct rt_http_response *r = s->resp;
    if (n > s->max - r->len) {
        s->too_large = true;
        return 0;
    }
    if (r->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *p = rt_realloc(r->body, cap);
        if (!p) {
            s->oom = true;
            return 0;
        }
        r->body = p;
        s->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static int rt_http_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct rt_http_sink *s = ud;
    return s->abort && atomic_load(s->abort) ? 1 : 0;
}

static enum rt_code rt_http_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return RT_EDNS;
    case CURLE_OPERATION_TIMEDOUT:
        return RT_ETIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return RT_ETLS;
    case CURLE_ABORTED_BY_CALLBACK:
        return RT_ECLOSED;
    case CURLE_OUT_OF_MEMORY:
        return RT_ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return RT_EINVAL;
    default:
        return RT_ECONNECT;
    }
}

/* Performs r with an optional abort flag polled during the transfer. */
static int rt_http_run(const struct rt_http_request *r, const atomic_bool *abort_flag,
                       struct rt_http_response *resp, struct rt_error *err)
{
    if (!abort_flag) abort_flag = r->cancel;
    char where[300];
    rt_http_redact_url(r->url, where, sizeof where);
    resp->status = 0;
    resp->body = NULL;
    resp->len = 0;

    bool post = r->method && strcmp(r->method, "POST") == 0;
    if (!r->url || (!post && !(r->method && strcmp(r->method, "GET") == 0))) {
        rt_error_set(err, RT_EINVAL, "HTTP request needs a URL and the method GET or POST");
        return -1;
    }
    if (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0) {
        rt_error_set(err, RT_EINVAL, "%s: only http:// and https:// URLs are supported", where);
        return -1;
    }
    pthread_once(&rt_http_once, rt_http_global_init);
    if (rt_http_init_rc != CURLE_OK) {
        rt_error_set(err, RT_ECONNECT, "libcurl could not be initialised: %s",
                     curl_easy_strerror(rt_http_init_rc));
        return -1;
    }

    int rc = -1;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    struct rt_http_sink sink = {
        .resp = resp, .max = r->max_response ? r->max_response : RT_HTTP_DEFAULT_MAX,
        .abort = abort_flag,
    };
    double timeout = r->timeout > 0 ? r->timeout : RT_HTTP_DEFAULT_TIMEOUT;
    long timeout_ms = timeout > 86400.0 ? 86400000L : (long)(timeout * 1000.0);
    if (timeout_ms < 1) timeout_ms = 1;

    CURL *h = curl_easy_init();
    if (!h) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
        return -1;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct rt_http_header *x = &r->headers[i];
        if (strpbrk(x->name, "\r\n:") || strpbrk(x->value, "\r\n")) {
            rt_error_set(err, RT_EINVAL, "%s %s: header '%s' contains a line break or colon",
                         r->method, where, strpbrk(x->name, "\r\n") ? "(invalid name)" : x->name);
            goto out;
        }
        size_t n = strlen(x->name) + strlen(x->value) + 3;
        char *line = rt_malloc(n);
        if (!line) {
            rt_error_set(err, RT_ENOMEM, "out of memory building an HTTP request");
            goto out;
        }
        snprintf(line, n, "%s: %s", x->name, x->value);
        struct curl_slist *next = curl_slist_append(hdrs, line);
        explicit_bzero(line, n);
        rt_free(line);
        if (!next) {
            rt_error_set(err, RT_ENOMEM, "out of memory building an HTTP request");
            goto out;
        }
        hdrs = next;
    }

    CURLcode c = CURLE_OK;
#define RT_SETOPT(opt, val) do { if (c == CURLE_OK) c = curl_easy_setopt(h, opt, val); } while (0)
    RT_SETOPT(CURLOPT_URL, r->url);
    RT_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    RT_SETOPT(CURLOPT_NOSIGNAL, 1L);
    RT_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    RT_SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    RT_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    RT_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    RT_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    RT_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    RT_SETOPT(CURLOPT_USERAGENT, "realtime-lua/" RT_VERSION);
    RT_SETOPT(CURLOPT_WRITEFUNCTION, rt_http_write);
    RT_SETOPT(CURLOPT_WRITEDATA, &sink);
    RT_SETOPT(CURLOPT_XFERINFOFUNCTION, rt_http_progress);
    RT_SETOPT(CURLOPT_XFERINFODATA, &sink);
    RT_SETOPT(CURLOPT_NOPROGRESS, 0L);
    if (hdrs) RT_SETOPT(CURLOPT_HTTPHEADER, hdrs);
    if (r->ca_file && *r->ca_file) RT_SETOPT(CURLOPT_CAINFO, r->ca_file);
    if (post) {
        RT_SETOPT(CURLOPT_POST, 1L);
        RT_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        RT_SETOPT(CURLOPT_POSTFIELDS, r->body ? r->body : "");
    } else {
        RT_SETOPT(CURLOPT_HTTPGET, 1L);
    }
#undef RT_SETOPT
    if (c != CURLE_OK) {
        rt_error_set(err, rt_http_code(c), "%s %s: libcurl refused an option: %s", r->method,
                     where, curl_easy_strerror(c));
        goto out;
    }

    c = curl_easy_perform(h);
    if (sink.oom) {
        rt_error_set(err, RT_ENOMEM, "%s %s: out of memory reading the response", r->method, where);
        goto out;
    }
    if (sink.too_large) {
        rt_error_set(err, RT_EPROTOCOL, "%s %s: response larger than %zu bytes", r->method,
                     where, sink.max);
        goto out;
    }
    if (c != CURLE_OK) {
        if (c == CURLE_ABORTED_BY_CALLBACK)
            rt_error_set(err, RT_ECLOSED, "%s %s: request cancelled", r->method, where);
        else if (c == CURLE_OPERATION_TIMEDOUT)
            rt_error_set(err, RT_ETIMEOUT, "%s %s: no response within %g s", r->method, where,
                         timeout);
        else
            rt_error_set(err, rt_http_code(c), "%s %s: %s", r->method, where,
                         errbuf[0] ? errbuf : curl_easy_strerror(c));
        goto out;
    }
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK
        || resp->status < 100) {
        rt_error_set(err, RT_EPROTOCOL, "%s %s: no HTTP status in the response", r->method, where);
        goto out;
    }
    if (!resp->body) {
        resp->body = rt_malloc(1);
        if (!resp->body) {
            rt_error_set(err, RT_ENOMEM, "out of memory reading an HTTP response");
            goto out;
        }
        resp->body[0] = '\0';
    }
    rc = 0;
out:
    if (rc != 0) rt_http_response_free(resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int rt_http_perform(const struct rt_http_request *r, struct rt_http_response *resp,
                    struct rt_error *err)
{
    return rt_http_run(r, NULL, resp, err);
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
}

/* ==================================================================== */
/*  A S Y N C H R O N O U S   R E Q U E S T S                           */
/* ==================================================================== */

struct rt_http_job {
    struct rt_http_request req;       /* strings below are owned copies */
    struct rt_http_header *headers;   /* owned, with owned names and values */
    char *url, *method, *body, *ca_file;
    int fd;                           /* eventfd, owned */
    pthread_t thread;
    bool started;                     /* the thread exists and must be joined */
    atomic_bool abort;                /* set by rt_http_job_free */
    pthread_mutex_t lock;
    bool done;                        /* guarded by lock */
    bool taken;                       /* guarded by lock: the response was handed out */
    int rc;                           /* guarded by lock: rt_http_run's result */
    struct rt_http_response resp;     /* guarded by lock; owned until taken */
    struct rt_error err;              /* guarded by lock */
};

static void rt_http_wipe_free(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    rt_free(s);
}

static void *rt_http_job_main(void *ud)
{
    struct rt_http_job *j = ud;
    struct rt_http_response resp;
    struct rt_error err = { RT_OK, "" };
    int rc = rt_http_run(&j->req, &j->abort, &resp, &err);
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    j->resp = resp;
    j->err = err;
    j->done = true;
    pthread_mutex_unlock(&j->lock);
    uint64_t one = 1;
    ssize_t w;
    do w = write(j->fd, &one, sizeof one); while (w < 0 && errno == EINTR);
    return NULL;
}

static void rt_http_job_release(struct rt_http_job *j)
{
    for (size_t i = 0; j->headers && i < j->req.nheaders; i++) {
        rt_http_wipe_free((char *)j->headers[i].name);
        rt_http_wipe_free((char *)j->headers[i].value);
    }
    rt_free(j->headers);
    rt_free(j->url);
    rt_free(j->method);
    if (j->body) explicit_bzero(j->body, j->req.body_len);
    rt_free(j->body);
    rt_free(j->ca_file);
    rt_http_response_free(&j->resp);
    if (j->fd >= 0) close(j->fd);
    pthread_mutex_destroy(&j->lock);
    rt_free(j);
}

struct rt_http_job *rt_http_start(const struct rt_http_request *r, struct rt_error *err)
{
    struct rt_http_job *j = rt_calloc(1, sizeof *j);
    if (!j) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
        return NULL;
    }
    j->fd = -1;
    atomic_init(&j->abort, false);
    if (pthread_mutex_init(&j->lock, NULL) != 0) {
        rt_free(j);
        rt_error_set(err, RT_ENOMEM, "could not create a mutex for an HTTP request");
        return NULL;
    }
    j->req = *r;
    j->req.cancel = NULL;
    j->url = rt_strdup(r->url);
    j->method = rt_strdup(r->method ? r->method : "GET");
    j->ca_file = r->ca_file ? rt_strdup(r->ca_file) : NULL;
    j->body = rt_malloc(r->body_len + 1);
    j->headers = r->nheaders ? rt_calloc(r->nheaders, sizeof *j->headers) : NULL;
    bool oom = (r->url && !j->url) || !j->method || (r->ca_file && !j->ca_file) || !j->body
               || (r->nheaders && !j->headers);
    if (j->body) {
        if (r->body_len) memcpy(j->body, r->body, r->body_len);
        j->body[r->body_len] = '\0';
    }
    for (size_t i = 0; !oom && i < r->nheaders; i++) {
        j->headers[i].name = rt_strdup(r->headers[i].name);
        j->headers[i].value = rt_strdup(r->headers[i].value);
        if (!j->headers[i].name || !j->headers[i].value) oom = true;
    }
    j->req.url = j->url;
    j->req.method = j->method;
    j->req.ca_file = j->ca_file;
    j->req.body = j->body;
    j->req.headers = j->headers;
    if (oom) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
        rt_http_job_release(j);
        return NULL;
    }
    j->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (j->fd < 0) {
        rt_error_set(err, RT_ENOMEM, "could not create an eventfd: %s", strerror(errno));
        rt_http_job_release(j);
        return NULL;
    }
    if (pthread_create(&j->thread, NULL, rt_http_job_main, j) != 0) {
        rt_error_set(err, RT_ENOMEM, "could not start a thread for an HTTP request");
        rt_http_job_release(j);
        return NULL;
    }
    j->started = true;
    return j;
}

int rt_http_job_fd(const struct rt_http_job *j)
{
    return j->fd;
}

bool rt_http_job_done(struct rt_http_job *j)
{
    pthread_mutex_lock(&j->lock);
    bool done = j->done;
    pthread_mutex_unlock(&j->lock);
    return done;
}

int rt_http_job_wait(struct rt_http_job *j, double timeout)
{
    if (rt_http_job_done(j)) return 1;
    struct pollfd p = { .fd = j->fd, .events = POLLIN };
    int ms = timeout < 0 ? -1 : timeout > 86400.0 ? 86400000 : (int)(timeout * 1000.0 + 0.999);
    int n;
    do n = poll(&p, 1, ms); while (n < 0 && errno == EINTR);
    return rt_http_job_done(j) ? 1 : 0;
}

int rt_http_job_result(struct rt_http_job *j, struct rt_http_response *resp, struct rt_error *err)
{
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
    if (!j) return;
    if (j->started) {
        atomic_store(&j->abort, true);
        pthread_join(j->thread, NULL);
    }
    rt_http_job_release(j);
}
