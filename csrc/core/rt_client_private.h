/* The client struct, shared by rt_client.c, the owner-side session API and the
 * connection code on the I/O thread. Not part of the public interface.
 *
 * Threads: the owner's threads call rt_client_* and rt_session_*; one I/O thread per
 * client runs lws_service and every lws callback; a resolver thread runs getaddrinfo.
 * The only lws call made off the I/O thread is lws_cancel_service, through
 * rt_client_wake, which never runs once the context is gone.
 *
 * A session with something for the I/O thread (a start, messages to send, a close, a
 * resumed reader, a resolved name) is pushed on the client's ready list, at most once
 * until the I/O thread takes it, and the I/O thread is woken only when that list was
 * empty: the I/O thread visits sessions that have work, never all of them. */
#ifndef RT_CLIENT_PRIVATE_H
#define RT_CLIENT_PRIVATE_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rt_client.h"
#include "rt_fork.h"
#include "rt_loop.h"
#include "rt_mpsc.h"
#include "rt_resolve.h"
#include "rt_signal.h"

struct rt_session;

/* Bytes framed into one write (several messages per write when they are waiting). */
#define RT_TX_CHUNK 65536
/* Bytes decrypted at a time. */
#define RT_RX_CHUNK 65536
/* Room for the ciphertext of RT_TX_CHUNK bytes of frames (records add up to ~300 B each). */
#define RT_TLS_CHUNK (RT_TX_CHUNK + 4096)

/* Who made the I/O thread leave without waiting for the closes under way: the sessions
 * it ends (rt_conn_abort) say which, as only one of them freed the client. */
enum rt_cut { RT_CUT_NONE = 0, RT_CUT_NOW, RT_CUT_FREED };

struct rt_client {
    atomic_int refs;                /* the owner's + one per session */
    struct rt_fork_stamp born;      /* immutable: the process that made it; in a child of
                                       a fork the client is the parent's copy (rt_fork.h) */
    struct lws_context *ctx;        /* owned; the I/O thread's once it runs */
    struct rt_loop loop;            /* what ctx waits with (its libev loop owned) */
    pthread_t thread;
    struct lws_protocols protocols[2]; /* lws keeps a pointer to this array */
    lws_retry_bo_t retry;           /* no lws idle policy: keepalive is ours */
    char *ca_file;                  /* owned */
    SSL_CTX *ssl_ctx;               /* owned: the TLS settings of every connection */
    int ping_interval, ping_timeout;
    int max_sessions;
    struct rt_resolver *resolver;   /* owned */

    /* hand-off */
    struct rt_mpsc ready;           /* sessions with requests (each holds a reference) */
    atomic_int sessions;            /* sessions created and not finished */
    atomic_int closing;             /* of those, closed by their owner (rt_client_closing) */
    atomic_bool stopping;           /* rt_client_close (or _free) was called */
    atomic_int cut;                 /* enum rt_cut: leave without waiting, and who asked */
    struct rt_signal stopped;       /* owned; raised by the I/O thread as it returns */
    atomic_bool dead;               /* the context is gone or going: no more wakes */
    atomic_int wakers;              /* threads inside lws_cancel_service */

    /* I/O thread */
    struct rt_session *live;        /* sessions started and not finished (live_prev/next) */
    unsigned char *txbuf;           /* owned: LWS_PRE + RT_TX_CHUNK + a frame header */
    unsigned char *rxbuf;           /* owned: RT_RX_CHUNK */
    unsigned char *tlsbuf;          /* owned: LWS_PRE + RT_TLS_CHUNK, ciphertext to write */
    bool stop_seen;                 /* the stop was acted on */
    bool exit_loop;                 /* leave the service loop */
    lws_sorted_usec_list_t sul_stop;
};

/* Takes a reference / drops one (freeing with the last). */
void rt_client_retain(struct rt_client *c);
void rt_client_release(struct rt_client *c);
/* Wakes the I/O thread (any thread; nothing once the context is gone). */
void rt_client_wake(struct rt_client *c);
/* Sets request bits on s and puts it on the ready list (any thread). */
void rt_client_schedule(struct rt_client *c, struct rt_session *s, unsigned bits);
/* I/O thread: links / unlinks a session on the live list. */
void rt_client_link(struct rt_client *c, struct rt_session *s);
void rt_client_unlink(struct rt_client *c, struct rt_session *s);
/* I/O thread: a session finished (its place is free; its closed event follows). */
void rt_client_session_done(struct rt_client *c, struct rt_session *s);
/* Owner: s, which its owner just closed, counts among the closing places until it ends
 * (rt_client_closing). */
void rt_client_count_closing(struct rt_client *c, struct rt_session *s);
void rt_client_leave_loop(struct rt_client *c);

/* The TLS settings of the client's connections (peer verified against ca_file, else the
 * system store; TLS 1.2 or later; rt_tls_keylog as key log callback), or NULL with err. */
SSL_CTX *rt_client_tls_new(const char *ca_file, struct rt_error *err);

#endif
