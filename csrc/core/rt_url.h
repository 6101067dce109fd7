/* The authority of a URL (its host and port), checked one way wherever the library takes
 * one: rt_session_new's url, rt_endpoint_check's base_url, rt_auth_new's metadata_host.
 * Internal: not among the installed headers. */
#ifndef RT_URL_H
#define RT_URL_H

#include <stddef.h>

struct rt_url_authority {
    const char *host;   /* borrowed from the URL; an IPv6 address without its brackets */
    size_t host_len;
    int port;           /* 0 when the authority names none */
};

/* Checks auth[0..n) as "host", "host:port", "[IPv6]" or "[IPv6]:port": a host name of
 * letters, digits, '-', '.' and '_' (at most 253 bytes), an IPv6 address inet_pton
 * takes, a port of 1 to 5 digits between 1 and 65535. NULL with *out filled, or what is
 * wrong as a phrase for the caller to put after the URL's name ("has no host"). User
 * information is the caller's to refuse first, with a message of its own. */
const char *rt_url_authority(const char *auth, size_t n, struct rt_url_authority *out);

#endif
