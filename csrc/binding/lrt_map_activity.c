/* The server's voice-activity edges (part of map_server, see lrt_map_server.c):
 * voiceActivity (its detector heard the user start or stop speaking) and
 * voiceActivityDetectionSignal (the same edges on Vertex, when the setup asks for them
 * with explicitVadSignal) -> input_audio_buffer_speech_started / _stopped. A barge-in UI
 * reacts to these before any transcript or interruption comes. */
#include <string.h>

#include "lrt_map.h"
#include "lrt_map_frame.h"

/* Whether the n bytes at s are the name k: whole, so that a NUL in the server's value
 * does not end it early ("ACTIVITY_START\u0000..." is another kind). */
static int names(const char *s, size_t n, const char *k)
{
    return n == strlen(k) && memcmp(s, k, n) == 0;
}

/* Which edge the string on top names: 1 start, 0 stop, -1 neither (popped). */
static int edge_of(lua_State *L, const char *start, const char *stop)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    int edge = !s ? -1 : names(s, n, start) ? 1 : names(s, n, stop) ? 0 : -1;
    lua_pop(L, 1);
    return edge;
}

/* Pushes the message for an edge, with source and the audio offset when there is one. */
static void push_edge(struct lrt_frame *f, int edge, const char *source, double offset)
{
    lua_State *L = f->L;
    int m = lrt_msg_new(f, edge ? "input_audio_buffer_speech_started"
                                : "input_audio_buffer_speech_stopped");
    lua_pushnil(L);
    lua_setfield(L, m, "response_id");   /* the user's input, no response's */
    lua_pushstring(L, source);
    lua_setfield(L, m, "source");
    if (offset >= 0) {
        lua_pushnumber(L, offset);
        lua_setfield(L, m, "audio_offset");
    }
    lrt_msg_push(f);
}

void lrt_map_voice_activity(struct lrt_frame *f, int va)
{
    lua_State *L = f->L;
    /* The Gemini API's wire key is `type`; Google's SDK types call it voiceActivityType. */
    int t = lua_getfield(L, va, "type");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        t = lua_getfield(L, va, "voiceActivityType");
    }
    int edge = t == LUA_TSTRING ? edge_of(L, "ACTIVITY_START", "ACTIVITY_END") : -1;
    if (t != LUA_TSTRING)
        lua_pop(L, 1);
    if (edge < 0)
        return;   /* TYPE_UNSPECIFIED, a later kind: the frame comes out as raw */
    push_edge(f, edge, "voice_activity",
              lrt_map_duration(f, va, "audioOffset", "voiceActivity"));
}

void lrt_map_vad_signal(struct lrt_frame *f, int vs)
{
    lua_State *L = f->L;
    int edge = -1;
    if (lua_getfield(L, vs, "vadSignalType") == LUA_TSTRING)
        edge = edge_of(L, "VAD_SIGNAL_TYPE_SOS", "VAD_SIGNAL_TYPE_EOS");
    else
        lua_pop(L, 1);
    if (edge >= 0)
        push_edge(f, edge, "vad_signal", -1);
}
