/* The receiving half of realtime.Session: core events mapped to messages, the inbox of
 * messages mapped but not yet returned, read-ahead, and the non-blocking primitives the
 * Lua front builds receive, messages and poll on (try_receive, _poll, _wait). Handlers
 * of function calls run in lrt_dispatch.c. */
#include <math.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_private.h"
#include "lrt_receive.h"
#include "rt_session.h"

/* ==================================================================== *
 *  R E C E I V I N G
 * ==================================================================== */

/* Appends the value at msg to the session's inbox (the table at inbox). The indexes live
 * in the userdata: a message costs no string-keyed lookup on its way through. The tail
 * moves once the message is stored: growing the table can raise a memory error. */
void lrt_inbox_push(lua_State *L, struct lrt_session *u, int inbox, int msg)
{
    lua_pushvalue(L, msg);
    lua_rawseti(L, inbox, u->inbox_tail + 1);
    u->inbox_tail++;
}

/* Pushes the oldest waiting message and returns 1, or returns 0 when none waits. */
int lrt_inbox_pop(lua_State *L, struct lrt_session *u, int self)
{
    if (u->inbox_head > u->inbox_tail)
        return 0;
    lua_getiuservalue(L, self, LRT_UV_INBOX);
    lua_rawgeti(L, -1, u->inbox_head);
    lua_pushnil(L);
    lua_rawseti(L, -3, u->inbox_head);
    lua_remove(L, -2);
    if (++u->inbox_head > u->inbox_tail) {
        u->inbox_head = 1;       /* empty: the next messages reuse the array part */
        u->inbox_tail = 0;
    }
    return 1;
}

/* Whether session:poll() would find a message: one mapped and waiting, some read ahead,
 * or an event from the core. Takes nothing, makes no system call: client:poll() asks
 * this of every session first, so an idle session costs one check per frame. */
int lrt_session_has_pending(lua_State *L, int idx, struct lrt_session *u)
{
    int staged;

    if (u->inbox_head <= u->inbox_tail || u->held)
        return 1;
    staged = lua_getiuservalue(L, idx, LRT_UV_STAGED) != LUA_TNIL;
    lua_pop(L, 1);
    return staged || (!u->ended && u->s && rt_session_pending(u->s));
}

/* Pushes { type =, [k1] = text, [k2] = integer } for a core event. The text (a close
 * reason, an error message that may quote one) is made valid UTF-8: a peer may send any
 * bytes as a close reason, and the caller logs and encodes what it gets. */
static void lrt_push_simple(lua_State *L, const char *type, const char *k1, const char *v1,
                            size_t n1, const char *k2, lua_Integer v2)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    if (k1) {
        lrt_push_utf8_fixed(L, v1, n1);
        lua_setfield(L, -2, k1);
    }
    if (k2) {
        lua_pushinteger(L, v2);
        lua_setfield(L, -2, k2);
    }
}

/* Pushes an array of messages: empty, or those that end the response in progress,
 * cut off by the connection or the session ending (response_done "incomplete", with
 * `why`), as the mapping ends a turn. Every response_created gets its response_done. */
static void lrt_end_response(lua_State *L, const char *why)
{
    static const char turn_end[] = "{\"serverContent\":{\"turnComplete\":true}}";
    int st, cut;

    lua_getiuservalue(L, SLOT_SELF, LRT_UV_MAP);
    st = lua_gettop(L);
    cut = lua_getfield(L, st, "response_id") != LUA_TNIL;
    lua_pop(L, 1);
    if (cut) {
        lua_pushstring(L, why);
        lua_setfield(L, st, "response_incomplete");
        lrt_map_server_text(L, st, turn_end, sizeof turn_end - 1);
        lua_pop(L, 2);                        /* msgs | nil */
    } else {
        lua_pushnil(L);
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lua_remove(L, st);
}

/* Appends to the array on top the input_audio_transcription_completed of the user's
 * transcript still pending, when there is one: it belongs to the lost connection. The
 * input sent again is transcribed again by the new one, and its pieces must not be glued
 * to these (the completed text would hold the words twice); input the resumed server
 * already holds is not transcribed again, so these are completed now rather than dropped.
 * A response still open has completed them as it ended (lrt_end_response). Details of
 * pieces without text are dropped with the connection. */
static void lrt_complete_input(lua_State *L)
{
    static const char finished[] = "{\"serverContent\":{\"inputTranscription\":"
                                   "{\"finished\":true}}}";
    int msgs = lua_gettop(L);

    lua_getiuservalue(L, SLOT_SELF, LRT_UV_MAP);
    int st = msgs + 1;
    lua_getfield(L, st, "input_parts");
    int pending = lua_istable(L, -1) && lua_rawlen(L, -1) > 0;
    lua_pop(L, 1);
    if (!pending) {
        /* details of pieces without text (their frames came as raw) end with the lost
           connection too: kept, they would join the next utterance's */
        lua_pushnil(L);
        lua_setfield(L, st, "input_details");
    } else {
        lrt_map_server_text(L, st, finished, sizeof finished - 1);   /* msgs | nil, .. */
        lua_pop(L, 2);
        if (lua_istable(L, -1)) {
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                lua_rawseti(L, msgs, (lua_Integer)lua_rawlen(L, msgs) + 1);
            }
        }
    }
    lua_settop(L, msgs);
}

