/* Session events, as the owner reads them (rt_session_next_event).
 *
 * The queue that carries them (rt_evq.h) is internal. */
#ifndef RT_EVENT_H
#define RT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_link.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rt_event_type {
    RT_EV_READY,        /* data: the setupComplete message text */
    RT_EV_MESSAGE,      /* data: one complete server message (JSON text); code: flags
                           (RT_EV_HANDLE_LACKS_HISTORY, RT_EV_HANDLE_PAST_DROPPED), 0 for
                           none */
    RT_EV_RECONNECTED,  /* code: attempt number; data: reason; seq: how many of the
                           session's server messages the resumed server state holds */
    RT_EV_ERROR,        /* code: enum rt_code; data: message. Not the end by itself: a
                           session that ends queues RT_EV_CLOSED after it */
    RT_EV_CLOSED        /* code: WebSocket close code (1006 when none); data: reason; seq:
                           RT_EV_CLOSED_BY_PEER when they are the server's close frame's,
                           else 0 (ours, or none came). Always last. */
};

/* RT_EV_MESSAGE's code: the message gives a resumption handle that does not hold the
 * session's initial history (rt_session_send_initial), which a session resumed from it
 * would lack. The core never resumes with such a handle; nor should its owner. */
#define RT_EV_HANDLE_LACKS_HISTORY 1

/* RT_EV_MESSAGE's code: the message came during the owner's close after server messages
 * that were dropped (the unread ones held max_receive_bytes): a resumption handle in it
 * describes a state holding messages the owner never got. The core does not keep it
 * (rt_session_resumption_handle stays at the one before the first drop); nor should its
 * owner. */
#define RT_EV_HANDLE_PAST_DROPPED 2

/* RT_EV_CLOSED's seq: the server closed the connection, and code and reason are its own
 * (a 1007 of ours for its invalid UTF-8, a 1006 for a lost connection are not). */
#define RT_EV_CLOSED_BY_PEER 1

/* ISO C++ has no flexible array member; g++ and clang++ take one as an extension, and
 * under -pedantic-errors the warnings about it are quieted around this struct alone. */
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc99-extensions"
#pragma clang diagnostic ignored "-Wflexible-array-extensions"
#elif defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
struct rt_event {
    struct rt_link link;              /* owned by the queue while queued */
    enum rt_event_type type;
    int code;
    uint64_t seq;                     /* RT_EV_MESSAGE: its number among the session's server
                                         messages (from 1, across connections, setupComplete
                                         not counted); RT_EV_RECONNECTED: the number of the
                                         last one the resumed state holds (that of the message
                                         whose handle it resumed from; 0 for a new session or
                                         a saved handle): later ones, a tool call among them,
                                         are unknown to the server now; RT_EV_CLOSED:
                                         RT_EV_CLOSED_BY_PEER or 0. 0 otherwise */
    size_t len;                       /* bytes in data, not counting the NUL */
    char data[];                      /* NUL-terminated */
};
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

void rt_event_free(struct rt_event *ev);                       /* NULL ok */

#ifdef __cplusplus
}
#endif

#endif
