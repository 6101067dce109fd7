/* Resumption helpers for the I/O thread: the server-message scanner, the setup rewrite
 * and the retry rules (see rt_resume.h and docs/design.md, "Resilience").
 *
 * The scanner walks a message with the core's JSON reader (rt_json.h) in its lenient
 * mode: one pass, no recursion, every read checked against the end, structure checked
 * but string contents not (the binding decodes every message strictly). */
#include "rt_resume.h"

#include <string.h>

#include "rt_json.h"
#include "rt_json_private.h"
#include "rt_utf8.h"

struct rt_level {
    bool obj;            /* an object (else an array) */
    bool want_key;       /* object: the next string is a key */
    const char *key;     /* object: the current key (raw, between its quotes) */
    size_t klen;
};

static bool rt_key_is(const struct rt_level *l, const char *k)
{
    size_t n = strlen(k);
    return l->obj && l->key && l->klen == n && memcmp(l->key, k, n) == 0;
}

static bool rt_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Reads a non-negative decimal integer (the whole text); false on anything else or
 * overflow. */
static bool rt_parse_index(const char *p, size_t n, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (!n || n > 19)
        return false;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        if (v > (INT64_MAX - (p[i] - '0')) / 10)
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* google.protobuf.Duration's range, in whole seconds: 10,000 years. */
#define RT_DURATION_MAX 315576000000ull

/* Reads a Duration's text into seconds: -1 when unreadable (a sign, an exponent, other
 * text), -2 when its whole seconds pass RT_DURATION_MAX. */
static double rt_duration(const char *p, size_t n)
{
    /* Whole seconds and up to nine fraction digits (a Duration's nanoseconds) as one
     * integer, divided once while that integer is exact in a double: the double nearest
     * the decimal value, so "0.120s" is 0.12 exactly as Lua reads it (adding digit *
     * 0.01 ... one by one was not). */
    uint64_t whole = 0, frac = 0, unit = 1;
    size_t i = 0;
    bool digits = false, over = false;

    if (n && p[n - 1] == 's')
        n--;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        digits = true;
        whole = whole * 10 + (uint64_t)(p[i] - '0');
        if (whole > RT_DURATION_MAX) {
            over = true;
            whole = 0;            /* counted, no longer read: it cannot wrap */
        }
    }
    if (i < n && p[i] == '.') {
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            digits = true;
            if (unit < 1000000000) {
                frac = frac * 10 + (uint64_t)(p[i] - '0');
                unit *= 10;
            }
        }
    }
    if (!digits || i != n)
        return -1;
    if (over)
        return -2;
    if (whole <= ((UINT64_C(1) << 53) - frac) / unit)
        return (double)(whole * unit + frac) / (double)unit;
    return (double)whole + (double)frac / (double)unit;
}

double rt_resume_duration(const char *p, size_t n)
{
    double secs = rt_duration(p, n);

    if (secs == -2 || secs >= 86400)
        return 86400;
    return secs;
}

double rt_resume_offset(const char *p, size_t n)
{
    double secs = rt_duration(p, n);

    return secs < 0 ? -1 : secs;
}

/* The text a scalar value stands for: a string's content (escapes as written), or a
 * number's or literal's text; NULL for containers. */
static const char *rt_scan_text(const struct rt_json_val *v, size_t *n)
{
    *n = v->n;
    return v->type == RT_JSON_OBJECT || v->type == RT_JSON_ARRAY ? NULL : v->s;
}

/* serverContent.modelTurn: whether a part carries inlineData. */
static void rt_scan_turn(struct rt_json *r, const struct rt_json_val *turn, struct rt_scan *o)
{
    struct rt_json_val k, v, part, pk, pv;

    while (rt_json_member(r, turn, &k, &v)) {
        if (v.type != RT_JSON_ARRAY || !rt_json_eq(&k, "parts"))
            continue;
        while (rt_json_element(r, &v, &part)) {
            if (part.type != RT_JSON_OBJECT)
                continue;
            while (rt_json_member(r, &part, &pk, &pv))
                if (pv.type == RT_JSON_OBJECT && rt_json_eq(&pk, "inlineData"))
                    o->inline_data = true;
        }
    }
}

