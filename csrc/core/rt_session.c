/* Sessions: the owner-side API (any thread but the I/O thread).
 *
 * Nothing here waits for the I/O thread or takes a lock it takes. Sends
 * (rt_session_send.c) build their frames' text on the caller's thread and push it on
 * the session's intake; the I/O thread is woken only when it may not know yet (the
 * session was not on its ready list).
 * Events come back through the session's event queue (rt_event.h). */
#include "rt_client_private.h"
#include "rt_session_private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rt_alloc.h"
#include "rt_auth.h"
#include "rt_conn.h"
#include "rt_endpoint.h"
#include "rt_url.h"
#include "rt_utf8.h"
#include "rt_wire.h"

#define RT_DEFAULT_TIMEOUT 15.0
#define RT_DEFAULT_CLOSE_TIMEOUT 5.0
#define RT_DEFAULT_QUEUE_BYTES ((size_t)10 << 20)
#define RT_DEFAULT_RECEIVE_BYTES ((size_t)16 << 20)
#define RT_DEFAULT_MESSAGE_BYTES ((size_t)16 << 20)
#define RT_DEFAULT_AUDIO_MIME "audio/pcm;rate=16000"


long long rt_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ==================================================================== *
 *  L I F E T I M E
 * ==================================================================== */

static void rt_sess_destroy(struct rt_session *s)
{
    rt_evq_destroy(&s->events);
    pthread_mutex_destroy(&s->turn_lock);
    pthread_mutex_destroy(&s->pub_lock);
    rt_free(s->pub);
    rt_msg_free_chain(rt_container_of(rt_mpsc_take(&s->intake), struct rt_msg, link));
    rt_queue_clear(&s->sendq);
    rt_queue_clear(&s->replay);
    rt_ws_rx_free(&s->rx);
    rt_buf_free(&s->rx_stash);
    if (s->up) {
        rt_buf_free(&s->up->hs);
        rt_free(s->up);
    }
    rt_free(s->handle);
    rt_conn_calls_free(s);
    rt_conn_gate_free(s);
    rt_free(s->lost_reason);
    rt_free(s->close_reason);
    rt_free(s->pong);
    rt_free(s->notes);
    rt_free(s->addrs);
    rt_conn_free_answers(atomic_exchange(&s->looked_up, NULL));
    rt_tls_free(&s->tls);
    rt_msg_free(s->setup);
    rt_msg_free(s->cur);
    rt_event_free(s->ev_error);
    rt_event_free(s->ev_closed);
    if (s->strings) {
        memset(s->strings, 0, s->strings_len);     /* header values may be secrets */
        rt_free(s->strings);
    }
    if (s->auth_value) {
        memset(s->auth_value, 0, strlen(s->auth_value));
        rt_free(s->auth_value);
    }
    rt_auth_free(s->auth);
    if (s->client)
        rt_client_release(s->client);
    rt_free(s);
}

void rt_session_unref(struct rt_session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) == 1)
        rt_sess_destroy(s);
}

/* The parts of a ws:// or wss:// URL, pointing into it. */
struct rt_url {
    bool tls;
    int port;
    const char *host;            /* IPv6 without brackets */
    size_t host_len;
    const char *path;            /* path and query, without the fragment; may lack the '/' */
    size_t path_len;
};

/* Splits a ws:// or wss:// URL into its parts: printable ASCII (percent-encoding is the
 * caller's), no user information, the authority as rt_url_authority takes it. 0, or -1
 * with RT_EINVAL. */
static int rt_sess_parse_url(const char *url, struct rt_url *u, struct rt_error *err)
{
    const char *p, *auth, *why;
    struct rt_url_authority a;
    size_t n = strlen(url);

    /* its path would go out in a request line the server refuses (414) */
    if (n > RT_URL_MAX) {
        rt_error_set(err, RT_EINVAL, "url: %zu bytes, more than the %d an upgrade request "
                     "line may carry", n, RT_URL_MAX);
        return -1;
    }
    for (p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            rt_error_set(err, RT_EINVAL, "url contains a space or control character");
            return -1;
        }
        if ((unsigned char)*p >= 0x80) {
            rt_error_set(err, RT_EINVAL, "url contains a byte outside ASCII (percent-encode it)");
            return -1;
        }
    }
    if (strncasecmp(url, "wss://", 6) == 0) {
        u->tls = true;
        auth = url + 6;
    } else if (strncasecmp(url, "ws://", 5) == 0) {
        u->tls = false;
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
    if ((why = rt_url_authority(auth, (size_t)(p - auth), &a))) {
        rt_error_set(err, RT_EINVAL, "url %s", why);
        return -1;
    }
    u->host = a.host;
    u->host_len = a.host_len;
    u->port = a.port ? a.port : u->tls ? 443 : 80;
    u->path = p;
    u->path_len = strcspn(p, "#");           /* a fragment is never sent */
    return 0;
}

