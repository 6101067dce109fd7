/* Session options -> the wire `setup` message (map_setup).
 *
 * The options arrive as client:connect{} takes them (API.md), already checked by the
 * Lua front for unknown keys and types; these files raise only for what they cannot
 * convert. Google's JS SDK is the reference for the shape (spec/golden/). The tools
 * are in lrt_map_setup_tools.c, voice activity detection and transcription in
 * lrt_map_setup_speech.c, the raw merge in lrt_map_setup_raw.c; this file has the rest
 * and the entry point. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_setup.h"
#include "rt_model.h"

/* Copies a numeric option to dst[wire]; integral floats go out as integers. */
static void copy_number(lua_State *L, int opts, const char *k, int dst, const char *wire)
{
    if (opt(L, opts, k) == LUA_TNUMBER) {
        lua_Integer iv;
        if (!lua_isinteger(L, -1) && lua_numbertointeger(lua_tonumber(L, -1), &iv) &&
            (lua_Number)iv == lua_tonumber(L, -1)) {
            lua_pop(L, 1);
            lua_pushinteger(L, iv);
        }
        lua_setfield(L, dst, wire);
        return;
    }
    if (!lua_isnil(L, -1))
        luaL_error(L, "option '%s': expected a number", k);
    lua_pop(L, 1);
}

static void set_model(lua_State *L, int state, int opts, int setup)
{
    if (opt(L, opts, "model") != LUA_TSTRING)
        luaL_error(L, "option 'model': a model name is required");

    /* core.model_name semantics, on the state's context */
    char out[RT_MODEL_OUT_MAX];
    struct rt_model_ctx c;
    size_t n;
    const char *model = lua_tolstring(L, -1, &n);

    c.vertex = lrt_map_vertex(L, state);
    c.express = lrt_get_bool(L, state, "express");
    lua_getfield(L, state, "project");
    lua_getfield(L, state, "location");
    c.project = lua_tostring(L, -2);
    c.location = lua_tostring(L, -1);
    const char *why = lrt_map_model_name(&c, model, n, out, sizeof out);
    if (why)
        luaL_error(L, "option 'model': %s", why);
    lua_pop(L, 3);
    lrt_set_str(L, setup, "model", out);
}

