/* realtime.Session: the Lua face of a core session: lifetime, stats, the pollable
 * protocol and the method table (sending: lrt_session_send.c; receiving: lrt_receive.c).
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
#include <string.h>

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
