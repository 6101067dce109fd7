/* Endpoint URL and header building (see rt_endpoint.h). */
#include "rt_endpoint.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rt_alloc.h"
#include "rt_buf.h"
#include "rt_url.h"
#include "rt_version.h"

bool rt_header_ok(const char *name, const char *value)
{
    const char *p;

    if (!name || !*name || !value)
        return false;
    for (p = name; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p))
            return false;
    for (p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

/* Wipes and frees a header value: the key or the bearer token travels in a header. */
static void rt_ep_wipe_free(char *value)
{
    if (value)
        explicit_bzero(value, strlen(value));
    rt_free(value);
}

void rt_endpoint_free(struct rt_endpoint *ep)
{
    size_t i;

    if (!ep)
        return;
    for (i = 0; i < ep->nheaders; i++) {
        rt_free((void *)ep->headers[i].name);
        rt_ep_wipe_free((char *)ep->headers[i].value);
    }
    rt_free(ep->headers);
    rt_free(ep->url);
    ep->url = NULL;
    ep->headers = NULL;
    ep->nheaders = 0;
}

/* Sets header `name` (replacing one of the same name, ignoring case) to prefix + value. */
static int rt_ep_set(struct rt_endpoint *ep, size_t cap, const char *name, const char *prefix,
                     const char *value, struct rt_error *err)
{
    struct rt_buf v;
    size_t i;
    char *n, *val;

    if (!rt_header_ok(name, value)) {
        rt_error_set(err, RT_EINVAL, "header '%s' has an invalid name or a CR/LF in its value",
                     name ? name : "");
        return -1;
    }
    rt_buf_init(&v);
    if (rt_buf_append_str(&v, prefix) || rt_buf_append_str(&v, value) ||
        !(val = rt_buf_detach(&v, NULL))) {
        rt_buf_free(&v);
        rt_error_set(err, RT_ENOMEM, "out of memory building headers");
        return -1;
    }
    for (i = 0; i < ep->nheaders; i++) {
        if (strcasecmp(ep->headers[i].name, name) == 0) {
            rt_ep_wipe_free((char *)ep->headers[i].value);   /* the credential, maybe */
            ep->headers[i].value = val;
            return 0;
        }
    }
    if (ep->nheaders == cap || !(n = rt_strdup(name))) {
        rt_ep_wipe_free(val);
        rt_error_set(err, RT_ENOMEM, "out of memory building headers");
        return -1;
    }
    ep->headers[ep->nheaders].name = n;
    ep->headers[ep->nheaders].value = val;
    ep->nheaders++;
    return 0;
}

/* ------------------------------------------------------------------------------------
 * C H E C K S   (messages name the option and say what is wrong; never echo a secret)
 * ---------------------------------------------------------------------------------- */

/* Longest project or location accepted; both go into every session's model name. */
#define RT_EP_NAME_MAX 128

/* Letters, digits, '-', '_', '.'. */
static bool rt_ep_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* True when s is a plausible location or version token: letters, digits, '-', '_', '.'. */
static bool rt_ep_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!rt_ep_token_char(*s))
            return false;
    return true;
}

/* True when s is a plausible Google Cloud project: letters, digits, '-', '_', '.', and ':'
 * for a domain-scoped project ("example.com:my-project"), at most RT_EP_NAME_MAX bytes. */
static bool rt_ep_project(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > RT_EP_NAME_MAX)
        return false;
    for (; *s; s++)
        if (*s != ':' && !rt_ep_token_char(*s))
            return false;
    return true;
}

