/* Conversation items as clientContent turns: history on connect (map_history), items
 * sent with turn_complete, and assistant or system items (map_client calls in here).
 *
 * A turn is { role, parts }. Roles on the wire: user -> "user", assistant -> "model",
 * system -> "user" (turns have no system role; the system prompt is `instructions`).
 * Parts: text -> { text }, image and audio -> { inlineData = { mimeType, data } }.
 * A function result is never part of a turn: it answers a call through toolResponse.
 * @google/genai's sendClientContent sends the same shape (spec/golden/client_turn_*). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"

enum role { ROLE_USER, ROLE_ASSISTANT, ROLE_SYSTEM };

/* The item's role (nil counts as "user"); raises on anything else. */
static enum role item_role(lua_State *L, int item, const char *who)
{
    int t = lrt_user_field(L, item, "role");
    const char *role = lrt_map_enum(L, -1, "%s: role", who);
    int r = t == LUA_TNIL                            ? ROLE_USER
            : !role                                  ? -1
            : strcmp(role, "user") == 0              ? ROLE_USER
            : strcmp(role, "assistant") == 0         ? ROLE_ASSISTANT
            : strcmp(role, "system") == 0            ? ROLE_SYSTEM
                                                     : -1;
    lua_pop(L, 1);
    if (r < 0)
        luaL_error(L, "%s: 'role' must be \"user\", \"assistant\" or \"system\"", who);
    return (enum role)r;
}

int lrt_map_item_is_user(lua_State *L, int item)
{
    return item_role(L, lua_absindex(L, item), "conversation_item_create") == ROLE_USER;
}

void lrt_map_part_fields(lua_State *L, int part, const char *type, const char *who, int i)
{
    static const char *const text[] = { "type", "text", NULL };
    static const char *const media[] = { "type", "data", "mime", NULL };
    static const char *const result[] = { "type", "call_id", "result", "scheduling",
                                          "will_continue", "name", NULL };
    const char *k = lrt_map_unknown_field(L, part, strcmp(type, "text") == 0 ? text
                                                   : type[0] == 'f'         ? result
                                                                            : media);
    if (k)
        luaL_error(L, "%s: part %d (%s): unknown field %s", who, i, type, k);
}

/* Raises unless the mime type (n bytes) is free of control bytes: a NUL byte would cut
 * it short on the way out (hiding, say, a second rate=), and a CR, LF or tab would reach
 * the wire as given. */
static void check_mime_bytes(lua_State *L, const char *mime, size_t n, const char *who, int i)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)mime[k];
        if (c < 0x20 || c == 0x7f)
            luaL_error(L, "%s: part %d: mime type %s contains %s", who, i,
                       lrt_map_shown(L, mime, n), c ? "a control character" : "a NUL byte");
    }
}

/* Whether c may stand in an RFC 6838 restricted name (first: its first character). */
static int name_char(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return !first && c && strchr("!#$&-^_.+", c) != NULL;
}

/* Raises unless the subtype after the type (kind, checked already) is an RFC 6838
 * restricted name, followed by nothing or by parameters after ';': the service closes
 * the session on a mime type such as "audio/" (1007), so it is refused before sending. */
static void check_subtype(lua_State *L, const char *mime, size_t n, size_t kind_len,
                          const char *who, int i)
{
    size_t k = kind_len, sub;

    while (k < n && name_char(mime[k], k == kind_len))
        k++;
    sub = k - kind_len;
    while (k < n && mime[k] == ' ')
        k++;
    if (sub == 0 && (k == n || mime[k] == ';'))
        luaL_error(L, "%s: part %d: mime type %s has no subtype", who, i,
                   lrt_map_shown(L, mime, n));
    /* spaces only before parameters: "image/png " would go out with its space */
    if (sub == 0 || sub > 127 || (k < n && mime[k] != ';') || (k == n && k != kind_len + sub))
        luaL_error(L, "%s: part %d: mime type %s is not a media type (type/subtype of at "
                      "most 127 letters, digits and !#$&-^_.+ each, then any ;parameters)",
                   who, i, lrt_map_shown(L, mime, n));
}

