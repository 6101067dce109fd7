/* A tool handler's outcome made into what the model reads: the traceback handler, the
 * error result of a handler that raised, the check of a handler's options, and the
 * buffering of a result through map_client (lrt_dispatch.c runs the handlers; tools.lua's
 * late answers use the same checks and words through core._tool_*). */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_private.h"
#include "lrt_receive.h"

/* Message handler for tool handlers: "message\nstack traceback:..." */
int lrt_traceback(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
        lua_pushvalue(L, 1);
    } else if (!luaL_callmeta(L, 1, "__tostring") || lua_type(L, -1) != LUA_TSTRING) {
        lua_settop(L, 1);
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    /* the message as a Lua string, joined after: luaL_traceback takes a C string, which
     * would end it at its first NUL byte */
    luaL_traceback(L, L, NULL, 1);
    lua_pushliteral(L, "\n");
    lua_rotate(L, -2, 1);
    lua_concat(L, 3);
    return 1;
}

/* If the message at idx is the _done of a function call, pushes its call part and
 * returns 1; else returns 0. */
int lrt_function_call_part(lua_State *L, int idx)
{
    const char *type;
    lua_getfield(L, idx, "type");
    type = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (!type || strcmp(type, "response_output_item_done") != 0)
        return 0;
    if (lua_getfield(L, idx, "item") != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_getfield(L, -1, "content") != LUA_TTABLE) {
        lua_pop(L, 2);
        return 0;
    }
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_getfield(L, -1, "type");
    type = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (!type || strcmp(type, "function_call") != 0) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static void lrt_push_error_table(lua_State *L, int idx);
static const char *lrt_options_why(lua_State *L, int idx);

/* core._tool_error_result(message) -> { error = ... }: what the model gets for a handler
 * that raised, for the late answers of non_blocking handlers (tools.lua). */
int lrt_tool_error_result(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    lrt_push_error_table(L, 1);
    return 1;
}

/* core._tool_options_fault(opts, name) -> nil, or "tool 'name': handler's options: ...":
 * the dispatch's check of a handler's second value, for the late answers (tools.lua). */
int lrt_tool_options_fault(lua_State *L)
{
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 2);
    const char *why = lrt_options_why(L, 1);
    if (!why)
        return 0;
    lua_pushfstring(L, "tool '%s': handler's options: %s", name, why);
    return 1;
}

/* Pushes { error = <first line of the message at idx> } for the model; the whole
 * message (with its traceback) goes to msg.error_traceback for the log. The text is
 * made valid UTF-8 (a bad byte becomes U+FFFD): bytes would go out in base64, which
 * the model cannot read as an error. */
static void lrt_push_error_table(lua_State *L, int idx)
{
    static const char tb[] = "\nstack traceback:";
    size_t n;
    const char *full = lua_tolstring(L, idx, &n);
    const char *cut = NULL, *p = full;

    /* the last one is lrt_traceback's (the message may hold NULs, or these words) */
    while (p && (p = memmem(p, n - (size_t)(p - full), tb, sizeof tb - 1)) != NULL)
        cut = p++;
    lua_createtable(L, 0, 1);
    if (full)
        lrt_push_utf8_fixed(L, full, cut ? (size_t)(cut - full) : n);
    else
        lua_pushliteral(L, "tool handler failed");
    lua_setfield(L, -2, "error");
}

void lrt_error_result(lua_State *L, int idx, int msg)
{
    lrt_push_error_table(L, idx);
    lua_pushliteral(L, "tool handler failed: ");
    lua_pushvalue(L, idx);
    lua_concat(L, 2);
    lua_setfield(L, msg, "error_traceback");
}

const char *lrt_call_where(lua_State *L, int msg)
{
    int top = lua_gettop(L);
    const char *name = NULL, *id = NULL;

    if (lrt_function_call_part(L, msg)) {
        lua_getfield(L, -1, "name");   /* one of the tools declared: checked at connect */
        name = lua_tostring(L, -1);
        /* the server's id, shown escaped and cut: it may hold any bytes, and the text
         * goes to the caller and to the log */
        if (lua_getfield(L, -2, "call_id") == LUA_TSTRING)
            id = lrt_map_shown(L, lua_tostring(L, -1), lua_rawlen(L, -1));
    }
    lua_pushfstring(L, "tool '%s' (call %s)", name ? name : "?", id ? id : "?");
    lua_insert(L, top + 1);            /* below what the lookups left, which goes */
    lua_settop(L, top + 1);
    return lua_tostring(L, -1);
}

