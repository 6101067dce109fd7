/* Server tool calls -> neutral messages (map_server's part for toolCall; the calls the
 * server or a reconnect withdraws: lrt_map_withdraw.c).
 *
 * Each function call is an output item (response_output_item_added, then _done) whose
 * arguments are the decoded args. A call the server gives no id gets one made up here,
 * remembered in state.generated_ids so its result goes back without an id.
 *
 * Vertex can stream a call's arguments: pieces of the same call carry partialArgs
 * ({ jsonPath = "$.a.b[0]", stringValue|numberValue|boolValue|nullValue,
 * willContinue }) and willContinue = true until the last one. The pieces are put
 * together in state.streams[id] (lrt_map_partial.c); each piece gives a function_call_arguments_delta with
 * the arguments known so far, and the last piece gives the call's item, with the
 * server's args when it sends them whole, else with what the pieces built. A stream
 * that cannot be answered is reported once and its later pieces ignored
 * (state.streams_failed); the turn's end cuts the streams still open; the response
 * stays open while any stream goes on. */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"

/* Finds (or starts) the stream of the call whose id is at id: pushes its table
 * state.streams[id] = { args, open, name }. */
static void push_stream(struct lrt_frame *f, int id)
{
    lua_State *L = f->L;
    lrt_get_table(L, f->state, "streams");
    lua_pushvalue(L, id);
    if (lua_rawget(L, -2) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 3);
        lua_newtable(L);
        lua_setfield(L, -2, "args");
        lua_newtable(L);
        lua_setfield(L, -2, "open");
        lua_pushvalue(L, id);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
    }
    lua_remove(L, -2);
    lua_pushvalue(L, id);
    lua_setfield(L, f->state, "stream_last");
}

/* Ends the stream of id (state.streams[id] = nil). */
static void end_stream(struct lrt_frame *f, int id)
{
    lua_State *L = f->L;
    if (lua_getfield(L, f->state, "streams") == LUA_TTABLE) {
        lua_pushvalue(L, id);
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, f->state, "stream_last");
}

/* A stream that cannot be answered (its error given): ended, and while its pieces go on
 * (more) its id is marked in state.streams_failed, so that they are ignored until its
 * last piece or the turn's end; a fresh stream under the same id would hand a handler
 * arguments the server never sent whole. stream_last stays on it: pieces without an id
 * are its own. */
static void fail_stream(struct lrt_frame *f, int id, int more)
{
    lua_State *L = f->L;
    end_stream(f, id);
    if (!more)
        return;
    lrt_get_table(L, f->state, "streams_failed");
    lua_pushvalue(L, id);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, id);
    lua_setfield(L, f->state, "stream_last");
}

/* Whether the call whose id is at id is a failed stream; its last piece (not more)
 * lifts the mark. */
static int stream_failed(struct lrt_frame *f, int id, int more)
{
    lua_State *L = f->L;
    if (lua_getfield(L, f->state, "streams_failed") != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, id);
    int failed = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 1);
    if (failed && !more) {
        lua_pushvalue(L, id);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pushnil(L);
        lua_setfield(L, f->state, "stream_last");
    }
    lua_pop(L, 1);
    return failed;
}

