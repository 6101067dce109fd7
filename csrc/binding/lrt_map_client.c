/* Neutral client messages -> wire frames (map_client).
 *
 * User input goes through realtimeInput: Gemini 3.1-class models close the socket on a
 * clientContent sent mid-session (seed bug 11), and realtimeInput.text starts a reply
 * by itself. clientContent turns (lrt_map_content.c) go out only when asked for: an
 * item with turn_complete, and assistant or system items, which are context and must
 * never be taken as the user's question. Decisions that the references leave open:
 *
 * - Adjacent text parts of an item are one user message: they go out joined, as given
 *   (no separator), in one realtimeInput.text. Each realtimeInput.text starts a reply by
 *   itself, so a frame per part had the model answer, or barge in on, each fragment.
 *   An image or audio part between them splits the run, keeping the parts' order.
 * - Image parts go out as realtimeInput.video. An image with no text after it gives the
 *   model nothing to answer, so the next response_create sends the trigger
 *   {"realtimeInput":{"text":" "}}: a single space is the smallest text turn, it works
 *   on every model (seed A's finding), and it avoids clientContent.
 * - Audio parts are a whole clip, so they are framed like an append + commit (seed bug
 *   10: unframed audio under manual detection gets the socket closed): activityStart,
 *   the audio in chunks of at most 32,000 bytes, activityEnd when automatic activity
 *   detection is off; the chunks then audioStreamEnd (Gemini) or nothing (Vertex) when
 *   it is on. Either way the model answers by itself, so no trigger is armed.
 * - Function results are buffered and sent, all together, on response_create as one
 *   toolResponse and nothing else (no turnComplete: the server goes on by itself).
 *   A result whose call id we made up (the server sent none) goes out without an id.
 *   Strings in a result that are not UTF-8 are bytes: they go out in base64, as the
 *   .NET seeds send byte arrays (JSON text cannot carry them). A result part is
 *   checked and buffered in lrt_map_result.c. */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "rt_wire.h"

/* Encodes the table on top, appends the text to the frame list at out, pops the table. */
static void emit(lua_State *L, int out)
{
    lrt_json_encode_ex(L, -1, LRT_JSON_WIRE_DEPTH, NULL);
    lrt_map_append(L, out);
    lua_pop(L, 1);
}

/* Pushes {"realtimeInput":{<key>=<value on top>}}, popping the value. */
static void realtime_input(lua_State *L, const char *key)
{
    lua_createtable(L, 0, 1);
    lua_insert(L, -2);
    lua_setfield(L, -2, key);
    lua_createtable(L, 0, 1);
    lua_insert(L, -2);
    lua_setfield(L, -2, "realtimeInput");
}

static void emit_literal(lua_State *L, int out, const char *json)
{
    lua_pushstring(L, json);
    lrt_map_append(L, out);
}

/* Pushes {data = base64(bytes), mimeType = mime}. */
static void push_blob(lua_State *L, const char *data, size_t n, const char *mime)
{
    lua_createtable(L, 0, 2);
    lrt_push_base64(L, data, n);
    lua_setfield(L, -2, "data");
    lrt_set_str(L, -1, "mimeType", mime);
}

/* Checks a text part and adds its text to the run of texts at index run (a list). */
static void text_part(lua_State *L, int run, int part, int i)
{
    size_t n;
    if (lrt_user_field(L, part, "text") != LUA_TSTRING)
        luaL_error(L, "conversation_item_create: part %d: 'text' must be a string", i);
    const char *s = lua_tolstring(L, -1, &n);
    if (!rt_utf8_valid(s, n))
        luaL_error(L, "conversation_item_create: part %d: text is not valid UTF-8", i);
    if (n == 0) {
        lua_pop(L, 1);
        return;
    }
    lua_rawseti(L, run, (lua_Integer)lua_rawlen(L, run) + 1);
}

/* Sends the run of texts at index run, joined, as one realtimeInput.text, and empties
 * the run; nothing when it is empty. */
