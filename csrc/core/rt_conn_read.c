/* The connection on the I/O thread, reading: frames parsed from what lws read, the
 * read pause while the owner is behind, the stash it leaves (see rt_conn.h; writing is
 * rt_conn_io.c).
 *
 * lws hands over what one read of the socket returned (up to 64 KB); every record in it
 * is decrypted and every complete message becomes one event sized to fit. */
#include "rt_conn.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_wire.h"

static int rt_conn_readable_now(struct rt_session *s, const unsigned char *in, size_t len);

/* Stops reading until the owner catches up (its events hold max_receive bytes). */
static void rt_conn_pause(struct rt_session *s, size_t held)
{
    s->reading_paused = true;
    s->backlog_read = s->read_fresh = false;
    if (s->resume_on && s->behind_from == UINT64_MAX)
        s->behind_from = s->tx_seq;      /* what is written from now on may cross a boundary
                                            that waits unread: see rt_conn_track */
    atomic_store(&s->rx_paused, true);
    atomic_fetch_add(&s->stats.rx_pauses, 1);
    if (s->wsi && lws_rx_flow_control(s->wsi, 0) < 0) {
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost: cannot pause reading");
        rt_conn_kill(s);
    }
    if (!s->pause_told) {
        rt_conn_tell(s, "receiving paused: %zu bytes of server messages wait unread "
                     "(max_receive_bytes %zu); reading resumes as they are read", held,
                     s->max_receive);
        s->pause_told = true;
    }
}

/* Once the owner asked to close, reading goes on whatever it holds: the server's answer
 * to the close waits behind what it sent before, and a paused reader would leave it
 * unread until close_timeout. A message that comes while the unread ones hold
 * max_receive is then not kept (the owner would have to read an unbounded queue to reach
 * `closed`), only counted for the final error (rt_conn_finish). One that comes below the
 * bound is kept, as reading before the close keeps it (and then pauses): a message
 * larger than the bound itself is not lost to a caller who reads. True when ev was
 * dropped (and freed). */
static bool rt_conn_drop_closing(struct rt_session *s, struct rt_event *ev)
{
    if (!s->close_acted || atomic_load(&s->events.bytes) < s->max_receive)
        return false;
    s->rx_dropped++;
    s->rx_dropped_bytes += ev->len;
    rt_free(ev);
    return true;
}

/* A complete server message (block from the parser: the event header's room, then the
 * text). Returns the parser's verdict. */
static int rt_conn_message(struct rt_session *s)
{
    struct rt_event *ev;
    struct rt_scan sc;
    size_t n, held, cost;
    bool binary, scanned;

    ev = rt_ws_rx_take(&s->rx, &n, &binary);
    ev->link.next = NULL;
    ev->code = 0;
    ev->seq = 0;
    ev->len = n;
    atomic_fetch_add(&s->stats.bytes_received, n);
    atomic_fetch_add(&s->stats.messages_received, 1);
    if (s->state == RT_CS_SETUP) {
        if (!rt_wire_is_setup_complete(ev->data, n)) {
            rt_error_set(rt_conn_err(s), RT_EPROTOCOL,
                         "first server message is not setupComplete: %.120s", ev->data);
            rt_free(ev);
            rt_conn_fail(s, 1002, "expected setupComplete");
            return RT_WS_STOP;
        }
        if (s->phase_expired) {
            /* It came after the deadline, whose end of the connection is under way: ready
             * now, the session would be handed over and then ended by that timeout. */
            rt_free(ev);
            return RT_WS_STOP;
        }
        rt_conn_ready(s, ev);
        return RT_WS_GO_ON;
    }
    ev->type = RT_EV_MESSAGE;
    ev->seq = ++s->rx_seq;
    /* one scan serves the clock and resumption (a malformed message says nothing to
     * either: the binding reports it) */
    scanned = rt_scan_server(ev->data, n, &sc) == 0;
    if (scanned)
        rt_conn_clock(s, &sc);
    if (rt_conn_drop_closing(s, ev))
        return RT_WS_GO_ON;
    /* a call the model waits on holds what is sent next (rt_conn_gate.c) */
    if (s->gate_watch && memmem(ev->data, n, "toolCall", 8)) {
        bool held = rt_conn_gate_shut(s);
        rt_conn_gate_note(s, ev->data, n, ev->seq);
        if (held && !rt_conn_gate_shut(s) && rt_conn_tx_pending(s))
            rt_conn_want_write(s);       /* withdrawn: what waited for it goes now */
    }
    /* Tracked only while nothing was dropped: a handle in or after a dropped message
     * describes a state holding messages the owner never got; a resume from it would
     * skip them. The session keeps the last handle before the first drop. */
    if (s->rx_dropped)
        ev->code |= RT_EV_HANDLE_PAST_DROPPED;
    else if (s->resume_on && scanned && rt_conn_track(s, &sc, ev->data, n))
        ev->code |= RT_EV_HANDLE_LACKS_HISTORY;
    cost = rt_event_cost(ev);          /* before the push: the owner may free ev at once */
    held = rt_evq_push(&s->events, ev);
    if (held == cost)
        s->pause_told = false;         /* the queue was empty: the owner caught up */
    if (held > s->max_receive && !s->close_acted) {   /* (an owner's tell pushed beside) */
        rt_conn_pause(s, held);
        return RT_WS_STOP;
    }
    return RT_WS_GO_ON;
}

