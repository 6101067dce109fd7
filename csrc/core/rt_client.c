/* The client: the lws context, the I/O thread, the ready list and the shutdown.
 *
 * The context is created on the caller's thread before the I/O thread starts; from then
 * on only the I/O thread touches it (lws_service, callbacks, and its destruction on the
 * way out), apart from lws_cancel_service through rt_client_wake. */
#include "rt_client_private.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_alloc.h"
#include "rt_file.h"
#include "rt_thread.h"
#include "rt_lws_log.h"
#include "rt_session_private.h"

/* pt_serv_buf_size is lws's per-thread read buffer: each read from a socket takes up
 * to this much. */
#define RT_SERV_BUF_SIZE 65536
#define RT_MAX_SESSIONS_DEFAULT 1024
#define RT_FD_SPARE 16
/* Seconds rt_client_free waits beyond the sessions' own close bounds. */
#define RT_STOP_SLACK 1
#define RT_TLS13_SUITES \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* ==================================================================== *
 *  H A N D - O F F
 * ==================================================================== */

void rt_client_retain(struct rt_client *c)
{
    atomic_fetch_add(&c->refs, 1);
}

static void rt_client_destroy(struct rt_client *c)
{
    rt_free(c->ca_file);
    rt_free(c);
}

void rt_client_release(struct rt_client *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        rt_client_destroy(c);
}

void rt_client_wake(struct rt_client *c)
{
    /* Paired with the I/O thread's store of `dead` and its wait for wakers == 0: either
     * this thread sees dead, or the I/O thread sees it inside and waits. */
    atomic_fetch_add(&c->wakers, 1);
    if (!atomic_load(&c->dead))
        lws_cancel_service(c->ctx);
    atomic_fetch_sub(&c->wakers, 1);
}

void rt_client_schedule(struct rt_client *c, struct rt_session *s, unsigned bits)
{
    atomic_fetch_or(&s->req, bits);
    if (atomic_exchange(&s->scheduled, true))
        return;                      /* already on the list: the I/O thread will see bits */
    /* Inside the wakers count, so the I/O thread's last look at the list (after it saw
     * wakers at 0) cannot miss this push; once the context is gone nothing is pushed. */
    atomic_fetch_add(&c->wakers, 1);
    if (!atomic_load(&c->dead)) {
        atomic_fetch_add(&s->refs, 1);   /* the list's reference, dropped once serviced */
        if (rt_mpsc_push(&c->ready, &s->ready_link))
            lws_cancel_service(c->ctx);
    }
    atomic_fetch_sub(&c->wakers, 1);
}

/* I/O thread: services every session on the ready list. */
static void rt_client_take_ready(struct rt_client *c)
{
    struct rt_link *l = rt_mpsc_take(&c->ready), *next;

    for (; l; l = next) {
        struct rt_session *s = rt_container_of(l, struct rt_session, ready_link);
        next = l->next;
        /* Cleared before servicing: a request made meanwhile schedules it again. */
        atomic_store(&s->scheduled, false);
        rt_conn_service(s);
        rt_session_unref(s);
    }
}

void rt_client_link(struct rt_client *c, struct rt_session *s)
{
    s->live_prev = NULL;
    s->live_next = c->live;
    if (c->live)
        c->live->live_prev = s;
    c->live = s;
}

void rt_client_unlink(struct rt_client *c, struct rt_session *s)
{
    if (s->live_prev)
        s->live_prev->live_next = s->live_next;
    else if (c->live == s)
        c->live = s->live_next;
    if (s->live_next)
        s->live_next->live_prev = s->live_prev;
    s->live_prev = s->live_next = NULL;
}

void rt_client_session_done(struct rt_client *c, struct rt_session *s)
{
    atomic_fetch_sub(&c->sessions, 1);
    /* after the place is free: a host that reads 0 finds that place free */
    if (atomic_exchange(&s->closing_mark, RT_CLOSING_ENDED) == RT_CLOSING_COUNTED)
        atomic_fetch_sub(&c->closing, 1);
}

