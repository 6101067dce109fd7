/* Holding what the owner sends while the model waits for a tool call's answer, on the
 * I/O thread (see docs/design.md, "Tool calls hold the input").
 *
 * Once the Live API has sent a toolCall for a function that is not declared
 * NON_BLOCKING, it refuses realtime input until the call is answered, and refuses it by
 * closing the connection (1008). Audio keeps coming while the owner runs the tool, and
 * what was appended just before the call arrived still waits to be written. So while
 * such a call is unanswered, only toolResponse messages are written; everything else
 * waits in order behind them and goes out once the last open call is answered,
 * cancelled by the server (toolCallCancellation) or voided by a reconnect. Nothing is
 * dropped: what waits counts against max_queue_bytes as any queued message does.
 *
 * Only sessions whose setup declares functions look at server messages for this, and
 * only messages that mention "toolCall"; answers are read only while a call is open. */
#include "rt_conn.h"

#include <string.h>

#include "rt_alloc.h"
#include "rt_json.h"

/* Open calls remembered at once (the oldest gives way: its hold is then up to the
 * others); ids and names are kept up to RT_CALL_ID_MAX bytes, as rt_conn_calls.c does. */
#define RT_GATE_MAX 64

struct rt_gate_call {
    uint64_t seq;          /* the server message it came in */
    size_t id_len;         /* 0: it came without an id (Vertex) */
    size_t name_len;
    char text[];           /* the id, then the name, decoded, no NULs */
};

struct rt_gate {
    size_t n;
    struct rt_gate_call *call[RT_GATE_MAX];   /* oldest first */
    struct rt_gate_call *stream;   /* the call whose pieces still come (willContinue): a
                                      piece without an id is its own, as the binding
                                      takes it (lrt_map_calls.c); NULL for none */
};

/* ---- the setup's NON_BLOCKING functions ---- */

static bool rt_gate_key(const struct rt_json_val *k, const char *camel, const char *snake)
{
    return rt_json_eq(k, camel) || rt_json_eq(k, snake);
}

/* Whether a declaration's behavior is NON_BLOCKING (by name, or its enum number 2). */
static bool rt_gate_nonblocking_value(const struct rt_json_val *v)
{
    int64_t n;

    if (v->type == RT_JSON_STRING)
        return rt_json_eq(v, "NON_BLOCKING");
    return v->type == RT_JSON_NUMBER && rt_json_integer(v, &n) == 0 && n == 2;
}

/* Decodes a string value into out (RT_CALL_ID_MAX + 1 bytes); false when it is not a
 * string, too long, or holds a NUL. */
static bool rt_gate_text(const struct rt_json_val *v, char *out, size_t *len)
{
    return v->type == RT_JSON_STRING && v->n <= 6 * RT_CALL_ID_MAX &&
           rt_json_unescape(v, out, RT_CALL_ID_MAX + 1, len) == 0 && !memchr(out, 0, *len);
}

/* Appends the decoded name to list (each name NUL-ended); false out of memory. */
static bool rt_gate_list_add(struct rt_buf *list, const struct rt_json_val *name)
{
    char tmp[RT_CALL_ID_MAX + 1];
    size_t len;

    if (!rt_gate_text(name, tmp, &len))
        return true;             /* no call can name it as we would compare it */
    return rt_buf_append(list, tmp, len) == 0 && rt_buf_append(list, "", 1) == 0;
}

/* Reads one functionDeclarations array: counts the functions, lists the NON_BLOCKING. */
static bool rt_gate_declarations(struct rt_json *r, const struct rt_json_val *arr,
                                 size_t *nfuncs, struct rt_buf *list)
{
    struct rt_json_val d, k, v, name;

    while (rt_json_element(r, arr, &d)) {
        bool nb = false;
        if (d.type != RT_JSON_OBJECT)
            continue;
        name.type = RT_JSON_NONE;
        (*nfuncs)++;
        while (rt_json_member(r, &d, &k, &v)) {
            if (rt_json_eq(&k, "name"))
                name = v;
            else if (rt_json_eq(&k, "behavior"))
                nb = rt_gate_nonblocking_value(&v);
        }
        if (nb && !rt_gate_list_add(list, &name))
            return false;
    }
    return true;
}

int rt_gate_setup(const char *setup, size_t len, bool *declares, char **nonblocking)
{
    struct rt_json r;
    struct rt_json_val top, k, v, tk, tools, tool, fk, fv;
    struct rt_buf list;
    size_t nfuncs = 0;

    *declares = false;
    *nonblocking = NULL;
    if (!memmem(setup, len, "eclarations", 11))
        return 0;                /* no functions: no call to hold for */
    rt_buf_init(&list);
    rt_json_init(&r, setup, len, 0);
    if (rt_json_root(&r, &top) != RT_JSON_OBJECT)
        return 0;
    while (rt_json_member(&r, &top, &k, &v)) {
        if (!rt_json_eq(&k, "setup") || v.type != RT_JSON_OBJECT)
            continue;
        while (rt_json_member(&r, &v, &tk, &tools)) {
            if (!rt_json_eq(&tk, "tools") || tools.type != RT_JSON_ARRAY)
                continue;
            while (rt_json_element(&r, &tools, &tool)) {
                if (tool.type != RT_JSON_OBJECT)
                    continue;
                while (rt_json_member(&r, &tool, &fk, &fv))
                    if (rt_gate_key(&fk, "functionDeclarations", "function_declarations") &&
                        fv.type == RT_JSON_ARRAY &&
                        !rt_gate_declarations(&r, &fv, &nfuncs, &list))
                        goto nomem;
            }
        }
    }
    *declares = nfuncs > 0;
    if (list.len) {
        if (rt_buf_append(&list, "", 1) != 0)     /* an empty name ends the list */
            goto nomem;
        size_t l;
        *nonblocking = rt_buf_detach(&list, &l);
        return 0;
    }
    rt_buf_free(&list);
    return 0;
nomem:
    rt_buf_free(&list);
    return -1;
}