static void rt_scan_content(struct rt_json *r, const struct rt_json_val *sc, struct rt_scan *o)
{
    struct rt_json_val k, v;

    while (rt_json_member(r, sc, &k, &v)) {
        if (rt_json_eq(&k, "modelTurn")) {
            o->model_output = true;
            if (v.type == RT_JSON_OBJECT)
                rt_scan_turn(r, &v, o);
        } else if (rt_json_eq(&k, "inputTranscription") ||
                   rt_json_eq(&k, "outputTranscription")) {
            o->transcription = true;
        } else if (rt_json_eq(&k, "turnComplete")) {
            o->turn_complete = v.type == RT_JSON_TRUE;
        } else if (rt_json_eq(&k, "generationComplete")) {
            o->generation_complete = v.type == RT_JSON_TRUE;
        } else if (rt_json_eq(&k, "interrupted")) {
            o->interrupted = v.type == RT_JSON_TRUE;
        }
    }
}

static void rt_scan_go_away(struct rt_json *r, const struct rt_json_val *ga, struct rt_scan *o)
{
    struct rt_json_val k, v;
    const char *s;
    size_t n;

    while (rt_json_member(r, ga, &k, &v))
        if (rt_json_eq(&k, "timeLeft") && (s = rt_scan_text(&v, &n)))
            o->time_left = rt_resume_duration(s, n);
}

static void rt_scan_update(struct rt_json *r, const struct rt_json_val *up, struct rt_scan *o)
{
    struct rt_json_val k, v;
    const char *s;
    size_t n;

    while (rt_json_member(r, up, &k, &v)) {
        if (rt_json_eq(&k, "newHandle")) {
            /* the last one wins, as in the binding's table */
            o->handle = v.type == RT_JSON_STRING ? v.s : NULL;
            o->handle_len = v.type == RT_JSON_STRING ? v.n : 0;
        } else if (rt_json_eq(&k, "resumable")) {
            o->resumable = v.type == RT_JSON_TRUE;
        } else if (rt_json_eq(&k, "lastConsumedClientMessageIndex") &&
                   (s = rt_scan_text(&v, &n))) {
            o->has_index = rt_parse_index(s, n, &o->last_index);
        }
    }
}

/* The edge a voiceActivity names: 1 start, 0 end, -1 none. Its wire key is `type`;
 * voiceActivityType (the SDK types' name) counts only without one, as in the binding
 * (lrt_map_activity.c), and a repeated key's last value wins, as in its table. */
static int rt_scan_voice(struct rt_json *r, const struct rt_json_val *va)
{
    struct rt_json_val k, v, type = { 0 }, alt = { 0 };

    while (rt_json_member(r, va, &k, &v)) {
        if (rt_json_eq(&k, "type"))
            type = v;
        else if (rt_json_eq(&k, "voiceActivityType"))
            alt = v;
    }
    if (type.type == RT_JSON_NONE)
        type = alt;
    return rt_json_eq(&type, "ACTIVITY_START") ? 1 : rt_json_eq(&type, "ACTIVITY_END") ? 0 : -1;
}

/* The same for Vertex's voiceActivityDetectionSignal. */
static int rt_scan_vad_signal(struct rt_json *r, const struct rt_json_val *vs)
{
    struct rt_json_val k, v, type = { 0 };

    while (rt_json_member(r, vs, &k, &v))
        if (rt_json_eq(&k, "vadSignalType"))
            type = v;
    return rt_json_eq(&type, "VAD_SIGNAL_TYPE_SOS") ? 1
           : rt_json_eq(&type, "VAD_SIGNAL_TYPE_EOS") ? 0 : -1;
}

/* One pass with the lenient reader: the paths that matter are visited, everything else
 * (the audio's base64 above all) is crossed by memchr. */
