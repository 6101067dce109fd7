/* Sessions, the owner side's sends (any thread but the I/O thread): text, raw messages
 * and audio become messages on the session's intake (see rt_session.c). */
#include <limits.h>
#include <string.h>

#include "rt_client_private.h"
#include "rt_session_private.h"

#include "rt_utf8.h"
#include "rt_wire.h"

/* -1 with RT_EINVAL when there is no session: a host's failed rt_session_new must not
 * become a crash on its first send. */
static int rt_sess_check_null(const struct rt_session *s, struct rt_error *err)
{
    if (s)
        return 0;
    rt_error_set(err, RT_EINVAL, "session is NULL");
    return -1;
}

/* -1 with RT_EINVAL when json[0..len) is not UTF-8, naming the message (msgs[idx] of a
 * sendv, or the one message when idx < 0) and where it stops being UTF-8 (never its
 * text, which may hold anything). A message goes out as a text frame, which must be
 * UTF-8 (RFC 6455, 5.6 and 8.1): the server fails the connection on one that is not
 * (1007), and what was queued behind it is lost with no word of which send caused it.
 * The audio appends build their frames themselves (base64: ASCII) and skip this. */
static int rt_sess_check_utf8(const char *json, size_t len, long idx, struct rt_error *err)
{
    size_t at = rt_utf8_valid_prefix(json, len);

    if (at == len)
        return 0;
    if (idx < 0)
        rt_error_set(err, RT_EINVAL, "the message is not UTF-8 (byte %zu of %zu, 0x%02x): a "
                     "text frame must be, and the server would close the session on it "
                     "(1007)", at, len, (unsigned char)json[at]);
    else
        rt_error_set(err, RT_EINVAL, "msgs[%ld] is not UTF-8 (byte %zu of %zu, 0x%02x): a "
                     "text frame must be, and the server would close the session on it "
                     "(1007); nothing was queued", idx, at, len, (unsigned char)json[at]);
    return -1;
}

/* -1 with RT_ECLOSED for a parent's copy in a child of a fork (rt_fork.h). Asked before
 * the turn lock, which a parent thread may have held at the fork. */
static int rt_sess_check_fork(struct rt_session *s, struct rt_error *err)
{
    return rt_fork_check(&s->born, "a session", err);
}

/* -1 with RT_ECLOSED once the session is closed, else 0. */
static int rt_sess_check_closed(struct rt_session *s, struct rt_error *err)
{
    if (atomic_load(&s->closed)) {
        rt_error_set(err, RT_ECLOSED, "session closed");
        return -1;
    }
    return 0;
}

/* -1 with RT_ECLOSED once sends are refused, else 0. A send that makes no message (an
 * empty clip) asks this too: true from a session that has ended would say it went out. */
static int rt_sess_check_open(struct rt_session *s, struct rt_error *err)
{
    return rt_sess_check_fork(s, err) || rt_sess_check_closed(s, err) ? -1 : 0;
}

#ifdef RT_TEST_HOOKS
static void (*rt_sess_push_hook)(struct rt_session *s);

void rt_session_on_push(void (*hook)(struct rt_session *s))
{
    rt_sess_push_hook = hook;
}
#endif

/* The look at `closed`, the bound and the push of rt_sess_enqueue; *wake says whether the
 * I/O thread needs waking (the intake was empty). */
static int rt_sess_push(struct rt_session *s, struct rt_msg *chain, size_t bytes, bool *wake,
                        struct rt_error *err)
{
    size_t before;

