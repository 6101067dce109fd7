/* Server frames -> neutral messages (map_server).
 *
 * A response is what the model produces between two waits for the client:
 * response_created before its first output (content, transcription or tool call) and
 * response_done when the model stops, which is either serverContent.turnComplete (the
 * only marker every turn ends with: an interrupted turn has no generationComplete, and
 * usage may ride with turnComplete or come alone), or a toolCall (the model then waits
 * for the results, and what it says after them is a new response, as the neutral model
 * and the tool middleware expect). So generationComplete closes nothing, usage seen
 * during a response is kept for its response_done, a turnComplete right after a
 * tool-call response closes nothing more, and any other turnComplete with nothing
 * before it still gives one created/done pair, so that a caller waiting for the end of
 * a turn always sees it (seed bugs 1 and 2). An interruption before any content is the
 * start of such a turn: it opens the response, which its turnComplete ends "cancelled".
 * A protocol error about the model's output (modelTurn, a part, a call, a count of a
 * frame that ends the response) comes in the response that output belongs to, opened
 * first if need be, so the first part's error is placed as a later part's.
 *
 * Within one frame the order is: the user's speech starting or stopping (voice
 * activity), content parts (text, audio, code), grounding,
 * generation_complete, transcriptions, interrupted, tool calls, cancellations, usage,
 * waiting_for_input, end of response, goAway, resumption. A frame that gives none of
 * these (and no usage kept for its response) comes out as one `raw` message, so
 * nothing the server says is dropped. Each message carries `raw`, the decoded frame
 * (integral numbers as integers); kept usage carries its usageMetadata as usage.raw.
 *
 * This file is the dispatch: it reads the frame's top-level members and maps them in
 * that order; serverContent is read in lrt_map_server_content.c, the tool calls in
 * lrt_map_calls.c. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"

static int fail(lua_State *L, const char *prefix)
{
    const char *why = lua_tostring(L, -1);
    lua_pushnil(L);
    lua_pushfstring(L, "%s%s", prefix, why ? why : "malformed data");
    lua_pushliteral(L, "protocol");
    return 3;
}

#define NAME(s) { s, sizeof s - 1 }

/* The top-level members the mapping reads, in this order. */
static const struct {
    const char *s;
    size_t n;
} top_names[] = {
    NAME("serverContent"), NAME("toolCall"), NAME("toolCallCancellation"), NAME("goAway"),
    NAME("sessionResumptionUpdate"), NAME("usageMetadata"), NAME("voiceActivity"),
    NAME("voiceActivityDetectionSignal"),
};
#define TOP_COUNT (sizeof top_names / sizeof top_names[0])

/* Pushes TOP_COUNT slots: the member of raw named top_names[i] when it is an object,
 * else nil; at[i] is its stack index or 0, and -1 for a member that is there but is not
 * an object. One pass over raw's keys: a frame has one or two, where eight lookups by name
 * would each intern their name. */
static void top_tables(lua_State *L, int raw, int at[TOP_COUNT])
{
    int base = lua_gettop(L);

    luaL_checkstack(L, (int)TOP_COUNT + 2, "mapping a server message");
    lua_settop(L, base + (int)TOP_COUNT);
    for (size_t i = 0; i < TOP_COUNT; i++)
        at[i] = 0;
    lua_pushnil(L);
    while (lua_next(L, raw)) {
        size_t n;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
        for (size_t i = 0; k && i < TOP_COUNT; i++) {
            if (top_names[i].n == n && memcmp(top_names[i].s, k, n) == 0) {
                if (lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) == 0) {
                    at[i] = base + 1 + (int)i;
                    lua_copy(L, -1, at[i]);
                } else {
                    at[i] = -1;
                }
                break;
            }
        }
        lua_pop(L, 1);
    }
}

/* True when the serverContent table at content has no member but modelTurn, as every
 * audio or text delta: its other members need not be looked up one by one. */