void rt_client_count_closing(struct rt_client *c, struct rt_session *s)
{
    int none = RT_CLOSING_NONE;

    /* counted first, then marked: a count that runs ahead for an instant, never one
     * that misses a session still holding its place */
    atomic_fetch_add(&c->closing, 1);
    if (!atomic_compare_exchange_strong(&s->closing_mark, &none, RT_CLOSING_COUNTED))
        atomic_fetch_sub(&c->closing, 1);      /* it ended meanwhile */
}

/* ==================================================================== *
 *  T H E   I / O   T H R E A D
 * ==================================================================== */

/* The service loop ends after this lws_service call. lws runs ripe timers before it
 * polls, in the same call: a flag set from one would wait out the poll (until the next
 * timer, the stop bound: client:close() took close_timeout + 1 s), so the poll is woken. */
void rt_client_leave_loop(struct rt_client *c)
{
    c->exit_loop = true;
    lws_cancel_service(c->ctx);
}

static void rt_client_stop_timeout_cb(lws_sorted_usec_list_t *sul)
{
    rt_client_leave_loop(lws_container_of(sul, struct rt_client, sul_stop));
}

/* rt_client_free was called: close every session, then leave once they are done or
 * their close bounds have passed. */
static void rt_client_stop(struct rt_client *c)
{
    struct rt_session *s, *next;
    double bound = 0;

    c->stop_seen = true;
    for (s = c->live; s; s = next) {
        next = s->live_next;
        if (s->close_timeout > bound)
            bound = s->close_timeout;
        /* A session its owner is closing gets that close; the others this one. */
        if (!atomic_exchange(&s->closed, true)) {
            rt_session_set_close(s, 1001, "client freed");
            atomic_fetch_or(&s->req, RT_REQ_CLOSE);
            rt_conn_service(s);
        }
    }
    if (!c->live)
        rt_client_leave_loop(c);
    else
        rt_loop_timer(&c->loop, &c->sul_stop, rt_client_stop_timeout_cb,
                      (lws_usec_t)((bound + RT_STOP_SLACK) * (double)LWS_USEC_PER_SEC));
}

/* EVENT_WAIT_CANCELLED: someone called rt_client_wake. */
static int rt_client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                              void *in, size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        struct rt_client *c = lws_context_user(lws_get_context(wsi));
        if (c) {
            if (atomic_load(&c->stopping) && !c->stop_seen)
                rt_client_stop(c);
            /* the sessions left end as the thread leaves (rt_conn_abort) */
            if (atomic_load(&c->cut))
                rt_client_leave_loop(c);
            rt_client_take_ready(c);
        }
        return 0;
    }
    return rt_conn_lws_callback(wsi, reason, user, in, len);
}

static void *rt_client_thread(void *arg)
{
    struct rt_client *c = arg;

    while (!c->exit_loop) {
        if (rt_loop_run(&c->loop) < 0)
            break;
    }
    /* No other thread may wake the context from here on. */
    atomic_store(&c->dead, true);
    while (atomic_load(&c->wakers))
        sched_yield();
    lws_sul_cancel(&c->sul_stop);
    /* Sessions left (close bounds passed) end now; destroying the context then closes
     * what sockets remain. */
    while (c->live)
        rt_conn_abort(c->live);
    lws_context_destroy(c->ctx);
    c->ctx = NULL;
    rt_loop_free(&c->loop);
    /* Requests that came after the last service (their sessions are finished). */
    rt_client_take_ready(c);
    /* The last touch of c on this thread: the owner may join and free once it sees it. */
    rt_signal_raise(&c->stopped);
    return NULL;
}

/* ==================================================================== *
 *  C O N S T R U C T I O N
 * ==================================================================== */

/* Test hook: RT_TEST_PING_SECS="<interval>:<timeout>" replaces every client's keepalive
 * below the 30 s minimum, so tests see a dead peer found in seconds
 * (spec/session_faults_spec.lua). Not for production use. */
static void rt_client_test_pings(struct rt_client *c)
{
    const char *v = getenv("RT_TEST_PING_SECS");
    int interval, timeout;

    if (v && sscanf(v, "%d:%d", &interval, &timeout) == 2 && interval >= 1 &&
        interval <= 3600 && timeout >= 1 && timeout <= 3600) {
        c->ping_interval = interval;
        c->ping_timeout = timeout;
    }
}

