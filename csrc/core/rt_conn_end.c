/* The end of a session on the I/O thread: what its final error says (what was not
 * written, what the server did not confirm, why the connection ended) and the last
 * events, error then closed (see rt_conn.h). */
#include "rt_conn.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_auth.h"
#include "rt_utf8.h"

/* Room for the final error's text. */
#define RT_ERROR_DATA_MAX RT_ERROR_MSG_MAX

/* ==================================================================== *
 *  T H E   E N D
 * ==================================================================== */

/* Messages the session will never write: counted for the final error. */
static void rt_conn_unsent(struct rt_session *s, size_t *count, size_t *bytes)
{
    rt_conn_take_intake(s);
    *count = s->sendq.count + (s->cur && !s->cur_setup ? 1 : 0);
    *bytes = s->sendq.bytes + (s->cur && !s->cur_setup ? s->cur->len : 0);
}

/* Sends are refused from here on, and those that looked at `closed` before have pushed
 * their messages: what the end counts next as not sent holds every send told it was
 * accepted (rt_sess_enqueue counts itself in `sending` around its look and its push). */
static void rt_conn_stop_sends(struct rt_session *s)
{
    atomic_store(&s->closed, true);
    while (atomic_load(&s->sending))
        sched_yield();           /* a push under way: a few instructions */
}

/* Appends to emsg (n bytes used) what the final error counts: the messages never
 * written, and, while the session was reconnecting, those written on the lost
 * connection that it would have sent again (the server may not have read them). */
static void rt_conn_count_lost(struct rt_session *s, char *emsg, size_t esize, size_t n,
                               size_t unsent, size_t unsent_bytes)
{
    bool resuming = s->reconnecting || s->gave_up;
    size_t unsure = resuming ? s->replay.count : 0;
    const char *sep = " (";

    if (unsent && n < esize) {
        n += (size_t)snprintf(emsg + n, esize - n, "%s%zu message%s, %zu bytes, not sent%s",
                              sep, unsent, unsent == 1 ? "" : "s", unsent_bytes,
                              rt_conn_gate_shut(s)
                              ? ": held until the model's tool call was answered" : "");
        sep = "; ";
    }
    if (unsure && n < esize)
        n += (size_t)snprintf(emsg + n, esize - n, "%s%zu message%s, %zu bytes, written "
                              "before the connection was lost and not known to be received",
                              sep, unsure, unsure == 1 ? "" : "s", s->replay.bytes);
    if (resuming && s->gave_way && n < esize) {
        n += (size_t)snprintf(emsg + n, esize - n, "%s%zu message%s, %zu bytes, written and "
                              "then not kept (max_queue_bytes)", unsent || unsure ? "; " : " (",
                              s->gave_way, s->gave_way == 1 ? "" : "s", s->gave_way_bytes);
        unsure += s->gave_way;
    }
    if (resuming && s->unsure && n < esize) {   /* see rt_conn_replay_covered */
        n += (size_t)snprintf(emsg + n, esize - n, "%s%zu message%s, %zu bytes, written while "
                              "receiving was paused and taken as received, perhaps not",
                              unsent || unsure ? "; " : " (", s->unsure,
                              s->unsure == 1 ? "" : "s", s->unsure_bytes);
        unsure += s->unsure;
    }
    if ((unsent || unsure) && n < esize)
        snprintf(emsg + n, esize - n, ")");
}

/* Server messages read during our close and not kept, past max_receive_bytes
 * (rt_conn_drop_closing): said in the final error, alone (code busy) when the close went
 * well otherwise. Returns the error's code. */
static enum rt_code rt_conn_count_dropped(const struct rt_session *s, enum rt_code ecode,
                                          char *emsg, size_t esize)
{
    size_t n = ecode == RT_OK ? 0 : strlen(emsg);

    if (!s->rx_dropped || n + 1 >= esize)
        return ecode;
    snprintf(emsg + n, esize - n, "%s%zu server message%s (%zu bytes) read during the close "
             "%s dropped: unread ones held max_receive_bytes (%zu)", n ? "; " : "close: ",
             s->rx_dropped, s->rx_dropped == 1 ? "" : "s", s->rx_dropped_bytes,
             s->rx_dropped == 1 ? "was" : "were", s->max_receive);
    return ecode == RT_OK ? RT_EBUSY : ecode;
}

