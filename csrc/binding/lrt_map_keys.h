/* Names the mapping reads or writes on every server frame, interned once per Lua state
 * and fetched by number. lua_getfield and lua_setfield intern their C-string name on each
 * call (a probe of Lua's string cache, and on a miss a hash and a table lookup): about
 * 280 instructions, against a fifth of that for a raw access with the string at hand.
 * Only for tables without metatables (decoded JSON, the mapping state, messages). */
#ifndef LRT_MAP_KEYS_H
#define LRT_MAP_KEYS_H

#include <lua.h>

#define LRT_MAP_KEYS(X)                                                                   \
    X(TYPE, "type") X(RAW, "raw") X(RESPONSE_ID, "response_id") X(AUDIO, "audio")         \
    X(RATE, "rate") X(RESPONSE_AUDIO, "response_audio") X(TRANSCRIPTION, "transcription") \
    X(MODEL_TURN, "modelTurn") X(PARTS, "parts") X(TEXT, "text") X(THOUGHT, "thought")    \
    X(INLINE_DATA, "inlineData") X(MIME_TYPE, "mimeType") X(DATA, "data")                 \
    X(EXECUTABLE_CODE, "executableCode") X(CODE_EXECUTION_RESULT, "codeExecutionResult")  \
    X(OUTPUT_AUDIO_DELTA, "output_audio_delta")

enum lrt_key {
    LRT_K_NONE,
#define LRT_KEY_ENUM(id, name) LRT_K_##id,
    LRT_MAP_KEYS(LRT_KEY_ENUM)
#undef LRT_KEY_ENUM
    LRT_K_COUNT
};

/* Pushes the table of interned names (made on first use, kept in the registry). */
void lrt_keys_push(lua_State *L);

/* Pushes the name k; keys is the absolute index of the table lrt_keys_push pushed. */
static inline void lrt_pushk(lua_State *L, int keys, enum lrt_key k)
{
    lua_rawgeti(L, keys, (lua_Integer)k);
}

/* Pushes t[k] (raw) and returns its type; t is an absolute index. */
static inline int lrt_getk(lua_State *L, int t, int keys, enum lrt_key k)
{
    lua_rawgeti(L, keys, (lua_Integer)k);
    return lua_rawget(L, t);
}

/* t[k] = the value on top, which is popped (raw); t is an absolute index. */
static inline void lrt_setk(lua_State *L, int t, int keys, enum lrt_key k)
{
    lua_rawgeti(L, keys, (lua_Integer)k);
    lua_insert(L, -2);
    lua_rawset(L, t);
}

#endif
