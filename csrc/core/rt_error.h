/* Error codes and the error struct shared by every core function.
 *
 * Operations return 0, or -1 with a struct rt_error filled. Each public function that
 * takes one resets it first, so it tells of that call only (one struct may serve many
 * calls). Within a call rt_error_set keeps the first error it is given, so a low-level
 * failure is not overwritten by the generic message of a caller further up. Messages
 * never contain secrets. */
#ifndef RT_ERROR_H
#define RT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum rt_code {
    RT_OK = 0,
    RT_ETIMEOUT,     /* "timeout" */
    RT_ECLOSED,      /* "closed" */
    RT_EDNS,         /* "dns" */
    RT_ECONNECT,     /* "connect" */
    RT_ETLS,         /* "tls" */
    RT_EHANDSHAKE,   /* "handshake" */
    RT_EAUTH,        /* "auth" */
    RT_EPROTOCOL,    /* "protocol" */
    RT_EBUSY,        /* "busy" */
    RT_EUNSUPPORTED, /* "unsupported" */
    RT_ENOMEM,       /* "nomem" */
    RT_EINVAL        /* "invalid" */
};

/* Room for a message that names a long path or URL and still says why (a credential's
 * source, the token endpoint, the server's reason and the fix fit). */
#define RT_ERROR_MSG_MAX 1024

struct rt_error {
    enum rt_code code;
    char msg[RT_ERROR_MSG_MAX];
};

/* Sets code and message (printf format, truncated to fit) unless e already holds an
 * error; a NULL e is ignored. */
void rt_error_set(struct rt_error *e, enum rt_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets e to RT_OK with an empty message; NULL ok. */
void rt_error_clear(struct rt_error *e);

/* The API name of a code ("timeout", "closed", ...); "unknown" for values out of range. */
const char *rt_code_name(enum rt_code code);

#ifdef __cplusplus
}
#endif

#endif
