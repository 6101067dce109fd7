/* The connection on the I/O thread: requests from the owner, connecting, timers and the
 * lws callback (see rt_conn.h; the end of a session is in rt_conn_end.c). */
#include "rt_conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_lws_log.h"

static void rt_conn_timeout_cb(lws_sorted_usec_list_t *sul);

void rt_conn_kill(struct rt_session *s)
{
    if (s->wsi)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* rt_conn_kill's close is one of lws's own timers, which lws 4.1 runs from its libev idle
 * watcher or its next timer: a socket with input that lws will not read (it reads
 * nothing while it holds output the socket did not take, and a server that stops
 * reading never takes it) is ready on every turn of the loop, so the idle watcher never
 * runs and the close waited for lws's next timer, seconds past a deadline. */
void rt_conn_kill_now(struct rt_session *s)
{
    if (s->wsi)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* ==================================================================== *
 *  N O T E S
 * ==================================================================== */

struct rt_conn_notes *rt_conn_notes(struct rt_session *s)
{
    if (!s->notes && !(s->notes = rt_calloc(1, sizeof *s->notes)))
        s->notes_nomem = true;
    return s->notes;
}

struct rt_error *rt_conn_err(struct rt_session *s)
{
    struct rt_conn_notes *n = rt_conn_notes(s);

    return n ? &n->err : NULL;
}

enum rt_code rt_conn_err_code(const struct rt_session *s)
{
    if (s->notes && s->notes->err.code != RT_OK)
        return s->notes->err.code;
    return s->notes_nomem ? RT_ENOMEM : RT_OK;
}

const char *rt_conn_err_msg(const struct rt_session *s)
{
    if (s->notes && s->notes->err.code != RT_OK)
        return s->notes->err.msg;
    return s->notes_nomem ? "out of memory recording why the connection failed" : "";
}

void rt_conn_notes_clear(struct rt_session *s)
{
    rt_free(s->notes);
    s->notes = NULL;
    s->notes_nomem = false;
}

void rt_conn_tell(struct rt_session *s, const char *fmt, ...)
{
    char msg[512];
    struct rt_event *ev;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof msg)
        n = (int)sizeof msg - 1;     /* cut, as vsnprintf did: never read past msg */
    if (n > 0 && (ev = rt_event_new(RT_EV_ERROR, RT_EBUSY, (size_t)n, msg, (size_t)n)))
        rt_evq_push(&s->events, ev);
}

void rt_conn_want_write(struct rt_session *s)
{
    if (s->wsi && lws_callback_on_writable(s->wsi) < 0) {
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost: cannot schedule a write");
        rt_conn_kill(s);
    }
}

void rt_conn_replay_drop_first(struct rt_session *s)
{
    struct rt_msg *m = rt_queue_pop(&s->replay);

    if (m->flags & RT_MSG_ACT_START)
        s->act_open_at_replay = true;
    else if (m->flags & RT_MSG_ACT_END)
        s->act_open_at_replay = false;
    if (m->flags & RT_MSG_INITIAL)
        s->initial_in_replay = false;
    rt_msg_free(m);
    s->replay_first++;
}

void rt_conn_take_intake(struct rt_session *s)
{
    struct rt_link *l = rt_mpsc_take(&s->intake);
    struct rt_msg *m, *next;

    /* Initial history goes before what waits that is not history (rt_session_send_initial
     * admits it only while none of that was written). An answer to a call a reconnect
     * voided is not written (rt_conn_calls.c). One flag test for the rest. */
    for (m = l ? rt_container_of(l, struct rt_msg, link) : NULL; m; m = next) {
        next = rt_msg_next(m);
        if (!(m->flags & (RT_MSG_INITIAL | RT_MSG_TOOL_RESPONSE)))
            rt_queue_push(&s->sendq, m);
        else if (m->flags & RT_MSG_INITIAL)
            rt_queue_push_after_run(&s->sendq, m, RT_MSG_INITIAL);
        else if ((m = rt_conn_calls_answer(s, m)) != NULL)
            rt_queue_push(&s->sendq, m);
    }
    /* Messages kept for replay count against the bound too; the oldest give way rather
     * than what the user says now (stats: replay_dropped). */
    while (!rt_queue_empty(&s->replay) && s->replay.bytes + s->sendq.bytes > s->max_queue) {
        s->gave_way++;
        s->gave_way_bytes += s->replay.head->len;
        rt_conn_replay_drop_first(s);
        atomic_fetch_add(&s->stats.replay_dropped, 1);
    }
    atomic_store(&s->stats.replay_bytes, s->replay.bytes);
}

/* ==================================================================== *
 *  C O N N E C T I N G
 * ==================================================================== */

static void rt_conn_connect(struct rt_session *s)
{
    struct rt_client *c = s->client;
    struct lws_client_connect_info i;
    struct lws *w;

    memset(&i, 0, sizeof i);
    i.context = c->ctx;
    i.address = s->addrs->req.addrs[s->addr_next];   /* lws keeps a copy */
    i.port = s->port;
    /* A raw TCP connection: TLS and the WebSocket protocol are ours (rt_tls, rt_ws). */
    i.ssl_connection = 0;
    i.host = s->host;
    i.method = "RAW";
    i.protocol = c->protocols[0].name;
    i.local_protocol_name = c->protocols[0].name;
    i.userdata = s;
    i.pwsi = &s->wsi;
    i.retry_and_idle_policy = &c->retry;
    s->state = RT_CS_CONNECTING;
    /* Callbacks may end the session inside the call; keep it alive until we return. */
    atomic_fetch_add(&s->refs, 1);
    rt_lws_clear_log();
    w = lws_client_connect_via_info(&i);
    if (!w && s->state == RT_CS_CONNECTING && !s->wsi) {
        const char *why = rt_lws_last_log();
        rt_error_set(rt_conn_err(s), RT_ECONNECT, "cannot connect to %s port %d%s%s", s->host,
                     s->port, *why ? ": " : "", why);
        rt_conn_lost(s);
    }
    rt_session_unref(s);
}

/* Resolver thread: the answer is in; hand it to the I/O thread. */
static void rt_conn_resolved_cb(struct rt_resolve_req *r)
{
    struct rt_lookup *lk = rt_container_of(r, struct rt_lookup, req);
    struct rt_session *s = lk->s;

    /* It waits beside any other: the I/O thread keeps the current lookup's answer. */
    rt_resolve_hand_over(&s->looked_up, &lk->req);
    rt_client_schedule(s->client, s, RT_REQ_RESOLVED);
    rt_session_unref(s);               /* the resolver's reference */
}

/* RT_REQ_RESOLVED: the lookup answered, or the next of its addresses is to be tried. */
static void rt_conn_resolved(struct rt_session *s)
{
    struct rt_resolve_req *stale, *r = rt_resolve_take(&s->looked_up, s->lookup_gen, &stale);
    struct rt_lookup *lk = r ? rt_container_of(r, struct rt_lookup, req) : NULL;

    rt_conn_free_answers(stale);       /* of lookups that later ones replaced */
    if (lk && s->state != RT_CS_RESOLVING) {
        rt_free(lk);                   /* timed out or closed meanwhile */
        lk = NULL;
    }
    if (lk) {
        rt_free(s->addrs);
        s->addrs = lk;
    }
    if (s->state != RT_CS_RESOLVING || !s->addrs)
        return;
    if (!s->addrs->req.count) {
        rt_error_set(rt_conn_err(s), RT_EDNS, "cannot resolve host %s: %s", s->host,
                     s->addrs->req.error);
        rt_conn_lost(s);
        return;
    }
    rt_conn_connect(s);
}

/* Seconds this attempt may take: a reconnect gets the whole timeout; the first
 * connection's attempts share one (a second attempt after a refused token gets what the
 * first left), so connect never takes longer than its caller asked. */
static double rt_conn_attempt_time(struct rt_session *s)
{
    double now = rt_clock_now();

    if (s->ever_ready)
        return s->timeout;
    if (!s->first_deadline)
        s->first_deadline = now + s->timeout;
    return s->first_deadline - now > 0.001 ? s->first_deadline - now : 0.001;
}

void rt_conn_free_answers(struct rt_resolve_req *r)
{
    struct rt_resolve_req *next;

    for (; r; r = next) {
        next = r->next_answer;
        rt_free(r);                    /* the lookup: req is its first member */
    }
}

void rt_conn_cancel_lookup(struct rt_session *s)
{
    /* Each cancelled one is answered through rt_conn_resolved_cb, which drops it. */
    (void)rt_resolver_cancel(s->client->resolver, s);
}

void rt_conn_open(struct rt_session *s)
{
    struct rt_lookup *lk;

    rt_conn_cancel_lookup(s);          /* a lookup this one replaces */
    s->state = RT_CS_RESOLVING;
    s->addr_next = 0;
    rt_free(s->addrs);
    s->addrs = NULL;
    s->phase_expired = false;
    rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_timeout_cb,
                  (lws_usec_t)(rt_conn_attempt_time(s) * (double)LWS_USEC_PER_SEC));
    /* Allocated per attempt: an open connection keeps no addresses. */
    if (!(lk = rt_calloc(1, sizeof *lk))) {
        rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory resolving host %s", s->host);
        rt_conn_lost(s);
        return;
    }
    lk->req.host = s->host;
    lk->req.port = s->port;
    lk->req.owner = s;
    lk->req.done = rt_conn_resolved_cb;
    lk->s = s;
    lk->req.gen = ++s->lookup_gen;
    if (rt_resolve_literal(&lk->req)) {
        s->addrs = lk;
        rt_conn_connect(s);
        return;
    }
    atomic_fetch_add(&s->refs, 1);     /* the resolver's reference */
    if (!rt_resolver_submit(s->client->resolver, &lk->req)) {
        atomic_fetch_sub(&s->refs, 1);
        rt_free(lk);
        rt_error_set(rt_conn_err(s), RT_EDNS, "cannot resolve host %s: no resolver thread", s->host);
        rt_conn_lost(s);
    }
}

