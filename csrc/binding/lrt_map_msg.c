/* The messages a server frame makes, and the response they belong to (part of
 * map_server, see lrt_map_server.c): each message is {type =, raw = the decoded frame,
 * response_id = the response in progress, if any}; a response starts with
 * response_created before its first output. */
#include <stdarg.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"
#include "rt_mask.h"
#include "rt_resume.h"

/* Pushes a new message {type = <the string on top, popped>, raw =, response_id =
 * <current, if any>} and returns its index. Room for five fields (eight slots): an audio
 * delta adds audio and rate, and a fifth field into four slots would rehash the table. */
static int msg_with_type(struct lrt_frame *f)
{
    lua_State *L = f->L;
    int m;

    lua_createtable(L, 0, 5);
    lua_insert(L, -2);
    m = lua_gettop(L) - 1;
    lrt_setk(L, m, f->keys, LRT_K_TYPE);
    lua_pushvalue(L, f->raw);
    lrt_setk(L, m, f->keys, LRT_K_RAW);
    lrt_getk(L, f->state, f->keys, LRT_K_RESPONSE_ID);
    lrt_setk(L, m, f->keys, LRT_K_RESPONSE_ID);
    return m;
}

int lrt_msg_new(struct lrt_frame *f, const char *type)
{
    lua_pushstring(f->L, type);
    return msg_with_type(f);
}

int lrt_msg_newk(struct lrt_frame *f, enum lrt_key type)
{
    lrt_pushk(f->L, f->keys, type);
    return msg_with_type(f);
}

/* Appends the message on top to the output and pops it. */
void lrt_msg_push(struct lrt_frame *f)
{
    lrt_map_append(f->L, f->out);
}

/* Masks the session's secrets (state.secrets, strings) in the string on top: an error
 * quotes server values, which may carry the key the request sent. */
static void mask_secrets(lua_State *L, int state)
{
    int text = lua_gettop(L), any = 0;
    size_t n;
    const char *t = lua_tolstring(L, text, &n);

    if (lua_getfield(L, state, "secrets") != LUA_TTABLE || n < RT_MASK_RUN) {
        lua_settop(L, text);
        return;
    }
    unsigned char *mark = lua_newuserdatauv(L, n, 0);
    memset(mark, 0, n);
    for (lua_Integer i = 1; lua_rawgeti(L, text + 1, i) != LUA_TNIL; i++) {
        if (lua_type(L, -1) == LUA_TSTRING)
            rt_mask_mark(t, n, lua_tostring(L, -1), mark);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    for (size_t i = 0; i < n && !any; i++)
        any = mark[i];
    if (any) {
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, n);
        memcpy(p, t, n);
        rt_mask_apply(p, n, mark);
        luaL_pushresultsize(&b, n);
        lua_replace(L, text);
    }
    lua_settop(L, text);
}

void lrt_msg_protocol_error(struct lrt_frame *f, const char *fmt, ...)
{
    lua_State *L = f->L;
    va_list ap;
    int m = lrt_msg_new(f, "error");
    lrt_set_str(L, m, "code", "protocol");
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    mask_secrets(L, f->state);
    lua_setfield(L, m, "message");
    lrt_msg_push(f);
}

const char *lrt_json_kind(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TTABLE:
        return lua_rawlen(L, idx) > 0 ? "an array" : "an object";
    case LUA_TSTRING:
        return "a string";
    case LUA_TNUMBER:
        return "a number";
    case LUA_TBOOLEAN:
        return "a boolean";
    default:
        return lrt_json_isnull(L, idx) ? "null" : luaL_typename(L, idx);
    }
}

int lrt_map_flag_top(struct lrt_frame *f, const char *where, const char *k)
{
    lua_State *L = f->L;
    int ty = lua_type(L, -1), v = ty == LUA_TBOOLEAN && lua_toboolean(L, -1);
    if (ty != LUA_TBOOLEAN && ty != LUA_TNIL)
        lrt_msg_protocol_error(f, "%s.%s is %s, not a boolean: taken as false", where, k,
                               lrt_json_kind(L, -1));
    lua_pop(L, 1);
    return v;
}

int lrt_map_flag(struct lrt_frame *f, int t, const char *k, const char *where)
{
    lua_getfield(f->L, t, k);
    return lrt_map_flag_top(f, where, k);
}

double lrt_map_duration(struct lrt_frame *f, int t, const char *k, const char *where)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    int vt = lua_getfield(L, t, k);
    size_t n = 0;
    const char *s = vt == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    double secs = s ? rt_resume_offset(s, n) : -1;
    if (vt != LUA_TNIL && secs < 0) {
        lrt_msg_protocol_error(f, "%s.%s is %s, not a duration such as \"1.5s\": left out",
                               where, k, s ? lrt_map_shown(L, s, n) : lrt_json_kind(L, -1));
        secs = -2;
    }
    lua_settop(L, top);   /* the value, and the short form an error pushed */
    return secs;
}

int lrt_responding(struct lrt_frame *f)
{
    lrt_getk(f->L, f->state, f->keys, LRT_K_RESPONSE_ID);
    int r = !lua_isnil(f->L, -1);
    lua_pop(f->L, 1);
    return r;
}

void lrt_reset_parts(lua_State *L, int state)
{
    lua_newtable(L);
    lua_setfield(L, state, "text_parts");
    lua_newtable(L);
    lua_setfield(L, state, "transcript_parts");
    lua_pushnil(L);
    lua_setfield(L, state, "output_details");
}

void lrt_ensure_response(struct lrt_frame *f)
{
    lua_State *L = f->L;
    if (lrt_responding(f))
        return;
    lua_Integer seq = lrt_get_int(L, f->state, "response_seq") + 1;
    lrt_set_int(L, f->state, "response_seq", seq);
    lua_pushfstring(L, "resp_%I", (LUAI_UACINT)seq);
    lua_setfield(L, f->state, "response_id");
    lrt_set_bool(L, f->state, "response_cancelled", 0);
    lrt_set_bool(L, f->state, "response_audio", 0);
    lrt_set_bool(L, f->state, "after_tool_call", 0);
    lua_pushnil(L);
    lua_setfield(L, f->state, "response_incomplete");
    lua_pushnil(L);
    lua_setfield(L, f->state, "response_usage");
    lrt_reset_parts(L, f->state);
    lrt_msg_new(f, "response_created");
    lrt_msg_push(f);
}