static void flush_text(lua_State *L, int state, int run, int out)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, run);
    luaL_Buffer b;

    if (n == 0)
        return;
    luaL_buffinit(L, &b);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, run, k);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    realtime_input(L, "text");
    emit(L, out);
    lua_newtable(L);
    lua_replace(L, run);
    /* The text starts a response that sees the media sent before it. */
    lrt_set_bool(L, state, "media_trigger", 0);
    lrt_set_bool(L, state, "turn_end", 1);
}

static void image_part(lua_State *L, int state, int part, int i, int out)
{
    size_t n;
    const char *data;
    const char *mime = lrt_map_part_media(L, state, part, "conversation_item_create", i,
                                          "image/", "image/jpeg", &data, &n);
    if (n == 0)   /* the service would get a video frame with nothing in it */
        luaL_error(L, "conversation_item_create: part %d: the image is empty (0 bytes)", i);
    push_blob(L, data, n, mime);
    realtime_input(L, "video");
    emit(L, out);
    lrt_set_bool(L, state, "media_trigger", 1);
}

static void audio_part(lua_State *L, int state, int part, int i, int out)
{
    size_t n, len;
    const char *data;
    const char *mime = lrt_map_part_media(L, state, part, "conversation_item_create", i,
                                          "audio/", "audio/pcm;rate=16000", &data, &n);
    int manual = lrt_get_bool(L, state, "vad_manual");

    if (n == 0)   /* a clip with nothing in it: no answer would ever come */
        luaL_error(L, "conversation_item_create: part %d: the audio is empty (0 bytes)", i);
    if (!rt_wire_mime_ok(mime))
        luaL_error(L, "conversation_item_create: part %d: audio mime type contains characters "
                   "JSON would escape", i);
    /* Framed like an append and a commit, with the core's own wire text. */
    if (manual)
        emit_literal(L, out, rt_wire_control_text(RT_WIRE_ACTIVITY_START, &len));
    for (size_t off = 0; off < n; off += RT_WIRE_AUDIO_CHUNK) {
        size_t k = n - off < RT_WIRE_AUDIO_CHUNK ? n - off : RT_WIRE_AUDIO_CHUNK;
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, rt_wire_audio_len(k, mime));
        luaL_pushresultsize(&b, rt_wire_audio_text(p, data + off, k, mime));
        lrt_map_append(L, out);
    }
    if (manual)   /* the core marks the turn's end when it queues an activityEnd */
        emit_literal(L, out, rt_wire_control_text(RT_WIRE_ACTIVITY_END, &len));
    else if (!lrt_map_vertex(L, state))
        emit_literal(L, out, rt_wire_control_text(RT_WIRE_AUDIO_STREAM_END, &len));
    if (!manual)
        lrt_set_bool(L, state, "turn_end", 1);
}

/* A transcription session hands over nothing the model says: text, images, turns and
 * response requests would reach the model alone, so they raise (`what` names the
 * message or part). */
#define LRT_AUDIO_ONLY "a transcription session takes audio only (it transcribes the user; " \
                       "the model's answers are never read)"

static void audio_only(lua_State *L, int state, const char *what)
{
    if (lrt_get_bool(L, state, "transcription"))
        luaL_error(L, "%s: " LRT_AUDIO_ONLY, what);
}