/* Copies n bytes of src and a NUL to *at, which moves past them; returns the copy. */
static char *rt_sess_put(char **at, const char *src, size_t n)
{
    char *d = *at;

    memcpy(d, src, n);
    d[n] = '\0';
    *at += n + 1;
    return d;
}

/* Writes the Host header for u into out (size n, or NULL to measure); its length. */
static size_t rt_sess_host_header(const struct rt_url *u, char *out, size_t n)
{
    bool v6 = memchr(u->host, ':', u->host_len) != NULL;
    int hl = (int)u->host_len;

    if (u->port == (u->tls ? 443 : 80))
        return (size_t)snprintf(out, n, v6 ? "[%.*s]" : "%.*s", hl, u->host);
    return (size_t)snprintf(out, n, v6 ? "[%.*s]:%d" : "%.*s:%d", hl, u->host, u->port);
}

/* The session's strings and header array in one block (s->strings): a session holds
 * them for its whole life, and one allocation costs less than a dozen small ones. */
static int rt_sess_copy_strings(struct rt_session *s, const struct rt_url *u,
                                const struct rt_session_options *o, struct rt_error *err)
{
    const char *mime = o->audio_mime ? o->audio_mime : RT_DEFAULT_AUDIO_MIME;
    bool slash = u->path_len && u->path[0] == '/';
    size_t i, hh = rt_sess_host_header(u, NULL, 0);
    size_t len = o->nheaders * sizeof *s->headers + u->host_len + 1 + hh + 1 +
                 u->path_len + (slash ? 1 : 2) + strlen(mime) + 1 +
                 (s->resume_on ? o->setup_len + 1 : 0);
    char *at;

    if (rt_headers_check(o->headers, o->nheaders, RT_SESSION_HEADERS_MAX, err))
        return -1;
    for (i = 0; i < o->nheaders; i++)        /* the strings and their NULs */
        len += strlen(o->headers[i].name) + strlen(o->headers[i].value) + 2;
    if (!(s->strings = rt_malloc(len))) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a session");
        return -1;
    }
    s->strings_len = len;
    /* the array first: malloc aligned the block for it */
    s->headers = (struct rt_ws_header *)(void *)s->strings;
    s->nheaders = o->nheaders;
    at = s->strings + o->nheaders * sizeof *s->headers;
    for (i = 0; i < o->nheaders; i++) {
        s->headers[i].name = rt_sess_put(&at, o->headers[i].name, strlen(o->headers[i].name));
        s->headers[i].value = rt_sess_put(&at, o->headers[i].value, strlen(o->headers[i].value));
    }
    s->host = rt_sess_put(&at, u->host, u->host_len);
    s->host_header = at;
    at += rt_sess_host_header(u, at, hh + 1) + 1;
    if (!slash)
        *at++ = '/';
    s->path = rt_sess_put(&at, u->path, u->path_len) - (slash ? 0 : 1);
    s->audio_mime_len = strlen(mime);
    s->audio_mime = rt_sess_put(&at, mime, s->audio_mime_len);
    if (s->resume_on)
        s->setup_tmpl = rt_sess_put(&at, o->setup, o->setup_len);
    return 0;
}

/* Checks the numeric options; 0 or -1 with RT_EINVAL. */
static int rt_sess_check_options(const struct rt_session_options *o, struct rt_error *err)
{
    if (!o->setup || !o->setup_len) {
        rt_error_set(err, RT_EINVAL, "the setup message is required");
        return -1;
    }
    if (!(o->timeout >= 0 && o->timeout <= 86400)) {
        rt_error_set(err, RT_EINVAL, "timeout must be between 0 and 86400 seconds");
        return -1;
    }
    if (!(o->close_timeout >= 0 && o->close_timeout <= 3600)) {
        rt_error_set(err, RT_EINVAL, "close_timeout must be between 0 and 3600 seconds");
        return -1;
    }
    if (o->audio_mime && (!*o->audio_mime || !rt_wire_mime_ok(o->audio_mime))) {
        rt_error_set(err, RT_EINVAL, "audio_mime is empty or needs JSON escaping");
        return -1;
    }
    return 0;
}