/* The errno behind an OpenSSL failure to read a file (its fopen's, recorded as an
 * ERR_LIB_SYS error), else errno; empties OpenSSL's error queue. */
static int rt_client_tls_errno(int saved)
{
    unsigned long e;
    int no = 0;

    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_LIB(e) == ERR_LIB_SYS)
            no = ERR_GET_REASON(e);
    return no ? no : saved;
}

/* The TLS settings of the client's connections (rt_tls.c runs the sessions): the peer is
 * verified against ca_file when given, else the system store; rt_tls checks the name. */
SSL_CTX *rt_client_tls_new(const char *ca_file, struct rt_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        rt_error_set(err, RT_ENOMEM, "cannot create the TLS context");
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        goto fail;
    /* TLS 1.3 suites in the order browsers offer them: AES-128-GCM first. OpenSSL's default
     * offers AES-256-GCM first (14 AES rounds per block instead of 10); a server that
     * follows the client's order would spend that on every byte of audio. */
    if (SSL_CTX_set_ciphersuites(ctx, RT_TLS13_SUITES) != 1)
        goto fail;
    if (ca_file) {
        errno = 0;
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            /* a file that cannot be opened for want of descriptors is no TLS fault */
            int no = rt_client_tls_errno(errno);
            char sp[RT_FILE_SHOWN_MAX];
            SSL_CTX_free(ctx);
            ERR_clear_error();
            if (no == EMFILE || no == ENFILE)
                rt_error_set(err, RT_ECONNECT, "cannot open ca_file %s: %s",
                             rt_file_shown(sp, ca_file), strerror(no));
            else
                rt_error_set(err, RT_ETLS, "cannot load CA certificates from ca_file %s",
                             rt_file_shown(sp, ca_file));
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* An idle connection holds no TLS record buffers (about 33 KB each). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* It copies the TLS 1.3 traffic secrets so that a connection can leave OpenSSL after
     * the handshake (rt_tls_record.h); it logs nothing. */
    SSL_CTX_set_keylog_callback(ctx, rt_tls_keylog);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    rt_error_set(err, RT_ETLS, "cannot set up the TLS context");
    return NULL;
}

static void rt_client_free_parts(struct rt_client *c)
{
    rt_signal_destroy(&c->stopped);
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    rt_resolver_free(c->resolver);
    rt_free(c->txbuf);
    rt_free(c->rxbuf);
    rt_free(c->tlsbuf);
    c->tlsbuf = NULL;
    c->ssl_ctx = NULL;
    c->resolver = NULL;
    c->txbuf = c->rxbuf = NULL;
}

struct rt_client *rt_client_new(const struct rt_client_options *o, struct rt_error *err)
{
    static const struct rt_client_options defaults;
    struct lws_context_creation_info info;
    struct rt_client *c;
    int rc;

    rt_error_clear(err);
    if (!o)
        o = &defaults;
    if (o->max_sessions < 0 || o->max_sessions > 1000000) {
        rt_error_set(err, RT_EINVAL, "max_sessions must be 0 (the default, 1024) or 1..1000000");
        return NULL;
    }
    if (o->ping_interval < 0 || o->ping_timeout < 0 || o->ping_interval > 3600 ||
        o->ping_timeout > 3600) {
        rt_error_set(err, RT_EINVAL, "ping_interval and ping_timeout must be 0..3600 seconds");
        return NULL;
    }
    if (o->event_loop < RT_EVENT_LOOP_AUTO || o->event_loop > RT_EVENT_LOOP_EPOLL) {
        rt_error_set(err, RT_EINVAL, "event_loop must be auto, poll or epoll");
        return NULL;
    }
    if (o->ca_file && rt_file_check(o->ca_file, "ca_file", RT_ETLS, err) != 0)
        return NULL;
    c = rt_calloc(1, sizeof *c);
    if (!c) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a client");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->stopped.fd = -1;              /* not a descriptor to close until it is made */
    rt_fork_stamp(&c->born);
    rt_mpsc_init(&c->ready);
    c->max_sessions = o->max_sessions ? o->max_sessions : RT_MAX_SESSIONS_DEFAULT;
    c->ping_interval = o->ping_interval ? o->ping_interval : 20;
    c->ping_timeout = o->ping_timeout ? o->ping_timeout : 45;
    if (c->ping_timeout < 30)
        c->ping_timeout = 30;
    rt_client_test_pings(c);
    if ((o->ca_file && !(c->ca_file = rt_strdup(o->ca_file))) ||
        !(c->resolver = rt_resolver_new()) ||
        !(c->txbuf = rt_malloc(LWS_PRE + RT_TX_CHUNK + 64)) ||
        !(c->rxbuf = rt_malloc(RT_RX_CHUNK)) ||
        !(c->tlsbuf = rt_malloc(LWS_PRE + RT_TLS_CHUNK))) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a client");
        goto fail;
    }
    c->ssl_ctx = rt_client_tls_new(c->ca_file, err);
    if (!c->ssl_ctx)
        goto fail;
    if (rt_signal_init(&c->stopped, err) != 0)
        goto fail;

    c->protocols[0].name = "realtime";
    c->protocols[0].callback = rt_client_callback;
    /* Raw sockets: every read delivers what the socket had, up to pt_serv_buf_size; no
     * per-connection receive buffer. Writes go out whole (tx_packet_size). */
    c->protocols[0].rx_buffer_size = 0;
    c->protocols[0].tx_packet_size = LWS_PRE + RT_TX_CHUNK + 64;

    rt_lws_log_init();
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.options = 0;
    info.pt_serv_buf_size = RT_SERV_BUF_SIZE;
    /* lws sizes its descriptor table from this (plus its own few); being below
     * `ulimit -n` makes it look sockets up by search rather than by index, so a host with
     * many open files still works. */
    info.fd_limit_per_thread = (unsigned int)c->max_sessions + RT_FD_SPARE;
    info.gid = -1;
    info.uid = -1;
    info.user = c;
    c->ctx = rt_loop_context(&c->loop, o->event_loop, &info, err);
    if (!c->ctx)
        goto fail;
    rc = rt_thread_start(&c->thread, rt_client_thread, c);
    if (rc != 0) {
        lws_context_destroy(c->ctx);
        rt_loop_free(&c->loop);
        rt_error_set(err, RT_ENOMEM, "cannot start the I/O thread: %s", strerror(rc));
        goto fail;
    }
    return c;
fail:
    rt_client_free_parts(c);
    rt_client_destroy(c);
    return NULL;
}

