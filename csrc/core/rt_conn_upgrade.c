/* The connection on the I/O thread: the TLS handshake and the WebSocket upgrade, from
 * the moment lws has a TCP connection until the WebSocket is open (see rt_conn.h). The
 * upgrade's state lives in a struct rt_upgrade that exists only meanwhile. */
#include "rt_conn.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rt_alloc.h"
#include "rt_auth.h"
#include "rt_json.h"
#include "rt_mask.h"

/* Longest piece of a refused upgrade's body quoted in the error; the JSON error of a
 * Google API (status and message) is quoted up to RT_JSON_QUOTE, read from the first
 * RT_BODY_WAIT bytes of the body as sent (chunk framing included). The body is waited
 * for up to that bound and cut there however it came, so that the quote does not depend
 * on how TCP split it; a Google error with details runs to a few KiB. */
#define RT_BODY_QUOTE 160
#define RT_JSON_QUOTE 400
#define RT_BODY_WAIT 65536
/* How long a refusal's body may take after its head (the connect deadline may come
 * first): a server that announces more than it sends, and keeps the connection open,
 * must not turn its refusal into a timeout that never names the status. */
#define RT_BODY_WAIT_USEC LWS_USEC_PER_SEC

/* ==================================================================== *
 *  T H E   U P G R A D E
 * ==================================================================== */

int rt_conn_connected(struct rt_session *s)
{
    struct rt_client *c = s->client;
    struct rt_error err;
    size_t n;

    rt_free(s->addrs);                /* connected: the other addresses are not needed */
    s->addrs = NULL;
    if (!s->use_tls) {
        rt_conn_upgrade_start(s);
        return 0;
    }
    s->state = RT_CS_TLS;
    rt_error_clear(&err);
    if (rt_tls_start(&s->tls, c->ssl_ctx, s->host, c->tlsbuf + LWS_PRE, RT_TLS_CHUNK, &n,
                     &err)) {
        rt_error_set(rt_conn_err(s), err.code, "%s", err.msg);
        return -1;
    }
    if (lws_write(s->wsi, c->tlsbuf + LWS_PRE, n, LWS_WRITE_RAW) < 0) {
        rt_error_set(rt_conn_err(s), RT_ECLOSED, "connection lost while sending");
        return -1;
    }
    return 0;
}

/* The bearer token for this upgrade, from the token source. */
static void rt_conn_auth_header(struct rt_session *s)
{
    struct rt_error e;
    char *tok = NULL;

    if (!s->auth)
        return;
    rt_error_clear(&e);
    /* A token about to expire is of no use for a connection that may last minutes; one
     * not ready yet leaves the previous one (the reconnect path waited for it). */
    if (rt_auth_token(s->auth, 60, &tok, NULL, &e) == 1 && tok) {
        size_t n = strlen(tok);
        char *v = rt_malloc(n + 8);
        if (v) {
            memcpy(v, "Bearer ", 7);
            memcpy(v + 7, tok, n + 1);
            if (s->auth_value) {
                memset(s->auth_value, 0, strlen(s->auth_value));
                rt_free(s->auth_value);
            }
            s->auth_value = v;
        }
        memset(tok, 0, n);
        rt_free(tok);
    }
}

void rt_conn_upgrade_free(struct rt_session *s)
{
    struct rt_upgrade *up = s->up;

    if (!up)
        return;
    lws_sul_cancel(&up->body_wait);
    if (up->hs.data)
        memset(up->hs.data, 0, up->hs.cap);
    rt_buf_free(&up->hs);
    rt_free(up);
    s->up = NULL;
}

void rt_conn_upgrade_start(struct rt_session *s)
{
    struct rt_ws_header *h = NULL;
    struct rt_upgrade *up;
    size_t n = 0, i;
    int rc;

    s->state = RT_CS_UPGRADING;
    rt_conn_upgrade_free(s);
    up = s->up = rt_calloc(1, sizeof *s->up);
    if (!up)
        goto nomem;
    rt_buf_init(&up->hs);
    up->s = s;
    rt_conn_auth_header(s);
    if (rt_ws_new_key(up->ws_key)) {
        rt_error_set(rt_conn_err(s), RT_ETLS, "the random generator failed");
        rt_conn_kill(s);
        return;
    }
    h = rt_malloc((s->nheaders + 1) * sizeof *h);
    if (!h)
        goto nomem;
    for (i = 0; i < s->nheaders; i++)
        if (!s->auth_value || strcasecmp(s->headers[i].name, "authorization") != 0)
            h[n++] = s->headers[i];
    if (s->auth_value)
        h[n++] = (struct rt_ws_header){ "authorization", s->auth_value };
    rc = rt_ws_request(&up->hs, s->host_header, s->path, up->ws_key, h, n);
    rt_free(h);
    if (rc)
        goto nomem;
    rt_conn_want_write(s);
    return;
nomem:
    rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory building the upgrade request");
    rt_conn_kill(s);
}

