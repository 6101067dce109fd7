/* The parts of the setup message (map_setup) built in files of their own, and the
 * helpers they share with lrt_map_setup.c, which calls them in the order of the wire
 * message: lrt_map_setup_tools.c (tools), lrt_map_setup_speech.c (voice activity
 * detection, transcription) and lrt_map_setup_raw.c (the raw merge, last). Internal to
 * these four files. */
#ifndef LRT_MAP_SETUP_H
#define LRT_MAP_SETUP_H

#include <lua.h>

/* Pushes opts[k] and returns its type. */
static inline int opt(lua_State *L, int opts, const char *k)
{
    return lua_getfield(L, opts, k);
}

/* Returns the table at t[k], creating it when absent. */
static inline int subtable(lua_State *L, int t, const char *k)
{
    if (lua_getfield(L, t, k) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, t, k);
    }
    return lua_gettop(L);
}

/* Each adds its part to the setup table at setup from the options at opts (state: the
 * mapping state, which they may set fields of), raising on what it cannot convert.
 * Called with setup on top of the stack; it is on top again when they return. */
void lrt_setup_tools(lua_State *L, int opts, int setup);
void lrt_setup_vad(lua_State *L, int state, int opts, int setup);
void lrt_setup_transcription(lua_State *L, int state, int opts, int setup);
void lrt_setup_speech_language(lua_State *L, int opts, int setup);
void lrt_setup_raw(lua_State *L, int opts, int setup);

/* The wire enum for the word at idx, of words = { word, wire, word, wire, ..., NULL };
 * raises "option 'what': expected ..." naming the words for another value. */
const char *lrt_setup_word(lua_State *L, int idx, const char *what, const char *const *words);

/* Copies the boolean src[k] to dst[wire]; false goes out too (the SDKs send it as given).
 * name: the option, for the error ("option 'name': expected a boolean"). */
void lrt_setup_copy_bool(lua_State *L, int src, const char *k, const char *name, int dst,
                         const char *wire);

#endif
