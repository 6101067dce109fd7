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
 * Within one frame the order is: content parts (text, audio, code), grounding,
 * generation_complete, transcriptions, interrupted, tool calls, cancellations, usage,
 * waiting_for_input, end of response, goAway, resumption. A frame that gives none of
 * these (and no usage kept for its response) comes out as one `raw` message, so
 * nothing the server says is dropped. Each message carries `raw`, the decoded frame
 * (integral numbers as integers). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"

/* Appends the string on top to the array state[k] (pops it). */
static void add_piece(lua_State *L, int state, const char *k)
{
    lua_getfield(L, state, k);
    lua_insert(L, -2);
    lrt_map_append(L, -2);
    lua_pop(L, 1);
}

/* Pushes table.concat(state[k]) and returns its length. */
static size_t concat_pieces(lua_State *L, int state, const char *k)
{
    lua_getfield(L, state, k);
    lrt_push_concat(L, -1);
    lua_remove(L, -2);
    return lua_rawlen(L, -1);
}

/* ---------------------------------------------------------------- content */

/* Reports the value at idx, found at `path` (a format with %d for the part's index i),
 * as not what it should be (`want`: "a string", ...): it is left out. */
static void not_a(struct lrt_frame *f, const char *want, const char *path, lua_Integer i,
                  int idx)
{
    lua_State *L = f->L;
    const char *kind = lrt_json_kind(L, idx);
    lua_pushfstring(L, path, (int)i);
    lrt_msg_protocol_error(f, "%s is %s, not %s: left out", lua_tostring(L, -1), kind, want);
    lua_pop(L, 1);
}

/* t, the type of the value on top, with a JSON array (a table with a length) taken as
 * LUA_TNONE: where the protocol has an object, an array is of the wrong shape too. */
static int object_type(lua_State *L, int t)
{
    return t == LUA_TTABLE && lua_rawlen(L, -1) > 0 ? LUA_TNONE : t;
}

static void not_string(struct lrt_frame *f, const char *path, lua_Integer i, int idx)
{
    not_a(f, "a string", path, i, idx);
}

/* not_a for a piece of the model's turn (modelTurn, a part, a field of one): the error
 * comes in the response that turn belongs to, opened for it if need be, as the errors
 * about later parts of the same frame do. */
static void turn_not_a(struct lrt_frame *f, const char *want, const char *path, lua_Integer i,
                       int idx)
{
    idx = lua_absindex(f->L, idx);
    lrt_ensure_response(f);
    not_a(f, want, path, i, idx);
}

/* Emits input_audio_transcription_completed with the input transcript gathered so far,
 * if any, and starts a new one. */
static void complete_input(struct lrt_frame *f)
{
    lua_State *L = f->L;
    lua_getfield(L, f->state, "input_parts");
    int any = lua_rawlen(L, -1) > 0;
    lua_pop(L, 1);
    if (!any)
        return;
    lrt_msg_new(f, "input_audio_transcription_completed");
    lua_pushnil(L);
    lua_setfield(L, -2, "response_id");
    concat_pieces(L, f->state, "input_parts");
    lua_setfield(L, -2, "text");
    lrt_msg_push(f);
    lua_newtable(L);
    lua_setfield(L, f->state, "input_parts");
}

/* executableCode -> code_execution { language, code }; codeExecutionResult ->
 * code_execution_result { outcome, output }. Both are model output, so they belong to
 * a response (the service sends executableCode before a toolCall even without a code
 * tool). */