/* Wipes and empties the upgrade buffer (the request carried credentials). */
static void rt_conn_hs_clear(struct rt_upgrade *up)
{
    if (up->hs.data)
        memset(up->hs.data, 0, up->hs.len);
    rt_buf_reset(&up->hs);
    up->hs_off = 0;
}

/* WRITEABLE during the upgrade: the request (as much of it as the buffer takes). */
int rt_conn_write_request(struct rt_session *s, unsigned char *buf, size_t cap)
{
    struct rt_upgrade *up = s->up;
    size_t n = up && !up->answering ? up->hs.len - up->hs_off : 0;

    if (!n)
        return 0;
    if (n > cap)
        n = cap;
    memcpy(buf, up->hs.data + up->hs_off, n);
    up->hs_off += n;
    if (rt_conn_send(s, buf, n)) {
        memset(buf, 0, n);
        return -1;
    }
    memset(buf, 0, n);               /* the request carried credentials */
    if (up->hs_off < up->hs.len) {
        rt_conn_want_write(s);
    } else {
        rt_conn_hs_clear(up);        /* now it holds the answer */
        up->answering = true;
    }
    return 0;
}

void rt_conn_mask_secrets(struct rt_session *s, char *text)
{
    unsigned char mark[RT_ERROR_MSG_MAX] = { 0 };
    size_t n = strlen(text);

    if (n < RT_MASK_RUN)
        return;
    if (n > sizeof mark)
        n = sizeof mark;      /* the texts masked here are close reasons and refusals */
    for (size_t i = 0; i < s->nheaders; i++)
        if (strcasecmp(s->headers[i].name, "x-goog-api-key") == 0 ||
            strcasecmp(s->headers[i].name, "authorization") == 0)
            rt_mask_mark(text, n, s->headers[i].value, mark);
    rt_mask_mark(text, n, s->auth_value, mark);
    rt_mask_apply(text, n, mark);
}

/* Appends in[0..n) to out[0..*k) as printable ASCII (CR, LF and tabs as spaces, runs of
 * spaces as one), while *k < max; *cut says that something printable was left out. */
static void rt_conn_quote_add(const char *in, size_t n, char *out, size_t *k, size_t max,
                              bool *cut)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (c < 0x20 || c >= 0x7f)
            continue;
        if (c == ' ' && (!*k || out[*k - 1] == ' '))
            continue;
        if (*k >= max) {
            *cut = *cut || c != ' ';
            if (*cut)
                return;
            continue;
        }
        out[(*k)++] = (char)c;
    }
}

/* Ends a quote of k bytes: no trailing space, "..." when cut; out holds max + 4 bytes. */
static void rt_conn_quote_end(char *out, size_t k, bool cut)
{
    while (k && out[k - 1] == ' ')
        k--;
    if (cut)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
}

/* Copies in[0..n) into out as rt_conn_quote_add does, at most max bytes, then "..." when
 * cut; out holds max + 4 bytes. */
static void rt_conn_quote(const char *in, size_t n, char *out, size_t max)
{
    size_t k = 0;
    bool cut = false;

    rt_conn_quote_add(in, n, out, &k, max, &cut);
    rt_conn_quote_end(out, k, cut);
}

/* Whether the answer's header block hdr[0..n) says Transfer-Encoding: chunked. */
static bool rt_conn_is_chunked(const char *hdr, size_t n)
{
    static const char name[] = "transfer-encoding:";
    const char *end = hdr + n, *line = memchr(hdr, '\n', n);

    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t len = (size_t)((eol ? eol : end) - line);

        if (len > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0)
            for (size_t i = sizeof name - 1; i + 7 <= len; i++)
                if (strncasecmp(line + i, "chunked", 7) == 0)
                    return true;
        line = eol;
    }
    return false;
}

/* Decodes the chunked body in[0..n): its data goes to out (at most cap bytes; out may be
 * NULL), *outn says how much. Returns 1 once the last chunk came, 0 when more is to come
 * (out holds the data so far), -1 when the chunk framing is malformed. */
