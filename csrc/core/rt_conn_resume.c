/* Losing a connection: reconnect with the latest resumption handle, or end the session
 * (see rt_conn.h and docs/design.md, "Resilience"). The rules themselves (which closes
 * are fatal, the backoff, what counts as an attempt) are pure functions in rt_resume.c.
 *
 * A connection that ends while the session should go on is replaced: the I/O thread
 * waits (backoff, or nothing after goAway), opens a new connection whose setup carries
 * the latest handle, and once setupComplete arrives puts every client message not known
 * to be consumed back at the head of the send queue, then queues RT_EV_RECONNECTED.
 * What the server's messages say about handles and goAway is read in rt_conn_track.c. */
#include "rt_conn.h"

#include <stdio.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_auth.h"
#include "rt_wire.h"

#define RT_AUTH_WAIT_STEPS 50          /* 0.1 s each: a token fetch gets 5 s */

static void rt_conn_retry_cb(lws_sorted_usec_list_t *sul);
static void rt_conn_first_cb(lws_sorted_usec_list_t *sul);

/* True while the initial history is kept for replay (no turn has completed since it was
 * written), or not written yet (it is the first message after setup, or the owner has
 * yet to queue it), in a session that did not start from a saved handle. No handle is known to hold it (Gemini does not say
 * what a handle holds; the first comes with setupComplete), and resumed, the service
 * would answer it as a question. But then the replay and the queue hold every message
 * since the session began, history first: a new session given them is the session that
 * was lost, so the reconnect starts one. */
bool rt_conn_history_unsaved(struct rt_session *s)
{
    if (s->from_saved)
        return false;
    if (s->initial_in_replay || (s->initial_expected && !atomic_load(&s->initial_queued)))
        return true;
    rt_conn_take_intake(s);
    return (s->cur && (s->cur->flags & RT_MSG_INITIAL)) ||
           (!rt_queue_empty(&s->sendq) && (s->sendq.head->flags & RT_MSG_INITIAL));
}

/* Whether the connection that just ended should be replaced by attempt `next`. */
static bool rt_conn_should_resume(struct rt_session *s, int next)
{
    if (!s->resume_on || !s->ever_ready || s->client->stop_seen || s->fail_code ||
        s->close_acted || atomic_load(&s->closed) ||
        (!s->handle_len && !rt_conn_history_unsaved(s)) || next > RT_RESUME_MAX_ATTEMPTS)
        return false;
    if (s->recycle)
        return true;
    if (s->peer_closed)
        return rt_resume_close_retryable(s->peer_code, s->goaway);
    switch (rt_conn_err_code(s)) {
    case RT_EAUTH:      /* a token fetch that failed may work next time; a refusal not,
                           but for one retry with a new token after the source's was
                           refused (revoked, or the server forgot it) */
        return s->token_missing || (s->token_refused && !s->token_retried);
    case RT_ETLS:
    case RT_EINVAL:
    case RT_ENOMEM:
    case RT_EPROTOCOL:
        return false;
    case RT_EHANDSHAKE:
        return rt_resume_status_retryable(s->http_status);
    default:
        return true;
    }
}

/* Describes why the connection ended, for the reconnected message (out of memory, the
 * message says "connection lost"). */
static void rt_conn_loss_reason(struct rt_session *s)
{
    char peer[RT_CONN_REASON_SHOWN];
    char r[RT_CONN_REASON_SHOWN + 64];

    rt_conn_peer_shown(s, peer);

    if (s->recycle)
        snprintf(r, sizeof r, "go_away");
    else if (s->peer_closed)
        snprintf(r, sizeof r, "server closed the connection (%d%s%s)", s->peer_code,
                 peer[0] ? ": " : "", peer);
    else if (rt_conn_err_code(s) != RT_OK)
        snprintf(r, sizeof r, "%.180s", rt_conn_err_msg(s));
    else
        snprintf(r, sizeof r, "connection lost");
    rt_free(s->lost_reason);
    s->lost_reason = rt_strdup(r);
}

static const char *rt_conn_lost_text(const struct rt_session *s)
{
    return s->lost_reason ? s->lost_reason : "connection lost";
}

