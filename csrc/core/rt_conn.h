/* The connection on the I/O thread, split over files that share this header:
 *   rt_conn.c         requests from the owner, connecting, timers, the lws callback
 *   rt_conn_end.c     the end of a session: its final error and last events
 *   rt_conn_upgrade.c the TLS handshake and the WebSocket upgrade
 *   rt_conn_io.c      writing frames, pings and pongs, closing handshakes
 *   rt_conn_read.c    reading frames, the read pause and its stash
 *   rt_conn_resume.c  losing a connection: reconnect with the resumption handle, or end
 *   rt_conn_track.c   what server messages say about resumption: handles, goAway
 *   rt_conn_clock.c   the first_audio clock: the user's speech ending, the answer's audio
 * Every function here runs on the client's I/O thread. Not part of the public interface. */
#ifndef RT_CONN_H
#define RT_CONN_H

#include "rt_client_private.h"
#include "rt_session_private.h"

/* ---- rt_conn.c ---- */
/* Opens the next connection: resolve (or take the literal address), then lws. */
void rt_conn_open(struct rt_session *s);
/* Takes back the session's lookups still waiting for a resolver thread: its attempt
 * ended (timed out, closed) or is replaced, and they would only hold later lookups of the
 * client behind them. I/O thread. */
void rt_conn_cancel_lookup(struct rt_session *s);
/* Frees answered lookups: a list linked by next_answer (rt_resolve_take's stale ones,
 * or all that a freed session still holds); any thread. NULL ok. */
void rt_conn_free_answers(struct rt_resolve_req *r);
/* The first connection: rt_conn_open once the session's token source (if any) has a
 * token, as a reconnect waits for one (rt_conn_resume.c). */
void rt_conn_open_first(struct rt_session *s);
/* Marks the connection to be closed by lws soon (outside the current callback). */
void rt_conn_kill(struct rt_session *s);
/* Closes the connection now: for a timer of ours only, never inside one of the
 * connection's callbacks. s may be freed on return. */
void rt_conn_kill_now(struct rt_session *s);
/* Ends a connection that failed, now that its close frame has left (RFC 6455 7.1.7:
 * no wait for the server's answer): half-closes the socket and drops what comes until
 * the server's end (or 1 s), then closes it. */
void rt_conn_hang_up(struct rt_session *s);
/* ---- rt_conn_end.c ---- */
/* Queues the final events (error if any, then closed) and drops the I/O thread's
 * reference: s may be freed on return. */
void rt_conn_finish(struct rt_session *s);
/* Frees what one connection held (setup text, parser, stash, upgrade, TLS); the session's
 * queues and its message in progress stay for the caller to settle. */
void rt_conn_free_link(struct rt_session *s);
/* Room for a close reason as messages show it (rt_conn_peer_shown): every byte as \xNN. */
#define RT_CONN_REASON_SHOWN (4 * RT_WS_REASON_MAX + 1)
/* The server's close reason as error and reconnect messages show it: control, quote,
 * backslash and non-ASCII bytes as \xNN (rt_printable), into out (RT_CONN_REASON_SHOWN
 * bytes); "" when there is none. The closed event keeps it verbatim. */
const char *rt_conn_peer_shown(const struct rt_session *s, char *out);
/* ---- rt_conn.c ---- */
/* Arms the keepalive timer of an open connection. */
void rt_conn_keepalive_start(struct rt_session *s);
/* Takes what senders pushed into the send queue (and keeps the replay within bounds). */
void rt_conn_take_intake(struct rt_session *s);
/* Frees replay's oldest message (consumed, or given way to the queue bound), noting
 * whether it opened or closed the user's activity. replay must not be empty. */
void rt_conn_replay_drop_first(struct rt_session *s);
/* Timer of the close bound: hangs up (or ends a session that has no connection). */
void rt_conn_close_timer(lws_sorted_usec_list_t *sul);
/* Queues an error event (code RT_EBUSY: the reader or the bounds) with the text made of
 * fmt, cut at 511 bytes; out of memory, nothing is told. */
