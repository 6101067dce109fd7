/* Tool dispatch: the part of try_receive that runs the Lua handlers of a server
 * message's function calls (under lua_pcallk with a traceback, so a handler may yield when
 * the receive runs in a coroutine; lrt_dispatch_k picks the loop up again), records each
 * outcome as its call's result (made readable by lrt_tool_result.c) and answers the
 * calls in one tool response. */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_private.h"
#include "lrt_receive.h"

/* What the Lua wrapper of a handler returns in place of a result (tools.lua, wait.lua):
 * DEFERRED when a non_blocking handler waits and goes on in a coroutine of its own, which
 * answers the call itself; FAILED, then the error with its traceback, when it raised
 * (before waiting). Their addresses are the markers. */
static const char lrt_tool_deferred = 'd', lrt_tool_failed = 'f';

static int lrt_is_marker(lua_State *L, int idx, const char *marker)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == marker;
}

void lrt_open_dispatch(lua_State *L)
{
    lua_pushcfunction(L, lrt_traceback);
    lua_setfield(L, -2, "_traceback");
    lua_pushcfunction(L, lrt_tool_error_result);
    lua_setfield(L, -2, "_tool_error_result");
    lua_pushcfunction(L, lrt_tool_options_fault);
    lua_setfield(L, -2, "_tool_options_fault");
    lua_pushlightuserdata(L, (void *)&lrt_tool_deferred);
    lua_setfield(L, -2, "_TOOL_DEFERRED");
    lua_pushlightuserdata(L, (void *)&lrt_tool_failed);
    lua_setfield(L, -2, "_TOOL_FAILED");
}

static void lrt_bump(lua_State *L, int slot)
{
    lua_pushinteger(L, lua_tointeger(L, slot) + 1);
    lua_replace(L, slot);
}

/* Returns 1 when the call of the message at msg was answered while its handler ran
 * (the handler called send_tool_result without will_continue): it has left the
 * answerable calls and was not withdrawn by the server. */
static int lrt_answered_meanwhile(lua_State *L, int msg)
{
    int answered = 0;
    if (!lrt_function_call_part(L, msg))
        return 0;
    lua_getfield(L, -1, "call_id");
    lua_getfield(L, SLOT_MAP, "calls");
    lua_pushvalue(L, -2);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_getfield(L, SLOT_MAP, "cancelled_ids");
        lua_pushvalue(L, -4);
        answered = lua_rawget(L, -2) == LUA_TNIL;
        lua_pop(L, 2);
    }
    lua_pop(L, 4);
    return answered;
}

/* The handler answered its own call: a second answer for the id would reach the model
 * as a stray result, so nothing of the handler's goes out. Returning nothing is how a
 * handler says so; a value or an error is not sent, and the log says so. */
static void lrt_drop_second_answer(lua_State *L, int msg, int ok)
{
    if (ok && lua_isnil(L, SLOT_TOP + 1))
        return;
    lua_pushfstring(L, "%s: the call was already answered with send_tool_result; the "
                       "handler's %s was not sent", lrt_call_where(L, msg),
                    ok ? "return value" : "error");
    lua_remove(L, -2);
    if (!ok) {
        lua_pushliteral(L, ": ");
        lua_pushvalue(L, SLOT_TOP + 1);
        lua_concat(L, 3);
    }
    lua_setfield(L, msg, "error_traceback");
}

/* Records the handler's outcome as the call's result and buffers it for the tool
 * response, then goes on. On success the handler's two values (result, options) are
 * above the message handler; on error, the error message. */