/* A connect failure reported by lws: name its cause (the first one is kept). */
static void rt_conn_error(struct rt_session *s, const char *why)
{
    const char *log = rt_lws_last_log();

    if (!why)
        why = "";
    if (strstr(why, "nable to connect") || strstr(why, "refused"))
        rt_error_set(rt_conn_err(s), RT_ECONNECT,
                     "cannot connect to %s port %d (connection refused or unreachable)",
                     s->host, s->port);
    else
        rt_error_set(rt_conn_err(s), RT_ECONNECT, "connection to %s port %d failed: %s", s->host,
                     s->port, *why ? why : (*log ? log : "unknown error"));
}

/* ==================================================================== *
 *  T I M E R S
 * ==================================================================== */

static void rt_conn_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_phase);

    if (s->state >= RT_CS_READY && !s->phase_expired)
        return;
    if (!s->phase_expired) {
        s->phase_expired = true;
        if (s->state == RT_CS_SETUP)
            rt_error_set(rt_conn_err(s), RT_ETIMEOUT, "no setupComplete within %g s",
                         s->timeout);
        else if (!rt_conn_upgrade_cut(s))   /* a refusal still sending its body is one */
            rt_error_set(rt_conn_err(s), RT_ETIMEOUT, "connecting to %s timed out after %g s",
                         s->host, s->timeout);
    }
    if (s->wsi) {
        rt_conn_kill(s);
        /* lws forgets a kill asked while it is still starting the TCP connect (it sets a
         * timeout of its own after it): ask again until the connection is gone. */
        rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_timeout_cb,
                      LWS_USEC_PER_SEC / 100);
    } else {
        rt_conn_lost(s);
    }
}

