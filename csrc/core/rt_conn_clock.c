/* The first_audio clock on the I/O thread (see rt_conn.h): the seconds from the end of
 * the user's turn to the first audio of the response that answers it.
 *
 * The owner starts the clock for the turns it ends (commit_audio, a text send:
 * rt_session_mark_turn_end); under the server's activity detection the server says
 * when the user stopped speaking, and that starts it here. Such an end counts once: a
 * repeated one, with no start of speech between, is the same end. One that comes while
 * the model is still talking (a late end signal, a short word over the answer) is
 * answered by the next response, not by the rest of this one. */
#include "rt_conn.h"

void rt_conn_clock_reset(struct rt_session *s)
{
    s->speech_seen = s->speech_open = s->model_talking = s->clock_skip = false;
}

/* The user stopped speaking: the clock starts, unless this end was counted already (a
 * server that never says when speech starts has every end counted). */
static void rt_conn_clock_speech_end(struct rt_session *s)
{
    if (s->speech_seen && !s->speech_open)
        return;
    s->speech_open = false;
    s->clock_skip = s->model_talking;
    rt_session_mark_turn_end(s);
}

void rt_conn_clock(struct rt_session *s, const struct rt_scan *sc)
{
    if (sc->speech_start)
        s->speech_open = s->speech_seen = true;
    if (sc->speech_end)
        rt_conn_clock_speech_end(s);
    if (sc->inline_data && !s->clock_skip &&
        atomic_load_explicit(&s->turn_end_ns, memory_order_relaxed)) {
        long long t0 = atomic_exchange(&s->turn_end_ns, 0);
        if (t0)
            atomic_store(&s->stats.first_audio_ns, rt_now_ns() - t0);
    }
    if (sc->model_output)
        s->model_talking = true;
    /* the response is over: what audio comes next answers what came before it */
    if (sc->generation_complete || sc->turn_complete || sc->interrupted || sc->tool_call)
        s->model_talking = s->clock_skip = false;
}