/* The server's close frame. */
static void rt_conn_peer_close(struct rt_session *s)
{
    struct rt_conn_notes *notes = rt_conn_notes(s);

    s->peer_closed = true;
    s->peer_code = s->rx.close_code;
    if (notes) {
        snprintf(notes->peer_reason, sizeof notes->peer_reason, "%s", s->rx.close_reason);
        rt_conn_mask_secrets(s, notes->peer_reason);   /* it may quote the request */
    }
    if (s->close_sent)
        rt_conn_kill(s);               /* the handshake is complete */
    else
        rt_conn_want_write(s);         /* answer it */
}

static int rt_conn_on_frame(void *ctx, enum rt_ws_event ev, const unsigned char *payload,
                            size_t len)
{
    struct rt_session *s = ctx;

    switch (ev) {
    case RT_WS_EV_MESSAGE:
        return rt_conn_message(s);
    case RT_WS_EV_PING:
        /* Answered with the latest ping's payload, held until the pong is written. */
        rt_free(s->pong);
        s->pong = NULL;
        s->pong_len = 0;
        if (len && !(s->pong = rt_malloc(len))) {
            rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory answering a ping");
            rt_conn_fail(s, 1011, "out of memory");
            return RT_WS_STOP;
        }
        if (len)
            memcpy(s->pong, payload, len);
        s->pong_len = len;
        s->pong_due = true;
        rt_conn_want_write(s);
        return RT_WS_GO_ON;
    case RT_WS_EV_PONG:
        return RT_WS_GO_ON;
    case RT_WS_EV_CLOSE:
        rt_conn_peer_close(s);
        return RT_WS_STOP;
    }
    return RT_WS_GO_ON;
}

void rt_conn_fail(struct rt_session *s, int code, const char *reason)
{
    struct rt_conn_notes *notes;

    if (s->fail_code)
        return;
    s->fail_code = code;
    if ((notes = rt_conn_notes(s))) {
        /* cut to the field, as the close reason is (a reason is at most 123 bytes) */
        size_t n = strnlen(reason, sizeof notes->fail_reason - 1);
        memcpy(notes->fail_reason, reason, n);
        notes->fail_reason[n] = '\0';
    }
    rt_ws_rx_free(&s->rx);
    rt_conn_want_write(s);
}

/* The server answered our close with a malformed close frame (an invalid code, ...). Ours
 * is out, so there is nothing left to send, no 1002 to answer with: the handshake ends
 * here, and the close's error says what the answer was. */
static void rt_conn_bad_answer(struct rt_session *s, const char *what)
{
    static const char frame[] = "close frame with ", bad_code[] = "close frame with an invalid";
    bool code = strncmp(what, bad_code, sizeof bad_code - 1) == 0;

    rt_error_set(rt_conn_err(s), RT_EPROTOCOL, "close: the server answered the close with %s%s",
                 code ? "" : "a ", code ? what + sizeof frame - 1 : what);
    s->peer_close_bad = true;
    rt_conn_kill(s);
}

/* Parses plaintext bytes read; keeps what is left when reading pauses. -1 to close. */
int rt_conn_feed(struct rt_session *s, const unsigned char *p, size_t n)
{
    struct rt_error err;
    long used;

    if (s->fail_code || s->peer_closed || s->peer_close_bad)
        return 0;                      /* closing: what follows does not count */
    if (s->reading_paused) {
        if (rt_buf_append(&s->rx_stash, p, n)) {
            rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory holding received bytes");
            return -1;
        }
        return 0;
    }
    rt_error_clear(&err);
    used = rt_ws_rx_feed(&s->rx, p, n, rt_conn_on_frame, s, &err);
    if (used < 0 && err.code == RT_EPROTOCOL && s->rx.opcode == RT_WS_CLOSE &&
        s->close_acted && s->close_sent) {
        rt_conn_bad_answer(s, err.msg);
        return 0;
    }
    if (used < 0) {
        rt_error_set(rt_conn_err(s), err.code, "%s", err.msg);
        rt_conn_fail(s, s->rx.fail_code, err.code == RT_ENOMEM ? "out of memory" : err.msg);
        return 0;
    }
    if ((size_t)used < n && s->reading_paused &&
        rt_buf_append(&s->rx_stash, p + used, n - (size_t)used)) {
        rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory holding received bytes");
        return -1;
    }
    return 0;
}

/* Plaintext from the server. */
static int rt_conn_plain(struct rt_session *s, const unsigned char *p, size_t n)
{
    if (s->state == RT_CS_UPGRADING)
        return rt_conn_answer(s, p, n);
    if (s->state < RT_CS_SETUP)
        return 0;
    return rt_conn_feed(s, p, n);
}