/* Returns 0, or 1 with a message pushed (a request the backend cannot honour). */
static int item_create(lua_State *L, int state, int msg, int out)
{
    static const char *const fields[] = { "type", "item", "turn_complete", NULL };
    static const char *const item_fields[] = { "role", "content", "text", NULL };
    const char *k = lrt_map_unknown_field(L, msg, fields);
    if (k)
        luaL_error(L, "conversation_item_create: unknown field %s", k);
    if (lrt_user_field(L, msg, "item") != LUA_TTABLE)
        luaL_error(L, "conversation_item_create: 'item' must be a table");
    int item = lua_gettop(L);
    if ((k = lrt_map_unknown_field(L, item, item_fields)) != NULL)
        luaL_error(L, "conversation_item_create: 'item' has an unknown field %s", k);
    int tc = lrt_user_field(L, msg, "turn_complete");
    lua_pop(L, 1);
    if (tc != LUA_TNIL && tc != LUA_TBOOLEAN)
        luaL_error(L, "conversation_item_create: 'turn_complete' must be a boolean");
    if (tc != LUA_TNIL || !lrt_map_item_is_user(L, item)) {
        /* an explicit turn, or context from the assistant or the system */
        int complete = lrt_user_bool(L, msg, "turn_complete");
        size_t before = lua_rawlen(L, out);
        audio_only(L, state, "conversation_item_create");
        lrt_map_turn(L, state, item, complete, out);
        if (complete)
            lrt_set_bool(L, state, "turn_end", 1);
        if (lua_rawlen(L, out) > before)   /* a clientContent went out: it ends or opens */
            lrt_set_bool(L, state, "turn_open", !complete);
        return 0;
    }
    if (lrt_user_field(L, item, "text") != LUA_TNIL)
        luaL_error(L, "conversation_item_create: 'item.text' is not a field (use content = "
                      "{{ type = \"text\", text = ... }})");
    lua_pop(L, 1);
    int ct = lrt_user_field(L, item, "content");
    if (ct == LUA_TNIL)
        return 0;                 /* no content: an empty list, nothing to send */
    if (ct != LUA_TTABLE)
        luaL_error(L, "conversation_item_create: 'item.content' must be a list of parts");
    int content = lua_gettop(L);
    lua_Integer n = lrt_map_list_len(L, content, "conversation_item_create", "'item.content'");
    lua_newtable(L);   /* the run of adjacent texts not sent yet */
    int run = lua_gettop(L);

    for (lua_Integer k = 1; k <= n; k++) {
        int i = (int)k;
        if (lua_rawgeti(L, content, k) != LUA_TTABLE)
            luaL_error(L, "conversation_item_create: part %d is not a table", i);
        int part = lua_gettop(L);
        int tt = lrt_user_field(L, part, "type");
        if (tt == LUA_TNIL)
            luaL_error(L, "conversation_item_create: part %d has no type", i);
        if (tt != LUA_TSTRING)
            luaL_error(L, "conversation_item_create: part %d: 'type' must be a string, got %s", i,
                       lua_typename(L, tt));
        const char *type = lrt_map_enum(L, -1, "conversation_item_create: part %d: type", i);
        if (strcmp(type, "text") == 0 || strcmp(type, "image") == 0 ||
            strcmp(type, "audio") == 0 || strcmp(type, "function_result") == 0)
            lrt_map_part_fields(L, part, type, "conversation_item_create", i);
        if (strcmp(type, "audio") != 0 && lrt_get_bool(L, state, "transcription"))
            luaL_error(L, "conversation_item_create: part %d (%s): " LRT_AUDIO_ONLY, i, type);
        if (strcmp(type, "text") == 0)
            text_part(L, run, part, i);
        else if (strcmp(type, "image") == 0) {
            flush_text(L, state, run, out);
            image_part(L, state, part, i, out);
        } else if (strcmp(type, "audio") == 0) {
            flush_text(L, state, run, out);
            audio_part(L, state, part, i, out);
        } else if (strcmp(type, "function_result") == 0) {
            if (lrt_map_result_part(L, state, part, i))
                return 1;
        } else
            luaL_error(L, "conversation_item_create: unknown content part type %s (expected "
                          "text, image, audio or function_result)",
                       lrt_map_shown(L, type, strlen(type)));
        lua_settop(L, run);
    }
    flush_text(L, state, run, out);
    return 0;
}

/* Sets answer_rx (see lrt_map.h) for the toolResponse of pending at index at of the wire
 * array, when one of its answers is to a made-up id. */
