/* The session struct, shared by the owner-side API (rt_session.c) and the connection on
 * the I/O thread (rt_conn*.c). Not part of the public interface.
 *
 * Who touches what:
 *   - "immutable": written by rt_session_new before the session is handed over;
 *   - "hand-off": atomics and lock-free lists between the owner's threads and the I/O
 *     thread; no lock is taken by both sides but pub_lock, held for a pointer swap
 *     or a copy of a handle;
 *   - "I/O thread": only the client's I/O thread reads or writes it;
 *   - "owner": only threads of the caller (guarded where several may call at once).
 * A session has one reference for its owner and one for the I/O thread (plus one while
 * the resolver holds it); whichever lets go last frees it. */
#ifndef RT_SESSION_PRIVATE_H
#define RT_SESSION_PRIVATE_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rt_buf.h"
#include "rt_evq.h"
#include "rt_fork.h"
#include "rt_mpsc.h"
#include "rt_queue.h"
#include "rt_resolve.h"
#include "rt_resume.h"
#include "rt_session.h"
#include "rt_tls.h"
#include "rt_ws.h"

struct rt_client;

/* The upgrade of one connection: allocated when its TCP (and TLS) connection is up,
 * freed once the WebSocket is open, so an open session does not carry it. */
struct rt_upgrade {
    struct rt_buf hs;                /* the request to write, then the answer read (wiped:
                                        the request carries credentials) */
    size_t hs_off;                   /* request bytes written */
    bool answering;                  /* hs holds the answer: the request was written, or
                                        the server answered before it was (a refusal) */
    char ws_key[25];                 /* Sec-WebSocket-Key */
    struct rt_ws_answer answer;      /* the answer's status line and headers */
    bool chunked;                    /* a refusal's body comes chunked */
    struct rt_session *s;            /* for body_wait's callback */
    lws_sorted_usec_list_t body_wait; /* bounds the wait for a refusal's body */
};

/* A name lookup for one connection attempt (req.gen: which of the session's lookups it
 * is). The resolver has it (and a reference to the session) until it answers; the
 * answer then waits in the session's `looked_up`, beside the answers of lookups it
 * replaced, until the I/O thread takes them all and keeps the current one's
 * (rt_resolve_take). `req` comes first: the address of a lookup's req is that of the
 * lookup, so rt_free takes either. */
struct rt_lookup {
    struct rt_resolve_req req;
    struct rt_session *s;            /* the session it is for */
};
_Static_assert(offsetof(struct rt_lookup, req) == 0, "rt_free takes a lookup's req");

/* Why a connection is ending: allocated by the I/O thread at the connection's first
 * failure or close frame, freed with the connection, so a healthy session carries none
 * of this text. */
struct rt_conn_notes {
    struct rt_error err;                       /* the first failure */
    char fail_reason[RT_WS_REASON_MAX + 1];    /* the reason sent with fail_code */
    char peer_reason[RT_WS_REASON_MAX + 1];    /* the server's close reason */
};

/* Text room of the spare end events: enough for the start of an error message. */
#define RT_SPARE_ERROR_MAX 63
#define RT_SPARE_CLOSED_MAX 0

/* Requests from the owner to the I/O thread (bits of rt_session.req). */
enum {
    RT_REQ_START = 1,       /* a new session: connect */
    RT_REQ_CLOSE = 2,       /* close (code and reason in close_code/close_reason) */
    RT_REQ_RESUME_RX = 4,   /* the owner drained its events: read again */
    RT_REQ_RESOLVED = 8,    /* the resolver answered (results in `resolve`) */
    RT_REQ_SEND = 16        /* messages wait in the intake */
};

/* Whether a session is counted among its client's closing places (rt_client_closing):
 * the owner's close counts it unless the end came first, the end uncounts it. */
enum rt_closing_mark {
    RT_CLOSING_NONE = 0,    /* not closed by its owner */
    RT_CLOSING_COUNTED,     /* closed by its owner, counted, not ended */
    RT_CLOSING_ENDED        /* ended: never counted again */
};

/* Where the I/O thread is with a session. */
enum rt_conn_state {
    RT_CS_NEW,          /* not started */
    RT_CS_RESOLVING,    /* the resolver has the host name */
    RT_CS_CONNECTING,   /* TCP under way (lws) */
    RT_CS_TLS,          /* the TLS handshake (rt_tls) */
    RT_CS_UPGRADING,    /* our HTTP upgrade sent or being sent, the answer awaited */
    RT_CS_SETUP,        /* WebSocket open; the setup is out, setupComplete awaited */
    RT_CS_READY,        /* messages flow */
    RT_CS_WAIT,         /* the connection is gone; a reconnect is scheduled */
    RT_CS_DONE          /* the closed event is queued; no wsi */
};

