/* OAuth 2.0 access tokens for Vertex AI from Google credentials, kept fresh in the
 * background.
 *
 * One struct rt_auth stands for one credential: a service account (an RS256 JWT
 * exchanged at the token endpoint with the JWT-bearer grant), an authorized user (the
 * refresh-token grant), or the metadata server of a Google Cloud machine. Finding the
 * credential (Application Default Credentials) and reading its JSON file is the caller's
 * job; this object fetches, caches and refreshes the token.
 *
 * Fetches run on the process's HTTP worker thread (rt_http_worker.h), shared by every
 * credential and HTTP job, never on the caller's: rt_auth_token never blocks. The worker
 * refreshes a token before it expires (a quarter of its lifetime early, at most five
 * minutes), so a caller normally finds a fresh one waiting; when it has to wait, it waits
 * on the credential's signal (rt_auth_fd), which is raised whenever no fetch is wanted
 * or under way.
 *
 * Secrets (private key, client secret, refresh token, access tokens) are copied into
 * the object, wiped when it is freed, and never written into an error message: errors
 * name the credential by its `source` text and the endpoint by its URL. */
#ifndef RT_AUTH_H
#define RT_AUTH_H

#include <stdbool.h>

#include "rt_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_AUTH_CLOUD_PLATFORM "https://www.googleapis.com/auth/cloud-platform"
#define RT_AUTH_TOKEN_URI "https://oauth2.googleapis.com/token"
#define RT_AUTH_METADATA_HOST "metadata.google.internal"

enum rt_auth_kind {
    RT_AUTH_SERVICE_ACCOUNT = 1,  /* client_email + private_key, JWT-bearer grant */
    RT_AUTH_AUTHORIZED_USER,      /* client_id + client_secret + refresh_token */
    RT_AUTH_METADATA              /* GET {metadata}/computeMetadata/v1/.../default/token */
};

/* Everything is copied by rt_auth_new; NULL fields take the defaults named. */
struct rt_auth_options {
    enum rt_auth_kind kind;
    const char *source;          /* how messages name the credential, e.g. "service account file
                                    /etc/sa.json"; must hold no secret. NULL: the kind's name.
                                    Shown with control and non-ASCII bytes, quotes and
                                    backslashes as \xNN, cut to 508 bytes */
    const char *scope;           /* space-separated; NULL = RT_AUTH_CLOUD_PLATFORM */
    const char *token_uri;       /* service account, user: NULL = RT_AUTH_TOKEN_URI */
    const char *client_email;    /* service account: the JWT issuer (required) */
    const char *private_key;     /* service account: PEM RSA key (required; secret) */
    const char *private_key_id;  /* service account: the JWT header's kid (optional) */
    const char *subject;         /* service account: a user to act as (optional) */
    const char *client_id;       /* authorized user (required) */
    const char *client_secret;   /* authorized user (required; secret) */
    const char *refresh_token;   /* authorized user (required; secret) */
    const char *metadata_host;   /* metadata: "host[:port]" (http) or a base URL with http:// or
                                    https:// and an optional path (no user information, query
                                    or fragment); NULL = RT_AUTH_METADATA_HOST, whose
                                    answers count only with Metadata-Flavor: Google */
    const char *ca_file;         /* PEM CAs for the token endpoint; NULL = the system store */
    double timeout;              /* seconds per request; 0 = 30 */
};

/* Copies o and returns the object, which holds no token yet (the first rt_auth_token
 * starts a fetch). RT_EINVAL names the missing or malformed field; RT_ENOMEM. Free with rt_auth_free. */
struct rt_auth *rt_auth_new(const struct rt_auth_options *o, struct rt_error *err);

/* Takes another reference (for a session that refreshes its handshake headers from
 * another thread); each reference is dropped with rt_auth_free. Returns a. */
struct rt_auth *rt_auth_retain(struct rt_auth *a);

/* Drops a reference; the last one closes a (rt_auth_close) and has the object freed
 * (by the worker, soon, when it runs). NULL ok. */
void rt_auth_free(struct rt_auth *a);

/* Stops a for every holder of a reference: cancels a fetch under way and the refresh
 * timer (the last open credential or HTTP job of the process stops the worker thread),
 * has the secrets wiped, and raises the signal for good, so that a waiter, a poller of
 * rt_auth_fd included, wakes at once. rt_auth_token then fails (RT_EAUTH, "closed"). The
 * descriptor and the source text last until the last rt_auth_free, so that a poller
 * never holds a descriptor that was closed under it. Idempotent; NULL ok. */
