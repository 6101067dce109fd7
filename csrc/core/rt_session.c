/* Sessions: the owner-side API (any thread) and the I/O-thread side (lws callbacks).
 *
 * A session is shared by its owner and its client's I/O thread and carries one reference
 * for each; whichever side lets go last frees it. Requests cross from the owner to the
 * I/O thread through fields guarded by the session lock plus lws_cancel_service; results
 * come back as events in the session's queue, signalled on its eventfd. */
#include "rt_client_private.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rt_alloc.h"
#include "rt_endpoint.h"

#define RT_DEFAULT_TIMEOUT 15.0
#define RT_DEFAULT_QUEUE_BYTES ((size_t)10 << 20)
#define RT_DEFAULT_MESSAGE_BYTES ((size_t)16 << 20)
#define RT_DEFAULT_AUDIO_MIME "audio/pcm;rate=16000"
#define RT_ERROR_DATA_MAX 256

static const char rt_activity_start[] = "{\"realtimeInput\":{\"activityStart\":{}}}";
static const char rt_activity_end[] = "{\"realtimeInput\":{\"activityEnd\":{}}}";
static const char rt_stream_end[] = "{\"realtimeInput\":{\"audioStreamEnd\":true}}";

static double rt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------
 * E V E N T S
 * ---------------------------------------------------------------------------------- */

/* An event with room for `cap` data bytes, holding a copy of data (len bytes). */
static struct rt_event *rt_event_new(enum rt_event_type type, int code, size_t cap,
                                     const char *data, size_t len)
{
    struct rt_event *ev;

    if (len > cap)
        len = cap;
    ev = rt_malloc(offsetof(struct rt_event, data) + cap + 1);
    if (!ev)
        return NULL;
    ev->next = NULL;
    ev->type = type;
    ev->code = code;
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

/* Appends ev to the queue and signals the eventfd; the caller holds s->lock. */
static void rt_sess_push_locked(struct rt_session *s, struct rt_event *ev)
{
    uint64_t one = 1;

    ev->next = NULL;
    if (s->ev_tail)
        s->ev_tail->next = ev;
    else
        s->ev_head = ev;
    s->ev_tail = ev;
    s->ev_bytes += ev->len;
    /* Written under the lock, so the eventfd is readable exactly while events wait. A
     * failed write can only mean the counter is saturated, which still reads as ready. */
    if (write(s->efd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, which reads as ready all the same. */
    }
}

/* Empties the eventfd; the caller holds s->lock. */
static void rt_sess_drain_locked(struct rt_session *s)
{
    uint64_t v;

    while (read(s->efd, &v, sizeof v) > 0)
        ;
}

struct rt_event *rt_session_next_event(struct rt_session *s)
{
    struct rt_event *ev;

    pthread_mutex_lock(&s->lock);
    ev = s->ev_head;
    if (ev) {
        s->ev_head = ev->next;
        if (!s->ev_head)
            s->ev_tail = NULL;
        s->ev_bytes -= ev->len;
        ev->next = NULL;
        if (s->rx_paused && !s->rx_resume && s->ev_bytes <= RT_RX_PAUSE_BYTES / 2 &&
            s->client) {
            s->rx_resume = true;
            lws_cancel_service(s->client->ctx);
        }
    }
    if (!s->ev_head)
        rt_sess_drain_locked(s);
    pthread_mutex_unlock(&s->lock);
    return ev;
}

int rt_session_fd(const struct rt_session *s)
{
    return s->efd;
}

int rt_session_wait(struct rt_session *s, double timeout)
{
    double deadline = timeout >= 0 ? rt_now() + timeout : 0;
    struct pollfd pfd;
    bool ready;
    int n, ms;

    for (;;) {
        pthread_mutex_lock(&s->lock);
        ready = s->ev_head != NULL;
        pthread_mutex_unlock(&s->lock);
        if (ready)
            return 1;
        if (timeout < 0) {
            ms = -1;
        } else {
            double left = deadline - rt_now();
            if (left <= 0)
                return 0;
            ms = left * 1000.0 > INT_MAX ? INT_MAX : (int)ceil(left * 1000.0);
        }
        pfd.fd = s->efd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = poll(&pfd, 1, ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
    }
}

/* ------------------------------------------------------------------------------------
 * L I F E T I M E
 * ---------------------------------------------------------------------------------- */

static void rt_sess_destroy(struct rt_session *s)
{
    struct rt_event *ev, *next;
    size_t i;

    for (ev = s->ev_head; ev; ev = next) {
        next = ev->next;
        rt_free(ev);
    }
    rt_queue_clear(&s->sendq);
    rt_queue_clear(&s->replay);
    rt_reasm_free(&s->rx);
    rt_msg_free(s->setup);
    rt_msg_free(s->cur);
    rt_free(s->ev_error);
    rt_free(s->ev_closed);
    for (i = 0; i < s->nheaders; i++) {
        rt_free((void *)s->headers[i].name);
        rt_free((void *)s->headers[i].value);
    }
    rt_free(s->headers);
    rt_free(s->address);
    rt_free(s->host_header);
    rt_free(s->path);
    rt_free(s->audio_mime);
    rt_free(s->setup_tmpl);
    rt_free(s->tx_scratch);
    if (s->auth_value) {
        memset(s->auth_value, 0, strlen(s->auth_value));
        rt_free(s->auth_value);
    }
    rt_auth_free(s->auth);
    if (s->efd >= 0)
        close(s->efd);
    pthread_mutex_destroy(&s->lock);
    rt_free(s);
}

void rt_session_unref(struct rt_session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) == 1)
        rt_sess_destroy(s);
}

/* Splits a ws:// or wss:// URL into its parts (all owned by s). */
static int rt_sess_parse_url(struct rt_session *s, const char *url, struct rt_error *err)
{
    const char *p, *auth, *host_end, *port_str = NULL;
    size_t hlen;
    char *end;
    long port;

    for (p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            rt_error_set(err, RT_EINVAL, "url contains a space or control character");
            return -1;
        }
    }
    if (strncasecmp(url, "wss://", 6) == 0) {
        s->tls = true;
        auth = url + 6;
    } else if (strncasecmp(url, "ws://", 5) == 0) {
        s->tls = false;
        auth = url + 5;
    } else {
        rt_error_set(err, RT_EINVAL, "url must start with ws:// or wss://");
        return -1;
    }
    p = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(p - auth))) {
        rt_error_set(err, RT_EINVAL, "url must not contain user information");
        return -1;
    }
    if (*auth == '[') {
        host_end = memchr(auth, ']', (size_t)(p - auth));
        if (!host_end) {
            rt_error_set(err, RT_EINVAL, "url has an unterminated IPv6 address");
            return -1;
        }
        s->address = rt_strndup(auth + 1, (size_t)(host_end - auth - 1));
        host_end++;
        if (host_end < p && *host_end == ':')
            port_str = host_end + 1;
        else if (host_end != p) {
            rt_error_set(err, RT_EINVAL, "url has junk after the IPv6 address");
            return -1;
        }
    } else {
        host_end = memchr(auth, ':', (size_t)(p - auth));
        if (host_end)
            port_str = host_end + 1;
        else
            host_end = p;
        s->address = rt_strndup(auth, (size_t)(host_end - auth));
    }
    if (!s->address)
        goto nomem;
    if (!s->address[0]) {
        rt_error_set(err, RT_EINVAL, "url has no host");
        return -1;
    }
    s->port = s->tls ? 443 : 80;
    if (port_str) {
        errno = 0;
        port = strtol(port_str, &end, 10);
        if (end != p || port < 1 || port > 65535 || errno) {
            rt_error_set(err, RT_EINVAL, "url has an invalid port");
            return -1;
        }
        s->port = (int)port;
    }
    hlen = strlen(s->address);
    /* lws takes the TLS name from the Host value up to the first ':', so an IPv6 literal
     * goes without brackets or port. */
    if (strchr(s->address, ':') || s->port == (s->tls ? 443 : 80)) {
        s->host_header = rt_strdup(s->address);
    } else {
        s->host_header = rt_malloc(hlen + 8);
        if (s->host_header)
            snprintf(s->host_header, hlen + 8, "%s:%d", s->address, s->port);
    }
    if (!s->host_header)
        goto nomem;
    /* Path and query; a fragment is never sent. */
    hlen = strcspn(p, "#");
    if (*p == '/') {
        s->path = rt_strndup(p, hlen);
    } else {
        s->path = rt_malloc(hlen + 2);
        if (s->path) {
            s->path[0] = '/';
            memcpy(s->path + 1, p, hlen);
            s->path[hlen + 1] = '\0';
        }
    }
    if (!s->path)
        goto nomem;
    return 0;