static int lrt_dispatch_done(lua_State *L, int status)
{
    lua_Integer i = lua_tointeger(L, SLOT_INDEX) - 1;   /* the call just run */
    int ok = status == LUA_OK || status == LUA_YIELD;
    int msg, result, opts = 0;

    lrt_session_arg(L, SLOT_SELF)->in_handler = 0;

    if (status == LUA_ERRMEM)
        return lua_error(L);
    if (ok && lrt_is_marker(L, SLOT_TOP + 1, &lrt_tool_deferred)) {
        /* Its handler waits beside the receive and answers the call when it returns:
         * neither handled here (the others' results go now) nor left to the caller. */
        lua_rawgeti(L, SLOT_MSGS, i);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "running");
        lua_settop(L, SLOT_TOP);
        return lrt_dispatch(L);
    }
    if (ok && lrt_is_marker(L, SLOT_TOP + 1, &lrt_tool_failed)) {
        ok = 0;                                   /* the error, with its traceback */
        lua_copy(L, SLOT_TOP + 2, SLOT_TOP + 1);
    } else if (ok && !lua_toboolean(L, SLOT_TOP + 1) && lua_type(L, SLOT_TOP + 2) == LUA_TSTRING) {
        /* Lua's failure idiom, return nil, "why": the handler failed, in its words
         * (no options table is a string) */
        ok = 0;
        lua_copy(L, SLOT_TOP + 2, SLOT_TOP + 1);
    }
    if (!ok && lua_toboolean(L, SLOT_NOYIELD)) {
        /* Under poll() a handler runs without a continuation, so a yield fails inside
         * it: say why, in words the user can act on (the Lua text stays for the log). */
        const char *why = lua_tostring(L, SLOT_TOP + 1);
        if (why && strstr(why, "attempt to yield")) {
            lua_pushfstring(L, "tool handler tried to yield inside poll(), which never yields "
                               "(receive() in a coroutine lets handlers wait): %s", why);
            lua_replace(L, SLOT_TOP + 1);
        }
    }
    lua_rawgeti(L, SLOT_MSGS, i);
    msg = lua_gettop(L);
    if (lrt_answered_meanwhile(L, msg)) {
        lrt_drop_second_answer(L, msg, ok);
        lua_settop(L, SLOT_TOP);
        return lrt_dispatch(L);
    }
    if (!ok) {
        /* the model gets the message; the traceback goes to the log */
        lrt_error_result(L, SLOT_TOP + 1, msg);
    } else {
        if (lrt_options_fault(L, SLOT_TOP + 2, msg)) {
            lrt_error_result(L, lua_gettop(L), msg);
            lua_remove(L, -2);
            lua_replace(L, SLOT_TOP + 1);
        } else if (lua_istable(L, SLOT_TOP + 2)) {
            opts = SLOT_TOP + 2;
        }
        lua_pushvalue(L, SLOT_TOP + 1);
    }
    result = lua_gettop(L);
    lrt_buffer_result(L, msg, result, opts);
    lua_pushvalue(L, result);   /* an error result, if the options were refused */
    lua_setfield(L, msg, "result");
    lua_settop(L, SLOT_TOP);
    lrt_bump(L, SLOT_HANDLED);
    return lrt_dispatch(L);
}

static int lrt_dispatch_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    return lrt_dispatch_done(L, status);
}

/* ==================================================================== *
 *  T H E   D I S P A T C H   R E C O R D
 * ==================================================================== */

/* Notes in the dispatch record on top where the dispatch stands (the next call to look
 * at, the counts): if its coroutine ends in the handler about to run, the next receive
 * goes on from there (lrt_dispatch_resume). */
static void lrt_dispatch_note(lua_State *L)
{
    static const struct { int slot; const char *name; } at[] = {
        { SLOT_INDEX, "index" }, { SLOT_HANDLED, "handled" }, { SLOT_UNHANDLED, "unhandled" },
    };
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        lua_pushvalue(L, at[k].slot);
        lua_setfield(L, -2, at[k].name);
    }
}

/* Records, before a handler runs, which coroutine runs it, the messages it will deliver
 * and where the dispatch stands (LRT_UV_DISPATCH): receives elsewhere must not take the
 * messages that follow them, and if that coroutine is closed while its handler waits,
 * they are not lost and the later calls' handlers still run. */
static void lrt_dispatch_mark(lua_State *L, struct lrt_session *u)
{
    u->in_handler = 1;
    if (lua_getiuservalue(L, SLOT_SELF, LRT_UV_DISPATCH) == LUA_TTABLE) {
        lrt_dispatch_note(L);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 5);
    lrt_dispatch_note(L);
    lua_pushvalue(L, SLOT_MSGS);
    lua_setfield(L, -2, "msgs");
    lua_createtable(L, 1, 0);      /* owner: { thread }, weak: never kept alive by this */
    lua_pushthread(L);
    lua_rawseti(L, -2, 1);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "owner");
    lua_setiuservalue(L, SLOT_SELF, LRT_UV_DISPATCH);
}

