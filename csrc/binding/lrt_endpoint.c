/* realtime.core.endpoint: the URL and handshake headers of a session, from the core's
 * rt_endpoint_build, for the Lua front; and the check of those options alone, which the
 * front runs when a client is made. */
#include <string.h>

#include "lrt_map.h"
#include "lrt_private.h"
#include "rt_endpoint.h"

/* t[key] as a C string (NULL when absent). A string with a NUL byte would be cut short
 * without a word; it raises instead, naming the option (lrt_cstring). */
static const char *lrt_ep_string(lua_State *L, int t, const char *key, const char *option)
{
    const char *s;
    int type = lua_getfield(L, t, key);

    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (type != LUA_TSTRING)
        luaL_error(L, "option '%s': expected a string, got %s", option, luaL_typename(L, -1));
    s = lrt_cstring(L, -1, "option '%s':", option);
    lua_pop(L, 1);   /* the table still references the string */
    return s;
}

/* The { name = value } map at the top into a scratch userdata of n headers (collected by
 * the GC even if a check below raises). The strings stay referenced by the map. */
static struct rt_header *lrt_ep_headers(lua_State *L, size_t *count)
{
    int t = lua_gettop(L);
    size_t n = 0, i = 0;
    struct rt_header *h;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        n++;
        lua_pop(L, 1);
    }
    h = lua_newuserdatauv(L, (n ? n : 1) * sizeof *h, 0);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "option 'headers': expected a table of strings");
        h[i].name = lrt_cstring(L, -2, "option 'headers': a name or value");
        h[i].value = lrt_cstring(L, -1, "option 'headers': a name or value");
        i++;
        lua_pop(L, 1);
    }
    *count = n;
    return h;
}

/* Pushes url, { {name, value}, ... } of the endpoint p (through lrt_push_released). */
static int lrt_ep_push(lua_State *L, void *p)
{
    const struct rt_endpoint *ep = p;
    size_t i;

    lua_pushstring(L, ep->url);
    lua_createtable(L, (int)ep->nheaders, 0);
    for (i = 0; i < ep->nheaders; i++) {
        lua_createtable(L, 2, 0);
        lua_pushstring(L, ep->headers[i].name);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, ep->headers[i].value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 2;
}

static void lrt_ep_release(void *p)
{
    rt_endpoint_free(p);
}

/* core.endpoint(cfg [, check_only])
 *   cfg = { backend=, api_key=, access_token=, project=, location=, api_version=,
 *           base_url=, quota_project=, headers = { name = value } }
 *   -> url, { {name, value}, ... } | nil, message, code
 *   check_only: -> true once the forms are right (no credential needed: rt_endpoint_check)
 * An option of the wrong form raises "option 'x': <what is wrong>" (misuse), both ways. */
static int lrt_endpoint(lua_State *L)
{
    struct rt_endpoint_options o;
    struct rt_endpoint ep;
    struct rt_error err;
    const char *backend;
    int check_only = lua_toboolean(L, 2), r;

    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    memset(&ep, 0, sizeof ep);
    rt_error_clear(&err);
    lua_getfield(L, 1, "backend");
    backend = lrt_map_enum(L, -1, "endpoint: backend");
    lua_pop(L, 1);   /* the table still holds it */
    if (!backend || (strcmp(backend, "gemini") != 0 && strcmp(backend, "vertex") != 0))
        return luaL_error(L, "endpoint: backend must be \"gemini\" or \"vertex\"");
    o.backend = backend[0] == 'g' ? RT_BACKEND_GEMINI : RT_BACKEND_VERTEX;
    o.api_key = lrt_ep_string(L, 1, "api_key", "api_key");
    o.access_token = lrt_ep_string(L, 1, "access_token", "access_token");
    o.project = lrt_ep_string(L, 1, "project", "project");
    o.location = lrt_ep_string(L, 1, "location", "location");
    o.api_version = lrt_ep_string(L, 1, "api_version", "api_version");
    o.base_url = lrt_ep_string(L, 1, "base_url", "base_url");
    o.quota_project = lrt_ep_string(L, 1, "quota_project", "quota_project");
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE)
        o.headers = lrt_ep_headers(L, &o.nheaders);

    if (check_only) {
        if (rt_endpoint_check(&o, &err) != 0)
            return luaL_error(L, "%s", err.msg);
        lua_pushboolean(L, 1);
        return 1;
    }
    r = rt_endpoint_build(&o, &ep, &err);
    if (r != 0) {
        rt_endpoint_free(&ep);
        if (err.code == RT_EINVAL)
            return luaL_error(L, "%s", err.msg);
        return lrt_pushfail(L, &err);
    }
    /* the URL and headers carry the credential: freed even when the copy runs out of
     * memory */
    return lrt_push_released(L, lrt_ep_push, &ep, lrt_ep_release);
}

void lrt_open_endpoint(lua_State *L)
{
    lua_pushcfunction(L, lrt_endpoint);
    lua_setfield(L, -2, "endpoint");
}