/* True when a header value holds no control character but HTAB (RFC 7230 field-value). */
static bool rt_ep_field_value(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

/* True when v holds no control character at all: a credential or project ID never has
 * one, so a TAB there is a paste gone wrong that would only fail later as "auth". */
static bool rt_ep_no_controls(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* True when v holds a byte outside ASCII: keys, tokens and project IDs are ASCII, so it
 * came with a paste (a no-break space, a zero-width space, a typographic quote) and would
 * only come back from the server as "API key not valid". */
static bool rt_ep_non_ascii(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p >= 0x80)
            return true;
    return false;
}

/* An option that goes into a header (a credential, the quota project) must be a valid
 * header value without even a TAB, in ASCII; the message names the option, never its
 * value. */
static int rt_ep_check_value(const char *option, const char *v, struct rt_error *err)
{
    if (v && !rt_ep_no_controls(v)) {
        rt_error_set(err, RT_EINVAL, "option '%s': contains CR, LF, a tab or another control "
                     "character", option);
        return -1;
    }
    if (v && rt_ep_non_ascii(v)) {
        rt_error_set(err, RT_EINVAL, "option '%s': contains a byte outside ASCII, which no key "
                     "or token holds (a no-break space, a zero-width space or a quote mark "
                     "copied with it?)", option);
        return -1;
    }
    if (v && strlen(v) > RT_EP_VALUE_MAX) {
        rt_error_set(err, RT_EINVAL, "option '%s': longer than %d bytes (keys and tokens are "
                     "a few hundred)", option, RT_EP_VALUE_MAX);
        return -1;
    }
    return 0;
}

/* The length of base's scheme when base starts with up to 16 letters and "://"; else 0. */
static size_t rt_ep_scheme_len(const char *base)
{
    size_t i = 0;
    while (i < 16 && ((base[i] >= 'a' && base[i] <= 'z') || (base[i] >= 'A' && base[i] <= 'Z')))
        i++;
    return i > 0 && strncmp(base + i, "://", 3) == 0 ? i : 0;
}

/* The WebSocket scheme a base_url scheme stands for ("wss://" for https and wss, "ws://"
 * for http and ws, any case), or NULL. */
static const char *rt_ep_ws_scheme(const char *scheme, size_t n)
{
    if ((n == 5 && strncasecmp(scheme, "https", 5) == 0) ||
        (n == 3 && strncasecmp(scheme, "wss", 3) == 0))
        return "wss://";
    if ((n == 4 && strncasecmp(scheme, "http", 4) == 0) ||
        (n == 2 && strncasecmp(scheme, "ws", 2) == 0))
        return "ws://";
    return NULL;
}

/* Writes the backend's service path (what follows the base URL) into out (size n, or
 * NULL to measure), as snprintf does; the version defaults as rt_endpoint_build's. */
static int rt_ep_service_path(const struct rt_endpoint_options *o, char *out, size_t n)
{
    const char *v = o->api_version;
    bool ephemeral = o->api_key && strncmp(o->api_key, "auth_tokens/", 12) == 0;

    if (o->backend == RT_BACKEND_VERTEX)
        return snprintf(out, n, "/ws/google.cloud.aiplatform.%s.LlmBidiService/"
                        "BidiGenerateContent", v ? v : "v1beta1");
    return snprintf(out, n, "/ws/google.ai.generativelanguage.%s.GenerativeService.%s",
                    v ? v : ephemeral ? "v1alpha" : "v1beta",
                    ephemeral ? "BidiGenerateContentConstrained" : "BidiGenerateContent");
}

/* The length of the session URL rt_endpoint_build makes of a checked base (which may
 * not be NULL): its WebSocket scheme, the rest without trailing slashes, the path. */
static size_t rt_ep_url_len(const struct rt_endpoint_options *o)
{
    size_t n = rt_ep_scheme_len(o->base_url);
    const char *rest = o->base_url + n + 3;
    size_t len = strlen(rest);
    int path = rt_ep_service_path(o, NULL, 0);

    while (len && rest[len - 1] == '/')
        len--;
    return strlen(rt_ep_ws_scheme(o->base_url, n)) + len + (path > 0 ? (size_t)path : 0);
}

#define RT_EP_BASE_FAIL(...) \
    (rt_error_set(err, RT_EINVAL, "option 'base_url': " __VA_ARGS__), -1)

/* base_url: a scheme we map, an authority rt_url_authority takes, an optional path
 * prefix; printable ASCII only, no user information, query or fragment. */
static int rt_ep_check_base(const char *base, struct rt_error *err)
{
    const char *auth, *end, *p, *why;
    struct rt_url_authority a;
    size_t n = rt_ep_scheme_len(base);

    if (n == 0)
        return RT_EP_BASE_FAIL("expected a URL starting with http://, https://, ws:// or wss://");
    if (!rt_ep_ws_scheme(base, n))
        return RT_EP_BASE_FAIL("the scheme '%.*s' is not supported; use http://, https://, "
                               "ws:// or wss://", (int)n, base);
    for (p = base; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ')
            return RT_EP_BASE_FAIL("contains a space (percent-encode it as %%20)");
        if (c < 0x20 || c == 0x7f)
            return RT_EP_BASE_FAIL("contains a control character (CR, LF, tab, ...)");
        if (c >= 0x80)
            return RT_EP_BASE_FAIL("contains a byte outside ASCII (percent-encode it)");
    }
    auth = base + n + 3;
    if (strpbrk(auth, "?#"))
        return RT_EP_BASE_FAIL("has a query or fragment; only a path prefix is kept");
    end = auth + strcspn(auth, "/");
    /* what RFC 3986 never allows in a path would reach the request line as it is */
    if (strpbrk(end, "\"<>\\^`{|}"))
        return RT_EP_BASE_FAIL("has a character a URL path cannot hold (one of \" < > \\ ^ ` { | }: "
                               "percent-encode it)");
    if (memchr(auth, '@', (size_t)(end - auth)))
        return RT_EP_BASE_FAIL("has user information (user:password@); pass credentials as "
                               "api_key, access_token or headers");
    if ((why = rt_url_authority(auth, (size_t)(end - auth), &a)))
        return RT_EP_BASE_FAIL("%s", why);
    return 0;
}

/* A header name for a message: itself when it is short printable ASCII, else a stand-in. */
static const char *rt_ep_shown_name(const char *name)
{
    size_t i;
    for (i = 0; name[i]; i++)
        if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] >= 0x7f || i >= 64)
            return "(unprintable)";
    return i ? name : "(empty)";
}

