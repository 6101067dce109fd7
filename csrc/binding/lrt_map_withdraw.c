/* Calls withdrawn (part of map_server, see lrt_map_calls.c for the calls themselves):
 * by the server (toolCallCancellation), and by a reconnect that resumed from before
 * they came (lrt_map_withdrawn_since, which reads the server-message number noted for
 * each call in state.call_rx). A withdrawn call is no longer answerable, and its
 * result, buffered or late, is dropped. */
#include <stdlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_frame.h"

/* call_rx holds at least this many entries before those of answered calls are let go. */
#define LRT_CALL_RX_PRUNE 64

/* The calls the core remembers for their answers (RT_CALLS_MAX in rt_conn_calls.c): the
 * newest this many not held by a handle. An answered call older than those is let go
 * here too, as the core sends its answer. */
#define LRT_CALL_RX_KEEP 64

/* Lets go of the entry of the call whose id is at the top (popped): call_rx at rx and its
 * note order in call_rx_ord at ord. */
static void forget_rx(lua_State *L, int rx, int ord)
{
    for (int t = 0; t < 2; t++) {
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, t ? ord : rx);   /* clearing a field while traversing is allowed */
    }
    lua_pop(L, 1);
}

/* One pass of prune_call_rx: lets go of the entries of answered calls (not in the table
 * at calls) that came in messages up to held, or were noted before since_ord; returns
 * how many are left. */
static lua_Integer prune_pass(lua_State *L, int rx, int ord, int calls, lua_Integer held,
                              lua_Integer since_ord)
{
    lua_Integer left = 0;
    lua_pushnil(L);
    while (lua_next(L, rx)) {
        lua_Integer at = lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        int done = lua_rawget(L, calls) == LUA_TNIL;
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawget(L, ord);
        lua_Integer noted = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (done && (at <= held || noted < since_ord)) {
            lua_pushvalue(L, -1);
            forget_rx(L, rx, ord);
        } else {
            left++;
        }
    }
    return left;
}

static int cmp_integer(const void *a, const void *b)
{
    lua_Integer x = *(const lua_Integer *)a, y = *(const lua_Integer *)b;
    return (x > y) - (x < y);
}

/* The note order from which on the calls not held (after held) are the newest
 * LRT_CALL_RX_KEEP of them; 0 when there are no more than that. */
static lua_Integer keep_from(lua_State *L, int rx, int ord, lua_Integer held)
{
    lua_Integer n = 0, *v;
    lua_pushnil(L);
    while (lua_next(L, rx)) {
        n += lua_tointeger(L, -1) > held;
        lua_pop(L, 1);
    }
    if (n <= LRT_CALL_RX_KEEP)
        return 0;
    v = lua_newuserdatauv(L, (size_t)n * sizeof *v, 0);   /* freed by the collector */
    lua_Integer i = 0;
    lua_pushnil(L);
    while (lua_next(L, rx)) {
        lua_Integer at = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (at <= held || i == n)
            continue;
        lua_pushvalue(L, -1);
        lua_rawget(L, ord);
        v[i++] = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    qsort(v, (size_t)i, sizeof *v, cmp_integer);
    lua_Integer from = v[i - LRT_CALL_RX_KEEP];
    lua_pop(L, 1);
    return from;
}

/* Lets go of the entries of call_rx (at rx) whose calls are no longer answerable (not in
 * the table at calls) and held by the last resumable handle (held_rx): a reconnect from
 * before an answered call still voids it, and the core drops its answer
 * (rt_conn_calls.c). Of the calls no handle holds, an answered one older than the newest
 * LRT_CALL_RX_KEEP goes too, as the core forgets it by the same rule (its answer is
 * sent). call_rx_n counts those left, and the next pruning waits for twice as many
 * (call_rx_bound), so many open calls cost no pruning per call. */
static void prune_call_rx(lua_State *L, int state, int rx, int calls)
{
    lrt_get_table(L, state, "call_rx_ord");
    int ord = lua_gettop(L);
    lua_Integer held = lrt_get_int(L, state, "held_rx");
    lua_Integer left = prune_pass(L, rx, ord, calls, held, keep_from(L, rx, ord, held));
    lua_pop(L, 1);
    lrt_set_int(L, state, "call_rx_n", left);
    lrt_set_int(L, state, "call_rx_bound", 2 * left);
}

void lrt_map_note_call_rx(struct lrt_frame *f, int id)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    lrt_get_table(L, f->state, "call_rx");
    int rx = lua_gettop(L);
    lua_Integer bound = lrt_get_int(L, f->state, "call_rx_bound");
    if (lrt_get_int(L, f->state, "call_rx_n") >= (bound > LRT_CALL_RX_PRUNE ? bound :
                                                  LRT_CALL_RX_PRUNE)) {
        lua_getfield(L, f->state, "calls");
        prune_call_rx(L, f->state, rx, rx + 1);
    }
    lua_pushvalue(L, id);
    lua_pushinteger(L, lrt_get_int(L, f->state, "rx_seq"));
    lua_rawset(L, rx);
    /* the order calls were first noted in, within a message too (the oldest go first),
     * as the core keeps its records */
    lrt_get_table(L, f->state, "call_rx_ord");
    lua_pushvalue(L, id);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_Integer next = lrt_get_int(L, f->state, "call_rx_next") + 1;
        lrt_set_int(L, f->state, "call_rx_next", next);
        lua_pushvalue(L, id);
        lua_pushinteger(L, next);
        lua_rawset(L, -4);
    }
    lrt_set_int(L, f->state, "call_rx_n", lrt_get_int(L, f->state, "call_rx_n") + 1);
    lua_settop(L, top);
}