static void set_generation(lua_State *L, int state, int opts, int setup)
{
    int gen = subtable(L, setup, "generationConfig");
    int t = opt(L, opts, "output_modalities");
    int mods = 0;

    if (lrt_get_bool(L, state, "transcription")) {
        /* A transcription session only reads text: the model's answers are not wanted. */
        lrt_json_newarray(L, 1);
        lua_pushliteral(L, "TEXT");
        lua_rawseti(L, -2, 1);
        lua_setfield(L, gen, "responseModalities");
        mods = 1;
    } else if (t == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        int src = lua_gettop(L);
        lrt_json_newarray(L, (int)n);
        for (lua_Integer i = 1; i <= n; i++) {
            const char *m = lua_rawgeti(L, src, i) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            const char *w = strcasecmp(m, "audio") == 0   ? "AUDIO"
                            : strcasecmp(m, "text") == 0  ? "TEXT"
                            : strcasecmp(m, "image") == 0 ? "IMAGE"
                                                          : NULL;
            /* The seeds turned any unknown word into "TEXT"; a typo must not silently
             * change what the model answers with. */
            if (!w)
                luaL_error(L, "option 'output_modalities': unknown modality '%s'", m);
            lua_pop(L, 1);
            lua_pushstring(L, w);
            lua_rawseti(L, -2, i);
        }
        lua_setfield(L, gen, "responseModalities");
        mods = 1;
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'output_modalities': expected a list");
    }
    lua_pop(L, 1);
    if (!mods && lrt_map_vertex(L, state)) {
        /* Like the JS SDK: Vertex gets ["AUDIO"] when nothing is asked, to match the
         * Gemini API's server-side default. */
        lrt_json_newarray(L, 1);
        lua_pushliteral(L, "AUDIO");
        lua_rawseti(L, -2, 1);
        lua_setfield(L, gen, "responseModalities");
    }

    if (opt(L, opts, "voice") == LUA_TSTRING) {
        int sc = subtable(L, gen, "speechConfig");
        int vc = subtable(L, sc, "voiceConfig");
        int pv = subtable(L, vc, "prebuiltVoiceConfig");
        lua_pushvalue(L, -4);
        lua_setfield(L, pv, "voiceName");
        lua_pop(L, 3);
    }
    lua_pop(L, 1);

    copy_number(L, opts, "max_output_tokens", gen, "maxOutputTokens");
    copy_number(L, opts, "temperature", gen, "temperature");
    copy_number(L, opts, "top_p", gen, "topP");
    copy_number(L, opts, "top_k", gen, "topK");
    copy_number(L, opts, "seed", gen, "seed");

    /* No empty generationConfig on the wire. */
    lua_pushnil(L);
    if (!lua_next(L, gen)) {
        lua_pushnil(L);
        lua_setfield(L, setup, "generationConfig");
    } else {
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

const char *lrt_setup_word(lua_State *L, int idx, const char *what, const char *const *words)
{
    const char *s = lrt_map_enum(L, idx, "option '%s':", what);
    for (int i = 0; s && words[i]; i += 2)
        if (strcmp(s, words[i]) == 0)
            return words[i + 1];
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; words[i]; i += 2) {
        if (i > 0)
            luaL_addstring(&b, words[i + 2] ? ", " : " or ");
        lua_pushfstring(L, "\"%s\"", words[i]);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return luaL_error(L, "option '%s': expected %s", what, lua_tostring(L, -1)), NULL;
}

void lrt_setup_copy_bool(lua_State *L, int src, const char *k, const char *name, int dst,
                         const char *wire)
{
    int t = opt(L, src, k);
    if (t == LUA_TBOOLEAN)
        lrt_set_bool(L, dst, wire, lua_toboolean(L, -1));
    else if (t != LUA_TNIL)
        luaL_error(L, "option '%s': expected a boolean", name);
    lua_pop(L, 1);
}

/* thinking = { budget, level, include_thoughts } -> generationConfig.thinkingConfig */
static void set_thinking(lua_State *L, int opts, int gen)
{
    static const char *const levels[] = { "minimal", "MINIMAL", "low", "LOW", "medium", "MEDIUM",
                                          "high", "HIGH", NULL };
    int t = opt(L, opts, "thinking");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "option 'thinking': expected a table");
    int th = lua_gettop(L);
    lua_newtable(L);
    int tc = lua_gettop(L);
    if (lua_getfield(L, th, "budget") != LUA_TNIL) {
        int ok = 0;
        lua_Integer b = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
        if (!ok || b < -1 || b > INT32_MAX)
            luaL_error(L, "option 'thinking.budget': expected an integer between -1 and %d", INT32_MAX);
        lrt_set_int(L, tc, "thinkingBudget", b);
    }
    if (lua_getfield(L, th, "level") != LUA_TNIL)
        lrt_set_str(L, tc, "thinkingLevel", lrt_setup_word(L, -1, "thinking.level", levels));
    lua_settop(L, tc);
    lrt_setup_copy_bool(L, th, "include_thoughts", "thinking.include_thoughts", tc,
                        "includeThoughts");
    lua_setfield(L, gen, "thinkingConfig");
    lua_pop(L, 1);
}

/* The generationConfig fields and setup.proactivity that shape how the model answers,
 * beside those of set_generation. Adds generationConfig only when one is given. */
static void set_answer_style(lua_State *L, int opts, int setup)
{
    static const char *const resolutions[] = { "low", "MEDIA_RESOLUTION_LOW", "medium",
                                               "MEDIA_RESOLUTION_MEDIUM", "high",
                                               "MEDIA_RESOLUTION_HIGH", NULL };
    lua_newtable(L);
    int gen = lua_gettop(L);
    set_thinking(L, opts, gen);
    lrt_setup_copy_bool(L, opts, "affective_dialog", "affective_dialog", gen,
                        "enableAffectiveDialog");
    if (opt(L, opts, "media_resolution") != LUA_TNIL)
        lrt_set_str(L, gen, "mediaResolution",
                    lrt_setup_word(L, -1, "media_resolution", resolutions));
    lua_pop(L, 1);
    lua_pushnil(L);
    if (lua_next(L, gen)) {
        lua_pop(L, 2);
        int dst = subtable(L, setup, "generationConfig");
        lua_pushnil(L);
        while (lua_next(L, gen)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, dst);
        }
    }
    lua_settop(L, gen - 1);

    int t = opt(L, opts, "proactive_audio");
    if (t == LUA_TBOOLEAN) {
        lua_createtable(L, 0, 1);
        lrt_set_bool(L, -1, "proactiveAudio", lua_toboolean(L, -2));
        lua_setfield(L, setup, "proactivity");
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'proactive_audio': expected a boolean");
    }
    lua_pop(L, 1);
}

