/* libFuzzer target: the WebSocket upgrade answer as the I/O thread reads it
 * (rt_conn_answer_step: rt_ws_parse_answer, the refusal's status, its body plain or
 * chunked, and the error quoting it), fed in reads of a fuzzer-chosen size. Any answer
 * must end (open, refused or failed) without reading out of bounds or looping, and the
 * error text must fit its buffer and never quote the request's credentials.
 *
 * Input: byte 0 the read size (x7; 0: all at once), byte 1 flags (1: an API key and an
 * Authorization header were sent, 2: a token source's bearer token), then the answer.
 * The file is included for its static functions; the lws timer of a refusal's body is
 * not started (rt_conn_answer does that, not the step). */
#include "../core/rt_conn_upgrade.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rt_fz_key[] = "AIzaSyFUZZSECRETKEY0123456789abcdefXYZ";
static const char rt_fz_token[] = "Bearer ya29.FUZZTOKENSECRET0123456789";

/* Aborts when msg is not terminated within its buffer or quotes a run of a secret. */
static void rt_fz_check_msg(const char *msg, bool token_sent)
{
    const char *secrets[2] = { rt_fz_key, rt_fz_token + 7 };
    size_t n = strnlen(msg, RT_ERROR_MSG_MAX);

    if (n >= RT_ERROR_MSG_MAX)
        abort();
    for (int j = 0; j < (token_sent ? 2 : 1); j++) {
        size_t len = strlen(secrets[j]);
        for (size_t k = 0; k + RT_MASK_RUN <= len; k++)
            if (memmem(msg, n, secrets[j] + k, RT_MASK_RUN)) {
                fprintf(stderr, "secret in the error: %s\n", msg);
                abort();
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_ws_header hdrs[2] = { { "x-goog-api-key", rt_fz_key },
                                    { "Authorization", rt_fz_token } };
    struct rt_session *s;
    size_t chunk, off = 0;
    unsigned flags;
    int step = RT_ANSWER_MORE;

    if (size < 2)
        return 0;
    chunk = data[0] ? data[0] * 7u : size;
    flags = data[1];
    data += 2;
    size -= 2;

    s = calloc(1, sizeof *s);
    if (!s)
        return 0;
    s->headers = hdrs;
    s->nheaders = (flags & 1) ? 2 : 1;
    s->host = "fuzz.example";
    s->port = 443;
    s->state = RT_CS_UPGRADING;
    s->up = calloc(1, sizeof *s->up);
    if (!s->up)
        abort();
    rt_buf_init(&s->up->hs);
    s->up->s = s;
    s->up->answering = true;
    memcpy(s->up->ws_key, "dGhlIHNhbXBsZSBub25jZQ==", 25);
    if (flags & 2)
        s->auth_value = strdup(rt_fz_token);

    /* each read as its own allocation, so that ASan sees a read past it */
    while (off < size && (step == RT_ANSWER_MORE || step == RT_ANSWER_BODY)) {
        size_t k = size - off < chunk ? size - off : chunk;
        unsigned char *c = malloc(k);
        if (!c)
            abort();
        memcpy(c, data + off, k);
        if (rt_buf_append(&s->up->hs, c, k))
            abort();
        free(c);
        off += k;
        step = rt_conn_answer_step(s);
        if (step == RT_ANSWER_OPEN && s->up->answer.header_len > s->up->hs.len)
            abort();
    }
    /* the connection ends while a refusal's body is awaited: the refusal with what came */
    if (step == RT_ANSWER_BODY && !rt_conn_upgrade_cut(s))
        abort();
    if (step == RT_ANSWER_FAILED && rt_conn_err_code(s) == RT_OK)
        abort();
    if (s->notes)
        rt_fz_check_msg(s->notes->err.msg, (flags & 3) != 0);
    rt_buf_free(&s->up->hs);
    free(s->up);
    rt_free(s->notes);
    free(s->auth_value);
    free(s);
    return 0;
}
