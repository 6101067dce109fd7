/* serverContent -> neutral messages (part of map_server, see lrt_map_server.c for the
 * order within a frame and when a response starts and ends): the model's parts (text,
 * reasoning, audio, code), grounding, generation_complete, transcriptions, interrupted,
 * and the *_done messages and response_done that end a response. A protocol error about
 * the model's output (modelTurn, a part, a field of one) comes in the response that
 * output belongs to, opened first if need be. */
#include <string.h>
#include <strings.h>

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
    if (!any) {
        /* Details of pieces without text (their frames came as raw) end here too: kept,
         * they would join the next utterance's words and language. */
        lua_pushnil(L);
        lua_setfield(L, f->state, "input_details");
        return;
    }
    lrt_msg_new(f, "input_audio_transcription_completed");
    lua_pushnil(L);
    lua_setfield(L, -2, "response_id");
    concat_pieces(L, f->state, "input_parts");
    lua_setfield(L, -2, "text");
    lrt_map_transcript_complete(f, "input_details", lua_gettop(L));
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

/* The service may send generationComplete after a toolCall: the message then belongs
 * to the response that ended with the calls. */
int lrt_map_response_msg(struct lrt_frame *f, const char *type)
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
        int m = lrt_map_response_msg(f, "grounding");
        lua_pushvalue(L, top + 1);
        lua_setfield(L, m, "metadata");
        lrt_msg_push(f);
    } else if (t != LUA_TNIL) {
        not_a(f, "an object", "serverContent.groundingMetadata", 0, -1);
    }
    lua_settop(L, top);
    if (lrt_map_flag(f, content, "generationComplete", "serverContent")) {
        lrt_map_response_msg(f, "generation_complete");
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

/* interimInputTranscription -> input_audio_transcription_interim { text }: the user's
 * words so far, which the next interim or the final transcript replaces (revisable, so
 * never part of the transcript the deltas build). */
static void interim_input(struct lrt_frame *f, int content)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    int it = object_type(L, lua_getfield(L, content, "interimInputTranscription"));
    if (it != LUA_TTABLE && it != LUA_TNIL)
        not_a(f, "an object", "serverContent.interimInputTranscription", 0, -1);
    if (it == LUA_TTABLE) {
        int tt = lua_getfield(L, -1, "text");
        if (tt != LUA_TSTRING && tt != LUA_TNIL)
            not_string(f, "serverContent.interimInputTranscription.text", 0, -1);
        if (tt == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
            lrt_msg_new(f, "input_audio_transcription_interim");
            lua_pushnil(L);
            lua_setfield(L, -2, "response_id");
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "text");
            lrt_msg_push(f);
        }
    }
    lua_settop(L, top);
}

static void transcriptions(struct lrt_frame *f, int content)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);

    interim_input(f, content);
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
            int m = lrt_msg_new(f, "input_audio_transcription_delta");
            lua_pushnil(L);
            lua_setfield(L, -2, "response_id");
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "text");
            lrt_map_transcript_details(f, t, "serverContent.inputTranscription", m,
                                       "input_details");
            lrt_msg_push(f);
            add_piece(L, f->state, "input_parts");
        } else {
            lua_pop(L, 1);
            lrt_map_transcript_details(f, t, "serverContent.inputTranscription", 0,
                                       "input_details");
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
    int o = lua_gettop(L);
    int tt = lua_getfield(L, o, "text");
    if (tt != LUA_TSTRING && tt != LUA_TNIL)
        not_string(f, "serverContent.outputTranscription.text", 0, -1);
    if (tt == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
        int m = lrt_msg_new(f, "output_audio_transcription_delta");
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "text");
        lrt_map_transcript_details(f, o, "serverContent.outputTranscription", m,
                                   "output_details");
        lrt_msg_push(f);
        add_piece(L, f->state, "transcript_parts");
    } else {
        lrt_map_transcript_details(f, o, "serverContent.outputTranscription", 0,
                                   "output_details");
    }
    lua_settop(L, top);
}

void lrt_map_end_turn(struct lrt_frame *f, int content, int usage)
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
        lrt_map_transcript_complete(f, "output_details", lua_gettop(L));
        lrt_msg_push(f);
    }

    /* turnCompleteReason other than "unspecified" or "needs more input" means the
     * model stopped short (rejected, malformed call, ...). */
    if (content && lua_getfield(L, content, "turnCompleteReason") == LUA_TSTRING) {
        const char *r = lua_tostring(L, -1);
        /* a NUL byte (JSON's \u0000) makes it another reason, not the one it starts with */
        if (strlen(r) != lua_rawlen(L, -1) ||
            (strcmp(r, "TURN_COMPLETE_REASON_UNSPECIFIED") != 0 &&
             strcmp(r, "NEED_MORE_INPUT") != 0))
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

int lrt_map_server_content(struct lrt_frame *f, int content, int deltas_only)
{
    lua_State *L = f->L;
    int base = lua_gettop(L);

    model_parts(f, content);
    lua_settop(L, base);
    if (deltas_only)
        return 0;
    content_signals(f, content);
    transcriptions(f, content);
    if (lrt_map_flag(f, content, "interrupted", "serverContent")) {
        /* Barge-in: the caller stops playback; the response ends "cancelled". One
         * cut before any of its content still is a response (its turnComplete
         * follows), and cancelled; right after a tool-call response none is opened:
         * the turnComplete that follows belongs to that one. */
        if (!lrt_responding(f) && !lrt_get_bool(L, f->state, "after_tool_call"))
            lrt_ensure_response(f);
        lrt_map_end_streams(f);   /* the calls cut mid-stream are not answered */
        if (lrt_responding(f))
            lrt_set_bool(L, f->state, "response_cancelled", 1);
        lrt_msg_new(f, "interrupted");
        lrt_msg_push(f);
    }
    return lrt_map_flag(f, content, "turnComplete", "serverContent");
}