/* Pushes the mime type (n bytes) with its type/subtype in lower case and returns it:
 * media types are case-insensitive (RFC 2045), but the service takes "image/" and
 * "audio/" only as written. Parameters stay as given. */
static const char *push_lower_type(lua_State *L, const char *mime, size_t n)
{
    size_t end = strcspn(mime, "; ");
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n);

    for (size_t k = 0; k < n; k++)
        p[k] = k < end && mime[k] >= 'A' && mime[k] <= 'Z' ? (char)(mime[k] - 'A' + 'a')
                                                          : mime[k];
    luaL_pushresultsize(&b, n);
    return lua_tostring(L, -1);
}

const char *lrt_map_part_media(lua_State *L, int state, int part, const char *who, int i,
                               const char *kind, const char *dflt, const char **data,
                               size_t *n)
{
    const char *mime = dflt;
    size_t mlen = strlen(dflt);
    int top = lua_gettop(L);

    if (kind[0] == 'a' && lua_getfield(L, state, "input_mime") == LUA_TSTRING)
        mime = lua_tolstring(L, -1, &mlen);   /* the session's rate-carrying default */
    int t = lrt_user_field(L, part, "mime");
    if (t == LUA_TSTRING)
        mime = lua_tolstring(L, -1, &mlen);
    else if (t != LUA_TNIL)
        luaL_error(L, "%s: part %d: 'mime' must be a string", who, i);
    check_mime_bytes(L, mime, mlen, who, i);
    if (strncasecmp(mime, kind, strlen(kind)) != 0)   /* case-insensitive (RFC 2045) */
        luaL_error(L, "%s: part %d: mime type %s is not %s*", who, i,
                   lrt_map_shown(L, mime, mlen), kind);
    /* else the encoder refuses it later, naming the wire field, not the part or method */
    if (!rt_utf8_valid(mime, mlen))
        luaL_error(L, "%s: part %d: mime type %s is not valid UTF-8", who, i,
                   lrt_map_shown(L, mime, mlen));
    check_subtype(L, mime, mlen, strlen(kind), who, i);
    int pcm = lrt_mime_is_pcm16(mime, mlen);
    lua_Integer rate = pcm ? lrt_mime_rate(mime, LRT_MIN_RATE) : 0;
    if (rate == -2)
        luaL_error(L, "%s: part %d: mime type %s: rate given twice", who, i,
                   lrt_map_shown(L, mime, mlen));
    if (rate < 0)
        luaL_error(L, "%s: part %d: mime type %s: the rate must be an integer from %d to "
                      "%d Hz", who, i, lrt_map_shown(L, mime, mlen), LRT_MIN_RATE,
                   LRT_MAX_RATE);
    if (lrt_user_field(L, part, "data") != LUA_TSTRING)
        luaL_error(L, "%s: part %d: 'data' must be a string of bytes", who, i);
    *data = lua_tolstring(L, -1, n);
    if (pcm && *n % 2)
        luaL_error(L, "%s: part %d: 16-bit PCM must have an even number of bytes (got %d)", who,
                   i, (int)(*n > 2147483647 ? 2147483647 : *n));
    if (pcm && lrt_pcm_is_wav(*data, *n))
        luaL_error(L, "%s: part %d: " LRT_WAV_AS_PCM, who, i);
    lua_settop(L, top);   /* mime stays alive: the state or the part holds it */
    return push_lower_type(L, mime, mlen);
}