/* Counters written by the I/O thread, read by rt_session_stats. */
struct rt_stats_live {
    atomic_uint_least64_t bytes_sent, bytes_received, messages_sent, messages_received;
    atomic_uint_least64_t reconnects, resent, replay_dropped;
    atomic_size_t replay_bytes;
    atomic_uint_least64_t rx_pauses;
    atomic_llong first_audio_ns;      /* -1 unknown */
};

/* A resumption handle published for the owner (rt_session_resumption_handle): immutable
 * once published, replaced whole. */
struct rt_handle_pub {
    bool full;                       /* it held everything written and queued when it came
                                        (and the initial history) */
    uint64_t queued;                 /* the session's `queued` count it holds */
    size_t len;
    char text[];                     /* decoded, NUL-terminated */
};

struct rt_session {
    atomic_int refs;
    struct rt_client *client;        /* immutable: counted reference */

    /* ---- immutable ---- */
    struct rt_fork_stamp born;       /* the process that made it (its client's): in a child
                                        of a fork the session is the parent's copy, which
                                        refuses every use (rt_fork.h) */
    int port;
    bool use_tls;                    /* wss:// */
    bool manual_activity, audio_stream_end;
    bool resume_on;                  /* resumption asked and the setup has sessionResumption */
    bool resume_empty;               /* ...and that object is empty */
    bool from_saved;                 /* ...and it held a saved handle to start from (Vertex's
                                        holds "transparent" too: not empty without one) */
    bool initial_expected;           /* the owner will send initial history (option
                                        initial_history) */
    char *strings;                   /* owned: one block holding the strings below and the
                                        headers array (may hold secrets: wiped when freed) */
    size_t strings_len;
    const char *host;                /* in strings: host to resolve (IPv6 without brackets) */
    const char *host_header;         /* in strings: Host header and TLS name */
    const char *path;                /* in strings: path and query */
    struct rt_ws_header *headers;    /* in strings */
    size_t nheaders;
    double timeout;                  /* connect + setupComplete, seconds */
    double close_timeout;            /* the whole graceful close, seconds */
    size_t max_queue;                /* bytes waiting to be written, and kept for replay */
    size_t max_receive;              /* bytes of unread events before reading pauses */
    size_t max_message;              /* largest server message */
    const char *audio_mime;          /* in strings */
    size_t audio_mime_len;
    struct rt_auth *auth;            /* owned reference, or NULL */
    const char *setup_tmpl;          /* in strings: the setup message as given (resume_on) */
    size_t setup_len;
    size_t resume_at;                /* offset just after sessionResumption's '{' */

    /* ---- hand-off ---- */
    struct rt_mpsc intake;           /* struct rt_msg from senders, for the I/O thread */
    atomic_size_t tx_bytes;          /* payload bytes in the intake and the send queue */
    atomic_uint req;                 /* RT_REQ_* */
    atomic_bool scheduled;           /* on the client's ready list */
    struct rt_link ready_link;       /* link on that list */
    atomic_bool closed;              /* sends refused: close asked, or the session ended */
    atomic_bool ended;               /* ended: its max_sessions place is free, its closed
                                        event queued */
    atomic_int closing_mark;         /* enum rt_closing_mark: counted in client->closing */
    int close_code;                  /* written once, before RT_REQ_CLOSE is set */
    char *close_reason;              /* owned, written with close_code; NULL for none */
    atomic_bool initial_shut;        /* a message other than initial history was written:
                                        rt_session_send_initial refuses */
    atomic_int initial_busy;         /* rt_session_send_initial calls between their look at
                                        initial_shut and their push (rt_conn_next_msg) */
    atomic_int sending;              /* sends between their look at closed and their push
                                        on the intake: the end waits for them before it
                                        counts what was not sent (rt_conn_finish) */
    atomic_int telling;              /* rt_session_tell calls between their look at ended
                                        and their push: the end waits for them (closed last) */
    atomic_bool in_turn;             /* audio appended since the last commit */
    atomic_bool initial_queued;      /* rt_session_send_initial queued the history: set
                                        after the push, so the I/O thread that sees it
                                        finds the message in the intake */
    pthread_mutex_t turn_lock;       /* in_turn and the intake together (rt_session_send.c) */
    atomic_uint_least64_t queued;    /* sends the owner queued (chains pushed on the intake) */
    pthread_mutex_t pub_lock;        /* the one lock both sides take, for a pointer swap or
                                        a copy: guards pub (rt_session_handle.c) */
    struct rt_handle_pub *pub;       /* owned: the newest handle, as the owner may hand it
                                        out; NULL for none */
    atomic_llong turn_end_ns;        /* monotonic ns when the last user turn ended, 0 when
                                        no turn waits for its first audio */
    struct rt_evq events;            /* events for the owner */
    atomic_bool rx_paused;           /* reading is paused until the owner drains */
    struct rt_stats_live stats;
    atomic_int fork_told;            /* owner, in a child of a fork: end events handed out
                                        for the parent's copy (rt_sess_forked_event) */
    _Atomic(struct rt_resolve_req *) looked_up; /* owned: answered lookups' reqs, not yet taken
                                                by the I/O thread (RT_REQ_RESOLVED) */