static void lrt_dispatch_clear(lua_State *L, struct lrt_session *u, int self)
{
    u->in_handler = 0;
    lua_pushnil(L);
    lua_setiuservalue(L, self, LRT_UV_DISPATCH);
}

/* Whether thread T can still go on: running, suspended in a yield, or resuming another. */
static int lrt_thread_alive(lua_State *L, lua_State *T)
{
    lua_Debug ar;
    if (!T)
        return 0;
    if (T == L || lua_status(T) == LUA_YIELD)
        return 1;
    return lua_status(T) == LUA_OK && lua_getstack(T, 0, &ar);
}

#define LRT_IN_HANDLER "cannot receive inside a tool handler of this session (the " \
    "messages around its call wait until the handler returns)"

/* Whether L runs a handler of the session at idx (absolute) in a coroutine of its own,
 * beside the receive: tools.lua keys such coroutines in the session's properties
 * (handler_threads) while their handler runs. */
static int lrt_beside_handler(lua_State *L, int idx)
{
    int top = lua_gettop(L), in = 0;

    if (lua_getiuservalue(L, idx, LRT_UV_PROPS) == LUA_TTABLE
        && lua_getfield(L, -1, "handler_threads") == LUA_TTABLE) {
        lua_pushthread(L);
        in = lua_rawget(L, -2) != LUA_TNIL;
    }
    lua_settop(L, top);
    return in;
}

int lrt_dispatch_check_beside(lua_State *L, int idx)
{
    if (lrt_beside_handler(L, idx))
        return lrt_error_at_user(L, LRT_IN_HANDLER);
    return 0;
}

int lrt_dispatch_receivable(lua_State *L, struct lrt_session *u, int idx)
{
    int top = lua_gettop(L), ok = 1;

    if (u->mapping || lrt_beside_handler(L, idx))
        return 0;
    if (u->in_handler && lua_getiuservalue(L, idx, LRT_UV_DISPATCH) == LUA_TTABLE) {
        lua_getfield(L, -1, "owner");
        lua_rawgeti(L, -1, 1);
        lua_State *owner = lua_tothread(L, -1);
        ok = !(owner == L && lrt_thread_alive(L, owner));
    }
    lua_settop(L, top);
    return ok;
}

int lrt_dispatch_busy(lua_State *L, struct lrt_session *u)
{
    int top = lua_gettop(L);
    lua_State *owner;

    if (lua_getiuservalue(L, 1, LRT_UV_DISPATCH) != LUA_TTABLE) {
        lua_settop(L, top);
        return 0;
    }
    lua_getfield(L, -1, "owner");
    lua_rawgeti(L, -1, 1);
    owner = lua_tothread(L, -1);
    if (u->in_handler && lrt_thread_alive(L, owner)) {
        lua_settop(L, top);
        if (owner == L)
            return lrt_error_at_user(L, LRT_IN_HANDLER);
        return 1;
    }
    /* The coroutine ended inside a handler (closed, or collected), or an error left the
     * dispatch: lrt_dispatch_resume goes on with its messages. */
    lua_settop(L, top);
    return -1;
}

/* The call of the message at msg, whose handler the end of its coroutine cut short:
 * handled if its result was recorded; else left to the caller while still answerable
 * (not answered by the handler itself, nor withdrawn). */
static void lrt_dispatch_count_cut(lua_State *L, int msg)
{
    if (lua_getfield(L, msg, "result") != LUA_TNIL) {
        lua_pop(L, 1);
        lrt_bump(L, SLOT_HANDLED);
        return;
    }
    lua_pop(L, 1);
    if (lrt_get_bool(L, msg, "running") || !lrt_function_call_part(L, msg))
        return;
    lua_getfield(L, SLOT_MAP, "calls");
    lua_getfield(L, -2, "call_id");
    if (lua_rawget(L, -2) != LUA_TNIL)
        lrt_bump(L, SLOT_UNHANDLED);
    lua_pop(L, 3);
}

