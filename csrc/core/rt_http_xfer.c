/* One HTTP request as a libcurl easy handle (see rt_http_xfer.h). */
#include "rt_http_xfer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "rt_alloc.h"
#include "rt_curl.h"
#include "rt_file.h"
#include "rt_http_worker.h"   /* RT_HTTP_NO_ANSWER */
#include "rt_version.h"

#define RT_HTTP_DEFAULT_TIMEOUT 30.0
#define RT_HTTP_DEFAULT_MAX (1024 * 1024)

struct rt_http_xfer {
    CURL *easy;                     /* owned */
    struct curl_slist *hdrs;        /* owned; the lines may hold secrets (wiped) */
    char *body;                     /* owned copy of the POST body (wiped); NULL for GET */
    size_t body_len;
    struct rt_http_response resp;   /* the body so far, written by rt_http_xfer_write */
    size_t cap;                     /* bytes allocated for resp.body */
    size_t max;                     /* largest body accepted */
    bool too_large, oom;
    double timeout;                 /* seconds, for the timeout message */
    char method[8];
    char where[300];                /* the URL without query and user info */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t rt_http_once = PTHREAD_ONCE_INIT;
static CURLcode rt_http_init_rc = CURLE_FAILED_INIT;

static void rt_http_once_init(void)
{
    rt_http_init_rc = rt_curl.global_init(CURL_GLOBAL_DEFAULT);
}

int rt_http_global_init(struct rt_error *err)
{
    if (rt_curl_load(err) != 0)
        return -1;
    pthread_once(&rt_http_once, rt_http_once_init);
    if (rt_http_init_rc != CURLE_OK) {
        rt_error_set(err, RT_ECONNECT, "libcurl could not be initialised: %s",
                     rt_curl.easy_strerror(rt_http_init_rc));
        return -1;
    }
    return 0;
}

/* Wipes and frees a header list. NULL (no headers yet) touches no libcurl function: a
 * request that failed because libcurl could not be loaded comes here with an empty table. */
static void rt_http_wipe_list(struct curl_slist *l)
{
    struct curl_slist *p;

    if (!l)
        return;
    for (p = l; p; p = p->next)
        if (p->data)
            explicit_bzero(p->data, strlen(p->data));
    rt_curl.slist_free_all(l);
}

static size_t rt_http_xfer_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct rt_http_xfer *x = ud;
    struct rt_http_response *r = &x->resp;
    size_t n = size * nmemb;

    if (n > x->max - r->len) {
        x->too_large = true;
        return 0;
    }
    if (r->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        /* not realloc, which would free the old block (a token, maybe) unwiped */
        char *p = rt_malloc(cap);
        if (!p) {
            x->oom = true;
            return 0;
        }
        if (r->body) {
            memcpy(p, r->body, r->len);
            explicit_bzero(r->body, x->cap);
            rt_free(r->body);
        }
        r->body = p;
        x->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Notes whether the response says "Metadata-Flavor: Google" (any case, spaces around the
 * value): a status line starts a response, so what a proxy's CONNECT answer said before
 * the real one does not count. */
static size_t rt_http_xfer_header(char *data, size_t size, size_t nmemb, void *ud)
{
    static const char name[] = "metadata-flavor:";
    struct rt_http_xfer *x = ud;
    size_t n = size * nmemb, i = sizeof name - 1, end = n;

    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        x->resp.metadata_flavor = false;
    if (n < i || strncasecmp(data, name, i) != 0)
        return n;
    while (i < n && (data[i] == ' ' || data[i] == '\t'))
        i++;
    while (end > i && (data[end - 1] == '\r' || data[end - 1] == '\n' || data[end - 1] == ' '
                       || data[end - 1] == '\t'))
        end--;
    if (end - i == 6 && memcmp(data + i, "Google", 6) == 0)
        x->resp.metadata_flavor = true;
    return n;
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
    case CURLE_OUT_OF_MEMORY:
        return RT_ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return RT_EINVAL;
    default:
        return RT_ECONNECT;
    }
}

/* Turns the headers into libcurl's list; -1 with err on a malformed header. */
static int rt_http_xfer_headers(struct rt_http_xfer *x, const struct rt_http_request *r,
                                struct rt_error *err)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        const struct rt_http_header *h = &r->headers[i];
        if (strpbrk(h->name, "\r\n:") || strpbrk(h->value, "\r\n")) {
            rt_error_set(err, RT_EINVAL, "%s %s: header '%s' contains a line break or colon",
                         x->method, x->where, strpbrk(h->name, "\r\n") ? "(invalid name)" : h->name);
            return -1;
        }
        size_t n = strlen(h->name) + strlen(h->value) + 3;
        char *line = rt_malloc(n);
        if (!line) {
            rt_error_set(err, RT_ENOMEM, "out of memory building an HTTP request");
            return -1;
        }
        snprintf(line, n, "%s: %s", h->name, h->value);
        struct curl_slist *next = rt_curl.slist_append(x->hdrs, line);
        explicit_bzero(line, n);
        rt_free(line);
        if (!next) {
            rt_error_set(err, RT_ENOMEM, "out of memory building an HTTP request");
            return -1;
        }
        x->hdrs = next;
    }
    return 0;
}

