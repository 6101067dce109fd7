/* realtime.Session: the Lua face of a core session: sends, lifetime, stats, the
 * pollable protocol and the method table (receiving: lrt_receive.c).
 *
 * C gives the Lua front non-blocking primitives only: sends that enqueue, try_receive
 * that returns a message or "again", and a bounded blocking wait on the session's
 * eventfd. Choosing between blocking, yielding to cqueues and yielding to realtime.run
 * happens in lua/realtime/wait.lua.
 *
 * try_receive is also the tool dispatch loop: when a server message carries function
 * calls whose tools have Lua handlers, the handlers run on the caller's thread, under
 * lua_pcallk with a traceback, so a handler may yield when the receive runs in a
 * coroutine; the continuation picks the loop up where it was (lrt_dispatch.c). */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_private.h"
#include "lrt_receive.h"
#include "rt_session.h"
#include "rt_signal.h"

/* ==================================================================== *
 *  C H E C K S
 * ==================================================================== */

struct lrt_session *lrt_session_arg(lua_State *L, int idx)
{
    int same = 0;

    /* The session's own functions hold the metatable as upvalue 1: one comparison. Any
     * other case (another caller, or not a session) goes through luaL_checkudata. */
    if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
        same = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
    }
    return same ? lua_touserdata(L, idx) : luaL_checkudata(L, idx, LRT_SESSION);
}

/* For sends: the session must not have been closed by its owner. */
struct lrt_session *lrt_check_session(lua_State *L, int idx)
{
    struct lrt_session *u = lrt_session_arg(L, idx);
    if (!u->s || u->closing)
        luaL_error(L, "session closed");
    return u;
}

/* ==================================================================== *
 *  S E N D I N G
 * ==================================================================== */

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
static int lrt_session_send_wire(lua_State *L)
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
static int lrt_session_send_initial(lua_State *L)
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
static int lrt_session_append_audio(lua_State *L)
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
static int lrt_session_commit_audio(lua_State *L)
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
static int lrt_session_send(lua_State *L)
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

/* ==================================================================== *
 *  P O L L A B L E ,  L I F E T I M E ,  S T A T S
 * ==================================================================== */

static int lrt_session_pollfd(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    if (!u->s)
        return 0;
    lua_pushinteger(L, rt_session_fd(u->s));
    return 1;
}

static int lrt_session_events(lua_State *L)
{
    lrt_session_arg(L, 1);
    lua_pushliteral(L, "r");
    return 1;
}

static int lrt_session_timeout(lua_State *L)
{
    lrt_session_arg(L, 1);
    return 0;
}

/* session:close(): asks for a normal close; the closed message follows. Idempotent. */
static int lrt_session_close(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    if (u->s && !u->closing) {
        u->closing = 1;
        rt_session_close(u->s, 1000, "client closed");
    }
    return 0;
}

static int lrt_session_gc(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    struct rt_session *s = u->s;
    u->s = NULL;
    u->closing = 1;
    rt_session_free(s);
    rt_event_free(u->held);
    u->held = NULL;
    return 0;
}

/* Open until closed by either side: a session that ended is closed before its closed
 * message is read (sends already say so). */
static int lrt_session_open(const struct lrt_session *u)
{
    return u->s && !u->closing && !u->ended && !rt_session_is_closed(u->s);
}

/* session:_holding() -> whether it holds its max_sessions place (not ended yet). */
static int lrt_session_holding(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    lua_pushboolean(L, u->s && !rt_session_is_ended(u->s));
    return 1;
}

static int lrt_session_is_open(lua_State *L)
{
    lua_pushboolean(L, lrt_session_open(lrt_session_arg(L, 1)));
    return 1;
}

/* session:_tell(code, message) -> true | nil, msg, "closed": an `error` message (code,
 * message) of the module's own, queued behind the session's events with
 * rt_session_tell, so a receive waiting on the descriptor wakes for it (tools.lua: the
 * result of a handler that answered late and could not be sent). Nothing is queued
 * once the session has ended: its closed message stays the last. */
