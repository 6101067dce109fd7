/* One HTTP request as a libcurl easy handle, for the HTTP worker (rt_http_worker.c).
 *
 * rt_http_xfer_new checks a struct rt_http_request and builds the handle from it, on
 * any thread: the body and the header lines are copied (they may hold secrets, and are
 * wiped when the transfer is freed), so the request need not outlive the call. The
 * worker then runs the handle in its multi handle and, once libcurl says it is done,
 * turns the outcome into a response or an error with rt_http_xfer_finish. */
#ifndef RT_HTTP_XFER_H
#define RT_HTTP_XFER_H

#include <curl/curl.h>

#include "rt_http.h"

struct rt_http_xfer;

/* Initialises libcurl once per process: 0, or -1 with err. */
int rt_http_global_init(struct rt_error *err);

/* Builds the transfer of r: NULL with err set when r is not acceptable (RT_EINVAL,
 * naming the method and the redacted URL) or memory runs out (RT_ENOMEM). */
struct rt_http_xfer *rt_http_xfer_new(const struct rt_http_request *r, struct rt_error *err);

/* The easy handle, owned by the transfer (CURLOPT_PRIVATE is left to the worker). */
CURL *rt_http_xfer_easy(struct rt_http_xfer *x);

/* Turns libcurl's result for the transfer into 0 with *resp (the body moves to the
 * caller), or a failure with err set: RT_EDNS, RT_ECONNECT, RT_ETLS, RT_ETIMEOUT,
 * RT_EPROTOCOL (response too large or without a status), RT_ENOMEM. The failure is
 * RT_HTTP_NO_ANSWER when a connection to the server was made (it then hung up, answered
 * with something that is not HTTP, broke the connection, or said nothing in time), -1
 * when none was (the host did not resolve, nothing listened, the connect timed out). */
int rt_http_xfer_finish(struct rt_http_xfer *x, CURLcode rc, struct rt_http_response *resp,
                        struct rt_error *err);

/* Sets err to the message of a request that ended without an answer because it was
 * cancelled (RT_ECLOSED). */
void rt_http_xfer_cancelled(const struct rt_http_xfer *x, struct rt_error *err);

/* Wipes what the transfer copied and frees it (the easy handle must be out of any multi
 * handle); NULL ok. */
void rt_http_xfer_free(struct rt_http_xfer *x);

#endif
