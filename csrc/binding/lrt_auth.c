/* realtime.Auth and realtime.HttpRequest: the Lua face of the credential machinery.
 *
 * core.auth_new{...} wraps a struct rt_auth (a token source) and core.http_request{...}
 * an rt_http job (one HTTP request); both run on the core's one HTTP worker thread,
 * which stops once the last of them is closed or collected. Both are pollables (pollfd,
 * events, timeout, _wait, is_open), so lua/realtime/auth.lua waits on them the way the
 * front waits on sessions. Neither ever blocks the Lua thread except in _wait. Secrets
 * handed in are copied into C and wiped there; tostring shows only the type, the source
 * and the address. */
#include <string.h>

#include "lrt_map.h"
#include "lrt_private.h"
#include "rt_alloc.h"
#include "rt_auth.h"
#include "rt_http.h"

#define LRT_AUTH "realtime.Auth"
#define LRT_HTTP "realtime.HttpRequest"

struct lrt_auth {
    struct rt_auth *a;        /* owned reference; NULL once collected */
    bool closed;              /* close() ran: a is stopped (rt_auth_close), but its raised
                                 signal stays, for a poller that registered it (cqueues) */
};

struct lrt_http {
    struct rt_http_job *j;    /* owned; NULL once closed */
};

static double lrt_auth_number(lua_State *L, int idx, const char *key, double dflt)
{
    double v = dflt;
    int t = lua_getfield(L, idx, key);
    if (t != LUA_TNIL) {
        if (t != LUA_TNUMBER)
            luaL_error(L, "field '%s': expected a number, got %s", key, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
        if (!(v >= 0 && v <= 86400))
            luaL_error(L, "field '%s': expected a number between 0 and 86400", key);
    }
    lua_pop(L, 1);
    return v;
}

/* ==================================================================== *
 *  realtime.Auth
 * ==================================================================== */

static struct lrt_auth *lrt_check_auth(lua_State *L, int idx)
{
    struct lrt_auth *u = luaL_checkudata(L, idx, LRT_AUTH);
    if (!u->a || u->closed)
        luaL_error(L, "credential closed");
    return u;
}

/* The core token source of the realtime.Auth at idx, or NULL when the value is none or is
 * closed. Borrowed from the userdata (a session that keeps it takes its own reference). */
struct rt_auth *lrt_test_auth(lua_State *L, int idx);
struct rt_auth *lrt_test_auth(lua_State *L, int idx)
{
    struct lrt_auth *u = luaL_testudata(L, idx, LRT_AUTH);
    return u && !u->closed ? u->a : NULL;
}

/* core.auth_new{ kind = "service_account"|"authorized_user"|"metadata", source=, scope=,
 *   token_uri=, client_email=, private_key=, private_key_id=, subject=, client_id=,
 *   client_secret=, refresh_token=, metadata_host=, ca_file=, timeout= }
 *   -> auth | nil, message, "auth" */
static int lrt_auth_new(lua_State *L)
{
    static const char *const kinds[] = { "service_account", "authorized_user", "metadata", NULL };
    static const enum rt_auth_kind kind_values[] = {
        RT_AUTH_SERVICE_ACCOUNT, RT_AUTH_AUTHORIZED_USER, RT_AUTH_METADATA };
    struct rt_auth_options o;
    struct rt_error err;

    memset(&o, 0, sizeof o);
    rt_error_clear(&err);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "kind");
    lrt_map_enum(L, -1, "field 'kind':");   /* luaL_checkoption compares C strings */
    o.kind = kind_values[luaL_checkoption(L, -1, NULL, kinds)];
    lua_pop(L, 1);
    o.source = lrt_field_string(L, 1, "source");
    o.scope = lrt_field_string(L, 1, "scope");
    o.token_uri = lrt_field_string(L, 1, "token_uri");
    o.client_email = lrt_field_string(L, 1, "client_email");
    o.private_key = lrt_field_string(L, 1, "private_key");
    o.private_key_id = lrt_field_string(L, 1, "private_key_id");
    o.subject = lrt_field_string(L, 1, "subject");
    o.client_id = lrt_field_string(L, 1, "client_id");
    o.client_secret = lrt_field_string(L, 1, "client_secret");
    o.refresh_token = lrt_field_string(L, 1, "refresh_token");
    o.metadata_host = lrt_field_string(L, 1, "metadata_host");
    o.ca_file = lrt_field_string(L, 1, "ca_file");
    o.timeout = lrt_auth_number(L, 1, "timeout", 0);

    struct lrt_auth *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->a = NULL;
    u->closed = false;
    luaL_setmetatable(L, LRT_AUTH);
    u->a = rt_auth_new(&o, &err);
    if (!u->a) {
        if (err.code == RT_EINVAL) err.code = RT_EAUTH;
        return lrt_pushfail(L, &err);
    }
    return 1;
}