int rt_scan_server(const char *text, size_t len, struct rt_scan *out)
{
    struct rt_json r;
    struct rt_json_val top, k, v;
    int voice = -1, signal = -1;   /* the edge each names; the last of a repeated key */

    memset(out, 0, sizeof *out);
    out->time_left = -1;
    if (!text)
        return -1;
    rt_json_init(&r, text, len, 0);
    if (rt_json_root(&r, &top) != RT_JSON_OBJECT)
        return -1;
    while (rt_json_member(&r, &top, &k, &v)) {
        if (rt_json_eq(&k, "serverContent")) {
            if (v.type == RT_JSON_OBJECT)
                rt_scan_content(&r, &v, out);
        } else if (rt_json_eq(&k, "setupComplete")) {
            out->setup_complete = true;
        } else if (rt_json_eq(&k, "toolCall")) {
            out->tool_call = true;
        } else if (rt_json_eq(&k, "goAway")) {
            out->go_away = true;
            if (v.type == RT_JSON_OBJECT)
                rt_scan_go_away(&r, &v, out);
        } else if (rt_json_eq(&k, "sessionResumptionUpdate")) {
            /* a repeated one replaces the earlier, as in the binding's table */
            out->update = true;
            out->handle = NULL;
            out->handle_len = 0;
            out->resumable = false;
            out->has_index = false;
            if (v.type == RT_JSON_OBJECT)
                rt_scan_update(&r, &v, out);
        } else if (rt_json_eq(&k, "voiceActivity")) {
            voice = v.type == RT_JSON_OBJECT ? rt_scan_voice(&r, &v) : -1;
        } else if (rt_json_eq(&k, "voiceActivityDetectionSignal")) {
            signal = v.type == RT_JSON_OBJECT ? rt_scan_vad_signal(&r, &v) : -1;
        }
    }
    out->speech_start = voice == 1 || signal == 1;
    out->speech_end = voice == 0 || signal == 0;
    return rt_json_finish(&r);
}

/* ---- the setup rewrite ---- */

bool rt_resume_find(const char *setup, size_t len, size_t *at, bool *empty)
{
    struct rt_level st[3];
    int depth = 0;
    size_t i = 0;

    if (!setup)
        return false;
    while (i < len) {
        char c = setup[i];
        struct rt_level *cur = depth > 0 && depth <= 3 ? &st[depth - 1] : NULL;

        if (c == '"') {
            size_t start = ++i;
            while (i < len && setup[i] != '"') {
                if (setup[i] == '\\')
                    i++;
                i++;
            }
            if (i >= len)
                return false;
            if (cur && cur->obj && cur->want_key) {
                cur->key = setup + start;
                cur->klen = i - start;
                cur->want_key = false;
            }
            i++;
            continue;
        }
        if (c == '{' || c == '[') {
            /* the server takes either spelling of the field name */
            if (depth == 2 && c == '{' && rt_key_is(&st[0], "setup") &&
                (rt_key_is(&st[1], "sessionResumption") ||
                 rt_key_is(&st[1], "session_resumption"))) {
                size_t j = i + 1;
                while (j < len && rt_is_ws(setup[j]))
                    j++;
                *at = i + 1;
                *empty = j < len && setup[j] == '}';
                return true;
            }
            if (depth < 3) {
                st[depth].obj = c == '{';
                st[depth].want_key = c == '{';
                st[depth].key = NULL;
                st[depth].klen = 0;
            }
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return false;
            depth--;
        } else if (c == ',' && cur && cur->obj) {
            cur->want_key = true;
        }
        i++;
    }
    return false;
}

/* Finds a "handle" member with a string value at the top level of the object whose
 * inside starts at setup[at] (its '{' at at - 1). [*from, *to) spans it with one
 * neighbouring comma, so that cutting it out leaves valid JSON; *alone says it was the
 * only member. */