static void set_instructions(lua_State *L, int opts, int setup)
{
    if (opt(L, opts, "instructions") == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
        /* role "user" as both SDKs send it (seed B's "system" is not what they do). */
        lua_createtable(L, 0, 2);
        lrt_json_newarray(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, -4);
        lua_setfield(L, -2, "text");
        lua_rawseti(L, -2, 1);
        lua_setfield(L, -2, "parts");
        lrt_set_str(L, -1, "role", "user");
        lua_setfield(L, setup, "systemInstruction");
    }
    lua_pop(L, 1);
}

/* resumption = true | false | { handle = "..." }: the table form starts from a saved
 * handle (kept in the state as the latest known one). */
static void set_resumption(lua_State *L, int state, int opts, int setup)
{
    int t = opt(L, opts, "resumption");
    int on = t == LUA_TNIL || t == LUA_TTABLE || lua_toboolean(L, -1);
    int h = 0;
    if (t == LUA_TTABLE) {
        int ht = lua_getfield(L, -1, "handle");
        if (ht != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            luaL_error(L, "option 'resumption.handle': expected a non-empty string");
        h = lua_gettop(L);
        lua_pushvalue(L, h);
        lua_setfield(L, state, "resumption_handle");
    } else if (t != LUA_TNIL && t != LUA_TBOOLEAN) {
        luaL_error(L, "option 'resumption': expected a boolean or { handle = ... }");
    }
    if (on) {
        lua_newtable(L);
        if (h) {
            lua_pushvalue(L, h);
            lua_setfield(L, -2, "handle");
        }
        /* transparent: the server reports the last consumed client message, so the
         * session can replay what was lost on a reconnect. Vertex only. */
        if (lrt_map_vertex(L, state))
            lrt_set_bool(L, -1, "transparent", 1);
        lua_setfield(L, setup, "sessionResumption");
    }
    lua_settop(L, setup);
}

/* The session's max_queue_bytes (opts.max_queue_bytes, checked by the Lua front). */
static size_t max_queue(lua_State *L, int opts)
{
    lua_Integer n = opt(L, opts, "max_queue_bytes") == LUA_TNUMBER ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    return n > 0 ? (size_t)n : LRT_DEFAULT_QUEUE_BYTES;
}

/* history given: its clientContent message goes to state.history_message (the binding
 * sends it right after setupComplete), and on the Gemini API the setup says that the
 * first clientContent is the initial history (no model call); Vertex does not take
 * historyConfig. A history with no content sends neither: the service would wait for
 * it. One whose text would pass max_queue_bytes could never be queued: the encode
 * stops there and state.history_overrun says why (connect returns it as "busy", as the
 * core's refusal of a history too large would be). Runs after set_input_format (audio
 * parts default to the session's mime type). */
static void set_history(lua_State *L, int state, int opts, int setup)
{
    int t = opt(L, opts, "history");
    lua_pushnil(L);
    lua_setfield(L, state, "history_message");
    lua_pushnil(L);
    lua_setfield(L, state, "history_overrun");
    if (t == LUA_TTABLE) {
        size_t bound = max_queue(L, opts);
        lua_pushcfunction(L, lrt_map_history);
        lua_pushvalue(L, state);
        lua_pushvalue(L, -3);
        int st = lrt_json_pcall_bounded(L, bound, 2, 1);
        if (st == LRT_JSON_OVERRUN) {
            lua_setfield(L, state, "history_overrun");
            lua_settop(L, setup);
            return;
        }
        if (st != LUA_OK)
            lua_error(L);
        if (!lua_isnil(L, -1)) {
            lua_setfield(L, state, "history_message");
            if (!lrt_map_vertex(L, state)) {
                lua_createtable(L, 0, 1);
                lrt_set_bool(L, -1, "initialHistoryInClientContent", 1);
                lua_setfield(L, setup, "historyConfig");
            }
        }
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'history': expected a list of items");
    }
    lua_settop(L, setup);
}

/* int64 fields are JSON strings (proto3). */
static void set_int64(lua_State *L, int src, const char *k, int dst, const char *wire)
{
    int t = lua_getfield(L, src, k);
    if (t == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, -1);
        lua_Integer iv;
        if (!lua_isinteger(L, -1) &&
            !(lua_numbertointeger(d, &iv) && (lua_Number)iv == d))
            luaL_error(L, "option 'compression.%s': expected an integer", k);
        lua_Integer v = lua_tointeger(L, -1);
        if (v <= 0)
            luaL_error(L, "option 'compression.%s': expected a positive integer", k);
        lua_pushfstring(L, "%I", (LUAI_UACINT)v);
        lua_setfield(L, dst, wire);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'compression.%s': expected an integer", k);
    }
    lua_pop(L, 1);
}