void rt_auth_close(struct rt_auth *a);

/* Thread-safe and non-blocking. Returns:
 *   1  with *token (the caller's: rt_auth_token_free wipes and frees it) a token valid
 *      for more than min_valid seconds (capped at half of the early-refresh margin, so
 *      short-lived tokens still count), and *expires_in (optional) its remaining seconds;
 *   0  when no such token is ready: a fetch is under way (started now if needed), and the
 *      signal (rt_auth_fd) is raised when it ends;
 *  -1  when the last fetch failed and left no usable token: err (RT_EAUTH) says why,
 *      naming the source; the next call starts a new fetch. */
int rt_auth_token(struct rt_auth *a, double min_valid, char **token, double *expires_in,
                  struct rt_error *err);

/* What lay behind the failure rt_auth_token last reported (-1), for a caller that
 * tells "no such server here" from a server that fails: 1 when the fetch's request
 * reached the token endpoint, a connection to it made (it answered with a refusal or an
 * unusable token, or it hung up, answered with something that is not HTTP, broke the
 * connection, or said nothing in time); 0 when it did not (the host did not resolve,
 * nothing listened, the connect timed out, no request could go out, or the answer for
 * RT_AUTH_METADATA_HOST lacked Metadata-Flavor: Google: no metadata server gave it,
 * *cause RT_EPROTOCOL) and for a failure that was no fetch's (the credential closed). *cause (optional): the code of the
 * request's own failure (RT_EDNS, RT_ECONNECT, RT_ETLS, RT_ETIMEOUT, RT_EPROTOCOL, ...),
 * RT_OK when the endpoint answered HTTP. Meant right after that rt_auth_token, on the
 * same thread. NULL a: 0 and RT_OK. */
int rt_auth_reached(struct rt_auth *a, enum rt_code *cause);

/* Wipes and frees a token rt_auth_token or rt_auth_fetch_now gave (the library's
 * allocator made it, and a token must not stay in freed memory). NULL ok. */
void rt_auth_token_free(char *token);

/* Forgets the cached token (say, the server refused it) and starts a new fetch. */
void rt_auth_invalidate(struct rt_auth *a);

/* A server refused `token` (HTTP 401): forgets it and starts a new fetch when it is still
 * the cached token; one a refresh already replaced stays. NULL a or token: nothing. */
void rt_auth_reject(struct rt_auth *a, const char *token);

/* As rt_auth_reject, but starts no fetch: the next rt_auth_token asks for one. For a
 * refusal after which nothing will use a token soon (a second 401 in a row). */
void rt_auth_drop(struct rt_auth *a, const char *token);

/* Stops renewing the token on a timer: a fetch starts only when rt_auth_token finds no
 * token valid long enough. For a source its owner no longer uses but that others (the
 * reconnects of sessions) may still ask, so that it does not renew tokens for nobody. */
void rt_auth_on_demand(struct rt_auth *a);

/* The signal's descriptor: readable while no fetch is wanted or under way, so a caller
 * that got 0 from rt_auth_token can poll it until the fetch has ended. */
int rt_auth_fd(const struct rt_auth *a);

/* Waits up to timeout seconds (negative: forever) for the signal: 1 raised, 0 not, -1
 * when a signal handler ran (errno EINTR; not restarted, as rt_session_wait). */
int rt_auth_wait(struct rt_auth *a, double timeout);

/* The source text given at creation as messages show it (see rt_auth_options.source);
 * valid while a lives. */
const char *rt_auth_source(const struct rt_auth *a);

/* Number of token fetches that have ended, successful or not (for tests and stats). */
unsigned long rt_auth_fetches(struct rt_auth *a);

/* ---- building blocks, exposed for tests ---------------------------------------- */

/* Seconds before expiry at which a token of `lifetime` seconds is refreshed. */
double rt_auth_refresh_margin(double lifetime);

/* Runs one fetch and waits for it (blocking the calling thread; the request itself runs
 * on the worker): 0 with *token (free it with rt_auth_token_free) and *lifetime, or -1
 * with err set (RT_EAUTH, message naming the source). */
int rt_auth_fetch_now(struct rt_auth *a, char **token, double *lifetime, struct rt_error *err);

#ifdef __cplusplus
}
#endif

#endif
