/* libFuzzer target: the service-account JWT (rt_jwt.c). rt_jwt_assertion with claims of
 * any text (iss, sub, scope, aud, kid: NUL-separated in the input) must give a header
 * and claims that are valid JSON and decode back to exactly those strings, or fail only
 * for a missing required claim; rt_jwt_sign_rs256 with a PEM of the input's (an input
 * starting with 'P') must sign or fail with an error that quotes no key text.
 * The key for the assertions is made once, at start-up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "rt_alloc.h"
#include "rt_base64.h"
#include "rt_json.h"
#include "rt_jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *rt_fz_pem;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *k = EVP_RSA_gen(1024);    /* small: only the JSON is under test */
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;

    (void)argc;
    (void)argv;
    if (!k || !b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(b, &p)) <= 0 || !(rt_fz_pem = calloc(1, (size_t)n + 1)))
        abort();
    memcpy(rt_fz_pem, p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return 0;
}

/* Part `which` (0: header, 1: claims) of a JWT, base64url-decoded; malloc'd. */
static char *rt_fz_part(const char *jwt, int which, size_t *len)
{
    const char *s = jwt, *e;
    size_t n, i;
    char *b, *out;

    for (int k = 0; k < which; k++) {
        s = strchr(s, '.');
        if (!s)
            abort();
        s++;
    }
    e = strchr(s, '.');
    n = e ? (size_t)(e - s) : strlen(s);
    b = calloc(1, n + 4);
    if (!b)
        abort();
    for (i = 0; i < n; i++)
        b[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (i % 4)
        b[i++] = '=';
    out = calloc(1, rt_base64_decoded_max(i) + 1);
    if (!out || rt_base64_decode(b, i, out, len))
        abort();
    free(b);
    return out;
}

/* Aborts unless json[0..n) has the string `want` at path (an empty want: not checked). */
static void rt_fz_expect(const char *json, size_t n, const char *path, const char *want)
{
    struct rt_json_val v;
    char *s;

    if (!*want)
        return;
    if (rt_json_find(json, n, path, &v) != RT_JSON_STRING) {
        fprintf(stderr, "%s missing in %.*s\n", path, (int)n, json);
        abort();
    }
    s = rt_json_strdup(&v, NULL, NULL);
    if (!s || strcmp(s, want) != 0) {
        fprintf(stderr, "%s differs: [%s] vs [%s]\n", path, s ? s : "(null)", want);
        abort();
    }
    rt_free(s);
}

/* rt_jwt_sign_rs256 with the PEM text pem. */
static void rt_fz_sign(const char *pem)
{
    char *out = NULL;
    struct rt_error e;

    rt_error_clear(&e);
    if (rt_jwt_sign_rs256(pem, "{}", "{}", &out, &e) == 0)
        rt_free(out);
    else if (!e.msg[0] || strstr(e.msg, "PRIVATE"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *f[5], *p, *jwt = NULL;
    struct rt_error e;

    if (size < 1)
        return 0;
    buf = calloc(1, size + 6);          /* room for five empty strings after the input */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    if (buf[0] == 'P') {
        rt_fz_sign(buf + 1);
        free(buf);
        return 0;
    }
    p = buf;
    for (int i = 0; i < 5; i++) {
        f[i] = p;
        p += strlen(p);
        if (p < buf + size)
            p++;
    }
    struct rt_jwt_claims c = { f[0], f[1], f[2], f[3], f[4], 1700000000, 1700003600 };
    rt_error_clear(&e);
    if (rt_jwt_assertion(&c, rt_fz_pem, &jwt, &e) == 0) {
        size_t hl, cl;
        char *h = rt_fz_part(jwt, 0, &hl), *cj = rt_fz_part(jwt, 1, &cl);
        if (rt_json_check(h, hl) != 0 || rt_json_check(cj, cl) != 0) {
            fprintf(stderr, "invalid JSON: %s / %s\n", h, cj);
            abort();
        }
        rt_fz_expect(cj, cl, "iss", f[0]);
        rt_fz_expect(cj, cl, "sub", f[1]);
        rt_fz_expect(cj, cl, "scope", f[2]);
        rt_fz_expect(cj, cl, "aud", f[3]);
        rt_fz_expect(h, hl, "kid", f[4]);
        free(h);
        free(cj);
        rt_free(jwt);
    } else if (*f[0] && *f[2] && *f[3]) {
        abort();                        /* only a missing required claim fails */
    }
    free(buf);
    return 0;
}
