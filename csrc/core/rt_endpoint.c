/* Endpoint URL and header building (see rt_endpoint.h). */
#include "rt_endpoint.h"

#include <string.h>
#include <strings.h>

#include "rt_alloc.h"
#include "rt_buf.h"

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

void rt_endpoint_free(struct rt_endpoint *ep)
{
    size_t i;

    if (!ep)
        return;
    for (i = 0; i < ep->nheaders; i++) {
        rt_free((void *)ep->headers[i].name);
        rt_free((void *)ep->headers[i].value);
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
            rt_free((void *)ep->headers[i].value);
            ep->headers[i].value = val;
            return 0;
        }
    }
    if (ep->nheaders == cap || !(n = rt_strdup(name))) {
        rt_free(val);
        rt_error_set(err, RT_ENOMEM, "out of memory building headers");
        return -1;
    }
    ep->headers[ep->nheaders].name = n;
    ep->headers[ep->nheaders].value = val;
    ep->nheaders++;
    return 0;
}

/* Appends the WebSocket form of base (no trailing slash) to u. */
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
    if (strncmp(base, "https://", 8) == 0) {
        rest = base + 8;
        if (rt_buf_append_str(u, "wss://"))
            goto nomem;
    } else if (strncmp(base, "http://", 7) == 0) {
        rest = base + 7;
        if (rt_buf_append_str(u, "ws://"))
            goto nomem;
    } else if (strncmp(base, "wss://", 6) == 0) {
        rest = base + 6;
        if (rt_buf_append_str(u, "wss://"))
            goto nomem;
    } else if (strncmp(base, "ws://", 5) == 0) {
        rest = base + 5;
        if (rt_buf_append_str(u, "ws://"))
            goto nomem;
    } else {
        rt_error_set(err, RT_EINVAL, "base_url must start with http://, https://, ws:// or wss://");
        return -1;
    }
    n = strlen(rest);
    while (n && rest[n - 1] == '/')
        n--;
    if (!n || rest[0] == '/' || memchr(rest, '?', n) || memchr(rest, '#', n) ||
        strpbrk(rest, " \r\n\t")) {
        rt_error_set(err, RT_EINVAL, "base_url has no host, or has a query or fragment");
        return -1;
    }
    if (rt_buf_append(u, rest, n))
        goto nomem;
    return 0;
nomem:
    rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
    return -1;
}

/* True when s is a plausible location or version token: letters, digits, '-' and '_'. */
static bool rt_ep_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

int rt_endpoint_build(const struct rt_endpoint_options *o, struct rt_endpoint *ep,
                      struct rt_error *err)
{
    const char *ua = "realtime-lua/" RT_VERSION;
    const char *key = o->api_key && *o->api_key ? o->api_key : NULL;
    const char *token = o->access_token && *o->access_token ? o->access_token : NULL;
    const char *version = o->api_version;
    struct rt_buf u, host;
    size_t cap, i;
    int rc = -1;

    ep->url = NULL;
    ep->headers = NULL;
    ep->nheaders = 0;
    rt_buf_init(&u);
    rt_buf_init(&host);
    cap = 6 + o->nheaders;
    ep->headers = rt_calloc(cap, sizeof *ep->headers);
    if (!ep->headers) {
        rt_error_set(err, RT_ENOMEM, "out of memory building headers");
        goto out;
    }
    if (version && !rt_ep_token(version)) {
        rt_error_set(err, RT_EINVAL, "invalid api_version");
        goto out;
    }

    if (o->backend == RT_BACKEND_GEMINI) {
        bool ephemeral = key && strncmp(key, "auth_tokens/", 12) == 0;

        if (!key) {
            rt_error_set(err, RT_EAUTH, "the Gemini API needs an api_key");
            goto out;
        }
        if (!version)
            version = ephemeral ? "v1alpha" : "v1beta";
        if (rt_ep_base(&u, o->base_url, "generativelanguage.googleapis.com", err))
            goto out;
        if (rt_buf_printf(&u, "/ws/google.ai.generativelanguage.%s.GenerativeService.%s",
                          version, ephemeral ? "BidiGenerateContentConstrained"
                                             : "BidiGenerateContent")) {
            rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
            goto out;
        }
        if (ephemeral ? rt_ep_set(ep, cap, "authorization", "Token ", key, err)
                      : rt_ep_set(ep, cap, "x-goog-api-key", "", key, err))
            goto out;
    } else if (o->backend == RT_BACKEND_VERTEX) {
        const char *loc = o->location && *o->location ? o->location : "global";

        if (!token && !key) {
            rt_error_set(err, RT_EAUTH, "Vertex AI needs an access_token or an api_key");
            goto out;
        }
        if (!rt_ep_token(loc)) {
            rt_error_set(err, RT_EINVAL, "invalid location");
            goto out;
        }
        if (!version)
            version = "v1beta1";
        /* Express mode (key only) and "global" use the global host; "us" and "eu" are
         * multi-regional; anything else is a regional host. */
        if ((!token || strcmp(loc, "global") == 0) ? rt_buf_append_str(&host, "aiplatform.googleapis.com")
            : (strcmp(loc, "us") == 0 || strcmp(loc, "eu") == 0)
                ? rt_buf_printf(&host, "aiplatform.%s.rep.googleapis.com", loc)
                : rt_buf_printf(&host, "%s-aiplatform.googleapis.com", loc)) {
            rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
            goto out;
        }
        if (rt_ep_base(&u, o->base_url, host.data, err))
            goto out;
        if (rt_buf_printf(&u, "/ws/google.cloud.aiplatform.%s.LlmBidiService/BidiGenerateContent",
                          version)) {
            rt_error_set(err, RT_ENOMEM, "out of memory building the URL");
            goto out;
        }
        if (token ? rt_ep_set(ep, cap, "authorization", "Bearer ", token, err)
                  : rt_ep_set(ep, cap, "x-goog-api-key", "", key, err))
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