/* Withdrawn calls remembered (their late results dropped): the latest this many, so a
 * session that lives for days does not grow with every barge-in during a tool call. */
#define LRT_CANCELLED_KEEP 256

/* A call withdrawn while its arguments stream: the stream is dropped and the id marked
 * as a failed stream's (lrt_map_calls.c), so its later pieces give no item. */
static void withdraw_stream(lua_State *L, int state, int id)
{
    if (lua_getfield(L, state, "streams") == LUA_TTABLE) {
        lua_pushvalue(L, id);
        if (lua_rawget(L, -2) != LUA_TNIL) {
            lua_pushvalue(L, id);
            lua_pushnil(L);
            lua_rawset(L, -4);
            lrt_get_table(L, state, "streams_failed");
            lua_pushvalue(L, id);
            lua_pushboolean(L, 1);
            lua_rawset(L, -3);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Withdraws the call whose id is at id: no longer answerable (out of calls and
 * generated_ids), remembered in cancelled_ids, the oldest of those let go. */
static void withdraw(lua_State *L, int state, int cancelled, int id)
{
    static const char *const gone[] = { "calls", "generated_ids" };
    for (int k = 0; k < 2; k++) {
        lua_getfield(L, state, gone[k]);
        lua_pushvalue(L, id);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, id);
    lua_pushboolean(L, 1);
    lua_rawset(L, cancelled);
    withdraw_stream(L, state, id);
    /* cancelled_order[head..tail]: the remembered ids, oldest first */
    lrt_get_table(L, state, "cancelled_order");
    int order = lua_gettop(L);
    lua_Integer head = lrt_get_int(L, state, "cancelled_head");
    lua_Integer tail = lrt_get_int(L, state, "cancelled_tail") + 1;
    if (head == 0)
        head = 1;
    lua_pushvalue(L, id);
    lua_rawseti(L, order, tail);
    if (tail - head + 1 > LRT_CANCELLED_KEEP) {
        lua_rawgeti(L, order, head);
        lua_pushnil(L);
        lua_rawset(L, cancelled);
        lua_pushnil(L);
        lua_rawseti(L, order, head);
        head++;
    }
    lrt_set_int(L, state, "cancelled_head", head);
    lrt_set_int(L, state, "cancelled_tail", tail);
    lua_pop(L, 1);
}

void lrt_map_cancellation(struct lrt_frame *f, int tcc)
{
    lua_State *L = f->L;
    int top = lua_gettop(L);
    lrt_json_newarray(L, 0);
    int ids = lua_gettop(L);
    int t = lua_getfield(L, tcc, "ids");
    if (t != LUA_TTABLE && t != LUA_TNIL)
        lrt_msg_protocol_error(f, "toolCallCancellation.ids is %s, not an array: no call is "
                                  "withdrawn", lrt_json_kind(L, -1));
    if (t == LUA_TTABLE) {
        int src = lua_gettop(L);
        lua_getfield(L, f->state, "cancelled_ids");
        int cancelled = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, src);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, src, i) == LUA_TSTRING) {
                withdraw(L, f->state, cancelled, lua_gettop(L));
                lrt_map_append(L, ids);
            } else {
                lrt_msg_protocol_error(f, "toolCallCancellation.ids[%d] is %s, not a string: "
                                          "it withdraws nothing", (int)i, lrt_json_kind(L, -1));
                lua_pop(L, 1);
            }
        }
        /* Drop results of withdrawn calls that are still waiting to be sent. */
        lua_getfield(L, f->state, "pending");
        int pending = lua_gettop(L);
        lua_newtable(L);
        int kept = lua_gettop(L);
        lua_Integer np = (lua_Integer)lua_rawlen(L, pending);
        for (lua_Integer i = 1; i <= np; i++) {
            lua_rawgeti(L, pending, i);
            lua_getfield(L, -1, "id");
            int gone = lua_rawget(L, cancelled) != LUA_TNIL;
            lua_pop(L, 1);
            if (gone)
                lua_pop(L, 1);
            else
                lrt_map_append(L, kept);
        }
        lua_setfield(L, f->state, "pending");
    }
    lua_settop(L, ids);
    int m = lrt_msg_new(f, "tool_call_cancellation");
    lua_pushvalue(L, ids);
    lua_setfield(L, m, "call_ids");
    lrt_msg_push(f);
    lua_settop(L, top);
}

int lrt_map_withdrawn_since(lua_State *L, int state, lua_Integer since)
{
    state = lua_absindex(L, state);
    lrt_json_newarray(L, 0);
    int ids = lua_gettop(L);
    if (lua_getfield(L, state, "call_rx") != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    int rx = ids + 1;
    lua_getfield(L, state, "calls");
    int calls = ids + 2;
    prune_call_rx(L, state, rx, calls);
    /* the calls that came after since (open, or answered: their answers are not sent),
     * in the order they came; they leave call_rx */
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, rx)) {
        lua_Integer at = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (at <= since)
            continue;
        lua_Integer j = ++n;
        for (; j > 1; j--) {           /* insertion by number: a few calls at most */
            lua_rawgeti(L, ids, j - 1);
            lua_pushvalue(L, -1);
            lua_rawget(L, rx);
            lua_Integer prev = lua_tointeger(L, -1);
            lua_pop(L, 1);
            if (prev <= at) {
                lua_pop(L, 1);
                break;
            }
            lua_rawseti(L, ids, j);
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, ids, j);
    }
    lrt_get_table(L, state, "call_rx_ord");
    int ord = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, ids, i);
        forget_rx(L, rx, ord);
    }
    lrt_set_int(L, state, "call_rx_n", lrt_get_int(L, state, "call_rx_n") - n);
    lua_settop(L, ids);
    return (int)n;
}
