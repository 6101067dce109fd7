/* The connection on the I/O thread: the upgrade, writing frames, reading frames and the
 * closing handshakes (see rt_conn.h).
 *
 * Writes: each WRITEABLE callback frames and masks as many waiting messages as fit into
 * the client's write buffer, encrypts them in one go and hands them to lws in one write.
 * Reads: lws hands over what one read of the socket returned (up to 64 KB); every record
 * in it is decrypted and every complete message becomes one event sized to fit. */
#include "rt_conn.h"

#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>

#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_wire.h"


/* ==================================================================== *
 *  S E N D I N G   B Y T E S
 * ==================================================================== */

/* Hands plaintext buf[0..n) to lws (buf has LWS_PRE bytes of room before it), through
 * TLS when the connection has it. -1 when the connection is lost (rt_conn_err set). */
/* lws 4.1 reads nothing from a socket while it holds output the socket did not take
 * (a partial write), and returns to the loop at once: with input waiting, the socket is
 * readable on every turn and the I/O thread spins until the output drains, which a
 * server that stops reading never lets happen. So reading is switched off while lws holds
 * output (nothing is read then anyway) and on again at the next WRITEABLE, which lws gives
 * only once it holds nothing. */
static int rt_conn_hold_reads(struct rt_session *s)
{
    if (s->rx_held || !lws_partial_buffered(s->wsi))
        return 0;
    s->rx_held = true;
    return s->reading_paused ? 0 : lws_rx_flow_control(s->wsi, 0);
}

static int rt_conn_release_reads(struct rt_session *s)
{
    if (!s->rx_held)
        return 0;
    s->rx_held = false;
    return s->reading_paused ? 0 : lws_rx_flow_control(s->wsi, 1);
}

int rt_conn_send(struct rt_session *s, unsigned char *buf, size_t n)
{
    struct rt_client *c = s->client;
    unsigned char *out = buf;
    size_t len = n;

    if (rt_tls_active(&s->tls)) {
        struct rt_error err;
        rt_error_clear(&err);
        out = c->tlsbuf + LWS_PRE;
        if (rt_tls_write(&s->tls, buf, n, out, RT_TLS_CHUNK, &len, &err)) {
            rt_error_set(rt_conn_err(s), err.code, "%s", err.msg);
            return -1;
        }
    }
    if (len && lws_write(s->wsi, out, len, LWS_WRITE_RAW) < 0)
        goto lost;
    /* Ciphertext that did not fit (an answer TLS owed while reading, or a big burst). */
    if (s->tls.spill.len) {
        int r = lws_write(s->wsi, (unsigned char *)s->tls.spill.data, s->tls.spill.len,
                          LWS_WRITE_RAW);
        rt_buf_free(&s->tls.spill);
        if (r < 0)
            goto lost;
    }
    if (rt_conn_hold_reads(s) < 0)
        goto lost;
    return 0;
lost:
    rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost while sending");
    return -1;
}

/* ==================================================================== *
 *  W R I T I N G
 * ==================================================================== */

/* Appends one masked control frame to the write buffer. */
static int rt_conn_control(unsigned char *buf, size_t *fill, int opcode,
                           const unsigned char *payload, size_t len)
{
    unsigned char key[4];

    if (rt_ws_mask_key(key))
        return -1;
    *fill += rt_ws_head(buf + *fill, opcode, len, key);
    rt_ws_mask(buf + *fill, payload, len, key, 0);
    *fill += len;
    return 0;
}

/* The close frame this connection should send now, if any: code and reason. */
static bool rt_conn_close_due(struct rt_session *s, int *code, const char **reason)
{
    if (s->close_sent)
        return false;
    if (s->fail_code) {
        *code = s->fail_code;
        *reason = s->notes ? s->notes->fail_reason : "";
        return true;
    }
    if (s->peer_closed) {          /* answer the server's close with its code */
        *code = s->peer_code == 1005 || !rt_ws_close_code_ok(s->peer_code) ? 1000 : s->peer_code;
        *reason = "";
        return true;
    }
    if (s->cur)
        return false;              /* a message is half written: finish it first */
    if (s->recycle) {
        *code = 1000;
        *reason = "resuming on a new connection";
        return true;
    }
    if (s->close_acted && !rt_mpsc_empty(&s->intake))
        rt_conn_take_intake(s);      /* sent before the close: they go first */
    if (s->close_acted && (s->state != RT_CS_READY || rt_queue_empty(&s->sendq))) {
        *code = s->close_code;
        *reason = s->close_reason ? s->close_reason : "";
        return true;
    }
    return false;
}