    if (rt_sess_check_closed(s, err))
        return -1;
    if (bytes > s->max_queue) {
        rt_error_set(err, RT_EBUSY, "a send of %zu bytes exceeds max_queue_bytes (%zu)",
                     bytes, s->max_queue);
        return -1;
    }
    before = atomic_fetch_add(&s->tx_bytes, bytes);
    /* An answer is what lets the input held for it go: refusing it for want of room
     * would hold that input for ever. Each answer may pass the bound
     * (by at most its own size: one larger than the bound is refused above). */
    if (before + bytes > s->max_queue &&
        !((chain->flags & RT_MSG_TOOL_RESPONSE) && atomic_load(&s->gate_held))) {
        atomic_fetch_sub(&s->tx_bytes, bytes);
        rt_error_set(err, RT_EBUSY, "send queue full (%zu of %zu bytes waiting%s)", before,
                     s->max_queue, atomic_load(&s->gate_held)
                     ? ", held until the model's tool call is answered" : "");
        return -1;
    }
#ifdef RT_TEST_HOOKS
    if (rt_sess_push_hook)
        rt_sess_push_hook(s);        /* a test acts between the look and the push */
#endif
    *wake = rt_mpsc_push_chain(&s->intake, &chain->link);
    /* after the push: the I/O thread that counts it finds the chain (rt_conn_track) */
    atomic_fetch_add(&s->queued, 1);
    return 0;
}

/* Hands a chain of `bytes` payload bytes to the I/O thread, or refuses it whole. Counted
 * in `sending` from before the look at `closed` to after the push: the end sets `closed`,
 * then waits for no send to be counted before it counts what was not sent, so a send
 * either is refused (RT_ECLOSED) or is in the intake when the end counts it. */
static int rt_sess_enqueue(struct rt_session *s, struct rt_msg *chain, size_t bytes,
                           struct rt_error *err)
{
    bool wake = false;
    int rc;

    /* every caller asked rt_sess_check_fork before the turn lock */
    atomic_fetch_add(&s->sending, 1);
    rc = rt_sess_push(s, chain, bytes, &wake, err);
    atomic_fetch_sub(&s->sending, 1);
    if (wake)
        rt_client_schedule(s->client, s, RT_REQ_SEND);
    return rc;
}

/* Under manual activity detection a session changes its turn state and its intake
 * together under turn_lock: otherwise a commit on one thread between another thread's
 * look at in_turn and its enqueue ends a turn the wire has not started (activityEnd
 * twice, then audio without activityStart). Other sessions need no lock: for them a
 * commit racing an append at worst leaves audioStreamEnd to the next commit. Returns
 * whether it locked. */
static bool rt_sess_turn_lock(struct rt_session *s)
{
    if (!s->manual_activity)
        return false;
    pthread_mutex_lock(&s->turn_lock);
    return true;
}

static void rt_sess_turn_unlock(struct rt_session *s, bool locked)
{
    if (locked)
        pthread_mutex_unlock(&s->turn_lock);
}

/* Under manual activity detection, what a send of ready-made messages (an audio item,
 * send_wire) does to the turn append_audio opens. An activityStart while appended audio
 * waits for commit_audio would open an activity inside another: refused (RT_EINVAL).
 * Otherwise *open says what the chain's last activity message leaves: -1 no change, 0
 * no activity open, 1 one open. */
static int rt_sess_activity(struct rt_session *s, const struct rt_msg *chain, int *open,
                            struct rt_error *err)
{
    *open = -1;
    if (!s->manual_activity)
        return 0;
    for (const struct rt_msg *m = chain; m; m = rt_msg_next(m)) {
        if (!(m->flags & (RT_MSG_ACT_START | RT_MSG_ACT_END)))
            continue;
        if (*open < 0 && (m->flags & RT_MSG_ACT_START) && atomic_load(&s->in_turn)) {
            rt_error_set(err, RT_EINVAL, "automatic activity detection is off and the audio "
                         "appended since the last commit_audio() is an open activity: an "
                         "activityStart now (an audio item, or sent as is) would open another "
                         "inside it; call commit_audio() first");
            return -1;
        }
        *open = (m->flags & RT_MSG_ACT_START) != 0;
    }
    return 0;
}

/* Queues a chain of ready-made messages (flags set): the activity rule, then the queue. */
static int rt_sess_send_chain(struct rt_session *s, struct rt_msg *chain, size_t bytes,
                              struct rt_error *err)
{
    bool locked;
    int open, rc;

    if (rt_sess_check_fork(s, err))
        return -1;
    locked = rt_sess_turn_lock(s);
    rc = rt_sess_activity(s, chain, &open, err) || rt_sess_enqueue(s, chain, bytes, err);
    if (!rc && open >= 0)
        atomic_store(&s->in_turn, open == 1);
    rt_sess_turn_unlock(s, locked);
    if (rc)
        return -1;
    if (open == 0)
        rt_session_mark_turn_end(s);
    return 0;
}

