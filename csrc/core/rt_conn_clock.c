/* The first_audio clock on the I/O thread (see rt_conn.h): the seconds from the end of
 * the user's turn to the first audio of the response that answers it.
 *
 * The owner starts the clock for the turns it ends (commit_audio, a text send:
 * rt_session_mark_turn_end); under the server's activity detection the server says
 * when the user stopped speaking, and that starts it here. */
#include "rt_conn.h"

void rt_conn_clock(struct rt_session *s, const struct rt_scan *sc)
{
    if (sc->speech_end) {
        rt_session_mark_turn_end(s);
    } else if (sc->inline_data && atomic_load_explicit(&s->turn_end_ns, memory_order_relaxed)) {
        long long t0 = atomic_exchange(&s->turn_end_ns, 0);
        if (t0)
            atomic_store(&s->stats.first_audio_ns, rt_now_ns() - t0);
    }
}
