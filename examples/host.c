/* host.c: a C program that embeds Lua and the realtime module, the way a game engine or
 * an audio application would.
 *
 *   make && build/examples/host [seconds]      (run from the repository root)
 *
 * Lua scripts open the session and read what comes back; a second thread, standing in
 * for the sound card's capture callback, pushes microphone audio straight into the core
 * with rt_session_append_audio(), which is thread-safe and never touches Lua. The
 * microphone here is fake: `seconds` (default 1) of a 220 Hz tone, in 20 ms blocks.
 *
 * Environment: as the Lua examples (GEMINI_API_KEY, REALTIME_BASE_URL, REALTIME_CA_FILE,
 * REALTIME_MODEL), plus REALTIME_LUA_DIR, the directory holding realtime/init.lua
 * (default "lua", the repository's). The module's C part is linked into this program,
 * so no core.so is loaded.
 *
 * Exit status 0 when the model answered with audio. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "realtime.h"
#include "realtime_lua.h"   /* luaopen_realtime_core: the binding, linked in */

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The Lua half: open a client and a push-to-talk session, then converse() reads the
 * answer. Globals keep the session alive while the audio thread holds its pointer. A
 * failure to connect (network, TLS, credentials, setup) is said in one line and the
 * chunk returns nil, for main to exit with status 1. */
static const char script[] =
    "local realtime = require 'realtime'\n"
    "local function env(name) local v = os.getenv(name); return v ~= '' and v or nil end\n"
    "local err, code\n"
    "client, err, code = realtime.gemini {\n"
    "  base_url = env 'REALTIME_BASE_URL', ca_file = env 'REALTIME_CA_FILE',\n"
    "  model = env 'REALTIME_MODEL' or 'gemini-2.5-flash-native-audio-preview-09-2025' }\n"
    "if client then session, err, code = client:connect {\n"
    "  vad = { enabled = false },   -- the audio thread says when the turn ends\n"
    "  transcription = { input = true, output = true } } end\n"
    "if not session then\n"
    "  io.stderr:write(('host: could not connect (%s): %s\\n'):format(code, err))\n"
    "  return nil\n"
    "end\n"
    "function converse()\n"
    "  local audio, words = 0, {}\n"
    "  for msg in session:messages(60) do\n"
    "    if msg.type == 'input_audio_transcription_completed' then print('heard: ' .. msg.text)\n"
    "    elseif msg.type == 'output_audio_transcription_delta' then words[#words + 1] = msg.text\n"
    "    elseif msg.type == 'output_audio_delta' then audio = audio + #msg.audio\n"
    "    elseif msg.type == 'response_done' then print('answer: ' .. table.concat(words)); break\n"
    "    elseif msg.type == 'error' or msg.type == 'closed' then\n"
    "      print(msg.type .. ': ' .. tostring(msg.code) .. ' ' .. (msg.message or msg.reason)); break\n"
    "    end\n"
    "  end\n"
    "  return audio\n"
    "end\n"
    "function finish() session:close(); client:close() end\n"
    "return session:_pointer()   -- the core session, for C\n";

/* ---- the audio thread ---------------------------------------------------------------- */

#define RATE 16000
#define BLOCK (RATE / 50)   /* 20 ms */

struct microphone {
    struct rt_session *session;
    double seconds;
    int failed;
};

static void *capture(void *arg)
{
    struct microphone *mic = arg;
    int16_t block[BLOCK];   /* the core takes 16-bit little-endian PCM: native on x86/ARM */
    long blocks = (long)(mic->seconds * 50), n = 0;
    struct timespec next;
    struct rt_error err = { 0 };

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long b = 0; b < blocks; b++) {
        for (int i = 0; i < BLOCK; i++, n++)
            block[i] = (int16_t)(8000 * sin(2 * M_PI * 220 * (double)n / RATE));
        /* Queues the block and returns at once; the I/O thread sends it. */
        if (rt_session_append_audio(mic->session, block, sizeof block, &err) != 0) {
            fprintf(stderr, "audio thread: %s (%s)\n", err.msg, rt_code_name(err.code));
            mic->failed = 1;
            return NULL;
        }
        /* wait for the next 20 ms of "capture" */
        next.tv_nsec += 20 * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    /* The talk key is released: end the turn, and the model answers. */
    if (rt_session_commit_audio(mic->session, &err) != 0) {
        fprintf(stderr, "audio thread: %s (%s)\n", err.msg, rt_code_name(err.code));
        mic->failed = 1;
    }
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------- */

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Calls the function below its nargs arguments, with a traceback on error; 0, or -1
 * with the error printed. */
static int call(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;

    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (status != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* The seconds of tone to send: argv[1], at least one 20 ms block and at most ten minutes
 * (less than a block sends nothing, and the program would wait for a reply in vain). */
static int parse_seconds(int argc, char **argv, double *seconds)
{
    char *end;

    *seconds = 1.0;
    if (argc < 2)
        return 0;
    *seconds = strtod(argv[1], &end);
    if (end == argv[1] || *end || !(*seconds >= 0.02 && *seconds <= 600)) {
        fprintf(stderr, "usage: host [seconds]: seconds of audio to send, from 0.02 to 600 "
                        "(got '%s')\n", argv[1]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *lua_dir = getenv("REALTIME_LUA_DIR");
    struct microphone mic = { 0 };
    pthread_t thread;
    lua_Integer audio = 0;
    int status = 1;

    if (parse_seconds(argc, argv, &mic.seconds) != 0)
        return 2;
    lua_State *L = luaL_newstate();
    if (!L)
        return 1;
    luaL_openlibs(L);

    /* require "realtime.core" finds the linked-in binding ... */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_realtime_core);
    lua_setfield(L, -2, "realtime.core");
    lua_pop(L, 1);
    /* ... and require "realtime" the Lua front in the repository. */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", lua_dir ? lua_dir : "lua", lua_dir ? lua_dir : "lua");
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);

    /* Open the session; the chunk returns the core session pointer. */
    if (luaL_loadbuffer(L, script, sizeof script - 1, "=host") != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    if (call(L, 0, 1) != 0) {
        lua_close(L);
        return 1;
    }
    mic.session = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!mic.session) {   /* could not connect: the script said why */
        lua_close(L);
        return 1;
    }

    if (pthread_create(&thread, NULL, capture, &mic) != 0) {
        fprintf(stderr, "cannot start the audio thread\n");
        lua_close(L);
        return 1;
    }

    /* Meanwhile the main thread waits in Lua for the answer. Only this thread uses L. */
    lua_getglobal(L, "converse");
    if (call(L, 0, 1) == 0) {
        audio = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }

    /* The pointer must not outlive the session: join the thread before closing it. */
    pthread_join(thread, NULL);
    lua_getglobal(L, "finish");
    call(L, 0, 0);
    lua_close(L);

    printf("%.1f s of audio sent from the audio thread, %.1f s of reply audio received\n",
           mic.seconds, (double)audio / 2 / 24000);
    if (audio > 0 && !mic.failed)
        status = 0;
    return status;
}