/* True for a header the upgrade request already carries (rt_ws_request) or that would
 * announce a body it does not have: a second copy would contradict the first. */
static bool rt_ep_reserved(const char *name)
{
    static const char *const reserved[] = {
        "host", "connection", "upgrade", "content-length", "transfer-encoding", NULL,
    };

    for (size_t i = 0; reserved[i]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return strncasecmp(name, "sec-websocket-", 14) == 0;
}

int rt_headers_check(const struct rt_header *h, size_t n, size_t max_bytes,
                     struct rt_error *err)
{
    size_t bytes = 0;

    rt_error_clear(err);
    if (n && !h) {
        rt_error_set(err, RT_EINVAL, "option 'headers': nheaders is set but headers is NULL");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name ? h[i].name : "";
        const char *value = h[i].value;
        if (!rt_header_ok(name, "")) {
            rt_error_set(err, RT_EINVAL, "option 'headers': '%s' is not a valid header name "
                         "(letters, digits and !#$%%&'*+-.^_`|~)", rt_ep_shown_name(name));
            return -1;
        }
        if (!value || !rt_ep_field_value(value)) {
            rt_error_set(err, RT_EINVAL, "option 'headers': the value of '%s' %s",
                         rt_ep_shown_name(name),
                         value ? "contains CR, LF or another control character" : "is missing");
            return -1;
        }
        if (rt_ep_reserved(name)) {
            rt_error_set(err, RT_EINVAL, "option 'headers': '%s' is written by the library "
                         "itself (the WebSocket upgrade); leave it out", rt_ep_shown_name(name));
            return -1;
        }
        bytes += strlen(name) + strlen(value) + 4;      /* "name: value\r\n" */
    }
    /* megabytes would go out in every upgrade, answered 431 as a failed handshake */
    if (bytes > max_bytes) {
        rt_error_set(err, RT_EINVAL, "option 'headers': %zu bytes of names and values, more "
                     "than the %zu a handshake may carry", bytes, max_bytes);
        return -1;
    }
    return 0;
}

int rt_endpoint_check(const struct rt_endpoint_options *o, struct rt_error *err)
{
    rt_error_clear(err);
    if (!o) {
        rt_error_set(err, RT_EINVAL, "o is NULL");
        return -1;
    }
    if (o->base_url && rt_ep_check_base(o->base_url, err))
        return -1;
    if (o->api_version && !rt_ep_token(o->api_version)) {
        rt_error_set(err, RT_EINVAL, "option 'api_version': expected letters, digits, '-', '_' "
                     "or '.', as in \"v1beta\"");
        return -1;
    }
    if (o->api_version && strlen(o->api_version) > RT_EP_NAME_MAX) {
        rt_error_set(err, RT_EINVAL, "option 'api_version': longer than %d bytes (versions "
                     "are like \"v1beta\")", RT_EP_NAME_MAX);
        return -1;
    }
    /* Without a base_url the host and path are short: a project, location and version
     * of RT_EP_NAME_MAX bytes each make a URL far below RT_URL_MAX. */
    if (o->base_url && rt_ep_url_len(o) > RT_URL_MAX) {
        rt_error_set(err, RT_EINVAL, "option 'base_url': makes a session URL of %zu bytes, "
                     "more than the %d an upgrade request line may carry", rt_ep_url_len(o),
                     RT_URL_MAX);
        return -1;
    }
    /* Both are path segments of every model name: ".." would climb out of them. */
    if (o->backend == RT_BACKEND_VERTEX && o->location && *o->location &&
        (!rt_ep_token(o->location) || strlen(o->location) > RT_EP_NAME_MAX ||
         strstr(o->location, ".."))) {
        rt_error_set(err, RT_EINVAL, "option 'location': expected at most %d letters, digits, "
                     "'-', '_' or '.' (no \"..\"), as in \"us-central1\"", RT_EP_NAME_MAX);
        return -1;
    }
    if (o->backend == RT_BACKEND_VERTEX && o->project && *o->project &&
        (!rt_ep_project(o->project) || strstr(o->project, ".."))) {
        rt_error_set(err, RT_EINVAL, "option 'project': expected a Google Cloud project ID "
                     "(at most %d letters, digits, '-', '_', '.' or ':', no \"..\"), as in "
                     "\"my-project\"", RT_EP_NAME_MAX);
        return -1;
    }
    if (rt_ep_check_value("api_key", o->api_key, err) ||
        rt_ep_check_value("access_token", o->access_token, err) ||
        rt_ep_check_value("quota_project", o->quota_project, err))
        return -1;
    /* A bearer token holds no space (RFC 6750); one given with its scheme ("Bearer ya29...",
     * as a header shows it) would go out as "Bearer Bearer ..." and come back a bare 401. */
    if (o->access_token && strchr(o->access_token, ' ')) {
        rt_error_set(err, RT_EINVAL, "option 'access_token': contains a space, which no bearer "
                     "token holds (pass the token alone, without \"Bearer \")");
        return -1;
    }
    return rt_headers_check(o->headers, o->nheaders, RT_EP_HEADERS_MAX, err);
}

/* ------------------------------------------------------------------------------------
 * B U I L D I N G
 * ---------------------------------------------------------------------------------- */

/* Appends the WebSocket form of base (checked by rt_endpoint_check; without a trailing
 * slash) to u, or wss://default_host when base is NULL. */
static int rt_ep_base(struct rt_buf *u, const char *base, const char *default_host,
                      struct rt_error *err)
{
    const char *rest;
    size_t n;

    if (!base) {
        if (rt_buf_printf(u, "wss://%s", default_host))
            goto nomem;
        return 0;
    }
    n = rt_ep_scheme_len(base);
    rest = base + n + 3;
    if (rt_buf_append_str(u, rt_ep_ws_scheme(base, n)))
        goto nomem;
    n = strlen(rest);
    while (n && rest[n - 1] == '/')
        n--;
    if (rt_buf_append(u, rest, n))
        goto nomem;
    return 0;
nomem:
    rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
    return -1;
}

/* True when the caller's headers name an Authorization header (any case). */
static bool rt_ep_has_authorization(const struct rt_endpoint_options *o)
{
    for (size_t i = 0; i < o->nheaders; i++)
        if (o->headers[i].name && strcasecmp(o->headers[i].name, "authorization") == 0)
            return true;
    return false;
}

/* Appends the backend's service path (rt_ep_service_path) to u. */
static int rt_ep_path(struct rt_buf *u, const struct rt_endpoint_options *o,
                      struct rt_error *err)
{
    char path[RT_EP_NAME_MAX + 96];   /* the longest version rt_endpoint_check takes fits */
    int n = rt_ep_service_path(o, path, sizeof path);

    if (n < 0 || (size_t)n >= sizeof path) {
        rt_error_set(err, RT_EINVAL, "option 'api_version': too long");
        return -1;
    }
    if (rt_buf_append(u, path, (size_t)n)) {
        rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
        return -1;
    }
    return 0;
}

int rt_endpoint_build(const struct rt_endpoint_options *o, struct rt_endpoint *ep,
                      struct rt_error *err)
{
    const char *ua = "realtime-lua/" RT_VERSION;
    const char *key, *token;
    struct rt_buf u, host;
    size_t cap, i;
    int rc = -1;

    if (!ep) {
        rt_error_clear(err);
        rt_error_set(err, RT_EINVAL, "ep is NULL");
        return -1;
    }
    ep->url = NULL;
    ep->headers = NULL;
    ep->nheaders = 0;
    if (rt_endpoint_check(o, err))
        return -1;
    key = o->api_key && *o->api_key ? o->api_key : NULL;
    token = o->access_token && *o->access_token ? o->access_token : NULL;
    rt_buf_init(&u);
    rt_buf_init(&host);
    cap = 6 + o->nheaders;
    ep->headers = rt_calloc(cap, sizeof *ep->headers);
    if (!ep->headers) {
        rt_error_set(err, RT_ENOMEM, "out of memory building headers");
        goto out;
    }
    if (o->backend == RT_BACKEND_GEMINI) {
        bool ephemeral = key && strncmp(key, "auth_tokens/", 12) == 0;

        if (!key) {
            rt_error_set(err, RT_EAUTH, "the Gemini API needs an api_key");
            goto out;
        }
        if (rt_ep_base(&u, o->base_url, "generativelanguage.googleapis.com", err) ||
            rt_ep_path(&u, o, err))
            goto out;
        if (ephemeral ? rt_ep_set(ep, cap, "authorization", "Token ", key, err)
                      : rt_ep_set(ep, cap, "x-goog-api-key", "", key, err))
            goto out;
    } else if (o->backend == RT_BACKEND_VERTEX) {
        const char *loc = o->location && *o->location ? o->location : "global";

        /* A caller's own Authorization header is its OAuth credential, sent as given
         * (Google's SDKs look for no other then); a key without a token is express mode. */
        bool oauth = token || (!key && rt_ep_has_authorization(o));

        if (!oauth && !key) {
            /* rt_session_options.auth replaces the token per handshake, but the URL
             * and host are chosen here, so such a host passes a placeholder token. */
            rt_error_set(err, RT_EAUTH, "Vertex AI needs an access_token, an api_key or an "
                         "Authorization header, or a placeholder access_token when the "
                         "session's .auth gives the tokens");
            goto out;
        }
        /* Express mode (key only) and "global" use the global host; "us" and "eu" are
         * multi-regional; anything else is a regional host. */
        if ((!oauth || strcmp(loc, "global") == 0) ? rt_buf_append_str(&host, "aiplatform.googleapis.com")
            : (strcmp(loc, "us") == 0 || strcmp(loc, "eu") == 0)
                ? rt_buf_printf(&host, "aiplatform.%s.rep.googleapis.com", loc)
                : rt_buf_printf(&host, "%s-aiplatform.googleapis.com", loc)) {
            rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
            goto out;
        }
        if (rt_ep_base(&u, o->base_url, host.data, err) || rt_ep_path(&u, o, err))
            goto out;
        if (token ? rt_ep_set(ep, cap, "authorization", "Bearer ", token, err)
                  : key && rt_ep_set(ep, cap, "x-goog-api-key", "", key, err))
            goto out;
        if (o->quota_project && *o->quota_project &&
            rt_ep_set(ep, cap, "x-goog-user-project", "", o->quota_project, err))
            goto out;
    } else {
        rt_error_set(err, RT_EINVAL, "unknown backend");
        goto out;
    }
    if (rt_ep_set(ep, cap, "user-agent", "", ua, err) ||
        rt_ep_set(ep, cap, "x-goog-api-client", "", ua, err))
        goto out;
    for (i = 0; i < o->nheaders; i++)
        if (rt_ep_set(ep, cap, o->headers[i].name, "", o->headers[i].value, err))
            goto out;
    if (!(ep->url = rt_buf_detach(&u, NULL))) {
        rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
        goto out;
    }
    rc = 0;
out:
    rt_buf_free(&u);
    rt_buf_free(&host);
    return rc;
}
