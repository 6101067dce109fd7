/* Internals shared by rt_client.c and rt_session.c: the client and session structs and
 * the I/O-thread entry points. Not part of the public interface.
 *
 * Threads: the owner's threads call the rt_session_* and rt_client_* functions; one I/O
 * thread per client runs lws_service and every lws callback. Only the I/O thread calls
 * lws, except lws_cancel_service, which other threads call (under the session lock, while
 * the session's `client` pointer is set) to hand requests over.
 *
 * Lock order: client->lock before session->lock; neither is held while the other thread
 * is waited for. */
#ifndef RT_CLIENT_PRIVATE_H
#define RT_CLIENT_PRIVATE_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "rt_client.h"
#include "rt_frame.h"
#include "rt_queue.h"
#include "rt_resume.h"
#include "rt_session.h"

/* Receive-queue size (bytes of queued events) beyond which reading from the socket
 * pauses until the owner catches up; it resumes below half of it. */
#define RT_RX_PAUSE_BYTES ((size_t)64 << 20)
/* Largest WebSocket frame written at once; longer messages go out as fragments. */
#define RT_TX_FRAGMENT 65536
/* Seconds to wait for the server's answer to our close frame. */
#define RT_CLOSE_WAIT_SECS 5
/* Seconds rt_client_free waits for open sessions to finish their close handshakes. */
#define RT_STOP_WAIT_SECS 2
/* Longest close reason a close frame can carry. */
#define RT_CLOSE_REASON_MAX 123

struct rt_client {
    struct lws_context *ctx;        /* owned; touched only by the I/O thread once it runs */
    pthread_t thread;
    struct lws_protocols protocols[2]; /* lws keeps a pointer to this array */
    lws_retry_bo_t retry;           /* ping policy of every connection; lws keeps a pointer */
    char *ca_file;                  /* owned */
    SSL_CTX *ssl_ctx;               /* owned: the client TLS context lws uses; freed after
                                       the lws context (see rt_client_tls_new) */
    int ping_interval, ping_timeout;

    pthread_mutex_t lock;
    struct rt_session *pending;     /* guarded by lock: sessions waiting for the I/O thread
                                       (linked by pending_next; each holds its I/O reference) */
    bool stopping;                  /* guarded by lock: rt_client_free was called */

    struct rt_session *live;        /* I/O thread only: sessions taken from `pending` and not
                                       finished (linked by live_next) */
    bool stop_seen;                 /* I/O thread only: stop handled, sessions told to close */
    bool exit_loop;                 /* I/O thread only: leave the service loop */
    lws_sorted_usec_list_t sul_stop; /* I/O thread only: deadline of the stop */
};

/* Where the I/O thread is with a session's connection. */
enum rt_io_state {
    RT_IO_PENDING,      /* not yet handed to lws */
    RT_IO_CONNECTING,   /* DNS, TCP, TLS, HTTP upgrade in progress */
    RT_IO_SETUP,        /* WebSocket open; setup sent or being sent, setupComplete awaited */
    RT_IO_READY,        /* setupComplete received; queued messages flow */
    RT_IO_WAIT,         /* connection lost, a reconnect is scheduled (sul_retry) */
    RT_IO_DONE          /* closed event queued; no wsi; the I/O reference is gone */
};

struct rt_session {
    atomic_int refs;                /* the owner's reference + the I/O thread's */
    int efd;                        /* owned eventfd, readable iff events are queued */

    /* Immutable after rt_session_new. */
    bool tls;
    int port;
    char *address;                  /* owned: host to resolve, IPv6 without brackets */
    char *host_header;              /* owned: Host header and TLS name (":port" if not default) */
    char *path;                     /* owned: path and query */
    struct rt_header *headers;      /* owned array, names and values owned (may hold secrets) */
    size_t nheaders;
    double timeout;                 /* seconds for connect + setupComplete */
    char *audio_mime;               /* owned */
    bool manual_activity, audio_stream_end;

    pthread_mutex_t lock;
    struct rt_client *client;       /* guarded by lock: borrowed, NULL once the I/O thread is
                                       done with the session or the context is going away */
    struct rt_queue sendq;          /* guarded by lock */
    struct rt_event *ev_head;       /* guarded by lock: owned event list */
    struct rt_event *ev_tail;       /* guarded by lock: borrowed, last of ev_head */
    size_t ev_bytes;                /* guarded by lock: data bytes of queued events */
    bool closed;                    /* guarded by lock: sends refused (close asked or finished) */
    bool close_req;                 /* guarded by lock: a close was asked for */
    int close_code;                 /* guarded by lock */
    char close_reason[RT_CLOSE_REASON_MAX + 1]; /* guarded by lock */
    bool finished;                  /* guarded by lock: the closed event is queued */
    bool in_turn;                   /* guarded by lock: audio appended since the last commit */
    bool rx_paused;                 /* guarded by lock: reading paused (flow control) */
    bool rx_resume;                 /* guarded by lock: owner asks the I/O thread to resume */
    bool awaiting_audio;            /* guarded by lock: a turn ended, no output audio yet */
    struct timespec turn_end;       /* guarded by lock */
    struct rt_stats stats;          /* guarded by lock (queued_bytes is computed on read) */
    struct rt_queue replay;         /* guarded by lock: client messages written and not known
                                       to be consumed, oldest first (resumption only) */
    uint64_t replay_first;          /* guarded by lock: sequence number of replay's head */
    uint64_t tx_seq;                /* guarded by lock: client messages written so far (the
                                       next one written gets this number) */

