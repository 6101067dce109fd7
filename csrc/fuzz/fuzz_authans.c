/* libFuzzer target: a token endpoint's or metadata server's answer as rt_auth_answer
 * reads it, for each kind of credential. An answer gives a token and a lifetime within
 * bounds, or an error of printable ASCII that quotes none of the credential's secrets
 * (client secret, refresh token, cached token, assertion, private key).
 *
 * Input: byte 0 the credential kind, bytes 1-2 the HTTP status (200 for half the values
 * of byte 1), then the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_auth_private.h"
#include "rt_http.h"
#include "rt_mask.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char rt_fz_client_secret[] = "GOCSPX-clientSECRETvalue123";
static char rt_fz_refresh[] = "1//0gREFRESHtokenVALUE_abc-def";
static char rt_fz_token[] = "ya29.CACHEDtokenVALUE0123";
static char rt_fz_assertion[] = "eyJhbGciOiJSUzI1NiJ9.ASSERTIONpayload.SIG";
static char rt_fz_key_body[] = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
static char rt_fz_key[] = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
                          "-----END PRIVATE KEY-----\n";
static char rt_fz_source[] = "fuzz-source";

/* Aborts when msg holds a byte that is not printable ASCII or a run of a secret. */
static void rt_fz_check_msg(const char *msg)
{
    const char *secrets[] = { rt_fz_client_secret, rt_fz_refresh, rt_fz_token,
                              rt_fz_assertion, rt_fz_key_body };
    size_t n = strlen(msg);

    for (size_t j = 0; j < sizeof secrets / sizeof secrets[0]; j++) {
        size_t m = strlen(secrets[j]);
        for (size_t k = 0; k + RT_MASK_RUN <= m; k++)
            if (memmem(msg, n, secrets[j] + k, RT_MASK_RUN)) {
                fprintf(stderr, "secret %zu in the error: %s\n", j, msg);
                abort();
            }
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rt_auth a;
    struct rt_http_response r;
    struct rt_error e;
    char *tok = NULL;
    double life = 0;

    if (size < 3)
        return 0;
    memset(&a, 0, sizeof a);
    if (pthread_mutex_init(&a.lock, NULL) != 0)
        abort();
    a.kind = data[0] % 3 == 0 ? RT_AUTH_METADATA : (enum rt_auth_kind)(data[0] % 3);
    a.source = rt_fz_source;
    a.client_secret = rt_fz_client_secret;
    a.refresh_token = rt_fz_refresh;
    a.token = rt_fz_token;
    a.assertion = rt_fz_assertion;
    a.private_key = rt_fz_key;

    r.status = data[1] < 128 ? 200 : 100 + data[1] * 2 + data[2] % 2;
    r.len = size - 3;
    r.body = malloc(r.len + 1);
    if (!r.body)
        abort();
    memcpy(r.body, data + 3, r.len);
    r.body[r.len] = '\0';

    rt_error_clear(&e);
    if (rt_auth_answer(&a, "https://oauth2.example/token", &r, &tok, &life, &e) == 0) {
        if (!tok || !tok[0] || life < 1 || life > 86400 * 7 + 1)
            abort();
    } else {
        if (tok || e.code == RT_OK)
            abort();
        rt_fz_check_msg(e.msg);
    }
    rt_free(tok);
    free(r.body);
    pthread_mutex_destroy(&a.lock);
    return 0;
}