/* ---- the open calls ---- */

static bool rt_gate_listed(const char *list, const char *name, size_t len)
{
    for (const char *p = list; p && *p; p += strlen(p) + 1)
        if (strlen(p) == len && memcmp(p, name, len) == 0)
            return true;
    return false;
}

static void rt_gate_remove(struct rt_gate *g, size_t i)
{
    if (g->stream == g->call[i])
        g->stream = NULL;
    rt_free(g->call[i]);
    memmove(&g->call[i], &g->call[i + 1], (g->n - i - 1) * sizeof g->call[0]);
    g->n--;
}

/* The open call with this id, or -1. */
static long rt_gate_find(const struct rt_gate *g, const char *id, size_t len)
{
    for (size_t i = 0; g && i < g->n; i++)
        if (g->call[i]->id_len == len && memcmp(g->call[i]->text, id, len) == 0)
            return (long)i;
    return -1;
}

/* A further piece of call c, streamed (Vertex partialArgs): it counts from its last
 * piece, as the binding's item and rt_conn_calls.c do; `more` pieces follow or not. */
static void rt_gate_piece(struct rt_gate *g, struct rt_gate_call *c, bool more, uint64_t seq)
{
    c->seq = seq;
    if (more)
        g->stream = c;
    else if (g->stream == c)
        g->stream = NULL;
}

/* Opens one call of a toolCall (its id and name values, either absent; `more`: its
 * willContinue, pieces of it follow). */
static void rt_gate_open(struct rt_session *s, const struct rt_json_val *idv,
                         const struct rt_json_val *namev, bool more, uint64_t seq)
{
    char id[RT_CALL_ID_MAX + 1], name[RT_CALL_ID_MAX + 1];
    size_t il = 0, nl = 0;
    struct rt_gate_call *c;
    long i;

    /* An id that is not a non-empty string is none, as the binding takes it: the call
     * is answered without one. */
    if (idv->type == RT_JSON_STRING && idv->n && !rt_gate_text(idv, id, &il))
        return;                  /* an id we could not match an answer to */
    if (!il && s->gate && s->gate->stream) {
        rt_gate_piece(s->gate, s->gate->stream, more, seq);
        return;
    }
    if (namev->type != RT_JSON_NONE && !rt_gate_text(namev, name, &nl))
        nl = 0;
    if (nl && rt_gate_listed(s->gate_nb, name, nl))
        return;                  /* NON_BLOCKING: the model goes on, input with it */
    /* a call streamed in pieces (Vertex partialArgs) repeats its id */
    if (il && (i = rt_gate_find(s->gate, id, il)) >= 0) {
        rt_gate_piece(s->gate, s->gate->call[i], more, seq);
        return;
    }
    if (!s->gate && !(s->gate = rt_calloc(1, sizeof *s->gate)))
        return;                  /* out of memory: not held (the server may refuse) */
    if (!(c = rt_malloc(sizeof *c + il + nl)))
        return;
    c->seq = seq;
    c->id_len = il;
    c->name_len = nl;
    memcpy(c->text, id, il);
    memcpy(c->text + il, name, nl);
    if (s->gate->n == RT_GATE_MAX)
        rt_gate_remove(s->gate, 0);
    s->gate->call[s->gate->n++] = c;
    if (more)
        s->gate->stream = c;
}

static void rt_gate_calls(struct rt_session *s, struct rt_json *r,
                          const struct rt_json_val *tc, uint64_t seq)
{
    struct rt_json_val fk, calls, call, ck, cv, id, name;

    while (rt_json_member(r, tc, &fk, &calls)) {
        if (!rt_gate_key(&fk, "functionCalls", "function_calls") || calls.type != RT_JSON_ARRAY)
            continue;
        while (rt_json_element(r, &calls, &call)) {
            if (call.type != RT_JSON_OBJECT)
                continue;
            bool more = false;
            id.type = name.type = RT_JSON_NONE;
            while (rt_json_member(r, &call, &ck, &cv)) {
                if (rt_json_eq(&ck, "id"))
                    id = cv;
                else if (rt_json_eq(&ck, "name"))
                    name = cv;
                else if (rt_gate_key(&ck, "willContinue", "will_continue"))
                    more = cv.type == RT_JSON_TRUE;
            }
            rt_gate_open(s, &id, &name, more, seq);
        }
    }
}