/* A message is fully written: count it and keep it for replay, or free it. */
static void rt_conn_written(struct rt_session *s)
{
    struct rt_msg *m = s->cur;

    s->cur = NULL;
    atomic_fetch_add(&s->stats.bytes_sent, m->len);
    atomic_fetch_add(&s->stats.messages_sent, 1);
    if (s->cur_setup) {
        rt_msg_free(m);
        s->cur_setup = false;
        return;
    }
    if (s->resume_on) {
        if (rt_queue_empty(&s->replay))
            s->replay_first = s->tx_seq;
        if (m->flags & RT_MSG_INITIAL)
            s->initial_in_replay = true;
        rt_queue_push(&s->replay, m);
        atomic_store(&s->stats.replay_bytes, s->replay.bytes);
    } else {
        rt_msg_free(m);
    }
    s->tx_seq++;
}

/* The first message other than initial history is about to be written: from now on
 * rt_session_send_initial refuses (history after it would be a new turn). A call that
 * looked before the refusal pushes its message before we look at the intake again, and
 * that message goes first (rt_conn_take_intake). */
static void rt_conn_shut_initial(struct rt_session *s)
{
    if (atomic_load(&s->initial_shut))
        return;
    atomic_store(&s->initial_shut, true);
    while (atomic_load(&s->initial_busy))
        sched_yield();           /* a push under way: a few instructions */
    rt_conn_take_intake(s);
}

/* The next message to write, or NULL. */
static struct rt_msg *rt_conn_next_msg(struct rt_session *s)
{
    struct rt_msg *m;

    if (s->state == RT_CS_SETUP && s->setup) {
        m = s->setup;
        s->setup = NULL;
        s->cur_setup = true;
        return m;
    }
    if (s->state != RT_CS_READY || s->recycle || s->fail_code || s->peer_closed)
        return NULL;
    if (rt_queue_empty(&s->sendq))
        rt_conn_take_intake(s);
    if (!rt_queue_empty(&s->sendq) && !(s->sendq.head->flags & RT_MSG_INITIAL))
        rt_conn_shut_initial(s);
    m = rt_queue_pop(&s->sendq);
    if (m) {
        atomic_fetch_sub(&s->tx_bytes, m->len);
        s->cur_setup = false;
    }
    return m;
}

bool rt_conn_tx_pending(const struct rt_session *s)
{
    int code;
    const char *reason;

    return s->cur || s->pong_due || s->tls.spill.len || (s->ping_out && !s->ping_sent) ||
           (s->state == RT_CS_SETUP && s->setup) ||
           (s->state == RT_CS_READY && !s->recycle && !rt_queue_empty(&s->sendq)) ||
           rt_conn_close_due((struct rt_session *)s, &code, &reason);
}

/* The close frame of a failed connection is written. RFC 6455 7.1.7 lets the client
 * close the TCP connection then, without the server's answer (which the parser no longer
 * reads): hang up once lws holds none of the frame (lws drops what it holds when a raw
 * socket closes). Until then the next WRITEABLE, which lws gives once it holds nothing,
 * looks again; the 1 s bound ends a server that does not read. */
static void rt_conn_fail_flushed(struct rt_session *s)
{
    if (!s->wsi)
        return;
    if (lws_partial_buffered(s->wsi))
        rt_conn_want_write(s);
    else
        rt_conn_hang_up(s);
}

