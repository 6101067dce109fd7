/* A function_result part of conversation_item_create (map_client, lrt_map_client.c),
 * checked and buffered in state.pending until response_create sends the results as one
 * toolResponse. A result whose call id we made up (the server sent none) goes out
 * without an id; strings in a result that are not UTF-8 are bytes, sent in base64. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"

/* The wire value of a result's scheduling ("interrupt", "when_idle", "silent"), NULL
 * when absent; raises on anything else. */
static const char *scheduling(lua_State *L, int part, int i)
{
    static const char *const names[][2] = {
        { "interrupt", "INTERRUPT" }, { "when_idle", "WHEN_IDLE" }, { "silent", "SILENT" },
    };
    int t = lrt_user_field(L, part, "scheduling");
    const char *v = lrt_map_enum(L, -1, "conversation_item_create: part %d: scheduling", i);
    lua_pop(L, 1);   /* the part still holds v */
    if (t == LUA_TNIL)
        return NULL;
    for (size_t k = 0; t == LUA_TSTRING && k < sizeof names / sizeof names[0]; k++)
        if (strcmp(v, names[k][0]) == 0)
            return names[k][1];
    return luaL_error(L, "conversation_item_create: part %d: 'scheduling' must be "
                         "\"interrupt\", \"when_idle\" or \"silent\"", i), NULL;
}

/* Whether the table at idx, which has no list part, encodes as a JSON object. One with
 * a metatable may not: the array marker (an empty list), or a __pairs that shows a list;
 * that is found by encoding it, which raises as the whole response's encoding would. */
static int encodes_as_object(lua_State *L, int idx, int i)
{
    char root[96];
    int obj;

    if (!lua_getmetatable(L, idx))
        return 1;
    lua_pop(L, 1);
    /* named as the encoding of the whole response names it */
    snprintf(root, sizeof root, LRT_RESULT_ROOT "response", i);
    lrt_json_encode_ex(L, idx, LRT_JSON_MAX_DEPTH, root);
    obj = lua_tostring(L, -1)[0] == '{';
    lua_pop(L, 1);
    return obj;
}

int lrt_map_result_part(lua_State *L, int state, int part, int i)
{
    if (lrt_user_field(L, part, "call_id") != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        luaL_error(L, "conversation_item_create: part %d: 'call_id' must be a string", i);
    int id = lua_gettop(L);
    const char *sched = scheduling(L, part, i);
    int wc = lrt_user_field(L, part, "will_continue");
    lua_pop(L, 1);
    if (wc != LUA_TNIL && wc != LUA_TBOOLEAN)
        luaL_error(L, "conversation_item_create: part %d: 'will_continue' must be a boolean", i);
    int more = wc != LUA_TNIL && lrt_user_bool(L, part, "will_continue");
    /* Vertex has no willContinue: every result ends its call. false asks for just that,
     * so it goes out without the field; only true asks for what Vertex lacks. */
    int vertex = lrt_map_vertex(L, state);
    if (more && vertex) {
        lua_pushliteral(L, "will_continue is not supported by Vertex AI (its function "
                           "responses have no willContinue)");
        return 1;
    }

    /* The server withdrew the call (toolCallCancellation): its result is not wanted. */
    lua_getfield(L, state, "cancelled_ids");
    lua_pushvalue(L, id);
    int withdrawn = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    if (withdrawn) {
        lua_pop(L, 1);
        return 0;
    }

    /* The name: the part's own, else the one the server gave with the call. A result
     * for a call never seen is a caller's mistake; the seeds sent name "" (bug 13). */
    if (lrt_user_field(L, part, "name") != LUA_TSTRING) {
        lua_pop(L, 1);
        lua_getfield(L, state, "calls");
        lua_pushvalue(L, id);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "conversation_item_create: part %d: unknown call_id %s (no call "
                          "of this session has it, or its answer was sent already)", i,
                       lrt_map_shown(L, lua_tostring(L, id), lua_rawlen(L, id)));
    }
    int name = lua_gettop(L);

    lua_createtable(L, 0, 3);
    int fr = lua_gettop(L);
    lua_getfield(L, state, "generated_ids");
    lua_pushvalue(L, id);
    int made_up = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    if (!made_up) {
        lua_pushvalue(L, id);
        lua_setfield(L, fr, "id");
    }
    lua_pushvalue(L, name);
    lua_setfield(L, fr, "name");
    if (sched)
        lrt_set_str(L, fr, "scheduling", sched);
    if (wc != LUA_TNIL && !vertex)
        lrt_set_bool(L, fr, "willContinue", more);

    /* A table is the response object itself; a list or a scalar is wrapped as
     * {result = value}, since the response must be a JSON object. */
    lrt_user_field(L, part, "result");
    lrt_push_copy(L, -1, 1);   /* bytes in base64; the caller's table untouched */
    lua_remove(L, -2);
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && lua_rawlen(L, -1) == 0 && !lrt_json_isnull(L, -1) &&
        encodes_as_object(L, lua_gettop(L), i)) {
        /* as is: user keys are kept verbatim */
    } else if (t == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L);
    } else {
        lua_createtable(L, 0, 1);
        lua_insert(L, -2);
        lua_setfield(L, -2, "result");
    }
    lua_setfield(L, fr, "response");

    /* Encoded now, so a bad value raises at send_tool_result time and later changes to
     * the caller's table cannot alter what goes out. The response may nest 64 levels. */
    char root[96];
    snprintf(root, sizeof root, LRT_RESULT_ROOT, i);
    lrt_json_encode_wrapped(L, fr, LRT_JSON_MAX_DEPTH + 1, root, 1);

    lua_getfield(L, state, "pending");
    int pending = lua_gettop(L);
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, id);
    lua_setfield(L, -2, "id");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "json");
    /* more results will follow for this call: it stays answerable */
    lrt_set_bool(L, -1, "keep", more);
    /* what answering the call takes from `calls`, should the send fail (unflush) */
    lua_pushvalue(L, name);
    lua_setfield(L, -2, "name");
    lrt_set_bool(L, -1, "made_up", made_up);
    /* the number of the call's message, as now: a later toolCall may reuse the id (a
     * result given with its own name may answer a call this session never saw) */
    if (lua_getfield(L, state, "call_rx") == LUA_TTABLE) {
        lua_pushvalue(L, id);
        lua_rawget(L, -2);
        lua_setfield(L, -3, "call_at");
    }
    lua_pop(L, 1);
    if (made_up) {
        /* the number of the call's message: the core voids its answer by it, having no
         * id to match (rt_session_sendv_answers) */
        lua_getfield(L, state, "call_rx");
        lua_pushvalue(L, id);
        lua_rawget(L, -2);
        lua_setfield(L, -3, "rx");
        lua_pop(L, 1);
    }
    /* A result for a call whose last result still waits (not marked will_continue)
     * replaces it: the call gets one answer, the latest (a retry after "busy"). */
    lua_Integer n = (lua_Integer)lua_rawlen(L, pending), at = n + 1;
    for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, pending, k);
        lua_getfield(L, -1, "id");
        int same = lua_rawequal(L, -1, id) && !lrt_get_bool(L, -2, "keep");
        lua_pop(L, 2);
        if (same) {
            at = k;
            break;
        }
    }
    lua_rawseti(L, pending, at);
    lua_settop(L, id - 1);
    return 0;
}
