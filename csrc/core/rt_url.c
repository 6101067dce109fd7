/* URL authorities (see rt_url.h). */
#include "rt_url.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

/* Longest host name DNS can hold. */
#define RT_URL_HOST_MAX 253

static bool rt_url_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

/* The port p[0..n): 1 to 5 digits, no sign, between 1 and 65535; else -1. */
static int rt_url_port(const char *p, size_t n)
{
    int port = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        port = port * 10 + (p[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

/* True when h[0..n) is an IPv6 address (what goes between the brackets). */
static bool rt_url_ipv6(const char *h, size_t n)
{
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    if (n >= sizeof text)
        return false;
    memcpy(text, h, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1;
}

const char *rt_url_authority(const char *auth, size_t n, struct rt_url_authority *out)
{
    const char *end = auth + n, *host_end;

    out->port = 0;
    if (n && *auth == '[') {
        host_end = memchr(auth, ']', n);
        if (!host_end)
            return "has an unterminated IPv6 address";
        out->host = auth + 1;
        out->host_len = (size_t)(host_end - out->host);
        if (!out->host_len)
            return "has no host";
        if (!rt_url_ipv6(out->host, out->host_len))
            return "has an invalid IPv6 address";
        if (++host_end != end && *host_end != ':')
            return "has junk after the IPv6 address";
    } else {
        host_end = memchr(auth, ':', n);
        if (!host_end)
            host_end = end;
        out->host = auth;
        out->host_len = (size_t)(host_end - auth);
        if (!out->host_len)
            return "has no host";
        for (size_t i = 0; i < out->host_len; i++)
            if (!rt_url_name_char(auth[i]))
                return "has an invalid host name (letters, digits, '-', '.', '_')";
        if (out->host_len > RT_URL_HOST_MAX)
            return "has a host name longer than 253 bytes";
    }
    if (host_end < end) {
        out->port = rt_url_port(host_end + 1, (size_t)(end - host_end - 1));
        if (out->port < 0) {
            out->port = 0;
            return "has an invalid port (1 to 65535)";
        }
    }
    return NULL;
}