/* One message with the given flags (RT_MSG_INITIAL, or those its text implies). */
static int rt_sess_send_one(struct rt_session *s, const char *json, size_t len,
                            unsigned flags, struct rt_error *err)
{
    struct rt_msg *m;

    rt_error_clear(err);
    if (rt_sess_check_null(s, err))
        return -1;
    if (len == 0)                 /* a send of nothing queues nothing */
        return rt_sess_check_open(s, err);
    if (!json) {
        rt_error_set(err, RT_EINVAL, "json is NULL but len is %zu", len);
        return -1;
    }
    if (rt_sess_check_utf8(json, len, -1, err))
        return -1;
    if (!(m = rt_msg_copy(json, len))) {
        rt_error_set(err, RT_ENOMEM, "out of memory queuing a %zu-byte message", len);
        return -1;
    }
    m->flags = (unsigned char)(flags | rt_wire_flags(json, len));
    if (rt_sess_send_chain(s, m, len, err)) {
        rt_msg_free(m);
        return -1;
    }
    return 0;
}

int rt_session_send(struct rt_session *s, const char *json, size_t len, struct rt_error *err)
{
    return rt_sess_send_one(s, json, len, 0, err);
}

int rt_session_send_initial(struct rt_session *s, const char *json, size_t len,
                            struct rt_error *err)
{
    int rc;

    rt_error_clear(err);
    if (rt_sess_check_null(s, err) || rt_sess_check_open(s, err))
        return -1;
    /* Busy before the look, so that the I/O thread, which shuts first and then waits
     * for no call to be busy, either finds this message or is seen here to have shut. */
    atomic_fetch_add(&s->initial_busy, 1);
    if (len && atomic_load(&s->initial_shut)) {
        rt_error_set(err, RT_EINVAL, "initial history comes before every other message, "
                     "and the session has written another since setupComplete: the server "
                     "would take it as a new turn (send it with rt_session_send)");
        rc = -1;
    } else {
        rc = rt_sess_send_one(s, json, len, RT_MSG_INITIAL, err);
        if (rc == 0)
            atomic_store(&s->initial_queued, true);
    }
    atomic_fetch_sub(&s->initial_busy, 1);
    return rc;
}

/* A copy of msg with the numbers of ans (NULL or none: without), flags set; NULL out of
 * memory. */
static struct rt_msg *rt_sess_msg(const struct iovec *msg, const struct rt_answer_calls *ans)
{
    unsigned n = ans && ans->seq && ans->n <= UINT_MAX ? (unsigned)ans->n : 0;
    struct rt_msg *m = rt_msg_new_calls(msg->iov_len, n);

    if (!m)
        return NULL;
    memcpy(m->data, msg->iov_base, msg->iov_len);
    if (n)
        memcpy(rt_msg_calls(m), ans->seq, n * sizeof ans->seq[0]);
    m->flags = (unsigned char)rt_wire_flags(m->data, m->len);
    return m;
}

int rt_session_sendv(struct rt_session *s, const struct iovec *msgs, size_t n,
                     struct rt_error *err)
{
    return rt_session_sendv_answers(s, msgs, NULL, n, err);
}

