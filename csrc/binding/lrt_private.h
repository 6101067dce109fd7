/* Declarations shared by the binding files (csrc/lrt_*.c). Not installed. */
#ifndef LRT_PRIVATE_H
#define LRT_PRIVATE_H

#include <lua.h>
#include <lauxlib.h>

#include "rt_error.h"

#define LRT_CLIENT  "realtime.Client"
#define LRT_SESSION "realtime.Session"

struct rt_client;
struct rt_session;

/* The userdata of a client: a box around the core object, so the core object can be
 * shut down (by close) before Lua collects the box. */
struct lrt_client {
    struct rt_client *c;        /* owned; NULL once closed */
    struct rt_client *closing;  /* owned: closed by close(), whose wait was interrupted
                                   (the I/O thread may still be closing its sessions) */
};

/* The userdata of a session. User values: LRT_UV_* below. */
struct lrt_session {
    struct rt_session *s;  /* owned; freed by __gc (a C host may still hold it until then) */
    int closing;           /* close() was called */
    int ended;             /* the closed message was handed to Lua */
    struct rt_event *mapping;   /* the event being mapped (from its own bytes), NULL
                                   otherwise; owned by lrt_event_to_messages, which
                                   frees it however the mapping ends */
    struct rt_event *held;      /* owned: an event of the core's own (not a server
                                   message) whose mapping ran out of memory; mapped
                                   again before the next one, so closed is not lost */
    lua_Integer inbox_head;     /* LRT_UV_INBOX holds [inbox_head..inbox_tail]; both */
    lua_Integer inbox_tail;     /* start again at 1 / 0 whenever it empties */
    int in_handler;             /* a tool handler runs (or waits) for LRT_UV_DISPATCH */
    size_t max_queue;           /* the core's max_queue_bytes: no JSON text longer can
                                   ever be queued, so the mapping's encodes stop there */
};

enum {
    LRT_UV_MAP = 1,    /* the mapping state table (lrt_map.h) */
    LRT_UV_TOOLS,      /* name -> handler */
    LRT_UV_INBOX,      /* mapped messages not yet returned, an array (inbox_head..) */
    LRT_UV_CLIENT,     /* the client userdata: keeps it alive while the session lives */
    LRT_UV_PROPS,      /* a table for the Lua front (session.options and friends) */
    LRT_UV_STAGED,     /* messages of events read ahead, not yet dispatched: one array
                          per server message, oldest first { { msg, ... }, ... }, or
                          nil when none */
    LRT_UV_DISPATCH,   /* while tool handlers of a server message run: { msgs = its
                          messages, owner = { thread } (weak) }, or nil (lrt_dispatch.c) */
    LRT_UV_COUNT = LRT_UV_DISPATCH
};

/* Each binding part adds its functions to the module table on top of the stack. */
void lrt_open_parts(lua_State *L);
void lrt_open_client(lua_State *L);
void lrt_open_session(lua_State *L);
void lrt_open_endpoint(lua_State *L);
void lrt_open_auth(lua_State *L);
void lrt_open_audio(lua_State *L);

/* Pushes nil, message, code for a runtime failure and returns 3 (the "fail" tuple). The
 * code is one of the documented ones: RT_EINVAL (misuse) and RT_ENOMEM raise instead, so
 * call it with nothing to free. */
int lrt_pushfail(lua_State *L, const struct rt_error *err);

/* Copies C memory the caller owns into Lua: runs push(L, p), which pushes what it makes
 * of p, in protected mode; then release(p), however push ended; then raises again what
 * push raised (a memory error stays one from Lua 5.4.1 on). Returns the number of values
 * push left. So a memory error while the copy is made neither leaks p nor leaves a
 * secret in it unwiped: release runs at once, also when the error ends a coroutine
 * (whose stack Lua never unwinds, so a to-be-closed guard would wait for the
 * collector). */
int lrt_push_released(lua_State *L, int (*push)(lua_State *L, void *p), void *p,
                      void (*release)(void *p));

/* Pushes the module table (realtime.core) kept in the registry at open. */
void lrt_push_module(lua_State *L);

/* Calls realtime.core.<name> with nargs arguments from the top of the stack, leaving
 * nresults values (plain call: errors propagate). */
void lrt_call_module(lua_State *L, const char *name, int nargs, int nresults);
/* The same in protected mode, for a function the caller's Lua code called, with its JSON
 * encodes bounded to `bound` bytes each (lrt_json_pcall_bounded): returns the lua_pcall
 * status or LRT_JSON_OVERRUN; on an error its value is on top, for the caller to raise
 * once it has undone what it must, and a string gets the position of that caller's
 * line, as luaL_error gives (not the overrun's message, which is returned, not raised). */
int lrt_pcall_module_for_caller(lua_State *L, const char *name, int nargs, int nresults,
                                size_t bound);
/* Raises msg (a misuse by the user's code) positioned at the first Lua function on the
 * stack that is not the library's own Lua (lua/realtime/init.lua): the methods written
 * there (receive, messages, poll) call the C ones for the user, whose line it must name. */
int lrt_error_at_user(lua_State *L, const char *msg);

/* The string at idx for C (the core, libc, libcurl, OpenSSL), which would read it only up
 * to a NUL byte: a value other than the caller's (another file, URL or key) with no
 * error. One with a NUL raises "<what> contains a NUL byte" (what: a lua_pushfstring
 * format, such as "option '%s':"); the value is never quoted, since it may be a
 * secret. Anything but a string raises as luaL_checklstring does. */
const char *lrt_cstring(lua_State *L, int idx, const char *what, ...);

/* Optional fields of the table at t: NULL / dflt when absent; a value of the wrong type
 * raises "field 'key': expected a string, got <type>", a string with a NUL byte "field
 * 'key': contains a NUL byte" (lrt_cstring). A returned string stays valid while the
 * table holds it. */
const char *lrt_field_string(lua_State *L, int t, const char *key);
lua_Number lrt_field_number(lua_State *L, int t, const char *key, lua_Number dflt);
int lrt_field_bool(lua_State *L, int t, const char *key);

struct lrt_client *lrt_check_client(lua_State *L, int idx);
/* Adds the new client at idx to the ones its state's lua_close closes side by side
 * (lrt_state_close.c). */
void lrt_track_client(lua_State *L, int idx);
/* Whether lua_close is finalizing the state: a client made now would never be freed. */
int lrt_state_closing(lua_State *L);
/* The session at idx (luaL_checkudata's error otherwise); lrt_check_session also raises
 * "session closed" once it is closed. They run on every method call, so the session's
 * functions hold its metatable as upvalue 1 and a session is recognised by comparing
 * with it (luaL_checkudata looks LRT_SESSION up in the registry). A caller whose
 * upvalue 1 is another metatable must not use them. */
struct lrt_session *lrt_session_arg(lua_State *L, int idx);
struct lrt_session *lrt_check_session(lua_State *L, int idx);
/* Whether the session at idx has a message for poll() (lrt_receive.c). */
int lrt_session_has_pending(lua_State *L, int idx, struct lrt_session *u);

#endif
