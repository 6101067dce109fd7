/* The binding parts that add themselves to realtime.core, and small shared helpers. */
#include <stdarg.h>
#include <string.h>

#include "lrt_json.h"
#include "lrt_private.h"
#include "lrt_map.h"

static const char lrt_module_key = 'm';

void lrt_push_module(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lrt_module_key) != LUA_TTABLE)
        luaL_error(L, "BUG: realtime.core module table missing from the registry");
}

/* Puts realtime.core.<name> below its nargs arguments. */
static void insert_module_fn(lua_State *L, const char *name, int nargs)
{
    lrt_push_module(L);
    if (lua_getfield(L, -1, name) != LUA_TFUNCTION)
        luaL_error(L, "BUG: realtime.core.%s is missing", name);
    lua_remove(L, -2);               /* the module table */
    lua_insert(L, -(nargs + 1));     /* the function below its arguments */
}

void lrt_call_module(lua_State *L, const char *name, int nargs, int nresults)
{
    insert_module_fn(L, name, nargs);
    lua_call(L, nargs, nresults);
}

int lrt_pcall_module_for_caller(lua_State *L, const char *name, int nargs, int nresults,
                                size_t bound)
{
    insert_module_fn(L, name, nargs);
    int st = lrt_json_pcall_bounded(L, bound, nargs, nresults);
    /* raised inside a C function called from C: it carries no position (a memory error
     * stays one: lua_error raises it as such only unchanged) */
    if (st == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return st;
}

/* The source name of the library's Lua methods (init.lua), or NULL when the module runs
 * without them. The string lives as long as the function that holds it, which the method
 * table keeps. */
static const char *lrt_lib_source(lua_State *L)
{
    const char *src = NULL;
    int top = lua_gettop(L);
    lua_Debug ar;

    lrt_push_module(L);
    if (lua_getfield(L, -1, "session_methods") == LUA_TTABLE
        && lua_getfield(L, -1, "receive") == LUA_TFUNCTION
        && lua_getinfo(L, ">S", &ar) && ar.what[0] == 'L')
        src = ar.source;
    lua_settop(L, top);
    return src;
}

int lrt_error_at_user(lua_State *L, const char *msg)
{
    const char *lib = lrt_lib_source(L);
    lua_Debug ar;

    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar))
            break;
        /* C functions (pcall, a tool dispatch) and the library's wrappers are skipped */
        if (ar.currentline <= 0 || (lib && strcmp(ar.source, lib) == 0))
            continue;
        lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
        return lua_error(L);
    }
    return luaL_error(L, "%s", msg);
}

/* What lrt_push_released runs in protected mode. */
struct lrt_released {
    int (*push)(lua_State *L, void *p);
    void *p;
};

static int lrt_released_push(lua_State *L)
{
    struct lrt_released *r = lua_touserdata(L, 1);
    lua_pop(L, 1);
    return r->push(L, r->p);
}

int lrt_push_released(lua_State *L, int (*push)(lua_State *L, void *p), void *p,
                      void (*release)(void *p))
{
    struct lrt_released r = { push, p };
    int top = lua_gettop(L), status;

    /* neither push below allocates: nothing can raise before release is sure to run */
    lua_pushcfunction(L, lrt_released_push);
    lua_pushlightuserdata(L, &r);
    status = lua_pcall(L, 1, LUA_MULTRET, 0);
    release(p);
    if (status != LUA_OK)
        lua_error(L);
    return lua_gettop(L) - top;
}

int lrt_pushfail(lua_State *L, const struct rt_error *err)
{
    /* Bad input and exhausted memory are not failures the caller handles with a code (the
     * documented codes say what the network, the server or the credentials did): they
     * raise, like every other misuse and like Lua's own memory errors. */
    if (err->code == RT_EINVAL || err->code == RT_ENOMEM)
        return luaL_error(L, "%s", err->msg[0] ? err->msg : rt_code_name(err->code));
    lua_pushnil(L);
    lua_pushstring(L, err->msg[0] ? err->msg : rt_code_name(err->code));
    lua_pushstring(L, rt_code_name(err->code));
    return 3;
}

const char *lrt_cstring(lua_State *L, int idx, const char *what, ...)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    va_list ap;

    if (!memchr(s, '\0', n))
        return s;
    va_start(ap, what);
    what = lua_pushvfstring(L, what, ap);
    va_end(ap);
    return luaL_error(L, "%s contains a NUL byte", what), NULL;
}

const char *lrt_field_string(lua_State *L, int t, const char *key)
{
    const char *s = NULL;
    int type = lua_getfield(L, t, key);
    if (type != LUA_TNIL) {
        if (type != LUA_TSTRING)
            luaL_error(L, "field '%s': expected a string, got %s", key, luaL_typename(L, -1));
        s = lrt_cstring(L, -1, "field '%s':", key);
    }
    lua_pop(L, 1);   /* the table still references the string */
    return s;
}

lua_Number lrt_field_number(lua_State *L, int t, const char *key, lua_Number dflt)
{
    lua_Number v = dflt;
    int type = lua_getfield(L, t, key);
    if (type != LUA_TNIL) {
        if (type != LUA_TNUMBER)
            luaL_error(L, "field '%s': expected a number, got %s", key, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int lrt_field_bool(lua_State *L, int t, const char *key)
{
    int b;
    lua_getfield(L, t, key);
    b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

void lrt_open_parts(lua_State *L)
{
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lrt_module_key);
    lrt_open_map(L);
    lrt_open_client(L);
    lrt_open_session(L);
    lrt_open_endpoint(L);
    lrt_open_auth(L);
    lrt_open_audio(L);
}
