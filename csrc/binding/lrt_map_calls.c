/* Server tool calls -> neutral messages (map_server's part for toolCall and
 * toolCallCancellation).
 *
 * Each function call is an output item (response_output_item_added, then _done) whose
 * arguments are the decoded args. A call the server gives no id gets one made up here,
 * remembered in state.generated_ids so its result goes back without an id. */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"

/* Maps each function call to an output item; returns the number of calls, or -1 with
 * a message pushed. */
int lrt_map_tool_calls(struct lrt_frame *f, int tc)
{
    lua_State *L = f->L;
    int made = 0;
    if (lua_getfield(L, tc, "functionCalls") != LUA_TTABLE)
        return 0;
    int calls = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, calls);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, calls, i) != LUA_TTABLE) {
            lua_settop(L, calls);
            continue;
        }
        int call = lua_gettop(L);
        lrt_ensure_response(f);

        if (lua_getfield(L, call, "id") != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
            /* No id from the server (Vertex may omit it): make one up for the neutral
             * side and remember it, so the result goes back without an id rather than
             * with one the server never issued (seed bug 13). */
            lua_pop(L, 1);
            lua_Integer seq = lrt_get_int(L, f->state, "call_seq") + 1;
            lrt_set_int(L, f->state, "call_seq", seq);
            lua_pushfstring(L, "call_%I", (LUAI_UACINT)seq);
            lua_getfield(L, f->state, "generated_ids");
            lua_pushvalue(L, -2);
            lua_pushboolean(L, 1);
            lua_rawset(L, -3);
            lua_pop(L, 1);
        }
        int id = lua_gettop(L);
        if (lua_getfield(L, call, "name") != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        }
        int name = lua_gettop(L);
        if (lua_getfield(L, call, "args") != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
        } else if (lrt_json_normalize(L, -1, LRT_JSON_MAX_DEPTH) < 0) {
            lua_pushfstring(L, "function call '%s': arguments nest deeper than %d levels",
                            lua_tostring(L, name), LRT_JSON_MAX_DEPTH);
            return -1;
        }
        int args = lua_gettop(L);

        lua_getfield(L, f->state, "calls");
        lua_pushvalue(L, id);
        lua_pushvalue(L, name);
        lua_rawset(L, -3);
        lua_pop(L, 1);

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
        lua_settop(L, calls);
        made++;
    }
    return made;
}

void lrt_map_cancellation(struct lrt_frame *f, int tcc)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    lrt_json_newarray(L, 0);
    int ids = lua_gettop(L);
    if (lua_getfield(L, tcc, "ids") == LUA_TTABLE) {
        int src = lua_gettop(L);
        lua_getfield(L, f->state, "cancelled_ids");
        int cancelled = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, src);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, src, i) == LUA_TSTRING) {
                lua_pushvalue(L, -1);
                lua_pushboolean(L, 1);
                lua_rawset(L, cancelled);
                lrt_map_append(L, ids);
            } else {
                lua_pop(L, 1);
            }
        }
        /* Drop results of withdrawn calls that are still waiting to be sent. */
        lua_getfield(L, f->state, "pending");
        int pending = lua_gettop(L);
        lua_newtable(L);
        int kept = lua_gettop(L);
        lua_Integer np = (lua_Integer)lua_rawlen(L, pending);
        for (lua_Integer i = 1; i <= np; i++) {
            lua_rawgeti(L, pending, i);
            lua_getfield(L, -1, "id");
            int gone = lua_rawget(L, cancelled) != LUA_TNIL;
            lua_pop(L, 1);
            if (gone)
                lua_pop(L, 1);
            else
                lrt_map_append(L, kept);
        }
        lua_setfield(L, f->state, "pending");
    }
    lua_settop(L, ids);
    int m = lrt_msg_new(f, "tool_call_cancellation");
    lua_pushvalue(L, ids);
    lua_setfield(L, m, "call_ids");
    lrt_msg_push(f);
    lua_settop(L, top);
}