struct rt_session *rt_session_new(struct rt_client *c, const struct rt_session_options *o,
                                  struct rt_error *err)
{
    struct rt_session *s;
    struct rt_url u;

    rt_error_clear(err);
    if (!c || !o || !o->url) {
        rt_error_set(err, RT_EINVAL, "a client and a url are required");
        return NULL;
    }
    if (rt_fork_check(&c->born, "a client", err))
        return NULL;
    if (rt_sess_check_options(o, err))
        return NULL;
    s = rt_calloc(1, sizeof *s);
    if (!s) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a session");
        return NULL;
    }
    if (rt_evq_init(&s->events, err)) {
        rt_free(s);
        return NULL;
    }
    if (pthread_mutex_init(&s->turn_lock, NULL) != 0) {
        rt_evq_destroy(&s->events);
        rt_free(s);
        rt_error_set(err, RT_ENOMEM, "cannot create a session's lock");
        return NULL;
    }
    if (pthread_mutex_init(&s->pub_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->turn_lock);
        rt_evq_destroy(&s->events);
        rt_free(s);
        rt_error_set(err, RT_ENOMEM, "cannot create a session's lock");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->born = c->born;
    rt_mpsc_init(&s->intake);
    atomic_init(&s->stats.first_audio_ns, -1);
    rt_queue_init(&s->sendq);
    rt_queue_init(&s->replay);
    s->behind_from = UINT64_MAX;
    rt_buf_init(&s->rx_stash);
    s->timeout = o->timeout > 0 ? o->timeout : RT_DEFAULT_TIMEOUT;
    s->close_timeout = o->close_timeout > 0 ? o->close_timeout : RT_DEFAULT_CLOSE_TIMEOUT;
    s->max_queue = o->max_queue_bytes ? o->max_queue_bytes : RT_DEFAULT_QUEUE_BYTES;
    s->max_receive = o->max_receive_bytes ? o->max_receive_bytes : RT_DEFAULT_RECEIVE_BYTES;
    s->max_message = o->max_message_bytes ? o->max_message_bytes : RT_DEFAULT_MESSAGE_BYTES;
    rt_ws_rx_init(&s->rx, offsetof(struct rt_event, data), s->max_message);
    s->manual_activity = o->manual_activity;
    s->initial_expected = o->initial_history;
    s->audio_stream_end = o->audio_stream_end;
    s->state = RT_CS_NEW;

    if (rt_sess_parse_url(o->url, &u, err))
        goto fail;
    s->use_tls = u.tls;
    s->port = u.port;
    if (o->resumption) {
        if (!o->setup ||
            !rt_resume_find(o->setup, o->setup_len, &s->resume_at, &s->resume_empty)) {
            rt_error_set(err, RT_EINVAL, "option 'resumption': the setup holds no "
                         "\"sessionResumption\" object to write the handle into");
            goto fail;
        }
        s->resume_on = true;
        s->setup_len = o->setup_len;
    }
    if (rt_sess_copy_strings(s, &u, o, err))
        goto fail;
    if (!o->no_call_hold && rt_gate_setup(o->setup, o->setup_len, &s->gate_watch, &s->gate_nb))
        goto nomem;
    if (s->resume_on && !s->resume_empty) {
        const char *h;
        size_t hl;

        /* Started from a saved handle: it is the one to resume with until the server
         * gives a newer one, so a drop before that still resumes. */
        if (rt_resume_saved_handle(o->setup, o->setup_len, s->resume_at, &h, &hl)) {
            if (!(s->handle = rt_strndup(h, hl)))
                goto nomem;
            s->handle_len = hl;
            s->from_saved = true;
            /* the owner's at first: nothing is sent yet, so it holds all of it */
            rt_session_publish(s, h, hl, true, 0);
        }
    }
    if (o->auth)
        s->auth = rt_auth_retain(o->auth);
    s->setup = rt_msg_copy(o->setup, o->setup_len);
    s->ev_error = rt_event_new(RT_EV_ERROR, 0, RT_SPARE_ERROR_MAX, NULL, 0);
    s->ev_closed = rt_event_new(RT_EV_CLOSED, 1006, RT_SPARE_CLOSED_MAX, NULL, 0);
    if (!s->setup || !s->ev_error || !s->ev_closed)
        goto nomem;

    if (atomic_load(&c->stopping)) {
        rt_error_set(err, RT_ECLOSED, "the client is being freed");
        goto fail;
    }
    if (atomic_fetch_add(&c->sessions, 1) >= c->max_sessions) {
        atomic_fetch_sub(&c->sessions, 1);
        rt_error_set(err, RT_EBUSY, "the client already holds max_sessions (%d) sessions",
                     c->max_sessions);
        goto fail;
    }
    rt_client_retain(c);
    s->client = c;
    atomic_store(&s->refs, 2);       /* the owner's and the I/O thread's */
    rt_client_schedule(c, s, RT_REQ_START);
    return s;
nomem:
    rt_error_set(err, RT_ENOMEM, "out of memory creating a session");
fail:
    rt_sess_destroy(s);
    return NULL;
}

