/* What the tests against the Live API simulator share: the simulator's addresses from
 * the environment the test runner sets, the setups they send, collecting a session's
 * events, and the simulator's control API. Included by one test program each. */
#ifndef SIM_LIVE_H
#define SIM_LIVE_H

#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "realtime.h"
#include "rt_test.h"

#define GEMINI_PATH "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
#define SETUP_TEXT "{\"setup\":{\"model\":\"models/gemini-live-2.5-flash-preview\"," \
                   "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]}}}"
#define SETUP_AUDIO_MANUAL "{\"setup\":{\"model\":\"models/gemini-live-2.5-flash-preview\"," \
    "\"generationConfig\":{\"responseModalities\":[\"AUDIO\"]}," \
    "\"realtimeInputConfig\":{\"automaticActivityDetection\":{\"disabled\":true}}}}"

static const char *sim_url, *sim_http, *sim_ca, *sim_key;
static char url[512];

/* Collected events of one session. */
struct seen {
    int ready, messages, errors, closed, after_closed;
    int error_code, closed_code;
    char error_msg[RT_ERROR_MSG_MAX], closed_reason[128];
    int turn_complete, inline_data;
    int reconnected, reconnect_attempt;
    uint64_t last_seq;         /* the last message's seq */
    int seq_breaks;            /* messages whose seq does not follow the one before */
    uint64_t handle_seq;       /* seq of the last message with a non-empty newHandle */
    uint64_t reconnect_seq;    /* the reconnected event's seq */
    uint64_t handle_seq_then;  /* handle_seq when it came */
};

static inline void note(struct seen *w, const struct rt_event *ev)
{
    if (w->closed)
        w->after_closed++;
    switch (ev->type) {
    case RT_EV_READY:
        w->ready++;
        break;
    case RT_EV_MESSAGE:
        w->messages++;
        if (ev->seq != w->last_seq + 1)
            w->seq_breaks++;
        w->last_seq = ev->seq;
        /* (the simulator may indent its JSON: no "key":"value" match) */
        if (strstr(ev->data, "\"newHandle\"") && !strstr(ev->data, "\"\""))
            w->handle_seq = ev->seq;
        if (strstr(ev->data, "\"turnComplete\""))
            w->turn_complete++;
        if (strstr(ev->data, "\"inlineData\""))
            w->inline_data++;
        break;
    case RT_EV_RECONNECTED:
        w->reconnected++;
        w->reconnect_attempt = ev->code;
        w->reconnect_seq = ev->seq;
        w->handle_seq_then = w->handle_seq;
        break;
    case RT_EV_ERROR:
        w->errors++;
        w->error_code = ev->code;
        snprintf(w->error_msg, sizeof w->error_msg, "%s", ev->data);
        break;
    case RT_EV_CLOSED:
        w->closed++;
        w->closed_code = ev->code;
        snprintf(w->closed_reason, sizeof w->closed_reason, "%s", ev->data);
        break;
    default:
        break;
    }
}

/* Reads events until `until` returns true or `secs` pass; returns whether it held. */
static inline int pump(struct rt_session *s, struct seen *w, double secs, int (*until)(const struct seen *))
{
    struct timespec t0, t;
    double el;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct rt_event *ev;
        while ((ev = rt_session_next_event(s))) {
            note(w, ev);
            rt_event_free(ev);
        }
        if (until(w))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        if (el >= secs)
            return 0;
        /* after the closed event nothing comes: an ended session's wait answers 0 at once */
        if (rt_session_wait(s, secs - el) == 0 && w->closed)
            return until(w);
    }
}

static inline int is_ready(const struct seen *w) { return w->ready > 0 || w->closed > 0; }
static inline int is_closed(const struct seen *w) { return w->closed > 0; }
static inline int is_turn_done(const struct seen *w) { return w->turn_complete > 0 || w->closed > 0; }

static inline struct rt_client *client(const char *ca)
{
    struct rt_client_options o = { .ca_file = ca };
    struct rt_error err = { 0 };
    struct rt_client *c = rt_client_new(&o, &err);

    if (!c)
        printf("# rt_client_new: %s\n", err.msg);
    return c;
}

static inline struct rt_session *session(struct rt_client *c, const char *u, const char *key,
                                  const char *setup, bool manual, double timeout)
{
    struct rt_header h[] = { { "x-goog-api-key", key } };
    struct rt_session_options o = {
        .url = u, .headers = h, .nheaders = 1, .setup = setup, .setup_len = strlen(setup),
        .timeout = timeout, .manual_activity = manual,
        .audio_mime = "audio/pcm;rate=16000",
    };
    struct rt_error err = { 0 };
    struct rt_session *s = rt_session_new(c, &o, &err);

    if (!s)
        printf("# rt_session_new: %s\n", err.msg);
    return s;
}

/* POSTs a JSON body to the simulator's control API. */
static inline int sim_post(const char *path, const char *body)
{
    char u[512];
    CURL *h = curl_easy_init();
    CURLcode rc;
    long status = 0;
    FILE *devnull = fopen("/dev/null", "w");

    if (!h || !devnull)
        return -1;
    snprintf(u, sizeof u, "%s%s", sim_http, path);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_CAINFO, sim_ca);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    fclose(devnull);
    if (rc != CURLE_OK || status != 200) {
        printf("# sim_post %s: curl %d, HTTP %ld\n", path, (int)rc, status);
        return -1;
    }
    return 0;
}

/* Drops the simulator's directives for next connections (DELETE /_sim/next). */
static inline int sim_clear_next(void)
{
    char u[512];
    CURL *h = curl_easy_init();
    CURLcode rc;
    long status = 0;
    FILE *devnull = fopen("/dev/null", "w");

    if (!h || !devnull) {
        if (h)
            curl_easy_cleanup(h);
        if (devnull)
            fclose(devnull);
        return -1;
    }
    snprintf(u, sizeof u, "%s/_sim/next", sim_http);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_CAINFO, sim_ca);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    fclose(devnull);
    return rc == CURLE_OK && status == 200 ? 0 : -1;
}


static inline int fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

/* Reads the simulator's addresses; 0, or -1 after reporting a failed test. */
static inline int sim_env(void)
{
    sim_url = getenv("RT_SIM_URL");
    sim_http = getenv("RT_SIM_HTTP");
    sim_ca = getenv("RT_SIM_CA");
    sim_key = getenv("RT_SIM_KEY");
    if (!sim_url || !sim_http || !sim_ca || !sim_key) {
        printf("not ok 1 - RT_SIM_URL, RT_SIM_HTTP, RT_SIM_CA and RT_SIM_KEY must be set "
               "(the test runner starts the simulator)\n");
        rt_test_failed++;
        rt_test_seq++;
        return -1;
    }
    snprintf(url, sizeof url, "%s" GEMINI_PATH, sim_url);
    return 0;
}

#endif