/* Pushes { inlineData = { mimeType, data = base64 } } for an image or audio part. */
static void push_inline(lua_State *L, int state, int part, const char *who, int i,
                        const char *kind)
{
    const char *data;
    size_t n;
    const char *mime = lrt_map_part_media(L, state, part, who, i, kind,
                                          kind[0] == 'a' ? "audio/pcm;rate=16000"
                                                         : "image/jpeg",
                                          &data, &n);
    /* an empty part is a read that failed, more likely than a turn meant to be empty */
    if (n == 0)
        luaL_error(L, "%s: part %d: the %s is empty (0 bytes)", who, i,
                   kind[0] == 'i' ? "image" : "audio");
    lua_createtable(L, 0, 1);
    lua_createtable(L, 0, 2);
    lrt_set_str(L, -1, "mimeType", mime);
    lrt_push_base64(L, data, n);
    lua_setfield(L, -2, "data");
    lua_setfield(L, -2, "inlineData");
    lua_remove(L, -2);   /* the mime type lrt_map_part_media pushed */
}

/* Appends the wire part of content part i (the table at part) to the array at parts;
 * empty text adds nothing. */
static void add_part(lua_State *L, int state, int part, int parts, const char *who, int i)
{
    int tt = lrt_user_field(L, part, "type");
    if (tt == LUA_TNIL)
        luaL_error(L, "%s: part %d has no type", who, i);
    if (tt != LUA_TSTRING)
        luaL_error(L, "%s: part %d: 'type' must be a string, got %s", who, i, lua_typename(L, tt));
    const char *type = lrt_map_enum(L, -1, "%s: part %d: type", who, i);
    if (strcmp(type, "text") == 0 || strcmp(type, "image") == 0 || strcmp(type, "audio") == 0)
        lrt_map_part_fields(L, part, type, who, i);
    if (strcmp(type, "text") == 0) {
        size_t n;
        if (lrt_user_field(L, part, "text") != LUA_TSTRING)
            luaL_error(L, "%s: part %d: 'text' must be a string", who, i);
        const char *s = lua_tolstring(L, -1, &n);
        if (!rt_utf8_valid(s, n))
            luaL_error(L, "%s: part %d: text is not valid UTF-8", who, i);
        if (n > 0) {
            lua_createtable(L, 0, 1);
            lua_insert(L, -2);
            lua_setfield(L, -2, "text");
            lrt_map_append(L, parts);
        } else {
            lua_pop(L, 1);
        }
    } else if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
        push_inline(L, state, part, who, i, type[0] == 'i' ? "image/" : "audio/");
        lrt_map_append(L, parts);
    } else if (strcmp(type, "function_result") == 0) {
        luaL_error(L, "%s: part %d: a function_result answers a call (send it without "
                      "turn_complete, as a user item); it cannot be part of a turn", who, i);
    } else {
        luaL_error(L, "%s: unknown content part type %s (expected text, image or audio)", who,
                   lrt_map_shown(L, type, strlen(type)));
    }
    lua_pop(L, 1);   /* the type */
}

/* Pushes the turn { role, parts } of the item at item, or nothing and returns 0 when it
 * has no content. text_ok: the shorthand { role =, text = } is accepted. */