/* A reconnect that resumed from server message `since` (0: a new session) voided the
 * calls that came after it: the server knows nothing of them, and answers the input it
 * is sent again with new calls. They are withdrawn as a toolCallCancellation withdraws
 * them (their results dropped, late answers not sent), and its tool_call_cancellation
 * message (with reconnected = true) is appended to the array on top. */
static void lrt_withdraw_voided(lua_State *L, lua_Integer since)
{
    int msgs = lua_gettop(L);
    lua_getiuservalue(L, SLOT_SELF, LRT_UV_MAP);
    int st = msgs + 1;
    if (lrt_map_withdrawn_since(L, st, since) > 0) {
        int ids = lua_gettop(L);
        /* the mapping of the server's own withdrawal, fed its frame */
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, ids);
        lua_setfield(L, -2, "ids");
        lua_setfield(L, -2, "toolCallCancellation");
        lrt_json_encode(L, -1, LRT_JSON_MAX_DEPTH);
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        lrt_map_server_text(L, st, text, len);   /* msgs | nil, msg, code */
        lua_pop(L, 2);
        if (lua_istable(L, -1)) {
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                lrt_set_bool(L, -1, "reconnected", 1);
                lua_rawseti(L, msgs, (lua_Integer)lua_rawlen(L, msgs) + 1);
            }
        }
    }
    lua_settop(L, msgs);
}

/* Pushes the array of the messages of the event u->mapping. Runs in protected mode
 * (lrt_event_to_messages), with the session as its argument (SLOT_SELF). */
static int lrt_map_event(lua_State *L)
{
    struct lrt_session *u = lua_touserdata(L, SLOT_SELF);
    const struct rt_event *ev = u->mapping;

    switch (ev->type) {
    case RT_EV_READY:
        lua_createtable(L, 1, 0);
        lrt_push_simple(L, "_ready", "text", ev->data, ev->len, NULL, 0);
        lua_rawseti(L, -2, 1);
        break;
    case RT_EV_MESSAGE:
        lua_getiuservalue(L, SLOT_SELF, LRT_UV_MAP);
        /* the core knows whether a handle in it holds the history, and whether it follows
         * messages the close dropped: either way it is no handle to resume from
         * (lrt_map_resumption) */
        lrt_set_bool(L, -1, "handle_withheld",
                     ev->code & (RT_EV_HANDLE_LACKS_HISTORY | RT_EV_HANDLE_PAST_DROPPED));
        /* the calls in it are noted with it: a reconnect may resume from before them */
        lrt_set_int(L, -1, "rx_seq", (lua_Integer)ev->seq);
        lrt_map_server_text(L, -1, ev->data, ev->len);   /* msgs | nil, msg, code */
        if (lua_isnil(L, -3)) {
            lua_createtable(L, 1, 0);
            lua_createtable(L, 0, 3);
            lua_pushliteral(L, "error");
            lua_setfield(L, -2, "type");
            lua_pushvalue(L, -4);
            lua_setfield(L, -2, "message");
            lua_pushliteral(L, "protocol");
            lua_setfield(L, -2, "code");
            lua_rawseti(L, -2, 1);
        } else {
            lua_pushvalue(L, -3);   /* the top is returned: no need to drop the rest */
        }
        break;
    case RT_EV_RECONNECTED:
        /* The resumed session answers again in a new response. */
        lrt_end_response(L, "connection lost");
        lrt_complete_input(L);
        lrt_push_simple(L, "reconnected", "reason", ev->data, ev->len, "attempt", ev->code);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lrt_withdraw_voided(L, (lua_Integer)ev->seq);
        break;
    case RT_EV_ERROR:
        lua_createtable(L, 1, 0);
        lrt_push_simple(L, "error", "message", ev->data, ev->len, NULL, 0);
        lua_pushstring(L, rt_code_name((enum rt_code)ev->code));
        lua_setfield(L, -2, "code");
        lua_rawseti(L, -2, 1);
        break;
    case RT_EV_CLOSED:
    default:
        lrt_end_response(L, "session ended");
        lrt_push_simple(L, "closed", "reason", ev->data, ev->len, "code", ev->code);
        /* tells the server's own close from ours (a 1007 of ours for its bad UTF-8) */
        if (ev->seq == RT_EV_CLOSED_BY_PEER)
            lrt_set_bool(L, -1, "by_server", 1);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        u->ended = 1;
        break;
    }
    return 1;
}

