/* The inside of a credential (struct rt_auth), shared by rt_auth.c (the object and its
 * refresh timer on the HTTP worker), rt_auth_token.c (handing out its token) and
 * rt_auth_fetch.c (building one token request and reading its answer). Not for users of
 * the core. */
#ifndef RT_AUTH_PRIVATE_H
#define RT_AUTH_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>

#include "rt_auth.h"
#include "rt_fork.h"
#include "rt_http.h"
#include "rt_http_worker.h"
#include "rt_signal.h"

struct rt_auth {
    struct rt_http_task task;  /* the worker's handle (fetches, refresh timer); first, so a
                                  task is its credential */
    /* configuration: owned copies, read-only after rt_auth_new */
    enum rt_auth_kind kind;
    char *source, *scope, *token_uri, *client_email, *private_key, *private_key_id, *subject;
    char *client_id, *client_secret, *refresh_token, *metadata_url, *ca_file;
    double timeout;
    bool metadata_default;     /* the metadata server at RT_AUTH_METADATA_HOST, not one
                                  named: only an answer with Metadata-Flavor is its */
    struct rt_fork_stamp born; /* the process that made it: in a child of a fork the
                                  credential is the parent's copy (rt_fork.h), whose lock
                                  a parent thread may have held at the fork */
    char where[300];           /* worker thread only: the endpoint of the fetch under way */

    pthread_mutex_t lock;
    struct rt_signal sg;       /* guarded by lock: raised while no fetch is wanted or under way */
    bool want;                 /* guarded by lock: a fetch was asked for */
    bool fetching;             /* guarded by lock: a fetch is under way */
    bool failed;               /* guarded by lock: the last fetch failed, not yet reported */
    struct rt_error last;      /* guarded by lock: that failure */
    bool last_reached;         /* guarded by lock: its request reached the endpoint (a
                                  connection was made: rt_auth_reached) */
    enum rt_code last_cause;   /* guarded by lock: the code of its request's own failure,
                                  RT_OK when the endpoint answered HTTP */
    bool told_reached;         /* guarded by lock: the same two of the failure */
    enum rt_code told_cause;   /* rt_auth_token last reported */
    char *token;               /* guarded by lock, owned (secret); NULL = none */
    char *assertion;           /* guarded by lock, owned (secret): the signed JWT the last
                                  service-account grant carried, for rt_auth_leaks */
    double started;            /* guarded by lock: monotonic seconds when the fetch started */
    double expires;            /* guarded by lock: monotonic seconds when token expires */
    double lifetime;           /* guarded by lock: the token's lifetime when issued */
    double refresh_at;         /* guarded by lock: monotonic seconds of the next refresh */
    unsigned long fetches;     /* guarded by lock */
    int refs;                  /* guarded by lock: the users' references */
    bool on_demand;            /* guarded by lock: rt_auth_on_demand: no refresh on a
                                  timer, a fetch only when rt_auth_token asks */
    bool closed;               /* guarded by lock: rt_auth_close (or the last rt_auth_free)
                                  closed the task; no fetch starts again */
    bool released;             /* guarded by lock: the worker is done with the task, so the
                                  last reference frees the object */
};


/* A token request of a credential; the request's strings live here. */
struct rt_auth_req {
    struct rt_http_request req;
    struct rt_http_header headers[2];
    char *url;                 /* owned (metadata server) */
    char *body;                /* owned, secret (grants) */
    size_t body_len;
    char where[300];           /* the endpoint without query, for messages */
};

/* Wipes and frees a secret string; NULL ok. */
void rt_auth_wipe(char *s);

/* Builds the request of a's next token fetch (signing a JWT for a service account): 0,
 * or -1 with err naming the source. Free with rt_auth_req_free. */
int rt_auth_req_build(struct rt_auth *a, struct rt_auth_req *q, struct rt_error *err);
void rt_auth_req_free(struct rt_auth_req *q);

/* Sets err to the failure of a token request that got no answer (e), naming the source. */
void rt_auth_unanswered(const struct rt_auth *a, const struct rt_error *e, struct rt_error *err);

/* Reads the answer of the token endpoint at `where`: 0 with *token (rt_malloc'd, secret)
 * and *lifetime, or -1 with err naming the source and what to fix; RT_AUTH_NOT_METADATA
 * (with err) when the default metadata host's answer came from no metadata server. */
#define RT_AUTH_NOT_METADATA (-2)
int rt_auth_answer(struct rt_auth *a, const char *where, const struct rt_http_response *resp,
                   char **token, double *lifetime, struct rt_error *err);

#endif