/* Prefixes the mapping's refusal at why ("will_continue is not supported ...") with the
 * tool and the call it answers, and logs it with the message at msg: the same words a
 * non_blocking handler that waited gets (tools.lua), where several calls of one server
 * message would otherwise leave the caller guessing whose options were refused. */
static void lrt_name_refusal(lua_State *L, int msg, int why)
{
    lrt_call_where(L, msg);
    lua_pushliteral(L, ": ");
    lua_pushvalue(L, why);
    lua_concat(L, 3);
    lua_replace(L, why);
    /* nothing else of this call's is logged: a handler that failed or whose options were
     * refused never gets here (the options are dropped with it) */
    if (lua_getfield(L, msg, "error_traceback") == LUA_TNIL) {
        lua_pushvalue(L, why);
        lua_setfield(L, msg, "error_traceback");
    }
    lua_pop(L, 1);
}

/* The result at result is larger than the session's whole send queue (the message on
 * top says so): it can never be queued, and nobody else will answer the call, so the
 * model gets an error result in its place (its text names the bound), and the caller an
 * error message "busy" ("tool response not sent: ...", the words of a response the
 * queue refused), which names the call. Pops the message. */
static void lrt_result_too_large(lua_State *L, int msg, int result)
{
    int why = lua_gettop(L);
    const char *name = NULL;

    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "error");
    lua_setfield(L, -2, "type");
    lua_pushliteral(L, "busy");
    lua_setfield(L, -2, "code");
    lua_pushfstring(L, "tool response not sent: %s: the result of %s can never be queued; "
                       "the model got an error result instead", lua_tostring(L, why),
                    lrt_call_where(L, msg));
    lua_remove(L, -2);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, SLOT_MSGS, (lua_Integer)lua_rawlen(L, SLOT_MSGS) + 1);
    if (lrt_function_call_part(L, msg)) {
        lua_getfield(L, -1, "name");
        name = lua_tostring(L, -1);
    }
    lua_pushfstring(L, "tool '%s': its result cannot be sent: %s", name ? name : "?",
                    lua_tostring(L, why));
    lrt_error_result(L, lua_gettop(L), msg);
    lua_replace(L, result);
    lua_settop(L, why - 1);
}

/* Buffers the result at result for the call of the message at msg, with the handler's
 * options table at opts (0: none), through map_client, in protected mode: options the
 * mapping refuses turn into an error result, and a request the backend cannot honour
 * (will_continue = true on Vertex) into an error message for the caller, the result
 * going out without it; so does a result larger than max_queue_bytes (the mapping's
 * encodes stop there). Each turn drops what the last refused, so three always end with
 * a result buffered: the last is an error result without options. */
void lrt_buffer_result(lua_State *L, int msg, int result, int opts)
{
    static const char *const fields[] = { "scheduling", "will_continue", NULL };
    size_t bound = lrt_session_arg(L, SLOT_SELF)->max_queue;
    for (int attempt = 0; attempt < 3; attempt++) {
        int top = lua_gettop(L);
        lrt_push_module(L);
        lua_getfield(L, -1, "map_client");
        lua_remove(L, -2);
        lua_pushvalue(L, SLOT_MAP);
        lua_createtable(L, 0, 2);
        lua_pushliteral(L, "conversation_item_create");
        lua_setfield(L, -2, "type");
        lua_createtable(L, 0, 2);
        lua_pushliteral(L, "user");
        lua_setfield(L, -2, "role");
        lua_createtable(L, 1, 0);
        lua_createtable(L, 0, 5);
        lua_pushliteral(L, "function_result");
        lua_setfield(L, -2, "type");
        lrt_function_call_part(L, msg);
        lua_getfield(L, -1, "call_id");
        lua_setfield(L, -3, "call_id");
        lua_pop(L, 1);
        lua_pushvalue(L, result);
        lua_setfield(L, -2, "result");
        for (int k = 0; opts && fields[k]; k++) {
            if (attempt > 0 && strcmp(fields[k], "will_continue") == 0)
                continue;
            lrt_user_field(L, opts, fields[k]);   /* a strict table's raise: absent */
            lua_setfield(L, -2, fields[k]);
        }
        lua_rawseti(L, -2, 1);
        lua_setfield(L, -2, "content");
        lua_setfield(L, -2, "item");
        int status = lrt_json_pcall_bounded(L, bound, 2, 3);
        if (status == LUA_ERRMEM)
            lua_error(L);
        if (status == LRT_JSON_OVERRUN) {
            lrt_result_too_large(L, msg, result);
            lua_settop(L, top);
            opts = 0;
            continue;
        }
        if (status != LUA_OK) {
            /* a result JSON cannot carry (NaN, a function, a cycle, ...) or options the
             * mapping refused: the model hears why, with the tool's name; so does the log */
            int why = lua_gettop(L);
            const char *name = NULL;
            if (lrt_function_call_part(L, msg)) {
                lua_getfield(L, -1, "name");
                name = lua_tostring(L, -1);
            }
            const char *text = lua_isstring(L, why) ? lua_tostring(L, why) : "(no message)";
            /* the path as the docs give it, from the response ("response.v"): the item
             * around it is the library's, not the handler's */
            char root[96];
            int cut = snprintf(root, sizeof root, LRT_RESULT_ROOT, 1);
            if (cut > 0 && strncmp(text, root, (size_t)cut) == 0)
                text += cut;
            lua_pushfstring(L, "tool '%s': its result cannot be sent: %s", name ? name : "?",
                            text);
            /* the text quotes what it could not send: lrt_error_result keeps it
             * sendable itself */
            lrt_error_result(L, lua_gettop(L), msg);
            lua_replace(L, result);
            lua_settop(L, top);
            opts = 0;
            continue;
        }
        if (!lua_isnil(L, -3)) {
            lua_settop(L, top);
            return;
        }
        /* nil, message, code: tell the caller, send the result without it */
        lrt_name_refusal(L, msg, lua_gettop(L) - 1);
        lua_createtable(L, 0, 3);
        lua_pushliteral(L, "error");
        lua_setfield(L, -2, "type");
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "code");
        lua_pushvalue(L, -3);
        lua_setfield(L, -2, "message");
        lua_rawseti(L, SLOT_MSGS, (lua_Integer)lua_rawlen(L, SLOT_MSGS) + 1);
        lua_settop(L, top);
    }
}