nomem:
    rt_error_set(err, RT_ENOMEM, "out of memory copying the url");
    return -1;
}

/* Copies the extra headers, each name stored with the colon lws wants. */
static int rt_sess_copy_headers(struct rt_session *s, const struct rt_header *h, size_t n,
                                struct rt_error *err)
{
    size_t i;

    if (!n)
        return 0;
    if (!h) {
        rt_error_set(err, RT_EINVAL, "nheaders is set but headers is NULL");
        return -1;
    }
    s->headers = rt_calloc(n, sizeof *s->headers);
    if (!s->headers)
        goto nomem;
    for (i = 0; i < n; i++) {
        size_t nl;
        char *name;

        if (!rt_header_ok(h[i].name, h[i].value)) {
            rt_error_set(err, RT_EINVAL, "header %zu has an invalid name or a CR/LF in its value",
                         i + 1);
            return -1;
        }
        nl = strlen(h[i].name);
        name = rt_malloc(nl + 2);
        if (!name)
            goto nomem;
        memcpy(name, h[i].name, nl);
        name[nl] = ':';
        name[nl + 1] = '\0';
        s->headers[i].name = name;
        s->nheaders = i + 1;
        if (!(s->headers[i].value = rt_strdup(h[i].value)))
            goto nomem;
    }
    return 0;
nomem:
    rt_error_set(err, RT_ENOMEM, "out of memory copying headers");
    return -1;
}

struct rt_session *rt_session_new(struct rt_client *c, const struct rt_session_options *o,
                                  struct rt_error *err)
{
    struct rt_session *s;
    const char *mime;

    if (!c || !o || !o->url) {
        rt_error_set(err, RT_EINVAL, "a client and a url are required");
        return NULL;
    }
    if (!o->setup || !o->setup_len) {
        rt_error_set(err, RT_EINVAL, "the setup message is required");
        return NULL;
    }
    if (o->timeout < 0 || isnan(o->timeout) || o->timeout > 86400) {
        rt_error_set(err, RT_EINVAL, "timeout must be between 0 and 86400 seconds");
        return NULL;
    }
    mime = o->audio_mime ? o->audio_mime : RT_DEFAULT_AUDIO_MIME;
    if (!*mime || !rt_frame_mime_ok(mime)) {
        rt_error_set(err, RT_EINVAL, "audio_mime is empty or needs JSON escaping");
        return NULL;
    }
    s = rt_calloc(1, sizeof *s);
    if (!s) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a session");
        return NULL;
    }
    s->efd = -1;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        rt_free(s);
        rt_error_set(err, RT_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    rt_queue_init(&s->sendq, o->max_queue_bytes ? o->max_queue_bytes : RT_DEFAULT_QUEUE_BYTES);
    rt_queue_init(&s->replay, SIZE_MAX); /* bounded together with sendq (rt_sess_enqueue_locked) */
    rt_reasm_init(&s->rx, offsetof(struct rt_event, data),
                  o->max_message_bytes ? o->max_message_bytes : RT_DEFAULT_MESSAGE_BYTES);
    s->timeout = o->timeout > 0 ? o->timeout : RT_DEFAULT_TIMEOUT;
    s->manual_activity = o->manual_activity;
    s->audio_stream_end = o->audio_stream_end;
    s->stats.first_audio = -1;
    s->io_client = c;
    s->state = RT_IO_PENDING;

    if (rt_sess_parse_url(s, o->url, err) ||
        rt_sess_copy_headers(s, o->headers, o->nheaders, err))
        goto fail;
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0) {
        rt_error_set(err, RT_ENOMEM, "cannot create an eventfd: %s", strerror(errno));
        goto fail;
    }
    s->setup = rt_msg_copy(o->setup, o->setup_len);
    s->audio_mime = rt_strdup(mime);
    if (o->resumption &&
        rt_resume_find(o->setup, o->setup_len, &s->resume_at, &s->resume_empty)) {
        s->resume_on = true;
        s->setup_tmpl = rt_strndup(o->setup, o->setup_len);
        s->setup_len = o->setup_len;
        if (!s->setup_tmpl) {
            rt_error_set(err, RT_ENOMEM, "out of memory creating a session");
            goto fail;
        }
    }
    if (o->auth)
        s->auth = rt_auth_retain(o->auth);
    s->ev_error = rt_event_new(RT_EV_ERROR, 0, RT_ERROR_DATA_MAX, NULL, 0);
    s->ev_closed = rt_event_new(RT_EV_CLOSED, 1006, RT_CLOSE_REASON_MAX, NULL, 0);
    if (!s->setup || !s->audio_mime || !s->ev_error || !s->ev_closed) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a session");
        goto fail;
    }

    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        rt_error_set(err, RT_ECLOSED, "the client is being freed");
        goto fail;
    }
    atomic_store(&s->refs, 2); /* the owner's and the I/O thread's */
    s->client = c;
    s->pending_next = c->pending;
    c->pending = s;
    lws_cancel_service(c->ctx);
    pthread_mutex_unlock(&c->lock);
    return s;
fail:
    rt_sess_destroy(s);
    return NULL;
}