static int model_turn_only(lua_State *L, int content)
{
    int only = 0;

    lua_pushnil(L);
    if (lua_next(L, content)) {
        size_t n;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
        only = k && n == sizeof "modelTurn" - 1 && memcmp(k, "modelTurn", n) == 0;
        lua_pop(L, 1);
        if (lua_next(L, content)) {
            only = 0;
            lua_pop(L, 2);
        }
    }
    return only;
}

/* A transcription session (kind = "transcription") hands the caller only the user's
 * transcript and the session's lifecycle: the model's own answers are not wanted. */
static void transcription_only(lua_State *L, int out)
{
    static const char *const keep[] = { "input_audio_transcription_delta",
                                        "input_audio_transcription_completed",
                                        "input_audio_transcription_interim",
                                        "input_audio_buffer_speech_started",
                                        "input_audio_buffer_speech_stopped",
                                        "session_resumption_update", "go_away",
                                        "error", NULL };
    lua_Integer n = (lua_Integer)lua_rawlen(L, out), kept = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, out, i);
        lua_getfield(L, -1, "type");
        const char *type = lua_tostring(L, -1);
        int wanted = 0;
        for (const char *const *k = keep; type && *k && !wanted; k++)
            wanted = strcmp(type, *k) == 0;
        lua_pop(L, 1);
        if (wanted)
            lua_rawseti(L, out, ++kept);
        else
            lua_pop(L, 1);
    }
    for (lua_Integer i = kept + 1; i <= n; i++) {
        lua_pushnil(L);
        lua_rawseti(L, out, i);
    }
}

/* Reports the lone surrogate escapes the decoding read as U+FFFD. One in the model's
 * output (its turn, its transcript, a tool call) comes inside the response it belongs
 * to, opened for it if need be, as any error about that output. */
static void lrt_report_lone(struct lrt_frame *f, const struct lrt_json_fixes *fx)
{
    static const char *const output[] = { "serverContent.modelTurn",
                                          "serverContent.outputTranscription", "toolCall." };
    char more[48] = "";

    for (size_t i = 0; i < sizeof output / sizeof output[0]; i++)
        if (strncmp(fx->where, output[i], strlen(output[i])) == 0)
            lrt_ensure_response(f);

    if (fx->lone > 1)
        snprintf(more, sizeof more, " (%d in the message)", fx->lone);
    lrt_msg_protocol_error(f, "%s%s holds a lone surrogate escape (%s)%s: read as U+FFFD",
                           fx->key ? (fx->where[0] ? "a key of " : "a top-level key") : "",
                           fx->where[0] || fx->key ? fx->where : "the message", fx->escape,
                           more);
}

/* Leaves the top n values at base + 1.. and drops everything else above base; returns
 * 3 (what lrt_map_server_text leaves: fail's tuple, or the messages padded with nils). */
static int results(lua_State *L, int base, int n)
{
    int top = lua_gettop(L);

    for (int i = 0; i < n; i++)
        lua_copy(L, top - n + 1 + i, base + 1 + i);
    lua_settop(L, base + n);
    for (; n < 3; n++)
        lua_pushnil(L);
    return 3;
}

