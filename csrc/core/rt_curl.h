/* libcurl, loaded when the first HTTP request needs it.
 *
 * Only credentials that fetch tokens (service accounts, Application Default Credentials,
 * the metadata server, token refreshes) use HTTP. Linked at build time, libcurl and the
 * libraries it pulls in (about 25 on Debian: GnuTLS, Kerberos, LDAP, ...) were mapped
 * and relocated by every `require "realtime"` (13.5 ms of CPU with them, 8.3 without).
 * So the core calls libcurl through this table, filled by rt_curl_load from
 * libcurl.so.4 with dlopen on first use; the headers still come from libcurl's
 * development package. */
#ifndef RT_CURL_H
#define RT_CURL_H

#include <curl/curl.h>

#include "rt_error.h"

struct rt_curl_api {
    CURLcode (*global_init)(long flags);
    const char *(*easy_strerror)(CURLcode code);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *h);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_perform)(CURLM *m, int *running);
    CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd extra[], unsigned int n,
                            int timeout_ms, int *ret);
    CURLMcode (*multi_wakeup)(CURLM *m);
    CURLMcode (*multi_timeout)(CURLM *m, long *ms);
    CURLMsg *(*multi_info_read)(CURLM *m, int *left);
    CURLMcode (*multi_cleanup)(CURLM *m);
    const char *(*multi_strerror)(CURLMcode code);
    curl_version_info_data *(*version_info)(CURLversion v);
};

/* The functions; valid once rt_curl_load has returned 0. */
extern struct rt_curl_api rt_curl;

/* Loads libcurl once per process (thread-safe). 0, or -1 with an RT_ECONNECT error that
 * names the library and why it could not be loaded. */
int rt_curl_load(struct rt_error *err);

#endif