/* Clears what belonged to the connection that ended. */
static void rt_conn_reset(struct rt_session *s)
{
    /* A message cut off mid-write goes out whole on the next connection. */
    if (s->cur && !s->cur_setup) {
        atomic_fetch_add(&s->tx_bytes, s->cur->len);
        rt_queue_push_front(&s->sendq, s->cur);
    } else {
        rt_msg_free(s->cur);
    }
    s->cur = NULL;
    s->cur_setup = false;
    rt_conn_free_link(s);
    if (s->reading_paused) {
        s->reading_paused = false;
        atomic_store(&s->rx_paused, false);
    }
    s->rx_held = false;
    s->pong_due = s->ping_out = s->ping_sent = false;
    s->close_sent = s->wr_shut = false;
    s->recycle = s->goaway = s->model_busy = false;
    s->goaway_at = 0;
    s->peer_closed = s->peer_close_bad = false;
    s->peer_code = 0;
    s->http_status = 0;
    s->auth_waits = 0;
    s->token_missing = false;
    s->token_refused = false;
    s->turn_through = false;
    rt_conn_clock_reset(s);
    rt_conn_notes_clear(s);
    s->wsi = NULL;
}

/* The first connection's token was refused (HTTP 401: revoked, or expired early): the
 * source forgot it and fetches another (rt_conn_refused), and the upgrade goes once more
 * with that one, within what is left of the connect's timeout, as a reconnect does
 * (token_refused, token_retried: a second refusal in a row ends the session). True when
 * that attempt is under way. */
static bool rt_conn_retry_first(struct rt_session *s)
{
    struct rt_msg *setup = s->setup;    /* not sent: the upgrade was refused */

    if (s->ever_ready || !s->token_refused || s->token_retried || !setup || s->close_acted ||
        s->fail_code || atomic_load(&s->closed) || s->client->stop_seen ||
        rt_clock_now() >= s->first_deadline)
        return false;
    s->setup = NULL;                    /* kept through the reset, which frees the link's */
    rt_conn_reset(s);
    s->setup = setup;
    s->token_retried = true;
    s->state = RT_CS_NEW;
    rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_first_cb, 0);
    return true;
}

/* The owner closed the session while it was leaving its connection after goAway (the
 * server's close is the answer to our hand-off close, not one of its own): the close ends
 * it as one asked while reconnecting does, with the owner's code, and what the new
 * connection would have sent counted (rt_conn_finish). A close asked and not yet taken
 * (rt_session_close has set `closed`, its request is on the way) ends it when it comes:
 * rt_conn_close_asked finishes a waiting session. */
static void rt_conn_handoff_closed(struct rt_session *s)
{
    lws_sul_cancel(&s->sul_close);   /* the hand-off's wait: the owner's close bounds it now */
    rt_conn_loss_reason(s);          /* "go_away" */
    rt_conn_reset(s);
    s->reconnecting = true;
    s->state = RT_CS_WAIT;
    if (s->close_acted)
        rt_conn_finish(s);
}

