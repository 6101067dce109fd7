/* The details of a transcript besides its text (part of map_server; called from
 * lrt_map_server_content.c): languageCode, speakerLabel and words, which the service
 * sends when the setup's AudioTranscriptionConfig asks for them (wordTimestamp,
 * diarization) -> language, speaker and words = { { word =, start =, stop = } } (seconds)
 * on the delta. A transcript's pieces are gathered for its _completed / _done message:
 * all their words in order, and the language and speaker of the last piece that had
 * one (a later piece knows more of the utterance). A detail that does not read is
 * reported as a protocol error and left out. */
#include <lauxlib.h>

#include "lrt_map.h"
#include "lrt_map_frame.h"

/* The gathered details of one side, state[key] = { words =, language =, speaker = },
 * made when a piece first has one: a plain transcript costs no table. */
static int gathered(lua_State *L, int state, const char *key)
{
    if (lua_getfield(L, state, key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 3);
        lua_pushvalue(L, -1);
        lua_setfield(L, state, key);
    }
    return lua_gettop(L);
}

/* Pushes tr[k] and returns 1 when it is a non-empty string; else pushes nothing and
 * returns 0, reporting a value that is not a string. */
static int detail_string(struct lrt_frame *f, int tr, const char *k, const char *path)
{
    lua_State *L = f->L;
    int t = lua_getfield(L, tr, k);
    if (t == LUA_TSTRING && lua_rawlen(L, -1) > 0)
        return 1;
    if (t != LUA_TSTRING && t != LUA_TNIL)
        lrt_msg_protocol_error(f, "%s.%s is %s, not a string: left out", path, k,
                               lrt_json_kind(L, -1));
    lua_pop(L, 1);
    return 0;
}

/* Sets msg[field] (msg 0: none) and the gathered details' field to the string on top
 * (popped). */
static void keep_string(struct lrt_frame *f, int m, const char *key, const char *field)
{
    lua_State *L = f->L;
    int v = lua_gettop(L);
    if (m) {
        lua_pushvalue(L, v);
        lua_setfield(L, m, field);
    }
    gathered(L, f->state, key);
    lua_pushvalue(L, v);
    lua_setfield(L, -2, field);
    lua_settop(L, v - 1);
}

/* Sets `field` of the word table on top to the Duration at w[k] in seconds; returns 0
 * (reported) when it is there but does not read. */
static int word_offset(struct lrt_frame *f, int w, const char *k, const char *field,
                       const char *path, lua_Integer i)
{
    lua_State *L = f->L;
    int word = lua_gettop(L);
    const char *where = lua_pushfstring(L, "%s.words[%d]", path, (int)i);
    double secs = lrt_map_duration(f, w, k, where);
    lua_settop(L, word);
    if (secs >= 0) {
        lua_pushnumber(L, secs);
        lua_setfield(L, word, field);
    }
    return secs != -2;
}

/* Pushes the word object at w as { word =, start =, stop = } and returns 1; one that
 * does not read is reported, and nothing is pushed (0). */
static int push_word(struct lrt_frame *f, int w, const char *path, lua_Integer i)
{
    lua_State *L = f->L;
    if (lua_type(L, w) != LUA_TTABLE || lua_rawlen(L, w) > 0) {
        lrt_msg_protocol_error(f, "%s.words[%d] is %s, not an object: left out", path, (int)i,
                               lrt_json_kind(L, w));
        return 0;
    }
    int t = lua_getfield(L, w, "word");
    if (t != LUA_TSTRING) {
        if (t == LUA_TNIL)
            lrt_msg_protocol_error(f, "%s.words[%d] has no word: left out", path, (int)i);
        else
            lrt_msg_protocol_error(f, "%s.words[%d].word is %s, not a string: left out", path,
                                   (int)i, lrt_json_kind(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    lua_createtable(L, 0, 3);
    lua_insert(L, -2);
    lua_setfield(L, -2, "word");
    if (!word_offset(f, w, "startOffset", "start", path, i) ||
        !word_offset(f, w, "endOffset", "stop", path, i)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Pushes the list of the words at tr.words and returns 1, or pushes nothing and
 * returns 0 when there are none; entries that do not read are reported and left out. */
static int push_words(struct lrt_frame *f, int tr, const char *path)
{
    lua_State *L = f->L;
    int t = lua_getfield(L, tr, "words");
    int src = lua_gettop(L);
    lua_Integer n = t == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, src) : 0;
    if (t != LUA_TNIL && (t != LUA_TTABLE || (n == 0 && (lua_pushnil(L), lua_next(L, src))))) {
        lua_settop(L, src);
        lrt_msg_protocol_error(f, "%s.words is %s, not an array: left out", path,
                               lrt_json_kind(L, src));
    }
    if (n == 0) {
        lua_settop(L, src - 1);
        return 0;
    }
    lua_createtable(L, (int)n, 0);
    int out = lua_gettop(L);
    lua_Integer k = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, src, i);
        if (push_word(f, lua_gettop(L), path, i))
            lua_rawseti(L, out, ++k);
        lua_settop(L, out);
    }
    lua_remove(L, src);
    if (k > 0)
        return 1;
    lua_pop(L, 1);
    return 0;
}

/* Pushes a copy of the word table at w ({ word =, start =, stop = }). */
static void copy_word(lua_State *L, int w)
{
    static const char *const fields[] = { "word", "start", "stop" };
    lua_createtable(L, 0, 3);
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, w, fields[i]);
        lua_setfield(L, -2, fields[i]);
    }
}

/* Appends the words in the list on top to the gathered words (pops the list); copies of
 * them when a delta hands the list out, so that each message owns its word tables and a
 * caller's change to a delta's words never reaches the completed transcript. */
static void gather_words(lua_State *L, int state, const char *key, int copy)
{
    int src = lua_gettop(L);
    luaL_checkstack(L, 6, "gathering transcript words");
    int g = gathered(L, state, key);
    if (lua_getfield(L, g, "words") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, g, "words");
    }
    int dst = lua_gettop(L);
    lua_Integer base = (lua_Integer)lua_rawlen(L, dst);
    lua_Integer n = (lua_Integer)lua_rawlen(L, src);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, src, i);
        if (copy) {
            copy_word(L, lua_gettop(L));
            lua_remove(L, -2);
        }
        lua_rawseti(L, dst, base + i);
    }
    lua_settop(L, src - 1);
}

void lrt_map_transcript_details(struct lrt_frame *f, int tr, const char *path, int m,
                                const char *key)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    if (detail_string(f, tr, "languageCode", path))
        keep_string(f, m, key, "language");
    if (detail_string(f, tr, "speakerLabel", path))
        keep_string(f, m, key, "speaker");
    if (push_words(f, tr, path)) {
        if (m) {
            lua_pushvalue(L, -1);
            lua_setfield(L, m, "words");
        }
        gather_words(L, f->state, key, m != 0);
    }
    lua_settop(L, top);
}

void lrt_map_transcript_complete(struct lrt_frame *f, const char *key, int m)
{
    static const char *const fields[] = { "language", "speaker", "words" };
    lua_State *L = f->L;
    if (lua_getfield(L, f->state, key) == LUA_TTABLE) {
        for (int i = 0; i < 3; i++) {
            lua_getfield(L, -1, fields[i]);
            lua_setfield(L, m, fields[i]);
        }
        lua_pushnil(L);
        lua_setfield(L, f->state, key);
    }
    lua_pop(L, 1);
}