int rt_client_closing(const struct rt_client *c)
{
    return c ? atomic_load(&c->closing) : 0;
}

const char *rt_client_event_loop(const struct rt_client *c)
{
    return c ? c->loop.name : NULL;
}

void rt_client_close(struct rt_client *c)
{
    /* A parent's copy in a child of a fork has no thread to ask (rt_fork.h). */
    if (!c || rt_fork_inherited(&c->born))
        return;
    atomic_store(&c->stopping, true);
    rt_client_wake(c);
}

/* Leaves without waiting; the first reason given is the one the sessions are told. */
static void rt_client_cut(struct rt_client *c, int why)
{
    int none = RT_CUT_NONE;

    atomic_compare_exchange_strong(&c->cut, &none, why);
    rt_client_close(c);
}

void rt_client_close_now(struct rt_client *c)
{
    if (!c || rt_fork_inherited(&c->born))
        return;
    rt_client_cut(c, RT_CUT_NOW);
}

void rt_client_free_now(struct rt_client *c)
{
    if (!c)
        return;
    if (!rt_fork_inherited(&c->born))
        rt_client_cut(c, RT_CUT_FREED);
    rt_client_free(c);
}

int rt_client_wait_closed(struct rt_client *c, double timeout)
{
    if (!c || rt_fork_inherited(&c->born))
        return 1;
    return rt_signal_wait(&c->stopped, timeout);
}

void rt_client_free(struct rt_client *c)
{
    if (!c)
        return;
    /* A parent's copy in a child of a fork: its thread is not here to join, and its
     * sockets are the parent's. It is abandoned (rt_fork.h). */
    if (rt_fork_inherited(&c->born))
        return;
    rt_client_close(c);
    pthread_join(c->thread, NULL);
    rt_client_free_parts(c);
    rt_client_release(c);
}