/* The fault of the handler's second value (at idx), pushed, or NULL: nil, or a table of
 * the options send_tool_result takes, with their values. A key that is not an option
 * would otherwise be dropped without a word; a value is checked here, not by the
 * mapping, so that the message names the handler's options rather than a part. */
static const char *lrt_options_why(lua_State *L, int idx)
{
    static const char *const sched[] = { "interrupt", "when_idle", "silent", NULL };
    if (lua_isnil(L, idx))
        return NULL;
    if (lua_type(L, idx) != LUA_TTABLE)
        return lua_pushfstring(L, "its second value must be a table of options "
                                  "({ scheduling =, will_continue = }), got %s",
                               luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t n = 0;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
        int ok = k && strlen(k) == n;
        if (ok && strcmp(k, "scheduling") == 0) {
            int known = 0;
            for (int i = 0; sched[i] && lua_type(L, -1) == LUA_TSTRING; i++)
                /* whole: strcmp alone would take "silent\0x" for "silent" */
                known = known || (lua_rawlen(L, -1) == strlen(sched[i]) &&
                                  strcmp(lua_tostring(L, -1), sched[i]) == 0);
            if (!known) {
                size_t vn;
                const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &vn) : NULL;
                const char *got = v ? lrt_map_shown(L, v, vn) : luaL_typename(L, -1);
                return lua_pushfstring(L, "'scheduling' must be one of interrupt, when_idle, "
                                          "silent, got %s", got);
            }
        } else if (ok && strcmp(k, "will_continue") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                return lua_pushfstring(L, "'will_continue' must be a boolean, got %s",
                                       luaL_typename(L, -1));
        } else {
            lua_pop(L, 1);
            if (k)
                lrt_map_shown(L, k, n);            /* short and printable */
            else
                lua_pushfstring(L, "of type %s", luaL_typename(L, -1));
            return lua_pushfstring(L, "unknown option %s (expected scheduling, "
                                      "will_continue)", lua_tostring(L, -1));
        }
        lua_pop(L, 1);
    }
    return NULL;
}

/* lrt_options_why with the tool's name (of the call in the message at msg): the fault
 * alone is pushed, or nothing and NULL. */
const char *lrt_options_fault(lua_State *L, int idx, int msg)
{
    int top = lua_gettop(L);
    const char *why = lrt_options_why(L, idx), *name = NULL;
    if (!why)
        return NULL;
    int w = lua_gettop(L);
    if (lrt_function_call_part(L, msg)) {
        lua_getfield(L, -1, "name");
        name = lua_tostring(L, -1);
    }
    const char *r = lua_pushfstring(L, "tool '%s': handler's options: %s", name ? name : "?",
                                    lua_tostring(L, w));
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return r;
}

