/* A Live API session: one WebSocket connection at a time, driven by its client's I/O
 * thread.
 *
 * Every function here may be called from any thread except the I/O thread. Nothing
 * blocks on the network: connecting, sending and closing happen on the I/O thread, and
 * their outcome arrives as events, read with rt_session_next_event (the session's
 * descriptor is readable while events wait). Every session ends with exactly one
 * RT_EV_CLOSED, always the last event. */
#ifndef RT_SESSION_H
#define RT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "rt_client.h"
#include "rt_error.h"
#include "rt_event.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rt_session;
struct rt_auth;

struct rt_header { const char *name; const char *value; };  /* name without colon */

/* Longest session URL, in bytes: its path and query go into the upgrade's request line,
 * which servers commonly refuse beyond 8 KiB (HTTP 414 or 400, a failed handshake).
 * rt_session_new refuses a longer url; rt_endpoint_check a base_url that would make one. */
#define RT_URL_MAX 8192

struct rt_session_options {
    const char *url;                  /* ws://host[:port]/path?query or wss://... (copied):
                                         printable ASCII, a host name or [IPv6] address, at
                                         most RT_URL_MAX bytes */
    const struct rt_header *headers;  /* extra upgrade headers, copied; may hold secrets */
    size_t nheaders;
    const char *setup;                /* JSON text of the {"setup":{...}} message, copied */
    size_t setup_len;
    double timeout;                   /* seconds for connect + setupComplete; 0 = 15 */
    double close_timeout;             /* seconds a close may take to send what was queued
                                         and finish the close handshake; 0 = 5 */
    size_t max_queue_bytes;           /* bytes waiting to be written (and kept for replay);
                                         0 = 10 MiB. Beyond it sends fail with RT_EBUSY */
    size_t max_receive_bytes;         /* memory held by unread events (as malloc counts it)
                                         beyond which reading pauses; 0 = 16 MiB */
    size_t max_message_bytes;         /* largest server message; 0 = 16 MiB */
    const char *audio_mime;           /* mimeType of appended audio; NULL = "audio/pcm;rate=16000" */
    bool manual_activity;             /* automatic detection off: activityStart before a turn's
                                         first audio, activityEnd on commit */
    bool audio_stream_end;            /* automatic detection on Gemini: commit sends audioStreamEnd */
    bool resumption;                  /* keep handles and reconnect: the setup must then hold a
                                         "sessionResumption" object; the core writes the latest
                                         handle into it on each reconnect */
    bool transparent;                 /* Vertex transparent resumption (informative: the core uses
                                         lastConsumedClientMessageIndex whenever the server sends it) */
    struct rt_auth *auth;             /* optional token source: each upgrade then carries
                                         "authorization: Bearer <fresh token>" in place of any
                                         authorization header above. The session keeps its own
                                         reference */
    bool no_call_hold;                /* write everything at once even while the model waits
                                         for the answer to a tool call (by default, while a
                                         call of a function not declared NON_BLOCKING is
                                         unanswered, only toolResponse messages are written:
                                         the Live API closes the connection with 1008 on
                                         realtime input then; the rest waits, in order) */
    bool initial_history;             /* the owner sends initial history with
                                         rt_session_send_initial once the session is ready:
                                         until it is queued, no handle holds it */
};

/* Starts connecting on the I/O thread and returns at once. The outcome arrives as events:
 * RT_EV_READY (setupComplete received), or RT_EV_ERROR followed by RT_EV_CLOSED. The
 * caller owns the returned session: rt_session_free. Fails with RT_EINVAL (bad url or one
 * longer than RT_URL_MAX, a header rt_headers_check refuses, more than RT_SESSION_HEADERS_MAX bytes of headers
 * (rt_endpoint.h), missing setup, bad option), RT_EBUSY (the client holds max_sessions
 * sessions), RT_ECLOSED (client being freed) or RT_ENOMEM. */
struct rt_session *rt_session_new(struct rt_client *c, const struct rt_session_options *o,
                                  struct rt_error *err);

/* ---- events ---- */

struct rt_event *rt_session_next_event(struct rt_session *s); /* non-blocking; NULL if none
                                        (the descriptor is then unreadable, unless the
                                        session has ended); caller frees */
/* The same for a caller that never waits on the descriptor (a frame loop polling every
 * frame): when nothing waits the descriptor is left as it is, which saves two system
 * calls per event. A later rt_session_next_event or rt_session_wait sets it right. */