/* Validates a close code for a close frame: 1000, 1001..1003, 1007..1014, 3000..4999. */
static int rt_close_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void rt_session_close(struct rt_session *s, int code, const char *reason)
{
    size_t n;

    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->close_req || s->finished) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->close_req = true;
    s->closed = true;
    s->close_code = rt_close_code_ok(code) ? code : 1000;
    n = reason ? strlen(reason) : 0;
    if (n > RT_CLOSE_REASON_MAX) {
        n = RT_CLOSE_REASON_MAX;
        /* Do not cut a UTF-8 sequence in half. */
        while (n && ((unsigned char)reason[n] & 0xc0) == 0x80)
            n--;
    }
    if (n)
        memcpy(s->close_reason, reason, n);
    s->close_reason[n] = '\0';
    if (s->client)
        lws_cancel_service(s->client->ctx);
    pthread_mutex_unlock(&s->lock);
}

void rt_session_free(struct rt_session *s)
{
    if (!s)
        return;
    rt_session_close(s, 1000, NULL);
    rt_session_unref(s);
}

/* ------------------------------------------------------------------------------------
 * S E N D I N G
 * ---------------------------------------------------------------------------------- */

/* Queues a chain (taking it on success) and wakes the I/O thread; the caller holds the
 * lock and has checked that the session is open. */
static int rt_sess_enqueue_locked(struct rt_session *s, struct rt_msg *chain, size_t bytes,
                                  struct rt_error *err)
{
    /* Messages kept for replay count against the bound too; the oldest of them give way
     * to new input (counted in replay_dropped) rather than refusing what the user says
     * now. */
    while (!rt_queue_empty(&s->replay) && bytes <= s->sendq.max_bytes &&
           s->sendq.bytes + s->replay.bytes + bytes > s->sendq.max_bytes) {
        rt_msg_free(rt_queue_pop(&s->replay));
        s->replay_first++;
        s->stats.replay_dropped++;
    }
    if (rt_queue_push_chain(&s->sendq, chain, bytes, err))
        return -1;
    if (s->client)
        lws_cancel_service(s->client->ctx);
    return 0;
}

int rt_session_send(struct rt_session *s, const char *json, size_t len, struct rt_error *err)
{
    struct rt_msg *m = rt_msg_copy(json, len);
    int rc;

    if (!m) {
        rt_error_set(err, RT_ENOMEM, "out of memory queuing a %zu-byte message", len);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        rt_error_set(err, RT_ECLOSED, "session closed");
        rc = -1;
    } else {
        rc = rt_sess_enqueue_locked(s, m, len, err);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc)
        rt_msg_free(m);
    return rc;
}

int rt_session_append_audio(struct rt_session *s, const void *pcm, size_t len,
                            struct rt_error *err)
{
    struct rt_msg *chain, *start = NULL;
    size_t bytes;
    int rc = -1;

    if (len % 2) {
        rt_error_set(err, RT_EINVAL, "PCM length %zu is odd (16-bit samples expected)", len);
        return -1;
    }
    if (!len)
        return 0;
    if (rt_frame_audio(pcm, len, s->audio_mime, RT_FRAME_AUDIO_SPLIT, &chain, &bytes, err))
        return -1;
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        rt_error_set(err, RT_ECLOSED, "session closed");
        goto out;
    }
    if (s->manual_activity && !s->in_turn) {
        start = rt_msg_copy(rt_activity_start, sizeof rt_activity_start - 1);
        if (!start) {
            rt_error_set(err, RT_ENOMEM, "out of memory queuing audio");
            goto out;
        }
        start->next = chain;
        bytes += start->len;
        chain = start;
    }
    if (rt_sess_enqueue_locked(s, chain, bytes, err))
        goto out;
    chain = NULL;
    s->in_turn = true;
    rc = 0;
out:
    pthread_mutex_unlock(&s->lock);
    rt_msg_free_chain(chain);
    return rc;
}

/* Starts the first_audio clock; the caller holds the lock. */
static void rt_sess_turn_end_locked(struct rt_session *s)
{
    clock_gettime(CLOCK_MONOTONIC, &s->turn_end);
    s->awaiting_audio = true;
}

int rt_session_commit_audio(struct rt_session *s, struct rt_error *err)
{
    struct rt_msg *m = NULL;
    int rc = 0;

    if (s->manual_activity)
        m = rt_msg_copy(rt_activity_end, sizeof rt_activity_end - 1);
    else if (s->audio_stream_end)
        m = rt_msg_copy(rt_stream_end, sizeof rt_stream_end - 1);
    if ((s->manual_activity || s->audio_stream_end) && !m) {
        rt_error_set(err, RT_ENOMEM, "out of memory committing audio");
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        rt_error_set(err, RT_ECLOSED, "session closed");
        rc = -1;
    } else if (s->in_turn) {
        if (m) {
            rc = rt_sess_enqueue_locked(s, m, m->len, err);
            if (!rc)
                m = NULL;
        }
        if (!rc) {
            s->in_turn = false;
            rt_sess_turn_end_locked(s);
        }
    }
    pthread_mutex_unlock(&s->lock);
    rt_msg_free(m);
    return rc;
}

void rt_session_mark_turn_end(struct rt_session *s)
{
    pthread_mutex_lock(&s->lock);
    rt_sess_turn_end_locked(s);
    pthread_mutex_unlock(&s->lock);
}

