/* What the server's messages say about resumption, as the I/O thread reads them (see
 * rt_conn.h and docs/design.md, "Resilience"): handles kept and published, the replay
 * they cover, turns, and the goAway timer that leaves the connection to resume on a new
 * one (rt_conn_resume.c reconnects). */
#include "rt_conn.h"

#include <string.h>

#include "rt_alloc.h"
#include "rt_clock.h"

/* Leaves the connection to resume on a new one, once the message being written is out. */
static void rt_conn_recycle(struct rt_session *s)
{
    if (s->recycle || !s->wsi || s->state != RT_CS_READY || s->close_acted || s->fail_code ||
        !s->handle_len)
        return;   /* without a handle there is nothing to resume: the server's close ends it */
    s->recycle = true;
    lws_sul_cancel(&s->sul_phase);
    rt_conn_want_write(s);           /* the writer finishes the message, then closes */
}

static void rt_conn_goaway_cb(lws_sorted_usec_list_t *sul)
{
    rt_conn_recycle(lws_container_of(sul, struct rt_session, sul_phase));
}

/* goAway: leave at once when nothing is under way. Otherwise (model output, a tool call,
 * or a transcript since the last handle) let the turn finish: the handle after it is the
 * one to resume with (from the one before, the turn would be sent and transcribed again).
 * But leave in time whatever happens: a timer, not the next message. A later goAway
 * whose deadline comes sooner moves the timer earlier (the server cuts the connection at
 * its own deadline), never later. */
static void rt_conn_goaway(struct rt_session *s, double time_left)
{
    double leave = rt_resume_goaway_leave(time_left);
    double at = rt_clock_now() + leave;
    bool again = s->goaway;

    s->goaway = true;
    if (s->recycle)
        return;
    if (!s->model_busy && s->handle_len) {
        rt_conn_recycle(s);
        return;
    }
    if (again && at >= s->goaway_at)
        return;
    s->goaway_at = at;
    rt_loop_timer(&s->client->loop, &s->sul_phase, rt_conn_goaway_cb,
                  (lws_usec_t)(leave * (double)LWS_USEC_PER_SEC));
}

/* Whether a boundary parsed now was sent within about a round trip: reading is not
 * paused, the bytes are not ones stashed before a pause, and this read began with the
 * backlog of the last pause read out (rt_conn_readable). */
static bool rt_conn_caught_up(const struct rt_session *s)
{
    return !s->reading_paused && !s->feeding_stash && !s->rx_stash.len && s->read_fresh;
}

/* Drops from replay what a handle covers. Without the server's index (Gemini) a message
 * written while reading was paused is covered by a boundary parsed late: the server may
 * have issued the handle before it read the message, and a resume from that handle would
 * not have it. Such messages are counted, and told at the next reconnect, unless this
 * boundary was parsed caught up (the handle then holds all of them). */
static void rt_conn_replay_covered(struct rt_session *s, uint64_t upto, bool exact)
{
    bool certain = exact || s->boundary_caught_up;

    while (!rt_queue_empty(&s->replay) && s->replay_first < upto) {
        if (!certain && s->replay_first >= s->behind_from) {
            s->unsure++;
            s->unsure_bytes += s->replay.head->len;
        }
        rt_conn_replay_drop_first(s);
    }
    if (certain) {
        s->unsure = s->unsure_bytes = 0;
        if (!s->reading_paused)
            s->behind_from = UINT64_MAX;
    }
}

/* Publishes the handle just kept for the owner, with whether it holds everything the
 * owner queued: all written is covered (`upto`), nothing waits to be written, and it
 * holds the history. The count is read before the intake is taken, so each send it
 * counts is in the send queue when that is looked at. */
static void rt_conn_publish_handle(struct rt_session *s, const struct rt_scan *sc,
                                   uint64_t upto, bool lacks)
{
    uint64_t queued = atomic_load(&s->queued);
    bool kept = s->handle_len == sc->handle_len &&
                !memcmp(s->handle, sc->handle, sc->handle_len);   /* not out of memory */

    rt_conn_take_intake(s);
    rt_session_publish(s, sc->handle, sc->handle_len, kept && !lacks && upto >= s->tx_seq &&
                       !s->cur && rt_queue_empty(&s->sendq), queued);
}

bool rt_conn_track(struct rt_session *s, const struct rt_scan *sc, const char *text,
                   size_t len)
{
    bool lacks = false;

    /* a transcript is a turn under way too: the user's, before the model answers it */
    if (sc->model_output || sc->tool_call || sc->transcription)
        s->model_busy = true;
    if (sc->tool_call)
        rt_conn_calls_note(s, text, len, s->rx_seq);
    if (sc->turn_complete) {
        s->boundary = s->tx_seq;
        s->boundary_caught_up = s->behind_from == UINT64_MAX || rt_conn_caught_up(s);
        s->turn_through = true;
    }
    if (sc->update && sc->resumable && sc->handle &&
        rt_resume_handle_ok(sc->handle, sc->handle_len)) {
        uint64_t upto = rt_resume_consumed(s->boundary, s->tx_seq, s->conn_base, sc->has_index,
                                           sc->last_index);

        if (s->handle_len != sc->handle_len || memcmp(s->handle, sc->handle, sc->handle_len)) {
            char *h = rt_strndup(sc->handle, sc->handle_len);
            if (h) {                     /* out of memory: the previous handle is kept */
                rt_free(s->handle);
                s->handle = h;
                s->handle_len = sc->handle_len;
                s->handle_seq = s->rx_seq;   /* a repeated handle is the same state */
            }
        }
        s->model_busy = false;
        if (!rt_queue_empty(&s->replay) && s->replay_first < upto)
            s->gave_way = s->gave_way_bytes = 0;   /* given up before: consumed too */
        rt_conn_replay_covered(s, upto, sc->has_index);
        /* what this handle covers is dropped: the history left is what it lacks */
        lacks = rt_conn_history_unsaved(s);
        if (!lacks)                      /* a resume from it holds their calls */
            rt_conn_calls_covered(s, s->handle_seq);
        rt_conn_publish_handle(s, sc, upto, lacks);
        atomic_store(&s->stats.replay_bytes, s->replay.bytes);
        if (s->goaway)
            rt_conn_recycle(s);
    }
    if (sc->go_away)
        rt_conn_goaway(s, sc->time_left);
    return lacks;
}