void rt_conn_lost(struct rt_session *s)
{
    double lived, delay;
    bool was_recycle = s->recycle;
    struct timespec ts;
    int next;

    if (s->state == RT_CS_DONE || s->state == RT_CS_WAIT)
        return;
    lws_sul_cancel(&s->sul_alive);
    /* A refused connect with more addresses to try: the next one, within the deadline. */
    if (s->state == RT_CS_CONNECTING && s->addrs && s->addr_next + 1 < s->addrs->req.count &&
        rt_conn_err_code(s) == RT_ECONNECT && !s->close_acted) {
        s->addr_next++;
        rt_conn_notes_clear(s);
        s->wsi = NULL;
        s->state = RT_CS_RESOLVING;
        atomic_fetch_or(&s->req, RT_REQ_RESOLVED);   /* connect from the service loop */
        rt_client_schedule(s->client, s, 0);
        return;
    }
    if (rt_conn_retry_first(s))
        return;
    if (s->recycle && !s->fail_code && (s->close_acted || atomic_load(&s->closed))) {
        rt_conn_handoff_closed(s);
        return;
    }
    lived = s->state == RT_CS_READY ? rt_clock_now() - s->conn_start : 0;
    next = rt_resume_next_attempt(s->attempt, s->turn_through, lived, was_recycle);
    if (!rt_conn_should_resume(s, next)) {
        /* Say so when the session was being resumed, or used up its attempts. */
        bool exhausted = next > RT_RESUME_MAX_ATTEMPTS && rt_conn_should_resume(s, 1);
        if (exhausted && !s->reconnecting)
            rt_conn_loss_reason(s);
        /* A reconnect attempt that fails for good (a server close during its setup,
         * such as a refused handle, too) says that the session was being resumed; a
         * close of an established connection speaks for itself (`reconnecting` is
         * cleared at setupComplete). */
        if ((s->reconnecting || exhausted) &&
            !s->close_acted && !s->fail_code && !s->client->stop_seen) {
            /* Say that the session was being resumed, and why that started. */
            struct rt_error why;
            enum rt_code code = rt_conn_err_code(s) != RT_OK ? rt_conn_err_code(s) : RT_ECLOSED;
            char peer[RT_CONN_REASON_SHOWN + 64], shown[RT_CONN_REASON_SHOWN];

            if (s->peer_closed)
                snprintf(peer, sizeof peer, "server closed the connection (%d%s%s)",
                         s->peer_code, *rt_conn_peer_shown(s, shown) ? ": " : "", shown);
            const char *detail = s->peer_closed ? peer : rt_conn_err_code(s) != RT_OK
                                 ? rt_conn_err_msg(s) : "connection lost";

            rt_error_clear(&why);
            if (strcmp(rt_conn_lost_text(s), detail) == 0)   /* the last loss is the reason */
                rt_error_set(&why, code, "cannot resume the session after %d attempt%s: %.700s",
                             next - 1, next - 1 == 1 ? "" : "s", detail);
            else
                rt_error_set(&why, code, "cannot resume the session after %d attempt%s "
                             "(%.60s): %.700s", next - 1, next - 1 == 1 ? "" : "s",
                             rt_conn_lost_text(s), detail);
            if (s->notes)
                rt_error_clear(&s->notes->err);
            rt_error_set(rt_conn_err(s), why.code, "%s", why.msg);
            s->gave_up = true;
        }
        rt_conn_finish(s);
        return;
    }
    lws_sul_cancel(&s->sul_close);
    if (!s->reconnecting)
        rt_conn_loss_reason(s);
    s->attempt = next;
    if (s->token_refused)
        s->token_retried = true;   /* a new token refused too ends the session */
    rt_conn_reset(s);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Leaving on purpose after goAway: the old socket is closed, go at once. */
    delay = was_recycle && s->attempt == 1
            ? 0 : rt_resume_backoff(s->attempt, (double)(ts.tv_nsec % 1000) / 1000.0);
    s->reconnecting = true;
    s->state = RT_CS_WAIT;
    rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_retry_cb,
                  (lws_usec_t)(delay * (double)LWS_USEC_PER_SEC));
}

/* Whether the next upgrade can go: 1 with a token ready (or none needed), 0 while its
 * fetch is under way, -1 when none is to be had, the fetch failed or did not end in time:
 * the connection's error says why. A reconnect waits RT_AUTH_WAIT_STEPS; the first
 * connection as long as connect's timeout lasts (rt_conn_open_first bounds it). An
 * upgrade without the token would only be refused (HTTP 401), hiding the reason. */
static int rt_conn_token_state(struct rt_session *s)
{
    struct rt_error e;
    char *tok = NULL;
    int r;

    if (!s->auth)
        return 1;
    rt_error_clear(&e);
    r = rt_auth_token(s->auth, 60, &tok, NULL, &e);
    if (tok) {
        memset(tok, 0, strlen(tok));
        rt_free(tok);
    }
    if (r == 1)
        return 1;
    if (r == 0 && (!s->ever_ready || s->auth_waits++ < RT_AUTH_WAIT_STEPS))
        return 0;
    if (r == 0)
        rt_error_set(&e, RT_EAUTH, "%s: no access token after %d s (its token request has "
                     "not ended)", rt_auth_source(s->auth), RT_AUTH_WAIT_STEPS / 10);
    rt_error_set(rt_conn_err(s), e.code, "%s", e.msg);
    s->token_missing = true;
    return -1;
}