void rt_session_set_close(struct rt_session *s, int code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    s->close_code = rt_ws_close_code_ok(code) ? code : 1000;
    if (n > RT_WS_REASON_MAX)
        n = RT_WS_REASON_MAX;
    n = n ? rt_utf8_valid_prefix(reason, n) : 0;   /* never cut a character in half */
    rt_free(s->close_reason);
    s->close_reason = n ? rt_strndup(reason, n) : NULL;
}

void rt_session_close(struct rt_session *s, int code, const char *reason)
{
    if (!s || rt_fork_inherited(&s->born) || atomic_exchange(&s->closed, true))
        return;
    rt_session_set_close(s, code, reason);
    rt_client_count_closing(s->client, s);
    rt_client_schedule(s->client, s, RT_REQ_CLOSE);
}

void rt_session_free(struct rt_session *s)
{
    if (!s)
        return;
    /* A parent's copy in a child of a fork: the I/O thread that holds the other reference
     * is not here, and what it would close is the parent's. It is abandoned. */
    if (rt_fork_inherited(&s->born))
        return;
    rt_session_close(s, 1000, NULL);
    rt_session_unref(s);
}

/* ==================================================================== *
 *  E V E N T S ,   S T A T S
 * ==================================================================== */

/* The events of a parent's copy in a child of a fork (rt_fork.h): an error that says
 * so, then closed, then none. Its queue and descriptor are the parent's and are never
 * touched. NULL also when memory runs out (the next call tries again). */
static struct rt_event *rt_sess_forked_event(struct rt_session *s)
{
    static const char reason[] = "made before fork()";
    int told = atomic_load(&s->fork_told);
    struct rt_error e;
    struct rt_event *ev;

    while (told < 2) {
        if (told == 0) {
            rt_error_clear(&e);
            rt_fork_refuse(&s->born, "a session", &e);
            ev = rt_event_new(RT_EV_ERROR, e.code, strlen(e.msg), e.msg, strlen(e.msg));
        } else {
            ev = rt_event_new(RT_EV_CLOSED, 1006, sizeof reason - 1, reason, sizeof reason - 1);
        }
        if (!ev)
            return NULL;
        if (atomic_compare_exchange_strong(&s->fork_told, &told, told + 1))
            return ev;
        rt_event_free(ev);      /* another thread handed that one out */
    }
    return NULL;
}

static struct rt_event *rt_sess_pop(struct rt_session *s, bool clear)
{
    size_t left;
    struct rt_event *ev;

    if (!s)
        return NULL;
    if (rt_fork_inherited(&s->born))     /* before the queue's lock */
        return rt_sess_forked_event(s);
    ev = rt_evq_pop(&s->events, &left, clear);

    /* Reading paused because events piled up: resume once half of them are read. */
    if (atomic_load(&s->rx_paused) && left <= s->max_receive / 2)
        rt_client_schedule(s->client, s, RT_REQ_RESUME_RX);
    return ev;
}