/* Turns one core event into the array of its messages, pushed, and frees the event.
 *
 * The event is C memory, held while the mapping calls Lua, which raises when memory runs
 * out. So the mapping runs in protected mode: the error is raised again as it came
 * (lua_error keeps a memory error one from Lua 5.4.1 on; 5.4.0 makes it a runtime error
 * with the same message), and the next receive goes on. A server message is freed
 * either way: its mapping changes the session's state as it goes (the pieces of a
 * transcript), so mapping it again could repeat what it added. An event of the core's
 * own maps to the same messages when tried again; after a memory error it waits in
 * u->held for the next receive, so the closed message still comes. A protected call
 * costs less per message than a to-be-closed guard, and also lets go of the event when
 * the error ends a coroutine, which never closes what its stack holds. While the mapping
 * runs, u->mapping is the event: a receive that a finaliser run by its allocations
 * makes is refused (lrt_receive_step). */
static void lrt_event_to_messages(lua_State *L, struct lrt_session *u, struct rt_event *ev)
{
    int status;

    u->mapping = ev;
    lua_pushcfunction(L, lrt_map_event);
    lua_pushvalue(L, SLOT_SELF);
    status = lua_pcall(L, 1, 1, 0);
    u->mapping = NULL;
    if (status == LUA_ERRMEM && ev->type != RT_EV_MESSAGE)
        u->held = ev;
    else
        rt_event_free(ev);
    if (status != LUA_OK)
        lua_error(L);
}

/* The next event to map: the one a memory error left in u->held, else the core's next;
 * taken as poll() takes them when poll is set (lrt_receive_step). */
static struct rt_event *lrt_next_event(struct lrt_session *u, int poll)
{
    struct rt_event *ev = u->held;

    if (ev) {
        u->held = NULL;
        return ev;
    }
    return poll ? rt_session_poll_event(u->s) : rt_session_next_event(u->s);
}

/* Maps every event the core already holds and appends each one's messages, as one array,
 * to the staged list (LRT_UV_STAGED), in order, for the next receives to dispatch and
 * deliver one server message at a time: the results of one toolCall go back together,
 * never waiting for another's. Mapping updates the state at once: a
 * toolCallCancellation withdraws the calls' results. A receive takes staged messages
 * before new events, so none waits unseen (the eventfd would not wake it for them). */
void lrt_stage_ahead(lua_State *L, struct lrt_session *u)
{
    struct rt_event *ev;
    int top = lua_gettop(L);
    if (lua_getiuservalue(L, SLOT_SELF, LRT_UV_STAGED) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, SLOT_SELF, LRT_UV_STAGED);
    }
    int staged = lua_gettop(L);
    while (!u->ended && u->s && (ev = lrt_next_event(u, 0)) != NULL) {
        lrt_event_to_messages(L, u, ev);
        if (lua_rawlen(L, -1) > 0)
            lua_rawseti(L, staged, (lua_Integer)lua_rawlen(L, staged) + 1);
        lua_settop(L, staged);
    }
    if (lua_rawlen(L, staged) == 0) {
        lua_pushnil(L);
        lua_setiuservalue(L, SLOT_SELF, LRT_UV_STAGED);
    }
    lua_settop(L, top);
}

/* Pushes the messages of the oldest staged server message and removes them from the
 * list (returns 1), or returns 0 when none is staged. */