static void rt_gate_cancel(struct rt_session *s, struct rt_json *r,
                           const struct rt_json_val *cancel)
{
    struct rt_json_val k, ids, idv;
    char id[RT_CALL_ID_MAX + 1];
    size_t il;
    long i;

    while (rt_json_member(r, cancel, &k, &ids)) {
        if (!rt_json_eq(&k, "ids") || ids.type != RT_JSON_ARRAY)
            continue;
        while (rt_json_element(r, &ids, &idv))
            if (rt_gate_text(&idv, id, &il) && il && (i = rt_gate_find(s->gate, id, il)) >= 0)
                rt_gate_remove(s->gate, (size_t)i);
    }
}

void rt_conn_gate_note(struct rt_session *s, const char *text, size_t len, uint64_t seq)
{
    struct rt_json r;
    struct rt_json_val top, k, v;

    rt_json_init(&r, text, len, 0);
    if (rt_json_root(&r, &top) != RT_JSON_OBJECT)
        return;
    while (rt_json_member(&r, &top, &k, &v)) {
        if (v.type != RT_JSON_OBJECT)
            continue;
        if (rt_gate_key(&k, "toolCall", "tool_call"))
            rt_gate_calls(s, &r, &v, seq);
        else if (rt_gate_key(&k, "toolCallCancellation", "tool_call_cancellation"))
            rt_gate_cancel(s, &r, &v);
    }
    atomic_store(&s->gate_held, rt_conn_gate_shut(s));
}

/* ---- answers ---- */

/* Closes the open call one answer answers: by id; else (a call that came without one)
 * the oldest id-less call of message seq (0: of any message), of that name if any. */
static void rt_gate_answer(struct rt_gate *g, const struct rt_json_val *idv,
                           const struct rt_json_val *namev, uint64_t seq)
{
    char id[RT_CALL_ID_MAX + 1], name[RT_CALL_ID_MAX + 1];
    size_t il = 0, nl = 0;
    long i, any = -1;

    if (idv->type != RT_JSON_NONE) {
        if (rt_gate_text(idv, id, &il) && il && (i = rt_gate_find(g, id, il)) >= 0)
            rt_gate_remove(g, (size_t)i);
        return;
    }
    if (namev->type != RT_JSON_NONE && !rt_gate_text(namev, name, &nl))
        nl = 0;
    for (size_t j = 0; j < g->n; j++) {
        const struct rt_gate_call *c = g->call[j];
        if (c->id_len || (seq && c->seq != seq))
            continue;
        if (c->name_len == nl && memcmp(c->text, name, nl) == 0) {
            rt_gate_remove(g, j);
            return;
        }
        if (any < 0)
            any = (long)j;
    }
    if (any >= 0)
        rt_gate_remove(g, (size_t)any);
}

void rt_conn_gate_answered(struct rt_session *s, struct rt_msg *m)
{
    struct rt_json r;
    struct rt_json_val top, k, v, fk, arr, el, ek, ev, id, name;
    size_t n = 0;

    if (!rt_conn_gate_shut(s))
        return;
    rt_json_init(&r, (const char *)m->data, m->len, 0);
    if (rt_json_root(&r, &top) != RT_JSON_OBJECT)
        return;
    while (rt_json_member(&r, &top, &k, &v)) {
        if (!rt_gate_key(&k, "toolResponse", "tool_response") || v.type != RT_JSON_OBJECT)
            continue;
        while (rt_json_member(&r, &v, &fk, &arr)) {
            if (!rt_gate_key(&fk, "functionResponses", "function_responses") ||
                arr.type != RT_JSON_ARRAY)
                continue;
            while (rt_json_element(&r, &arr, &el)) {
                if (el.type != RT_JSON_OBJECT)
                    continue;
                id.type = name.type = RT_JSON_NONE;
                while (rt_json_member(&r, &el, &ek, &ev)) {
                    if (rt_json_eq(&ek, "id"))
                        id = ev;
                    else if (rt_json_eq(&ek, "name"))
                        name = ev;
                }
                rt_gate_answer(s->gate, &id, &name, n < m->ncalls ? rt_msg_calls(m)[n] : 0);
                n++;
            }
        }
    }
    atomic_store(&s->gate_held, rt_conn_gate_shut(s));
}

void rt_conn_gate_void(struct rt_session *s, uint64_t resume_seq)
{
    struct rt_gate *g = s->gate;

    for (size_t i = 0; g && i < g->n;) {
        if (g->call[i]->seq > resume_seq)
            rt_gate_remove(g, i);
        else
            i++;
    }
    atomic_store(&s->gate_held, rt_conn_gate_shut(s));
}

bool rt_conn_gate_shut(const struct rt_session *s)
{
    return s->gate && s->gate->n;
}

void rt_conn_gate_free(struct rt_session *s)
{
    while (s->gate && s->gate->n)
        rt_gate_remove(s->gate, s->gate->n - 1);
    rt_free(s->gate);
    s->gate = NULL;
    rt_free(s->gate_nb);
    s->gate_nb = NULL;
}
