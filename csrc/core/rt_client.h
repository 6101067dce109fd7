/* A client: one I/O thread running one libwebsockets context, shared by its sessions. */
#ifndef RT_CLIENT_H
#define RT_CLIENT_H

#include "rt_error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rt_client;

/* How the I/O thread waits for its sockets (docs/design.md, "The I/O thread's wait"). */
enum rt_event_loop {
    RT_EVENT_LOOP_AUTO = 0,  /* epoll (kqueue) through libev when this build and lws have it, else poll */
    RT_EVENT_LOOP_POLL,      /* libwebsockets' own poll() loop */
    RT_EVENT_LOOP_EPOLL      /* epoll or kqueue, or rt_client_new fails with RT_EINVAL */
};

struct rt_client_options {
    const char *ca_file;     /* PEM CA file to trust instead of the system store; NULL = system store */
    int ping_interval;       /* seconds between WebSocket pings; 0 = default 20 */
    int ping_timeout;        /* seconds without pong before the peer is dead; 0 = default 45 (min 30) */
    int max_sessions;        /* concurrent sessions the client can hold; 0 = default 1024 */
    enum rt_event_loop event_loop; /* 0 = RT_EVENT_LOOP_AUTO */
};

/* Creates the lws context (TLS verification always on) and starts the I/O thread.
 * o may be NULL for all defaults. NULL with err set on failure: RT_ETLS when ca_file
 * cannot be read or loaded, RT_EINVAL for options out of range, RT_ENOMEM. */
struct rt_client *rt_client_new(const struct rt_client_options *o, struct rt_error *err);

/* Closes every session (each gets its closed event, code 1001 "client freed"), stops and
 * joins the thread, frees; NULL ok. Sessions still owned by the caller stay valid until
 * rt_session_free. Must not be called from the I/O thread. Waits (without returning on a
 * signal) until the sessions' closes are done or their bounds have passed; a host that
 * must act on a signal meanwhile calls rt_client_close and rt_client_wait_closed first. */
void rt_client_free(struct rt_client *c);

/* Starts what rt_client_free waits for and returns at once: every session is closed as
 * there, and the I/O thread stops once they are done or the largest close_timeout (plus
 * one second) has passed. Idempotent; NULL ok. Sessions can no longer be made. */
void rt_client_close(struct rt_client *c);

/* Like rt_client_close, but the sessions still closing end at once, without waiting for
 * the server's answer (each gets an RT_ECLOSED error saying so, then its closed event);
 * for a host that gave up waiting (an interrupted close). Idempotent; NULL ok. */
void rt_client_close_now(struct rt_client *c);

/* rt_client_free without waiting: rt_client_close_now, then rt_client_free, but the
 * sessions still closing are told the client was freed before their close was done
 * (rt_client_close_now tells them it cut their close short). NULL ok. */
void rt_client_free_now(struct rt_client *c);

/* Waits until the I/O thread has stopped after rt_client_close, or `timeout` seconds pass
 * (as rt_wait_fds: below 0 or infinite, no bound): 1 when it has (rt_client_free then
 * returns without waiting), 0 on timeout, -1 with errno EINTR when a signal handler ran.
 * NULL, and a client inherited across fork(), answer 1. */
int rt_client_wait_closed(struct rt_client *c, double timeout);

/* How many of the client's max_sessions places are held by sessions whose close their
 * owner asked (rt_session_close, rt_session_free) and that have not ended yet: places
 * that free within those sessions' close_timeout. A host at the limit waits while this
 * is above 0 and tries again; once it is 0, the places it saw closing are free (the
 * count drops after the place is). May run one ahead for an instant. 0 for NULL. */
int rt_client_closing(const struct rt_client *c);

/* What the client's I/O thread waits with: "epoll", "kqueue" or "poll" (static). */
const char *rt_client_event_loop(const struct rt_client *c);

#ifdef __cplusplus
}
#endif

#endif