/* The connection's socket, made close-on-exec: libcurl 7.88 makes it without, and a
 * child the host execs during a fetch then held the connection to the token server
 * open. libcurl closes it as any socket of its own (close()). */
static curl_socket_t rt_http_xfer_socket(void *ud, curlsocktype purpose,
                                         struct curl_sockaddr *a)
{
    (void)ud;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Sets every option of the easy handle; -1 with err when libcurl refuses one. */
static int rt_http_xfer_options(struct rt_http_xfer *x, const struct rt_http_request *r,
                                struct rt_error *err)
{
    bool post = strcmp(x->method, "POST") == 0;
    long timeout_ms = x->timeout > 86400.0 ? 86400000L : (long)(x->timeout * 1000.0);
    CURL *h = x->easy;
    CURLcode c = CURLE_OK;

    if (timeout_ms < 1)
        timeout_ms = 1;
#define RT_SETOPT(opt, val) do { if (c == CURLE_OK) c = rt_curl.easy_setopt(h, opt, val); } while (0)
    RT_SETOPT(CURLOPT_URL, r->url);
    RT_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    RT_SETOPT(CURLOPT_NOSIGNAL, 1L);
    RT_SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
    RT_SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    RT_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    RT_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    RT_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    RT_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    RT_SETOPT(CURLOPT_USERAGENT, "realtime-lua/" RT_VERSION);
    RT_SETOPT(CURLOPT_WRITEFUNCTION, rt_http_xfer_write);
    RT_SETOPT(CURLOPT_WRITEDATA, (void *)x);
    RT_SETOPT(CURLOPT_HEADERFUNCTION, rt_http_xfer_header);
    RT_SETOPT(CURLOPT_HEADERDATA, (void *)x);
    RT_SETOPT(CURLOPT_OPENSOCKETFUNCTION, rt_http_xfer_socket);
    if (x->hdrs)
        RT_SETOPT(CURLOPT_HTTPHEADER, x->hdrs);
    if (r->ca_file && *r->ca_file)
        RT_SETOPT(CURLOPT_CAINFO, r->ca_file);
    if (post) {
        RT_SETOPT(CURLOPT_POST, 1L);
        RT_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        RT_SETOPT(CURLOPT_POSTFIELDS, x->body);
    } else {
        RT_SETOPT(CURLOPT_HTTPGET, 1L);
    }
#undef RT_SETOPT
    if (c != CURLE_OK) {
        rt_error_set(err, rt_http_code(c), "%s %s: libcurl refused an option: %s", x->method,
                     x->where, rt_curl.easy_strerror(c));
        return -1;
    }
    return 0;
}

struct rt_http_xfer *rt_http_xfer_new(const struct rt_http_request *r, struct rt_error *err)
{
    bool post = r->method && strcmp(r->method, "POST") == 0;
    struct rt_http_xfer *x;

    if (!r->url || (!post && !(r->method && strcmp(r->method, "GET") == 0))) {
        rt_error_set(err, RT_EINVAL, "HTTP request needs a URL and the method GET or POST");
        return NULL;
    }
    /* libcurl opens it on the HTTP thread: a FIFO there would stall every request */
    if (r->ca_file && *r->ca_file && rt_file_check(r->ca_file, "ca_file", RT_ETLS, err) != 0)
        return NULL;
    x = rt_calloc(1, sizeof *x);
    if (!x) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
        return NULL;
    }
    snprintf(x->method, sizeof x->method, "%s", post ? "POST" : "GET");
    rt_http_redact_url(r->url, x->where, sizeof x->where);
    x->max = r->max_response ? r->max_response : RT_HTTP_DEFAULT_MAX;
    x->timeout = r->timeout > 0 ? r->timeout : RT_HTTP_DEFAULT_TIMEOUT;
    /* a scheme is case-insensitive (RFC 3986), as libcurl reads it: "HTTPS://" too */
    if (strncasecmp(r->url, "http://", 7) != 0 && strncasecmp(r->url, "https://", 8) != 0) {
        rt_error_set(err, RT_EINVAL, "%s: only http:// and https:// URLs are supported", x->where);
        goto fail;
    }
    if (rt_http_global_init(err) != 0)
        goto fail;
    if (post) {
        x->body_len = r->body ? r->body_len : 0;
        x->body = rt_malloc(x->body_len + 1);
        if (!x->body) {
            rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
            goto fail;
        }
        if (x->body_len)
            memcpy(x->body, r->body, x->body_len);
        x->body[x->body_len] = '\0';
    }
    x->easy = rt_curl.easy_init();
    if (!x->easy) {
        rt_error_set(err, RT_ENOMEM, "out of memory starting an HTTP request");
        goto fail;
    }
    if (rt_http_xfer_headers(x, r, err) != 0 || rt_http_xfer_options(x, r, err) != 0)
        goto fail;
    return x;
fail:
    rt_http_xfer_free(x);
    return NULL;
}