/* No token for this attempt: it fails as a connect does (a reconnect tries again within
 * its budget; the first connection ends with the reason). */
static void rt_conn_token_failed(struct rt_session *s)
{
    s->auth_waits = 0;
    s->state = RT_CS_RESOLVING;
    rt_conn_lost(s);
}

/* Waiting for the first token (rt_conn_open_first); the session may have been closed
 * meanwhile. */
static void rt_conn_first_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_phase);

    if (s->state == RT_CS_NEW)
        rt_conn_open_first(s);
}

/* A token source just made has only started its fetch, and an upgrade without the
 * token is refused (401): the first connection waits for it within connect's timeout,
 * which bounds every attempt of the first connection (first_deadline). Running out of
 * it is "timeout": the fetch goes on, and the caller keeps the source for the next. */
void rt_conn_open_first(struct rt_session *s)
{
    int t;

    if (!s->first_deadline)
        s->first_deadline = rt_clock_now() + s->timeout;
    t = rt_conn_token_state(s);
    if (t == 0 && rt_clock_now() >= s->first_deadline) {
        rt_error_set(rt_conn_err(s), RT_ETIMEOUT, "connecting to %s timed out after %g s "
                     "(waiting for %s)", s->host, s->timeout, s->token_retried
                     ? "a new access token after the server refused one" : "an access token");
        rt_conn_token_failed(s);
        return;
    }
    if (t == 0) {
        rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_first_cb,
                      LWS_USEC_PER_SEC / 10);
        return;
    }
    if (t < 0) {
        rt_conn_token_failed(s);
        return;
    }
    s->auth_waits = 0;
    rt_conn_open(s);
}

static void rt_conn_retry_cb(lws_sorted_usec_list_t *sul)
{
    struct rt_session *s = lws_container_of(sul, struct rt_session, sul_phase);
    struct rt_msg *m;
    size_t cap, n;

    if (s->state != RT_CS_WAIT)
        return;
    if (s->close_acted || s->client->stop_seen) {
        rt_conn_finish(s);
        return;
    }
    switch (rt_conn_token_state(s)) {
    case 0:
        rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_retry_cb,
                      LWS_USEC_PER_SEC / 10);
        return;
    case -1:
        rt_conn_token_failed(s);
        return;
    }
    s->fresh_start = rt_conn_history_unsaved(s);
    s->resume_seq = s->fresh_start ? 0 : s->handle_seq;
    if (s->fresh_start) {
        /* A new session from the setup as first sent; the old handle is of no use now. */
        rt_free(s->handle);
        s->handle = NULL;
        s->handle_len = 0;
        s->handle_seq = 0;
        m = rt_msg_copy(s->setup_tmpl, s->setup_len);
        n = m ? s->setup_len : 0;
    } else {
        cap = s->setup_len + s->handle_len + 16;
        m = rt_msg_new(cap);
        n = m ? rt_resume_setup(s->setup_tmpl, s->setup_len, s->resume_at, s->resume_empty,
                                s->handle, s->handle_len, (char *)m->data, cap) : 0;
    }
    if (!n) {
        rt_msg_free(m);
        rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory building the resumption setup");
        rt_conn_finish(s);
        return;
    }
    m->len = n;
    m->data[n] = '\0';
    s->setup = m;
    rt_conn_open(s);
}

/* A turn of manual activity that was open where the resent messages start (its
 * activityStart consumed before the loss, or given way to max_queue_bytes) is opened
 * again on the new connection: audio without it closes the session (1007). */
static void rt_conn_reopen_activity(struct rt_session *s)
{
    struct rt_msg *m;

    if (!s->act_open_at_replay)
        return;
    if (!(m = rt_wire_control_msg(RT_WIRE_ACTIVITY_START))) {
        rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory reopening the user's activity");
        rt_conn_kill(s);
        return;
    }
    atomic_fetch_add(&s->tx_bytes, m->len);
    rt_queue_push_front(&s->sendq, m);
    s->act_open_at_replay = false;     /* on this connection, none is open before it */
}