static bool rt_resume_old_handle(const char *s, size_t len, size_t at, size_t *from,
                                 size_t *to, bool *alone)
{
    struct rt_json r;
    struct rt_json_val obj, k, v;

    if (at == 0)
        return false;
    rt_json_init(&r, s + at - 1, len - at + 1, 0);
    if (rt_json_root(&r, &obj) != RT_JSON_OBJECT)
        return false;
    while (rt_json_member(&r, &obj, &k, &v)) {
        if (v.type != RT_JSON_STRING || !rt_json_eq(&k, "handle"))
            continue;
        size_t start = (size_t)(k.s - 1 - s);          /* the key's opening quote */
        size_t end = (size_t)(v.s + v.n + 1 - s);      /* after the value's closing quote */
        size_t after = end, before = start;
        while (after < len && rt_is_ws(s[after]))
            after++;
        while (before > at && rt_is_ws(s[before - 1]))
            before--;
        if (after < len && s[after] == ',') {
            *from = start;
            *to = after + 1;
            *alone = false;
        } else {
            /* the last member: the comma before it goes, if there is one */
            *alone = before <= at || s[before - 1] != ',';
            *from = *alone ? start : before - 1;
            *to = end;
        }
        return true;
    }
    return false;
}

bool rt_resume_saved_handle(const char *setup, size_t len, size_t at, const char **h,
                            size_t *hlen)
{
    size_t from, to;
    bool alone;
    const char *q;

    if (!rt_resume_old_handle(setup, len, at, &from, &to, &alone))
        return false;
    /* from..to spans "handle":"..." (and maybe a comma): the value is the last string */
    q = memchr(setup + from, ':', to - from);
    q = q ? memchr(q, '"', (size_t)(setup + to - q)) : NULL;
    if (!q)
        return false;
    *h = q + 1;
    *hlen = 0;
    while (q + 1 + *hlen < setup + to && q[1 + *hlen] != '"') {
        if (q[1 + *hlen] == '\\')
            (*hlen)++;
        (*hlen)++;
    }
    return rt_resume_handle_ok(*h, *hlen);
}

/* Cuts the first member `name` of the "setup" object out of s[0..len) in place, with one
 * neighbouring comma so that the rest stays valid JSON. Returns the new length, len when
 * there is no such member (or the text is not an object the reader takes). */
static size_t rt_resume_cut(char *s, size_t len, const char *name)
{
    struct rt_json r;
    struct rt_json_val root, setup, k, v;
    size_t from = 0, to;
    bool found = false;

    rt_json_init(&r, s, len, 0);
    if (rt_json_root(&r, &root) != RT_JSON_OBJECT)
        return len;
    while (rt_json_member(&r, &root, &k, &v))
        if (v.type == RT_JSON_OBJECT && rt_json_eq(&k, "setup"))
            break;
    if (v.type != RT_JSON_OBJECT)
        return len;
    setup = v;
    while (rt_json_member(&r, &setup, &k, &v)) {
        if (found) {
            /* up to the next member's key: the value, the comma and the blanks go */
            to = (size_t)(k.s - 1 - s);
            memmove(s + from, s + to, len - to);
            return len - (to - from);
        }
        if (rt_json_eq(&k, name)) {
            from = (size_t)(k.s - 1 - s);      /* the key's opening quote */
            found = true;
        }
    }
    if (!found || rt_json_failed(&r))
        return len;
    /* the last member: up to the setup's '}' (just read), with the comma before it */
    to = (size_t)(r.p - 1 - s);
    size_t before = from;
    while (before > 0 && rt_is_ws(s[before - 1]))
        before--;
    if (before > 0 && s[before - 1] == ',')
        from = before - 1;                     /* else the only member: "{" stays */
    memmove(s + from, s + to, len - to);
    return len - (to - from);
}