struct rt_event *rt_session_poll_event(struct rt_session *s);
/* Queues an RT_EV_ERROR event of the owner's own (code, text[0..len)) behind the events
 * queued so far, and wakes a wait on the descriptor as the I/O thread's events do: for a
 * failure the owner learns of outside a receive (a result of a tool handler that could
 * not be sent) that belongs in the session's stream. Thread-safe. -1 with RT_ECLOSED once
 * the session has ended (nothing is queued after its closed event), RT_EINVAL (NULL
 * session, code RT_OK or out of range) or RT_ENOMEM. */
int  rt_session_tell(struct rt_session *s, enum rt_code code, const char *text, size_t len,
                     struct rt_error *err);
/* Readable when events wait; and for good once the session has ended (its closed event
 * queued), as a socket at end of file is, so that no poll on it sleeps for ever once the
 * closed event is taken (by another thread, say): rt_session_next_event then returns
 * NULL and rt_session_is_ended 1. A loop that polls it stops at the closed event. */
int  rt_session_fd(const struct rt_session *s);
/* 1 when an event waits, 0 when none: one atomic load, no lock, no system call, takes
 * nothing (an event queued at this very moment may show only on the next call). What a
 * frame loop over many sessions asks first, so that an idle session costs one check. */
int  rt_session_pending(struct rt_session *s);
/* 1 once the session refuses sends: its owner closed it, or it ended (the server closed
 * it, the reconnects ran out, the client was freed), whether or not the closed event
 * has been read yet. */
int  rt_session_is_closed(struct rt_session *s);
/* 1 once the session has ended: its connection is gone, its place among the client's
 * max_sessions free, its closed event queued. A close asked by the owner is under way
 * while rt_session_is_closed is 1 and this is 0. */
int  rt_session_is_ended(struct rt_session *s);
/* 1 = events ready; 0 = timed out, or nothing will come: the session has ended and its
 * events, the closed one too, were taken (by this thread or another), which answers 0 at
 * once whatever the timeout, as for a NULL session or one inherited across fork (so the
 * event loop of realtime.h ends on every thread that runs it); -1 = a signal handler ran
 * (errno EINTR: the wait is not restarted, so a host can act on the signal). timeout < 0
 * or infinite waits without a bound, NaN not at all. */
int  rt_session_wait(struct rt_session *s, double timeout);

/* ---- sending ---- */

/* Sending: thread-safe, never blocks on the network, order kept, a frame never interleaved.
 * -1 with RT_EBUSY (queue full, nothing queued), RT_ECLOSED or RT_ENOMEM. Messages queued
 * before RT_EV_READY go out after the setup exchange. A send of nothing (no message, no
 * audio) queues nothing and still fails with RT_ECLOSED once the session is closed.
 * Each message goes out as a text frame, which must be UTF-8 (RFC 6455, 5.6 and 8.1):
 * rt_session_send, rt_session_send_initial, rt_session_sendv and
 * rt_session_sendv_answers refuse a message that is not (overlong forms, surrogates and
 * bytes cut short included) with RT_EINVAL, naming the message and the byte where it
 * stops being UTF-8, and queue nothing of the call; the server would otherwise fail the
 * connection on it (1007), losing what was queued behind it. The check reads the text
 * once more (about 3 us for a 43 KB message); rt_session_append_audio builds its own
 * frames (base64) and has none. */
int rt_session_send(struct rt_session *s, const char *json, size_t len, struct rt_error *err);
/* rt_session_send for initial history (the Gemini API's historyConfig, Vertex's turns),
 * sent first after setupComplete: before every message sent ahead of it that is not
 * written yet (those of other rt_session_send_initial calls excepted, which keep their
 * order). Once a message other than initial history has been written after
 * setupComplete, it fails with RT_EINVAL (history then would be a new turn; nothing is
 * queued). A reconnect never sends it into a resumed session, which would take the turns
 * as a new question: while it is kept for replay (no turn completed since; Vertex: no
 * lastConsumedClientMessageIndex covers it), the reconnect starts a new session from the
 * setup as given and sends it, and everything after it, again; once a handle covers it,
 * the handles hold it. */
int rt_session_send_initial(struct rt_session *s, const char *json, size_t len,
                            struct rt_error *err);
/* Queues n messages (each iovec one JSON message) as one unit: all of them, in order and
 * with no other send between them, or none (RT_EBUSY when together they do not fit in
 * max_queue_bytes, RT_ECLOSED, RT_ENOMEM). For what a caller must not send in part: an
 * audio clip between activityStart and activityEnd, the frames of one tool response. */
int rt_session_sendv(struct rt_session *s, const struct iovec *msgs, size_t n,
                     struct rt_error *err);