/* Messages written on the lost connection that the bound made us let go of cannot go
 * out again: an error says so before "reconnected" (the server may not have them). */
static void rt_conn_tell_gave_way(struct rt_session *s)
{
    if (!s->gave_way)
        return;
    rt_conn_tell(s, "reconnected: %zu message%s (%zu bytes) written before the connection "
                 "was lost were not kept to be sent again (max_queue_bytes %zu): the server "
                 "may not have them", s->gave_way, s->gave_way == 1 ? "" : "s",
                 s->gave_way_bytes, s->max_queue);
    s->gave_way = s->gave_way_bytes = 0;
}

/* Messages a late boundary took as received (rt_conn_replay_covered) are not sent again:
 * an error says so before "reconnected", so nothing is lost without a word. */
static void rt_conn_tell_unsure(struct rt_session *s)
{
    if (!s->unsure)
        return;
    rt_conn_tell(s, "reconnected: %zu message%s (%zu bytes) written while receiving was "
                 "paused (max_receive_bytes %zu) %s taken as received with a turn the server "
                 "ended before, and not sent again; the server does not say what it kept, so "
                 "the model may not have %s", s->unsure, s->unsure == 1 ? "" : "s",
                 s->unsure_bytes, s->max_receive, s->unsure == 1 ? "was" : "were",
                 s->unsure == 1 ? "it" : "them");
    s->unsure = s->unsure_bytes = 0;
}

void rt_conn_ready(struct rt_session *s, struct rt_event *ev)
{
    lws_sul_cancel(&s->sul_phase);
    s->state = RT_CS_READY;
    s->conn_start = rt_clock_now();
    s->conn_base = s->tx_seq;
    s->boundary = s->tx_seq;
    s->behind_from = UINT64_MAX;     /* a new connection has no backlog */
    s->ever_ready = true;
    s->token_retried = false;
    if (!s->reconnecting) {
        ev->type = RT_EV_READY;
    } else {
        /* The owner had its ready event: this one is "reconnected", and everything not
         * known to be consumed goes out again, before what was queued meanwhile. */
        const char *lost = rt_conn_lost_text(s);
        size_t rl = strlen(lost);

        s->reconnecting = false;
        /* A resumed session has the history (a handle came after it), or would take it
         * as a question; a new session takes it again as history. */
        if (!s->fresh_start && rt_queue_drop_flagged(&s->replay, RT_MSG_INITIAL))
            s->initial_in_replay = false;
        s->fresh_start = false;
        atomic_fetch_add(&s->stats.reconnects, 1);
        atomic_fetch_add(&s->tx_bytes, s->replay.bytes);
        /* Answers to calls the resumed state does not hold are not written: the model
         * asks again under new ids, and the owner is told (the event's seq). */
        rt_conn_calls_void(s, s->resume_seq);
        rt_conn_gate_void(s, s->resume_seq);
        rt_conn_calls_filter(s, &s->replay);
        rt_conn_calls_filter(s, &s->sendq);
        atomic_fetch_add(&s->stats.resent, s->replay.count);
        rt_conn_take_intake(s);
        rt_queue_prepend(&s->sendq, &s->replay);
        s->replay_first = s->tx_seq;
        rt_conn_reopen_activity(s);
        atomic_store(&s->stats.replay_bytes, 0);
        rt_free(ev);
        rt_conn_tell_gave_way(s);
        rt_conn_tell_unsure(s);
        ev = rt_event_new(RT_EV_RECONNECTED, s->attempt, rl, lost, rl);
        if (ev)
            ev->seq = s->resume_seq;    /* the owner withdraws the calls after it */
        rt_free(s->lost_reason);
        s->lost_reason = NULL;
    }
    if (ev)
        rt_evq_push(&s->events, ev);
    if (rt_conn_tx_pending(s))
        rt_conn_want_write(s);
}