void rt_session_stats(struct rt_session *s, struct rt_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    out->queued_bytes = s->sendq.bytes + s->replay.bytes;
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------------------
 * I / O   T H R E A D
 * ---------------------------------------------------------------------------------- */

static void rt_sess_lost(struct rt_client *c, struct rt_session *s);
static void rt_sess_connect(struct rt_client *c, struct rt_session *s);
static void rt_sess_close_timeout_cb(lws_sorted_usec_list_t *sul);

/* Marks the wsi to be closed at lws's next timeout check (outside a callback's return). */
static void rt_sess_kill(struct rt_session *s)
{
    if (s->wsi)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static const char *rt_http_reason(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:
        if (status >= 300 && status < 400)
            return "Redirect (not followed)";
        return "refused";
    }
}

/* Turns a connect failure into an error with a code (the first one is kept). */
static void rt_sess_conn_error(struct rt_session *s, struct lws *wsi, const char *why)
{
    const char *log = rt_client_last_log();
    int status = 0;

    if (!why)
        why = "";
    if (wsi && strncmp(why, "HS: ", 4) == 0)
        status = (int)lws_http_client_http_response(wsi);
    if (status && status != 101)
        s->http_status = status;
    if (s->tls_problem[0]) {
        rt_error_set(&s->ioerr, RT_ETLS, "TLS certificate of %s rejected: %s", s->address,
                     s->tls_problem);
    } else if (status && status != 101) {
        rt_error_set(&s->ioerr, RT_EHANDSHAKE, "HTTP %d: %s", status, rt_http_reason(status));
    } else if (strncmp(why, "HS: ", 4) == 0) {
        rt_error_set(&s->ioerr, RT_EHANDSHAKE, "WebSocket handshake with %s failed: %s",
                     s->address, why + 4);
    } else if (strstr(why, "getaddrinfo") || strstr(why, "dns") || strstr(why, "DNS")) {
        rt_error_set(&s->ioerr, RT_EDNS, "cannot resolve host %s", s->address);
    } else if (strstr(why, "SSL") || strstr(why, "ssl") || strstr(why, "tls") ||
               strstr(why, "TLS")) {
        rt_error_set(&s->ioerr, RT_ETLS, "TLS handshake with %s failed: %s", s->address,
                     *log ? log : why);
    } else if (strcmp(why, "Unable to connect") == 0) {
        rt_error_set(&s->ioerr, RT_ECONNECT,
                     "cannot connect to %s port %d (connection refused or unreachable)",
                     s->address, s->port);
    } else {
        rt_error_set(&s->ioerr, RT_ECONNECT, "connection to %s port %d failed: %s", s->address,
                     s->port, *why ? why : (*log ? log : "unknown error"));
    }
}

/* Fills the preallocated final events and queues them: the error (if any), then closed. */
void rt_session_io_finish(struct rt_client *c, struct rt_session *s)
{
    struct rt_session **pp;
    struct rt_event *err_ev = NULL, *closed = s->ev_closed;
    enum rt_code ecode = RT_OK;
    char emsg[RT_ERROR_DATA_MAX];
    const char *reason = "";
    size_t rlen = 0;
    int code = 1006;
    bool user_close;

    if (s->state == RT_IO_DONE)
        return;
    lws_sul_cancel(&s->sul_timeout);
    lws_sul_cancel(&s->sul_close);
    lws_sul_cancel(&s->sul_retry);
    lws_sul_cancel(&s->sul_goaway);
    for (pp = &c->live; *pp; pp = &(*pp)->live_next) {
        if (*pp == s) {
            *pp = s->live_next;
            break;
        }
    }
    s->live_next = NULL;
    rt_msg_free(s->cur);
    s->cur = NULL;
    rt_reasm_free(&s->rx);
    emsg[0] = '\0';

    pthread_mutex_lock(&s->lock);
    user_close = s->close_req && (s->close_acted || s->state == RT_IO_PENDING);
    if (s->final_code) {
        ecode = s->ioerr.code;
        snprintf(emsg, sizeof emsg, "%s", s->ioerr.msg);
        code = s->final_code;
        reason = s->peer_reason; /* filled with our own reason when we closed */
        rlen = strlen(reason);
    } else if (user_close) {
        code = s->close_code;
        reason = s->close_reason;
        rlen = strlen(reason);
    } else if (s->peer_closed) {
        code = s->peer_code;
        reason = s->peer_reason;
        rlen = strnlen(reason, RT_CLOSE_REASON_MAX);
        if (code != 1000 && code != 1005) {
            ecode = RT_ECLOSED;
            snprintf(emsg, sizeof emsg, "server closed the connection (%d%s%.*s)", code,
                     rlen ? ": " : "", (int)rlen, reason);
        }
    } else if (s->ioerr.code != RT_OK) {
        ecode = s->ioerr.code;
        snprintf(emsg, sizeof emsg, "%s", s->ioerr.msg);
    } else if (s->state == RT_IO_SETUP || s->state == RT_IO_READY) {
        int dead = c->ping_interval + c->ping_timeout;
        ecode = RT_ECLOSED;
        if (rt_now() - s->last_valid >= dead - 1)
            snprintf(emsg, sizeof emsg, "connection lost: no pong for %d s", dead);
        else
            snprintf(emsg, sizeof emsg, "connection lost");
    } else {
        ecode = RT_ECONNECT;
        snprintf(emsg, sizeof emsg, "connection to %s port %d failed before the WebSocket "
                 "handshake completed", s->address, s->port);
    }
    if (ecode != RT_OK) {
        err_ev = s->ev_error;
        s->ev_error = NULL;
        err_ev->code = (int)ecode;
        err_ev->len = strlen(emsg);
        memcpy(err_ev->data, emsg, err_ev->len + 1);
        rt_sess_push_locked(s, err_ev);
    }
    s->ev_closed = NULL;
    closed->code = code;
    if (rlen > RT_CLOSE_REASON_MAX)
        rlen = RT_CLOSE_REASON_MAX;
    memmove(closed->data, reason, rlen);
    closed->data[rlen] = '\0';
    closed->len = rlen;
    rt_sess_push_locked(s, closed);
    s->finished = true;
    s->closed = true;
    s->client = NULL;
    pthread_mutex_unlock(&s->lock);

    s->state = RT_IO_DONE;
    s->wsi = NULL;
    if (c->stop_seen && !c->live)
        c->exit_loop = true;
    rt_session_unref(s);
}


/* ------------------------------------------------------------------------------------
 * R E S U M P T I O N
 *
 * A connection that ends while the session should go on (a drop, a transient close, the
 * server's goAway) is replaced: the I/O thread waits (backoff, or nothing after goAway),
 * opens a new connection whose setup carries the latest resumption handle, and once
 * setupComplete arrives puts every client message not known to be consumed back at the
 * head of the send queue, then queues RT_EV_RECONNECTED. See docs/design.md.
 * ---------------------------------------------------------------------------------- */

#define RT_RESUME_MAX_ATTEMPTS 6
#define RT_AUTH_WAIT_STEPS 50          /* 0.1 s each: a token fetch gets 5 s */

/* Whether the connection that just ended should be replaced. */
static bool rt_sess_should_resume(struct rt_client *c, struct rt_session *s)
{
    bool close_req;

    if (!s->resume_on || !s->ever_ready || c->stop_seen || s->final_code)
        return false;
    pthread_mutex_lock(&s->lock);
    close_req = s->close_req;
    pthread_mutex_unlock(&s->lock);
    if (close_req || !s->handle_len || s->attempt >= RT_RESUME_MAX_ATTEMPTS)
        return false;
    if (s->recycle)
        return true;
    if (s->peer_closed) {
        if (rt_resume_fatal_close(s->peer_code))
            return false;
        /* A normal close is the end, unless it is the one announced by goAway. */
        if ((s->peer_code == 1000 || s->peer_code == 1005) && !s->goaway)
            return false;
        return true;
    }
    switch (s->ioerr.code) {
    case RT_ETLS:
    case RT_EAUTH:
    case RT_EINVAL:
    case RT_ENOMEM:
        return false;
    case RT_EHANDSHAKE:
        return s->http_status == 0 || s->http_status >= 500 || s->http_status == 408 ||
               s->http_status == 429;
    default:
        return true;
    }
}

/* Describes why the connection ended, for the reconnected message. */
static void rt_sess_loss_reason(struct rt_client *c, struct rt_session *s)
{
    char *r = s->lost_reason;
    size_t cap = sizeof s->lost_reason;

    if (s->recycle)
        snprintf(r, cap, "go_away");
    else if (s->peer_closed)
        snprintf(r, cap, "server closed the connection (%d%s%s)", s->peer_code,
                 s->peer_reason[0] ? ": " : "", s->peer_reason);
    else if (s->ioerr.code != RT_OK)
        snprintf(r, cap, "%.180s", s->ioerr.msg);
    else if (rt_now() - s->last_valid >= c->ping_interval + c->ping_timeout - 1)
        snprintf(r, cap, "connection lost: no pong for %d s", c->ping_interval + c->ping_timeout);
    else
        snprintf(r, cap, "connection lost");
}

static void rt_sess_retry_cb(lws_sorted_usec_list_t *sul);

/* The connection has ended (its wsi is gone or never came): either schedule the next
 * one or end the session. */
static void rt_sess_lost(struct rt_client *c, struct rt_session *s)
{
    struct timespec ts;
    double delay;

    if (s->state == RT_IO_DONE || s->state == RT_IO_WAIT)
        return;
    if (!rt_sess_should_resume(c, s)) {
        bool close_req;

        pthread_mutex_lock(&s->lock);
        close_req = s->close_req;
        pthread_mutex_unlock(&s->lock);
        if (s->reconnecting && !close_req && !s->peer_closed && !s->final_code) {
            /* Say that the session was being resumed, and why that started. */
            char why[RT_ERROR_DATA_MAX];
            enum rt_code code = s->ioerr.code != RT_OK ? s->ioerr.code : RT_ECLOSED;

            snprintf(why, sizeof why, "%s", s->ioerr.code != RT_OK ? s->ioerr.msg
                                                                   : "connection lost");
            rt_error_clear(&s->ioerr);
            rt_error_set(&s->ioerr, code, "cannot resume the session after %d attempt%s "
                         "(%.60s): %.150s", s->attempt, s->attempt == 1 ? "" : "s",
                         s->lost_reason, why);
        }
        rt_session_io_finish(c, s);
        return;
    }
    lws_sul_cancel(&s->sul_timeout);
    lws_sul_cancel(&s->sul_close);
    lws_sul_cancel(&s->sul_goaway);
    if (!s->reconnecting)
        rt_sess_loss_reason(c, s);
    /* A message cut off mid-write goes out whole on the next connection. */
    if (s->cur && !s->cur_setup) {
        pthread_mutex_lock(&s->lock);
        s->cur->next = s->sendq.head;
        s->sendq.head = s->cur;
        if (!s->sendq.tail)
            s->sendq.tail = s->cur;
        s->sendq.bytes += s->cur->len;
        s->sendq.count++;
        pthread_mutex_unlock(&s->lock);
    } else {
        rt_msg_free(s->cur);
    }
    s->cur = NULL;
    s->cur_setup = false;
    rt_msg_free(s->setup);
    s->setup = NULL;
    rt_reasm_free(&s->rx);

    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->attempt++;
    /* Leaving on purpose after goAway: the old socket is closed, go at once. */
    delay = s->recycle && s->attempt == 1 ? 0
            : rt_resume_backoff(s->attempt, (double)(ts.tv_nsec % 1000) / 1000.0);
    s->reconnecting = true;
    s->recycle = false;
    s->goaway = false;
    s->model_busy = false;
    s->peer_closed = false;
    s->peer_code = 0;
    s->peer_reason[0] = '\0';
    s->tls_problem[0] = '\0';
    s->http_status = 0;
    s->auth_waits = 0;
    rt_error_clear(&s->ioerr);
    s->wsi = NULL;
    s->state = RT_IO_WAIT;
    lws_sul_schedule(c->ctx, 0, &s->sul_retry, rt_sess_retry_cb,
                     (lws_usec_t)(delay * (double)LWS_USEC_PER_SEC));
}

/* Takes a fresh token from the token source for the next handshake. Returns false when
 * a fetch is under way and worth waiting for. */
static bool rt_sess_fresh_auth(struct rt_session *s)
{
    struct rt_error e;
    char *tok = NULL;
    int r;

    if (!s->auth)
        return true;
    rt_error_clear(&e);
    /* A token about to expire is of no use for a connection that may last minutes. */
    r = rt_auth_token(s->auth, 60, &tok, NULL, &e);
    if (r == 0 && s->auth_waits++ < RT_AUTH_WAIT_STEPS)
        return false;
    if (r == 1 && tok) {
        size_t n = strlen(tok);
        char *v = rt_malloc(n + 8);
        if (v) {
            memcpy(v, "Bearer ", 7);
            memcpy(v + 7, tok, n + 1);
            if (s->auth_value) {
                memset(s->auth_value, 0, strlen(s->auth_value));
                rt_free(s->auth_value);
            }
            s->auth_value = v;
        }
        memset(tok, 0, n);
        rt_free(tok);
    }
    /* Otherwise the previous credential is tried; a refusal ends the session. */
    return true;
}

static void rt_sess_retry_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_retry);
    struct rt_client *c = s->io_client;
    struct rt_msg *m;
    size_t cap, n;
    bool close_req;

    if (s->state != RT_IO_WAIT)
        return;
    pthread_mutex_lock(&s->lock);
    close_req = s->close_req;
    pthread_mutex_unlock(&s->lock);
    if (close_req || c->stop_seen) {
        s->close_acted = true;
        rt_session_io_finish(c, s);
        return;
    }
    if (!rt_sess_fresh_auth(s)) {
        lws_sul_schedule(c->ctx, 0, &s->sul_retry, rt_sess_retry_cb, LWS_USEC_PER_SEC / 10);
        return;
    }
    cap = s->setup_len + s->handle_len + 16;
    m = rt_msg_new(cap);
    n = m ? rt_resume_setup(s->setup_tmpl, s->setup_len, s->resume_at, s->resume_empty,
                            s->handle, s->handle_len, (char *)rt_msg_data(m), cap) : 0;
    if (!n) {
        rt_msg_free(m);
        rt_error_set(&s->ioerr, RT_ENOMEM, "out of memory building the resumption setup");
        s->close_acted = true;
        rt_session_io_finish(c, s);
        return;
    }
    m->len = n;
    rt_msg_data(m)[n] = '\0';
    s->setup = m;
    s->state = RT_IO_PENDING;
    rt_sess_connect(c, s);
}