    /* I/O thread only. */
    enum rt_io_state state;
    struct lws *wsi;                /* borrowed from lws; NULL when there is none */
    struct rt_session *pending_next, *live_next;
    struct rt_msg *setup;           /* owned: the setup message, until it is written */
    struct rt_msg *cur;             /* owned: message being written, possibly in fragments */
    size_t cur_off;                 /* bytes of cur already written */
    struct rt_reasm rx;             /* partial incoming message */
    struct rt_error ioerr;          /* first failure of the connection */
    bool close_acted;               /* the asked-for close is being carried out */
    int final_code;                 /* close code we sent because of an error, 0 if none */
    bool peer_closed;               /* the server sent a close frame */
    int peer_code;
    char peer_reason[RT_CLOSE_REASON_MAX + 1];
    char tls_problem[160];          /* certificate problem seen during verification */
    double last_valid;              /* monotonic seconds when the connection was last known
                                       alive (established, or a pong) */
    struct rt_client *io_client;    /* I/O thread only: borrowed, the client that runs it */
    lws_sorted_usec_list_t sul_timeout; /* connect + setupComplete deadline */
    lws_sorted_usec_list_t sul_close;   /* close-handshake deadline */
    struct rt_event *ev_error;      /* owned: preallocated error event for the end */
    struct rt_event *ev_closed;     /* owned: preallocated closed event for the end */

    /* Resumption: immutable after rt_session_new, then I/O thread only. */
    bool resume_on;                 /* resumption asked and the setup has sessionResumption */
    struct rt_auth *auth;           /* owned reference: fresh bearer tokens, or NULL */
    char *setup_tmpl;               /* owned: the setup as given (no handle) */
    size_t setup_len;
    size_t resume_at;               /* offset just after sessionResumption's '{' */
    bool resume_empty;              /* that object is empty */
    char *auth_value;               /* owned: "Bearer <token>" for the next handshake, or NULL */
    bool cur_setup;                 /* cur is a setup message (never replayed) */
    unsigned char *tx_scratch;      /* owned: RT_PRE + RT_TX_FRAGMENT bytes; messages that may
                                       be replayed are written from here, because lws masks
                                       the payload it writes in place */
    bool ever_ready;                /* some connection reached setupComplete */
    bool reconnecting;              /* lost; READY on the next connection means "reconnected" */
    int attempt;                    /* reconnect attempts since the last READY */
    int auth_waits;                 /* retries spent waiting for a token fetch */
    bool goaway;                    /* this connection got goAway */
    bool model_busy;                /* model output or a tool call since the last handle */
    bool recycle;                   /* closing this connection on purpose to resume */
    int http_status;                /* HTTP status of a refused handshake, else 0 */
    uint64_t conn_base;             /* sequence number of this connection's message 1 */
    uint64_t boundary;              /* messages written when the last turn boundary
                                       (setupComplete, turnComplete) arrived */
    char handle[RT_HANDLE_MAX + 1]; /* the latest resumable handle (raw JSON string text) */
    size_t handle_len;
    char lost_reason[RT_CLOSE_REASON_MAX + 64]; /* why the reconnect under way started */
    lws_sorted_usec_list_t sul_retry;   /* next reconnect attempt */
    lws_sorted_usec_list_t sul_goaway;  /* goAway: latest moment to leave the connection */
};

/* The lws protocol callback (rt_session.c). */
int rt_session_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len);
/* Handles requests from other threads: new sessions, sends, closes, flow control, stop
 * (I/O thread, on LWS_CALLBACK_EVENT_WAIT_CANCELLED; rt_session.c). */
void rt_client_io_requests(struct rt_client *c);
/* Ends a session that still has no wsi: queues its final events, drops the I/O
 * reference (I/O thread; rt_session.c). */
void rt_session_io_finish(struct rt_client *c, struct rt_session *s);
/* Drops one reference, freeing the session with the last (rt_session.c). */
void rt_session_unref(struct rt_session *s);

/* The last error or warning libwebsockets logged on this thread ("" if none), and a way
 * to forget it (rt_client.c). */
const char *rt_client_last_log(void);
void rt_client_clear_log(void);

#endif
