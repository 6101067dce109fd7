/* realtime.Client: the Lua face of a core client (one I/O thread and its sessions).
 *
 * The Lua front (lua/realtime/init.lua, with lua/realtime/options.lua) checks options,
 * resolves credentials and builds the endpoint; this file owns the userdata and starts
 * sessions. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_private.h"
#include "lrt_receive.h"
#include "rt_client.h"
#include "rt_session.h"

struct lrt_client *lrt_check_client(lua_State *L, int idx)
{
    struct lrt_client *u = luaL_checkudata(L, idx, LRT_CLIENT);
    if (!u->c)
        luaL_error(L, "client closed");
    return u;
}

/* The integer at idx as an int, clamped rather than wrapped (2^32 must not pass for 0,
 * the default): the core refuses what is out of its range, saying the range. */
static int client_int(lua_State *L, int idx)
{
    lua_Integer v = luaL_checkinteger(L, idx);

    return v < INT_MIN ? INT_MIN : v > INT_MAX ? INT_MAX : (int)v;
}

/* core.client_new{ ca_file=, ping_interval=, ping_timeout=, max_sessions=, event_loop= }
 * -> client | nil, msg, code */
static int lrt_client_new(lua_State *L)
{
    struct rt_client_options o;
    struct rt_error err;
    struct lrt_client *u;

    memset(&o, 0, sizeof o);
    rt_error_clear(&err);
    luaL_checktype(L, 1, LUA_TTABLE);
    /* lua_close finalizes nothing made during it: the client's thread would run on */
    if (lrt_state_closing(L))
        return luaL_error(L, "cannot make a client while the Lua state closes (lua_close): "
                             "it would never be freed");
    if (lua_getfield(L, 1, "ca_file") != LUA_TNIL)
        o.ca_file = lrt_cstring(L, -1, "option 'ca_file':");
    if (lua_getfield(L, 1, "ping_interval") != LUA_TNIL)
        o.ping_interval = client_int(L, -1);
    if (lua_getfield(L, 1, "ping_timeout") != LUA_TNIL)
        o.ping_timeout = client_int(L, -1);
    if (lua_getfield(L, 1, "max_sessions") != LUA_TNIL)
        o.max_sessions = client_int(L, -1);
    if (lua_getfield(L, 1, "event_loop") != LUA_TNIL) {
        static const char *const loops[] = { "auto", "poll", "epoll", NULL };
        /* luaL_checkoption compares C strings: "epoll\0x" would pass for "epoll" */
        lrt_map_enum(L, -1, "option 'event_loop':");
        o.event_loop = (enum rt_event_loop)luaL_checkoption(L, -1, NULL, loops);
    }

    /* the box first, so a failure below leaves nothing unowned */
    u = lua_newuserdatauv(L, sizeof *u, 1);
    u->c = u->closing = NULL;
    luaL_setmetatable(L, LRT_CLIENT);
    u->c = rt_client_new(&o, &err);
    if (!u->c)
        return lrt_pushfail(L, &err);
    lrt_track_client(L, -1);
    lua_newtable(L);                 /* the Lua front's properties */
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* client:close() is Lua (init.lua): _close_start, then _close_wait steps, so that the
 * wait comes back to Lua when a signal handler runs and Ctrl-C's hook can act. */

/* client:_close_start(): closes every session of the client (each gets its closed
 * message) and asks the I/O thread to stop; returns at once. The client counts as closed
 * from here on. Idempotent. */
static int lrt_client_close_start(lua_State *L)
{
    struct lrt_client *u = luaL_checkudata(L, 1, LRT_CLIENT);

    if (u->c) {
        u->closing = u->c;
        u->c = NULL;
        rt_client_close(u->closing);
    }
    return 0;
}

/* client:_close_wait(timeout) -> true once the close is done and the client freed;
 * false when the timeout passed or a signal handler ran (EINTR): call again. */
static int lrt_client_close_wait(lua_State *L)
{
    struct lrt_client *u = luaL_checkudata(L, 1, LRT_CLIENT);
    double timeout = (double)luaL_checknumber(L, 2);

    if (u->closing && rt_client_wait_closed(u->closing, timeout) != 1) {
        lua_pushboolean(L, 0);
        return 1;
    }
    rt_client_free(u->closing);   /* the I/O thread has returned: no wait */
    u->closing = NULL;
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc: a client never closed gets the whole close, as rt_client_free waits for it; one
 * whose close() was interrupted (Ctrl-C) is not waited for again: its sessions still
 * closing end now, told that the client was freed. */
static int lrt_client_gc(lua_State *L)
{
    struct lrt_client *u = luaL_checkudata(L, 1, LRT_CLIENT);
    struct rt_client *c = u->c, *closing = u->closing;

    u->c = u->closing = NULL;
    rt_client_free(c);
    rt_client_free_now(closing);
    return 0;
}

static int lrt_client_tostring(lua_State *L)
{
    struct lrt_client *u = luaL_checkudata(L, 1, LRT_CLIENT);
    lua_pushfstring(L, "%s (%p)%s", LRT_CLIENT, (void *)u, u->c ? "" : " closed");
    return 1;
}

/* client:_props() -> the table the Lua front keeps its fields in */
static int lrt_client_props(lua_State *L)
{
    luaL_checkudata(L, 1, LRT_CLIENT);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

static int lrt_client_is_open(lua_State *L)
{
    struct lrt_client *u = luaL_checkudata(L, 1, LRT_CLIENT);
    lua_pushboolean(L, u->c != NULL);
    return 1;
}

/* ---- starting a session ------------------------------------------------------------- */

/* The token source of a realtime.Auth userdata (lrt_auth.c), or NULL. */
struct rt_auth *lrt_test_auth(lua_State *L, int idx);

/* client:_connect(cfg, map_state, tools, props) -> session (connecting) | nil, msg, code
 *
 * cfg = { url=, headers = {{name, value}, ...}, setup = json, timeout=, max_queue_bytes=,
 *         max_message_bytes=, audio_mime=, manual_activity=, audio_stream_end=,
 *         resumption=, transparent=, initial_history=, no_call_hold=, token_source= }
 * token_source (a realtime.Auth) gives each reconnect's handshake a fresh bearer token.
 * The session is returned at once; its first message tells whether setup completed. */
static int lrt_client_connect(lua_State *L)
{
    struct lrt_client *cu = lrt_check_client(L, 1);
    struct rt_session_options o;
    struct rt_header *headers = NULL;
    struct lrt_session *su;
    struct rt_error err;
    size_t n, i;

    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    rt_error_clear(&err);

    o.url = lrt_field_string(L, 2, "url");
    luaL_argcheck(L, o.url != NULL, 2, "url missing");
    lua_getfield(L, 2, "setup");
    o.setup = luaL_checklstring(L, -1, &o.setup_len);
    lua_pop(L, 1);
    o.timeout = (double)lrt_field_number(L, 2, "timeout", 0);
    o.max_queue_bytes = (size_t)lrt_field_number(L, 2, "max_queue_bytes", 0);
    o.max_message_bytes = (size_t)lrt_field_number(L, 2, "max_message_bytes", 0);
    o.max_receive_bytes = (size_t)lrt_field_number(L, 2, "max_receive_bytes", 0);
    o.close_timeout = (double)lrt_field_number(L, 2, "close_timeout", 0);
    o.audio_mime = lrt_field_string(L, 2, "audio_mime");
    o.manual_activity = lrt_field_bool(L, 2, "manual_activity");
    o.audio_stream_end = lrt_field_bool(L, 2, "audio_stream_end");
    o.resumption = lrt_field_bool(L, 2, "resumption");
    o.transparent = lrt_field_bool(L, 2, "transparent");
    o.initial_history = lrt_field_bool(L, 2, "initial_history");
    o.no_call_hold = lrt_field_bool(L, 2, "no_call_hold");
    lua_getfield(L, 2, "token_source");
    o.auth = lrt_test_auth(L, -1);   /* the session takes its own reference */
    lua_pop(L, 1);

    /* the header array lives in a scratch userdata, so a raise below frees it */
    lua_getfield(L, 2, "headers");
    n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    if (n > 0) {
        int t = lua_gettop(L);
        headers = lua_newuserdatauv(L, n * sizeof *headers, 0);
        for (i = 0; i < n; i++) {
            lua_rawgeti(L, t, (lua_Integer)i + 1);
            luaL_checktype(L, -1, LUA_TTABLE);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            headers[i].name = lrt_cstring(L, -2, "field 'headers': a name or value");
            headers[i].value = lrt_cstring(L, -1, "field 'headers': a name or value");
            lua_pop(L, 3);   /* strings stay referenced by cfg.headers */
        }
    }
    o.headers = headers;
    o.nheaders = n;

    su = lua_newuserdatauv(L, sizeof *su, LRT_UV_COUNT);
    memset(su, 0, sizeof *su);
    luaL_setmetatable(L, LRT_SESSION);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, LRT_UV_MAP);
    lua_pushvalue(L, 4);
    lua_setiuservalue(L, -2, LRT_UV_TOOLS);
    su->inbox_head = 1;         /* an empty inbox */
    lua_newtable(L);
    lua_setiuservalue(L, -2, LRT_UV_INBOX);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, LRT_UV_CLIENT);
    lua_pushvalue(L, 5);
    lua_setiuservalue(L, -2, LRT_UV_PROPS);

    su->max_queue = o.max_queue_bytes ? o.max_queue_bytes : LRT_DEFAULT_QUEUE_BYTES;
    su->s = rt_session_new(cu->c, &o, &err);
    if (!su->s) {
        su->ended = 1;
        return lrt_pushfail(L, &err);
    }
    return 1;
}

/* client:event_loop() -> "epoll", "kqueue" or "poll": what the I/O thread waits with */
static int lrt_client_event_loop(lua_State *L)
{
    struct lrt_client *u = lrt_check_client(L, 1);
    lua_pushstring(L, rt_client_event_loop(u->c));
    return 1;
}

/* client:_closing() -> how many max_sessions places sessions closed by their owner still
 * hold (close() called, or collected): connect at the limit waits while it is above 0.
 * Sessions the collector freed are counted too, which the Lua side cannot see. 0 once
 * the client is closed. */
static int lrt_client_closing(lua_State *L)
{
    struct lrt_client *u = luaL_checkudata(L, 1, LRT_CLIENT);
    lua_pushinteger(L, rt_client_closing(u->c));
    return 1;
}

/* client:_ready_sessions(set) -> the sessions among the keys of set that have a message
 * for poll() and can be received from on this thread, in an array. client:poll() visits
 * only those: one check per idle session instead of a Lua call. Keys that are not
 * sessions are skipped. A closed client is fine: its sessions' last messages (closed)
 * still wait to be polled. */
static int lrt_client_ready_sessions(lua_State *L)
{
    lua_Integer n = 0;

    luaL_checkudata(L, 1, LRT_CLIENT);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_newtable(L);                    /* 3: the result */
    luaL_getmetatable(L, LRT_SESSION);  /* 4: one comparison per key, no name lookup */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        int session = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TUSERDATA && lua_getmetatable(L, -1)) {
            session = lua_rawequal(L, -1, 4);
            lua_pop(L, 1);
        }
        /* one that cannot be received from here (its tool handler runs on this thread,
         * or it is reading a message) is left for later, not raised on mid-poll */
        if (session && lrt_session_has_pending(L, lua_gettop(L), lua_touserdata(L, -1)) &&
            lrt_dispatch_receivable(L, lua_touserdata(L, -1), lua_gettop(L))) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, 3, ++n);
        }
    }
    lua_settop(L, 3);
    return 1;
}

static const luaL_Reg lrt_client_methods[] = {
    { "_close_start", lrt_client_close_start },
    { "_closing", lrt_client_closing },
    { "_close_wait", lrt_client_close_wait },
    { "_connect", lrt_client_connect },
    { "_props", lrt_client_props },
    { "_ready_sessions", lrt_client_ready_sessions },
    { "is_open", lrt_client_is_open },
    { "event_loop", lrt_client_event_loop },
    { NULL, NULL },
};

static const luaL_Reg lrt_client_meta[] = {
    { "__gc", lrt_client_gc },
    { "__tostring", lrt_client_tostring },
    { NULL, NULL },
};

void lrt_open_client(lua_State *L)
{
    /* A module opened again in the same state (package.loaded["realtime.core"] = nil, then
     * require) finds the metatable in the registry and keeps it whole: its __index holds
     * the methods the Lua front added, which live clients need. */
    if (luaL_newmetatable(L, LRT_CLIENT)) {
        luaL_setfuncs(L, lrt_client_meta, 0);
        luaL_newlib(L, lrt_client_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_setfield(L, -2, "Client");       /* core.Client = the metatable */
    lua_pushcfunction(L, lrt_client_new);
    lua_setfield(L, -2, "client_new");
}
