/* Tool calls a reconnect voids, on the I/O thread (see docs/design.md, "Resilience").
 *
 * A reconnect resumes the server's state at a handle (or starts a new session): the calls
 * that came in later server messages are unknown to it, and the model asks again under
 * new ids. An answer to an old id would reach it as a stray result. The core records the
 * ids of toolCall messages with their number (rx_seq), lets go of those a handle covers,
 * and at a reconnect marks the later ones voided; a toolResponse queued or kept for
 * replay loses its answers to voided ids before it is written (a frame answering only
 * voided ids is dropped whole). The owner is told the same ids: the reconnected event
 * carries resume_seq, and the binding withdraws the calls that came after it.
 *
 * A call without an id (Vertex) has no id to match: the owner, which made one up, tells
 * the number of the call's message with each such answer (rt_session_sendv_answers, on
 * the rt_msg past its text), and the answer is voided when a reconnect voided that
 * message's calls: the core keeps the spans of message numbers reconnects voided.
 *
 * Only toolCall frames are read again (rt_conn_calls_note) and only messages flagged
 * RT_MSG_TOOL_RESPONSE are looked at, and only while some id is voided or (for a
 * message with call numbers) some span: audio costs nothing here. */
#include "rt_conn.h"

#include <string.h>

#include "rt_alloc.h"
#include "rt_json.h"

/* Calls remembered at once; an id longer than RT_CALL_ID_MAX is not recorded (its
 * answer is not filtered). */
#define RT_CALLS_MAX 64
/* Spans of voided message numbers remembered, the oldest giving way: a voided id-less
 * call is answered at the latest before the owner reads the reconnected event that
 * follows, so only the last few reconnects matter. */
#define RT_CALLS_SPANS 8

struct rt_call_rec {
    uint64_t seq;        /* the server message it came in */
    bool voided;         /* a reconnect resumed from before it */
    size_t len;
    char id[];           /* decoded, NUL-terminated */
};

struct rt_calls {
    size_t n, nvoided, nspans;
    struct rt_call_rec *rec[RT_CALLS_MAX];   /* oldest first */
    struct { uint64_t after, upto; } span[RT_CALLS_SPANS];  /* (after, upto], oldest first */
};

static void rt_calls_remove(struct rt_calls *c, size_t i)
{
    if (c->rec[i]->voided)
        c->nvoided--;
    rt_free(c->rec[i]);
    memmove(&c->rec[i], &c->rec[i + 1], (c->n - i - 1) * sizeof c->rec[0]);
    c->n--;
}

/* Records one id (a JSON string) of message seq; the oldest record gives way when full.
 * Out of memory, the id is not recorded. */
static void rt_calls_add(struct rt_session *s, const struct rt_json_val *id, uint64_t seq)
{
    struct rt_call_rec *rec;
    size_t len;

    /* escapes make the text up to 6 times the id: the bound is on the decoded id */
    if (id->type != RT_JSON_STRING || id->n > 6 * RT_CALL_ID_MAX)
        return;
    if (!s->calls && !(s->calls = rt_calloc(1, sizeof *s->calls)))
        return;
    /* A call streamed in pieces (Vertex partialArgs) repeats its id: it counts from its
     * last piece, as the binding's item does. */
    for (size_t i = 0; i < s->calls->n; i++) {
        rec = s->calls->rec[i];
        if (!rec->voided && rt_json_eqn(id, rec->id, rec->len)) {
            rec->seq = seq;
            return;
        }
    }
    if (!(rec = rt_malloc(sizeof *rec + id->n + 1)))
        return;
    if (rt_json_unescape(id, rec->id, id->n + 1, &len) != 0 || len > RT_CALL_ID_MAX) {
        rt_free(rec);
        return;
    }
    rec->seq = seq;
    rec->voided = false;
    rec->len = len;
    if (s->calls->n == RT_CALLS_MAX)
        rt_calls_remove(s->calls, 0);
    s->calls->rec[s->calls->n++] = rec;
}

void rt_conn_calls_note(struct rt_session *s, const char *text, size_t len, uint64_t seq)
{
    struct rt_json r;
    struct rt_json_val top, k, v, fk, calls, call, ck, cv;

    rt_json_init(&r, text, len, 0);
    if (rt_json_root(&r, &top) != RT_JSON_OBJECT)
        return;
    while (rt_json_member(&r, &top, &k, &v)) {
        if (!rt_json_eq(&k, "toolCall") || v.type != RT_JSON_OBJECT)
            continue;
        while (rt_json_member(&r, &v, &fk, &calls)) {
            if (!rt_json_eq(&fk, "functionCalls") || calls.type != RT_JSON_ARRAY)
                continue;
            while (rt_json_element(&r, &calls, &call)) {
                if (call.type != RT_JSON_OBJECT)
                    continue;
                while (rt_json_member(&r, &call, &ck, &cv))
                    if (rt_json_eq(&ck, "id"))
                        rt_calls_add(s, &cv, seq);
            }
        }
    }
}