void rt_conn_tell(struct rt_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Asks lws for a WRITEABLE callback; on failure kills the connection. */
void rt_conn_want_write(struct rt_session *s);
/* The connection's notes (allocated on first use), or NULL when out of memory, which
 * notes_nomem remembers: the connection then ends with RT_ENOMEM. */
struct rt_conn_notes *rt_conn_notes(struct rt_session *s);
/* Where the connection's first failure goes (for rt_error_set; NULL when out of memory). */
struct rt_error *rt_conn_err(struct rt_session *s);
/* Masks with '*' every run of 8 or more bytes of a credential the session sends (its
 * API key or authorization header, the bearer token) in text: a server's close reason or
 * refusal may quote the request, and no secret is ever handed to the caller. */
void rt_conn_mask_secrets(struct rt_session *s, char *text);
/* That failure's code (RT_OK when none) and message. */
enum rt_code rt_conn_err_code(const struct rt_session *s);
const char *rt_conn_err_msg(const struct rt_session *s);
/* Forgets the notes (a new connection, or a new attempt at this one). */
void rt_conn_notes_clear(struct rt_session *s);

/* ---- rt_conn_upgrade.c ---- */
/* The TCP connection is up: TLS handshake (wss://) or straight to the upgrade. -1 to close. */
int rt_conn_connected(struct rt_session *s);
/* Builds the upgrade request and asks to write it. */
void rt_conn_upgrade_start(struct rt_session *s);
/* WRITEABLE during the upgrade: writes the request. -1 to close. */
int rt_conn_write_request(struct rt_session *s, unsigned char *buf, size_t cap);
/* Bytes of the upgrade's answer; once it is a valid 101 the WebSocket is open and what
 * followed goes to the frame parser. -1 to close. */
int rt_conn_answer(struct rt_session *s, const unsigned char *in, size_t len);
/* Frees the upgrade state (wiping the request). */
void rt_conn_upgrade_free(struct rt_session *s);
/* The connection ends (closed, timed out) before the WebSocket opened: a refusal whose
 * body was still coming is reported with the part that came. True when it was. */
bool rt_conn_upgrade_cut(struct rt_session *s);
/* A TLS read failed (err): recorded as the connection's failure, the upgrade's end
 * judged first (rt_conn_upgrade_cut; a TLS end before the answer is a failed connect). */
void rt_conn_read_failed(struct rt_session *s, const struct rt_error *err);

/* ---- rt_conn_io.c ---- */
/* Hands plaintext buf[0..n) (LWS_PRE bytes of room before it) to lws, through TLS when the
 * connection has it. -1 when the connection is lost (ioerr set). */
int rt_conn_send(struct rt_session *s, unsigned char *buf, size_t n);
int rt_conn_writeable(struct rt_session *s);
/* Whether writing has more to do. */
bool rt_conn_tx_pending(const struct rt_session *s);

/* ---- rt_conn_read.c ---- */
/* Parses plaintext read from an open WebSocket. -1 to close. */
int rt_conn_feed(struct rt_session *s, const unsigned char *p, size_t n);
int rt_conn_readable(struct rt_session *s, const unsigned char *in, size_t len);
/* The owner read enough, or asked to close: read again (what was stashed first). */
void rt_conn_resume_reading(struct rt_session *s);
/* At the connection's end (no wsi any more): parses what reading paused left in the
 * stash, so the server's last messages and its close answer are not lost. */
void rt_conn_drain_stash(struct rt_session *s);
/* Fails the connection: close frame `code` with `reason`, the error already in ioerr. */
void rt_conn_fail(struct rt_session *s, int code, const char *reason);

/* ---- rt_conn_resume.c ---- */
/* The connection is gone (or never came): reconnect, or finish the session. */
void rt_conn_lost(struct rt_session *s);
/* setupComplete arrived on this connection; ev is its message. Queues READY, or
 * RECONNECTED after putting the replay in front of the send queue. */
void rt_conn_ready(struct rt_session *s, struct rt_event *ev);
/* True while a new session, not a resumed one, is what holds the initial history: it is
 * kept for replay, or not written yet, and the session did not start from a saved handle. */
bool rt_conn_history_unsaved(struct rt_session *s);

/* ---- rt_conn_track.c ---- */
/* Acts on what a server message (text, scanned into *sc) says about the connection
 * (handles, goAway, turns). True when the message gives a handle that does not hold the
 * initial history (RT_EV_HANDLE_LACKS_HISTORY). */
bool rt_conn_track(struct rt_session *s, const struct rt_scan *sc, const char *text,
                   size_t len);

/* ---- rt_conn_clock.c ---- */
/* Runs the first_audio clock on a server message (scanned into *sc): the user's speech
 * ending starts it, the first audio of the response that answers it stops it. */
void rt_conn_clock(struct rt_session *s, const struct rt_scan *sc);
/* Forgets what the clock knew of the lost connection's speech and response. */
void rt_conn_clock_reset(struct rt_session *s);

/* ---- rt_conn_calls.c: calls a reconnect voids ---- */
/* The longest tool call id (or function name) the core keeps, in decoded bytes: server
 * ids are short; a longer one is not recorded, which keeps the memory bounded. */
#define RT_CALL_ID_MAX 512
/* Records the call ids of a toolCall message, number seq. */
void rt_conn_calls_note(struct rt_session *s, const char *text, size_t len, uint64_t seq);
/* Lets go of the calls of messages up to upto: a handle that holds them came. */
void rt_conn_calls_covered(struct rt_session *s, uint64_t upto);
/* A reconnect resumed the state of message resume_seq (0: a new session): the calls
 * recorded after it are voided, the others let go. */
void rt_conn_calls_void(struct rt_session *s, uint64_t resume_seq);
/* m (queued: counted in tx_bytes) without its answers to voided calls: m itself, a new
 * message in its place (m freed), or NULL when nothing is left (m freed). */
struct rt_msg *rt_conn_calls_answer(struct rt_session *s, struct rt_msg *m);
/* The same for each message of q. */
void rt_conn_calls_filter(struct rt_session *s, struct rt_queue *q);
void rt_conn_calls_free(struct rt_session *s);

/* ---- rt_conn_gate.c: what waits while a tool call is unanswered ---- */
/* Reads a setup message: whether it declares functions, and the names of those declared
 * NON_BLOCKING (*nonblocking: each name NUL-ended, an empty one last; NULL for none; the
 * caller frees it). -1 out of memory. Any thread. */
int rt_gate_setup(const char *setup, size_t len, bool *declares, char **nonblocking);
/* A server message (number seq) that mentions "toolCall": opens its calls of functions
 * not declared NON_BLOCKING; toolCallCancellation closes the calls it names. */
void rt_conn_gate_note(struct rt_session *s, const char *text, size_t len, uint64_t seq);
/* The toolResponse m is being written: closes the calls it answers. */
void rt_conn_gate_answered(struct rt_session *s, struct rt_msg *m);
/* A reconnect resumed the state of message resume_seq (0: a new session): the calls that
 * came after it are void. */
void rt_conn_gate_void(struct rt_session *s, uint64_t resume_seq);
/* Whether a call is open: only toolResponse messages may be written. */
bool rt_conn_gate_shut(const struct rt_session *s);
void rt_conn_gate_free(struct rt_session *s);

#endif
