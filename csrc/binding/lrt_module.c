/* realtime.core: the Lua module's entry point.
 *
 * Builds the module table and asks each binding file to add its functions and
 * metatables. The Lua front (lua/realtime/init.lua) wraps this table. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>

#include "lrt_private.h"
#include "lrt_receive.h"
#include "realtime_lua.h"   /* the declaration hosts use matches the definition */
#include "rt_alloc.h"
#include "rt_clock.h"
#include "rt_curl.h"
#include "rt_file.h"
#include "rt_version.h"

/* realtime.core.versions() -> { realtime, lua, libwebsockets, openssl, libcurl } */
static int lrt_versions(lua_State *L)
{
    /* libcurl is loaded on first use (rt_curl.h); asking for its version loads it */
    struct rt_error err;
    const curl_version_info_data *cv = NULL;

    rt_error_clear(&err);
    if (rt_curl_load(&err) == 0)
        cv = rt_curl.version_info(CURLVERSION_NOW);

    lua_createtable(L, 0, 5);
    lua_pushstring(L, RT_VERSION);
    lua_setfield(L, -2, "realtime");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua");
    lua_pushstring(L, lws_get_library_version());
    lua_setfield(L, -2, "libwebsockets");
    lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
    lua_setfield(L, -2, "openssl");
    if (cv && cv->version)
        lua_pushstring(L, cv->version);
    else
        lua_pushfstring(L, "unavailable: %s", err.msg);
    lua_setfield(L, -2, "libcurl");
    return 1;
}

/* realtime.core.now() -> seconds on a monotonic clock (for deadlines) */
static int lrt_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)rt_clock_now());
    return 1;
}

/* realtime.core.time() -> seconds since the Unix epoch on the system's clock, with its
 * fraction (os.time's are whole: an ephemeral token's expiry counted from it was up to
 * a second early) */
static int lrt_time(lua_State *L)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return luaL_error(L, "realtime.core.time: the system clock cannot be read (errno %d)", errno);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* realtime.core.sleep(seconds): blocks the calling thread; math.huge for good (idle), NaN
 * raises. Sleeps a day at a time, so no value ever overflows time_t. A signal handler
 * that runs ends the sleep early (the Lua callers loop to their deadline): back in Lua,
 * the interpreter's Ctrl-C hook can run. */
static int lrt_sleep(lua_State *L)
{
    double t = luaL_checknumber(L, 1);
    struct timespec ts;

    luaL_argcheck(L, !isnan(t), 1, "seconds is NaN");
    while (t > 0) {
        double step = t > 86400 ? 86400 : t;
        ts.tv_sec = (time_t)step;
        ts.tv_nsec = (long)((step - (double)ts.tv_sec) * 1e9);
        if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
            break;
        if (!isinf(t))
            t -= step;
    }
    return 0;
}

/* nil, message: a file that cannot be read is the caller's to word */
static int file_fail(lua_State *L, const struct rt_error *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    return 2;
}

/* realtime.core._read_file(path, what, max, wait) -> text | nil, message: at most max
 * bytes of a file, a pipe or a device, waiting at most `wait` seconds for a pipe
 * (rt_file_read). The credential files go through it: a FIFO or /dev/zero named by
 * GOOGLE_APPLICATION_CREDENTIALS neither hangs nor fills memory; `<(command)` works. */
/* What lrt_read_file reads into: C memory, so that it is wiped once copied (a Lua
 * buffer would go back to the collector as it is). */
struct lrt_file_text {
    char *buf;
    size_t cap, len;
};

static int lrt_file_text_push(lua_State *L, void *p)
{
    const struct lrt_file_text *t = p;
    lua_pushlstring(L, t->buf, t->len);
    return 1;
}

static void lrt_file_text_release(void *p)
{
    struct lrt_file_text *t = p;
    explicit_bzero(t->buf, t->cap);
    rt_free(t->buf);
}

static int lrt_read_file(lua_State *L)
{
    const char *path = lrt_cstring(L, 1, "_read_file: the path");
    const char *what = luaL_checkstring(L, 2);   /* only words of a message */
    lua_Integer max = luaL_checkinteger(L, 3);
    double wait = luaL_checknumber(L, 4);
    struct lrt_file_text t = { NULL, 0, 0 };
    struct rt_error err;

    luaL_argcheck(L, max >= 0 && max <= 64 * 1024 * 1024, 3, "max must be 0..64 MiB");
    luaL_argcheck(L, wait >= 0 && wait <= 3600, 4, "wait must be 0..3600 seconds");
    /* the credential files go through here: the copy is wiped however this ends */
    t.cap = (size_t)max + 1;
    if (!(t.buf = rt_malloc(t.cap)))
        return luaL_error(L, "not enough memory");
    rt_error_clear(&err);
    if (rt_file_read(path, what, (size_t)max, wait, t.buf, &t.len, &err) != 0) {
        lrt_file_text_release(&t);
        return file_fail(L, &err);
    }
    return lrt_push_released(L, lrt_file_text_push, &t, lrt_file_text_release);
}

/* realtime.core._shown_path(path) -> the path as messages show it (rt_file_shown):
 * control and non-ASCII bytes, quotes and backslashes as \xNN, cut with "..." */
static int lrt_shown_path(lua_State *L)
{
    char out[RT_FILE_SHOWN_MAX];

    lua_pushstring(L, rt_file_shown(out, luaL_checkstring(L, 1)));
    return 1;
}

/* realtime.core._file_exists(path) -> whether anything (a file, a FIFO, ...) is there */
static int lrt_file_exists(lua_State *L)
{
    lua_pushboolean(L, rt_file_exists(lrt_cstring(L, 1, "_file_exists: the path")));
    return 1;
}

/* The interface number, from CORE_ABI in lua/realtime/init.lua (the Makefile passes it). */
#ifndef LRT_ABI
#error "LRT_ABI is not defined: build with the Makefile, which reads it from lua/realtime/init.lua"
#endif

static const luaL_Reg lrt_module_funcs[] = {
    { "versions", lrt_versions },
    { "now", lrt_now },
    { "time", lrt_time },
    { "sleep", lrt_sleep },
    { "_read_file", lrt_read_file },
    { "_shown_path", lrt_shown_path },
    { "_file_exists", lrt_file_exists },
    { NULL, NULL },
};

int luaopen_realtime_core(lua_State *L)
{
    luaL_checkversion(L);
    luaL_newlib(L, lrt_module_funcs);
    lua_pushstring(L, RT_VERSION);
    lua_setfield(L, -2, "_VERSION");
    /* checked by lua/realtime/init.lua, so Lua files and a C module of different builds
     * refuse to run together */
    lua_pushinteger(L, LRT_ABI);
    lua_setfield(L, -2, "_ABI");
    lrt_open_parts(L);
    lrt_open_dispatch(L);
    return 1;
}