/* Whether the state's table named k has an entry. */
static int any_in(lua_State *L, int state, const char *k)
{
    int any = 0;
    if (lua_getfield(L, state, k) == LUA_TTABLE) {
        lua_pushnil(L);
        if (lua_next(L, -2)) {
            any = 1;
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
    return any;
}

/* Whether a stream of the response is still going on (a failed one too): the response
 * ends once the last of them did. */
static int streams_going_on(struct lrt_frame *f)
{
    return any_in(f->L, f->state, "streams") || any_in(f->L, f->state, "streams_failed");
}

void lrt_map_end_streams(struct lrt_frame *f)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    if (lua_getfield(L, f->state, "streams") == LUA_TTABLE) {
        int streams = lua_gettop(L), cut = 0;
        lua_pushnil(L);
        while (lua_next(L, streams)) {
            if (lua_getfield(L, -1, "name") != LUA_TSTRING) {
                lua_pop(L, 1);
                lua_pushliteral(L, "");
            }
            const char *name = lua_tostring(L, -1);
            lrt_msg_protocol_error(f, "function call '%s' (id %s): the turn ended before the "
                                      "rest of its streamed arguments came: that call cannot "
                                      "be answered", name,
                                   lrt_map_shown(L, lua_tostring(L, -3), lua_rawlen(L, -3)));
            lua_settop(L, streams + 1);
            cut = 1;
        }
        if (cut && lua_getfield(L, f->state, "response_incomplete") == LUA_TNIL) {
            lua_pushliteral(L, "a streamed call did not finish (see the error)");
            lua_setfield(L, f->state, "response_incomplete");
        }
    }
    lua_settop(L, top);
    lua_newtable(L);
    lua_setfield(L, f->state, "streams");
    lua_newtable(L);
    lua_setfield(L, f->state, "streams_failed");
    lua_pushnil(L);
    lua_setfield(L, f->state, "stream_last");
}

/* Pushes the id of the call at call (functionCalls[i]): the server's, else the one of the
 * call being streamed (later pieces may come without it), else a new one that none of
 * the server's ids in this toolCall (the table at taken) nor an open call holds. */
static void push_call_id(struct lrt_frame *f, int call, lua_Integer i, int taken)
{
    lua_State *L = f->L;
    int t = lua_getfield(L, call, "id");
    if (t == LUA_TSTRING && lua_rawlen(L, -1) > 0)
        return;
    if (t != LUA_TNIL)
        lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] has an id that is %s, not a "
                                  "non-empty string: it is answered without an id", (int)i,
                               t == LUA_TSTRING ? "empty" : lrt_json_kind(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, f->state, "stream_last") == LUA_TSTRING)
        return;
    lua_pop(L, 1);
    /* No id from the server (Vertex may omit it): make one up for the neutral side and
     * remember it, so the result goes back without an id rather than with one the
     * server never issued (seed bug 13). */
    lua_Integer seq = lrt_get_int(L, f->state, "call_seq");
    lua_getfield(L, f->state, "calls");
    int open = lua_gettop(L);
    for (;;) {
        lua_pushfstring(L, "call_%I", (LUAI_UACINT)++seq);
        lua_pushvalue(L, -1);
        int used = lua_rawget(L, taken) != LUA_TNIL;
        lua_pushvalue(L, -2);
        used |= lua_rawget(L, open) != LUA_TNIL;
        lua_pop(L, 2);
        if (!used)
            break;
        lua_pop(L, 1);
    }
    lua_remove(L, open);
    lrt_set_int(L, f->state, "call_seq", seq);
    lua_getfield(L, f->state, "generated_ids");
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Whether the table at t is an array of n entries (no other keys). */
static int is_array(lua_State *L, int t, lua_Integer n)
{
    lua_Integer keys = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        keys++;
        lua_pop(L, 1);
    }
    return keys == n;
}

/* The pieces of a streamed call (Vertex partialArgs): each piece's partial arguments
 * go into the call's stream, and a function_call_arguments_delta shows what is known
 * so far (every piece but a last one that brings nothing: the call's item follows).
 * With the stream's table on top, returns 0 or -1 with a message pushed. */