static int rt_conn_dechunk(const char *in, size_t n, char *out, size_t cap, size_t *outn)
{
    size_t i = 0;

    *outn = 0;
    for (;;) {
        const char *eol = memchr(in + i, '\n', n - i);
        size_t size = 0, digits = 0, take;

        if (!eol)
            return 0;                          /* the size line is not complete */
        for (; i < n && isxdigit((unsigned char)in[i]); i++, digits++) {
            if (size > ((size_t)-1 >> 5))
                return -1;                     /* no chunk is that large */
            size = size * 16 + (size_t)(isdigit((unsigned char)in[i])
                                        ? in[i] - '0' : (tolower((unsigned char)in[i]) - 'a' + 10));
        }
        if (!digits || (in[i] != '\r' && in[i] != ';' && in[i] != ' ' && in[i] != '\t'))
            return -1;
        i = (size_t)(eol - in) + 1;
        if (!size)
            return 1;                          /* the last chunk; trailers are not read */
        take = size < n - i ? size : n - i;
        if (out && *outn < cap)
            memcpy(out + *outn, in + i, take < cap - *outn ? take : cap - *outn);
        *outn += take < cap - *outn ? take : cap - *outn;
        i += take;
        if (take < size || n - i < 2)
            return 0;
        if (in[i] != '\r' || in[i + 1] != '\n')
            return -1;
        i += 2;
    }
}

/* "STATUS: message" of a Google API error ({"error":{"message":..,"status":..}}) into
 * out, whole up to RT_JSON_QUOTE; a message that quotes as nothing (empty, unprintable)
 * leaves the status alone. False when the body is no such error or quotes as nothing. */
static bool rt_conn_error_quote(const char *body, size_t n, char *out)
{
    struct rt_json_val v;
    char *msg = NULL, *status = NULL;
    size_t k = 0, at = 0, before, msg_len = 0, status_len = 0;
    bool cut = false, quoted;

    if (rt_json_find(body, n, "error.message", &v) == RT_JSON_STRING)
        msg = rt_json_strdup(&v, &msg_len, NULL);
    if (msg && rt_json_find(body, n, "error.status", &v) == RT_JSON_STRING)
        status = rt_json_strdup(&v, &status_len, NULL);
    if (msg) {
        /* Quoted piece by piece, each as long as it is: a message of any length (its
         * escapes decoded) is cut at RT_JSON_QUOTE, never at an intermediate buffer. */
        if (status && status_len) {
            rt_conn_quote_add(status, status_len, out, &k, RT_JSON_QUOTE, &cut);
            at = k;
            rt_conn_quote_add(": ", 2, out, &k, RT_JSON_QUOTE, &cut);
        }
        before = k;
        rt_conn_quote_add(msg, msg_len, out, &k, RT_JSON_QUOTE, &cut);
        if (k == before && !cut)
            k = at;                  /* nothing of the message: no ": " before it */
        rt_conn_quote_end(out, k, cut);
    }
    quoted = msg && k;           /* decided before the free: a freed pointer's value is not to be read */
    rt_free(msg);
    rt_free(status);
    return quoted;
}

/* The part of a refused upgrade's body worth quoting: a Google API error's status and
 * message, else the start of the body as it came (cutting JSON in the middle says
 * little). */
static void rt_conn_body_quote(const char *body, size_t n, char *out)
{
    if (!rt_conn_error_quote(body, n, out))
        rt_conn_quote(body, n, out, RT_BODY_QUOTE);
}

/* Whether the upgrade request carried an Authorization header (a bearer token from a
 * source or the caller, an ephemeral token). */
static bool rt_conn_sent_authorization(const struct rt_session *s)
{
    if (s->auth_value)
        return true;
    for (size_t i = 0; i < s->nheaders; i++)
        if (strcasecmp(s->headers[i].name, "authorization") == 0)
            return true;
    return false;
}

/* Whether the request carried an API key (x-goog-api-key) and the answer is Google's
 * refusal of it: HTTP 400 INVALID_ARGUMENT, "API key not valid" (reason API_KEY_INVALID),
 * as Vertex express mode answers a wrong key. */
static bool rt_conn_key_refused(const struct rt_session *s, int status, const char *body,
                                size_t n)
{
    bool sent = false;

    for (size_t i = 0; i < s->nheaders && !sent; i++)
        sent = strcasecmp(s->headers[i].name, "x-goog-api-key") == 0;
    return sent && status == 400 && (memmem(body, n, "API key not valid", 17) ||
                                     memmem(body, n, "API_KEY_INVALID", 15));
}