int lrt_map_server_text(lua_State *L, int state, const char *text, size_t len)
{
    struct lrt_frame f;
    struct lrt_json_fixes fx;
    int entry = lua_gettop(L);

    f.L = L;
    f.state = lua_absindex(L, state);
    f.text = text;
    f.len = len;
    lrt_keys_push(L);
    f.keys = lua_gettop(L);
    if (lrt_json_decode_server(L, text, len, &fx) != 0)
        return results(L, entry, fail(L, ""));
    f.raw = lua_gettop(L);
    lua_createtable(L, 2, 0);   /* a delta, and the response_created before the first */
    f.out = lua_gettop(L);
    if (fx.lone)
        lrt_report_lone(&f, &fx);
    if (lua_type(L, f.raw) != LUA_TTABLE || lua_rawlen(L, f.raw) != 0) {
        /* an error that carries it, so that the caller still sees what came */
        lrt_msg_protocol_error(&f, "unexpected server message: %s, not a JSON object",
                               lrt_json_kind(L, f.raw));
        lua_settop(L, f.out);
        return results(L, entry, 1);
    }

    /* The first setupComplete is the binding's business (session.id); a later one
     * maps to nothing below and comes out as raw. */
    int kept = 0, turn_end = 0, tool_end = 0, usage = 0, at[TOP_COUNT];
    top_tables(L, f.raw, at);
    int ga = at[3], odd_ga = ga < 0;
    for (size_t i = 0; i < TOP_COUNT; i++) {
        /* a known member that is not an object says nothing the mapping can read; a
         * goAway still is one (lrt_map_go_away): the core leaves on it */
        if (at[i] < 0 && i != 3) {
            lua_getfield(L, f.raw, top_names[i].s);
            lrt_msg_protocol_error(&f, "%s is %s, not an object", top_names[i].s,
                                   lrt_json_kind(L, -1));
            lua_pop(L, 1);
        }
        at[i] = at[i] < 0 ? 0 : at[i];
    }
    int content = at[0], tc = at[1], tcc = at[2], sr = at[4], um = at[5];
    ga = at[3];
    int base = lua_gettop(L);

    /* The edge comes first: what it caused (an interruption, a transcript) follows. */
    if (at[6])
        lrt_map_voice_activity(&f, at[6]);
    if (at[7])
        lrt_map_vad_signal(&f, at[7]);

    int deltas_only = content && model_turn_only(L, content);
    if (content)
        turn_end = lrt_map_server_content(&f, content, deltas_only);
    if (tc) {
        tool_end = lrt_map_tool_calls(&f, tc) > 0;
        lua_settop(L, base);
    }
    if (tcc) {
        lrt_map_cancellation(&f, tcc);
    }
    if (turn_end)
        lrt_map_end_streams(&f);   /* before response_done: the errors are in it */
    if (turn_end && !tool_end && !lrt_responding(&f) &&
        lrt_get_bool(L, f.state, "after_tool_call")) {
        /* The model's turn already ended with its tool calls. */
        lrt_set_bool(L, f.state, "after_tool_call", 0);
        turn_end = 0;
    }
    if (um) {
        if (turn_end || tool_end)
            lrt_ensure_response(&f);   /* an error about a count comes in the response */
        lrt_push_usage(&f, um);
        usage = lua_gettop(L);
        if (!turn_end && !tool_end && lrt_responding(&f)) {
            /* Kept for this response's response_done (seed A dropped it). */
            lua_pushvalue(L, usage);
            lua_setfield(L, f.state, "response_usage");
            kept = 1;
        }
    }
    if (content && !deltas_only && lrt_map_flag(&f, content, "waitingForInput", "serverContent")) {
        /* the model's turn: it says nothing and waits for the user */
        lrt_map_response_msg(&f, "waiting_for_input");
        lrt_msg_push(&f);
        lua_settop(L, usage ? usage : base);
    }
    if (turn_end || tool_end) {
        lrt_map_end_turn(&f, content, usage);
        /* A turnComplete in the same frame as the calls is consumed here. */
        lrt_set_bool(L, f.state, "after_tool_call", tool_end && !turn_end);
    }
    if (ga || odd_ga)
        lrt_map_go_away(&f, ga);
    if (sr)
        lrt_map_resumption(&f, sr);
    if (lua_rawlen(L, f.out) == 0 && !kept) {
        /* Nothing the server says is dropped: what maps to nothing above is raw. */
        lrt_msg_new(&f, "raw");
        lua_pushnil(L);
        lua_setfield(L, -2, "response_id");
        lrt_msg_push(&f);
    }
    lrt_getk(L, f.state, f.keys, LRT_K_TRANSCRIPTION);
    if (lua_toboolean(L, -1))
        transcription_only(L, f.out);
    lua_settop(L, f.out);
    return results(L, entry, 1);
}

/* core.map_server(state, json_text) -> { msg, ... } | nil, message, "protocol" */
int lrt_map_server(lua_State *L)
{
    size_t len;
    const char *text;

    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TSTRING);
    text = lua_tolstring(L, 2, &len);
    lua_settop(L, 2);
    lrt_map_server_text(L, 1, text, len);
    if (lua_istable(L, -3)) {
        lua_pop(L, 2);
        return 1;
    }
    return 3;
}
