/* The owner-side C API's promises against the Live API simulator: a send of nothing,
 * waiting after polling, appends and commits from two threads, one struct rt_error
 * serving many calls, and closes at each phase of a connection. The runner sets the
 * simulator's addresses (sim_live.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "rt_http_worker.h"
#include "sim_live.h"

static double mono(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A send of nothing (len 0, or empty entries of a sendv) queues nothing: no empty frame,
 * which the service would close the connection on (1007). */
static void test_send_nothing(void)
{
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";
    struct iovec v[] = { { (void *)"", 0 }, { (void *)hello, sizeof hello - 1 }, { NULL, 0 } };
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_error err = { 0 };
    struct seen w = { 0 };
    struct rt_stats st;

    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (s) {
        RT_CHECK(rt_session_send(s, "", 0, &err) == 0 && err.code == RT_OK);
        RT_CHECK(rt_session_send(s, NULL, 0, &err) == 0);
        RT_CHECK(rt_session_send_initial(s, "", 0, &err) == 0);
        RT_CHECK(rt_session_sendv(s, v, 3, &err) == 0);
        RT_CHECK(pump(s, &w, 10, is_turn_done));
        RT_CHECK(w.turn_complete == 1 && w.errors == 0 && w.closed == 0);
        rt_session_stats(s, &st);
        RT_CHECK(st.messages_sent == 2);      /* the setup and the one message */
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* NULL where a pointer is required (docs/core-api.md, "Conventions"): a function with an
 * rt_error fails with RT_EINVAL naming the argument, queuing nothing; the others do the
 * neutral thing. None crashes. NULL with a length of 0 stays a send of nothing. */
static void test_null_arguments(void)
{
    struct iovec hole[] = { { (void *)"{}", 2 }, { NULL, 5 } };
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_error err = { 0 };
    struct seen w = { 0 };
    struct rt_stats st;

    RT_CHECK(rt_client_event_loop(NULL) == NULL);
    RT_CHECK(rt_session_is_closed(NULL) == 1);
    memset(&st, 0xff, sizeof st);
    rt_session_stats(NULL, &st);
    RT_CHECK(st.bytes_sent == 0 && st.queued_bytes == 0 && st.first_audio == -1);
    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (s) {
        rt_session_stats(s, NULL);
        RT_CHECK(rt_session_send(s, NULL, 5, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, "json is NULL but len is 5");
        RT_CHECK(rt_session_send_initial(s, NULL, 3, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, "json is NULL but len is 3");
        RT_CHECK(rt_session_sendv(s, NULL, 1, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, "msgs is NULL but n is 1");
        RT_CHECK(rt_session_sendv(s, hole, 2, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, "msgs[1].iov_base is NULL but iov_len is 5");
        RT_CHECK(rt_session_append_audio(s, NULL, 4, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, "pcm is NULL but len is 4");
        RT_CHECK(rt_session_sendv(s, NULL, 0, &err) == 0 && err.code == RT_OK);
        RT_CHECK(rt_session_append_audio(s, NULL, 0, &err) == 0 && err.code == RT_OK);
        rt_session_stats(s, &st);
        RT_CHECK(st.queued_bytes == 0 && st.messages_sent == 1);   /* the setup alone */
        RT_CHECK(rt_session_is_closed(s) == 0);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* A GET of the simulator's control API: the body (malloc'd, NUL-terminated), or NULL. */
struct body { char *p; size_t n; };

static size_t body_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    char *q = realloc(b->p, b->n + size * nmemb + 1);

    if (!q)
        return 0;
    memcpy(q + b->n, data, size * nmemb);
    b->p = q;
    b->n += size * nmemb;
    b->p[b->n] = '\0';
    return size * nmemb;
}

static char *sim_get(const char *path)
{
    char u[512];
    struct body b = { NULL, 0 };
    CURL *h = curl_easy_init();
    CURLcode rc;

    if (!h)
        return NULL;
    snprintf(u, sizeof u, "%s%s", sim_http, path);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_CAINFO, sim_ca);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* The frames the simulator recorded on the newest open connection (the list is in the
 * order they came; a stalled one of an earlier test may still be open), or NULL. */
static char *open_connection_frames(void)
{
    char *list = sim_get("/_sim/connections?state=open"), *id = NULL, *at, path[128];
    size_t n;

    for (at = list; at && (at = strstr(at, "\"id\": \"")); at++)
        id = at;
    if (!id) {
        free(list);
        return NULL;
    }
    id += 7;
    n = strcspn(id, "\"");
    snprintf(path, sizeof path, "/_sim/connections/%.*s/frames", (int)(n < 64 ? n : 64), id);
    free(list);
    return sim_get(path);
}

#define SETUP_HISTORY "{\"setup\":{\"model\":\"models/gemini-live-2.5-flash-preview\"," \
    "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]}," \
    "\"historyConfig\":{\"initialHistoryInClientContent\":true}}}"

/* rt_session_send_initial's message goes out before the messages queued ahead of it
 * while the session connected (setupComplete comes 0.4 s late), and once another message
 * went out after setupComplete, initial history is refused: the server would take it
 * as a new turn. */
static void test_send_initial_first(void)
{
    static const char question[] = "{\"realtimeInput\":{\"text\":\"question-marker\"}}";
    static const char history[] = "{\"clientContent\":{\"turns\":[{\"role\":\"user\","
        "\"parts\":[{\"text\":\"history-marker\"}]}],\"turnComplete\":true}}";
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = NULL;
    struct rt_error err = { 0 };
    struct seen w = { 0 };
    char *frames, *h, *q;

    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"delay\",\"ms\":400,\"setup\":true}}") == 0);
    if (c)
        s = session(c, url, sim_key, SETUP_HISTORY, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(rt_session_send(s, question, sizeof question - 1, &err) == 0);
        RT_CHECK(rt_session_send_initial(s, history, sizeof history - 1, &err) == 0);
        RT_CHECK(pump(s, &w, 15, is_turn_done) && w.ready == 1 && w.turn_complete == 1);
        frames = open_connection_frames();
        h = frames ? strstr(frames, "history-marker") : NULL;
        q = frames ? strstr(frames, "question-marker") : NULL;
        RT_CHECK(h && q && h < q);
        free(frames);

        RT_CHECK(rt_session_send_initial(s, history, sizeof history - 1, &err) == -1);
        RT_CHECK(err.code == RT_EINVAL && strstr(err.msg, "initial history") != NULL);
        printf("# %s\n", err.msg);
        RT_CHECK(rt_session_send_initial(s, "", 0, &err) == 0);   /* a send of nothing */
        rt_session_free(s);
    }
    rt_client_free(c);
    sim_clear_next();
}

/* Each public rt_session_* and rt_client_* function given a NULL session or client (a
 * host whose rt_session_new failed): the ones with an rt_error fail with RT_EINVAL
 * "session is NULL", the others do the neutral thing; none crashes. */
static int null_send(struct rt_error *e) { return rt_session_send(NULL, "{}", 2, e); }
static int null_send_initial(struct rt_error *e) { return rt_session_send_initial(NULL, "{}", 2, e); }
static int null_send_nothing(struct rt_error *e) { return rt_session_send(NULL, NULL, 0, e); }
static int null_sendv(struct rt_error *e)
{
    struct iovec v = { (void *)"{}", 2 };
    return rt_session_sendv(NULL, &v, 1, e);
}
static int null_append(struct rt_error *e)
{
    static const short pcm[4];
    return rt_session_append_audio(NULL, pcm, sizeof pcm, e);
}
static int null_append_nothing(struct rt_error *e) { return rt_session_append_audio(NULL, NULL, 0, e); }
static int null_commit(struct rt_error *e) { return rt_session_commit_audio(NULL, e); }
static int null_tell(struct rt_error *e) { return rt_session_tell(NULL, RT_EBUSY, "x", 1, e); }
static int null_resumption_handle(struct rt_error *e)
{
    char h[RT_SESSION_HANDLE_MAX + 1];
    size_t n;
    return rt_session_resumption_handle(NULL, h, sizeof h, &n, e);
}

static void test_null_session(void)
{
    static const struct { const char *name; int (*call)(struct rt_error *); } with_err[] = {
        { "send", null_send }, { "send_initial", null_send_initial },
        { "send of nothing", null_send_nothing }, { "sendv", null_sendv },
        { "append_audio", null_append }, { "append_audio of nothing", null_append_nothing },
        { "commit_audio", null_commit }, { "tell", null_tell },
        { "resumption_handle", null_resumption_handle },
    };
    struct rt_error err;
    struct rt_stats st;

    for (size_t i = 0; i < sizeof with_err / sizeof with_err[0]; i++) {
        memset(&err, 0, sizeof err);
        if (with_err[i].call(&err) != -1 || err.code != RT_EINVAL ||
            strcmp(err.msg, "session is NULL") != 0) {
            printf("# %s(NULL): %s %s\n", with_err[i].name, rt_code_name(err.code), err.msg);
            RT_CHECK(!"a NULL session fails with RT_EINVAL");
        }
        RT_CHECK(with_err[i].call(NULL) == -1);          /* and without an rt_error */
    }
    rt_session_mark_turn_end(NULL);
    RT_CHECK(rt_session_next_event(NULL) == NULL);
    RT_CHECK(rt_session_poll_event(NULL) == NULL);
    RT_CHECK(rt_session_fd(NULL) == -1);
    RT_CHECK(rt_session_pending(NULL) == 0);
    RT_CHECK(rt_session_is_closed(NULL) == 1);
    RT_CHECK(rt_session_is_ended(NULL) == 1);
    RT_CHECK(rt_session_wait(NULL, 0.1) == 0);
    RT_CHECK(rt_session_wait(NULL, -1) == 0);            /* unbounded, yet at once */
    rt_session_stats(NULL, &st);
    RT_CHECK(st.first_audio == -1);
    rt_session_close(NULL, 1000, "bye");
    rt_session_free(NULL);
    rt_event_free(NULL);
    memset(&err, 0, sizeof err);
    RT_CHECK(rt_session_new(NULL, NULL, &err) == NULL && err.code == RT_EINVAL);
    RT_CHECK(rt_client_event_loop(NULL) == NULL);
    RT_CHECK(rt_client_wait_closed(NULL, 0.1) == 1);
    rt_client_close(NULL);
    rt_client_close_now(NULL);
    rt_client_free_now(NULL);
    rt_client_free(NULL);
}

/* A thread of the owner's that tells (rt_session_tell) until the session has ended
 * (which a close asked before it ensures). */
struct teller {
    struct rt_session *s;
    int told, refused;
};

static void *tell_until_refused(void *arg)
{
    struct teller *t = arg;
    struct timespec pause = { 0, 50000 };
    struct rt_error err;

    for (;;) {
        if (rt_session_tell(t->s, RT_EBUSY, "told", 4, &err) != 0) {
            t->refused = err.code == RT_ECLOSED;
            break;
        }
        t->told++;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* rt_session_tell: an error event of the owner's own, behind the events queued so far,
 * that makes the descriptor readable; a thread telling while the session ends never puts
 * one after the closed event, and once the session has ended it is refused. */
static void test_tell(void)
{
    static const char text[] = "tool response not sent: too big";
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_error err = { 0 };
    struct rt_event *ev;
    struct seen w = { 0 };
    struct teller t = { 0 };
    pthread_t th;

    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (!s) {
        rt_client_free(c);
        return;
    }
    RT_CHECK(rt_session_tell(s, RT_OK, "x", 1, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "code 0 is not an error code");
    RT_CHECK(rt_session_tell(s, RT_EBUSY, NULL, 3, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "text is NULL but len is 3");
    RT_CHECK(rt_session_tell(s, RT_EBUSY, text, sizeof text - 1, &err) == 0 && err.code == RT_OK);
    RT_CHECK(rt_session_wait(s, 5) == 1);
    ev = rt_session_next_event(s);
    RT_CHECK(ev && ev->type == RT_EV_ERROR && ev->code == RT_EBUSY && strcmp(ev->data, text) == 0);
    rt_event_free(ev);

    t.s = s;
    rt_session_close(s, 1000, NULL);
    if (pthread_create(&th, NULL, tell_until_refused, &t) != 0) {
        RT_CHECK(!"pthread_create");
        rt_session_free(s);
        rt_client_free(c);
        return;
    }
    RT_CHECK(pump(s, &w, 10, is_closed));
    pthread_join(th, NULL);
    while ((ev = rt_session_next_event(s))) {
        note(&w, ev);
        rt_event_free(ev);
    }
    printf("# told %d times while the session closed\n", t.told);
    RT_CHECK(t.refused == 1);
    RT_CHECK(w.closed == 1 && w.after_closed == 0);
    RT_CHECK(rt_session_tell(s, RT_EBUSY, text, sizeof text - 1, &err) == -1 &&
             err.code == RT_ECLOSED);
    RT_CHECK(rt_session_next_event(s) == NULL);
    rt_session_free(s);
    rt_client_free(c);
}

/* rt_session_wait after rt_session_poll_event (which leaves the signal raised) waits
 * for the next event or the timeout, instead of saying "ready" with nothing there. */
static void test_wait_after_poll(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_event *ev;
    int ready = 0;
    double t0;

    for (t0 = mono(); s && !ready && mono() - t0 < 10;) {
        while ((ev = rt_session_poll_event(s)) != NULL) {
            ready = ready || ev->type == RT_EV_READY;
            rt_event_free(ev);
        }
        if (!ready) {
            struct timespec d = { 0, 2 * 1000 * 1000 };
            nanosleep(&d, NULL);
        }
    }
    RT_CHECK(ready);
    if (s) {
        /* the session_resumption-free text setup sends nothing more on its own */
        t0 = mono();
        RT_CHECK(rt_session_wait(s, 0.3) == 0);
        RT_CHECK(mono() - t0 >= 0.25);
        RT_CHECK(rt_session_wait(s, 0.1) == 0);
        rt_session_free(s);
    }
    rt_client_free(c);
}

struct racer {
    struct rt_session *s;
    atomic_bool stop;
    atomic_int failed;
};

static void *appender(void *arg)
{
    struct racer *r = arg;
    static short pcm[160];
    struct rt_error err = { 0 };

    while (!atomic_load(&r->stop)) {
        struct timespec d = { 0, 100 * 1000 };
        if (rt_session_append_audio(r->s, pcm, sizeof pcm, &err) != 0)
            atomic_fetch_add(&r->failed, 1);
        nanosleep(&d, NULL);
    }
    return NULL;
}

/* Push-to-talk from two threads: one appends audio while another commits. Each turn on
 * the wire must still be activityStart, audio, activityEnd (the simulator closes with
 * 1007 on an activityEnd with no activity open, or audio outside one). */
static void test_append_commit_race(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_AUDIO_MANUAL, true, 10) : NULL;
    struct racer r = { .s = s };
    struct rt_error err = { 0 };
    struct seen w = { 0 };
    pthread_t t;
    double t0;
    int commits = 0, failed = 0;

    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (!s) {
        rt_client_free(c);
        return;
    }
    RT_CHECK(pthread_create(&t, NULL, appender, &r) == 0);
    for (t0 = mono(); mono() - t0 < 1.5 && w.closed == 0; commits++) {
        if (rt_session_commit_audio(s, &err) != 0 && failed++ == 0)
            printf("# commit: %s\n", err.msg);
        struct timespec d = { 0, 300 * 1000 };
        nanosleep(&d, NULL);
        struct rt_event *ev;
        while ((ev = rt_session_poll_event(s)) != NULL) {
            note(&w, ev);
            rt_event_free(ev);
        }
    }
    atomic_store(&r.stop, true);
    pthread_join(t, NULL);
    RT_CHECK(rt_session_commit_audio(s, &err) == 0);
    pump(s, &w, 1.0, is_closed);             /* what the server says about the turns */
    printf("# %d commits; closed %d (%s)\n", commits, w.closed, w.closed_reason);
    RT_CHECK(w.closed == 0 && failed == 0 && atomic_load(&r.failed) == 0);
    rt_session_free(s);
    rt_client_free(c);
}

/* One struct rt_error for many calls: each call reports itself only (a "busy" refusal
 * before does not hide a "closed" one after). */
static void test_error_reused(void)
{
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_TEXT,
        .setup_len = strlen(SETUP_TEXT), .timeout = 10, .max_queue_bytes = 64,
    };
    char big[100];
    struct rt_client *c = client(sim_ca);
    struct rt_error err = { 0 };
    struct rt_session *s = c ? rt_session_new(c, &o, &err) : NULL;
    struct seen w = { 0 };

    memset(big, ' ', sizeof big);
    RT_CHECK(s && pump(s, &w, 10, is_ready));
    if (s) {
        RT_CHECK(rt_session_send(s, big, sizeof big, &err) == -1 && err.code == RT_EBUSY);
        rt_session_close(s, 1000, NULL);
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(rt_session_send(s, "{}", 2, &err) == -1 && err.code == RT_ECLOSED);
        RT_CHECK(strstr(err.msg, "closed") != NULL);
        RT_CHECK(rt_session_commit_audio(s, &err) == -1 && err.code == RT_ECLOSED);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* A session, ready, whose server then stops reading (the simulator's stall fault), with
 * a close asked that the server will not answer within close_timeout (30 s). */
static struct rt_session *stalled_closing(struct rt_client *c)
{
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_TEXT,
        .setup_len = strlen(SETUP_TEXT), .timeout = 10, .close_timeout = 30,
    };
    struct rt_error err = { 0 };
    struct rt_session *s;
    struct seen w = { 0 };

    if (sim_post("/_sim/next", "{\"fault\":{\"type\":\"stall\",\"when\":\"setup\"}}"))
        return NULL;
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (s)
        rt_session_close(s, 1000, "bye");
    return s;
}

/* rt_client_close_now ends a close under way at once, and says so: nothing was freed,
 * and nothing was queued, so neither is claimed. rt_client_free_now says the client was
 * freed (the Lua binding's collected client). */
static void test_close_now_says_so(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? stalled_closing(c) : NULL;
    struct seen w = { 0 };

    if (s) {
        RT_CHECK(rt_session_is_closed(s) == 1 && rt_session_is_ended(s) == 0);
        rt_client_close_now(c);
        RT_CHECK(pump(s, &w, 5, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED && w.closed_code == 1006);
        printf("# %s\n", w.error_msg);
        RT_CHECK(strncmp(w.error_msg, "close: rt_client_close_now cut the close short before ",
                         54) == 0);
        RT_CHECK(strstr(w.error_msg, "freed") == NULL);
        RT_CHECK(strstr(w.error_msg, "everything was written") == NULL);
        rt_session_free(s);
    }
    rt_client_free(c);

    memset(&w, 0, sizeof w);
    c = client(sim_ca);
    s = c ? stalled_closing(c) : NULL;
    if (s) {
        rt_client_free_now(c);                 /* the session stays the caller's */
        c = NULL;
        RT_CHECK(pump(s, &w, 5, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED && w.closed_code == 1006);
        printf("# %s\n", w.error_msg);
        RT_CHECK(strncmp(w.error_msg, "close: the client was freed before ", 35) == 0);
        RT_CHECK(strstr(w.error_msg, "everything was written") == NULL);
        rt_session_free(s);
    }
    rt_client_free(c);
    sim_clear_next();
}

/* A close before the session is ready, with a send queued: the session ends at once,
 * saying the close came first (not that 5 s passed). */
static void test_close_before_ready(void)
{
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_error err = { 0 };
    struct seen w = { 0 };
    double t0 = mono();

    RT_CHECK(s && rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
    if (s) {
        rt_session_close(s, 1000, NULL);
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(mono() - t0 < 4);
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        RT_CHECK(strstr(w.error_msg, "close: asked before the session was ready") != NULL);
        RT_CHECK(strstr(w.error_msg, "1 message") != NULL);
        printf("# %s\n", w.error_msg);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* rt_client_closing counts the places of sessions their owner closed (or freed) until
 * their close ends, each once, and not those that had ended. (How long a close takes is
 * the server's: a count of 0 right after the close may be an end that raced it.) */
static void test_closing_count(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *a = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_session *b = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct seen wa = { 0 }, wb = { 0 };
    double t0;

    RT_CHECK(rt_client_closing(NULL) == 0);
    RT_CHECK(a && pump(a, &wa, 10, is_ready) && wa.ready == 1);
    RT_CHECK(b && pump(b, &wb, 10, is_ready) && wb.ready == 1);
    RT_CHECK(rt_client_closing(c) == 0);
    if (a && b) {
        rt_session_close(a, 1000, NULL);
        rt_session_close(a, 1000, NULL);          /* counted once */
        printf("# closing after close: %d\n", rt_client_closing(c));
        RT_CHECK(rt_client_closing(c) <= 1);
        RT_CHECK(pump(a, &wa, 10, is_closed));
        RT_CHECK(rt_client_closing(c) == 0);      /* dropped before the closed event */
        rt_session_close(a, 1000, NULL);          /* ended: nothing to count */
        RT_CHECK(rt_client_closing(c) == 0);
        rt_session_free(b);                       /* freed open: closing until it ends */
        b = NULL;
        t0 = mono();
        while (rt_client_closing(c) != 0 && mono() - t0 < 5)
            usleep(1000);
        RT_CHECK(rt_client_closing(c) == 0);
    }
    rt_session_free(a);
    rt_session_free(b);
    rt_client_free(c);
}

/* A connect timeout shorter than the TCP connect itself (a listener that never answers):
 * the session still times out, however early in lws's connect the deadline falls. */
static void test_tiny_connect_timeout(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char u[128];

    RT_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 64) == 0 &&
             getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    snprintf(u, sizeof u, "ws://127.0.0.1:%d/", ntohs(a.sin_port));
    for (int i = 0; i < 8; i++) {
        struct rt_client *c = client(NULL);
        struct rt_session *s = c ? session(c, u, "k", SETUP_TEXT, false, i % 2 ? 1e-4 : 5e-6) : NULL;
        struct seen w = { 0 };

        RT_CHECK(s && pump(s, &w, 5, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ETIMEOUT);
        rt_session_free(s);
        rt_client_free(c);
    }
    close(fd);
}

/* A close while the TCP connect is under way (a listener whose backlog is full drops the
 * SYN): the owner hung up, so the session ends with its code and "asked before the
 * session was ready", not with a connect failure the hang-up itself caused. */
static void test_close_while_connecting(void)
{
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
    char u[128];

    RT_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 0) == 0 &&
             getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    for (int i = 0; i < 4; i++) {   /* fill the accept queue; the later SYNs go unanswered */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        RT_CHECK(fill[i] >= 0);
        if (fill[i] >= 0)
            (void)connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100000);
    snprintf(u, sizeof u, "ws://127.0.0.1:%d/", ntohs(a.sin_port));
    struct rt_client *c = client(NULL);
    struct rt_session *s = c ? session(c, u, "k", SETUP_TEXT, false, 10) : NULL;
    struct rt_error err = { 0 };
    struct seen w = { 0 };

    RT_CHECK(s && rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
    if (s) {
        usleep(200000);
        rt_session_close(s, 4000, "bye");
        RT_CHECK(pump(s, &w, 5, is_closed));
        RT_CHECK(w.closed_code == 4000);
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        RT_CHECK(strstr(w.error_msg, "close: asked before the session was ready") != NULL);
        if (w.error_code != RT_ECLOSED)
            printf("# error %d '%s'\n", w.error_code, w.error_msg);
        rt_session_free(s);
    }
    rt_client_free(c);
    for (int i = 0; i < 4; i++)
        if (fill[i] >= 0)
            close(fill[i]);
    close(fd);
}

/* A Vertex session of the simulator whose handshakes take their token from `ao`'s
 * source, with a stale configured authorization header beside it; its events until
 * `until`, into *w. */
static void vertex_with_source(const struct rt_auth_options *ao, double secs,
                               int (*until)(const struct seen *), struct seen *w)
{
    static const char setup[] = "{\"setup\":{\"model\":\"projects/livesim-test/locations/"
        "us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio\","
        "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]}}}";
    struct rt_endpoint_options eo = { .backend = RT_BACKEND_VERTEX, .access_token = "stale",
                                      .project = "livesim-test", .location = "us-central1",
                                      .base_url = sim_http };
    struct rt_error err = { 0 };
    struct rt_auth *a = rt_auth_new(ao, &err);
    struct rt_endpoint ep = { 0 };
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = NULL;

    RT_CHECK(a && c && rt_endpoint_build(&eo, &ep, &err) == 0);
    if (a && c && ep.url) {
        struct rt_session_options o = { .url = ep.url, .headers = ep.headers,
                                        .nheaders = ep.nheaders, .setup = setup,
                                        .setup_len = sizeof setup - 1, .timeout = 10, .auth = a };
        s = rt_session_new(c, &o, &err);
    }
    RT_CHECK(s && pump(s, w, secs, until));
    if (w->errors)
        printf("# %d errors, code %d: %s\n", w->errors, w->error_code, w->error_msg);
    rt_session_free(s);
    rt_endpoint_free(&ep);
    rt_client_free(c);
    rt_auth_free(a);
}

/* A session whose token source was just made (its first fetch under way) waits for the
 * token before its first handshake instead of going without it (HTTP 401). */
static void test_auth_first_handshake(void)
{
    struct rt_auth_options ao = { .kind = RT_AUTH_METADATA, .metadata_host = sim_http,
                                  .ca_file = sim_ca, .timeout = 5 };
    struct seen w = { 0 };

    vertex_with_source(&ao, 10, is_ready, &w);
    RT_CHECK(w.ready == 1 && w.errors == 0);
}

/* A token source whose fetch fails: the session ends with that failure ("auth", naming
 * the source) instead of going to the server without the token, or with the stale
 * authorization header, and reporting the server's 401. */
static void test_auth_fetch_fails(void)
{
    struct rt_auth_options ao = { .kind = RT_AUTH_METADATA, .metadata_host = "127.0.0.1:1",
                                  .source = "the metadata source of the test", .timeout = 2 };
    struct seen w = { 0 };

    vertex_with_source(&ao, 15, is_closed, &w);
    RT_CHECK(w.ready == 0 && w.errors == 1 && w.error_code == RT_EAUTH);
    RT_CHECK(strstr(w.error_msg, "the metadata source of the test") != NULL);
    RT_CHECK(strstr(w.error_msg, "401") == NULL);
}

/* A session that has ended holds no reference to its token source: once the owner frees
 * its own, the refresh timer and the HTTP worker stop, while the session is not freed yet
 * (a Lua session object its owner still holds). */
static void test_auth_released_at_end(void)
{
    static const char setup[] = "{\"setup\":{\"model\":\"projects/livesim-test/locations/"
        "us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio\","
        "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]}}}";
    struct rt_auth_options ao = { .kind = RT_AUTH_METADATA, .metadata_host = sim_http,
                                  .ca_file = sim_ca, .timeout = 5 };
    struct rt_endpoint_options eo = { .backend = RT_BACKEND_VERTEX, .access_token = "stale",
                                      .project = "livesim-test", .location = "us-central1",
                                      .base_url = sim_http };
    struct rt_error err = { 0 };
    struct rt_auth *a = rt_auth_new(&ao, &err);
    struct rt_endpoint ep = { 0 };
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = NULL;
    struct seen w = { 0 };

    RT_CHECK(a && c && rt_endpoint_build(&eo, &ep, &err) == 0);
    if (a && c && ep.url) {
        struct rt_session_options o = { .url = ep.url, .headers = ep.headers,
                                        .nheaders = ep.nheaders, .setup = setup,
                                        .setup_len = sizeof setup - 1, .timeout = 10, .auth = a };
        s = rt_session_new(c, &o, &err);
    }
    RT_CHECK(s && pump(s, &w, 10, is_ready));
    if (s) {
        rt_session_close(s, 1000, "bye");
        RT_CHECK(pump(s, &w, 10, is_closed));
    }
    RT_CHECK(rt_http_worker_running());
    rt_auth_free(a);
    RT_CHECK(!rt_http_worker_running());
    rt_session_free(s);
    rt_endpoint_free(&ep);
    rt_client_free(c);
}

/* A slow reader (reading paused at max_receive_bytes) closes while the server's answers
 * wait: the close reads on to the server's answer, and is the normal one; what would
 * take the unread queue past the bound is dropped then, and the final error counts it. */
static void test_close_while_paused(void)
{
    static const char hi[] = "{\"realtimeInput\":{\"text\":\"hello there\"}}";
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_TEXT,
        .setup_len = strlen(SETUP_TEXT), .timeout = 10, .max_receive_bytes = 4096,
    };
    struct rt_client *c = client(sim_ca);
    struct rt_error err = { 0 };
    struct rt_session *s = c ? rt_session_new(c, &o, &err) : NULL;
    struct seen w = { 0 };
    int n = 300;

    RT_CHECK(s && pump(s, &w, 10, is_ready));
    for (int i = 0; s && i < n; i++)
        RT_CHECK(rt_session_send(s, hi, sizeof hi - 1, &err) == 0);
    if (s) {
        struct timespec d = { 1, 500 * 1000 * 1000 };
        nanosleep(&d, NULL);                 /* the answers pile up: reading pauses */
        rt_session_close(s, 1000, "bye");
        RT_CHECK(pump(s, &w, 15, is_closed));
        printf("# %d of %d turns, closed %d, %d errors (%s)\n", w.turn_complete, n,
               w.closed_code, w.errors, w.error_msg);
        RT_CHECK(w.turn_complete == n || strstr(w.error_msg, " server messages ("));
        RT_CHECK(w.closed_code == 1000);
        RT_CHECK(!strstr(w.error_msg, "lost"));
        RT_CHECK(!strstr(w.error_msg, "did not answer"));
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* A message that is not UTF-8 is refused by the send that gives it (RT_EINVAL, saying
 * where), and nothing of it is queued: as a text frame it would have the server fail the
 * connection (1007), losing what was queued behind it, with no word of which send it was.
 * The session goes on; a valid message with non-ASCII text goes out. */
static void test_send_not_utf8(void)
{
    static const char bad[] = "{\"realtimeInput\":{\"text\":\"caf\xe9\"}}";
    static const char surrogate[] = "{\"realtimeInput\":{\"text\":\"\xed\xa0\x80\"}}";
    static const char cut[] = "{\"realtimeInput\":{\"text\":\"caf\xc3";
    static const char good[] = "{\"realtimeInput\":{\"text\":\"caf\xc3\xa9\"}}";
    struct iovec v[] = { { (void *)good, sizeof good - 1 }, { (void *)bad, sizeof bad - 1 } };
    uint64_t seq[] = { 0 };
    struct rt_answer_calls ans[] = { { NULL, 0 }, { seq, 1 } };
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct rt_error err = { 0 };
    struct seen w = { 0 };
    struct rt_stats st;

    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (!s) {
        rt_client_free(c);
        return;
    }
    RT_CHECK(rt_session_send_initial(s, bad, sizeof bad - 1, &err) == -1 &&
             err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "the message is not UTF-8 (byte 29 of 33, 0xe9): a text frame "
                 "must be, and the server would close the session on it (1007)");
    RT_CHECK(rt_session_send(s, bad, sizeof bad - 1, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK(rt_session_send(s, surrogate, sizeof surrogate - 1, &err) == -1 &&
             err.code == RT_EINVAL);
    RT_CHECK(rt_session_send(s, cut, sizeof cut - 1, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK(rt_session_sendv(s, v, 2, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "msgs[1] is not UTF-8 (byte 29 of 33, 0xe9): a text frame must "
                 "be, and the server would close the session on it (1007); nothing was "
                 "queued");
    RT_CHECK(rt_session_sendv_answers(s, v, ans, 2, &err) == -1 && err.code == RT_EINVAL);
    rt_session_stats(s, &st);
    RT_CHECK(st.queued_bytes == 0);
    RT_CHECK(rt_session_send(s, good, sizeof good - 1, &err) == 0);
    RT_CHECK(pump(s, &w, 10, is_turn_done) && w.turn_complete == 1);
    RT_CHECK(w.errors == 0 && w.closed == 0);
    if (w.errors)
        printf("# %s\n", w.error_msg);
    rt_session_free(s);
    rt_client_free(c);
}

/* rt_session_close's code and reason as its header says: a code a close frame may not
 * carry goes out as 1000; the reason is cut to 123 bytes at a character boundary and
 * before its first byte that is not UTF-8. RT_EV_CLOSED tells what went out. */
static void test_close_code_reason(void)
{
    static const struct { int code; int want; } codes[] = {
        { 1006, 1000 }, { 1005, 1000 }, { 1004, 1000 }, { 999, 1000 }, { 0, 1000 },
        { -1, 1000 }, { 2000, 1000 }, { 5000, 1000 }, { 1001, 1001 }, { 4999, 4999 },
    };
    char longr[200], want[124];
    struct rt_client *c = client(sim_ca);

    RT_CHECK(c);
    if (!c)
        return;
    /* 122 bytes, then a 2-byte character across the 123-byte bound: cut before it */
    memset(longr, 'r', sizeof longr);
    memcpy(longr + 122, "\xc3\xa9", 2);
    longr[sizeof longr - 1] = '\0';
    memset(want, 'r', 122);
    want[122] = '\0';
    for (size_t i = 0; i < sizeof codes / sizeof codes[0] + 2; i++) {
        bool many = i < sizeof codes / sizeof codes[0];
        struct rt_session *s = session(c, url, sim_key, SETUP_TEXT, false, 10);
        struct seen w = { 0 };
        int code = many ? codes[i].code : 3000;
        const char *reason = many ? "why" : i == sizeof codes / sizeof codes[0] ? longr
                                                         : "caf\xc3\xa9 \xff bad \xc3\xa9";
        const char *reason_out = many ? "why" : i == sizeof codes / sizeof codes[0] ? want
                                                             : "caf\xc3\xa9 ";

        RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
        if (!s)
            continue;
        rt_session_close(s, code, reason);
        RT_CHECK(pump(s, &w, 10, is_closed));
        if (w.closed_code != (many ? codes[i].want : 3000) || strcmp(w.closed_reason, reason_out)) {
            printf("# asked %d: closed %d \"%s\"\n", code, w.closed_code, w.closed_reason);
            RT_CHECK(!"the close's code and reason");
        }
        RT_CHECK(w.errors == 0);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* A thread that waits on a session whose end it may not see: the tests of the waits on an
 * ended session. A watchdog (join_within) stops it when it does not return in time. */
struct waiter {
    struct rt_session *s;
    atomic_bool stop;             /* the watchdog gave up on it */
    atomic_bool done;             /* the thread has returned */
    int first, again, after_poll; /* what its waits answered */
    int next_null, poll_null;     /* the takes between them found nothing */
    int closed;                   /* closed events this thread took */
};

/* Joins t if it returns within secs; otherwise wakes its wait through the descriptor
 * until it sees `stop` and returns (the code before the fix slept for ever there).
 * Whether it returned in time. */
static int join_within(pthread_t t, struct waiter *wt, double secs)
{
    struct timespec d = { 0, 10 * 1000 * 1000 };
    double t0 = mono();
    int in_time;

    while (!atomic_load(&wt->done) && mono() - t0 < secs)
        nanosleep(&d, NULL);
    in_time = atomic_load(&wt->done);
    atomic_store(&wt->stop, true);
    while (!atomic_load(&wt->done)) {
        uint64_t one = 1;

        if (write(rt_session_fd(wt->s), &one, sizeof one) < 0)
            printf("# cannot wake the waiter\n");
        nanosleep(&d, NULL);
    }
    pthread_join(t, NULL);
    return in_time;
}

/* After the closed event was taken: unbounded waits, a take between them, a poll. */
static void *wait_after_end(void *arg)
{
    struct waiter *wt = arg;
    struct rt_event *ev;

    wt->first = rt_session_wait(wt->s, -1);
    if (!atomic_load(&wt->stop)) {
        ev = rt_session_next_event(wt->s);
        wt->next_null = ev == NULL;
        rt_event_free(ev);
        wt->again = rt_session_wait(wt->s, -1);
        ev = rt_session_poll_event(wt->s);
        wt->poll_null = ev == NULL;
        rt_event_free(ev);
        wt->after_poll = rt_session_wait(wt->s, -1);
    }
    atomic_store(&wt->done, true);
    return NULL;
}

/* An ended session whose closed event has been taken: nothing will come, so a wait
 * answers 0 at once, even unbounded (as for NULL or a session inherited across fork),
 * and the descriptor stays readable (a poll on it does not sleep for ever either). */
static void test_wait_after_end(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct waiter wt = { .s = s };
    struct seen w = { 0 };
    pthread_t t;

    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (!s) {
        rt_client_free(c);
        return;
    }
    rt_session_close(s, 1000, NULL);
    RT_CHECK(pump(s, &w, 10, is_closed) && w.closed == 1);
    RT_CHECK(rt_session_is_ended(s) == 1 && rt_session_pending(s) == 0);
    if (pthread_create(&t, NULL, wait_after_end, &wt) != 0) {
        RT_CHECK(!"pthread_create");
    } else {
        RT_CHECK(join_within(t, &wt, 5));
        RT_CHECK(wt.first == 0 && wt.next_null && wt.again == 0);
        RT_CHECK(wt.poll_null && wt.after_poll == 0);
        RT_CHECK(fd_readable(rt_session_fd(s)));
        RT_CHECK(rt_session_next_event(s) == NULL && fd_readable(rt_session_fd(s)));
        RT_CHECK(rt_session_wait(s, 0) == 0);
    }
    rt_session_free(s);
    rt_client_free(c);
}

/* realtime.h's event loop, until the closed event or a wait that answers 0. */
static void *event_loop_reader(void *arg)
{
    struct waiter *wt = arg;

    while (!atomic_load(&wt->stop) && rt_session_wait(wt->s, -1) > 0) {
        struct rt_event *ev = rt_session_next_event(wt->s);
        int last = ev && ev->type == RT_EV_CLOSED;

        rt_event_free(ev);
        if (last) {
            wt->closed++;
            break;
        }
    }
    atomic_store(&wt->done, true);
    return NULL;
}

/* realtime.h's event loop on two threads: one takes the closed event, and the other's
 * wait must end too rather than sleep for ever. */
static void test_wait_two_readers(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s = c ? session(c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    struct waiter r1 = { .s = s }, r2 = { .s = s };
    struct seen w = { 0 };
    pthread_t t1, t2;

    RT_CHECK(s && pump(s, &w, 10, is_ready) && w.ready == 1);
    if (!s) {
        rt_client_free(c);
        return;
    }
    if (pthread_create(&t1, NULL, event_loop_reader, &r1) != 0) {
        RT_CHECK(!"pthread_create");
    } else {
        if (pthread_create(&t2, NULL, event_loop_reader, &r2) != 0) {
            RT_CHECK(!"pthread_create");
            rt_session_close(s, 1000, NULL);
        } else {
            struct timespec d = { 0, 200 * 1000 * 1000 };

            nanosleep(&d, NULL);              /* both asleep in their waits */
            rt_session_close(s, 1000, NULL);
            RT_CHECK(join_within(t2, &r2, 5));
        }
        RT_CHECK(join_within(t1, &r1, 5));
        RT_CHECK(r1.closed + r2.closed == 1);
    }
    rt_session_free(s);
    rt_client_free(c);
}

int main(void)
{
    if (sim_env() != 0)
        return rt_test_done();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RT_RUN(test_send_nothing);
    RT_RUN(test_null_arguments);
    RT_RUN(test_null_session);
    RT_RUN(test_wait_after_poll);
    RT_RUN(test_append_commit_race);
    RT_RUN(test_error_reused);
    RT_RUN(test_close_before_ready);
    RT_RUN(test_closing_count);
    RT_RUN(test_close_now_says_so);
    RT_RUN(test_send_initial_first);
    RT_RUN(test_tiny_connect_timeout);
    RT_RUN(test_close_while_connecting);
    RT_RUN(test_auth_first_handshake);
    RT_RUN(test_auth_fetch_fails);
    RT_RUN(test_auth_released_at_end);
    RT_RUN(test_close_while_paused);
    RT_RUN(test_tell);
    RT_RUN(test_send_not_utf8);
    RT_RUN(test_close_code_reason);
    RT_RUN(test_wait_after_end);
    RT_RUN(test_wait_two_readers);
    curl_global_cleanup();
    return rt_test_done();
}