/* Leaves the connection to resume on a new one, once the message being written is out. */
static void rt_sess_recycle(struct rt_session *s)
{
    if (s->recycle || !s->wsi || s->state != RT_IO_READY || s->close_acted || s->final_code ||
        !s->handle_len)
        return;   /* without a handle there is nothing to resume: the server's close ends it */
    s->recycle = true;
    lws_sul_cancel(&s->sul_goaway);
    lws_sul_schedule(s->io_client->ctx, 0, &s->sul_close, rt_sess_close_timeout_cb,
                     RT_CLOSE_WAIT_SECS * LWS_USEC_PER_SEC);
    if (lws_callback_on_writable(s->wsi) < 0)
        rt_sess_kill(s);
}

static void rt_sess_goaway_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_goaway);

    rt_sess_recycle(s);
}

/* Acts on what a server message says about the connection (I/O thread, READY). */
static void rt_sess_track(struct rt_session *s, const struct rt_scan *sc)
{
    if (sc->model_output || sc->tool_call)
        s->model_busy = true;
    if (sc->turn_complete) {
        pthread_mutex_lock(&s->lock);
        s->boundary = s->tx_seq;
        pthread_mutex_unlock(&s->lock);
    }
    if (sc->update && sc->resumable && sc->handle &&
        rt_resume_handle_ok(sc->handle, sc->handle_len)) {
        uint64_t upto;

        memcpy(s->handle, sc->handle, sc->handle_len);
        s->handle[sc->handle_len] = '\0';
        s->handle_len = sc->handle_len;
        s->model_busy = false;
        /* What the handle covers is consumed for good: with lastConsumedClientMessageIndex
         * exactly (message k of this connection, the setup being 0), otherwise what was
         * written before the turn boundary the handle follows. */
        pthread_mutex_lock(&s->lock);
        upto = s->boundary;
        if (sc->has_index) {
            upto = s->tx_seq;
            if ((uint64_t)sc->last_index < upto - s->conn_base)
                upto = s->conn_base + (uint64_t)sc->last_index;
        }
        while (!rt_queue_empty(&s->replay) && s->replay_first < upto) {
            rt_msg_free(rt_queue_pop(&s->replay));
            s->replay_first++;
        }
        pthread_mutex_unlock(&s->lock);
        if (s->goaway)
            rt_sess_recycle(s);
    }
    if (sc->go_away && !s->goaway) {
        double left = sc->time_left >= 0 ? sc->time_left : 10, hard;

        s->goaway = true;
        if (!s->model_busy && s->handle_len) {
            rt_sess_recycle(s);
        } else {
            /* Let the model finish its turn (the handle after it is the one to resume
             * with), but leave in time whatever happens: a timer, not the next message. */
            hard = left >= 4 ? left - 2 : left / 2;
            lws_sul_schedule(s->io_client->ctx, 0, &s->sul_goaway, rt_sess_goaway_cb,
                             (lws_usec_t)(hard * (double)LWS_USEC_PER_SEC));
        }
    }
}