void rt_conn_calls_covered(struct rt_session *s, uint64_t upto)
{
    struct rt_calls *c = s->calls;

    for (size_t i = 0; c && i < c->n;) {
        if (!c->rec[i]->voided && c->rec[i]->seq <= upto)
            rt_calls_remove(c, i);
        else
            i++;
    }
}

/* Remembers that the calls of messages (resume_seq, rx_seq] are voided, for the answers
 * to those that came without an id. Out of memory, it is not remembered. */
static void rt_calls_void_span(struct rt_session *s, uint64_t resume_seq)
{
    struct rt_calls *c;

    if (s->rx_seq <= resume_seq)
        return;
    if (!s->calls && !(s->calls = rt_calloc(1, sizeof *s->calls)))
        return;
    c = s->calls;
    if (c->nspans == RT_CALLS_SPANS) {
        memmove(&c->span[0], &c->span[1], (RT_CALLS_SPANS - 1) * sizeof c->span[0]);
        c->nspans--;
    }
    c->span[c->nspans].after = resume_seq;
    c->span[c->nspans].upto = s->rx_seq;
    c->nspans++;
}

void rt_conn_calls_void(struct rt_session *s, uint64_t resume_seq)
{
    struct rt_calls *c;

    rt_calls_void_span(s, resume_seq);
    c = s->calls;

    for (size_t i = 0; c && i < c->n; i++) {
        if (!c->rec[i]->voided && c->rec[i]->seq > resume_seq) {
            c->rec[i]->voided = true;
            c->nvoided++;
        }
    }
    /* the others are held by the resumed state: nothing to remember them for */
    rt_conn_calls_covered(s, resume_seq);
}

/* Whether the string id is a voided call's. */
static bool rt_calls_voided(const struct rt_calls *c, const struct rt_json_val *id)
{
    if (id->type != RT_JSON_STRING)
        return false;
    for (size_t i = 0; i < c->n; i++)
        if (c->rec[i]->voided && rt_json_eqn(id, c->rec[i]->id, c->rec[i]->len))
            return true;
    return false;
}

/* Whether a reconnect voided the calls of message seq (0: an answer with an id). */
static bool rt_calls_seq_voided(const struct rt_calls *c, uint64_t seq)
{
    for (size_t i = 0; seq && i < c->nspans; i++)
        if (seq > c->span[i].after && seq <= c->span[i].upto)
            return true;
    return false;
}

/* The spans of one toolResponse's answers: where the array's contents start and end,
 * and each answer's span and whether it answers a voided call. Any number of answers:
 * those past the calls remembered answer forgotten calls, and are kept. */
struct rt_answer {
    size_t at, end;
    bool voided;
};

struct rt_answers {
    size_t open, close;          /* offsets just after '[' and at ']' */
    size_t n, cap, voided;
    struct rt_answer *a;         /* owned */
};

/* Room for one more answer; false out of memory. */
static bool rt_answers_grow(struct rt_answers *an)
{
    struct rt_answer *a;
    size_t cap = an->cap ? 2 * an->cap : 16;

    if (an->n < an->cap)
        return true;
    if (cap > SIZE_MAX / sizeof *a || !(a = rt_realloc(an->a, cap * sizeof *a)))
        return false;
    an->a = a;
    an->cap = cap;
    return true;
}

/* Reads the answers (objects) of a toolResponse frame into out (zeroed first; out->a is
 * the caller's to free, whatever the result); false when the frame is not read as one
 * (not an object, another kind of answer, spans not where expected) or out of memory:
 * it is then kept whole. */
static bool rt_calls_answers(const struct rt_calls *c, struct rt_msg *m,
                             struct rt_answers *out)
{
    const char *t = (const char *)m->data;
    size_t len = m->len;
    struct rt_json r;
    struct rt_json_val top, k, v, fk, arr, el, ek, ev;
    bool found = false;