/* Pushes the token p, a C string (through lrt_push_released). */
static int lrt_token_push(lua_State *L, void *p)
{
    lua_pushlstring(L, p, strlen(p));
    return 1;
}

/* Wipes and frees the token p. */
static void lrt_token_release(void *p)
{
    explicit_bzero(p, strlen(p));
    rt_free(p);
}

/* auth:token([min_valid]) -> token, expires_in | nil, "again" | nil, message, "auth",
 * reached, cause (rt_auth_reached: whether the failed fetch reached the endpoint, and
 * the code name of its request's own failure, nil when the endpoint answered HTTP) */
static int lrt_auth_token(lua_State *L)
{
    struct lrt_auth *u = lrt_check_auth(L, 1);
    double min_valid = luaL_optnumber(L, 2, 60);
    struct rt_error err;
    char *tok = NULL;
    double left = 0;

    rt_error_clear(&err);
    int rc = rt_auth_token(u->a, min_valid, &tok, &left, &err);
    if (rc < 0) {
        /* then whether the fetch reached the endpoint, and its request's own failure
         * (nil when the endpoint answered HTTP): auth.lua tells "no server here" by them */
        enum rt_code cause;
        int reached = rt_auth_reached(u->a, &cause);
        int n = lrt_pushfail(L, &err);
        lua_pushboolean(L, reached);
        if (cause == RT_OK)
            lua_pushnil(L);
        else
            lua_pushstring(L, rt_code_name(cause));
        return n + 2;
    }
    if (rc == 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "again");
        return 2;
    }
    /* our copy is wiped and freed even when Lua runs out of memory making its own */
    lrt_push_released(L, lrt_token_push, tok, lrt_token_release);
    lua_pushnumber(L, left);
    return 2;
}

/* auth:invalidate(): forget the cached token and start a new fetch */
static int lrt_auth_invalidate(lua_State *L)
{
    struct lrt_auth *u = lrt_check_auth(L, 1);
    rt_auth_invalidate(u->a);
    return 0;
}

/* auth:_on_demand(): no more renewals on a timer; a token is fetched when asked for */
static int lrt_auth_on_demand(lua_State *L)
{
    struct lrt_auth *u = lrt_check_auth(L, 1);
    rt_auth_on_demand(u->a);
    return 0;
}

/* auth:fetches() -> number of token fetches that have ended */
static int lrt_auth_fetches(lua_State *L)
{
    struct lrt_auth *u = lrt_check_auth(L, 1);
    lua_pushinteger(L, (lua_Integer)rt_auth_fetches(u->a));
    return 1;
}

static int lrt_auth_source(lua_State *L)
{
    struct lrt_auth *u = lrt_check_auth(L, 1);
    lua_pushstring(L, rt_auth_source(u->a));
    return 1;
}

/* The signal's descriptor, closed or not: after close() it stays readable, so a
 * scheduler that polls it (cqueues) wakes its waiter at once rather than at its timeout,
 * and never finds it closed under it (it lasts until the collector frees the credential). */
static int lrt_auth_pollfd(lua_State *L)
{
    struct lrt_auth *u = luaL_checkudata(L, 1, LRT_AUTH);
    if (!u->a)
        return 0;
    lua_pushinteger(L, rt_auth_fd(u->a));
    return 1;
}

static int lrt_pollable_events(lua_State *L)
{
    lua_pushliteral(L, "r");
    return 1;
}

static int lrt_pollable_timeout(lua_State *L)
{
    (void)L;
    return 0;
}

/* auth:_wait(timeout) -> true when a fetch may have ended, false on timeout */
static int lrt_auth_wait(lua_State *L)
{
    struct lrt_auth *u = luaL_checkudata(L, 1, LRT_AUTH);
    double t = luaL_optnumber(L, 2, -1);
    lua_pushboolean(L, !u->a || rt_auth_wait(u->a, t) > 0);
    return 1;
}