int lrt_dispatch_resume(lua_State *L, struct lrt_session *u, int noyield)
{
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, LRT_UV_DISPATCH);
    lua_getfield(L, 2, "msgs");               /* SLOT_MSGS */
    lua_getfield(L, 2, "index");              /* SLOT_INDEX: the call after the cut one */
    lua_getfield(L, 2, "handled");            /* SLOT_HANDLED */
    lua_getfield(L, 2, "unhandled");          /* SLOT_UNHANDLED */
    lua_remove(L, 2);
    /* this coroutine owns the dispatch now: a handler it runs records it afresh */
    lrt_dispatch_clear(L, u, SLOT_SELF);
    lua_getiuservalue(L, 1, LRT_UV_TOOLS);    /* SLOT_TOOLS */
    lua_getiuservalue(L, 1, LRT_UV_MAP);      /* SLOT_MAP */
    lua_pushcfunction(L, lrt_traceback);      /* SLOT_MSGH */
    lua_pushboolean(L, noyield);              /* SLOT_NOYIELD */
    if (!lua_istable(L, SLOT_MSGS) || !lua_isinteger(L, SLOT_INDEX)) {
        lua_settop(L, 1);
        return luaL_error(L, "BUG: a dispatch record without its messages");
    }
    lua_rawgeti(L, SLOT_MSGS, lua_tointeger(L, SLOT_INDEX) - 1);
    if (lua_istable(L, -1))
        lrt_dispatch_count_cut(L, lua_gettop(L));
    lua_settop(L, SLOT_TOP);
    return lrt_dispatch(L);
}

/* Moves the mapped messages into the inbox and returns the first. */
static int lrt_deliver(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, SLOT_SELF);
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, SLOT_MSGS);
    int inbox;

    lrt_dispatch_clear(L, u, SLOT_SELF);
    lua_getiuservalue(L, SLOT_SELF, LRT_UV_INBOX);
    inbox = lua_gettop(L);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, SLOT_MSGS, i);
        lrt_inbox_push(L, u, inbox, -1);
        lua_pop(L, 1);
    }
    lua_settop(L, SLOT_SELF);
    if (lrt_inbox_pop(L, u, SLOT_SELF))
        return 1;
    lua_pushnil(L);
    lua_pushliteral(L, "again");
    return 2;
}

/* Appends to SLOT_MSGS an error message saying the tool response was not sent. */
static void lrt_push_not_sent(lua_State *L, const char *code, const char *why)
{
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "error");
    lua_setfield(L, -2, "type");
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushfstring(L, "tool response not sent: %s", why);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, SLOT_MSGS, (lua_Integer)lua_rawlen(L, SLOT_MSGS) + 1);
}

/* The session was closed (session:close() or client:close()) while this message's
 * handlers ran, or before the later ones could run: their results cannot go out. The
 * caller is told as when a send finds the session closed (code "closed"), with the ids
 * of every such call (call_ids): a handler that ran, one the close kept from running,
 * one that answered itself too late. Calls left to the caller and non_blocking handlers
 * that went on beside the receive (these log their own outcome) are not named. The
 * message goes before the closed one, which stays last. */
static void lrt_dispatch_closed_meanwhile(lua_State *L)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, SLOT_MSGS), k = 0;

    lua_getfield(L, SLOT_MAP, "calls");
    int calls = lua_gettop(L);
    lua_pushnil(L);     /* the ids, made at the first: most messages have no call */
    int ids = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, SLOT_MSGS, i);
        int msg = lua_gettop(L);
        if (!lrt_get_bool(L, msg, "running") && lrt_function_call_part(L, msg)
            && lua_getfield(L, -1, "name") == LUA_TSTRING
            && lua_rawget(L, SLOT_TOOLS) != LUA_TNIL) {
            /* still answerable: nothing went out for it */
            lua_getfield(L, msg + 1, "call_id");
            lua_pushvalue(L, -1);
            if (lua_type(L, calls) == LUA_TTABLE && lua_rawget(L, calls) != LUA_TNIL) {
                lua_pop(L, 1);
                if (k == 0) {
                    lua_newtable(L);
                    lua_replace(L, ids);
                }
                lua_rawseti(L, ids, ++k);
            }
        }
        lua_settop(L, ids);
    }
    if (k > 0) {
        lrt_push_not_sent(L, "closed", "session closed");
        lua_rawgeti(L, SLOT_MSGS, (lua_Integer)lua_rawlen(L, SLOT_MSGS));
        lua_pushvalue(L, ids);
        lua_setfield(L, -2, "call_ids");
    }
    lua_settop(L, SLOT_TOP);
}

