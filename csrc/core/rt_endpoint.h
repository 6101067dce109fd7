/* The WebSocket URL and handshake headers of each Live API backend (pure functions). */
#ifndef RT_ENDPOINT_H
#define RT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "rt_error.h"
#include "rt_session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest credential or quota project: with the extra headers' 8 KiB the upgrade request
 * stays far below what servers take (a 431 otherwise) and goes out in one write. A token
 * fetched for a credential is held to it too. */
#define RT_EP_VALUE_MAX 16384

/* Room the extra headers may take in the upgrade request ("name: value\r\n" each):
 * servers refuse requests whose headers pass 8 to 16 KiB (HTTP 431), and the
 * credential and the library's own headers need their share. */
#define RT_EP_HEADERS_MAX 8192

/* The most a session's header list may take ("name: value\r\n" each; rt_session_new):
 * all that rt_endpoint_build makes of options rt_endpoint_check accepts, a credential
 * and a quota project of RT_EP_VALUE_MAX each, the extra headers, and 512 bytes for the
 * names, the "Bearer " prefix and the library's user-agent headers. */
#define RT_SESSION_HEADERS_MAX (2 * RT_EP_VALUE_MAX + RT_EP_HEADERS_MAX + 512)

enum rt_backend { RT_BACKEND_GEMINI, RT_BACKEND_VERTEX };

struct rt_endpoint_options {
    enum rt_backend backend;
    const char *api_key;        /* Gemini key, "auth_tokens/..." ephemeral token, or Vertex
                                   express-mode key */
    const char *access_token;   /* Vertex OAuth bearer token (an "Authorization" entry of
                                   headers, any case, stands in for it: sent as given) */
    const char *project;        /* Vertex project (not part of the URL) */
    const char *location;       /* Vertex location; NULL = "global" */
    const char *api_version;    /* NULL = "v1beta" (Gemini), "v1alpha" (ephemeral),
                                   "v1beta1" (Vertex) */
    const char *base_url;       /* NULL = the backend's host; http(s)/ws(s), path prefix kept */
    const char *quota_project;  /* Vertex: x-goog-user-project */
    const struct rt_header *headers;  /* extra headers, override defaults of the same name */
    size_t nheaders;
};

struct rt_endpoint {
    char *url;                  /* owned */
    struct rt_header *headers;  /* owned array; each name and value owned */
    size_t nheaders;
};

/* Checks the forms of the options without building anything and without asking for a
 * credential: base_url (http, https, ws or wss; a host name of letters, digits, '-', '.',
 * '_' or an [IPv6] address, an optional port and path prefix; printable ASCII; no user
 * information, query or fragment, nothing a URL path cannot hold, no path prefix that
 * makes the session URL longer than RT_URL_MAX), api_version (a token of at most 128
 * bytes), the Vertex project and location, control characters (and more than 16 KiB) in
 * api_key, access_token, quota_project, the extra headers (rt_headers_check) and more
 * than 8 KiB of them. 0, or -1 with RT_EINVAL and a message that names the option
 * ("option 'base_url': ...") and never quotes a secret. */
int rt_endpoint_check(const struct rt_endpoint_options *o, struct rt_error *err);

/* Fills ep (which the caller frees with rt_endpoint_free, also after a failure). Fails
 * with RT_EINVAL (what rt_endpoint_check refuses, an unknown backend) or RT_EAUTH (no
 * credential for the backend) or RT_ENOMEM. Secrets never enter the URL or the error
 * text. */
int rt_endpoint_build(const struct rt_endpoint_options *o, struct rt_endpoint *ep,
                      struct rt_error *err);
/* Frees what ep holds, the header values (the credential among them) wiped first. */
void rt_endpoint_free(struct rt_endpoint *ep);

/* True when the header name is a token and the value holds no CR, LF or NUL. */
bool rt_header_ok(const char *name, const char *value);

/* The rules for extra handshake headers, which rt_endpoint_check (with RT_EP_HEADERS_MAX)
 * and rt_session_new (with RT_SESSION_HEADERS_MAX) both apply: h may be NULL only when n
 * is 0; each name a token, each value present and free of control characters but HTAB,
 * no header the upgrade writes itself (Host, Connection, Upgrade, Sec-WebSocket-*,
 * Content-Length, Transfer-Encoding), and at most max_bytes in all ("name: value\r\n"
 * each). 0, or -1 with RT_EINVAL and a message that starts "option 'headers': " and names
 * the header, never its value ("N bytes of names and values, more than the <max_bytes> a
 * handshake may carry" for the total). */
int rt_headers_check(const struct rt_header *h, size_t n, size_t max_bytes,
                     struct rt_error *err);

#ifdef __cplusplus
}
#endif

#endif