static void code_parts(struct lrt_frame *f, int part, lua_Integer i)
{
    static const struct {
        enum lrt_key member;          /* the part's member */
        const char *name;             /* its name */
        const char *type, *field[2];  /* the message and the fields it copies */
    } kinds[] = {
        { LRT_K_EXECUTABLE_CODE, "executableCode", "code_execution", { "language", "code" } },
        { LRT_K_CODE_EXECUTION_RESULT, "codeExecutionResult", "code_execution_result",
          { "outcome", "output" } },
    };
    lua_State *L = f->L;
    int top = lua_gettop(L);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int t = object_type(L, lrt_getk(L, part, f->keys, kinds[k].member));
        if (t != LUA_TTABLE && t != LUA_TNIL) {
            lua_pushfstring(L, "serverContent.modelTurn.parts[%%d].%s", kinds[k].name);
            turn_not_a(f, "an object", lua_tostring(L, -1), i, -2);
        } else if (t == LUA_TTABLE) {
            int src = lua_gettop(L);
            lrt_ensure_response(f);
            int m = lrt_msg_new(f, kinds[k].type);
            for (int j = 0; j < 2; j++) {
                int t = lua_getfield(L, src, kinds[k].field[j]);
                if (t != LUA_TSTRING && t != LUA_TNIL) {
                    lua_pushfstring(L, "serverContent.modelTurn.parts[%%d].%s.%s",
                                    kinds[k].name, kinds[k].field[j]);
                    not_string(f, lua_tostring(L, -1), i, -2);
                    lua_pop(L, 2);
                    continue;
                }
                lua_setfield(L, m, kinds[k].field[j]);
            }
            lrt_msg_push(f);
        }
        lua_settop(L, top);
    }
}

/* Pushes a new message about the model's response: the one in progress; right after a
 * response that ended with tool calls, that one (the service may send
 * generationComplete after a toolCall); else a response starts. */
static int response_msg(struct lrt_frame *f, const char *type)
{
    lua_State *L = f->L;
    if (!lrt_responding(f) && lrt_get_bool(L, f->state, "after_tool_call")) {
        int m = lrt_msg_new(f, type);
        lua_getfield(L, f->state, "last_response_id");
        lua_setfield(L, m, "response_id");
        return m;
    }
    lrt_ensure_response(f);
    return lrt_msg_new(f, type);
}

/* groundingMetadata -> grounding { metadata }, generationComplete ->
 * generation_complete. */
static void content_signals(struct lrt_frame *f, int content)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    int t = object_type(L, lua_getfield(L, content, "groundingMetadata"));
    if (t == LUA_TTABLE) {
        int m = response_msg(f, "grounding");
        lua_pushvalue(L, top + 1);
        lua_setfield(L, m, "metadata");
        lrt_msg_push(f);
    } else if (t != LUA_TNIL) {
        not_a(f, "an object", "serverContent.groundingMetadata", 0, -1);
    }
    lua_settop(L, top);
    if (lrt_map_flag(f, content, "generationComplete", "serverContent")) {
        response_msg(f, "generation_complete");
        lrt_msg_push(f);
    }
    lua_settop(L, top);
}

static void model_parts(struct lrt_frame *f, int content)
{
    lua_State *L = f->L;
    int t = object_type(L, lrt_getk(L, content, f->keys, LRT_K_MODEL_TURN));
    if (t != LUA_TTABLE) {
        if (t != LUA_TNIL)
            turn_not_a(f, "an object", "serverContent.modelTurn", 0, -1);
        return;  /* the caller resets the stack */
    }
    t = lrt_getk(L, lua_gettop(L), f->keys, LRT_K_PARTS);
    int parts = lua_gettop(L);
    lua_Integer n = t == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, parts) : 0;
    if (t != LUA_TNIL && (t != LUA_TTABLE || (n == 0 && (lua_pushnil(L), lua_next(L, parts))))) {
        lua_settop(L, parts);
        turn_not_a(f, "an array", "serverContent.modelTurn.parts", 0, parts);
        return;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        if (object_type(L, lua_rawgeti(L, parts, i)) != LUA_TTABLE) {
            turn_not_a(f, "an object", "serverContent.modelTurn.parts[%d]", i, -1);
            lua_pop(L, 1);
            continue;
        }
        int part = lua_gettop(L);
        int tt = lrt_getk(L, part, f->keys, LRT_K_TEXT);
        if (tt == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
            lrt_ensure_response(f);   /* before an error about thought, which is in it */
            int th = lrt_getk(L, part, f->keys, LRT_K_THOUGHT);
            int thought = th == LUA_TBOOLEAN && lua_toboolean(L, -1);
            if (th != LUA_TBOOLEAN && th != LUA_TNIL) {
                /* the part's path only when it is needed: text deltas are the hot path */
                lua_pushfstring(L, "serverContent.modelTurn.parts[%d]", (int)i);
                lua_insert(L, -2);
                lrt_map_flag_top(f, lua_tostring(L, -2), "thought");   /* pops the flag */
            }
            lua_pop(L, 1);
            /* Thoughts never mix into the output text (seed bug 6). */
            lrt_msg_new(f, thought ? "reasoning_delta" : "output_text_delta");
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "text");
            lrt_msg_push(f);
            if (!thought)
                add_piece(L, f->state, "text_parts");
            else
                lua_pop(L, 1);
        } else {
            if (tt != LUA_TSTRING && tt != LUA_TNIL)
                turn_not_a(f, "a string", "serverContent.modelTurn.parts[%d].text", i, -1);
            lua_pop(L, 1);
        }
        code_parts(f, part, i);
        int it = object_type(L, lrt_getk(L, part, f->keys, LRT_K_INLINE_DATA));
        if (it != LUA_TTABLE && it != LUA_TNIL)
            turn_not_a(f, "an object", "serverContent.modelTurn.parts[%d].inlineData", i, -1);
        if (it == LUA_TTABLE) {
            int blob = lua_gettop(L);
            int mt = lrt_getk(L, blob, f->keys, LRT_K_MIME_TYPE);
            int dt = lrt_getk(L, blob, f->keys, LRT_K_DATA);
            const char *mime = mt == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            int audio = mime && strncasecmp(mime, "audio/", 6) == 0;
            if (audio && dt == LUA_TSTRING)
                lrt_map_audio_part(f, mime, lua_rawlen(L, blob + 1), blob + 2);
            else if (mt != LUA_TSTRING && mt != LUA_TNIL)
                turn_not_a(f, "a string", "serverContent.modelTurn.parts[%d].inlineData.mimeType",
                           i, -2);
            else if (audio && dt != LUA_TNIL)
                turn_not_a(f, "a string", "serverContent.modelTurn.parts[%d].inlineData.data", i,
                           -1);
        }
        lua_settop(L, parts);
    }
}

