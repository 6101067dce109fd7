/* Session options -> the wire `setup` message (map_setup).
 *
 * The options arrive as client:connect{} takes them (API.md), already checked by the
 * Lua front for unknown keys and types; this file raises only for what it cannot
 * convert. Google's JS SDK is the reference for the shape (spec/golden/). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "rt_model.h"

/* Pushes opts[k] and returns its type. */
static int opt(lua_State *L, int opts, const char *k)
{
    return lua_getfield(L, opts, k);
}

/* Returns the table at t[k], creating it when absent. */
static int subtable(lua_State *L, int t, const char *k)
{
    if (lua_getfield(L, t, k) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, t, k);
    }
    return lua_gettop(L);
}

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
    const char *why = NULL;
    struct rt_model_ctx c;
    size_t n;
    const char *model = lua_tolstring(L, -1, &n);

    c.vertex = lrt_map_vertex(L, state);
    c.express = lrt_get_bool(L, state, "express");
    lua_getfield(L, state, "project");
    lua_getfield(L, state, "location");
    c.project = lua_tostring(L, -2);
    c.location = lua_tostring(L, -1);
    if (strlen(model) != n || rt_model_resolve(&c, model, out, sizeof out, &why) != 0)
        luaL_error(L, "option 'model': %s", why ? why : "unsafe model name");
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

/* The wire form of each built-in tool type: its own Tool entry, an empty object. */
static const char *builtin_tool(const char *type)
{
    static const char *const names[][2] = {
        { "google_search", "googleSearch" },
        { "code_execution", "codeExecution" },
        { "url_context", "urlContext" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

/* Pushes the FunctionDeclaration of the function tool at tool (entry i). */
static void push_declaration(lua_State *L, int tool, lua_Integer i)
{
    if (lua_getfield(L, tool, "name") != LUA_TSTRING)
        luaL_error(L, "option 'tools': entry %d has no name", (int)i);
    const char *name = lua_tostring(L, -1);
    lua_createtable(L, 0, 4);
    int d = lua_gettop(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, d, "name");
    if (lua_getfield(L, tool, "description") == LUA_TSTRING)
        lua_setfield(L, d, "description");
    else
        lua_pop(L, 1);
    if (lua_getfield(L, tool, "parameters") == LUA_TTABLE) {
        lrt_schema_convert(L, -1, name);
        lua_setfield(L, d, "parameters");
    }
    lua_pop(L, 1);
    int t = lua_getfield(L, tool, "behavior");
    if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "blocking") == 0)
        lrt_set_str(L, d, "behavior", "BLOCKING");
    else if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "non_blocking") == 0)
        lrt_set_str(L, d, "behavior", "NON_BLOCKING");
    else if (t != LUA_TNIL)
        luaL_error(L, "tool '%s': 'behavior' must be \"blocking\" or \"non_blocking\"", name);
    lua_pop(L, 1);
    lua_remove(L, d - 1);   /* the name */
}

/* tools -> setup.tools: each built-in tool is its own entry, in the given order; every
 * function declaration goes into one functionDeclarations entry, placed where the first
 * function tool stands (the form @google/genai sends for the same list). */
static void set_tools(lua_State *L, int opts, int setup)
{
    if (opt(L, opts, "tools") != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int tools = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, tools), entries = 0, ndecls = 0;
    if (n == 0) {
        lua_pop(L, 1);
        return;
    }
    lrt_json_newarray(L, (int)n);
    int out = lua_gettop(L);
    lrt_json_newarray(L, 0);
    int decls = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, tools, i) != LUA_TTABLE)
            luaL_error(L, "option 'tools': entry %d is not a table", (int)i);
        int tool = lua_gettop(L);
        const char *type = "function";
        int t = lua_getfield(L, tool, "type");
        if (t == LUA_TSTRING)
            type = lua_tostring(L, -1);
        else if (t != LUA_TNIL)
            luaL_error(L, "option 'tools': entry %d: 'type' must be a string", (int)i);
        if (strcmp(type, "function") == 0) {
            push_declaration(L, tool, i);
            lua_rawseti(L, decls, ++ndecls);
            if (ndecls == 1) {
                lua_createtable(L, 0, 1);
                lua_pushvalue(L, decls);
                lua_setfield(L, -2, "functionDeclarations");
                lua_rawseti(L, out, ++entries);
            }
        } else {
            const char *wire = builtin_tool(type);
            if (!wire)
                luaL_error(L, "option 'tools': entry %d: unknown tool type '%s' (expected "
                              "\"function\", \"google_search\", \"code_execution\" or "
                              "\"url_context\")", (int)i, type);
            lua_createtable(L, 0, 1);
            lua_newtable(L);
            lua_setfield(L, -2, wire);
            lua_rawseti(L, out, ++entries);
        }
        lua_settop(L, decls);
    }
    lua_settop(L, out);
    lua_setfield(L, setup, "tools");
    lua_settop(L, tools - 1);
}