static void rt_conn_alive_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_alive);
    struct rt_client *c = s->client;
    double quiet, next = c->ping_interval;

    if (!s->wsi || s->state < RT_CS_SETUP)
        return;
    /* A paused reader is not a dead peer: its silence is ours. */
    if (s->reading_paused)
        s->last_rx = rt_clock_now();
    quiet = rt_clock_now() - s->last_rx;
    if (quiet >= c->ping_interval + c->ping_timeout) {
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost: no pong for %d s",
                     c->ping_interval + c->ping_timeout);
        rt_conn_kill_now(s);   /* as at the close deadline: see rt_conn_kill_now */
        return;
    }
    if (quiet >= c->ping_interval && !s->ping_out) {
        s->ping_out = true;
        rt_conn_want_write(s);
        next = c->ping_timeout;
    } else if (quiet >= c->ping_interval) {
        next = c->ping_interval + c->ping_timeout - quiet;
    } else {
        next = c->ping_interval - quiet;
    }
    rt_loop_timer(&c->loop, &s->sul_alive, rt_conn_alive_cb,
                  (lws_usec_t)((next > 0.05 ? next : 0.05) * (double)LWS_USEC_PER_SEC));
}

void rt_conn_keepalive_start(struct rt_session *s)
{
    s->last_rx = rt_clock_now();
    s->ping_out = false;
    rt_loop_timer(&s->client->loop, &s->sul_alive, rt_conn_alive_cb,
                  (lws_usec_t)s->client->ping_interval * LWS_USEC_PER_SEC);
}