static void transcriptions(struct lrt_frame *f, int content)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);

    int it = object_type(L, lua_getfield(L, content, "inputTranscription"));
    if (it != LUA_TTABLE && it != LUA_TNIL)
        not_a(f, "an object", "serverContent.inputTranscription", 0, -1);
    if (it == LUA_TTABLE) {
        int t = lua_gettop(L);
        /* Deltas as they come, the whole transcript once `finished` (seed bug 5). */
        int tt = lua_getfield(L, t, "text");
        if (tt != LUA_TSTRING && tt != LUA_TNIL)
            not_string(f, "serverContent.inputTranscription.text", 0, -1);
        if (tt == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
            lrt_msg_new(f, "input_audio_transcription_delta");
            lua_pushnil(L);
            lua_setfield(L, -2, "response_id");
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "text");
            lrt_msg_push(f);
            add_piece(L, f->state, "input_parts");
        } else {
            lua_pop(L, 1);
        }
        if (lrt_map_flag(f, t, "finished", "serverContent.inputTranscription"))
            complete_input(f);
    }
    lua_settop(L, top);

    int ot = object_type(L, lua_getfield(L, content, "outputTranscription"));
    if (ot != LUA_TTABLE) {
        if (ot != LUA_TNIL)
            not_a(f, "an object", "serverContent.outputTranscription", 0, -1);
        lua_settop(L, top);
        return;
    }
    /* The model's speech starts: Vertex opens a turn with an empty outputTranscription
     * ({}), then sends the words. */
    lrt_ensure_response(f);
    int tt = lua_getfield(L, -1, "text");
    if (tt != LUA_TSTRING && tt != LUA_TNIL)
        not_string(f, "serverContent.outputTranscription.text", 0, -1);
    if (tt == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
        lrt_msg_new(f, "output_audio_transcription_delta");
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "text");
        lrt_msg_push(f);
        add_piece(L, f->state, "transcript_parts");
    }
    lua_settop(L, top);
}

