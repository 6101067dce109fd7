/* The receive loop's parts shared by lrt_session.c (the method table), lrt_session_send.c,
 * lrt_receive.c (reading events, the inbox) and lrt_dispatch.c (running tool handlers
 * and answering their calls). */
#ifndef LRT_RECEIVE_H
#define LRT_RECEIVE_H

#include <lua.h>

#include "lrt_private.h"

/* Stack slots of try_receive while it works on one server message. */
enum {
    SLOT_SELF = 1,
    SLOT_MSGS,      /* the mapped messages of this server message */
    SLOT_INDEX,     /* next message to look at for a function call */
    SLOT_HANDLED,   /* calls answered by handlers */
    SLOT_UNHANDLED, /* calls left to the caller */
    SLOT_TOOLS,
    SLOT_MAP,
    SLOT_MSGH,      /* the traceback message handler */
    SLOT_NOYIELD,   /* true under poll(): handlers run without a continuation */
    SLOT_TOP = SLOT_NOYIELD
};

/* Runs the handlers of the function calls of the mapped messages from SLOT_INDEX on,
 * answers them in one tool response, then returns the first message (or nil, "again"). */
int lrt_dispatch(lua_State *L);
/* lrt_tool_result.c: a handler's outcome made into what the model reads. */
/* Message handler for tool handlers: the error with a traceback. */
int lrt_traceback(lua_State *L);
/* If the message at idx is the _done of a function call, pushes its call part and
 * returns 1; else returns 0. */
int lrt_function_call_part(lua_State *L, int idx);
/* Pushes and returns "tool 'name' (call 'id')" for the call of the message at msg, the
 * server's id shown escaped and cut (lrt_map_shown), as every tool message names a call. */
const char *lrt_call_where(lua_State *L, int msg);
/* Pushes { error = <the message at idx, its traceback cut> } for the model and sets the
 * whole text as msg.error_traceback for the log. */
void lrt_error_result(lua_State *L, int idx, int msg);
/* Buffers the result at `result` (options table at opts, 0: none) for the call of the
 * message at msg through map_client; what cannot be sent becomes an error result or an
 * error message in SLOT_MSGS. */
void lrt_buffer_result(lua_State *L, int msg, int result, int opts);
/* The fault of the handler's options at idx, "tool 'name': handler's options: ...",
 * pushed, or nothing and NULL. */
const char *lrt_options_fault(lua_State *L, int idx, int msg);
/* core._tool_error_result and core._tool_options_fault (tools.lua's late answers). */
int lrt_tool_error_result(lua_State *L);
int lrt_tool_options_fault(lua_State *L);
/* Sets the module table's (on top) _traceback and the markers a handler's
 * wrapper returns, _TOOL_DEFERRED and _TOOL_FAILED. */
void lrt_open_dispatch(lua_State *L);
/* Before a receive takes anything new from the session at 1: returns 0 when no handler
 * of it runs; raises when one runs on this thread (a handler receiving from its own
 * session); returns 1 when one waits on another coroutine (the messages wait for it, to
 * keep their order); returns -1 when a coroutine ended in a handler (closed, collected)
 * or an error left a dispatch: lrt_dispatch_resume then goes on with what it held. */
int lrt_dispatch_busy(lua_State *L, struct lrt_session *u);
/* After lrt_dispatch_busy gave -1, with the session alone at 1: runs the handlers of the
 * ended dispatch's later calls, which had not started, and answers and delivers its
 * messages as the dispatch would have; the call whose handler was cut short is left to
 * the caller. Returns as try_receive does. */
int lrt_dispatch_resume(lua_State *L, struct lrt_session *u, int noyield);
/* Raises (at the user's line) when this thread runs a handler of the session at idx
 * (absolute) beside its receive: a non_blocking tool's handler that waited. Else 0. */
int lrt_dispatch_check_beside(lua_State *L, int idx);
/* 0 when a receive on this thread from the session at idx would raise: one of its tool
 * handlers runs here, or it is reading a server message (a finaliser runs meanwhile). */
int lrt_dispatch_receivable(lua_State *L, struct lrt_session *u, int idx);

/* lrt_session_send.c: lrt_send_all, and the send methods lrt_session.c registers */
int lrt_send_all(lua_State *L, struct lrt_session *u, int idx, int state);
int lrt_session_send(lua_State *L);
int lrt_session_send_wire(lua_State *L);
int lrt_session_send_initial(lua_State *L);
int lrt_session_append_audio(lua_State *L);
int lrt_session_commit_audio(lua_State *L);

/* lrt_receive.c */
void lrt_inbox_push(lua_State *L, struct lrt_session *u, int inbox, int msg);
int lrt_inbox_pop(lua_State *L, struct lrt_session *u, int self);
/* Maps the events that have already arrived into the staged array (read ahead). */
void lrt_stage_ahead(lua_State *L, struct lrt_session *u);
/* session:try_receive() (may yield in handlers), session:_poll() (never yields) and
 * session:_wait(timeout), registered by lrt_session.c */
int lrt_session_try_receive(lua_State *L);
int lrt_session_poll(lua_State *L);
int lrt_session_wait(lua_State *L);
/* A timeout argument in seconds at idx: -1 (no bound) when absent or math.huge; NaN
 * raises. Shared with poll_fds. */
double lrt_timeout_arg(lua_State *L, int idx);

#endif