static int lrt_auth_is_open(lua_State *L)
{
    struct lrt_auth *u = luaL_checkudata(L, 1, LRT_AUTH);
    lua_pushboolean(L, u->a != NULL && !u->closed);
    return 1;
}

/* auth:close(): cancels a fetch under way and the refresh timer, has the secrets wiped
 * and wakes whoever waits on the credential. Idempotent. */
static int lrt_auth_close(lua_State *L)
{
    struct lrt_auth *u = luaL_checkudata(L, 1, LRT_AUTH);
    u->closed = true;
    rt_auth_close(u->a);
    return 0;
}

/* __gc: drops the Lua side's reference (the descriptor goes with the last one); a
 * session that holds its own keeps the source working for its reconnects. */
static int lrt_auth_gc(lua_State *L)
{
    struct lrt_auth *u = luaL_checkudata(L, 1, LRT_AUTH);
    struct rt_auth *a = u->a;
    u->a = NULL;
    u->closed = true;
    rt_auth_free(a);
    return 0;
}

static int lrt_auth_tostring(lua_State *L)
{
    struct lrt_auth *u = luaL_checkudata(L, 1, LRT_AUTH);
    if (u->a && !u->closed)
        lua_pushfstring(L, "%s (%s) (%p)", LRT_AUTH, rt_auth_source(u->a), (void *)u);
    else
        lua_pushfstring(L, "%s (%p) closed", LRT_AUTH, (void *)u);
    return 1;
}

static const luaL_Reg lrt_auth_methods[] = {
    { "token", lrt_auth_token },
    { "invalidate", lrt_auth_invalidate },
    { "_on_demand", lrt_auth_on_demand },
    { "fetches", lrt_auth_fetches },
    { "source", lrt_auth_source },
    { "pollfd", lrt_auth_pollfd },
    { "events", lrt_pollable_events },
    { "timeout", lrt_pollable_timeout },
    { "_wait", lrt_auth_wait },
    { "is_open", lrt_auth_is_open },
    { "close", lrt_auth_close },
    { NULL, NULL }
};

static const luaL_Reg lrt_auth_meta[] = {
    { "__gc", lrt_auth_gc },
    { "__close", lrt_auth_close },
    { "__tostring", lrt_auth_tostring },
    { NULL, NULL }
};

/* ==================================================================== *
 *  realtime.HttpRequest
 * ==================================================================== */

/* core.http_request{ method = "GET"|"POST", url=, headers = { name = value }, body=,
 *   ca_file=, timeout=, max_response= } -> request | nil, message, code */
static int lrt_http_request(lua_State *L)
{
    struct rt_http_request r;
    struct rt_error err;
    struct rt_http_header hdrs[32];
    size_t n = 0;

    memset(&r, 0, sizeof r);
    rt_error_clear(&err);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "method");
    r.method = lrt_map_enum(L, -1, "field 'method'");
    if (!r.method && !lua_isnil(L, -1))
        luaL_error(L, "field 'method': expected a string, got %s", luaL_typename(L, -1));
    lua_pop(L, 1);   /* the table still holds it */
    r.url = lrt_field_string(L, 1, "url");
    if (!r.url)
        luaL_error(L, "field 'url': expected a string");
    if (!r.method)
        r.method = "GET";
    if (strcmp(r.method, "GET") != 0 && strcmp(r.method, "POST") != 0)
        luaL_error(L, "field 'method': expected \"GET\" or \"POST\"");
    r.ca_file = lrt_field_string(L, 1, "ca_file");
    r.timeout = lrt_auth_number(L, 1, "timeout", 0);
    if (lua_getfield(L, 1, "body") != LUA_TNIL) {
        if (!lua_isstring(L, -1) || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "field 'body': expected a string");
        r.body = lua_tolstring(L, -1, &r.body_len);
    }
    lua_pop(L, 1);   /* the table still references the body */
    if (lua_getfield(L, 1, "headers") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "field 'headers': expected a table of strings");
            if (n == sizeof hdrs / sizeof *hdrs)
                luaL_error(L, "field 'headers': at most 32 headers");
            hdrs[n].name = lrt_cstring(L, -2, "field 'headers': a name or value");
            hdrs[n].value = lrt_cstring(L, -1, "field 'headers': a name or value");
            n++;
            lua_pop(L, 1);
        }
    }
    /* the headers table stays on the stack, holding the strings until the copy below */
    r.headers = hdrs;
    r.nheaders = n;

    struct lrt_http *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->j = NULL;
    luaL_setmetatable(L, LRT_HTTP);
    u->j = rt_http_start(&r, &err);
    if (!u->j)
        return lrt_pushfail(L, &err);
    return 1;
}