static int lrt_staged_take(lua_State *L, int self)
{
    if (lua_getiuservalue(L, self, LRT_UV_STAGED) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    int staged = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, staged);
    if (n == 0) {
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_setiuservalue(L, self, LRT_UV_STAGED);
        return 0;
    }
    lua_rawgeti(L, staged, 1);
    for (lua_Integer i = 1; i < n; i++) {      /* a few at most: shift them down */
        lua_rawgeti(L, staged, i + 1);
        lua_rawseti(L, staged, i);
    }
    lua_pushnil(L);
    lua_rawseti(L, staged, n);
    if (n <= 1) {
        lua_pushnil(L);
        lua_setiuservalue(L, self, LRT_UV_STAGED);
    }
    lua_remove(L, staged);
    return 1;
}

/* The next message | nil, "again" | nil, msg, "closed". Never blocks. Runs tool
 * handlers; with noyield they cannot yield (a yield is their error). */
static int lrt_receive_step(lua_State *L, int noyield)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    struct rt_event *ev;

    lua_settop(L, 1);
    /* a finaliser run by the reader's allocations; it holds the event. Raised at the
     * finaliser's line: receive and poll are Lua around this function. */
    if (u->mapping)
        return lrt_error_at_user(L, "cannot receive from a session while it reads a server "
                                    "message (a finaliser that ran meanwhile?)");
    /* before the inbox: a handler takes none of its session's messages */
    lrt_dispatch_check_beside(L, 1);
    if (lrt_inbox_pop(L, u, 1))
        return 1;
    switch (lrt_dispatch_busy(L, u)) {
    case 1:
        lua_pushnil(L);
        lua_pushliteral(L, "again");
        return 2;
    case -1:                           /* what an ended handler's coroutine held */
        return lrt_dispatch_resume(L, u, noyield);
    }
    /* SLOT_MSGS: read ahead, or the next event that maps to a message ("again" means
     * that nothing waits, not that the last event gave nothing, e.g. usage kept for the
     * response's end) */
    while (!lrt_staged_take(L, 1)) {
        if (u->ended || !u->s) {
            lua_pushnil(L);
            lua_pushliteral(L, "session closed");
            lua_pushliteral(L, "closed");
            return 3;
        }
        /* poll() is for callers that never wait on the descriptor: leaving it as it is
         * when nothing waits saves a read here and the next event's write. */
        ev = lrt_next_event(u, noyield);
        if (!ev) {
            lua_pushnil(L);
            lua_pushliteral(L, "again");
            return 2;
        }
        lrt_event_to_messages(L, u, ev);
        if (lua_rawlen(L, -1) > 0)
            break;
        lua_settop(L, 1);
    }
    lua_pushinteger(L, 1);                    /* SLOT_INDEX */
    lua_pushinteger(L, 0);                    /* SLOT_HANDLED */
    lua_pushinteger(L, 0);                    /* SLOT_UNHANDLED */
    lua_getiuservalue(L, 1, LRT_UV_TOOLS);    /* SLOT_TOOLS */
    lua_getiuservalue(L, 1, LRT_UV_MAP);      /* SLOT_MAP */
    lua_pushcfunction(L, lrt_traceback);      /* SLOT_MSGH */
    lua_pushboolean(L, noyield);              /* SLOT_NOYIELD */
    return lrt_dispatch(L);
}

/* session:try_receive() -> message | nil, "again" | nil, msg, "closed"
 * Never blocks. May run tool handlers, which may yield. */
int lrt_session_try_receive(lua_State *L)
{
    return lrt_receive_step(L, 0);
}

/* session:_poll() -> the same, for poll() and client:poll(), which never yield: a
 * handler that tries to yield fails, and the model hears why. */
int lrt_session_poll(lua_State *L)
{
    return lrt_receive_step(L, 1);
}

double lrt_timeout_arg(lua_State *L, int idx)
{
    double t = luaL_optnumber(L, idx, -1);
    luaL_argcheck(L, !isnan(t), idx, "timeout is NaN");
    return isinf(t) && t > 0 ? -1 : t;
}

/* session:_wait(timeout) -> true when something may be ready, false on timeout */
int lrt_session_wait(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    double t = lrt_timeout_arg(L, 2);
    if (!u->s || u->ended || u->held) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, rt_session_wait(u->s, t) > 0);
    return 1;
}
