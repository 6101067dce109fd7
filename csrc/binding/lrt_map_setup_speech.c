/* Session options -> what the service does with speech: voice activity detection
 * (setup.realtimeInputConfig) and the transcription of either side
 * (inputAudioTranscription, outputAudioTranscription). Part of map_setup; see
 * lrt_map_setup.c. */
#include <math.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_setup.h"

static const char *sensitivity(lua_State *L, int vad, const char *k, int start)
{
    const char *v = NULL;
    if (lua_getfield(L, vad, k) == LUA_TSTRING) {
        const char *s = lrt_map_enum(L, -1, "option 'vad.%s'", k);
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

/* vad.turn_coverage: what input a user turn holds (the service's default: activity). */
static void set_turn_coverage(lua_State *L, int vad, int ric)
{
    static const char *const cover[] = {
        "activity", "TURN_INCLUDES_ONLY_ACTIVITY", "all_input", "TURN_INCLUDES_ALL_INPUT",
        "audio_activity_and_all_video", "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO", NULL,
    };
    if (lua_getfield(L, vad, "turn_coverage") != LUA_TNIL)
        lrt_set_str(L, ric, "turnCoverage", lrt_setup_word(L, -1, "vad.turn_coverage", cover));
    lua_pop(L, 1);
}

/* vad.signals: the server says when it hears the user start and stop speaking
 * (explicitVadSignal; voiceActivityDetectionSignal messages). Vertex only: the Gemini
 * API's setup has no such field and would refuse the session. */
static void set_signals(lua_State *L, int state, int vad, int setup)
{
    if (lua_getfield(L, vad, "signals") != LUA_TNIL && lua_toboolean(L, -1)) {
        if (!lrt_map_vertex(L, state))
            luaL_error(L, "option 'vad.signals': Vertex AI only (the Gemini API's setup has "
                          "no explicitVadSignal and would refuse the session)");
        lrt_set_bool(L, setup, "explicitVadSignal", 1);
    }
    lua_pop(L, 1);
}

void lrt_setup_vad(lua_State *L, int state, int opts, int setup)
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
        set_turn_coverage(L, vad, ric);
        set_signals(L, state, vad, setup);
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

/* transcription.vocabulary -> customVocabulary: words and phrases the recogniser should
 * expect from the user (names, jargon). */
static void set_vocabulary(lua_State *L, int tr, int cfg)
{
    int t = lua_getfield(L, tr, "vocabulary");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "option 'transcription.vocabulary': expected a list of strings");
    int voc = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, voc);
    lrt_json_newarray(L, (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, voc, i) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            luaL_error(L, "option 'transcription.vocabulary': expected a non-empty string "
                          "at entry %d", (int)i);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, cfg, "customVocabulary");
    lua_pop(L, 1);
}

/* The AudioTranscriptionConfig of the user's side from the table at tr: what the
 * recogniser expects (vocabulary), what it reports besides the text (word times,
 * speakers) and how literally it writes (mode). The service decides which models honour
 * them; they go out as given on both backends. */
static void set_input_details(lua_State *L, int tr, int cfg)
{
    static const char *const modes[] = { "verbatim", "VERBATIM", "smart", "SMART", NULL };
    set_vocabulary(L, tr, cfg);
    lrt_setup_copy_bool(L, tr, "word_timestamps", "transcription.word_timestamps", cfg,
                        "wordTimestamp");
    lrt_setup_copy_bool(L, tr, "diarization", "transcription.diarization", cfg, "diarization");
    if (lua_getfield(L, tr, "mode") != LUA_TNIL)
        lrt_set_str(L, cfg, "mode", lrt_setup_word(L, -1, "transcription.mode", modes));
    lua_pop(L, 1);
}

/* The options of the table at tr that describe the input transcription: with it off
 * they would be dropped without a word. */
static void refuse_input_details(lua_State *L, int tr)
{
    static const char *const keys[] = { "language", "vocabulary", "word_timestamps",
                                         "diarization", "mode", NULL };
    for (int i = 0; keys[i]; i++) {
        if (lua_getfield(L, tr, keys[i]) != LUA_TNIL)
            luaL_error(L, "option 'transcription.%s': it concerns the input transcription, "
                          "which input = false turns off", keys[i]);
        lua_pop(L, 1);
    }
}

void lrt_setup_transcription(lua_State *L, int state, int opts, int setup)
{
    int t = opt(L, opts, "transcription");
    int only = lrt_get_bool(L, state, "transcription");
    int in = only, out = 0;
    int lang = 0, tr = 0;

    if (t == LUA_TBOOLEAN) {
        in = out = lua_toboolean(L, -1);
    } else if (t == LUA_TTABLE) {
        tr = lua_gettop(L);
        /* The table form means "on, with these tweaks": a side left out is on. */
        in = lua_getfield(L, tr, "input") == LUA_TNIL || lua_toboolean(L, -1);
        out = lua_getfield(L, tr, "output") == LUA_TNIL || lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (!in)
            refuse_input_details(L, tr);
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
        if (tr)
            set_input_details(L, tr, lua_gettop(L));
        lua_setfield(L, setup, "inputAudioTranscription");
    }
    /* The model's side stays {}: its transcript is the model's own words, with no
     * vocabulary to expect, one speaker, and the language speech_language sets. */
    if (out) {
        lua_newtable(L);
        lua_setfield(L, setup, "outputAudioTranscription");
    }
    lua_settop(L, setup);
}

/* speech_language: the language the model speaks, beside the voice in speechConfig. */
void lrt_setup_speech_language(lua_State *L, int opts, int setup)
{
    int t = opt(L, opts, "speech_language");
    if (t == LUA_TSTRING) {
        const char *code = lrt_map_enum(L, -1, "option 'speech_language':");
        int gen = subtable(L, setup, "generationConfig");
        int sc = subtable(L, gen, "speechConfig");
        lrt_set_str(L, sc, "languageCode", code);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option 'speech_language': expected a language code such as \"en-US\"");
    }
    lua_settop(L, setup);
}