static const char *sensitivity(lua_State *L, int vad, const char *k, int start)
{
    const char *v = NULL;
    if (lua_getfield(L, vad, k) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        if (strcasecmp(s, "high") == 0)
            v = start ? "START_SENSITIVITY_HIGH" : "END_SENSITIVITY_HIGH";
        else if (strcasecmp(s, "low") == 0)
            v = start ? "START_SENSITIVITY_LOW" : "END_SENSITIVITY_LOW";
        else
            luaL_error(L, "option 'vad.%s': expected \"high\" or \"low\"", k);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "option 'vad.%s': expected \"high\" or \"low\"", k);
    }
    lua_pop(L, 1);
    return v;
}

/* seconds -> whole milliseconds, rounded */
static void set_ms(lua_State *L, int vad, const char *k, int aad, const char *wire)
{
    if (lua_getfield(L, vad, k) == LUA_TNUMBER) {
        lua_Number s = lua_tonumber(L, -1);
        if (!(s >= 0 && s <= 3600))
            luaL_error(L, "option 'vad.%s': expected seconds between 0 and 3600", k);
        lrt_set_int(L, aad, wire, (lua_Integer)floor(s * 1000 + 0.5));
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "option 'vad.%s': expected a number of seconds", k);
    }
    lua_pop(L, 1);
}

static void set_vad(lua_State *L, int state, int opts, int setup)
{
    int t = opt(L, opts, "vad");
    int enabled = 1, interrupt = 1;

    if (t == LUA_TNIL) {
        /* The service default: automatic detection on, nothing sent; a transcription
         * session keeps listening while the user speaks. */
        lrt_set_bool(L, state, "vad_manual", 0);
        if (lrt_get_bool(L, state, "transcription")) {
            int ric = subtable(L, setup, "realtimeInputConfig");
            lrt_set_str(L, ric, "activityHandling", "NO_INTERRUPTION");
        }
        lua_settop(L, setup);
        return;
    }
    int vad = lua_gettop(L);
    int ric = subtable(L, setup, "realtimeInputConfig");
    lua_newtable(L);
    int aad = lua_gettop(L);
    if (t == LUA_TBOOLEAN) {
        enabled = lua_toboolean(L, vad);
    } else if (t == LUA_TTABLE) {
        if (lua_getfield(L, vad, "enabled") != LUA_TNIL)
            enabled = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, vad, "allow_interruption") != LUA_TNIL)
            interrupt = lua_toboolean(L, -1);
        lua_pop(L, 1);
        const char *s = sensitivity(L, vad, "start_sensitivity", 1);
        const char *e = sensitivity(L, vad, "end_sensitivity", 0);
        if (s)
            lrt_set_str(L, aad, "startOfSpeechSensitivity", s);
        if (e)
            lrt_set_str(L, aad, "endOfSpeechSensitivity", e);
        set_ms(L, vad, "prefix_padding", aad, "prefixPaddingMs");
        set_ms(L, vad, "silence_duration", aad, "silenceDurationMs");
    } else {
        luaL_error(L, "option 'vad': expected a table or a boolean");
    }
    lrt_set_bool(L, aad, "disabled", !enabled);
    lua_setfield(L, ric, "automaticActivityDetection");
    if (lrt_get_bool(L, state, "transcription"))
        interrupt = 0;
    if (!interrupt)
        lrt_set_str(L, ric, "activityHandling", "NO_INTERRUPTION");
    lrt_set_bool(L, state, "vad_manual", !enabled);
    lua_settop(L, vad - 1);
}

/* Pushes transcription.language (a string or a list of strings) as a languageCodes
 * array. */
static void push_language_codes(lua_State *L, int lang)
{
    if (lua_type(L, lang) == LUA_TSTRING) {
        lrt_json_newarray(L, 1);
        lua_pushvalue(L, lang);
        lua_rawseti(L, -2, 1);
        return;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, lang);
    lrt_json_newarray(L, (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, lang, i) != LUA_TSTRING)
            luaL_error(L, "option 'transcription.language': expected strings");
        lua_rawseti(L, -2, i);
    }
}