/* What the owner tells of a toolResponse's answers: seq[j] is, for the j-th entry of its
 * functionResponses, the number (rt_event.seq) of the server message whose toolCall
 * held the call it answers when that call came without an id (the owner made one up and
 * the answer goes by name), else 0. An answer whose call a reconnect voided (its message
 * after the reconnected event's seq, and before the reconnect) is not written, as an
 * answer to a voided id is not. */
struct rt_answer_calls {
    const uint64_t *seq;     /* n numbers, or NULL: none */
    size_t n;
};
/* rt_session_sendv with ans[i] (ans NULL: none) for msgs[i]. */
int rt_session_sendv_answers(struct rt_session *s, const struct iovec *msgs,
                             const struct rt_answer_calls *ans, size_t n,
                             struct rt_error *err);
/* Queues 16-bit PCM (len must be even: RT_EINVAL otherwise) as realtimeInput.audio
 * messages of at most 32,000 PCM bytes each, preceded by activityStart when
 * manual_activity is set and this is the turn's first audio. */
int rt_session_append_audio(struct rt_session *s, const void *pcm, size_t len, struct rt_error *err);
/* Ends the user's audio turn: activityEnd (manual_activity) or audioStreamEnd
 * (audio_stream_end), only when audio was appended since the last commit; otherwise
 * sends nothing. Starts the first_audio clock. */
int rt_session_commit_audio(struct rt_session *s, struct rt_error *err);
/* Starts the first_audio clock for a turn that ended by other means (a text send). */
void rt_session_mark_turn_end(struct rt_session *s);

/* ---- closing ---- */

/* Asks for a close and returns at once (idempotent). What was queued before is written
 * first, then a close frame with `code` and `reason`; the session ends when the server
 * answers the close, or after close_timeout. Messages still unwritten then are reported
 * in an RT_EV_ERROR before RT_EV_CLOSED.
 * `code` is sent when a close frame may carry it (1000-1003, 1007-1014, 3000-4999);
 * any other (1004, 1005, 1006, 1015, 0, negative, 999, 2000, 5000 and up) becomes 1000.
 * `reason` (NULL: none) is cut to what a close frame holds and what a text must be: to
 * at most 123 bytes (RT_WS_REASON_MAX), at a UTF-8 character boundary, and before its
 * first byte that is not UTF-8 (what follows that byte is dropped, valid or not:
 * "caf\xc3\xa9 \xff bad" goes out as "caf\xc3\xa9 "). A close is never refused for
 * either. RT_EV_CLOSED then carries the code and the reason as sent, unless the close
 * did not complete (a connection lost meanwhile: 1006; the server's own close: its
 * code and reason). */
void rt_session_close(struct rt_session *s, int code, const char *reason);
/* Closes (as above, code 1000) and drops the owner's reference; NULL ok. The close goes
 * on in the background; rt_client_free waits for it within its bound. */
void rt_session_free(struct rt_session *s);

/* ---- resumption ---- */

/* The newest resumption handle the server gave (at first the saved one the setup
 * carried), if it holds everything this session sent: 1 with it in out (decoded from its
 * JSON escapes, NUL-terminated; cap RT_SESSION_HANDLE_MAX + 1 always fits) and *len. 0
 * when there is none, or it does not hold everything: something was queued or written
 * after the turn boundary it follows (Gemini) or beyond the lastConsumedClientMessageIndex
 * it came with (Vertex), or it lacks the initial history. Right after a turn, the handle
 * that holds it comes just after the turn's end. Thread-safe. -1 with RT_EINVAL (no
 * session; or cap too small, *len then the handle's length: a saved handle may be
 * longer than the server's) or RT_ECLOSED (a parent's session in a child of a fork). */
#define RT_SESSION_HANDLE_MAX 2048
int rt_session_resumption_handle(struct rt_session *s, char *out, size_t cap, size_t *len,
                                 struct rt_error *err);

/* ---- statistics ---- */

struct rt_stats {
    uint64_t bytes_sent, bytes_received, messages_sent, messages_received, reconnects;
    uint64_t resent;          /* client messages sent again after a reconnect */
    uint64_t replay_dropped;  /* unconsumed messages forgotten to respect max_queue_bytes */
    uint64_t rx_pauses;       /* times reading paused because events were not read */
    size_t queued_bytes;      /* waiting to be written plus kept for replay */
    size_t received_bytes;    /* memory held by unread events */
    double first_audio;       /* seconds from the end of the last user turn (commit, text, or
                                 the server's speech end under server VAD, once per
                                 utterance) to the first output audio of the response that
                                 answers it; -1 unknown */
};
void rt_session_stats(struct rt_session *s, struct rt_stats *out);

#ifdef __cplusplus
}
#endif

#endif