    /* ---- I/O thread ---- */
    struct rt_session *live_prev, *live_next;   /* the client's live list */
    enum rt_conn_state state;
    struct lws *wsi;                 /* borrowed from lws while the connection lives */
    struct rt_queue sendq;           /* taken from the intake, not yet written */
    struct rt_msg *setup;            /* owned: this connection's setup until written */
    struct rt_msg *cur;              /* owned: message being written */
    size_t cur_off;                  /* its payload bytes written (in fragments when long) */
    bool cur_setup;                  /* cur is the setup (never replayed) */
    struct rt_tls tls;               /* this connection's TLS (wss://) */
    struct rt_upgrade *up;           /* owned: the upgrade under way, NULL once open */
    struct rt_ws_rx rx;              /* frames read */
    struct rt_buf rx_stash;          /* bytes read but not parsed while reading is paused */
    bool reading_paused;             /* lws POLLIN off (flow control) */
    bool pong_due;                   /* a ping was read: answer it */
    unsigned char *pong;             /* owned: its payload until the pong is written */
    size_t pong_len;
    bool ping_out;                   /* a keepalive ping is due, and awaits any answer */
    bool ping_sent;                  /* ...and was written */
    double last_rx;                  /* monotonic seconds of the last byte read */
    struct rt_lookup *addrs;         /* owned: the addresses of the connection being
                                        made; NULL once it is up */
    unsigned lookup_gen;             /* lookups started */
    int addr_next;                   /* next resolved address to try */
    struct rt_conn_notes *notes;     /* owned: why this connection ends (rt_conn_err),
                                        NULL until something went wrong or it closes */
    bool notes_nomem;                /* some of that could not be recorded: RT_ENOMEM */
    bool close_acted;                /* the owner's close is being carried out */
    bool close_expired;              /* ...and its bound (close_timeout) passed */
    bool aborted;                    /* ended by the client's stop (rt_conn_abort) */
    bool close_sent;                 /* our close frame is written */
    int close_sent_code;
    bool wr_shut;                    /* a failed connection's hang-up shut our side of the
                                        TCP connection: what comes is dropped (rt_conn.c) */
    bool peer_closed;                /* the server's close frame was read */
    int peer_code;                   /* its reason: notes->peer_reason */
    bool peer_close_bad;             /* the server answered our close with a malformed close
                                        frame: the handshake ended, the error says how */
    int fail_code;                   /* close code we send because of a failure, 0 if none;
                                        its reason: notes->fail_reason */
    int http_status;                 /* status of a refused upgrade, else 0 */
    struct rt_event *ev_error;       /* owned: small error and closed events made with the */
    struct rt_event *ev_closed;      /* session, for an end that finds no memory (rt_conn_end.c) */
    lws_sorted_usec_list_t sul_phase;     /* the deadline of the connection's phase, one at
                                             a time: connect + setupComplete (RESOLVING to
                                             SETUP), goAway's latest moment to leave (READY),
                                             the next reconnect attempt (WAIT) */
    bool phase_expired;                   /* the connect + setupComplete deadline passed:
                                             killing until the connection is gone */
    lws_sorted_usec_list_t sul_close;     /* close deadline */
    lws_sorted_usec_list_t sul_alive;     /* keepalive: pings and the dead-peer check */
    bool pause_told;                 /* the owner was told reading paused, and has not
                                        caught up since (read its queue empty) */
    size_t rx_dropped, rx_dropped_bytes;  /* server messages read during our close past
                                             max_receive and not kept: the final error */
    bool rx_held;                    /* reading off while lws holds output (rt_conn_send) */

    /* resumption (I/O thread) */
    struct rt_queue replay;          /* written, not known to be consumed, oldest first */
    uint64_t replay_first;           /* sequence number of replay's head */
    size_t gave_way, gave_way_bytes; /* replay's oldest given up to max_queue_bytes since the
                                        server last said it consumed something: told at the
                                        next reconnect, or in the final error */
    uint64_t behind_from;            /* tx_seq when reading paused while no boundary had
                                        been parsed caught up since (UINT64_MAX: not
                                        behind): a later boundary may cover these in error */
    bool feeding_stash;              /* parsing bytes read before a pause */
    bool backlog_read;               /* since the last pause, a read left the socket empty */
    bool read_fresh;                 /* the read being parsed began after such a read */
    bool boundary_caught_up;         /* the last boundary was parsed with nothing unread */
    size_t unsure, unsure_bytes;     /* written while behind and dropped from replay at a
                                        boundary parsed late: told at the next reconnect */
    bool act_open_at_replay;         /* an activityStart without its end comes before
                                        replay's head (or the next write, when empty) */
    bool initial_in_replay;          /* the initial history is written, in replay */
    bool fresh_start;                /* this reconnect starts a new session (see
                                        rt_conn_history_unsaved) */