/* True when the socket has nothing more to read (the kernel's receive queue is empty). */
static bool rt_conn_socket_empty(struct rt_session *s)
{
    int fd = s->wsi ? (int)lws_get_socket_fd(s->wsi) : -1, unread = 1;

    return fd >= 0 && ioctl(fd, FIONREAD, &unread) == 0 && unread == 0;
}

/* While the session is behind (it paused reading and has not parsed a boundary caught
 * up since), notes whether the bytes read now came after the pause's backlog was read
 * out: a boundary among them is recent (rt_conn_track). One ioctl per read, only then. */
static int rt_conn_readable_behind(struct rt_session *s, const unsigned char *in, size_t len)
{
    int r;

    s->read_fresh = s->backlog_read;
    r = rt_conn_readable_now(s, in, len);
    if (!r && !s->reading_paused && !s->rx_stash.len && rt_conn_socket_empty(s))
        s->backlog_read = true;
    return r;
}

int rt_conn_readable(struct rt_session *s, const unsigned char *in, size_t len)
{
    if (s->behind_from != UINT64_MAX)
        return rt_conn_readable_behind(s, in, len);
    return rt_conn_readable_now(s, in, len);
}

static int rt_conn_readable_now(struct rt_session *s, const unsigned char *in, size_t len)
{
    struct rt_client *c = s->client;
    struct rt_error err;
    long k;

    s->last_rx = rt_clock_now();
    s->ping_out = s->ping_sent = false;
    if (!rt_tls_active(&s->tls))
        return rt_conn_plain(s, in, len);
    if (!s->tls.established) {
        size_t n;
        int r;

        rt_error_clear(&err);
        r = rt_tls_handshake(&s->tls, in, len, c->tlsbuf + LWS_PRE, RT_TLS_CHUNK, &n, &err);
        if (r < 0) {
            rt_error_set(rt_conn_err(s), err.code, "%s", err.msg);
            return -1;
        }
        if (n && lws_write(s->wsi, c->tlsbuf + LWS_PRE, n, LWS_WRITE_RAW) < 0) {
            rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost while sending");
            return -1;
        }
        if (r == 0)
            return 0;
        rt_conn_upgrade_start(s);
        /* What followed the handshake (session tickets) is read below. */
    } else {
        rt_tls_input(&s->tls, in, len);
    }
    /* Every record lws read goes through now: the ciphertext is lws's to reuse. */
    rt_error_clear(&err);
    while ((k = rt_tls_read(&s->tls, c->rxbuf, RT_RX_CHUNK, &err)) > 0)
        if (rt_conn_plain(s, c->rxbuf, (size_t)k))
            return -1;
    if (k < 0) {
        rt_conn_read_failed(s, &err);
        return -1;
    }
    if (s->tls.spill.len)
        rt_conn_want_write(s);
    return 0;
}

/* Parses bytes read before a pause: they may be old, so a boundary among them is not
 * "caught up" (rt_conn_track) whatever the socket holds now. */
static int rt_conn_feed_stash(struct rt_session *s, struct rt_buf *stash)
{
    int r;

    s->feeding_stash = true;
    r = rt_conn_feed(s, (unsigned char *)stash->data, stash->len);
    s->feeding_stash = false;
    return r;
}

void rt_conn_drain_stash(struct rt_session *s)
{
    struct rt_buf stash;

    /* The bytes are in memory already (at most one read, RT_SERV_BUF_SIZE, and a TLS
     * record): parsed now, past max_receive_bytes if need be (each pass takes at least
     * one message, so this ends); during our close, what passes the bound is dropped
     * (rt_conn_drop_closing). */
    while (s->rx_stash.len && !s->fail_code && !s->peer_closed && s->state >= RT_CS_SETUP) {
        stash = s->rx_stash;
        rt_buf_init(&s->rx_stash);
        s->reading_paused = false;
        if (rt_conn_feed_stash(s, &stash)) {
            rt_buf_free(&stash);
            break;
        }
        rt_buf_free(&stash);
    }
}

void rt_conn_resume_reading(struct rt_session *s)
{
    struct rt_buf stash;

    /* During our close it reads on at once: see rt_conn_drop_closing. */
    if (!s->reading_paused ||
        (!s->close_acted && atomic_load(&s->events.bytes) > s->max_receive / 2))
        return;
    s->reading_paused = false;
    atomic_store(&s->rx_paused, false);
    s->last_rx = rt_clock_now();
    /* What was read before the pause goes first; it may pause reading again. */
    stash = s->rx_stash;
    rt_buf_init(&s->rx_stash);
    if (stash.len && rt_conn_feed_stash(s, &stash)) {
        rt_buf_free(&stash);
        rt_conn_kill(s);
        return;
    }
    rt_buf_free(&stash);
    if (!s->reading_paused && !s->rx_held && s->wsi && lws_rx_flow_control(s->wsi, 1) < 0) {
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost: cannot resume reading");
        rt_conn_kill(s);
    }
}