int rt_conn_writeable(struct rt_session *s)
{
    unsigned char *buf = s->client->txbuf + LWS_PRE;
    const size_t cap = RT_TX_CHUNK;
    size_t fill = 0;
    const char *reason;
    int code;

    if (s->wsi && rt_conn_release_reads(s) < 0) {
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost: cannot resume reading");
        return -1;
    }
    if (s->state == RT_CS_UPGRADING)
        return rt_conn_write_request(s, buf, cap);
    if (s->close_sent && s->fail_code)
        rt_conn_fail_flushed(s);
    if (s->state < RT_CS_SETUP || s->close_sent)
        return 0;
    if (s->pong_due) {
        if (rt_conn_control(buf, &fill, RT_WS_PONG, s->pong, s->pong_len))
            goto nokey;
        s->pong_due = false;
        rt_free(s->pong);
        s->pong = NULL;
        s->pong_len = 0;
    }
    if (s->ping_out && !s->ping_sent) {
        if (rt_conn_control(buf, &fill, RT_WS_PING, NULL, 0))
            goto nokey;
        s->ping_sent = true;
    }
    /* As many waiting messages as fit, each one frame; a long one continues next time. */
    while (cap - fill > RT_WS_HEAD_MAX) {
        size_t m;
        if (!s->cur) {
            if (rt_conn_close_due(s, &code, &reason) || !(s->cur = rt_conn_next_msg(s)))
                break;
            if (rt_ws_mask_key(s->cur_key))
                goto nokey;
            s->cur_off = 0;
            fill += rt_ws_head(buf + fill, RT_WS_TEXT, s->cur->len, s->cur_key);
        }
        m = s->cur->len - s->cur_off;
        if (m > cap - fill)
            m = cap - fill;
        rt_ws_mask(buf + fill, s->cur->data + s->cur_off, m, s->cur_key, s->cur_off);
        fill += m;
        s->cur_off += m;
        if (s->cur_off < s->cur->len)
            break;
        rt_conn_written(s);
    }
    if (cap - fill >= RT_WS_HEAD_MAX + 2 + RT_WS_REASON_MAX &&
        rt_conn_close_due(s, &code, &reason)) {
        unsigned char pl[2 + RT_WS_REASON_MAX];
        size_t rl = strlen(reason);
        pl[0] = (unsigned char)(code >> 8);
        pl[1] = (unsigned char)code;
        memcpy(pl + 2, reason, rl);
        if (rt_conn_control(buf, &fill, RT_WS_CLOSE, pl, 2 + rl))
            goto nokey;
        s->close_sent = true;
        s->close_sent_code = code;
    }
    if ((fill || s->tls.spill.len) && rt_conn_send(s, buf, fill))
        return -1;
    if (s->close_sent) {
        /* The server answers a close with its own (or has sent it already): wait for
         * it, within the close bound, then hang up. A failed connection waits only for
         * its close frame to leave, within 1 s (a server that does not read). */
        if (s->peer_closed || s->fail_code)
            rt_loop_timer(&s->client->loop, &s->sul_close, rt_conn_close_timer,
                          LWS_USEC_PER_SEC);
        else if (!s->close_acted)
            rt_loop_timer(&s->client->loop, &s->sul_close, rt_conn_close_timer,
                          (lws_usec_t)(s->close_timeout * (double)LWS_USEC_PER_SEC));
        if (s->fail_code)
            rt_conn_fail_flushed(s);
        return 0;
    }
    if (rt_conn_tx_pending(s))
        rt_conn_want_write(s);
    return 0;
nokey:
    rt_error_set(rt_conn_err(s), RT_ETLS, "the random generator failed");
    return -1;
}

/* ==================================================================== *
 *  R E A D I N G
 * ==================================================================== */

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

/* A complete server message (block from the parser: the event header's room, then the
 * text). Returns the parser's verdict. */
static int rt_conn_message(struct rt_session *s)
{
    struct rt_event *ev;
    size_t n, held;
    bool binary;

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
    if (s->resume_on && rt_conn_track(s, ev->data, n))
        ev->code |= RT_EV_HANDLE_LACKS_HISTORY;
    if (atomic_load_explicit(&s->turn_end_ns, memory_order_relaxed) &&
        rt_wire_has_audio(ev->data, n)) {
        long long t0 = atomic_exchange(&s->turn_end_ns, 0);
        if (t0)
            atomic_store(&s->stats.first_audio_ns, rt_now_ns() - t0);
    }
    held = rt_evq_push(&s->events, ev);
    if (held > s->max_receive) {
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

/* Parses plaintext bytes read; keeps what is left when reading pauses. -1 to close. */
int rt_conn_feed(struct rt_session *s, const unsigned char *p, size_t n)
{
    struct rt_error err;
    long used;

    if (s->fail_code || s->peer_closed)
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
        rt_error_set(rt_conn_err(s), err.code, "%s", err.msg);
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

    /* The bytes are in memory already: parsed now, past max_receive_bytes if need be
     * (each pass takes at least one message, so this ends). */
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

    if (!s->reading_paused || atomic_load(&s->events.bytes) > s->max_receive / 2)
        return;
    s->reading_paused = false;
    s->pause_told = false;
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
