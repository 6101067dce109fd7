/* What the I/O thread needs to know to keep a session across connections, read without
 * Lua: a small scanner of server messages (resumption handles, goAway, turn boundaries,
 * the user's speech edges),
 * the rewrite of the setup message that adds a resumption handle, and the rules that
 * tell a retryable connection loss from a fatal one.
 *
 * Nothing here does I/O or locking; every function is pure and bounded (linear in its
 * input, no recursion), so the scanner can be fuzzed on its own (csrc/fuzz/). */
#ifndef RT_RESUME_H
#define RT_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest resumption handle kept; a longer one is ignored (as if it were empty). */
#define RT_HANDLE_MAX 2048

/* What one server message says that matters to the connection. Pointers point into the
 * scanned text and are valid as long as it is. */
struct rt_scan {
    bool setup_complete;       /* top-level key setupComplete */
    bool model_output;         /* serverContent.modelTurn present */
    bool inline_data;          /* serverContent.modelTurn.parts[*].inlineData is an object
                                  (output audio) */
    bool transcription;        /* serverContent.inputTranscription or outputTranscription
                                  present (the user's turn is being taken, or answered) */
    bool tool_call;            /* top-level key toolCall */
    bool turn_complete;        /* serverContent.turnComplete: true */
    bool generation_complete;  /* serverContent.generationComplete: true */
    bool interrupted;          /* serverContent.interrupted: true */
    bool go_away;              /* top-level key goAway */
    double time_left;          /* goAway.timeLeft in seconds; -1 when absent or unreadable */
    bool update;               /* top-level key sessionResumptionUpdate */
    bool resumable;            /* sessionResumptionUpdate.resumable: true */
    const char *handle;        /* newHandle as it appears between its quotes (JSON escapes
                                  kept), NULL when absent */
    size_t handle_len;
    bool has_index;            /* lastConsumedClientMessageIndex was given */
    int64_t last_index;        /* its value (string or number; >= 0) */
    bool speech_start;         /* the server heard the user start speaking: top-level
                                  voiceActivity ACTIVITY_START or voiceActivityDetectionSignal
                                  VAD_SIGNAL_TYPE_SOS, read as the binding reads them */
    bool speech_end;           /* ...stop speaking: ACTIVITY_END or VAD_SIGNAL_TYPE_EOS */
};

/* Scans one server message. Returns 0 and fills *out (zeroed first), or -1 when the
 * text is not a JSON object as far as the scanner could tell (its structure is checked,
 * string contents are not; *out then holds what was seen before the problem). Never
 * reads outside text[0..len), never allocates; nesting deeper than 64 is skipped over,
 * not rejected. Keys are compared after decoding their escapes. */
int rt_scan_server(const char *text, size_t len, struct rt_scan *out);

/* Finds the setup's sessionResumption (or session_resumption) object: *at is the offset
 * just after its '{' and *empty says whether the object is empty. Returns false when the
 * setup has none (at depth 2, {"setup":{"sessionResumption":{...}}}). */
bool rt_resume_find(const char *setup, size_t len, size_t *at, bool *empty);

/* Writes into out (capacity cap) the setup with "handle":"<handle>" inserted at the
 * place rt_resume_find gave; a handle already there (a session started from a saved
 * handle) is taken out, so the setup carries one handle, the newest. handle is raw
 * JSON string content (as rt_scan_server returns it). The setup's "historyConfig" (or
 * "history_config") is left out: the resumed session has its history, and a setup announcing initial history makes
 * the server hold every input until a history that is never sent again. Returns the
 * length written, or 0 when cap is too small (it needs at most len + hlen + 12). */
size_t rt_resume_setup(const char *setup, size_t len, size_t at, bool empty,
                       const char *handle, size_t hlen, char *out, size_t cap);

/* The handle a setup already carries in its sessionResumption object (at as
 * rt_resume_find gave it): *h points into setup at its raw JSON string text, *hlen its
 * length. False when there is none or it could not stand in a setup as is. */