static int stream_piece(struct lrt_frame *f, int call, int id, int name, int more)
{
    lua_State *L = f->L;
    int stream = lua_gettop(L);
    lua_getfield(L, stream, "args");
    lua_getfield(L, stream, "open");
    int args = stream + 1, open = stream + 2;
    int pt = lua_getfield(L, call, "partialArgs");
    if (pt == LUA_TTABLE) {
        int list = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, list);
        if (!is_array(L, list, n)) {
            /* an object's pieces have no order to apply them in: not guessed */
            lua_pushfstring(L, "function call '%s': partialArgs is an object, not an array",
                            lua_tostring(L, name));
            return -1;
        }
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, list, i) != LUA_TTABLE) {
                lua_pushfstring(L, "function call '%s': partialArgs[%d] is %s, not an object",
                                lua_tostring(L, name), (int)i, lrt_json_kind(L, -1));
                return -1;
            }
            if (lrt_partial_apply(L, args, open, lua_gettop(L), lua_tostring(L, name)) != 0)
                return -1;
            lua_settop(L, list);
        }
    } else if (pt != LUA_TNIL) {
        lua_pushfstring(L, "function call '%s': partialArgs is %s, not an array",
                        lua_tostring(L, name), lrt_json_kind(L, -1));
        return -1;
    } else if (!more) {
        lrt_partial_materialize(L, open);
        lua_settop(L, stream);
        return 0;
    }
    if (!more || lrt_partial_due(L, open))
        lrt_partial_materialize(L, open);
    else {
        lua_settop(L, stream);   /* a delta later, once enough came to be worth a copy */
        return 0;
    }
    int m = lrt_msg_new(f, "function_call_arguments_delta");
    lua_pushvalue(L, id);
    lua_setfield(L, m, "call_id");
    lua_pushvalue(L, name);
    lua_setfield(L, m, "name");
    lrt_push_copy(L, args, 0);   /* a snapshot: the next pieces do not change it */
    lua_setfield(L, m, "arguments");
    lrt_msg_push(f);
    lua_settop(L, stream);
    return 0;
}

/* Checks the args of the call at call (functionCalls[i]): absent, or an object within
 * the depth limit (made integral where a number is). Else reports the call, which is
 * then dropped, and returns 0. */
static int args_usable(struct lrt_frame *f, int call, lua_Integer i)
{
    lua_State *L = f->L;
    int t = lua_getfield(L, call, "args"), ok = 1;
    if (t != LUA_TNIL && (t != LUA_TTABLE || lua_rawlen(L, -1) > 0)) {
        lrt_msg_protocol_error(f, "toolCall.functionCalls[%d]: args is %s, not an object: "
                                  "that call cannot be answered", (int)i, lrt_json_kind(L, -1));
        ok = 0;
    } else if (t == LUA_TTABLE && lrt_json_normalize(L, -1, LRT_JSON_MAX_DEPTH) < 0) {
        lrt_msg_protocol_error(f, "toolCall.functionCalls[%d]: args nest deeper than %d "
                                  "levels: that call cannot be answered", (int)i,
                               LRT_JSON_MAX_DEPTH);
        ok = 0;
    }
    lua_pop(L, 1);
    return ok;
}

/* Pushes a table of the non-empty string ids of the calls in the array at calls: a
 * made-up id must not take one of them. */
static void push_server_ids(lua_State *L, int calls, lua_Integer n)
{
    lua_newtable(L);
    int ids = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, calls, i) == LUA_TTABLE &&
            lua_getfield(L, -1, "id") == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
            lua_pushboolean(L, 1);
            lua_rawset(L, ids);
        }
        lua_settop(L, ids);
    }
}

/* Emits the added and done items of the call (id, name and args at those indexes). */
static void emit_call(struct lrt_frame *f, int id, int name, int args)
{
    lua_State *L = f->L;

    lua_getfield(L, f->state, "calls");
    lua_pushvalue(L, id);
    lua_pushvalue(L, name);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lrt_map_note_call_rx(f, id);
    lrt_getk(L, f->state, f->keys, LRT_K_RESPONSE_ID);   /* a call of it was answered */
    lua_setfield(L, f->state, "answered_in");

    /* item = { id, role, content = {{ type, call_id, name, arguments }} } */
    lua_createtable(L, 0, 3);
    int item = lua_gettop(L);
    lua_pushvalue(L, id);
    lua_setfield(L, item, "id");
    lrt_set_str(L, item, "role", "assistant");
    lua_createtable(L, 1, 0);
    lua_createtable(L, 0, 4);
    lrt_set_str(L, -1, "type", "function_call");
    lua_pushvalue(L, id);
    lua_setfield(L, -2, "call_id");
    lua_pushvalue(L, name);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, args);
    lua_setfield(L, -2, "arguments");
    lua_rawseti(L, -2, 1);
    lua_setfield(L, item, "content");

    lrt_msg_new(f, "response_output_item_added");
    lua_pushvalue(L, item);
    lua_setfield(L, -2, "item");
    lrt_msg_push(f);
    lrt_msg_new(f, "response_output_item_done");
    lua_pushvalue(L, item);
    lua_setfield(L, -2, "item");
    lrt_msg_push(f);
    lua_pop(L, 1);
}