    uint64_t tx_seq;                 /* client messages written so far */
    uint64_t conn_base;              /* tx_seq when this connection's setupComplete came */
    uint64_t boundary;               /* tx_seq at the last turn boundary */
    char *auth_value;                /* owned: "Bearer <token>" for the next upgrade */
    bool ever_ready;                 /* some connection reached setupComplete */
    bool reconnecting;               /* READY on the next connection means "reconnected" */
    bool gave_up;                    /* the reconnect attempts ran out */
    int attempt;                     /* reconnects since a connection last got a turn through */
    int auth_waits;                  /* retries spent waiting for a token fetch */
    bool token_missing;              /* this attempt failed for want of a token */
    bool token_refused;              /* this attempt's token (from auth) got HTTP 401 */
    bool token_retried;              /* a reconnect (or the first connection) went on after
                                        such a refusal; cleared when a connection is ready */
    double first_deadline;           /* monotonic seconds when the first connection's
                                        timeout ends (set by its first attempt); 0 = not yet */
    double conn_start;               /* monotonic seconds this connection became ready */
    bool turn_through;               /* this connection completed a turn */
    bool goaway;                     /* this connection got goAway */
    double goaway_at;                /* monotonic seconds when its goAway timer leaves */
    bool model_busy;                 /* model output, a tool call or a transcript since
                                        the last handle: a turn under way */
    /* the first_audio clock (rt_conn_clock.c), this connection's */
    bool speech_seen;                /* the server has said the user started speaking */
    bool speech_open;                /* ...and has not said since that the user stopped */
    long long talk_from_ns;          /* monotonic ns of the first output of the model's
                                        response under way, 0 when none is: a turn that
                                        ended after it is not answered by its audio */
    bool recycle;                    /* leaving this connection on purpose, to resume */
    char *handle;                    /* owned: the latest resumable handle (JSON string text) */
    size_t handle_len;
    uint64_t rx_seq;                 /* server messages received, setupComplete not counted,
                                        across connections (rt_event.seq) */
    uint64_t handle_seq;             /* rx_seq of the message that gave handle: the server
                                        state it resumes holds up to it (0: a saved handle) */
    uint64_t resume_seq;             /* what this reconnect resumes: handle_seq, or 0 for a
                                        new session (the reconnected event's seq) */
    struct rt_calls *calls;          /* owned: tool call ids since the last handle, and those
                                        a reconnect voided (rt_conn_calls.c); NULL for none */
    bool gate_watch;                 /* the setup declares functions and holding is on: server
                                        messages that mention toolCall are read for the gate */
    char *gate_nb;                   /* owned: the setup's NON_BLOCKING function names
                                        (rt_gate_setup); NULL for none */
    struct rt_gate *gate;            /* owned: the unanswered calls that hold what waits to
                                        be written (rt_conn_gate.c); NULL for none */
    atomic_bool gate_held;           /* a call is open (for the owner's error texts) */
    char *lost_reason;               /* owned: why the resumed connection was lost, until
                                        the reconnected event says it; NULL otherwise */
};

/* ---- rt_session.c ---- */
/* Records the close asked for (a code rt_ws_close_code_ok refuses becomes 1000; the
 * reason is cut to RT_WS_REASON_MAX bytes, and dropped when out of memory); the caller
 * has just set `closed`. */
void rt_session_set_close(struct rt_session *s, int code, const char *reason);
long long rt_now_ns(void);
void rt_session_unref(struct rt_session *s);          /* frees with the last reference */

#ifdef RT_TEST_HOOKS
/* ---- rt_session_send.c, test builds only ---- */
/* Test hook: when set (NULL unsets it), called by every send that is about to push on
 * the intake, after its look at `closed`, on the sender's thread. */
void rt_session_on_push(void (*hook)(struct rt_session *s));
#endif

/* ---- rt_session_handle.c ---- */
/* Publishes `h` (n bytes, as between JSON quotes) for the owner, as holding everything
 * the owner queued until `queued` when `full`. */
void rt_session_publish(struct rt_session *s, const char *h, size_t n, bool full,
                        uint64_t queued);

/* ---- rt_conn*.c: the I/O thread ---- */
int rt_conn_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len);
/* Acts on a session's requests (RT_REQ_*); called for each session on the ready list. */
void rt_conn_service(struct rt_session *s);
/* Ends a session at once (the client is stopping and its context is going away). */
void rt_conn_abort(struct rt_session *s);

#endif