bool rt_resume_saved_handle(const char *setup, size_t len, size_t at, const char **h,
                            size_t *hlen);

/* True when the handle text can go between JSON quotes as is: UTF-8, no control
 * characters, no unescaped quote, valid escapes (surrogates paired), at most
 * RT_HANDLE_MAX bytes. */
bool rt_resume_handle_ok(const char *h, size_t n);

/* The same rule, for a message: NULL when the handle text (non-empty) is kept, else why
 * not, to follow "newHandle is " ("not UTF-8", "longer than 2048 bytes", ...). The
 * binding asks it about the handle rt_scan_server finds, so that the caller is never
 * handed a handle the connection does not resume with, nor the other way round. */
const char *rt_resume_handle_problem(const char *h, size_t n);

/* Whether a server close code ends the session for good (1002, 1003, 1007, 1008,
 * 1009, 1010 and the 3000-4999 range) rather than being worth a reconnect. 1000 and
 * 1005 are neither: the caller decides (they follow a goAway on Vertex). */
bool rt_resume_fatal_close(int code);

/* Reconnect attempts in a row that may fail before the session gives up. */
#define RT_RESUME_MAX_ATTEMPTS 6
/* A connection that lasted this long counts as healthy even without a completed turn. */
#define RT_RESUME_HEALTHY_SECS 30.0

/* Whether a connection the server closed with `code` is worth resuming: not when the
 * code is fatal, nor for a normal close (1000, 1005) unless goAway announced it. */
bool rt_resume_close_retryable(int code, bool announced);

/* Whether a refused upgrade with this HTTP status is worth retrying (no answer at all,
 * 408, 429, 5xx). */
bool rt_resume_status_retryable(int status);

/* The attempt number of the reconnect after a connection ended. `attempt` is the number
 * of the attempt that opened it (0 for the first connection). The budget of
 * RT_RESUME_MAX_ATTEMPTS counts connections that never got a turn through: one that
 * completed a turn, lived RT_RESUME_HEALTHY_SECS or was left on purpose after goAway
 * starts a new count (returns 1); any other adds one (a server that accepts the setup and
 * drops the connection every time is not retried forever). */
int rt_resume_next_attempt(int attempt, bool turn_through, double lived_secs, bool recycled);

/* Sequence number up to which the session's client messages are known to be consumed
 * when a resumable handle arrives: with lastConsumedClientMessageIndex (message k of this
 * connection, the setup being 0) exactly, otherwise what was written before the last turn
 * boundary (`boundary`). tx_seq: messages written so far; conn_base: tx_seq when this
 * connection's setupComplete arrived. */
uint64_t rt_resume_consumed(uint64_t boundary, uint64_t tx_seq, uint64_t conn_base,
                            bool has_index, int64_t last_index);

/* Reads a protobuf Duration ("12s", "1.5s") or a plain number of seconds (n bytes at p),
 * without the locale; -1 when unreadable (a sign, an exponent, other text). Capped at a
 * day (86400): it reads goAway.timeLeft, a deadline, which the binding reads with it
 * too, so both agree. */
double rt_resume_duration(const char *p, size_t n);

/* The same, for a Duration that is an offset (into the input audio): its true value, or
 * -1 when unreadable or beyond Duration's range (10,000 years). */
double rt_resume_offset(const char *p, size_t n);

/* Seconds after a goAway (timeLeft seconds, -1 unknown) at which a connection still busy
 * with a model turn is left anyway: 2 s before the end, half the time when under 4 s. */
double rt_resume_goaway_leave(double time_left);

/* Delay in seconds before reconnect attempt `attempt` (1-based): 0.2 s doubling to at
 * most 5 s, plus up to 25 % jitter taken from `rnd` (0..1). The first attempt after a
 * goAway has no delay: the caller passes attempt 0. */
double rt_resume_backoff(int attempt, double rnd);

#endif