const char *rt_conn_peer_shown(const struct rt_session *s, char *out)
{
    const char *r = s->notes ? s->notes->peer_reason : "";

    rt_printable(out, RT_CONN_REASON_SHOWN, r, strlen(r), NULL);
    return out;
}

/* Whether the server's close, during ours, was its own and not the answer to ours: it came
 * before ours went out, or with another code, or with a reason of its own (an answer
 * echoes the code and says nothing, or our reason). */
static bool rt_conn_own_close(const struct rt_session *s)
{
    const char *theirs = s->notes ? s->notes->peer_reason : "";

    if (!s->close_sent)
        return true;
    if (s->peer_code != s->close_code && s->peer_code != 1005)
        return true;
    return *theirs && strcmp(theirs, s->close_reason ? s->close_reason : "") != 0;
}

/* What ended a session's close at once (rt_conn_abort): rt_client_close_now, or the
 * client freed (rt_client_free_now, or rt_client_free's bound passed). */
static const char *rt_conn_cut_by(const struct rt_session *s)
{
    return atomic_load(&s->client->cut) == RT_CUT_NOW ? "rt_client_close_now cut the close short"
                                                      : "the client was freed";
}

/* Why the session ends: the error (RT_OK for a normal end), the close code and reason,
 * and whether those are the server's close frame's (`*by_peer`); `unsent` counts the
 * messages never written. */
static enum rt_code rt_conn_outcome(struct rt_session *s, char *emsg, size_t esize, int *code,
                                    const char **reason, bool *by_peer, size_t unsent)
{
    struct rt_client *c = s->client;
    char shown[RT_CONN_REASON_SHOWN];

    *by_peer = false;
    *code = 1006;
    *reason = "";
    emsg[0] = '\0';
    if (s->fail_code) {
        *code = s->fail_code;
        *reason = s->notes ? s->notes->fail_reason : "";
        snprintf(emsg, esize, "%s", rt_conn_err_msg(s));
        return rt_conn_err_code(s);
    }
    if (s->close_acted) {
        /* the WebSocket was open: an error now broke it during the close */
        bool open = s->state == RT_CS_SETUP || s->state == RT_CS_READY;
        bool failed = rt_conn_err_code(s) != RT_OK;

        *code = s->close_code;
        *reason = s->close_reason ? s->close_reason : "";
        if (s->peer_close_bad) {
            /* a malformed answer still ended the handshake: closed tells the code we sent */
            snprintf(emsg, esize, "%s", rt_conn_err_msg(s));
            return rt_conn_err_code(s);
        }
        if (failed && !s->close_sent && !open) {
            snprintf(emsg, esize, "%s", rt_conn_err_msg(s));
            return rt_conn_err_code(s);
        }
        if (s->peer_closed && rt_conn_own_close(s)) {
            /* The server closed on its own (its deadline) while ours was under way: what
             * was written after it stopped reading is not known to be read. */
            *code = s->peer_code;
            *reason = s->notes ? s->notes->peer_reason : "";
            *by_peer = true;
            snprintf(emsg, esize, "close: the server closed the connection (%d%s%s) %s",
                     s->peer_code, **reason ? ": " : "", rt_conn_peer_shown(s, shown),
                     s->close_sent ? "instead of answering the close"
                                   : "before everything was written");
            return RT_ECLOSED;
        }
        if (s->aborted && !s->peer_closed && open) {
            /* The client stopped without waiting for the rest: say who stopped it, and
             * what was left (unsent data only when there was some). */
            *code = 1006;
            *reason = "";
            snprintf(emsg, esize, "close: %s before %s", rt_conn_cut_by(s),
                     s->close_sent ? "the server answered the close"
                     : unsent      ? "everything was written"
                                   : "the close frame was written");
            return RT_ECLOSED;
        }
        if ((!s->close_expired || failed) && !s->peer_closed && open) {
            /* The connection dropped (or failed: TLS, a write) before the close handshake
             * was done: no close code was exchanged, whatever ours was. */
            *code = 1006;
            *reason = "";
            snprintf(emsg, esize, "close: the connection was lost before %s%s%.300s",
                     s->close_sent ? "the server answered the close" : "everything was written",
                     failed ? ": " : "", failed ? rt_conn_err_msg(s) : "");
            return RT_ECLOSED;
        }
        if (s->close_sent && !s->peer_closed && s->state >= RT_CS_SETUP) {
            /* What was written may not have been read: the server did not confirm it. */
            snprintf(emsg, esize, "close: the server did not answer the close within %g s",
                     s->close_timeout);
            return RT_ETIMEOUT;
        }
        return RT_OK;
    }
    if (s->gave_up && rt_conn_err_code(s) != RT_OK) {
        /* the attempts ran out: the last connection's end is in the error's text */
        if (s->peer_closed) {
            *code = s->peer_code;
            *reason = s->notes ? s->notes->peer_reason : "";
            *by_peer = true;
        }
        snprintf(emsg, esize, "%s", rt_conn_err_msg(s));
        return rt_conn_err_code(s);
    }
    if (s->peer_closed) {
        *code = s->peer_code;
        *reason = s->notes ? s->notes->peer_reason : "";
        *by_peer = true;
        if (s->peer_code != 1000 && s->peer_code != 1005) {
            snprintf(emsg, esize, "server closed the connection (%d%s%s)", s->peer_code,
                     **reason ? ": " : "", rt_conn_peer_shown(s, shown));
            return RT_ECLOSED;
        }
        return RT_OK;
    }
    if (rt_conn_err_code(s) != RT_OK) {
        snprintf(emsg, esize, "%s", rt_conn_err_msg(s));
        return rt_conn_err_code(s);
    }
    if (s->state == RT_CS_SETUP || s->state == RT_CS_READY) {
        snprintf(emsg, esize, "connection lost");
        return RT_ECLOSED;
    }
    (void)c;
    /* over plain TCP, the likeliest cause is a TLS server given an http:// base_url */
    snprintf(emsg, esize, "connection to %s port %d failed before the WebSocket upgrade%s",
             s->host, s->port,
             s->use_tls ? "" : " (if the server speaks TLS, base_url must start with https://)");
    return RT_ECONNECT;
}