/* Whether the session was closed by its owner: session:close(), its collection, or
 * client:close(), which closes every session of the client but marks none of their
 * boxes (the client box, LRT_UV_CLIENT, is cleared at once, while the core's session
 * may still look open until the I/O thread gets to it). */
static int lrt_dispatch_closed(lua_State *L, const struct lrt_session *u)
{
    const struct lrt_client *cu;
    int closed;

    if (u->closing || !u->s)
        return 1;
    lua_getiuservalue(L, SLOT_SELF, LRT_UV_CLIENT);
    cu = luaL_testudata(L, -1, LRT_CLIENT);
    closed = cu && !cu->c;
    lua_pop(L, 1);
    return closed;
}

/* Runs the handlers of the function calls from SLOT_INDEX on; when all are done,
 * answers them in one tool response (unless some are left to the caller). */
int lrt_dispatch(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, SLOT_SELF);
    lua_Integer n = (lua_Integer)lua_rawlen(L, SLOT_MSGS);

    while (lua_tointeger(L, SLOT_INDEX) <= n) {
        lua_Integer i = lua_tointeger(L, SLOT_INDEX);
        lrt_bump(L, SLOT_INDEX);
        lua_rawgeti(L, SLOT_MSGS, i);
        if (!lrt_function_call_part(L, lua_gettop(L))) {
            lua_settop(L, SLOT_TOP);
            continue;
        }
        lua_getfield(L, -1, "name");
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawget(L, SLOT_TOOLS) == LUA_TNIL) {
            lua_settop(L, SLOT_TOP);
            lrt_bump(L, SLOT_UNHANDLED);
            continue;
        }
        if (lrt_dispatch_closed(L, u)) {
            /* its result could not go out: not run, named in the closed error */
            lua_settop(L, SLOT_TOP);
            continue;
        }
        /* stack: ..., msg, part, handler -> handler(args, call) */
        lua_getfield(L, -2, "arguments");
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
        lua_createtable(L, 0, 3);
        lua_getfield(L, -4, "call_id");
        lua_setfield(L, -2, "id");
        lua_getfield(L, -4, "name");
        lua_setfield(L, -2, "name");
        lua_pushvalue(L, SLOT_SELF);
        lua_setfield(L, -2, "session");
        lua_remove(L, -4);   /* part */
        lua_remove(L, -4);   /* msg */
        lrt_dispatch_mark(L, u);
        if (lua_toboolean(L, SLOT_NOYIELD))
            return lrt_dispatch_done(L, lua_pcall(L, 2, 2, SLOT_MSGH));
        return lrt_dispatch_done(L, lua_pcallk(L, 2, 2, SLOT_MSGH, 0, lrt_dispatch_k));
    }

    if (lrt_dispatch_closed(L, u)) {
        lrt_dispatch_closed_meanwhile(L);
    } else if (lua_tointeger(L, SLOT_HANDLED) > 0 && lua_tointeger(L, SLOT_UNHANDLED) == 0) {
        int r;
        /* A cancellation may have come while the handlers ran (or waited): read what
         * has arrived, so that withdrawn calls' results are dropped before they go. */
        lrt_stage_ahead(L, u);
        lua_getfield(L, SLOT_MAP, "pending");    /* kept: restored if the send fails */
        int pending = lua_gettop(L), trigger = lrt_get_bool(L, SLOT_MAP, "media_trigger");
        if (lua_rawlen(L, pending) == 0) {
            lua_settop(L, SLOT_TOP);
            return lrt_deliver(L);
        }
        lua_pushvalue(L, SLOT_MAP);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "response_create");
        lua_setfield(L, -2, "type");
        lrt_call_module(L, "map_client", 2, 3);
        lua_pop(L, 2);
        if (lua_istable(L, -1)) {
            r = lrt_send_all(L, u, lua_gettop(L), SLOT_MAP);
            if (r) {
                /* the answer could not be queued: tell the caller, keep the session and
                 * the results (create_response() sends them again, a new result for a
                 * call replaces its own). The fail tuple is on top: nil, message, code. */
                lrt_map_client_unflush(L, SLOT_MAP, pending, trigger);
                lrt_push_not_sent(L, lua_tostring(L, -1), lua_tostring(L, -2));
            }
        }
        lua_settop(L, SLOT_TOP);
    }
    return lrt_deliver(L);
}