/* A refused upgrade: the status, and the start of the body, which usually says why. A
 * credential refused (401/403 to a request with a token) is RT_EAUTH; a 401 to a token
 * source's token has the source forget it, so that the next attempt fetches another. */
static void rt_conn_refused(struct rt_session *s, const struct rt_ws_answer *a)
{
    const char *body = s->up->hs.data + a->header_len;
    size_t n = s->up->hs.len - a->header_len, k;
    char quote[RT_JSON_QUOTE + 4], who[RT_ERROR_MSG_MAX / 2] = "", *data = NULL;
    enum rt_code code = RT_EHANDSHAKE;

    /* What rt_conn_body_wanted waits for, however much more came in the same read. */
    if (n > RT_BODY_WAIT)
        n = RT_BODY_WAIT;
    if (!s->up->chunked && a->content_length >= 0 && n > (size_t)a->content_length)
        n = (size_t)a->content_length;
    /* A chunked body is quoted without its framing (malformed, or no memory for its
     * data: as it came). */
    if (s->up->chunked && n && (data = rt_malloc(n)) != NULL &&
        rt_conn_dechunk(body, n, data, n, &k) >= 0) {
        body = data;
        n = k;
    }

    rt_conn_body_quote(body, n, quote);
    s->http_status = a->status;
    if (((a->status == 401 || a->status == 403) && rt_conn_sent_authorization(s)) ||
        rt_conn_key_refused(s, a->status, body, n))
        code = RT_EAUTH;
    if (code == RT_EAUTH && s->auth) {
        snprintf(who, sizeof who, "%.300s: the server refused its access token: ",
                 rt_auth_source(s->auth));
        if (a->status == 401 && s->auth_value && strncmp(s->auth_value, "Bearer ", 7) == 0) {
            /* A second refusal in a row ends the attempts (token_retried): that token is
             * forgotten too, but no other fetched for nobody; whoever asks next fetches. */
            if (s->token_retried)
                rt_auth_drop(s->auth, s->auth_value + 7);
            else
                rt_auth_reject(s->auth, s->auth_value + 7);
            s->token_refused = true;
        }
    }
    rt_error_set(rt_conn_err(s), code, "%sHTTP %d: %s%s%s", who, a->status,
                 a->reason[0] ? a->reason : "refused", quote[0] ? " - " : "", quote);
    rt_conn_mask_secrets(s, rt_conn_err(s)->msg);   /* the body may quote the request */
    rt_free(data);
}

/* Whether more of a refused upgrade's body is worth waiting for: less came than was
 * announced, or a chunked body has not had its last chunk; at most RT_BODY_WAIT bytes
 * (rt_conn_refused reads no more than that). */
static bool rt_conn_body_wanted(const struct rt_upgrade *up)
{
    const struct rt_ws_answer *a = &up->answer;
    size_t n = up->hs.len - a->header_len, k;

    if (n >= RT_BODY_WAIT)
        return false;
    if (up->chunked)
        return rt_conn_dechunk(up->hs.data + a->header_len, n, NULL, 0, &k) == 0;
    return a->content_length >= 0 && n < (size_t)a->content_length;
}

bool rt_conn_upgrade_cut(struct rt_session *s)
{
    if (s->state != RT_CS_UPGRADING || !s->up || !s->http_status || s->close_acted ||
        rt_conn_err_code(s) != RT_OK)
        return false;
    rt_conn_refused(s, &s->up->answer);
    return true;
}

/* The refusal's body is late (RT_BODY_WAIT_USEC): the refusal with what came. */
static void rt_conn_body_late(lws_sorted_usec_list_t *sul)
{
    struct rt_upgrade *up = lws_container_of(sul, struct rt_upgrade, body_wait);
    struct rt_session *s = up->s;

    if (rt_conn_upgrade_cut(s))
        rt_conn_kill(s);
}

void rt_conn_read_failed(struct rt_session *s, const struct rt_error *err)
{
    if (s->state < RT_CS_SETUP && rt_conn_upgrade_cut(s))
        return;                  /* the server had refused: that is what it answered */
    if (s->state < RT_CS_SETUP && err->code == RT_ECLOSED) {
        /* No session existed: a TLS end before the answer is a connect that failed, as
         * the end of a TCP connection there is. */
        rt_error_set(rt_conn_err(s), RT_ECONNECT, "connection to %s port %d failed before "
                     "the WebSocket upgrade: the server ended TLS before answering it",
                     s->host, s->port);
        return;
    }
    rt_error_set(rt_conn_err(s), err->code, "%s", err->msg);
}

