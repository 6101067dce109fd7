/* JSON Web Tokens signed with RS256, as Google's OAuth endpoint expects them from a
 * service account (RFC 7519, RFC 7515 compact form, RFC 7523 JWT-bearer grant).
 *
 * Pure functions with no I/O and no shared state; safe on any thread. The private key is
 * a secret: it is never copied into an error message. */
#ifndef RT_JWT_H
#define RT_JWT_H

#include <stddef.h>

#include "rt_error.h"

/* Appends s to out as a JSON string literal (quotes included) with the escapes JSON
 * requires; out has room for at least rt_jwt_json_quoted_max(strlen(s)) + 1 bytes.
 * Returns the characters written (out is NUL-terminated). */
size_t rt_jwt_json_quote(const char *s, char *out);
static inline size_t rt_jwt_json_quoted_max(size_t n)
{
    return n * 6 + 2;
}

/* Signs `header_json` "." `claims_json` (each base64url-encoded first, rt_base64.h) with the RSA
 * private key in pem (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY") using
 * RSASSA-PKCS1-v1_5 with SHA-256. On success *out is the compact JWT (caller frees with
 * rt_free) and 0 is returned; on failure -1 with err set (RT_EAUTH for an unusable key,
 * RT_ENOMEM). */
int rt_jwt_sign_rs256(const char *pem, const char *header_json, const char *claims_json,
                      char **out, struct rt_error *err);

/* The claims of a service account's token request. Every string is borrowed. */
struct rt_jwt_claims {
    const char *iss;     /* the service account's client_email */
    const char *sub;     /* optional: a user to impersonate (domain-wide delegation); NULL = none */
    const char *scope;   /* space-separated scopes */
    const char *aud;     /* the token endpoint (the credentials file's token_uri) */
    const char *kid;     /* optional: the private_key_id, sent as the header's kid; NULL = none */
    long long iat;       /* issued at, seconds since the epoch */
    long long exp;       /* expiry, seconds since the epoch (Google allows at most iat + 3600) */
};

/* Builds and signs the JWT assertion for the JWT-bearer grant: header
 * {"alg":"RS256","typ":"JWT"[,"kid":...]} and claims iss, [sub,] scope, aud, iat, exp in
 * that order. Same results as rt_jwt_sign_rs256; RT_EINVAL for a missing iss, scope or
 * aud. */
int rt_jwt_assertion(const struct rt_jwt_claims *c, const char *pem, char **out,
                     struct rt_error *err);

#endif