void rt_conn_close_timer(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_close);

    s->close_expired = true;
    if (s->wsi)
        rt_conn_kill_now(s);   /* ends the session: s may be gone */
    else if (s->state != RT_CS_DONE)
        rt_conn_finish(s);
}

/* Reads and drops what the socket holds now, bounded (a flood does not hold the thread).
 * True when it read the end of the stream: the server has closed its side too. */
static bool rt_conn_discard_input(struct rt_session *s, int fd)
{
    ssize_t n = -1;
    int i;

    for (i = 0; i < 16; i++)
        if ((n = recv(fd, s->client->rxbuf, RT_RX_CHUNK, MSG_DONTWAIT)) <= 0)
            break;
    return n == 0;
}

/* Closing a socket with unread input sends a reset, and a reset makes the server's stack
 * drop what it has not read yet: the tail of our frames and the close frame, while a
 * server that keeps sending always has more on its way. So the hang-up shuts our side
 * only (a FIN after everything written: the server reads it all, then the end), drops
 * what comes, and closes once the server has closed its side too: lws closes a raw
 * socket when a read returns the end, and a close with nothing unread sends no reset.
 * The session ends with the socket, so a caller that exits once told cannot cut the
 * drain short; the close bound (1 s) ends a server that keeps the connection open. No
 * TLS close_notify can follow the FIN; the close frame already said the end. */
static void rt_conn_hang_up_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_close);
    int fd;

    if (!s->wsi)
        return;
    fd = (int)lws_get_socket_fd(s->wsi);
    if (fd < 0 || shutdown(fd, SHUT_WR) < 0 || rt_conn_discard_input(s, fd) ||
        lws_rx_flow_control(s->wsi, 1) < 0) {
        rt_conn_kill_now(s);   /* ends the session: s may be gone */
        return;
    }
    s->wr_shut = true;         /* lws reads on; the callback drops what it hands over */
    rt_loop_timer(&s->client->loop, &s->sul_close, rt_conn_close_timer, LWS_USEC_PER_SEC);
}

void rt_conn_hang_up(struct rt_session *s)
{
    /* From a timer of ours: lws's close would free the connection inside its callback. */
    rt_loop_timer(&s->client->loop, &s->sul_close, rt_conn_hang_up_cb, 0);
}

/* ==================================================================== *
 *  R E Q U E S T S
 * ==================================================================== */

/* The owner asked for a close: flush what was queued, then the close handshake. */
static void rt_conn_close_asked(struct rt_session *s)
{
    if (s->close_acted)
        return;
    s->close_acted = true;
    rt_loop_timer(&s->client->loop, &s->sul_close, rt_conn_close_timer,
                  (lws_usec_t)(s->close_timeout * (double)LWS_USEC_PER_SEC));
    switch (s->state) {
    case RT_CS_SETUP:
    case RT_CS_READY:
        rt_conn_resume_reading(s);   /* the server's answer must be found: see there */
        rt_conn_want_write(s);   /* the writer sends what is queued, then the close */
        break;
    case RT_CS_CONNECTING:
    case RT_CS_TLS:
    case RT_CS_UPGRADING:
        if (s->wsi) {
            rt_conn_kill(s);     /* no WebSocket yet: nothing to close politely */
            break;
        }
        /* fall through */
    default:
        rt_conn_finish(s);
        break;
    }
}

