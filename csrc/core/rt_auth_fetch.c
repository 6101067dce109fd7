/* One token request of a credential: the grant body (a signed JWT or the refresh-token
 * grant), the metadata server URL, and the reading of the answer with messages that say
 * what to fix and never repeat a secret (see rt_auth.h, rt_auth_private.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rt_alloc.h"
#include "rt_auth_private.h"
#include "rt_endpoint.h"
#include "rt_json.h"
#include "rt_jwt.h"
#include "rt_mask.h"

#define RT_AUTH_JWT_LIFETIME 3600
#define RT_AUTH_DEFAULT_LIFETIME 3600.0

/* ==================================================================== */
/*  T E X T                                                             */
/* ==================================================================== */

/* A growable string for request bodies (which hold secrets: wiped on free). */
struct rt_auth_str {
    char *p;
    size_t len, cap;
    bool oom;
};

static void rt_auth_str_add(struct rt_auth_str *s, const char *text, size_t n)
{
    if (s->oom) return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *p = rt_malloc(cap);
        if (!p) {
            s->oom = true;
            return;
        }
        if (s->p) {
            memcpy(p, s->p, s->len);
            explicit_bzero(s->p, s->cap);
            rt_free(s->p);
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, text, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void rt_auth_str_cat(struct rt_auth_str *s, const char *text)
{
    rt_auth_str_add(s, text, strlen(text));
}

/* Appends text form-urlencoded (application/x-www-form-urlencoded). */
static void rt_auth_str_form(struct rt_auth_str *s, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~') {
            char ch = (char)c;
            rt_auth_str_add(s, &ch, 1);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            rt_auth_str_add(s, esc, 3);
        }
    }
}

static void rt_auth_str_free(struct rt_auth_str *s)
{
    if (s->p) {
        explicit_bzero(s->p, s->cap);
        rt_free(s->p);
    }
    s->p = NULL;
    s->len = s->cap = 0;
}

/* True when s[0..n) repeats secret: a run of RT_MASK_RUN of its bytes, or the whole
 * of a shorter one (of 4 bytes or more; shorter ones cannot be told from words). */
static bool rt_auth_repeats(const char *s, size_t n, const char *secret)
{
    size_t m = secret ? strlen(secret) : 0;

    if (m >= 4 && m < RT_MASK_RUN)
        return memmem(s, n, secret, m) != NULL;
    for (size_t k = 0; m >= RT_MASK_RUN && k + RT_MASK_RUN <= m; k++)
        if (memmem(s, n, secret + k, RT_MASK_RUN))
            return true;
    return false;
}

/* True when s repeats part of the private key's base64 body (its lines joined, so that
 * a run across a line break counts too), or when out of memory to look. */
static bool rt_auth_repeats_key(const char *s, size_t n, const char *pem)
{
    size_t len = pem ? strlen(pem) : 0, k = 0;
    bool hit;
    char *body;

    if (!len)
        return false;
    body = rt_malloc(len + 1);
    if (!body)
        return true;
    for (const char *line = pem; *line; ) {
        size_t ll = strcspn(line, "\n");
        if (strncmp(line, "-----", 5) != 0)
            for (size_t i = 0; i < ll; i++)
                if (line[i] != '\r' && line[i] != ' ' && line[i] != '\t')
                    body[k++] = line[i];
        line += ll + (line[ll] == '\n');
    }
    body[k] = '\0';
    hit = rt_auth_repeats(s, n, body);
    explicit_bzero(body, len + 1);
    rt_free(body);
    return hit;
}

/* True when s repeats part of secret as the grant body carried it, form-encoded (an
 * endpoint that quotes the request: "1//x" as "1%2F%2Fx"), or when out of memory to look. */
static bool rt_auth_repeats_form(const char *s, size_t n, const char *secret)
{
    struct rt_auth_str f = { 0 };
    bool hit;

    if (!secret || !*secret)
        return false;
    rt_auth_str_form(&f, secret);
    hit = f.oom || (strcmp(f.p, secret) != 0 && rt_auth_repeats(s, n, f.p));
    rt_auth_str_free(&f);
    return hit;
}