static void set_transcription(lua_State *L, int state, int opts, int setup)
{
    int t = opt(L, opts, "transcription");
    int only = lrt_get_bool(L, state, "transcription");
    int in = only, out = 0;
    int lang = 0;

    if (t == LUA_TBOOLEAN) {
        in = out = lua_toboolean(L, -1);
    } else if (t == LUA_TTABLE) {
        int tr = lua_gettop(L);
        /* The table form means "on, with these tweaks": a side left out is on. */
        in = lua_getfield(L, tr, "input") == LUA_TNIL || lua_toboolean(L, -1);
        out = lua_getfield(L, tr, "output") == LUA_TNIL || lua_toboolean(L, -1);
        lua_pop(L, 2);
        int lt = lua_getfield(L, tr, "language");
        if (lt == LUA_TSTRING || lt == LUA_TTABLE)
            lang = lua_gettop(L);
        else if (lt != LUA_TNIL)
            luaL_error(L, "option 'transcription.language': expected a string or a list");
        else
            lua_pop(L, 1);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'transcription': expected a boolean or a table");
    }
    if (only) {
        /* input transcription is what the session is for; the model's side is off */
        if (!in)
            luaL_error(L, "option 'transcription': a transcription session transcribes its input");
        out = 0;
    }
    if (in) {
        lua_newtable(L);
        /* languageCodes on both backends: @google/genai passes inputAudioTranscription
         * through as given on each (spec/golden/setup_transcription_language_*.json). */
        if (lang) {
            push_language_codes(L, lang);
            lua_setfield(L, -2, "languageCodes");
        }
        lua_setfield(L, setup, "inputAudioTranscription");
    }
    if (out) {
        lua_newtable(L);
        lua_setfield(L, setup, "outputAudioTranscription");
    }
    lua_settop(L, setup);
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

/* history given: its clientContent message goes to state.history_message (the binding
 * sends it right after setupComplete), and on the Gemini API the setup says that the
 * first clientContent is the initial history (no model call); Vertex does not take
 * historyConfig. A history with no content sends neither: the service would wait for
 * it. Runs after set_input_format (audio parts default to the session's mime type). */
static void set_history(lua_State *L, int state, int opts, int setup)
{
    int t = opt(L, opts, "history");
    lua_pushnil(L);
    lua_setfield(L, state, "history_message");
    if (t == LUA_TTABLE) {
        lua_pushcfunction(L, lrt_map_history);
        lua_pushvalue(L, state);
        lua_pushvalue(L, -3);
        lua_call(L, 2, 1);
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

/* Deep-merges the table at src into the table at dst: objects merge key by key, any
 * other value replaces, and cjson.null removes the key (so raw can take out something
 * the options put in). */
static void merge(lua_State *L, int dst, int src, int depth)
{
    if (depth > LRT_JSON_MAX_DEPTH)
        luaL_error(L, "option 'raw': nesting deeper than %d levels", LRT_JSON_MAX_DEPTH);
    luaL_checkstack(L, 4, "raw nesting");
    lua_pushnil(L);
    while (lua_next(L, src)) {
        int v = lua_gettop(L);
        if (lrt_json_isnull(L, v)) {
            lua_pushvalue(L, v - 1);
            lua_pushnil(L);
            lua_rawset(L, dst);
        } else if (lua_type(L, v) == LUA_TTABLE && lua_type(L, v - 1) == LUA_TSTRING &&
                   lua_rawlen(L, v) == 0) {
            lua_pushvalue(L, v - 1);
            if (lua_rawget(L, dst) == LUA_TTABLE && lua_rawlen(L, -1) == 0) {
                merge(L, lua_gettop(L), v, depth + 1);
            } else {
                lua_pushvalue(L, v - 1);
                lua_pushvalue(L, v);
                lua_rawset(L, dst);
            }
            lua_pop(L, 1);
        } else {
            lua_pushvalue(L, v - 1);
            lua_pushvalue(L, v);
            lua_rawset(L, dst);
        }
        lua_settop(L, v - 1);
    }
}

static void set_raw(lua_State *L, int opts, int setup)
{
    int t = opt(L, opts, "raw");
    if (t == LUA_TTABLE) {
        int raw = lua_gettop(L);
        /* Accept { setup = {...} } as well as the inside of setup. */
        int only = 0;
        lua_pushnil(L);
        if (lua_next(L, raw)) {
            only = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "setup") == 0 &&
                   lua_type(L, -1) == LUA_TTABLE;
            lua_pop(L, 1);
            if (lua_next(L, raw))
                only = 0;
        }
        lua_settop(L, raw);
        if (only) {
            lua_getfield(L, raw, "setup");
            raw = lua_gettop(L);
        }
        merge(L, setup, raw, 1);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'raw': expected a table");
    }
    lua_settop(L, setup);
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
            type = lua_tostring(L, -1);
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

/* core.map_setup(state, opts) -> JSON text of {"setup":{...}} */
int lrt_map_setup(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    const int state = 1, opts = 2;

    int kt = opt(L, opts, "kind");
    int transcription = kt == LUA_TSTRING && strcmp(lua_tostring(L, -1), "transcription") == 0;
    if (kt != LUA_TNIL && !transcription &&
        !(kt == LUA_TSTRING && strcmp(lua_tostring(L, -1), "conversation") == 0))
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
    set_instructions(L, opts, setup);
    set_tools(L, opts, setup);
    lua_settop(L, setup);
    set_vad(L, state, opts, setup);
    lua_settop(L, setup);
    set_transcription(L, state, opts, setup);
    set_resumption(L, state, opts, setup);
    lua_settop(L, setup);
    set_compression(L, opts, setup);
    lua_settop(L, setup);
    set_input_format(L, state, opts);
    lua_settop(L, setup);
    set_history(L, state, opts, setup);
    set_raw(L, opts, setup);
    lua_settop(L, setup);

    lua_setfield(L, msg, "setup");
    return lrt_json_encode_ex(L, msg, LRT_JSON_WIRE_DEPTH, NULL);
}