void rt_conn_free_link(struct rt_session *s)
{
    rt_conn_cancel_lookup(s);        /* the attempt is over: nobody waits for it */
    rt_msg_free(s->setup);
    s->setup = NULL;
    rt_free(s->addrs);
    s->addrs = NULL;
    rt_free(s->pong);
    s->pong = NULL;
    s->pong_len = 0;
    rt_ws_rx_free(&s->rx);
    rt_buf_free(&s->rx_stash);
    rt_conn_upgrade_free(s);
    rt_tls_free(&s->tls);
}

/* One of the end's events, sized to its text; when memory has run out, the session's
 * spare (room for `cap` bytes) with as much of the text as fits. */
static struct rt_event *rt_conn_end_event(struct rt_event **spare, size_t cap, int code,
                                          const char *text, size_t len)
{
    struct rt_event *ev = rt_event_new((*spare)->type, code, len, text, len);

    if (ev)
        return ev;
    ev = *spare;
    *spare = NULL;
    len = rt_utf8_valid_prefix(text, len < cap ? len : cap);
    memcpy(ev->data, text, len);
    ev->data[len] = '\0';
    ev->len = len;
    ev->code = code;
    return ev;
}

void rt_conn_finish(struct rt_session *s)
{
    struct rt_client *c = s->client;
    char emsg[RT_ERROR_DATA_MAX];
    const char *reason;
    enum rt_code ecode;
    size_t unsent, unsent_bytes, rlen;
    struct rt_event *closed;
    bool by_peer;
    int code;

    if (s->state == RT_CS_DONE)
        return;
    lws_sul_cancel(&s->sul_phase);
    lws_sul_cancel(&s->sul_close);
    lws_sul_cancel(&s->sul_alive);
    rt_client_unlink(c, s);
    rt_conn_stop_sends(s);
    rt_conn_unsent(s, &unsent, &unsent_bytes);
    ecode = rt_conn_outcome(s, emsg, sizeof emsg, &code, &reason, &by_peer, unsent);
    if (unsent || ((s->reconnecting || s->gave_up) &&
                   (s->replay.count || s->gave_way || s->unsure))) {
        size_t n = strlen(emsg);
        if (ecode == RT_OK && s->close_acted && s->reconnecting) {
            ecode = RT_ECLOSED;
            n = (size_t)snprintf(emsg, sizeof emsg, "close: asked while the session was "
                                 "reconnecting, after %.150s",
                                 s->lost_reason ? s->lost_reason : "connection lost");
        } else if (ecode == RT_OK && s->close_acted && s->state < RT_CS_READY) {
            /* Nothing was ever written: no timeout to speak of. */
            ecode = RT_ECLOSED;
            n = (size_t)snprintf(emsg, sizeof emsg, "close: asked before the session was ready");
        } else if (ecode == RT_OK && s->close_acted && s->close_sent) {
            /* The close went out before them: they were held for a call's answer (the
             * count says so), not cut by the bound. */
            ecode = RT_ECLOSED;
            n = (size_t)snprintf(emsg, sizeof emsg, "close: asked while the model waited "
                                 "for a tool call's answer");
        } else if (ecode == RT_OK) {
            ecode = s->close_acted ? RT_ETIMEOUT : RT_ECLOSED;
            n = (size_t)snprintf(emsg, sizeof emsg, s->close_acted
                                 ? "close: not everything was written within %g s"
                                 : "the session ended", s->close_timeout);
        }
        rt_conn_count_lost(s, emsg, sizeof emsg, n, unsent, unsent_bytes);
    }
    ecode = rt_conn_count_dropped(s, ecode, emsg, sizeof emsg);
    /* No reconnect will ask for a token: the credential (its refresh timer, the HTTP
     * worker) ends with its owner's reference, not with the session's memory, and
     * before the owner can see the closed event. */
    rt_auth_free(s->auth);
    s->auth = NULL;
    /* Nothing waits any more, before the owner can see the closed event (stats). */
    atomic_store(&s->tx_bytes, 0);
    atomic_store(&s->stats.replay_bytes, 0);
    /* The place is free before the owner can see the closed event. */
    rt_client_session_done(c, s);
    atomic_store(&s->ended, true);
    /* An owner's rt_session_tell that looked before `ended` was set pushes its event
     * before the closed one, which stays last. */
    while (atomic_load(&s->telling))
        sched_yield();           /* a push under way: a few instructions */
    if (ecode != RT_OK)
        rt_evq_push(&s->events, rt_conn_end_event(&s->ev_error, RT_SPARE_ERROR_MAX,
                                                  (int)ecode, emsg, strlen(emsg)));
    rlen = strlen(reason);
    if (rlen > RT_WS_REASON_MAX)
        rlen = RT_WS_REASON_MAX;
    /* the last event: the descriptor stays readable after it (rt_evq_push_last) */
    closed = rt_conn_end_event(&s->ev_closed, RT_SPARE_CLOSED_MAX, code, reason, rlen);
    closed->seq = by_peer ? RT_EV_CLOSED_BY_PEER : 0;
    rt_evq_push_last(&s->events, closed);

    /* Nothing of the connection is needed any more. */
    rt_queue_clear(&s->sendq);
    rt_queue_clear(&s->replay);
    rt_msg_free(s->cur);
    s->cur = NULL;
    rt_conn_free_link(s);
    s->state = RT_CS_DONE;
    s->wsi = NULL;
    if (c->stop_seen && !c->live)
        rt_client_leave_loop(c);
    rt_session_unref(s);
}

void rt_conn_abort(struct rt_session *s)
{
    s->aborted = true;
    /* The connection outlives the session here: lws closes it when the context goes,
     * and its callbacks must not find the session, which finishing may free. */
    if (s->wsi)
        lws_set_wsi_user(s->wsi, NULL);
    if (!rt_conn_err_code(s) && !s->close_acted)
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "%s",
                     atomic_load(&s->client->cut) == RT_CUT_NOW ? "rt_client_close_now ended it"
                                                                : "the client was freed");
    rt_conn_finish(s);
}
