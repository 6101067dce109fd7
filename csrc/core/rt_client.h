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
 * rt_session_free. Must not be called from the I/O thread. */
void rt_client_free(struct rt_client *c);

/* What the client's I/O thread waits with: "epoll", "kqueue" or "poll" (static). */
const char *rt_client_event_loop(const struct rt_client *c);

#ifdef __cplusplus
}
#endif

#endif