/* True when s repeats part of one of the object's secrets (so it must not reach a
 * message): RT_MASK_RUN bytes of the client secret or the refresh token (as they are or
 * form-encoded), the private key's body, the signed assertion last sent or the cached
 * access token, a PEM header, or what looks like a Google token. */
static bool rt_auth_leaks(struct rt_auth *a, const char *s)
{
    size_t n = strlen(s);
    bool hit;

    if (rt_auth_repeats(s, n, a->client_secret) || rt_auth_repeats(s, n, a->refresh_token) ||
        rt_auth_repeats_form(s, n, a->client_secret) ||
        rt_auth_repeats_form(s, n, a->refresh_token) ||
        rt_auth_repeats_key(s, n, a->private_key) || strstr(s, "PRIVATE KEY") ||
        strstr(s, "ya29."))
        return true;
    pthread_mutex_lock(&a->lock);
    hit = rt_auth_repeats(s, n, a->token) || rt_auth_repeats(s, n, a->assertion);
    pthread_mutex_unlock(&a->lock);
    return hit;
}

/* Copies a server's error text into out: printable ASCII only, at most 160 bytes, and
 * nothing at all if it would repeat a secret. */
static void rt_auth_clean_text(struct rt_auth *a, const char *in, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    if (!in || rt_auth_leaks(a, in)) return;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < size && o < 100; p++)
        out[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : ' ';
    while (o > 0 && out[o - 1] == ' ') o--;
    out[o] = '\0';
}

/* ==================================================================== */
/*  O N E   F E T C H                                                   */
/* ==================================================================== */