CURL *rt_http_xfer_easy(struct rt_http_xfer *x)
{
    return x->easy;
}

/* Whether a connection to the server was made before libcurl's failure c: the caller
 * tells "nothing there" (no such host, nothing listening, no connect in time) from a
 * server that was reached and did not answer with HTTP (it hung up, sent something else,
 * broke the connection, was silent). */
static bool rt_http_xfer_connected(struct rt_http_xfer *x, CURLcode c)
{
    curl_off_t us = 0;

    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return false;
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        /* the time the connect completed; 0 while none did (a timeout before it too) */
        return rt_curl.easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &us) == CURLE_OK && us > 0;
    }
}

/* The code of libcurl's failure c. The scheme was checked before the transfer, so an
 * "unsupported protocol" from a server that was reached is its answer (bytes that are
 * not HTTP, which libcurl takes for HTTP/0.9): the server's fault, not the caller's. */
static enum rt_code rt_http_xfer_code(struct rt_http_xfer *x, CURLcode c)
{
    if (c == CURLE_UNSUPPORTED_PROTOCOL && rt_http_xfer_connected(x, c))
        return RT_EPROTOCOL;
    return rt_http_code(c);
}

int rt_http_xfer_finish(struct rt_http_xfer *x, CURLcode c, struct rt_http_response *resp,
                        struct rt_error *err)
{
    resp->status = 0;
    resp->body = NULL;
    resp->len = 0;
    resp->metadata_flavor = false;
    if (x->oom) {
        rt_error_set(err, RT_ENOMEM, "%s %s: out of memory reading the response", x->method, x->where);
        return -1;
    }
    if (x->too_large) {
        rt_error_set(err, RT_EPROTOCOL, "%s %s: response larger than %zu bytes", x->method,
                     x->where, x->max);
        return RT_HTTP_NO_ANSWER;
    }
    if (c != CURLE_OK) {
        if (c == CURLE_OPERATION_TIMEDOUT)
            rt_error_set(err, RT_ETIMEOUT, "%s %s: no response within %g s", x->method, x->where,
                         x->timeout);
        else if (rt_http_xfer_code(x, c) == RT_EPROTOCOL)
            rt_error_set(err, RT_EPROTOCOL, "%s %s: the server's answer is not HTTP (%s)",
                         x->method, x->where, x->errbuf[0] ? x->errbuf : rt_curl.easy_strerror(c));
        else
            rt_error_set(err, rt_http_code(c), "%s %s: %s", x->method, x->where,
                         x->errbuf[0] ? x->errbuf : rt_curl.easy_strerror(c));
        return rt_http_xfer_connected(x, c) ? RT_HTTP_NO_ANSWER : -1;
    }
    if (rt_curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK ||
        resp->status < 100) {
        resp->status = 0;
        rt_error_set(err, RT_EPROTOCOL, "%s %s: no HTTP status in the response", x->method, x->where);
        return RT_HTTP_NO_ANSWER;
    }
    if (!x->resp.body) {
        x->resp.body = rt_malloc(1);
        if (!x->resp.body) {
            resp->status = 0;
            rt_error_set(err, RT_ENOMEM, "out of memory reading an HTTP response");
            return -1;
        }
        x->resp.body[0] = '\0';
    }
    resp->body = x->resp.body;
    resp->len = x->resp.len;
    resp->metadata_flavor = x->resp.metadata_flavor;
    x->resp.body = NULL;
    x->resp.len = 0;
    x->cap = 0;
    return 0;
}

void rt_http_xfer_cancelled(const struct rt_http_xfer *x, struct rt_error *err)
{
    rt_error_set(err, RT_ECLOSED, "%s %s: request cancelled", x->method, x->where);
}

void rt_http_xfer_free(struct rt_http_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        rt_curl.easy_cleanup(x->easy);
    rt_http_wipe_list(x->hdrs);
    if (x->body) {
        explicit_bzero(x->body, x->body_len);
        rt_free(x->body);
    }
    if (x->resp.body) {
        explicit_bzero(x->resp.body, x->resp.len);
        rt_free(x->resp.body);
    }
    rt_free(x);
}
