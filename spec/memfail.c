/* memfail: a test-only Lua module that makes the Lua state run out of memory on purpose,
 * to test what the binding leaves behind when a Lua API call raises a memory error.
 * spec/helper.lua builds it (helper.memfail) and loads it with package.loadlib.
 *
 *   memfail.pcall(n, f, ...)  pcall(f, ...) where the first n allocations succeed and
 *                             every later one fails, until f returns or raises; returns
 *                             what pcall returns
 *   memfail.refused()         how many allocations the last memfail.pcall refused (0: f
 *                             never reached the limit)
 *
 * The shortage starts and ends in C: a call made from Lua to end it could itself need
 * memory (a CallInfo, a larger stack) and fail outside any protected call. It puts its
 * allocator in front of the state's. Only growth can fail: Lua counts on a block that
 * shrinks or is freed never failing. One Lua state per process. */
#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

static struct {
    lua_Alloc f;     /* the state's own allocator, which does the work */
    void *ud;
    long left;       /* allocations still allowed; negative: no shortage */
    long refused;    /* allocations refused by the last memfail.pcall */
} memfail = { NULL, NULL, -1, 0 };

static void *memfail_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    /* with ptr NULL, osize is the kind of object, not a size */
    int grows = nsize > 0 && (ptr == NULL || nsize > osize);

    (void)ud;
    if (grows && memfail.left >= 0) {
        if (memfail.left == 0) {
            memfail.refused++;
            return NULL;
        }
        memfail.left--;
    }
    return memfail.f(memfail.ud, ptr, osize, nsize);
}

static int memfail_pcall(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    int status;

    luaL_argcheck(L, n >= 0, 1, "expected a count of allocations, 0 or more");
    luaL_checkany(L, 2);
    luaL_checkstack(L, 2, NULL);     /* room for the status, taken now */
    memfail.refused = 0;
    memfail.left = (long)n;
    status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
    memfail.left = -1;
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

static int memfail_refused(lua_State *L)
{
    lua_pushinteger(L, memfail.refused);
    return 1;
}

/* Gives the state its own allocator back. lua_close runs finalisers in the reverse order
 * of their marking, so this one runs before the one that unloads this library (package
 * marked its table of loaded libraries first), and Lua frees the rest with its own. */
static int memfail_restore(lua_State *L)
{
    lua_setallocf(L, memfail.f, memfail.ud);
    return 0;
}

int luaopen_memfail(lua_State *L);
int luaopen_memfail(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "pcall", memfail_pcall },
        { "refused", memfail_refused },
        { NULL, NULL },
    };

    if (memfail.f == NULL) {
        memfail.f = lua_getallocf(L, &memfail.ud);
        lua_setallocf(L, memfail_alloc, NULL);
        lua_newuserdatauv(L, 0, 0);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, memfail_restore);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, "memfail.restore");
    }
    luaL_newlib(L, funcs);
    return 1;
}