static int lrt_session_tell(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    const char *name = luaL_checkstring(L, 2);
    size_t n;
    const char *text = luaL_checklstring(L, 3, &n);
    enum rt_code code = RT_OK;
    struct rt_error err;

    for (int c = RT_ETIMEOUT; c <= RT_EINVAL && code == RT_OK; c++)
        if (strcmp(rt_code_name((enum rt_code)c), name) == 0)
            code = (enum rt_code)c;
    luaL_argcheck(L, code != RT_OK, 2, "not an error code");
    if (!u->s || u->ended) {
        rt_error_clear(&err);
        rt_error_set(&err, RT_ECLOSED, "session closed");
        return lrt_pushfail(L, &err);
    }
    if (rt_session_tell(u->s, code, text, n, &err) != 0)
        return lrt_pushfail(L, &err);     /* out of memory raises */
    lua_pushboolean(L, 1);
    return 1;
}

static int lrt_session_tostring(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    lua_pushfstring(L, "%s (%p)%s", LRT_SESSION, (void *)u, lrt_session_open(u) ? "" : " closed");
    return 1;
}

static void lrt_stat_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* session:stats() -> { bytes_sent, bytes_received, messages_sent, messages_received,
 *                      reconnects, resent, replay_dropped, queued_bytes,
 *                      received_bytes, rx_pauses, first_audio } */
static int lrt_session_stats(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    struct rt_stats st;

    memset(&st, 0, sizeof st);
    st.first_audio = -1;
    if (u->s)
        rt_session_stats(u->s, &st);
    lua_createtable(L, 0, 12);
    lrt_stat_int(L, "bytes_sent", (lua_Integer)st.bytes_sent);
    lrt_stat_int(L, "bytes_received", (lua_Integer)st.bytes_received);
    lrt_stat_int(L, "messages_sent", (lua_Integer)st.messages_sent);
    lrt_stat_int(L, "messages_received", (lua_Integer)st.messages_received);
    lrt_stat_int(L, "reconnects", (lua_Integer)st.reconnects);
    lrt_stat_int(L, "resent", (lua_Integer)st.resent);
    lrt_stat_int(L, "replay_dropped", (lua_Integer)st.replay_dropped);
    lrt_stat_int(L, "queued_bytes", (lua_Integer)st.queued_bytes);
    lrt_stat_int(L, "received_bytes", (lua_Integer)st.received_bytes);
    lrt_stat_int(L, "rx_pauses", (lua_Integer)st.rx_pauses);
    if (st.first_audio >= 0) {
        lua_pushnumber(L, st.first_audio);
        lua_setfield(L, -2, "first_audio");
    }
    return 1;
}

/* session:_resumption_handle() -> the newest handle that holds everything the session
 * sent, or nil (rt_session_resumption_handle). Readable after the session ended. */
static int lrt_session_resumption_handle(lua_State *L)
{
    struct lrt_session *u = lrt_session_arg(L, 1);
    struct rt_error err;
    char small[RT_SESSION_HANDLE_MAX + 1];
    char *h = small;
    size_t cap = sizeof small, n = 0;
    int r;

    if (!u->s)
        return 0;
    /* A saved handle the caller started from may be longer than the server's: a Lua
     * buffer of its size then (never leaked if that allocation raises). */
    while ((r = rt_session_resumption_handle(u->s, h, cap, &n, &err)) < 0 && n >= cap) {
        cap = n + 1;
        h = lua_newuserdatauv(L, cap, 0);
    }
    if (r < 0)
        return luaL_error(L, "%s", err.msg);
    if (r == 0)
        return 0;
    lua_pushlstring(L, h, n);
    return 1;
}

/* session:_check_handler(): raises, at the user's line, inside a handler of this
 * session that runs beside the receive (before receive claims the receiver slot, which
 * would raise about another receive instead). */
static int lrt_session_check_handler(lua_State *L)
{
    lrt_session_arg(L, 1);
    lrt_dispatch_check_beside(L, 1);
    return 0;
}

static int lrt_session_props(lua_State *L)
{
    lrt_session_arg(L, 1);
    lua_getiuservalue(L, 1, LRT_UV_PROPS);
    return 1;
}

/* session:_pointer() -> lightuserdata of the core session, for C hosts (realtime.h) */
static int lrt_session_pointer(lua_State *L)
{
    struct lrt_session *u = lrt_check_session(L, 1);
    lua_pushlightuserdata(L, u->s);
    return 1;
}

