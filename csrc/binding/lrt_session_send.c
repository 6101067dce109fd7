/* realtime.Session's sends: a message through the mapping (send), wire text as is
 * (send_wire, the history connect sends), audio appended and committed. Each is queued
 * whole or refused whole: a "busy" send can be retried without sending a part twice.
 * The method table is lrt_session.c's. */
#include <string.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_private.h"
#include "lrt_receive.h"
#include "rt_session.h"

/* A refused send: the caller's mistake (RT_EINVAL: an activity inside another) raises;
 * what the session's state causes returns nil, message, code. */
static int lrt_send_fail(lua_State *L, const struct rt_error *err)
{
    if (err->code == RT_EINVAL)
        return luaL_error(L, "%s", err->msg);
    return lrt_pushfail(L, err);
}

static int lrt_send_json(lua_State *L, struct lrt_session *u, const char *s, size_t n)
{
    struct rt_error err;
    rt_error_clear(&err);
    if (rt_session_send(u->s, s, n, &err) != 0)
        return lrt_send_fail(L, &err);
    return 0;
}

/* The numbers of the mapping state's answer_rx (lrt_map.h) into ans, for the message at
 * index i of n (ans[i]; the others none), in memory the collector frees; answer_rx is
 * cleared: it is this send's. Pushes one value (the numbers' userdata, or nil). */
static void lrt_answer_calls(lua_State *L, int state, struct rt_answer_calls *ans, size_t n)
{
    lua_Integer at;
    uint64_t *seq;
    size_t k;

    memset(ans, 0, n * sizeof *ans);
    lua_getfield(L, state, "answer_rx");
    at = lrt_get_int(L, state, "answer_rx_at");
    lua_pushnil(L);
    lua_setfield(L, state, "answer_rx");
    if (!lua_istable(L, -1) || at < 1 || (size_t)at > n)
        return;
    k = (size_t)lua_rawlen(L, -1);
    seq = lua_newuserdatauv(L, k ? k * sizeof *seq : 1, 0);
    for (size_t j = 0; j < k; j++) {
        lua_rawgeti(L, -2, (lua_Integer)j + 1);
        seq[j] = (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    ans[at - 1].seq = seq;
    ans[at - 1].n = k;
}

/* Sends the strings of the array at idx as one unit (rt_session_sendv: all or none, so a
 * "busy" send can be retried without sending a part twice), with the answers' call
 * numbers the mapping state at state (0: none) noted for it; returns 0, or the 3 fail
 * values pushed. */
int lrt_send_all(lua_State *L, struct lrt_session *u, int idx, int state)
{
    struct rt_error err;
    struct iovec one, *v = &one;
    struct rt_answer_calls one_ans, *ans = NULL;
    size_t i, n = (size_t)lua_rawlen(L, idx);
    int top = lua_gettop(L), r;

    idx = lua_absindex(L, idx);
    if (state) {
        state = lua_absindex(L, state);
        ans = n > 1 ? lua_newuserdatauv(L, n * sizeof *ans, 0) : &one_ans;
        lrt_answer_calls(L, state, ans, n ? n : 1);
    }
    if (n > 1)       /* the strings stay referenced by the array while the core copies them */
        v = lua_newuserdatauv(L, n * sizeof *v, 0);
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        v[i].iov_base = (void *)lua_tolstring(L, -1, &v[i].iov_len);
        if (!v[i].iov_base)
            return luaL_error(L, "BUG: the mapping produced a non-string wire message");
        lua_pop(L, 1);
    }
    rt_error_clear(&err);
    r = rt_session_sendv_answers(u->s, v, ans, n, &err);
    lua_settop(L, top);
    return r != 0 ? lrt_send_fail(L, &err) : 0;
}

/* session:send_wire(json) -> true | nil, msg, code: one JSON object's text as is. Text
 * that is not one (or not UTF-8) raises: the server would close the session on it. */
int lrt_session_send_wire(lua_State *L)
{
    struct lrt_session *u = lrt_check_session(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (lrt_json_check_object(L, s, n) != 0)
        return luaL_error(L, "bad argument #1 to 'send_wire' (expected the text of a JSON "
                             "object; it is %s)", lua_tostring(L, -1));
    int r = lrt_send_json(L, u, s, n);
    if (r)
        return r;
    lua_pushboolean(L, 1);
    return 1;
}

/* session:_send_initial(json) -> true | nil, msg, code: the history connect sends after
 * setup (checked by the mapping that made it); never sent again after a reconnect. */
int lrt_session_send_initial(lua_State *L)
{
    struct lrt_session *u = lrt_check_session(L, 1);
    struct rt_error err;
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);

    rt_error_clear(&err);
    if (rt_session_send_initial(u->s, s, n, &err) != 0)
        return lrt_send_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* session:append_audio(pcm) -> true | nil, msg, code */
int lrt_session_append_audio(lua_State *L)
{
    struct lrt_session *u = lrt_check_session(L, 1);
    struct rt_error err;
    size_t n;
    const char *pcm;

    /* not luaL_checklstring: a number would go out as its digits, read as PCM */
    luaL_checktype(L, 2, LUA_TSTRING);
    /* a rate given here would be dropped: the audio goes out at the session's rate */
    luaL_argcheck(L, lua_isnoneornil(L, 3), 3,
                  "append_audio takes the PCM alone: give its rate as connect's "
                  "input_audio_format = { rate = N }, or resample it with realtime.resample");
    pcm = lua_tolstring(L, 2, &n);
    luaL_argcheck(L, n % 2 == 0, 2, "16-bit PCM must have an even number of bytes");
    luaL_argcheck(L, !lrt_pcm_is_wav(pcm, n), 2, LRT_WAV_AS_PCM);
    rt_error_clear(&err);
    if (rt_session_append_audio(u->s, pcm, n, &err) != 0)
        return lrt_pushfail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* session:commit_audio() -> true | nil, msg, code */
int lrt_session_commit_audio(lua_State *L)
{
    struct lrt_session *u = lrt_check_session(L, 1);
    struct rt_error err;

    rt_error_clear(&err);
    if (rt_session_commit_audio(u->s, &err) != 0)
        return lrt_pushfail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* Pushes a copy of the list at idx (its entries 1..n), or nil when it is empty. */
static void push_entries(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n == 0) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, (int)n, 0);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, idx, k);
        lua_rawseti(L, -2, k);
    }
}