/* What the answer read so far (up->hs) says; no I/O, no timer (csrc/fuzz/fuzz_upgrade.c
 * drives it alone). */
enum rt_answer_step {
    RT_ANSWER_FAILED = -1,           /* refused or not an answer: the error is set */
    RT_ANSWER_MORE = 0,              /* the head is not complete */
    RT_ANSWER_OPEN = 1,              /* 101 with what a WebSocket needs */
    RT_ANSWER_BODY = 2               /* refused: more of its body is worth waiting for */
};

static enum rt_answer_step rt_conn_answer_step(struct rt_session *s)
{
    struct rt_upgrade *up = s->up;
    struct rt_ws_answer *a = &up->answer;
    int r;

    if (!s->http_status) {
        r = rt_ws_parse_answer(up->hs.data, up->hs.len, up->ws_key, a);
        if (r == 0)
            return RT_ANSWER_MORE;
        if (r < 0 || (a->status == 101 && a->problem[0])) {
            rt_error_set(rt_conn_err(s), RT_EHANDSHAKE, "WebSocket upgrade with %s failed: %s",
                         s->host, a->problem);
            return RT_ANSWER_FAILED;
        }
        if (a->status < 100 || a->status > 599) {
            /* No HTTP status (RFC 9110 15: 100-599). A refusal is marked by http_status,
             * which a status of 0 would leave unmarked: refused here, never parsed again. */
            rt_error_set(rt_conn_err(s), RT_EHANDSHAKE, "WebSocket upgrade with %s failed: "
                         "the server did not answer with HTTP (status %03d)", s->host,
                         a->status);
            return RT_ANSWER_FAILED;
        }
        if (a->status == 101)
            return RT_ANSWER_OPEN;
        s->http_status = a->status;
        up->chunked = rt_conn_is_chunked(up->hs.data + a->head_start,
                                         a->header_len - a->head_start);
    }
    /* Refused: wait for the body the server announced (a little of it is enough). */
    if (rt_conn_body_wanted(up))
        return RT_ANSWER_BODY;
    rt_conn_refused(s, a);
    return RT_ANSWER_FAILED;
}

/* Bytes of the upgrade answer. Returns -1 to close the connection. */
int rt_conn_answer(struct rt_session *s, const unsigned char *in, size_t len)
{
    struct rt_upgrade *up = s->up;
    struct rt_ws_answer *a = &up->answer;
    bool refused = s->http_status != 0;
    unsigned char *copy;
    size_t rest;
    int r;

    if (!up->answering) {
        /* The server answered before the whole request was written (a refusal such as
         * 431 that does not wait for the rest): the rest is not sent, and the buffer
         * takes the answer. */
        rt_conn_hs_clear(up);
        up->answering = true;
    }
    if (rt_buf_append(&up->hs, in, len)) {
        rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory reading the upgrade answer");
        return -1;
    }
    switch (rt_conn_answer_step(s)) {
    case RT_ANSWER_MORE:
        return 0;
    case RT_ANSWER_FAILED:
        return -1;
    case RT_ANSWER_BODY:
        /* The wait for the body is bounded (the end of the connection or the connect
         * deadline may end it first: rt_conn_upgrade_cut). */
        if (!refused)
            rt_loop_timer(&s->client->loop, &up->body_wait, rt_conn_body_late,
                          RT_BODY_WAIT_USEC);
        return 0;
    case RT_ANSWER_OPEN:
        break;
    }
    /* Open. Whatever followed the answer is the first frames. */
    s->state = RT_CS_SETUP;
    s->http_status = 0;
    rest = up->hs.len - a->header_len;
    copy = rest ? rt_malloc(rest) : NULL;
    if (rest && !copy) {
        rt_error_set(rt_conn_err(s), RT_ENOMEM, "out of memory reading the upgrade answer");
        return -1;
    }
    if (rest)
        memcpy(copy, up->hs.data + a->header_len, rest);
    rt_conn_upgrade_free(s);
    rt_ws_rx_free(&s->rx);
    rt_conn_keepalive_start(s);
    rt_conn_want_write(s);               /* the setup */
    r = rest ? rt_conn_feed(s, copy, rest) : 0;
    rt_free(copy);
    return r;
}