/* setupComplete on a replacement connection: the replay goes first, then the queue;
 * returns the reconnected event to queue in place of the ready one (NULL if out of
 * memory: the session goes on without telling). The caller holds the lock. */
static struct rt_event *rt_sess_resumed_locked(struct rt_session *s)
{
    struct rt_event *ev;

    s->stats.reconnects++;
    if (!rt_queue_empty(&s->replay)) {
        s->stats.resent += s->replay.count;
        s->replay.tail->next = s->sendq.head;
        s->sendq.head = s->replay.head;
        if (!s->sendq.tail)
            s->sendq.tail = s->replay.tail;
        s->sendq.bytes += s->replay.bytes;
        s->sendq.count += s->replay.count;
        s->replay.head = s->replay.tail = NULL;
        s->replay.bytes = 0;
        s->replay.count = 0;
    }
    s->replay_first = s->tx_seq;
    s->rx_paused = false;
    s->rx_resume = false;
    ev = rt_event_new(RT_EV_RECONNECTED, s->attempt, strlen(s->lost_reason), s->lost_reason,
                      strlen(s->lost_reason));
    return ev;
}

static void rt_sess_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_timeout);

    if (s->state >= RT_IO_READY)
        return;
    if (s->state == RT_IO_SETUP)
        rt_error_set(&s->ioerr, RT_ETIMEOUT, "no setupComplete within %g s", s->timeout);
    else
        rt_error_set(&s->ioerr, RT_ETIMEOUT, "connecting to %s timed out after %g s",
                     s->address, s->timeout);
    if (s->wsi)
        rt_sess_kill(s);
    else
        rt_sess_lost(s->io_client, s);
}

static void rt_sess_close_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_close);

    rt_sess_kill(s);
}

static void rt_client_stop_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_client *c = lws_container_of(sul, struct rt_client, sul_stop);

    c->exit_loop = true;
}

/* Hands a session's next connection to lws (or ends the session if it was closed before
 * it started). */
