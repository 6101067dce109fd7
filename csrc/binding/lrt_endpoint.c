/* realtime.core.endpoint: the URL and handshake headers of a session, from the core's
 * rt_endpoint_build, for the Lua front. */
#include <string.h>

#include "lrt_private.h"
#include "rt_alloc.h"
#include "rt_endpoint.h"

/* core.endpoint{ backend=, api_key=, access_token=, project=, location=, api_version=,
 *                base_url=, quota_project=, headers = { name = value } }
 *   -> url, { {name, value}, ... } | nil, message, code */
static int lrt_endpoint(lua_State *L)
{
    struct rt_endpoint_options o;
    struct rt_endpoint ep;
    struct rt_error err;
    struct rt_header *extra = NULL;
    const char *backend;
    size_t n = 0, i;
    int r;

    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    memset(&ep, 0, sizeof ep);
    rt_error_clear(&err);
    backend = lrt_field_string(L, 1, "backend");
    if (!backend || (strcmp(backend, "gemini") != 0 && strcmp(backend, "vertex") != 0))
        return luaL_error(L, "endpoint: backend must be \"gemini\" or \"vertex\"");
    o.backend = backend[0] == 'g' ? RT_BACKEND_GEMINI : RT_BACKEND_VERTEX;
    o.api_key = lrt_field_string(L, 1, "api_key");
    o.access_token = lrt_field_string(L, 1, "access_token");
    o.project = lrt_field_string(L, 1, "project");
    o.location = lrt_field_string(L, 1, "location");
    o.api_version = lrt_field_string(L, 1, "api_version");
    o.base_url = lrt_field_string(L, 1, "base_url");
    o.quota_project = lrt_field_string(L, 1, "quota_project");

    /* extra headers into a scratch userdata (freed by the GC even if we raise) */
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
        int t = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, t)) {
            n++;
            lua_pop(L, 1);
        }
        extra = lua_newuserdatauv(L, (n ? n : 1) * sizeof *extra, 0);
        i = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            extra[i].name = luaL_checkstring(L, -2);
            extra[i].value = luaL_checkstring(L, -1);
            i++;
            lua_pop(L, 1);
        }
    }
    o.headers = extra;
    o.nheaders = n;

    r = rt_endpoint_build(&o, &ep, &err);
    if (r != 0) {
        rt_endpoint_free(&ep);
        return lrt_pushfail(L, &err);
    }
    /* copy out, free, then push: nothing may raise while ep is still owned here */
    if (!lua_checkstack(L, 4)) {
        rt_endpoint_free(&ep);
        return luaL_error(L, "stack overflow");
    }
    lua_pushstring(L, ep.url);
    lua_createtable(L, (int)ep.nheaders, 0);
    for (i = 0; i < ep.nheaders; i++) {
        lua_createtable(L, 2, 0);
        lua_pushstring(L, ep.headers[i].name);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, ep.headers[i].value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    rt_endpoint_free(&ep);
    return 2;
}

void lrt_open_endpoint(lua_State *L)
{
    lua_pushcfunction(L, lrt_endpoint);
    lua_setfield(L, -2, "endpoint");
}
