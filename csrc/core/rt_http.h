/* Small HTTP(S) requests through libcurl, for token endpoints and the metadata server.
 *
 * TLS peers are always verified (against ca_file when given, else the system store),
 * redirects are not followed, and libcurl's usual proxy variables (http_proxy,
 * https_proxy, no_proxy, all_proxy) apply. Error messages name the method and the URL
 * without its query or user info, never a header or a body: requests may carry secrets.
 * Bodies and header lines are copied, and the copies wiped when they are freed.
 *
 * Every request runs on the process's HTTP worker thread (rt_http_worker.h), which
 * drives all of them through libcurl's multi interface: rt_http_start returns a job at
 * once and raises its signal when the request has ended, so an event loop never blocks
 * on it; rt_http_perform waits for that signal. */
#ifndef RT_HTTP_H
#define RT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "rt_error.h"

struct rt_http_header {
    const char *name;    /* without the colon */
    const char *value;
};

struct rt_http_request {
    const char *method;                     /* "GET" or "POST" */
    const char *url;                        /* http:// or https:// */
    const struct rt_http_header *headers;   /* may hold secrets */
    size_t nheaders;
    const char *body;                       /* POST body (may hold secrets); NULL = empty */
    size_t body_len;
    const char *ca_file;                    /* PEM CAs to trust instead of the system store; NULL = system */
    double timeout;                         /* seconds for the whole request; 0 = 30 */
    size_t max_response;                    /* largest body accepted; 0 = 1 MiB */
};

struct rt_http_response {
    long status;         /* HTTP status */
    char *body;          /* owned, NUL-terminated (rt_free); NULL before a response */
    size_t len;          /* bytes in body */
    bool metadata_flavor; /* the response (not a proxy's CONNECT answer before it) had
                             "Metadata-Flavor: Google": a Google metadata server gave it */
};

/* Performs r and waits for its end (the request itself runs on the worker). 0 when an
 * HTTP response arrived (whatever its status) with *resp filled; -1 with err set
 * otherwise: RT_EDNS, RT_ECONNECT, RT_ETLS, RT_ETIMEOUT, RT_EPROTOCOL (response too
 * large or malformed), RT_EINVAL, RT_ENOMEM. */
int rt_http_perform(const struct rt_http_request *r, struct rt_http_response *resp,
                    struct rt_error *err);

/* Frees resp's body and resets it; NULL ok. */
void rt_http_response_free(struct rt_http_response *resp);

/* Writes url without its query, fragment and user info into out (size bytes, always
 * terminated): the form error messages use. */
void rt_http_redact_url(const char *url, char *out, size_t size);

/* ---- asynchronous requests ------------------------------------------------------- */

struct rt_http_job;

/* Copies r and starts it on the worker. The caller owns the job: rt_http_job_free. NULL
 * only when memory (or a descriptor, or the worker thread) is lacking (RT_ENOMEM); a
 * request that cannot be made ends at once and rt_http_job_result tells why. */
struct rt_http_job *rt_http_start(const struct rt_http_request *r, struct rt_error *err);

/* The job's signal descriptor: readable once the request has ended. */
int rt_http_job_fd(const struct rt_http_job *j);

/* Waits up to timeout seconds (negative = forever) for the request to end: 1 when it has,
 * 0 on timeout or when a signal handler ran (the caller's loop looks at its deadline). */
int rt_http_job_wait(struct rt_http_job *j, double timeout);

/* True once the request has ended. */
bool rt_http_job_done(struct rt_http_job *j);

/* After the end: moves the response into *resp and returns 0, or returns -1 with the
 * request's error. Before the end: -1 with RT_EBUSY. A second call after a response gives
 * -1 RT_ECLOSED. */
int rt_http_job_result(struct rt_http_job *j, struct rt_http_response *resp, struct rt_error *err);

/* Cancels the request if it still runs and frees the job (what the worker still holds
 * is freed there, soon); NULL ok. Freeing the last job or credential stops the worker. */
void rt_http_job_free(struct rt_http_job *j);

#endif