static int push_turn(lua_State *L, int state, int item, const char *who, int text_ok)
{
    static const char *const fields[] = { "role", "content", "text", NULL };
    const char *k = lrt_map_unknown_field(L, item, fields);
    if (k)
        luaL_error(L, "%s: unknown field %s", who, k);
    enum role role = item_role(L, item, who);
    int top = lua_gettop(L);
    lrt_json_newarray(L, 0);
    int parts = lua_gettop(L);

    int tt = lrt_user_field(L, item, "text");
    int ct = lrt_user_field(L, item, "content");
    if (tt != LUA_TNIL && (!text_ok || ct != LUA_TNIL))
        luaL_error(L, text_ok ? "%s: give either 'text' or 'content'"
                              : "%s: 'item.text' is not a field (use content = {{ type = "
                                "\"text\", text = ... }})", who);
    if (tt != LUA_TNIL) {
        /* checked here: add_part would name a "part 1" the caller never wrote */
        size_t n;
        if (tt != LUA_TSTRING)
            luaL_error(L, "%s: 'text' must be a string, got %s", who, lua_typename(L, tt));
        const char *s = lua_tolstring(L, parts + 1, &n);
        if (!rt_utf8_valid(s, n))
            luaL_error(L, "%s: 'text' is not valid UTF-8", who);
        lua_createtable(L, 0, 2);
        lrt_set_str(L, -1, "type", "text");
        lua_pushvalue(L, parts + 1);
        lua_setfield(L, -2, "text");
        add_part(L, state, lua_gettop(L), parts, who, 1);
    } else if (ct == LUA_TTABLE) {
        int content = parts + 2;
        lua_Integer n = lrt_map_list_len(L, content, who, "'content'");
        for (lua_Integer k = 1; k <= n; k++) {
            if (lua_rawgeti(L, content, k) != LUA_TTABLE)
                luaL_error(L, "%s: part %d is not a table", who, (int)k);
            add_part(L, state, lua_gettop(L), parts, who, (int)k);
            lua_pop(L, 1);
        }
    } else if (ct != LUA_TNIL || text_ok) {
        /* a conversation item may leave content out: with turn_complete it only ends the
           turn, clientContent = { turnComplete = true }; without, nothing goes out
           (lrt_map_turn) */
        luaL_error(L, text_ok ? "%s: expected 'text' or 'content' (a list of parts)"
                              : "%s: 'item.content' must be a list of parts", who);
    }
    lua_settop(L, parts);
    if (lua_rawlen(L, parts) == 0) {
        lua_settop(L, top);
        return 0;
    }
    lua_createtable(L, 0, 2);
    lrt_set_str(L, -1, "role", role == ROLE_ASSISTANT ? "model" : "user");
    lua_insert(L, -2);
    lua_setfield(L, -2, "parts");
    return 1;
}

/* Pushes {"clientContent":{"turns":<array on top>,"turnComplete":tc}} as JSON text,
 * popping the array; no "turns" key when the array is empty. */
static void push_client_content(lua_State *L, int turn_complete)
{
    lua_createtable(L, 0, 2);
    if (lua_rawlen(L, -2) > 0) {
        lua_insert(L, -2);
        lua_setfield(L, -2, "turns");
    } else {
        lua_remove(L, -2);
    }
    lrt_set_bool(L, -1, "turnComplete", turn_complete);
    lua_createtable(L, 0, 1);
    lua_insert(L, -2);
    lua_setfield(L, -2, "clientContent");
    lrt_json_encode_ex(L, -1, LRT_JSON_WIRE_DEPTH, NULL);
    lua_remove(L, -2);
}

void lrt_map_turn(lua_State *L, int state, int item, int turn_complete, int out)
{
    item = lua_absindex(L, item);
    lrt_json_newarray(L, 1);
    if (push_turn(L, state, item, "conversation_item_create", 0)) {
        lua_rawseti(L, -2, 1);
    } else if (!turn_complete) {
        /* no content and no turn to end: a bare clientContent would only cut the model
         * off (the service takes it as the user's turn) */
        lua_pop(L, 1);
        return;
    }
    push_client_content(L, turn_complete);
    lrt_map_append(L, out);
    /* the model answers what it has seen, images included */
    if (turn_complete)
        lrt_set_bool(L, state, "media_trigger", 0);
}

/* core.map_history(state, items) -> JSON text of one clientContent holding every turn,
 * or nil when no item has content. turnComplete is true on the Gemini API (the setup
 * carries historyConfig: the service takes it as initial history, no model call) and
 * false on Vertex (context the model does not answer). */
int lrt_map_history(lua_State *L)
{
    char who[48];
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2), kept = 0;

    lrt_json_newarray(L, (int)n);
    int turns = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        snprintf(who, sizeof who, "option 'history': item %d", (int)i);
        if (lua_rawgeti(L, 2, i) != LUA_TTABLE)
            luaL_error(L, "%s is not a table", who);
        if (push_turn(L, 1, lua_gettop(L), who, 1))
            lua_rawseti(L, turns, ++kept);
        lua_settop(L, turns);
    }
    if (kept == 0)
        return 0;
    push_client_content(L, !lrt_map_vertex(L, 1));
    return 1;
}