static void rt_sess_connect(struct rt_client *c, struct rt_session *s)
{
    struct lws_client_connect_info i;
    bool close_req;
    struct lws *w;

    pthread_mutex_lock(&s->lock);
    close_req = s->close_req;
    pthread_mutex_unlock(&s->lock);
    if (close_req) {
        rt_session_io_finish(c, s);
        return;
    }
    memset(&i, 0, sizeof i);
    i.context = c->ctx;
    i.address = s->address;
    i.port = s->port;
    /* Certificate and host name are always verified: no ALLOW_* flag is ever set. */
    i.ssl_connection = (s->tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
    i.path = s->path;
    i.host = s->host_header;
    i.userdata = s;
    i.pwsi = &s->wsi;
    i.retry_and_idle_policy = &c->retry;

    s->state = RT_IO_CONNECTING;
    s->last_valid = rt_now();
    lws_sul_schedule(c->ctx, 0, &s->sul_timeout, rt_sess_timeout_cb,
                     (lws_usec_t)(s->timeout * (double)LWS_USEC_PER_SEC));
    /* Callbacks may end the session inside the call; keep it alive until we return. */
    atomic_fetch_add(&s->refs, 1);
    rt_client_clear_log();
    w = lws_client_connect_via_info(&i);
    if (!w && s->state == RT_IO_CONNECTING && !s->wsi) {
        /* lws 4.1 reports a failed name lookup only in a log line: look again to tell a
         * DNS failure from the rest. */
        struct addrinfo hints, *res = NULL;
        int g;

        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        g = getaddrinfo(s->address, NULL, &hints, &res);
        if (res)
            freeaddrinfo(res);
        if (g != 0)
            rt_error_set(&s->ioerr, RT_EDNS, "cannot resolve host %s: %s", s->address,
                         gai_strerror(g));
        rt_sess_conn_error(s, NULL, rt_client_last_log());
        rt_sess_lost(c, s);
    }
    rt_session_unref(s);
}

/* Acts on what the owner asked for since the last wake-up. */
static void rt_sess_io_poll(struct rt_client *c, struct rt_session *s)
{
    bool close_req, resume, has;

    pthread_mutex_lock(&s->lock);
    close_req = s->close_req;
    resume = s->rx_resume;
    s->rx_resume = false;
    if (resume)
        s->rx_paused = false;
    has = !rt_queue_empty(&s->sendq);
    pthread_mutex_unlock(&s->lock);

    if (close_req && !s->close_acted) {
        s->close_acted = true;
        if (!s->wsi) {
            rt_session_io_finish(c, s);
            return;
        }
        if (s->state == RT_IO_CONNECTING) {
            rt_sess_kill(s);
            return;
        }
        lws_sul_schedule(c->ctx, 0, &s->sul_close, rt_sess_close_timeout_cb,
                         RT_CLOSE_WAIT_SECS * LWS_USEC_PER_SEC);
        if (lws_callback_on_writable(s->wsi) < 0)
            rt_sess_kill(s);
        return;
    }
    if (!s->wsi)
        return;
    if (resume && lws_rx_flow_control(s->wsi, 1) < 0) {
        rt_error_set(&s->ioerr, RT_ECLOSED, "cannot resume reading");
        rt_sess_kill(s);
        return;
    }
    if (has && s->state == RT_IO_READY && lws_callback_on_writable(s->wsi) < 0) {
        rt_error_set(&s->ioerr, RT_ECLOSED, "cannot schedule a write");
        rt_sess_kill(s);
    }
}

void rt_client_io_requests(struct rt_client *c)
{
    struct rt_session *pend, *s, *next, *rev = NULL;
    bool stopping;

    pthread_mutex_lock(&c->lock);
    pend = c->pending;
    c->pending = NULL;
    stopping = c->stopping;
    pthread_mutex_unlock(&c->lock);

    /* Pending sessions were pushed at the head; start them in creation order. */
    for (s = pend; s; s = next) {
        next = s->pending_next;
        s->pending_next = rev;
        rev = s;
    }
    if (stopping && !c->stop_seen) {
        c->stop_seen = true;
        for (s = rev; s; s = s->pending_next) {
            pthread_mutex_lock(&s->lock);
            if (!s->close_req) {
                s->close_req = true;
                s->closed = true;
                s->close_code = 1001;
                snprintf(s->close_reason, sizeof s->close_reason, "client freed");
            }
            pthread_mutex_unlock(&s->lock);
        }
        for (s = c->live; s; s = s->live_next) {
            pthread_mutex_lock(&s->lock);
            if (!s->close_req) {
                s->close_req = true;
                s->closed = true;
                s->close_code = 1001;
                snprintf(s->close_reason, sizeof s->close_reason, "client freed");
            }
            pthread_mutex_unlock(&s->lock);
        }
        lws_sul_schedule(c->ctx, 0, &c->sul_stop, rt_client_stop_timeout_cb,
                         RT_STOP_WAIT_SECS * LWS_USEC_PER_SEC);
    }
    for (s = rev; s; s = next) {
        next = s->pending_next;
        s->pending_next = NULL;
        s->live_next = c->live;
        c->live = s;
        rt_sess_connect(c, s);
    }
    for (s = c->live; s; s = next) {
        next = s->live_next;
        rt_sess_io_poll(c, s);
    }
    if (c->stop_seen && !c->live)
        c->exit_loop = true;
}

/* Writes the next frame: the setup message first, then the queue, then a requested
 * close once the queue is flushed. Returns -1 to make lws close the connection. */
static int rt_sess_writeable(struct rt_session *s, struct lws *wsi)
{
    bool more;
    size_t left, n;
    int flags, w;

    if (s->final_code) {
        lws_close_reason(wsi, (enum lws_close_status)s->final_code,
                         (unsigned char *)s->peer_reason, strlen(s->peer_reason));
        return -1;
    }
    if (s->close_acted) {
        /* Before READY nothing queued can go out; after it, flush the queue first. */
        bool flushed = s->state != RT_IO_READY;
        int code;
        char reason[RT_CLOSE_REASON_MAX + 1];

        pthread_mutex_lock(&s->lock);
        if (!flushed && !s->cur)
            flushed = rt_queue_empty(&s->sendq);
        code = s->close_code;
        memcpy(reason, s->close_reason, sizeof reason);
        pthread_mutex_unlock(&s->lock);
        if (flushed) {
            lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason,
                             strlen(reason));
            return -1;
        }
    } else if (s->recycle && !s->cur) {
        /* Leaving this connection to resume on a new one: the message being written is
         * finished first; what is still queued goes out after the resume. */
        static const char why[] = "resuming on a new connection";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)why, sizeof why - 1);
        return -1;
    }
    if (!s->cur) {
        if (s->setup) {
            s->cur = s->setup;
            s->setup = NULL;
            s->cur_setup = true;
        } else if (s->state == RT_IO_READY && !s->recycle) {
            pthread_mutex_lock(&s->lock);
            s->cur = rt_queue_pop(&s->sendq);
            pthread_mutex_unlock(&s->lock);
            if (!s->cur)
                return 0;
            s->cur_setup = false;
        } else {
            return 0;
        }
        s->cur_off = 0;
    }
    left = s->cur->len - s->cur_off;
    n = left < RT_TX_FRAGMENT ? left : RT_TX_FRAGMENT;
    flags = lws_write_ws_flags(LWS_WRITE_TEXT, s->cur_off == 0, n == left);
    /* For a later fragment the LWS_PRE bytes in front are already-sent payload, which lws
     * may overwrite with the frame header. */
    if (s->resume_on && !s->cur_setup) {
        /* Keep the message intact for a replay: lws masks what it writes in place. */
        if (!s->tx_scratch && !(s->tx_scratch = rt_malloc(RT_PRE + RT_TX_FRAGMENT))) {
            rt_error_set(&s->ioerr, RT_ENOMEM, "out of memory sending");
            return -1;
        }
        memcpy(s->tx_scratch + RT_PRE, rt_msg_data(s->cur) + s->cur_off, n);
        w = lws_write(wsi, s->tx_scratch + RT_PRE, n, (enum lws_write_protocol)flags);
    } else {
        w = lws_write(wsi, rt_msg_data(s->cur) + s->cur_off, n, (enum lws_write_protocol)flags);
    }
    if (w < 0 || (size_t)w < n) {
        rt_error_set(&s->ioerr, RT_ECLOSED, "connection lost while sending");
        return -1;
    }
    s->cur_off += n;
    if (s->cur_off == s->cur->len) {
        pthread_mutex_lock(&s->lock);
        s->stats.bytes_sent += s->cur->len;
        s->stats.messages_sent++;
        more = !rt_queue_empty(&s->sendq);
        if (s->resume_on && !s->cur_setup) {
            /* Kept, numbered, until a handle says the server consumed it. */
            if (rt_queue_empty(&s->replay))
                s->replay_first = s->tx_seq;
            s->cur->next = NULL;
            if (s->replay.tail)
                s->replay.tail->next = s->cur;
            else
                s->replay.head = s->cur;
            s->replay.tail = s->cur;
            s->replay.bytes += s->cur->len;
            s->replay.count++;
            s->cur = NULL;
        }
        if (!s->cur_setup)
            s->tx_seq++;
        pthread_mutex_unlock(&s->lock);
        rt_msg_free(s->cur);
        s->cur = NULL;
        s->cur_setup = false;
        more = (more && s->state == RT_IO_READY) || s->close_acted || s->recycle;
    } else {
        more = true;
    }
    if (more && lws_callback_on_writable(wsi) < 0) {
        rt_error_set(&s->ioerr, RT_ECLOSED, "cannot schedule a write");
        return -1;
    }
    return 0;
}

/* Closes with `code` because of a failure already recorded in ioerr. The close frame goes
 * out from the next WRITEABLE: returning -1 from RECEIVE in the middle of a frame makes
 * lws 4.1 write past its buffer. Until then the rest of the input is discarded. */
