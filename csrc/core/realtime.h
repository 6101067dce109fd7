/* realtime: a C client for Google's Gemini Live API (live voice, text and tool sessions
 * over WebSockets), for hosts that link the library directly.
 *
 * This header and the ones it includes are the public interface, and the only headers
 * `make install` installs (under include/realtime/; `pkg-config --cflags --libs realtime`):
 *   rt_version.h   RT_VERSION, rt_version()
 *   rt_error.h     struct rt_error, the codes and their names
 *   rt_client.h    a client: one I/O thread shared by its sessions
 *   rt_session.h   a session: sending (text, audio append/commit), events, close, stats
 *   rt_endpoint.h  the URL and headers of each backend and credential
 *   rt_auth.h      OAuth access tokens from Google credentials, for a session's `auth`
 * Other symbols of the library are internal and may change.
 *
 * Create one client (one I/O thread), open sessions on it, and read each session's
 * events from any thread of your own: poll rt_session_fd() or call rt_session_wait(),
 * then drain rt_session_next_event(). See docs/core-api.md for the full contract, and
 * examples/c_session.c for a whole program.
 *
 * After fork(), what the parent made is not usable in the child: every use fails at once
 * with RT_ECLOSED and frees abandon it (docs/core-api.md, "After fork()"). Make clients
 * in the child.
 *
 *     struct rt_error err = {0};
 *     struct rt_client *c = rt_client_new(NULL, &err);
 *     struct rt_endpoint ep;                  // URL + auth headers for a backend
 *     rt_endpoint_build(&(struct rt_endpoint_options){ .api_key = key }, &ep, &err);
 *     struct rt_session *s = rt_session_new(c, &(struct rt_session_options){
 *         .url = ep.url, .headers = ep.headers, .nheaders = ep.nheaders,
 *         .setup = setup_json, .setup_len = strlen(setup_json) }, &err);
 *     rt_endpoint_free(&ep);
 *     while (rt_session_wait(s, -1)) {
 *         struct rt_event *ev = rt_session_next_event(s);
 *         ...                                  // RT_EV_READY, RT_EV_MESSAGE, ...
 *         bool last = ev && ev->type == RT_EV_CLOSED;
 *         rt_event_free(ev);
 *         if (last) break;
 *     }
 *     rt_session_free(s);
 *     rt_client_free(c);
 */
#ifndef REALTIME_H
#define REALTIME_H

#ifdef __cplusplus
extern "C" {
#endif

#include "rt_version.h"
#include "rt_error.h"
#include "rt_client.h"
#include "rt_session.h"
#include "rt_endpoint.h"
#include "rt_auth.h"

#ifdef __cplusplus
}
#endif

#endif