/* Gives the list at idx back the entries push_entries copied to copy (nil: none). The
 * mapping only replaces entries or appends, so no slot is added here: nothing allocates
 * while an error waits on top. */
static void restore_entries(lua_State *L, int idx, int copy)
{
    lua_Integer was = lua_istable(L, copy) ? (lua_Integer)lua_rawlen(L, copy) : 0;
    for (lua_Integer k = (lua_Integer)lua_rawlen(L, idx); k > was; k--) {
        lua_pushnil(L);
        lua_rawseti(L, idx, k);
    }
    for (lua_Integer k = 1; k <= was; k++) {
        lua_rawgeti(L, copy, k);
        lua_rawseti(L, idx, k);
    }
}

/* Puts the mapping state (3; its pending results were 4, their entries 5) back as it
 * was before a send none of which went out: no result buffered, no trigger armed or
 * spent for media not sent, the turn as it was. */
static void undo_mapping(lua_State *L, int trigger, int open)
{
    lrt_map_client_unflush(L, 3, 4, trigger);
    lrt_set_bool(L, 3, "turn_open", open);
    restore_entries(L, 4, 5);
}

/* session:send(message) -> true | nil, msg, code
 * Audio goes to the core's framing; everything else through the mapping. */
int lrt_session_send(lua_State *L)
{
    struct lrt_session *u = lrt_check_session(L, 1);
    const char *type;
    int r;

    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lrt_user_field(L, 2, "type");
    type = lua_tostring(L, -1);
    if (!type)
        return luaL_argerror(L, 2, "message without a 'type'");
    if (strcmp(type, "input_audio_buffer_append") == 0) {
        static const char *const fields[] = { "type", "audio", NULL };
        const char *k = lrt_map_unknown_field(L, 2, fields);
        if (k)
            return luaL_error(L, "input_audio_buffer_append: unknown field %s", k);
        if (lrt_user_field(L, 2, "audio") != LUA_TSTRING)
            return luaL_argerror(L, 2, "'audio' must be a string of PCM bytes");
        lua_replace(L, 2);
        lua_settop(L, 2);
        return lrt_session_append_audio(L);
    }
    if (strcmp(type, "input_audio_buffer_commit") == 0) {
        static const char *const fields[] = { "type", NULL };
        const char *k = lrt_map_unknown_field(L, 2, fields);
        if (k)
            return luaL_error(L, "input_audio_buffer_commit: unknown field %s", k);
        lua_settop(L, 1);
        return lrt_session_commit_audio(L);
    }
    lua_pop(L, 1);
    lua_getiuservalue(L, 1, LRT_UV_MAP);      /* 3: the state */
    lua_getfield(L, 3, "pending");            /* 4: the buffered results, before */
    push_entries(L, 4);                       /* 5: their entries, before */
    int trigger = lrt_get_bool(L, 3, "media_trigger");
    int open = lrt_get_bool(L, 3, "turn_open");
    lrt_set_bool(L, 3, "turn_end", 0);        /* set by the mapping: a user turn ends */
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 2);
    /* wire array | nil, msg, code */
    int st = lrt_pcall_module_for_caller(L, "map_client", 2, 3, u->max_queue);
    if (st == LRT_JSON_OVERRUN) {
        /* a message that can never be queued: refused as the core refuses one (busy,
           nothing of it sent or buffered), unless sends are refused anyway (closed) */
        struct rt_error err;
        undo_mapping(L, trigger, open);
        if (rt_session_send(u->s, NULL, 0, &err) != 0)
            return lrt_pushfail(L, &err);
        lua_pushnil(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "busy");
        return 3;
    }
    if (st != LUA_OK) {
        /* a part refused after others were mapped: none of it was sent, so nothing of it
           may stay */
        undo_mapping(L, trigger, open);
        return lua_error(L);
    }
    if (lua_isnil(L, -3)) {
        /* refused without raising ("unsupported": will_continue on Vertex), maybe after
           other parts were mapped: the same */
        undo_mapping(L, trigger, open);
        /* "unsupported" is not what an ended session answers: every send gets "closed"
           (a send of nothing asks the core whether sends are still taken) */
        struct rt_error err;
        if (rt_session_send(u->s, NULL, 0, &err) != 0)
            return lrt_pushfail(L, &err);
        return 3;
    }
    lua_pop(L, 2);
    r = lrt_send_all(L, u, lua_gettop(L), 3);
    if (r) {
        /* "busy" (or closed): the results stay buffered and their calls answerable, so
         * create_response() or a new result for the call can try again */
        lrt_map_client_unflush(L, 3, 4, trigger);
        lrt_set_bool(L, 3, "turn_open", open);   /* the turn is as it was on the wire */
        return r;
    }
    if (lrt_get_bool(L, 3, "turn_end"))
        rt_session_mark_turn_end(u->s);       /* stats().first_audio starts here */
    lua_pushboolean(L, 1);
    return 1;
}
