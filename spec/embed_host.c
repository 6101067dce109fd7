/* embed_host.c: a host that embeds Lua as a game engine does, for spec/embed_spec.lua.
 *
 *   embed_host close     one state opens sessions in every state a game leaves them in
 *                        (streaming, a tool handler waiting, a receive waiting in a
 *                        coroutine, a connect under way), then lua_close
 *   embed_host threads   two states on two threads at once, each with its own client,
 *                        one collecting garbage at every message, the other with its
 *                        collector stopped (lua_gc LUA_GCSTOP, as hosts that collect
 *                        between frames do); one closes while the other still streams
 *   embed_host order     opens realtime.core before the standard libraries (a host's
 *                        mistake of order), then opens them and uses the module
 *
 * The module comes from librealtime-lua (package.preload), the Lua files from lua/.
 * Prints what happened and how many threads the process has once every state is closed
 * (1: no I/O thread left running). The environment gives the simulator, as for the
 * examples: REALTIME_BASE_URL, REALTIME_CA_FILE, GEMINI_API_KEY. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "realtime_lua.h"

/* The threads of this process, from /proc; -1 when it cannot be read. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The standard libraries, the binding as "realtime.core" and the Lua files' path. */
static void open_all(lua_State *L)
{
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_realtime_core);
    lua_setfield(L, -2, "realtime.core");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushliteral(L, "lua/?.lua;lua/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();

    if (L)
        open_all(L);
    return L;
}

/* Runs a chunk; 0, or -1 with its error printed. */
static int run(lua_State *L, const char *name, const char *code)
{
    if (luaL_loadbuffer(L, code, strlen(code), name) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
        printf("%s: %s\n", name, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static const char client_code[] =
    "realtime = require 'realtime'\n"
    "client = assert(realtime.gemini { base_url = os.getenv 'REALTIME_BASE_URL',\n"
    "  ca_file = os.getenv 'REALTIME_CA_FILE', model = 'gemini-2.5-flash-native-audio-preview-09-2025' })\n"
    "weather = { { name = 'get_weather', parameters = { type = 'object',\n"
    "  properties = { city = { type = 'string' } } },\n"
    "  handler = function() waiting = true; coroutine.yield(); return { ok = true } end } }\n";

/* Every session left as a game leaves it when the level ends. */
static const char open_code[] =
    "streaming = assert(client:connect { })\n"
    "assert(streaming:send_text 'Tell me a long story about ships')\n"
    "for m in streaming:messages(10) do if m.type == 'output_audio_delta' then break end end\n"
    "in_tool = assert(client:connect { output_modalities = { 'text' }, tools = weather })\n"
    "assert(in_tool:send_text 'What is the weather in Paris?')\n"
    "tool_co = coroutine.create(function() while true do in_tool:receive(10) end end)\n"
    "local deadline = realtime.now() + 10\n"
    "repeat assert(coroutine.resume(tool_co)); realtime.sleep(0.01) until waiting or realtime.now() > deadline\n"
    "assert(waiting, 'the tool handler did not start')\n"
    "waiting_in_co = assert(client:connect { output_modalities = { 'text' } })\n"
    "recv_co = coroutine.create(function() while true do waiting_in_co:receive(60) end end)\n"
    "assert(coroutine.resume(recv_co))\n"
    "assert(coroutine.status(recv_co) == 'suspended')\n"
    "other = assert(realtime.gemini { base_url = os.getenv 'REALTIME_BASE_URL',\n"
    "  ca_file = os.getenv 'REALTIME_CA_FILE', model = 'gemini-2.5-flash-native-audio-preview-09-2025' })\n"
    "connect_co = coroutine.create(function() return other:connect { } end)\n"
    "assert(coroutine.resume(connect_co))\n"
    "print 'open'\n";

static int close_open(void)
{
    lua_State *L = new_state();
    int ok;

    if (!L)
        return 1;
    ok = run(L, "=client", client_code) == 0 && run(L, "=open", open_code) == 0;
    lua_close(L);
    printf("closed; threads after: %d\n", thread_count());
    return !ok;
}

/* ---- two states on two threads ------------------------------------------------------ */

struct worker {
    int turns;
    int gc_stopped;   /* LUA_GCSTOP; else a full collection at every message */
    int ok;
};

static void *stream(void *arg)
{
    struct worker *w = arg;
    lua_State *L = new_state();
    char code[512];

    if (!L)
        return NULL;
    if (w->gc_stopped)
        lua_gc(L, LUA_GCSTOP);
    snprintf(code, sizeof code,
             "local s = assert(client:connect { output_modalities = { 'text' } })\n"
             "for i = 1, %d do\n"
             "  assert(s:send_text('turn ' .. i))\n"
             "  local done\n"
             "  for m in s:messages(10) do %s if m.type == 'response_done' then done = true; break end end\n"
             "  assert(done, 'no answer to turn ' .. i)\n"
             "end\n",
             w->turns, w->gc_stopped ? "" : "collectgarbage();");
    w->ok = run(L, "=client", client_code) == 0 && run(L, "=stream", code) == 0;
    lua_close(L);   /* the short worker closes while the other streams */
    return NULL;
}

static int two_threads(void)
{
    struct worker w[2] = { { 2, 0, 0 }, { 20, 1, 0 } };
    pthread_t t[2];
    int started = 0;

    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, stream, &w[i]) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    printf("state 1: %s, state 2: %s; threads after: %d\n", w[0].ok ? "ok" : "failed",
           w[1].ok ? "ok" : "failed", thread_count());
    return !(started == 2 && w[0].ok && w[1].ok);
}

/* ---- the binding opened before the standard libraries ------------------------------ */

static const char turn_code[] =
    "local s = assert(client:connect { output_modalities = { 'text' } })\n"
    "assert(s:send_text 'hello there')\n"
    "for m in s:messages(10) do\n"
    "  if m.type == 'output_text_delta' then io.write(m.text) end\n"
    "  if m.type == 'response_done' then print(); break end\n"
    "end\n"
    "client:close()\n";

static int open_order(void)
{
    lua_State *L = luaL_newstate();
    int ok;

    if (!L)
        return 1;
    lua_pushcfunction(L, luaopen_realtime_core);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK)
        printf("before the standard libraries: %s\n", lua_tostring(L, -1));
    else
        printf("before the standard libraries: opened\n");
    lua_settop(L, 0);
    open_all(L);
    ok = run(L, "=client", client_code) == 0 && run(L, "=turn", turn_code) == 0;
    lua_close(L);
    return !ok;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "close") == 0)
        return close_open();
    if (argc == 2 && strcmp(argv[1], "threads") == 0)
        return two_threads();
    if (argc == 2 && strcmp(argv[1], "order") == 0)
        return open_order();
    fprintf(stderr, "usage: embed_host close|threads|order\n");
    return 2;
}