static void note_answer_rx(lua_State *L, int state, int pending, lua_Integer at)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, pending);
    int any = 0;

    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, pending, i);
        lua_Integer rx = lrt_get_int(L, -1, "rx");
        lua_pop(L, 1);
        any |= rx > 0;
        lua_pushinteger(L, rx > 0 ? rx : 0);
        lua_rawseti(L, -2, i);
    }
    if (!any) {
        lua_pop(L, 1);
        return;
    }
    lua_setfield(L, state, "answer_rx");
    lrt_set_int(L, state, "answer_rx_at", at);
}

/* Whether the call of the pending answer at entry has given its id to a later call
 * (whose message number call_rx at rx holds now). */
static int reused_id(lua_State *L, int entry, int rx)
{
    int reused;
    if (lua_getfield(L, entry, "call_at") == LUA_TNIL || lua_type(L, rx) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_getfield(L, entry, "id");
    reused = lua_rawget(L, rx) != LUA_TNIL && !lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return reused;
}

static void response_create(lua_State *L, int state, int out)
{
    lua_pushnil(L);
    lua_setfield(L, state, "answer_rx");
    lua_getfield(L, state, "pending");
    int pending = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, pending);

    if (n > 0) {
        luaL_Buffer b;
        lua_getfield(L, state, "calls");
        lua_getfield(L, state, "generated_ids");
        lua_getfield(L, state, "call_rx");
        int calls = pending + 1, made_up = pending + 2, rx = pending + 3;
        /* Answered calls leave the maps before the buffer takes the stack top; a call
         * whose result said more will follow stays, and so does a later call that
         * reuses the id (read ahead while the answer waited): it is a new call, still
         * to be answered. */
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, pending, i);
            if (lrt_get_bool(L, -1, "keep") || reused_id(L, lua_gettop(L), rx)) {
                lua_pop(L, 1);
                continue;
            }
            lua_getfield(L, -1, "id");
            lua_pushnil(L);
            lua_rawset(L, calls);
            lua_getfield(L, -1, "id");
            lua_pushnil(L);
            lua_rawset(L, made_up);
            lua_pop(L, 1);
        }
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "{\"toolResponse\":{\"functionResponses\":[");
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                luaL_addchar(&b, ',');
            lua_rawgeti(L, pending, i);
            lua_getfield(L, -1, "json");
            lua_remove(L, -2);
            luaL_addvalue(&b);
        }
        luaL_addstring(&b, "]}}");
        luaL_pushresult(&b);
        lrt_map_append(L, out);
        note_answer_rx(L, state, pending, (lua_Integer)lua_rawlen(L, out));
        lua_newtable(L);
        lua_setfield(L, state, "pending");
        lrt_set_bool(L, state, "media_trigger", 0);
    } else if (lrt_get_bool(L, state, "turn_open")) {
        /* the last clientContent left its turn open: the model answers once it ends */
        emit_literal(L, out, "{\"clientContent\":{\"turnComplete\":true}}");
        lrt_set_bool(L, state, "turn_open", 0);
        lrt_set_bool(L, state, "media_trigger", 0);
        lrt_set_bool(L, state, "turn_end", 1);
    } else if (lrt_get_bool(L, state, "media_trigger")) {
        emit_literal(L, out, "{\"realtimeInput\":{\"text\":\" \"}}");
        lrt_set_bool(L, state, "media_trigger", 0);
        lrt_set_bool(L, state, "turn_end", 1);
    }
    lua_settop(L, pending - 1);
}