/* core.poll_fds({fd, ...}, timeout) -> { [i] = true for each readable fd } | nil on timeout.
 * The blocking step of realtime.run when every coroutine waits. */
static int lrt_poll_fds(lua_State *L)
{
    struct pollfd *pfd;
    lua_Integer i, n;
    double t = lrt_timeout_arg(L, 2);
    int r;

    luaL_checktype(L, 1, LUA_TTABLE);
    n = (lua_Integer)lua_rawlen(L, 1);
    pfd = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *pfd, 0);
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        pfd[i].fd = (int)luaL_checkinteger(L, -1);
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
        lua_pop(L, 1);
    }
    /* a signal handler ends the wait like its timeout (realtime.run looks at the
     * deadlines again): back in Lua, the interpreter's Ctrl-C hook can run */
    r = rt_wait_fds(pfd, (nfds_t)n, t);
    if (r <= 0)
        return 0;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushboolean(L, (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg lrt_session_methods[] = {
    { "send", lrt_session_send },
    { "send_wire", lrt_session_send_wire },
    { "_send_initial", lrt_session_send_initial },
    { "append_audio", lrt_session_append_audio },
    { "commit_audio", lrt_session_commit_audio },
    { "try_receive", lrt_session_try_receive },
    { "_poll", lrt_session_poll },
    { "_wait", lrt_session_wait },
    { "pollfd", lrt_session_pollfd },
    { "events", lrt_session_events },
    { "timeout", lrt_session_timeout },
    { "close", lrt_session_close },
    { "is_open", lrt_session_is_open },
    { "_holding", lrt_session_holding },
    { "_tell", lrt_session_tell },
    { "stats", lrt_session_stats },
    { "_resumption_handle", lrt_session_resumption_handle },
    { "_props", lrt_session_props },
    { "_check_handler", lrt_session_check_handler },
    { "_pointer", lrt_session_pointer },
    { NULL, NULL },
};

static const luaL_Reg lrt_session_meta[] = {
    { "__gc", lrt_session_gc },
    { "__close", lrt_session_close },
    { "__tostring", lrt_session_tostring },
    { NULL, NULL },
};

/* __index: a method (upvalue 2, the table the Lua front adds its methods to), else a
 * field of the properties table (session.options and friends). In C because it runs on
 * every method call. */
static int lrt_session_index(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL)
        return 1;
    lrt_session_arg(L, 1);
    lua_getiuservalue(L, 1, LRT_UV_PROPS);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    return 1;
}

/* Fills a new session metatable (on top, below the module table). */
static void lrt_session_class(lua_State *L)
{
    /* Every function of the session gets the metatable as upvalue 1 (lrt_session_arg). */
    lua_pushvalue(L, -1);
    luaL_setfuncs(L, lrt_session_meta, 1);
    lua_createtable(L, 0, (int)(sizeof lrt_session_methods / sizeof lrt_session_methods[0]));
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, lrt_session_methods, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "session_methods");   /* core.session_methods */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_pushcclosure(L, lrt_session_index, 2);
    lua_setfield(L, -2, "__index");
}

/* The metatable (on top) of an earlier open of the module in this state: its methods
 * table, which live sessions and the Lua front's methods are in, becomes
 * core.session_methods again. 0 when its __index is not ours any more. */
static int lrt_session_reuse(lua_State *L)
{
    int top = lua_gettop(L), ours = 0;

    lua_getfield(L, top, "__index");
    if (lua_tocfunction(L, -1) == lrt_session_index && lua_getupvalue(L, -1, 2) &&
        lua_istable(L, -1)) {
        lua_setfield(L, top - 1, "session_methods");   /* the module table, below */
        ours = 1;
    }
    lua_settop(L, top);
    return ours;
}

void lrt_open_session(lua_State *L)
{
    /* Opened again in the same state (package.loaded["realtime.core"] = nil, then
     * require): the metatable in the registry is kept, so live sessions keep the methods
     * the Lua front added to it. */
    if (luaL_newmetatable(L, LRT_SESSION) || !lrt_session_reuse(L))
        lrt_session_class(L);
    lua_setfield(L, -2, "Session");      /* core.Session = the metatable */
    lua_pushcfunction(L, lrt_poll_fds);
    lua_setfield(L, -2, "poll_fds");
}