/* The request body of a token-endpoint grant; NULL when out of memory. */
static char *rt_auth_grant_body(struct rt_auth *a, size_t *len, struct rt_error *err)
{
    struct rt_auth_str s = { 0 };
    if (a->kind == RT_AUTH_SERVICE_ACCOUNT) {
        long long iat = (long long)time(NULL);
        struct rt_jwt_claims c = {
            .iss = a->client_email, .sub = a->subject, .scope = a->scope, .aud = a->token_uri,
            .kid = a->private_key_id, .iat = iat, .exp = iat + RT_AUTH_JWT_LIFETIME,
        };
        char *jwt = NULL;
        struct rt_error e = { RT_OK, "" };
        if (rt_jwt_assertion(&c, a->private_key, &jwt, &e) != 0) {
            rt_error_set(err, e.code == RT_ENOMEM ? RT_ENOMEM : RT_EAUTH, "%s: %s", a->source, e.msg);
            return NULL;
        }
        rt_auth_str_cat(&s, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
        rt_auth_str_form(&s, jwt);
        /* kept until the next grant: an answer that quotes it must not reach a message */
        pthread_mutex_lock(&a->lock);
        rt_auth_wipe(a->assertion);
        a->assertion = jwt;
        pthread_mutex_unlock(&a->lock);
    } else {
        rt_auth_str_cat(&s, "grant_type=refresh_token&client_id=");
        rt_auth_str_form(&s, a->client_id);
        rt_auth_str_cat(&s, "&client_secret=");
        rt_auth_str_form(&s, a->client_secret);
        rt_auth_str_cat(&s, "&refresh_token=");
        rt_auth_str_form(&s, a->refresh_token);
    }
    if (s.oom) {
        rt_auth_str_free(&s);
        rt_error_set(err, RT_ENOMEM, "%s: out of memory building the token request", a->source);
        return NULL;
    }
    *len = s.len;
    return s.p;
}

/* A hint for what to fix, by credential kind and OAuth error. */
static const char *rt_auth_hint(const struct rt_auth *a, long status, const char *error)
{
    if (a->kind == RT_AUTH_METADATA)
        return status == 404 ? "; is a service account attached to the machine?" : "";
    if (strcmp(error, "invalid_client") == 0 || strcmp(error, "unauthorized_client") == 0)
        return "; check client_id and client_secret";
    if (strcmp(error, "invalid_grant") == 0)
        return a->kind == RT_AUTH_SERVICE_ACCOUNT
                   ? "; is the key still active and the clock right?"
                   : "; run `gcloud auth application-default login` again";
    if (strcmp(error, "invalid_scope") == 0) return "; check the requested scope";
    return "";
}

/* Copies the string at path in the JSON body into out, cleaned (see rt_auth_clean_text);
 * false when there is none. */
static bool rt_auth_body_text(struct rt_auth *a, const struct rt_http_response *r,
                              const char *path, char *out, size_t size)
{
    struct rt_json_val v;
    char *s;

    out[0] = '\0';
    if (rt_json_find(r->body, r->len, path, &v) != RT_JSON_STRING)
        return false;
    s = rt_json_strdup(&v, NULL, NULL);
    rt_auth_clean_text(a, s, out, size);
    rt_auth_wipe(s);
    return true;
}

/* Turns a refusal (any status but 200) into an error naming source, endpoint and cause. */
static void rt_auth_refused(struct rt_auth *a, const char *where, const struct rt_http_response *r,
                            struct rt_error *err)
{
    char e[168], d[168];
    e[0] = d[0] = '\0';
    int t = rt_json_find(r->body, r->len, "error", NULL);
    if (t == RT_JSON_STRING) {
        rt_auth_body_text(a, r, "error", e, sizeof e);
        rt_auth_body_text(a, r, "error_description", d, sizeof d);
    } else if (t == RT_JSON_OBJECT) {
        /* Google's API error shape: {"error":{"code":..,"message":..,"status":..}} */
        rt_auth_body_text(a, r, "error.status", e, sizeof e);
        rt_auth_body_text(a, r, "error.message", d, sizeof d);
    } else if (r->body && r->len > 0 && r->len < 200 && t < 0) {
        rt_auth_clean_text(a, r->body, d, sizeof d);   /* a plain-text answer */
    }
    const char *what = a->kind == RT_AUTH_METADATA ? "metadata server" : "token endpoint";
    rt_error_set(err, RT_EAUTH, "%s: %s %s refused: HTTP %ld%s%s%s%s%s",
                 a->source, what, where, r->status, e[0] ? " " : "", e, d[0] ? ": " : "", d,
                 rt_auth_hint(a, r->status, e));
}

void rt_auth_req_free(struct rt_auth_req *q)
{
    if (q->body) {
        explicit_bzero(q->body, q->body_len);
        rt_free(q->body);
    }
    rt_free(q->url);
    q->body = q->url = NULL;
}

/* Builds the request of a's next token fetch (signing a JWT for a service account). */
int rt_auth_req_build(struct rt_auth *a, struct rt_auth_req *q, struct rt_error *err)
{
    size_t nheaders = 0;

    memset(q, 0, sizeof *q);
    if (a->kind == RT_AUTH_METADATA) {
        struct rt_auth_str u = { 0 };
        rt_auth_str_cat(&u, a->metadata_url);
        rt_auth_str_cat(&u, "/computeMetadata/v1/instance/service-accounts/default/token");
        if (strcmp(a->scope, RT_AUTH_CLOUD_PLATFORM) != 0) {
            rt_auth_str_cat(&u, "?scopes=");
            rt_auth_str_form(&u, a->scope);
        }
        if (u.oom) {
            rt_auth_str_free(&u);
            rt_error_set(err, RT_ENOMEM, "%s: out of memory", a->source);
            return -1;
        }
        q->url = u.p;
        q->headers[nheaders++] = (struct rt_http_header){ "Metadata-Flavor", "Google" };
        q->req.method = "GET";
        q->req.url = q->url;
    } else {
        q->body = rt_auth_grant_body(a, &q->body_len, err);
        if (!q->body) return -1;
        q->headers[nheaders++] = (struct rt_http_header){ "Content-Type", "application/x-www-form-urlencoded" };
        q->req.method = "POST";
        q->req.url = a->token_uri;
        q->req.body = q->body;
        q->req.body_len = q->body_len;
    }
    q->headers[nheaders++] = (struct rt_http_header){ "Accept", "application/json" };
    q->req.headers = q->headers;
    q->req.nheaders = nheaders;
    q->req.ca_file = a->ca_file;
    q->req.timeout = a->timeout;
    q->req.max_response = 64 * 1024;
    rt_http_redact_url(q->req.url, q->where, sizeof q->where);
    return 0;
}

/* The error of a token request that got no answer, naming the source. */
void rt_auth_unanswered(const struct rt_auth *a, const struct rt_error *e, struct rt_error *err)
{
    rt_error_set(err, e->code == RT_ENOMEM ? RT_ENOMEM : RT_EAUTH, "%s: %s", a->source, e->msg);
}

/* Reads the answer of the token endpoint at `where`: 0 with *token (rt_malloc'd, secret)
 * and *lifetime, or -1 with err naming the source. */
int rt_auth_answer(struct rt_auth *a, const char *where, const struct rt_http_response *resp,
                          char **token, double *lifetime, struct rt_error *err)
{
    char *tok = NULL;
    size_t toklen = 0;
    double expires_in = 0;
    bool oom = false;
    struct rt_json_val v;

    *token = NULL;
    if (a->metadata_default && !resp->metadata_flavor) {
        /* Google's metadata servers mark every answer; Google's libraries take no other */
        rt_error_set(err, RT_EAUTH, "%s: GET %s: its answer (HTTP %ld) lacks Metadata-Flavor: "
                     "Google, so no metadata server gave it (a proxy? on Google Cloud, set "
                     "no_proxy=%s)", a->source, where, resp->status, RT_AUTH_METADATA_HOST);
        return RT_AUTH_NOT_METADATA;
    }
    if (resp->status != 200) {
        rt_auth_refused(a, where, resp, err);
        return -1;
    }
    if (rt_json_find(resp->body, resp->len, "access_token", &v) == RT_JSON_STRING)
        tok = rt_json_strdup(&v, &toklen, &oom);
    if (oom) {
        rt_error_set(err, RT_ENOMEM, "%s: out of memory reading the token", a->source);
        return -1;
    }
    if (!tok || !tok[0] || strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") != toklen) {
        if (tok) explicit_bzero(tok, toklen);
        rt_free(tok);
        rt_error_set(err, RT_EAUTH, "%s: the %s %s answered without a usable access_token",
                     a->source, a->kind == RT_AUTH_METADATA ? "metadata server" : "token endpoint", where);
        return -1;
    }
    if (toklen > RT_EP_VALUE_MAX) {
        /* It could not go into the upgrade request's header (connect refuses it there). */
        explicit_bzero(tok, toklen);
        rt_free(tok);
        rt_error_set(err, RT_EAUTH, "%s: the %s %s answered with an access_token of %zu bytes "
                     "(at most %d)", a->source, a->kind == RT_AUTH_METADATA ? "metadata server"
                     : "token endpoint", where, toklen, RT_EP_VALUE_MAX);
        return -1;
    }
    if (rt_json_find(resp->body, resp->len, "expires_in", &v) != RT_JSON_NUMBER
        || rt_json_number(&v, &expires_in) != 0 || expires_in > 86400 * 7)
        expires_in = RT_AUTH_DEFAULT_LIFETIME;
    if (!(expires_in >= 1)) {
        /* Expired already, or about to be: taking it would refetch at once, forever. */
        explicit_bzero(tok, toklen);
        rt_free(tok);
        rt_error_set(err, RT_EAUTH, "%s: the %s %s answered with expires_in %g: a token that "
                     "is expired or expires within a second cannot be used", a->source,
                     a->kind == RT_AUTH_METADATA ? "metadata server" : "token endpoint", where,
                     expires_in);
        return -1;
    }
    *token = tok;
    *lifetime = expires_in;
    return 0;
}

int rt_auth_fetch_now(struct rt_auth *a, char **token, double *lifetime, struct rt_error *err)
{
    struct rt_auth_req q;
    struct rt_http_response resp = { 0 };
    struct rt_error e;
    int rc;

    rt_error_clear(err);
    if (token)
        *token = NULL;
    if (!a || !token || !lifetime) {
        rt_error_set(err, RT_EINVAL, "%s is NULL", !a ? "a" : !token ? "token" : "lifetime");
        return -1;
    }
    if (rt_fork_check(&a->born, "a credential", err))
        return -1;
    if (rt_auth_req_build(a, &q, err) != 0)
        return -1;
    rt_error_clear(&e);
    if (rt_http_perform(&q.req, &resp, &e) != 0) {
        rt_auth_unanswered(a, &e, err);
        rc = -1;
    } else {
        rc = rt_auth_answer(a, q.where, &resp, token, lifetime, err) == 0 ? 0 : -1;
    }
    rt_http_response_free(&resp);
    rt_auth_req_free(&q);
    return rc;
}