    memset(out, 0, sizeof *out);
    rt_json_init(&r, t, len, 0);
    if (rt_json_root(&r, &top) != RT_JSON_OBJECT)
        return false;
    while (rt_json_member(&r, &top, &k, &v)) {
        if (!rt_json_eq(&k, "toolResponse") || v.type != RT_JSON_OBJECT)
            continue;
        while (rt_json_member(&r, &v, &fk, &arr)) {
            if (!rt_json_eq(&fk, "functionResponses") || arr.type != RT_JSON_ARRAY || found)
                continue;
            found = true;
            out->open = (size_t)(arr.s - t) + 1;
            while (rt_json_element(&r, &arr, &el)) {
                bool voided = false;
                if (el.type != RT_JSON_OBJECT || !rt_answers_grow(out))
                    return false;
                while (rt_json_member(&r, &el, &ek, &ev))
                    voided |= rt_json_eq(&ek, "id") && rt_calls_voided(c, &ev);
                /* an answer to a call that came without an id: by its message */
                if (out->n < m->ncalls)
                    voided |= rt_calls_seq_voided(c, rt_msg_calls(m)[out->n]);
                /* the reader stands just after the answer's closing brace */
                out->a[out->n].at = (size_t)(el.s - t);
                out->a[out->n].end = (size_t)(r.p - t);
                if (rt_json_failed(&r) || t[out->a[out->n].end - 1] != '}')
                    return false;
                out->a[out->n].voided = voided;
                out->voided += voided;
                out->n++;
            }
            out->close = (size_t)(r.p - t) - 1;
            if (rt_json_failed(&r) || t[out->close] != ']')
                return false;
        }
    }
    return rt_json_finish(&r) == 0 && found;
}

/* The frame m without its answers to voided calls: m itself when it has none (or is not
 * read as a toolResponse), NULL when it has nothing else, else a new message (out of
 * memory: m, sent whole). */
static struct rt_msg *rt_calls_strip(const struct rt_calls *c, struct rt_msg *m)
{
    const char *t = (const char *)m->data;
    struct rt_answers *an = rt_malloc(sizeof *an);
    struct rt_msg *out = m;
    size_t o;

    if (!an)
        return m;
    if (!rt_calls_answers(c, m, an) || !an->voided)
        goto done;
    if (an->voided == an->n) {
        out = NULL;
        goto done;
    }
    if (!(out = rt_msg_new_calls(m->len, m->ncalls ? (unsigned)(an->n - an->voided) : 0))) {
        out = m;
        goto done;
    }
    /* the text before the answers, the kept ones joined by commas, the text after */
    o = an->open;
    memcpy(out->data, t, o);
    for (size_t i = 0, kept = 0; i < an->n; i++) {
        if (an->a[i].voided)
            continue;
        if (kept++)
            out->data[o++] = ',';
        memcpy(out->data + o, t + an->a[i].at, an->a[i].end - an->a[i].at);
        o += an->a[i].end - an->a[i].at;
    }
    memcpy(out->data + o, t + an->close, m->len - an->close);
    o += m->len - an->close;
    out->len = o;
    out->data[o] = '\0';
    out->flags = m->flags;
    /* the kept answers keep their calls' numbers (placed by the final length), for a
     * later reconnect */
    for (size_t i = 0, kept = 0; out->ncalls && i < an->n; i++)
        if (!an->a[i].voided)
            rt_msg_calls(out)[kept++] = i < m->ncalls ? rt_msg_calls(m)[i] : 0;
done:
    rt_free(an->a);
    rt_free(an);
    return out;
}

struct rt_msg *rt_conn_calls_answer(struct rt_session *s, struct rt_msg *m)
{
    struct rt_msg *n;

    if (!(m->flags & RT_MSG_TOOL_RESPONSE) || !s->calls ||
        (!s->calls->nvoided && !(s->calls->nspans && m->ncalls)))
        return m;
    if ((n = rt_calls_strip(s->calls, m)) == m)
        return m;
    /* the bytes counted when it was queued (rt_sess_enqueue) */
    atomic_fetch_sub(&s->tx_bytes, m->len - (n ? n->len : 0));
    rt_msg_free(m);
    return n;
}

void rt_conn_calls_filter(struct rt_session *s, struct rt_queue *q)
{
    struct rt_queue keep;
    struct rt_msg *m;

    if (!s->calls || (!s->calls->nvoided && !s->calls->nspans))
        return;
    rt_queue_init(&keep);
    while ((m = rt_queue_pop(q)) != NULL)
        if ((m = rt_conn_calls_answer(s, m)) != NULL)
            rt_queue_push(&keep, m);
    *q = keep;
}

void rt_conn_calls_free(struct rt_session *s)
{
    while (s->calls && s->calls->n)
        rt_calls_remove(s->calls, s->calls->n - 1);
    rt_free(s->calls);
    s->calls = NULL;
}