size_t rt_resume_setup(const char *setup, size_t len, size_t at, bool empty,
                       const char *handle, size_t hlen, char *out, size_t cap)
{
    static const char pre[] = "\"handle\":\"";
    size_t from = at, to = at, o = 0;
    bool alone = false;

    if (at > len)
        return 0;
    /* A setup that starts from a saved handle has one already: the newest replaces it,
     * so the server never reads two. */
    if (!empty && rt_resume_old_handle(setup, len, at, &from, &to, &alone))
        empty = alone;
    size_t need = len - (to - from) + (sizeof pre - 1) + hlen + 1 + (empty ? 0 : 1);
    if (need < len - (to - from) || need > cap)
        return 0;
    memcpy(out, setup, at);
    o = at;
    memcpy(out + o, pre, sizeof pre - 1);
    o += sizeof pre - 1;
    memcpy(out + o, handle, hlen);
    o += hlen;
    out[o++] = '"';
    if (!empty)
        out[o++] = ',';
    memcpy(out + o, setup + at, from - at);
    o += from - at;
    memcpy(out + o, setup + to, len - to);
    o += len - to;
    /* The resumed session holds its history: a setup announcing initial history would
     * make the server hold all input until a clientContent that never comes. The server
     * takes either spelling (a raw setup may carry the snake_case one). */
    for (size_t n = 0; n != o;) {
        n = o;
        o = rt_resume_cut(out, o, "historyConfig");
        o = rt_resume_cut(out, o, "history_config");
    }
    return o;
}

#define RT_STR_(x) #x
#define RT_STR(x) RT_STR_(x)

const char *rt_resume_handle_problem(const char *h, size_t n)
{
    if (!h || n == 0)
        return "empty";
    if (n > RT_HANDLE_MAX)
        return "longer than " RT_STR(RT_HANDLE_MAX) " bytes";
    if (!rt_utf8_valid(h, n))
        return "not UTF-8";   /* the setup is a text frame, which the server refuses */
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '\\')
            i++;
        else if (h[i] == '"')
            return "a text with a quote that is not escaped";
    }
    /* what the binding's decoder takes: no control character, no bad or cut escape,
     * no lone surrogate (the binding would hand out U+FFFD in its place) */
    size_t lone = 0;
    if (rt_json_decode_lossy(h, h + n, NULL, 0, NULL, &lone, NULL) != 0)
        return "a text with a control character or an invalid escape";
    if (lone)
        return "a text with a lone surrogate escape";
    return NULL;
}

bool rt_resume_handle_ok(const char *h, size_t n)
{
    return rt_resume_handle_problem(h, n) == NULL;
}

/* ---- retry rules ---- */

bool rt_resume_fatal_close(int code)
{
    return code == 1002 || code == 1003 || code == 1007 || code == 1008 || code == 1009 ||
           code == 1010 || (code >= 3000 && code <= 4999);
}

double rt_resume_backoff(int attempt, double rnd)
{
    double d = 0.2;
    int i;

    if (attempt <= 0)
        return 0;
    for (i = 1; i < attempt && d < 5.0; i++)
        d *= 2;
    if (d > 5.0)
        d = 5.0;
    if (rnd < 0 || rnd > 1)
        rnd = 0;
    return d * (1.0 + 0.25 * rnd);
}

bool rt_resume_close_retryable(int code, bool announced)
{
    if (rt_resume_fatal_close(code))
        return false;
    if (code == 1000 || code == 1005)
        return announced;
    return true;
}

bool rt_resume_status_retryable(int status)
{
    return status == 0 || status >= 500 || status == 408 || status == 429;
}

int rt_resume_next_attempt(int attempt, bool turn_through, double lived_secs, bool recycled)
{
    if (turn_through || recycled || lived_secs >= RT_RESUME_HEALTHY_SECS)
        return 1;
    return attempt + 1;
}

uint64_t rt_resume_consumed(uint64_t boundary, uint64_t tx_seq, uint64_t conn_base,
                            bool has_index, int64_t last_index)
{
    uint64_t upto = boundary;

    if (has_index) {
        upto = tx_seq;
        if (last_index >= 0 && (uint64_t)last_index < tx_seq - conn_base)
            upto = conn_base + (uint64_t)last_index;
    }
    return upto;
}

double rt_resume_goaway_leave(double time_left)
{
    double left = time_left >= 0 ? time_left : 10;

    return left >= 4 ? left - 2 : left / 2;
}
