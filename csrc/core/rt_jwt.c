/* RS256 JSON Web Tokens for service-account token requests (see rt_jwt.h). */
#include "rt_jwt.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "rt_alloc.h"
#include "rt_base64.h"

size_t rt_jwt_json_quote(const char *s, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            out[o++] = '\\';
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

/* Reads the RSA private key from pem; NULL with err set when it is not one. The OpenSSL
 * error queue is cleared either way, so no key material lingers in its messages. */
static EVP_PKEY *rt_jwt_load_key(const char *pem, struct rt_error *err)
{
    size_t len = strlen(pem);
    if (len == 0 || len > 64 * 1024) {
        rt_error_set(err, RT_EAUTH, "the private key is empty or too large");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        rt_error_set(err, RT_ENOMEM, "out of memory reading the private key");
        return NULL;
    }
    /* a NULL passphrase callback with an empty passphrase: encrypted keys fail instead of
     * prompting on the terminal */
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (!key) {
        ERR_clear_error();
        rt_error_set(err, RT_EAUTH, "the private key is not a PEM-encoded, unencrypted RSA key");
        return NULL;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        rt_error_set(err, RT_EAUTH, "the private key is not an RSA key (RS256 needs one)");
        return NULL;
    }
    return key;
}

/* Signs n bytes of data with key; *sig (rt_malloc'd) and *siglen on success. */
static int rt_jwt_rsa_sha256(EVP_PKEY *key, const char *data, size_t n, unsigned char **sig,
                             size_t *siglen, struct rt_error *err)
{
    int rc = -1;
    unsigned char *buf = NULL;
    size_t len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        rt_error_set(err, RT_ENOMEM, "out of memory signing the token request");
        return -1;
    }
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestSign(md, NULL, &len, (const unsigned char *)data, n) != 1) {
        rt_error_set(err, RT_EAUTH, "could not sign the token request with the private key");
        goto out;
    }
    buf = rt_malloc(len);
    if (!buf) {
        rt_error_set(err, RT_ENOMEM, "out of memory signing the token request");
        goto out;
    }
    if (EVP_DigestSign(md, buf, &len, (const unsigned char *)data, n) != 1) {
        rt_error_set(err, RT_EAUTH, "could not sign the token request with the private key");
        goto out;
    }
    *sig = buf;
    *siglen = len;
    buf = NULL;
    rc = 0;
out:
    ERR_clear_error();
    if (buf)                   /* a signature, maybe in part */
        explicit_bzero(buf, len);
    rt_free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}

int rt_jwt_sign_rs256(const char *pem, const char *header_json, const char *claims_json,
                      char **out, struct rt_error *err)
{
    *out = NULL;
    size_t hlen = strlen(header_json), clen = strlen(claims_json);
    size_t hb = rt_base64url_len(hlen), cb = rt_base64url_len(clen);
    EVP_PKEY *key = rt_jwt_load_key(pem, err);
    if (!key) return -1;

    int rc = -1;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    /* header.claims.signature; the RSA signature is at most 2048 bytes (16384-bit key) */
    size_t cap = hb + 1 + cb + 1 + rt_base64url_len(EVP_PKEY_get_size(key) > 0
                                                      ? (size_t)EVP_PKEY_get_size(key) : 0) + 1;
    char *jwt = rt_malloc(cap);
    if (!jwt) {
        rt_error_set(err, RT_ENOMEM, "out of memory building the token request");
        goto out;
    }
    size_t n = rt_base64url_encode(header_json, hlen, jwt);
    jwt[n++] = '.';
    n += rt_base64url_encode(claims_json, clen, jwt + n);
    if (rt_jwt_rsa_sha256(key, jwt, n, &sig, &siglen, err) != 0) goto out;
    if (n + 1 + rt_base64url_len(siglen) + 1 > cap) {
        rt_error_set(err, RT_EAUTH, "unexpected RSA signature size");
        goto out;
    }
    jwt[n++] = '.';
    rt_base64url_encode(sig, siglen, jwt + n);
    *out = jwt;
    jwt = NULL;
    rc = 0;
out:
    rt_free(jwt);              /* the unsigned part, if anything */
    if (sig)                   /* the signature makes the assertion worth a token */
        explicit_bzero(sig, siglen);
    rt_free(sig);
    EVP_PKEY_free(key);
    return rc;
}

int rt_jwt_assertion(const struct rt_jwt_claims *c, const char *pem, char **out,
                     struct rt_error *err)
{
    *out = NULL;
    if (!c->iss || !*c->iss || !c->scope || !*c->scope || !c->aud || !*c->aud) {
        rt_error_set(err, RT_EINVAL, "a token request needs an issuer, a scope and an audience");
        return -1;
    }
    size_t need = 64 + rt_jwt_json_quoted_max(strlen(c->iss))
                  + rt_jwt_json_quoted_max(c->sub ? strlen(c->sub) : 0)
                  + rt_jwt_json_quoted_max(strlen(c->scope))
                  + rt_jwt_json_quoted_max(strlen(c->aud)) + 2 * 24;
    size_t hneed = 40 + rt_jwt_json_quoted_max(c->kid ? strlen(c->kid) : 0);
    char *claims = rt_malloc(need), *header = rt_malloc(hneed);
    if (!claims || !header) {
        rt_free(claims);
        rt_free(header);
        rt_error_set(err, RT_ENOMEM, "out of memory building the token request");
        return -1;
    }

    size_t n = 0;
    n += (size_t)sprintf(header + n, "{\"alg\":\"RS256\",\"typ\":\"JWT\"");
    if (c->kid && *c->kid) {
        n += (size_t)sprintf(header + n, ",\"kid\":");
        n += rt_jwt_json_quote(c->kid, header + n);
    }
    sprintf(header + n, "}");

    n = 0;
    n += (size_t)sprintf(claims + n, "{\"iss\":");
    n += rt_jwt_json_quote(c->iss, claims + n);
    if (c->sub && *c->sub) {
        n += (size_t)sprintf(claims + n, ",\"sub\":");
        n += rt_jwt_json_quote(c->sub, claims + n);
    }
    n += (size_t)sprintf(claims + n, ",\"scope\":");
    n += rt_jwt_json_quote(c->scope, claims + n);
    n += (size_t)sprintf(claims + n, ",\"aud\":");
    n += rt_jwt_json_quote(c->aud, claims + n);
    sprintf(claims + n, ",\"iat\":%lld,\"exp\":%lld}", c->iat, c->exp);

    int rc = rt_jwt_sign_rs256(pem, header, claims, out, err);
    rt_free(claims);
    rt_free(header);
    return rc;
}
