/* The close of a whole Lua state (lua_close) with clients still open.
 *
 * lua_close runs every finalizer, newest first: each client's __gc waits for its own
 * sessions' closes (rt_client_free) before the next client's even starts, so a state
 * with N clients whose servers do not answer (a network gone without a reset) took N
 * close_timeouts. A host that closes a state at each level reload waits for the slowest
 * client instead: the state keeps its clients in a weak table and a sentinel, renewed
 * after each new client so that it is finalized before any of them, starts every
 * client's close (rt_client_close) when the state closes; the clients' __gc then only
 * wait, side by side.
 *
 * The sentinel is only ever finalized while the registry still holds it when the state
 * closes: the one a new client replaced is collected as garbage and does nothing. Its one
 * byte then says that the state is closing: lua_close calls no finalizer of an object made
 * during it, so a client a later finalizer made would never be freed (lrt_state_closing). */
#include "lrt_private.h"
#include "rt_client.h"

#define LRT_SENTINEL "realtime.StateClose"

static const char lrt_clients_key = 'c', lrt_sentinel_key = 's';

/* __gc of a sentinel: the current one starts the close of every client of the state */
static int lrt_sentinel_gc(lua_State *L)
{
    int current = lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_sentinel_key) == LUA_TUSERDATA &&
                  lua_rawequal(L, -1, 1);

    lua_pop(L, 1);
    if (!current)
        return 0;
    *(char *)lua_touserdata(L, 1) = 1;   /* no allocation: nothing here can raise */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_clients_key) != LUA_TTABLE)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        struct lrt_client *u = luaL_testudata(L, -2, LRT_CLIENT);
        if (u && u->c)
            rt_client_close(u->c);   /* returns at once; the client's __gc waits */
        lua_pop(L, 1);
    }
    return 0;
}

int lrt_state_closing(lua_State *L)
{
    int closing = lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_sentinel_key) == LUA_TUSERDATA &&
                  *(const char *)lua_touserdata(L, -1);

    lua_pop(L, 1);
    return closing;
}

/* Adds the client at idx to its state's clients and renews the sentinel. */
void lrt_track_client(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_clients_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");         /* the table does not keep a client alive */
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_clients_key);
    }
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);

    *(char *)lua_newuserdatauv(L, 1, 0) = 0;   /* not closing */
    if (luaL_newmetatable(L, LRT_SENTINEL)) {
        lua_pushcfunction(L, lrt_sentinel_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);             /* marked after the client: finalized before it */
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_sentinel_key);
}
