/* A Live API session: one WebSocket connection driven by its client's I/O thread.
 *
 * Every function here may be called from any thread except the I/O thread. Nothing
 * blocks on the network: connecting, sending and closing happen on the I/O thread, and
 * their outcome arrives as events, read with rt_session_next_event (the session's eventfd
 * is readable while events wait). Every session ends with exactly one RT_EV_CLOSED,
 * always the last event. */
#ifndef RT_SESSION_H
#define RT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_auth.h"
#include "rt_client.h"
#include "rt_error.h"

struct rt_session;

struct rt_header { const char *name; const char *value; };  /* name without colon */

struct rt_session_options {
    const char *url;                  /* ws://host[:port]/path?query or wss://... (copied) */
    const struct rt_header *headers;  /* extra handshake headers, copied; may hold secrets */
    size_t nheaders;
    const char *setup;                /* JSON text of the {"setup":{...}} message, copied */
    size_t setup_len;
    double timeout;                   /* seconds for connect + setupComplete; 0 = 15 */
    size_t max_queue_bytes;           /* send-queue bound in bytes; 0 = 10 MiB */
    size_t max_message_bytes;         /* largest server message; 0 = 16 MiB */
    const char *audio_mime;           /* mimeType of appended audio, e.g. "audio/pcm;rate=16000" */
    bool manual_activity;             /* automatic detection off: activityStart before a turn's
                                         first audio, activityEnd on commit */
    bool audio_stream_end;            /* automatic detection on Gemini: commit sends audioStreamEnd */
    bool resumption;                  /* keep handles and reconnect: the setup must then hold a
                                         "sessionResumption" object (without a handle); the core
                                         adds the latest handle to it on each reconnect */
    bool transparent;                 /* Vertex transparent resumption (informative: the core uses
                                         lastConsumedClientMessageIndex whenever the server sends it) */
    struct rt_auth *auth;             /* optional: a token source; each handshake then carries
                                         "authorization: Bearer <fresh token>" in place of any
                                         authorization header given above. The session takes its
                                         own reference (rt_auth_retain) */
};

/* Starts connecting on the I/O thread and returns at once (never blocks on DNS/TCP/TLS).
 * The outcome arrives as events: RT_EV_READY (setupComplete received), or RT_EV_ERROR
 * followed by RT_EV_CLOSED. The caller owns the returned session: rt_session_free.
 * Fails with RT_EINVAL (bad url, header with CR/LF, missing setup), RT_ECLOSED (client
 * being freed) or RT_ENOMEM. */
struct rt_session *rt_session_new(struct rt_client *c, const struct rt_session_options *o,
                                  struct rt_error *err);

/* ---- events ---- */

enum rt_event_type {
    RT_EV_READY,        /* data: the setupComplete message text */
    RT_EV_MESSAGE,      /* data: one complete server message (JSON text) */
    RT_EV_RECONNECTED,  /* code: attempt number; data: reason */
    RT_EV_ERROR,        /* code: enum rt_code; data: message */
    RT_EV_CLOSED        /* code: WebSocket close code (1006 when none); data: reason. Always last. */
};
struct rt_event {
    struct rt_event *next;            /* owned by the queue while queued */
    enum rt_event_type type;
    int code;
    size_t len;                       /* bytes in data, not counting the NUL */
    char data[];                      /* NUL-terminated */
};

struct rt_event *rt_session_next_event(struct rt_session *s); /* non-blocking; NULL if none
                                        (then the eventfd has been drained); caller frees */
void rt_event_free(struct rt_event *ev);                       /* NULL ok */
int  rt_session_fd(const struct rt_session *s);                /* eventfd: readable when events wait */
int  rt_session_wait(struct rt_session *s, double timeout);    /* 1 = events ready, 0 = timed out;
                                                                  timeout < 0 waits forever */

/* ---- sending ---- */

/* Sending: thread-safe, never blocks on the network, order kept, a frame never interleaved.
 * -1 with RT_EBUSY (queue full, nothing queued) or RT_ECLOSED. Messages queued before
 * RT_EV_READY go out after the setup exchange. */
int rt_session_send(struct rt_session *s, const char *json, size_t len, struct rt_error *err);
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

void rt_session_close(struct rt_session *s, int code, const char *reason); /* async, idempotent */
void rt_session_free(struct rt_session *s);  /* drops the owner's reference (closes first); NULL ok */

/* ---- statistics ---- */

struct rt_stats {
    uint64_t bytes_sent, bytes_received, messages_sent, messages_received, reconnects;
    uint64_t resent;          /* client messages sent again after a reconnect */
    uint64_t replay_dropped;  /* unconsumed messages forgotten to respect max_queue_bytes */
    size_t queued_bytes;      /* send queue plus messages kept for replay */
    double first_audio;   /* seconds from the end of the last user turn to the first output audio; -1 unknown */
};
void rt_session_stats(struct rt_session *s, struct rt_stats *out);

#endif
