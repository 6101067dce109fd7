/* The connection on the I/O thread, writing: frames, pings and pongs, the closing
 * handshakes (see rt_conn.h; reading is rt_conn_read.c).
 *
 * Each WRITEABLE callback frames and masks as many waiting messages as fit into the
 * client's write buffer, encrypts them in one go and hands them to lws in one write. */
#include "rt_conn.h"

#include <string.h>
#include <sched.h>

#include "rt_alloc.h"


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

/* Whether the next message is realtime input that a tool call holds: the Live API
 * closes the connection on realtime input while a call it waits on is unanswered, and
 * what follows it waits too, to keep the order. Only answers are written then. */
static bool rt_conn_held(const struct rt_session *s)
{
    return rt_conn_gate_shut(s) && !rt_queue_empty(&s->sendq) &&
           (s->sendq.head->flags & RT_MSG_REALTIME);
}

/* Whether the send queue holds a message that may be written now. */
static bool rt_conn_sendq_ready(const struct rt_session *s)
{
    if (rt_queue_empty(&s->sendq))
        return false;
    return !rt_conn_held(s) || rt_queue_has_flagged(&s->sendq, RT_MSG_TOOL_RESPONSE);
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
    /* what waits for a call's answer that will not come now is not sent (the end says so) */
    if (s->close_acted && (s->state != RT_CS_READY || !rt_conn_sendq_ready(s))) {
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
    if (rt_queue_empty(&s->sendq) || rt_conn_gate_shut(s))
        rt_conn_take_intake(s);      /* held: an answer may have come in behind */
    if (rt_conn_held(s)) {
        /* the model waits for an answer: answers go first, the rest after them */
        m = rt_queue_take_flagged(&s->sendq, RT_MSG_TOOL_RESPONSE);
    } else {
        if (!rt_queue_empty(&s->sendq) && !(s->sendq.head->flags & RT_MSG_INITIAL))
            rt_conn_shut_initial(s);
        m = rt_queue_pop(&s->sendq);
    }
    if (m) {
        atomic_fetch_sub(&s->tx_bytes, m->len);
        s->cur_setup = false;
        if (m->flags & RT_MSG_TOOL_RESPONSE)
            rt_conn_gate_answered(s, m);
    }
    return m;
}

bool rt_conn_tx_pending(const struct rt_session *s)
{
    int code;
    const char *reason;

    return s->cur || s->pong_due || s->tls.spill.len || (s->ping_out && !s->ping_sent) ||
           (s->state == RT_CS_SETUP && s->setup) ||
           (s->state == RT_CS_READY && !s->recycle && rt_conn_sendq_ready(s)) ||
           rt_conn_close_due((struct rt_session *)s, &code, &reason);
}

/* The close frame of a failed connection is written. RFC 6455 7.1.7 lets the client
 * close the TCP connection then, without the server's answer (which the parser no longer
 * reads): hang up once lws holds none of the frame (lws drops what it holds when a raw
 * socket closes). Until then the next WRITEABLE, which lws gives once it holds nothing,
 * looks again; the 1 s bound ends a server that does not read. */
static void rt_conn_fail_flushed(struct rt_session *s)
{
    if (!s->wsi || s->wr_shut)
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
    /* what a message has at least when it is first: a pong and a ping may go before it */
    const size_t whole = cap - 2 * RT_WS_CONTROL_MAX;
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
    /* As many waiting messages as fit, each one frame. A long one goes in fragments, one
     * a call, so that every call ends at a frame boundary: the pong and ping above must
     * never land inside a frame (RFC 6455 5.4), and with fragments they need not wait for
     * the end of a long message either. */
    while (cap - fill > RT_WS_HEAD_MAX) {
        size_t n;
        if (!s->cur) {
            if (rt_conn_close_due(s, &code, &reason) || !(s->cur = rt_conn_next_msg(s)))
                break;
            s->cur_off = 0;
        }
        if (rt_ws_frame_next(buf + fill, cap - fill, whole, RT_WS_TEXT, s->cur->data,
                             s->cur->len, &s->cur_off, &n))
            goto nokey;
        fill += n;
        if (s->cur_off < s->cur->len)
            break;               /* the rest next time: as a fragment, or whole */
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