static void set_compression(lua_State *L, int opts, int setup)
{
    int t = opt(L, opts, "compression");
    if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        lua_pop(L, 1);
        return;
    }
    int c = lua_gettop(L);
    lua_newtable(L);
    int cw = lua_gettop(L);
    lua_newtable(L);
    int sw = lua_gettop(L);
    if (t == LUA_TTABLE) {
        set_int64(L, c, "trigger_tokens", cw, "triggerTokens");
        set_int64(L, c, "target_tokens", sw, "targetTokens");
    } else if (t != LUA_TBOOLEAN) {
        luaL_error(L, "option 'compression': expected true or a table");
    }
    lua_setfield(L, cw, "slidingWindow");
    lua_setfield(L, setup, "contextWindowCompression");
    lua_settop(L, c - 1);
}

static void set_input_format(lua_State *L, int state, int opts)
{
    lua_Integer rate = 16000;
    const char *type = "audio/pcm";

    if (opt(L, opts, "input_audio_format") == LUA_TTABLE) {
        int f = lua_gettop(L);
        if (lua_getfield(L, f, "rate") == LUA_TNUMBER)
            rate = lua_tointeger(L, -1);
        if (lua_getfield(L, f, "type") == LUA_TSTRING)
            type = lrt_map_enum(L, -1, "option 'input_audio_format.type'");
        if (rate <= 0)
            luaL_error(L, "option 'input_audio_format.rate': expected a positive integer");
        lrt_set_int(L, state, "input_rate", rate);
        if (strchr(type, ';'))
            lrt_set_str(L, state, "input_mime", type);
        else {
            lua_pushfstring(L, "%s;rate=%I", type, (LUAI_UACINT)rate);
            lua_setfield(L, state, "input_mime");
        }
    }
}

static int map_setup(lua_State *L)
{
    const int state = 1, opts = 2;

    int kt = opt(L, opts, "kind");
    const char *kind = lrt_map_enum(L, -1, "option 'kind'");
    int transcription = kind && strcmp(kind, "transcription") == 0;
    if (kt != LUA_TNIL && !transcription && !(kind && strcmp(kind, "conversation") == 0))
        luaL_error(L, "option 'kind': expected \"conversation\" or \"transcription\"");
    lua_pop(L, 1);
    lrt_set_bool(L, state, "transcription", transcription);

    lua_createtable(L, 0, 1);
    int msg = lua_gettop(L);
    lua_createtable(L, 0, 10);
    int setup = lua_gettop(L);

    set_model(L, state, opts, setup);
    lua_settop(L, setup);
    set_generation(L, state, opts, setup);
    lua_settop(L, setup);
    set_answer_style(L, opts, setup);
    lrt_setup_speech_language(L, opts, setup);
    lua_settop(L, setup);
    set_instructions(L, opts, setup);
    lrt_setup_tools(L, opts, setup);
    lua_settop(L, setup);
    lrt_setup_vad(L, state, opts, setup);
    lua_settop(L, setup);
    lrt_setup_transcription(L, state, opts, setup);
    set_resumption(L, state, opts, setup);
    lua_settop(L, setup);
    set_compression(L, opts, setup);
    lua_settop(L, setup);
    set_input_format(L, state, opts);
    lua_settop(L, setup);
    set_history(L, state, opts, setup);
    lrt_setup_raw(L, opts, setup);
    lua_settop(L, setup);

    lua_setfield(L, msg, "setup");
    return lrt_json_encode_ex(L, msg, LRT_JSON_WIRE_DEPTH, NULL);
}

/* core.map_setup(state, opts) -> JSON text of {"setup":{...}}
 * The setup's encodes (raw values, the whole message) stop at LRT_SETUP_BOUND bytes, or
 * max_queue_bytes when larger: a message that long is no setup a service takes, and
 * one made of shared subtables would otherwise keep connect encoding for ever. */
int lrt_map_setup(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    size_t bound = max_queue(L, 2);
    if (bound < LRT_SETUP_BOUND)
        bound = LRT_SETUP_BOUND;
    lua_pushcfunction(L, map_setup);
    lua_insert(L, 1);
    int st = lrt_json_pcall_bounded(L, bound, 2, 1);
    if (st == LRT_JSON_OVERRUN)
        return luaL_error(L, "the setup message would be larger than %I bytes (16 MiB, or "
                             "max_queue_bytes when larger): look at what 'raw', 'tools' and "
                             "'instructions' hold", (lua_Integer)bound);
    if (st != LUA_OK)
        return lua_error(L);
    return 1;
}