void rt_conn_service(struct rt_session *s)
{
    unsigned req = atomic_exchange(&s->req, 0);

    if (s->state == RT_CS_DONE)
        return;
    if (req & RT_REQ_START) {
        rt_client_link(s->client, s);
        if (s->client->stop_seen && !atomic_exchange(&s->closed, true)) {
            /* Created while the client was being freed: it ends as the others do. */
            rt_session_set_close(s, 1001, "client freed");
            req |= RT_REQ_CLOSE;
        }
        if (!(req & RT_REQ_CLOSE))
            rt_conn_open_first(s);
    }
    if (s->state == RT_CS_DONE)
        return;
    if (req & RT_REQ_SEND) {
        rt_conn_take_intake(s);
        /* Written now rather than at the next WRITEABLE: a socket is writable nearly
         * always, and this saves a trip through poll() over every connection (lws keeps
         * what the socket does not take and asks for WRITEABLE itself). */
        if (s->state == RT_CS_READY && !rt_queue_empty(&s->sendq) && s->wsi) {
            if (lws_partial_buffered(s->wsi))
                rt_conn_want_write(s);   /* lws flushes what it holds first */
            else if (rt_conn_writeable(s) < 0)
                rt_conn_kill(s);
        }
    }
    if (req & RT_REQ_RESOLVED)
        rt_conn_resolved(s);
    if (s->state == RT_CS_DONE)
        return;
    if (req & RT_REQ_RESUME_RX)
        rt_conn_resume_reading(s);
    if (req & RT_REQ_CLOSE)
        rt_conn_close_asked(s);
}

/* ==================================================================== *
 *  T H E   L W S   C A L L B A C K
 * ==================================================================== */

/* A close asked before the WebSocket was open hangs up (rt_conn_close_asked), but lws
 * kills the link only on its next pass: what arrives before then (the upgrade's answer)
 * must not open the WebSocket and start a close handshake that the kill then cuts. */
static bool rt_conn_hanging_up(const struct rt_session *s)
{
    return s->close_acted && s->state < RT_CS_SETUP;
}

int rt_conn_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    struct rt_session *s = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        /* our own hang-up ends a connect under way too: not a network failure */
        if (s && !rt_conn_hanging_up(s))
            rt_conn_error(s, in ? (const char *)in : NULL);
        return 0;

    case LWS_CALLBACK_RAW_CONNECTED:
        if (!s)
            return -1;
        s->wsi = wsi;
        return rt_conn_hanging_up(s) ? -1 : rt_conn_connected(s);

    case LWS_CALLBACK_RAW_WRITEABLE:
        if (s && rt_conn_hanging_up(s))
            return -1;
        return s ? rt_conn_writeable(s) : 0;

    case LWS_CALLBACK_RAW_RX:
        if (s && rt_conn_hanging_up(s))
            return -1;
        if (s && s->wr_shut)
            return 0;            /* a failed connection drains to the server's end */
        return s ? rt_conn_readable(s, in, len) : 0;

    case LWS_CALLBACK_WSI_DESTROY:
        /* a connect that ended without a word (no socket to be had): lws's log says why */
        if (s && s->state == RT_CS_CONNECTING && rt_conn_err_code(s) == RT_OK &&
            !rt_conn_hanging_up(s) && *rt_lws_last_log())
            rt_conn_error(s, NULL);
        if (s && s->wsi == wsi && s->state != RT_CS_DONE && s->state != RT_CS_WAIT) {
            s->wsi = NULL;
            lws_sul_cancel(&s->sul_alive);
            /* a refusal cut short by the server's end is still the refusal */
            (void)rt_conn_upgrade_cut(s);
            /* What was read while reading was paused (the server's last messages, its
             * close answer) counts before the end is judged. */
            rt_conn_drain_stash(s);
            rt_conn_lost(s);
        } else if (s && s->state == RT_CS_CONNECTING && !s->wsi) {
            rt_conn_lost(s);   /* failed before lws handed us the wsi */
        }
        return 0;

    default:
        return 0;
    }
}