static void raw_message(lua_State *L, int msg, int out)
{
    static const char *const fields[] = { "type", "wire", NULL };
    const char *k = lrt_map_unknown_field(L, msg, fields);
    if (k)
        luaL_error(L, "raw: unknown field %s", k);
    int t = lrt_user_field(L, msg, "wire");
    if (t == LUA_TTABLE) {
        /* a client message is a JSON object: a list would be refused by the server */
        lrt_json_encode_ex(L, -1, LRT_JSON_WIRE_DEPTH, "wire");
        if (lua_tostring(L, -1)[0] != '{')
            luaL_error(L, "raw: 'wire' must be a table that is a JSON object (string keys), "
                          "not a list");
        lrt_map_append(L, out);
        lua_pop(L, 1);
    } else if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (lrt_json_check_object(L, s, n) != 0)
            luaL_error(L, "raw: 'wire' must be the text of a JSON object: it is %s",
                       lua_tostring(L, -1));
        lrt_map_append(L, out);
    } else {
        luaL_error(L, "raw: 'wire' must be a table or a JSON string");
    }
}

void lrt_map_client_unflush(lua_State *L, int state, int old_pending, int old_trigger)
{
    int top = lua_gettop(L);
    state = lua_absindex(L, state);
    old_pending = lua_absindex(L, old_pending);
    lrt_set_bool(L, state, "media_trigger", old_trigger);
    lua_getfield(L, state, "pending");
    int flushed = !lua_rawequal(L, -1, old_pending);
    lua_pop(L, 1);
    if (!flushed)
        return;
    lua_pushvalue(L, old_pending);
    lua_setfield(L, state, "pending");
    lua_getfield(L, state, "calls");
    lua_getfield(L, state, "generated_ids");
    int calls = top + 1, made_up = top + 2;
    lua_Integer n = (lua_Integer)lua_rawlen(L, old_pending);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, old_pending, i);
        lua_getfield(L, -1, "id");
        lua_getfield(L, -2, "name");
        lua_rawset(L, calls);
        if (lrt_get_bool(L, -1, "made_up")) {
            lua_getfield(L, -1, "id");
            lua_pushboolean(L, 1);
            lua_rawset(L, made_up);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
}

/* core.map_client(state, msg) -> { json, ... } | nil, message, "unsupported" */
int lrt_map_client(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    const int state = 1, msg = 2;

    if (lrt_user_field(L, msg, "type") != LUA_TSTRING)
        return luaL_error(L, "message type must be a string");
    const char *type = lrt_map_enum(L, -1, "message type");
    lua_newtable(L);
    int out = lua_gettop(L);

    if (strcmp(type, "conversation_item_create") == 0) {
        if (item_create(L, state, msg, out)) {
            lua_pushnil(L);
            lua_insert(L, -2);
            lua_pushliteral(L, "unsupported");
            return 3;
        }
    } else if (strcmp(type, "response_create") == 0) {
        /* The Live API fixes the response settings at setup; an override would be lost. */
        lua_pushnil(L);
        while (lua_next(L, msg)) {
            lua_pop(L, 1);
            const char *k = lrt_map_enum(L, -1, "response_create: field");
            if (!k || strcmp(k, "type") != 0) {
                lua_pushnil(L);
                lua_pushfstring(L, "response_create overrides ('%s') are not supported by the "
                                   "Live API: the setup fixes how the model answers",
                                lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
                lua_pushliteral(L, "unsupported");
                return 3;
            }
        }
        audio_only(L, state, "response_create");
        response_create(L, state, out);
    } else if (strcmp(type, "raw") == 0) {
        raw_message(L, msg, out);
    } else if (strcmp(type, "session_update") == 0) {
        /* Reported, not ignored (seed bug 16): the Live API fixes the setup at connect. */
        lua_pushnil(L);
        lua_pushliteral(L, "session_update is not supported by the Live API");
        lua_pushliteral(L, "unsupported");
        return 3;
    } else if (strcmp(type, "input_audio_buffer_append") == 0 ||
               strcmp(type, "input_audio_buffer_commit") == 0) {
        return luaL_error(L, "BUG: audio goes through the core");
    } else {
        return luaL_error(L, "unknown message type %s", lrt_map_shown(L, type, strlen(type)));
    }
    lua_settop(L, out);
    return 1;
}