/* Pushes status, body of the response p (through lrt_push_released). */
static int lrt_response_push(lua_State *L, void *p)
{
    const struct rt_http_response *resp = p;

    lua_pushinteger(L, resp->status);
    lua_pushlstring(L, resp->body ? resp->body : "", resp->len);
    return 2;
}

/* Wipes and frees the response p's body (it may hold a token). */
static void lrt_response_release(void *p)
{
    rt_http_response_free(p);
}

/* request:result() -> status, body | nil, "again" | nil, message, code */
static int lrt_http_result(lua_State *L)
{
    struct lrt_http *u = luaL_checkudata(L, 1, LRT_HTTP);
    struct rt_http_response resp;
    struct rt_error err;

    if (!u->j)
        luaL_error(L, "request closed");
    if (!rt_http_job_done(u->j)) {
        lua_pushnil(L);
        lua_pushliteral(L, "again");
        return 2;
    }
    rt_error_clear(&err);
    if (rt_http_job_result(u->j, &resp, &err) != 0)
        return lrt_pushfail(L, &err);
    /* the job gave the response up: freed here even when the copy runs out of memory */
    return lrt_push_released(L, lrt_response_push, &resp, lrt_response_release);
}

static int lrt_http_pollfd(lua_State *L)
{
    struct lrt_http *u = luaL_checkudata(L, 1, LRT_HTTP);
    if (!u->j)
        return 0;
    lua_pushinteger(L, rt_http_job_fd(u->j));
    return 1;
}

static int lrt_http_wait(lua_State *L)
{
    struct lrt_http *u = luaL_checkudata(L, 1, LRT_HTTP);
    double t = luaL_optnumber(L, 2, -1);
    lua_pushboolean(L, !u->j || rt_http_job_wait(u->j, t) > 0);
    return 1;
}

static int lrt_http_is_open(lua_State *L)
{
    struct lrt_http *u = luaL_checkudata(L, 1, LRT_HTTP);
    lua_pushboolean(L, u->j != NULL);
    return 1;
}

/* request:close(): cancels the request if it still runs and frees it. Idempotent. */
static int lrt_http_close(lua_State *L)
{
    struct lrt_http *u = luaL_checkudata(L, 1, LRT_HTTP);
    struct rt_http_job *j = u->j;
    u->j = NULL;
    rt_http_job_free(j);
    return 0;
}

static int lrt_http_tostring(lua_State *L)
{
    struct lrt_http *u = luaL_checkudata(L, 1, LRT_HTTP);
    lua_pushfstring(L, "%s (%p)%s", LRT_HTTP, (void *)u, u->j ? "" : " closed");
    return 1;
}

static const luaL_Reg lrt_http_methods[] = {
    { "result", lrt_http_result },
    { "pollfd", lrt_http_pollfd },
    { "events", lrt_pollable_events },
    { "timeout", lrt_pollable_timeout },
    { "_wait", lrt_http_wait },
    { "is_open", lrt_http_is_open },
    { "close", lrt_http_close },
    { NULL, NULL }
};

static const luaL_Reg lrt_http_meta[] = {
    { "__gc", lrt_http_close },
    { "__close", lrt_http_close },
    { "__tostring", lrt_http_tostring },
    { NULL, NULL }
};

/* ==================================================================== *
 *  O P E N
 * ==================================================================== */

static void lrt_auth_class(lua_State *L, const char *name, const luaL_Reg *meta,
                           const luaL_Reg *methods, const char *field)
{
    /* kept whole when the module is opened again in the same state (lrt_open_client) */
    if (luaL_newmetatable(L, name)) {
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_setfield(L, -2, field);       /* core.Auth / core.HttpRequest = the metatable */
}

void lrt_open_auth(lua_State *L)
{
    lrt_auth_class(L, LRT_AUTH, lrt_auth_meta, lrt_auth_methods, "Auth");
    lrt_auth_class(L, LRT_HTTP, lrt_http_meta, lrt_http_methods, "HttpRequest");
    lua_pushcfunction(L, lrt_auth_new);
    lua_setfield(L, -2, "auth_new");
    lua_pushcfunction(L, lrt_http_request);
    lua_setfield(L, -2, "http_request");
}