struct rt_event *rt_session_next_event(struct rt_session *s)
{
    return rt_sess_pop(s, true);
}

struct rt_event *rt_session_poll_event(struct rt_session *s)
{
    return rt_sess_pop(s, false);
}

int rt_session_tell(struct rt_session *s, enum rt_code code, const char *text, size_t len,
                    struct rt_error *err)
{
    struct rt_event *ev;
    int rc = 0;

    rt_error_clear(err);
    if (!s) {
        rt_error_set(err, RT_EINVAL, "session is NULL");
        return -1;
    }
    if (!text && len) {
        rt_error_set(err, RT_EINVAL, "text is NULL but len is %zu", len);
        return -1;
    }
    if (code <= RT_OK || code > RT_EINVAL) {
        rt_error_set(err, RT_EINVAL, "code %d is not an error code", (int)code);
        return -1;
    }
    if (rt_fork_check(&s->born, "a session", err))
        return -1;
    if (!(ev = rt_event_new(RT_EV_ERROR, (int)code, len, text, len))) {
        rt_error_set(err, RT_ENOMEM, "out of memory queuing a %zu-byte error event", len);
        return -1;
    }
    /* Busy before the look, so that the end, which sets `ended` and then waits for no
     * call to be busy, either finds this event queued or is seen here to have come. */
    atomic_fetch_add(&s->telling, 1);
    if (atomic_load(&s->ended)) {
        rt_error_set(err, RT_ECLOSED, "the session has ended: its closed event is the last");
        rt_event_free(ev);
        rc = -1;
    } else {
        rt_evq_push(&s->events, ev);
    }
    atomic_fetch_sub(&s->telling, 1);
    return rc;
}

int rt_session_fd(const struct rt_session *s)
{
    return s ? s->events.sig.fd : -1;
}

int rt_session_pending(struct rt_session *s)
{
    if (!s)
        return 0;
    if (rt_fork_inherited(&s->born))
        return atomic_load(&s->fork_told) < 2;
    return rt_evq_any(&s->events);
}

int rt_session_is_closed(struct rt_session *s)
{
    return !s || rt_fork_inherited(&s->born) || atomic_load(&s->closed);
}

int rt_session_is_ended(struct rt_session *s)
{
    return !s || rt_fork_inherited(&s->born) || atomic_load(&s->ended);
}

int rt_session_wait(struct rt_session *s, double timeout)
{
    if (!s)                              /* nothing will come: no wait, even unbounded */
        return 0;
    if (rt_fork_inherited(&s->born))     /* never waits: nothing will come */
        return atomic_load(&s->fork_told) < 2;
    for (;;) {
        /* Looked at before the queue: done then means its closed event was pushed, so an
         * empty queue will stay empty (another reader, or this one, took everything). */
        bool done = rt_evq_done(&s->events);
        int r;

        if (rt_evq_arm(&s->events))
            return 1;
        if (done)
            return 0;
        r = rt_signal_wait(&s->events.sig, timeout);
        /* Woken by the end: look again, once (done is set now), so that a closed event
         * another reader took answers 0 rather than a ready with nothing there. */
        if (r != 1 || !rt_evq_done(&s->events))
            return r;
    }
}

void rt_session_stats(struct rt_session *s, struct rt_stats *out)
{
    long long fa;

    if (!out)
        return;
    memset(out, 0, sizeof *out);
    out->first_audio = -1;
    if (!s)
        return;
    fa = atomic_load(&s->stats.first_audio_ns);
    out->bytes_sent = atomic_load(&s->stats.bytes_sent);
    out->bytes_received = atomic_load(&s->stats.bytes_received);
    out->messages_sent = atomic_load(&s->stats.messages_sent);
    out->messages_received = atomic_load(&s->stats.messages_received);
    out->reconnects = atomic_load(&s->stats.reconnects);
    out->resent = atomic_load(&s->stats.resent);
    out->replay_dropped = atomic_load(&s->stats.replay_dropped);
    out->queued_bytes = atomic_load(&s->tx_bytes) + atomic_load(&s->stats.replay_bytes);
    out->received_bytes = atomic_load(&s->events.bytes);
    out->rx_pauses = atomic_load(&s->stats.rx_pauses);
    out->first_audio = fa < 0 ? -1 : (double)fa / 1e9;
}