/* A toolCall none of whose calls can be answered still ends the model's response (it
 * waits for answers): a caller waiting for response_done must get it. Returns 1. */
static int no_call_answerable(struct lrt_frame *f)
{
    lrt_ensure_response(f);   /* before the reason: a new response starts without one */
    lua_pushliteral(f->L, "no call of the toolCall could be answered (each was reported in "
                          "an error, or withdrawn)");
    lua_setfield(f->L, f->state, "response_incomplete");
    return 1;
}

/* Maps each function call to an output item; returns the number of calls that ended,
 * answerable or not: the model's response ends with them (the service waits for the
 * answers). A call whose arguments the server streams (partialArgs, willContinue) gives
 * function_call_arguments_delta messages, and its item once the last piece came, with
 * the arguments put together. A call that cannot be answered as it came (args that are
 * not an object, no name, an id another call of the toolCall has) gives a protocol
 * error instead, and no handler runs for it; the other calls go on. When no call of the
 * toolCall can be answered, its response ends "incomplete", saying so. */
int lrt_map_tool_calls(struct lrt_frame *f, int tc)
{
    lua_State *L = f->L;
    int made = 0, going_on = 0;
    int t = lua_getfield(L, tc, "functionCalls");
    if (t != LUA_TTABLE) {
        /* The server waits for answers to calls we cannot read: say so. */
        if (t == LUA_TNIL) {
            lua_pop(L, 1);
            return 0;
        }
        lrt_ensure_response(f);   /* the errors about the calls come in their response */
        lrt_msg_protocol_error(f, "toolCall.functionCalls is %s, not an array: its "
                                  "calls cannot be answered", lrt_json_kind(L, -1));
        lua_pop(L, 1);
        return no_call_answerable(f);
    }
    int calls = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, calls);
    if (!is_array(L, calls, n)) {
        lrt_ensure_response(f);
        lrt_msg_protocol_error(f, "toolCall.functionCalls is an object, not an array: its "
                                  "calls cannot be answered");
        lua_settop(L, calls - 1);
        return no_call_answerable(f);
    }
    if (n > 0)
        lrt_ensure_response(f);   /* before any error about a call: it is in the response */
    push_server_ids(L, calls, n);
    lua_newtable(L);   /* the ids of the calls answerable so far */
    int taken = calls + 1, done = calls + 2;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_settop(L, done);
        if (lua_rawgeti(L, calls, i) != LUA_TTABLE) {
            lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] is %s, not an object: "
                                      "that call cannot be answered", (int)i,
                                   lrt_json_kind(L, -1));
            continue;
        }
        int call = lua_gettop(L);
        lua_pushfstring(L, "toolCall.functionCalls[%d]", (int)i);
        int more = lrt_map_flag(f, call, "willContinue", lua_tostring(L, -1));
        lua_pop(L, 1);
        going_on += more;   /* its pieces go on: the response has not ended with it */
        int pieces = lua_getfield(L, call, "partialArgs") == LUA_TTABLE;
        lua_pop(L, 1);
        push_call_id(f, call, i, taken);
        int id = lua_gettop(L);
        if (stream_failed(f, id, more))
            continue;   /* a piece of a stream already reported: not answered */
        lua_pushvalue(L, id);
        if (lua_rawget(L, done) != LUA_TNIL) {
            lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] repeats the id %s of an "
                                      "earlier call: only that one can be answered", (int)i,
                                   lrt_map_shown(L, lua_tostring(L, id), lua_rawlen(L, id)));
            continue;
        }
        lua_pop(L, 1);
        if (!rt_utf8_valid(lua_tostring(L, id), lua_rawlen(L, id))) {
            /* its answer must carry the id back, which JSON text cannot */
            lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] has an id that is not UTF-8: "
                                      "that call cannot be answered", (int)i);
            continue;
        }

        /* a stream: this call's own pieces, or the end of one begun earlier */
        int stream = 0;
        lua_getfield(L, f->state, "streams");
        if (more || pieces ||
            (lua_istable(L, -1) && (lua_pushvalue(L, id), lua_rawget(L, -2) != LUA_TNIL))) {
            lua_settop(L, id);
            push_stream(f, id);
            stream = lua_gettop(L);
        } else {
            lua_settop(L, id);
        }
        if (!args_usable(f, call, i)) {
            if (stream)
                fail_stream(f, id, more);
            continue;
        }

        int nt = lua_getfield(L, call, "name");
        if (nt != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
            if (!stream || lua_getfield(L, stream, "name") != LUA_TSTRING) {
                if (stream)
                    lua_pop(L, 1);
                if (nt != LUA_TSTRING && nt != LUA_TNIL) {
                    const char *kind = lrt_json_kind(L, -1);   /* before shown pushes */
                    lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] (id %s) has a name "
                                              "that is %s, not a string: that call cannot be "
                                              "answered", (int)i,
                                           lrt_map_shown(L, lua_tostring(L, id),
                                                         lua_rawlen(L, id)), kind);
                    if (stream)
                        fail_stream(f, id, more);
                    continue;
                }
                lua_pushliteral(L, "");
            }
            lua_remove(L, -2);   /* the call's own name, which said nothing */
        } else if (stream) {
            lua_pushvalue(L, -1);
            lua_setfield(L, stream, "name");
        }
        int name = lua_gettop(L);
        if (stream) {
            lua_pushvalue(L, stream);
            if (stream_piece(f, call, id, name, more) != 0) {
                lrt_msg_protocol_error(f, "%s: that call cannot be answered",
                                       lua_tostring(L, -1));
                fail_stream(f, id, more);
                continue;
            }
            lua_pop(L, 1);
            if (more)
                continue;
        }
        if (!rt_utf8_valid(lua_tostring(L, name), lua_rawlen(L, name))) {
            lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] (id %s) has a name that is not "
                                      "UTF-8: that call cannot be answered", (int)i,
                                   lrt_map_shown(L, lua_tostring(L, id), lua_rawlen(L, id)));
            if (stream)
                fail_stream(f, id, more);
            continue;
        }
        if (lua_rawlen(L, name) == 0) {
            lrt_msg_protocol_error(f, "toolCall.functionCalls[%d] (id %s) has no name: that "
                                      "call cannot be answered", (int)i,
                                   lrt_map_shown(L, lua_tostring(L, id), lua_rawlen(L, id)));
            if (stream)
                fail_stream(f, id, more);
            continue;
        }

        int at = lua_getfield(L, call, "args");
        if (stream && (at != LUA_TTABLE || (lua_pushnil(L), lua_next(L, -2) == 0))) {
            /* the arguments are what the pieces built */
            lua_settop(L, name);
            lua_getfield(L, stream, "args");
        } else if (stream) {
            lua_pop(L, 2);   /* the first key and value: args is complete */
        } else if (at != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
        if (stream)
            end_stream(f, id);
        emit_call(f, id, name, lua_gettop(L));
        lua_pushvalue(L, id);
        lua_pushboolean(L, 1);
        lua_rawset(L, done);
        made++;
    }
    lua_settop(L, calls - 1);
    if (n == 0 || streams_going_on(f))
        return 0;   /* a stream going on ends the response later: one per model turn */
    if (made > 0)
        return made;
    if (going_on > 0)
        return 0;
    /* the response ends here; no call of it could be answered unless an earlier one was */
    lua_getfield(L, f->state, "answered_in");
    lrt_getk(L, f->state, f->keys, LRT_K_RESPONSE_ID);
    int answered = !lua_isnil(L, -1) && lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return answered ? 1 : no_call_answerable(f);
}
