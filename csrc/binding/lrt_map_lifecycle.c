/* The session's lifecycle messages of a server frame (part of map_server, see
 * lrt_map_server.c): goAway and sessionResumptionUpdate. They are read as the core
 * reads them (rt_resume.c), so the caller is told what the session acts on; what does not
 * read is reported. */
#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"
#include "rt_resume.h"

/* goAway.timeLeft in seconds as the core reads it (rt_resume.h): from the frame's text,
 * a number's digits or a string's characters as written, so an exponent, a sign or an
 * escape does not read; -1 when it does not. */
static double core_time_left(const struct lrt_frame *f)
{
    struct rt_scan sc;

    return rt_scan_server(f->text, f->len, &sc) == 0 ? sc.time_left : -1;
}

/* goAway -> go_away { time_left }: timeLeft read as the core reads it, so the caller is
 * told the time the session acts on (not what Lua's tostring makes of a number: 1E2 is
 * "100.0"); one it cannot read is reported. */
void lrt_map_go_away(struct lrt_frame *f, int ga)
{
    lua_State *L = f->L;
    if (!ga) {
        /* The core leaves the connection on any goAway, whatever its shape. */
        lua_getfield(L, f->raw, "goAway");
        lrt_msg_protocol_error(f, "goAway is %s, not an object", lrt_json_kind(L, -1));
        lua_pop(L, 1);
        lrt_msg_new(f, "go_away");
        lrt_msg_push(f);
        return;
    }
    int m = lrt_msg_new(f, "go_away");
    int t = lua_getfield(L, ga, "timeLeft");
    double secs = t == LUA_TNIL ? -1 : core_time_left(f);
    if (t != LUA_TNIL && secs < 0) {
        size_t n = 0;
        const char *s = t == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        /* decoded it reads: the frame wrote it with escapes, which the core keeps */
        const char *escaped = s && rt_resume_duration(s, n) >= 0 ? " written with escapes" : "";
        lrt_msg_protocol_error(f, "goAway.timeLeft is %s%s, not a duration such as \"10s\": "
                                  "go_away has no time_left",
                               s ? lrt_map_shown(L, s, n) : lrt_json_kind(L, -1), escaped);
    }
    lua_settop(L, m);
    if (secs >= 0) {
        lua_Integer iv;
        if (lua_numbertointeger(secs, &iv) && (double)iv == secs)
            lua_pushinteger(L, iv);
        else
            lua_pushnumber(L, secs);
        lua_setfield(L, m, "time_left");
    }
    lrt_msg_push(f);
}

/* Why the frame's newHandle (a non-empty string) is not kept, NULL when it is: the core's
 * rule, asked about the handle as the core finds it in the text (escapes undecoded), so
 * that the caller holds the handle the session resumes with. */
static const char *handle_problem(const struct lrt_frame *f)
{
    struct rt_scan sc;

    if (rt_scan_server(f->text, f->len, &sc) != 0 || !sc.handle)
        return "not readable";   /* the core keeps none: the binding's reader took more */
    return rt_resume_handle_problem(sc.handle, sc.handle_len);
}

/* sessionResumptionUpdate -> session_resumption_update { handle, resumable,
 * last_consumed_index }; the handle is kept in the state for the session. */
void lrt_map_resumption(struct lrt_frame *f, int sr)
{
    lua_State *L = f->L;
    int m = lrt_msg_new(f, "session_resumption_update");
    int t = lua_getfield(L, sr, "newHandle");
    size_t n = t == LUA_TSTRING ? lua_rawlen(L, -1) : 0;
    const char *why = t != LUA_TSTRING && t != LUA_TNIL ? lrt_json_kind(L, -1) : NULL;
    int kept = 0;
    if (n > 0)
        why = handle_problem(f);
    if (n > 0 && !why && lrt_get_bool(L, f->state, "handle_withheld")) {
        /* Resumed from it, the session would lack the connect history, or skip messages
         * the close dropped (the core never uses it): no handle to save. */
        lua_pop(L, 1);
    } else if (n > 0 && !why) {
        lua_pushvalue(L, -1);
        lua_setfield(L, f->state, "resumption_handle");
        lua_setfield(L, m, "handle");
        kept = 1;
    } else {
        /* The core keeps no such handle either (rt_resume_handle_ok). */
        if (why)
            lrt_msg_protocol_error(f, "sessionResumptionUpdate.newHandle is %s%s: the session "
                                      "keeps its last handle", why,
                                   t == LUA_TSTRING ? "" : ", not a string");
        lua_pop(L, 1);
    }
    int resumable = lrt_map_flag(f, sr, "resumable", "sessionResumptionUpdate");
    lrt_set_bool(L, m, "resumable", resumable);
    /* a reconnect from it holds the calls so far: their answers are settled */
    if (kept && resumable)
        lrt_set_int(L, f->state, "held_rx", lrt_get_int(L, f->state, "rx_seq"));
    lua_Integer idx = lrt_count(f, sr, "lastConsumedClientMessageIndex", "sessionResumptionUpdate");
    if (idx >= 0)
        lrt_set_int(L, m, "last_consumed_index", idx);
    lrt_msg_push(f);
}