/* Emits the input transcript still open, the *_done messages and response_done. */
static void end_turn(struct lrt_frame *f, int content, int usage)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);

    complete_input(f);

    lrt_ensure_response(f);
    lua_getfield(L, f->state, "text_parts");
    int any_text = lua_rawlen(L, -1) > 0;
    lua_getfield(L, f->state, "transcript_parts");
    int any_tr = lua_rawlen(L, -1) > 0;
    lua_pop(L, 2);
    if (any_text) {
        lrt_msg_new(f, "output_text_done");
        concat_pieces(L, f->state, "text_parts");
        lua_setfield(L, -2, "text");
        lrt_msg_push(f);
    }
    if (lrt_get_bool(L, f->state, "response_audio")) {
        lrt_msg_new(f, "output_audio_done");
        lrt_msg_push(f);
    }
    if (any_tr) {
        lrt_msg_new(f, "output_audio_transcription_done");
        concat_pieces(L, f->state, "transcript_parts");
        lua_setfield(L, -2, "text");
        lrt_msg_push(f);
    }

    /* turnCompleteReason other than "unspecified" or "needs more input" means the
     * model stopped short (rejected, malformed call, ...). */
    if (content && lua_getfield(L, content, "turnCompleteReason") == LUA_TSTRING) {
        const char *r = lua_tostring(L, -1);
        if (strcmp(r, "TURN_COMPLETE_REASON_UNSPECIFIED") != 0 &&
            strcmp(r, "NEED_MORE_INPUT") != 0)
            lua_setfield(L, f->state, "response_incomplete");
    }
    lua_settop(L, top);

    int m = lrt_msg_new(f, "response_done");
    const char *status = "completed";
    if (lrt_get_bool(L, f->state, "response_cancelled")) {
        status = "cancelled";
    } else if (lua_getfield(L, f->state, "response_incomplete") == LUA_TSTRING) {
        status = "incomplete";
        lua_setfield(L, m, "reason");
    }
    lua_settop(L, m);
    lrt_set_str(L, m, "status", status);
    if (usage)
        lua_pushvalue(L, usage);
    else
        lua_getfield(L, f->state, "response_usage");
    lua_setfield(L, m, "usage");
    lrt_msg_push(f);

    lua_getfield(L, f->state, "response_id");
    lua_setfield(L, f->state, "last_response_id");
    lua_pushnil(L);
    lua_setfield(L, f->state, "response_id");
    lua_pushnil(L);
    lua_setfield(L, f->state, "response_usage");
    lua_pushnil(L);
    lua_setfield(L, f->state, "response_incomplete");
    lrt_set_bool(L, f->state, "response_cancelled", 0);
    lrt_set_bool(L, f->state, "response_audio", 0);
    lrt_reset_parts(L, f->state);
    lua_settop(L, top);
}

/* ------------------------------------------------------------- dispatch */

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
    NAME("sessionResumptionUpdate"), NAME("usageMetadata"),
};
#define TOP_COUNT (sizeof top_names / sizeof top_names[0])

/* Pushes TOP_COUNT slots: the member of raw named top_names[i] when it is an object,
 * else nil; at[i] is its stack index or 0, and -1 for a member that is there but is not
 * an object. One pass over raw's keys: a frame has one or two, where six lookups by name
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

/* Reports the lone surrogate escapes the decoding read as U+FFFD. */
static void lrt_report_lone(struct lrt_frame *f, const struct lrt_json_fixes *fx)
{
    char more[48] = "";

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

    int deltas_only = content && model_turn_only(L, content);
    if (content) {
        model_parts(&f, content);
        lua_settop(L, base);
    }
    if (content && !deltas_only) {
        content_signals(&f, content);
        transcriptions(&f, content);
        if (lrt_map_flag(&f, content, "interrupted", "serverContent")) {
            /* Barge-in: the caller stops playback; the response ends "cancelled". One
             * cut before any of its content still is a response (its turnComplete
             * follows), and cancelled; right after a tool-call response none is opened:
             * the turnComplete that follows belongs to that one. */
            if (!lrt_responding(&f) && !lrt_get_bool(L, f.state, "after_tool_call"))
                lrt_ensure_response(&f);
            if (lrt_responding(&f))
                lrt_set_bool(L, f.state, "response_cancelled", 1);
            lrt_msg_new(&f, "interrupted");
            lrt_msg_push(&f);
        }
        turn_end = lrt_map_flag(&f, content, "turnComplete", "serverContent");
    }
    if (tc) {
        tool_end = lrt_map_tool_calls(&f, tc) > 0;
        lua_settop(L, base);
    }
    if (tcc) {
        lrt_map_cancellation(&f, tcc);
    }
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
        response_msg(&f, "waiting_for_input");
        lrt_msg_push(&f);
        lua_settop(L, usage ? usage : base);
    }
    if (turn_end || tool_end) {
        end_turn(&f, content, usage);
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