int rt_session_sendv_answers(struct rt_session *s, const struct iovec *msgs,
                             const struct rt_answer_calls *ans, size_t n, struct rt_error *err)
{
    struct rt_queue q;
    struct rt_msg *m;

    rt_error_clear(err);
    if (rt_sess_check_null(s, err))
        return -1;
    if (!msgs && n) {
        rt_error_set(err, RT_EINVAL, "msgs is NULL but n is %zu", n);
        return -1;
    }
    rt_queue_init(&q);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].iov_len == 0)
            continue;             /* an empty message would be an empty frame */
        if (!msgs[i].iov_base) {
            rt_queue_clear(&q);
            rt_error_set(err, RT_EINVAL, "msgs[%zu].iov_base is NULL but iov_len is %zu", i,
                         msgs[i].iov_len);
            return -1;
        }
        if (rt_sess_check_utf8(msgs[i].iov_base, msgs[i].iov_len, (long)i, err)) {
            rt_queue_clear(&q);
            return -1;
        }
        if (msgs[i].iov_len > SIZE_MAX - q.bytes) {
            rt_queue_clear(&q);
            rt_error_set(err, RT_EBUSY, "a send of %zu messages exceeds max_queue_bytes (%zu)",
                         n, s->max_queue);
            return -1;
        }
        if (!(m = rt_sess_msg(&msgs[i], ans ? &ans[i] : NULL))) {
            rt_queue_clear(&q);
            rt_error_set(err, RT_ENOMEM, "out of memory queuing %zu messages", n);
            return -1;
        }
        rt_queue_push(&q, m);
    }
    if (rt_queue_empty(&q))
        return rt_sess_check_open(s, err);
    if (rt_sess_send_chain(s, q.head, q.bytes, err)) {
        rt_queue_clear(&q);
        return -1;
    }
    return 0;
}

int rt_session_append_audio(struct rt_session *s, const void *pcm, size_t len,
                            struct rt_error *err)
{
    struct rt_msg *chain, *start;
    size_t bytes;
    bool locked;
    int rc = -1;

    rt_error_clear(err);
    if (rt_sess_check_null(s, err))
        return -1;
    if (len == 0)
        return rt_sess_check_open(s, err);
    if (!pcm) {
        rt_error_set(err, RT_EINVAL, "pcm is NULL but len is %zu", len);
        return -1;
    }
    if (rt_sess_check_fork(s, err))
        return -1;
    if (rt_wire_audio_checked(pcm, len, s->audio_mime, s->audio_mime_len, &chain, &bytes,
                              err))
        return -1;
    locked = rt_sess_turn_lock(s);
    if (s->manual_activity && !atomic_load(&s->in_turn)) {
        if (!(start = rt_wire_control_msg(RT_WIRE_ACTIVITY_START))) {
            rt_error_set(err, RT_ENOMEM, "out of memory queuing audio");
            goto out;
        }
        start->link.next = &chain->link;
        bytes += start->len;
        chain = start;
    }
    if (rt_sess_enqueue(s, chain, bytes, err) == 0) {
        atomic_store(&s->in_turn, true);
        chain = NULL;
        rc = 0;
    }
out:
    rt_sess_turn_unlock(s, locked);
    rt_msg_free_chain(chain);
    return rc;
}

void rt_session_mark_turn_end(struct rt_session *s)
{
    if (!s)
        return;
    atomic_store(&s->turn_end_ns, rt_now_ns());
}

int rt_session_commit_audio(struct rt_session *s, struct rt_error *err)
{
    struct rt_msg *m;
    bool locked;
    int rc = 0;

    rt_error_clear(err);
    if (rt_sess_check_null(s, err) || rt_sess_check_open(s, err))
        return -1;
    locked = rt_sess_turn_lock(s);
    if (locked ? !atomic_load(&s->in_turn) : !atomic_exchange(&s->in_turn, false)) {
        rt_sess_turn_unlock(s, locked);
        return 0;                     /* no audio since the last commit: nothing to end */
    }
    if (s->manual_activity || s->audio_stream_end) {
        m = rt_wire_control_msg(s->manual_activity ? RT_WIRE_ACTIVITY_END
                                                   : RT_WIRE_AUDIO_STREAM_END);
        if (!m) {
            rt_error_set(err, RT_ENOMEM, "out of memory committing audio");
            rc = -1;
        } else if (rt_sess_enqueue(s, m, m->len, err)) {
            rt_msg_free(m);
            rc = -1;
        }
    }
    /* Ended on the wire, or still open after a failure. Unlocked, the exchange already
     * lowered it: storing false now could hide an append made since. */
    if (locked || rc)
        atomic_store(&s->in_turn, rc != 0);
    rt_sess_turn_unlock(s, locked);
    if (rc)
        return -1;
    rt_session_mark_turn_end(s);
    return 0;
}