static int rt_sess_fail(struct rt_session *s, struct lws *wsi, int code, const char *reason)
{
    s->final_code = code;
    snprintf(s->peer_reason, sizeof s->peer_reason, "%s", reason);
    rt_reasm_free(&s->rx);
    lws_sul_schedule(s->io_client->ctx, 0, &s->sul_close, rt_sess_close_timeout_cb,
                     RT_CLOSE_WAIT_SECS * LWS_USEC_PER_SEC);
    if (lws_callback_on_writable(wsi) < 0)
        return -1;
    return 0;
}

static int rt_sess_receive(struct rt_session *s, struct lws *wsi, const void *in, size_t len)
{
    struct rt_event *ev, *rec = NULL;
    struct rt_scan sc;
    size_t n;
    bool pause = false, became_ready = false, resumed = false;
    int r;

    if (s->final_code)
        return 0; /* failing: the close is on its way */
    r = rt_reasm_feed(&s->rx, in, len, lws_is_first_fragment(wsi) != 0,
                      lws_is_final_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0, &s->ioerr);
    if (r < 0)
        return s->ioerr.code == RT_ENOMEM ? rt_sess_fail(s, wsi, 1011, "out of memory")
                                          : rt_sess_fail(s, wsi, 1009, "message too large");
    if (r == 0)
        return 0;
    ev = rt_reasm_take(&s->rx, &n);
    if (!ev) {
        rt_error_set(&s->ioerr, RT_ENOMEM, "out of memory receiving a message");
        return rt_sess_fail(s, wsi, 1011, "out of memory");
    }
    ev->next = NULL;
    ev->code = 0;
    ev->len = n;
    if (s->state == RT_IO_SETUP) {
        if (!memmem(ev->data, n, "\"setupComplete\"", 15)) {
            rt_error_set(&s->ioerr, RT_EPROTOCOL,
                         "first server message is not setupComplete: %.120s", ev->data);
            rt_free(ev);
            return rt_sess_fail(s, wsi, 1002, "expected setupComplete");
        }
        lws_sul_cancel(&s->sul_timeout);
        s->state = RT_IO_READY;
        ev->type = RT_EV_READY;
        became_ready = true;
        resumed = s->reconnecting;
        s->reconnecting = false;
        s->ever_ready = true;
    } else {
        ev->type = RT_EV_MESSAGE;
        /* The handle, goAway and turn boundaries are needed here, whenever the owner
         * reads its events. */
        if (s->resume_on && rt_scan_server(ev->data, n, &sc) == 0)
            rt_sess_track(s, &sc);
    }
    pthread_mutex_lock(&s->lock);
    if (became_ready) {
        s->conn_base = s->tx_seq;
        s->boundary = s->tx_seq;
        if (resumed) {
            /* The owner already had its ready event: this one is "reconnected". */
            rec = rt_sess_resumed_locked(s);
            rt_free(ev);
            ev = rec;
        }
        s->attempt = 0;
    }
    s->stats.bytes_received += n;
    s->stats.messages_received++;
    if (s->awaiting_audio && ev && ev->type == RT_EV_MESSAGE &&
        memmem(ev->data, n, "\"inlineData\"", 12)) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        s->stats.first_audio = (double)(now.tv_sec - s->turn_end.tv_sec) +
                               (double)(now.tv_nsec - s->turn_end.tv_nsec) / 1e9;
        s->awaiting_audio = false;
    }
    if (ev)
        rt_sess_push_locked(s, ev); /* ev belongs to the owner from here on */
    ev = NULL;
    if (!s->rx_paused && s->ev_bytes > RT_RX_PAUSE_BYTES) {
        s->rx_paused = true;
        pause = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (pause && lws_rx_flow_control(wsi, 0) < 0) {
        rt_error_set(&s->ioerr, RT_ECLOSED, "cannot pause reading");
        return -1;
    }
    if (became_ready) {
        /* Messages queued before READY, or a close asked for meanwhile, go out now. */
        bool has;
        pthread_mutex_lock(&s->lock);
        has = !rt_queue_empty(&s->sendq);
        pthread_mutex_unlock(&s->lock);
        if ((has || s->close_acted) && lws_callback_on_writable(wsi) < 0)
            return -1;
    }
    return 0;
}

int rt_session_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len)
{
    struct rt_session *s = user;
    struct rt_client *c;
    size_t i;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        c = lws_context_user(lws_get_context(wsi));
        if (c)
            rt_client_io_requests(c);
        return 0;

    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* Here `user` is the X509_STORE_CTX and len is OpenSSL's preverify_ok. */
        s = lws_wsi_user(wsi);
        if (s && !len && !s->tls_problem[0]) {
            X509_STORE_CTX *x = user;
            int e = X509_STORE_CTX_get_error(x);
            snprintf(s->tls_problem, sizeof s->tls_problem, "%s (depth %d)",
                     X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(x));
        }
        return 0;

    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end;
        if (!s || !p || !*p)
            return 0;
        end = *p + len;
        if (s->auth && !s->auth_value)
            rt_sess_fresh_auth(s);   /* first connection: only a token that is ready */
        if (s->auth_value &&
            lws_add_http_header_by_name(wsi, (const unsigned char *)"authorization:",
                                        (const unsigned char *)s->auth_value,
                                        (int)strlen(s->auth_value), p, end)) {
            rt_error_set(&s->ioerr, RT_EHANDSHAKE,
                         "handshake headers do not fit (%zu bytes free)", len);
            return -1;
        }
        for (i = 0; i < s->nheaders; i++) {
            const char *v = s->headers[i].value;
            if (s->auth_value && strcasecmp(s->headers[i].name, "authorization:") == 0)
                continue;   /* replaced by the fresh token above */
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)s->headers[i].name,
                                            (const unsigned char *)v, (int)strlen(v), p, end)) {
                rt_error_set(&s->ioerr, RT_EHANDSHAKE,
                             "handshake headers do not fit (%zu bytes free)", len);
                return -1;
            }
        }
        return 0;
    }

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s)
            rt_sess_conn_error(s, wsi, in ? (const char *)in : NULL);
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!s)
            return 0;
        s->wsi = wsi;
        s->state = RT_IO_SETUP;
        s->last_valid = rt_now();
        if (lws_callback_on_writable(wsi) < 0)
            return -1;
        return 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return s ? rt_sess_writeable(s, wsi) : 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        return s ? rt_sess_receive(s, wsi, in, len) : 0;

    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (s)
            s->last_valid = rt_now();
        return 0;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (!s)
            return 0;
        s->peer_closed = true;
        if (len >= 2) {
            const unsigned char *b = in;
            size_t rl = len - 2 > RT_CLOSE_REASON_MAX ? RT_CLOSE_REASON_MAX : len - 2;
            s->peer_code = b[0] << 8 | b[1];
            memcpy(s->peer_reason, b + 2, rl);
            s->peer_reason[rl] = '\0';
        } else {
            s->peer_code = 1005;
            s->peer_reason[0] = '\0';
        }
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        if (s && s->state != RT_IO_DONE && s->state != RT_IO_WAIT) {
            s->wsi = NULL;
            rt_sess_lost(s->io_client, s);
        }
        return 0;

    default:
        return 0;
    }
}
