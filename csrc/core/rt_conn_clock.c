/* The first_audio clock on the I/O thread (see rt_conn.h): the seconds from the end of
 * the user's turn to the first audio of the response that answers it.
 *
 * The owner starts the clock for the turns it ends (commit_audio, a text send:
 * rt_session_mark_turn_end); under the server's activity detection the server says
 * when the user stopped speaking, and that starts it here. Such an end counts once: a
 * repeated one, with no start of speech between, is the same end. A turn that ends while
 * the model is still talking (a late end signal, a short word or a text over the answer)
 * is answered by the next response, not by the rest of this one. */
#include "rt_conn.h"

void rt_conn_clock_reset(struct rt_session *s)
{
    s->speech_seen = s->speech_open = false;
    s->talk_from_ns = 0;
}

/* The user stopped speaking: the clock starts, unless this end was counted already (a
 * server that never says when speech starts has every end counted). */
static void rt_conn_clock_speech_end(struct rt_session *s)
{
    if (s->speech_seen && !s->speech_open)
        return;
    s->speech_open = false;
    rt_session_mark_turn_end(s);
}

/* Output audio: it stops the clock of a turn that ended before its response began. */
static void rt_conn_clock_audio(struct rt_session *s)
{
    long long t0 = atomic_load_explicit(&s->turn_end_ns, memory_order_relaxed);

    if (!t0 || (s->talk_from_ns && t0 > s->talk_from_ns))
        return;
    /* only the end read here: one the owner marks meanwhile is a later turn's */
    if (atomic_compare_exchange_strong(&s->turn_end_ns, &t0, 0))
        atomic_store(&s->stats.first_audio_ns, rt_now_ns() - t0);
}

void rt_conn_clock(struct rt_session *s, const struct rt_scan *sc)
{
    if (sc->speech_start)
        s->speech_open = s->speech_seen = true;
    if (sc->speech_end)
        rt_conn_clock_speech_end(s);
    if (sc->inline_data)
        rt_conn_clock_audio(s);
    if (sc->model_output && !s->talk_from_ns)
        s->talk_from_ns = rt_now_ns();
    /* the response is over: what audio comes next answers what came before it */
    if (sc->generation_complete || sc->turn_complete || sc->interrupted || sc->tool_call)
        s->talk_from_ns = 0;
}
