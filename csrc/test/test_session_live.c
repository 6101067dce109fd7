/* Sessions against the Live API simulator over real TLS.
 *
 * The test runner starts the simulator and exports RT_SIM_URL (wss://127.0.0.1:PORT),
 * RT_SIM_HTTP (its https:// base, for the /_sim/ control API), RT_SIM_CA (the CA that
 * signed its certificate) and RT_SIM_KEY (the API key it accepts). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "realtime.h"
#include "rt_alloc.h"
#include "rt_session_private.h"
#include "rt_test.h"

#include "sim_live.h"

/* ---- tests ---- */

static void test_connect_ready(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_stats st;

    RT_CHECK(c);
    if (!c)
        return;
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(w.ready == 1);
        RT_CHECK(w.errors == 0);
        if (w.errors)
            printf("# error: %s\n", w.error_msg);
        rt_session_stats(s, &st);
        RT_CHECK(st.messages_sent == 1);
        RT_CHECK(st.messages_received == 1);
        RT_CHECK(st.first_audio == -1);
        rt_session_close(s, 1000, "done");
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.closed == 1 && w.closed_code == 1000);
        RT_CHECK_STR(w.closed_reason, "done");
        RT_CHECK(w.errors == 0);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* Each loop a client can wait with carries a session to setupComplete and a close; the
 * default is epoll where this build has libev (on Linux), a bad choice is refused. */
static void test_event_loops(void)
{
    static const enum rt_event_loop loops[] = { RT_EVENT_LOOP_POLL, RT_EVENT_LOOP_EPOLL };
    struct rt_client_options o = { .ca_file = sim_ca, .event_loop = (enum rt_event_loop)7 };
    struct rt_error err = { 0 };
    struct rt_client *c = rt_client_new(&o, &err);

    RT_CHECK(c == NULL && err.code == RT_EINVAL);
    c = client(sim_ca);
    RT_CHECK(c);
#if defined(RT_HAVE_LIBEV) && defined(__linux__)
    RT_CHECK_STR(c ? rt_client_event_loop(c) : "", "epoll");
#else
    RT_CHECK_STR(c ? rt_client_event_loop(c) : "", "poll");
#endif
    rt_client_free(c);
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
        struct rt_session *s;
        struct seen w = { 0 };

        o.event_loop = loops[i];
        rt_error_clear(&err);
        c = rt_client_new(&o, &err);
#ifndef RT_HAVE_LIBEV
        if (loops[i] == RT_EVENT_LOOP_EPOLL) {
            RT_CHECK(c == NULL && err.code == RT_EINVAL);
            continue;
        }
#endif
        RT_CHECK(c);
        if (!c)
            continue;
        RT_CHECK_STR(rt_client_event_loop(c), i == 0 ? "poll" : "epoll");
        s = session(c, url, sim_key, SETUP_TEXT, false, 10);
        RT_CHECK(s);
        if (s) {
            RT_CHECK(pump(s, &w, 10, is_ready) && w.ready == 1);
            rt_session_close(s, 1000, "done");
            RT_CHECK(pump(s, &w, 10, is_closed) && w.closed_code == 1000);
            rt_session_free(s);
        }
        rt_client_free(c);
    }
}

static void test_text_turn(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";

    RT_CHECK(c);
    if (!c)
        return;
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        /* Queued before READY: must go out after setupComplete. */
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        rt_session_mark_turn_end(s);
        RT_CHECK(pump(s, &w, 10, is_turn_done));
        RT_CHECK(w.ready == 1);
        RT_CHECK(w.turn_complete == 1);
        RT_CHECK(w.messages >= 2);
        RT_CHECK(w.closed == 0);
        /* The simulator speaks TLS 1.3 with AES-256-GCM and sends session tickets: the
         * turn went through our record layer, with the SSL object freed (rt_tls_record.h).
         * Read after the events, which the I/O thread published after the switch. */
        RT_CHECK(s->tls.ssl == NULL && s->tls.rec != NULL);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* rt_session_sendv queues its messages as one unit: a set that does not fit in
 * max_queue_bytes is refused whole (nothing of it queued, so a retry cannot send a part
 * twice); one that fits goes out, every message of it. */
static void test_sendv_whole(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_TEXT,
        .setup_len = strlen(SETUP_TEXT), .timeout = 10, .max_queue_bytes = 4096,
    };
    struct rt_error err = { 0 };
    struct rt_stats st;
    struct rt_session *s;
    char text[3][1500];
    struct iovec v[3];
    struct seen w = { 0 };

    RT_CHECK(c);
    if (!c)
        return;
    for (int i = 0; i < 3; i++) {
        int n = snprintf(text[i], sizeof text[i], "{\"realtimeInput\":{\"text\":\"part %d ", i);
        memset(text[i] + n, 'a', sizeof text[i] - (size_t)n - 3);
        memcpy(text[i] + sizeof text[i] - 3, "\"}}", 3);
        v[i].iov_base = text[i];
        v[i].iov_len = sizeof text[i];
    }
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(rt_session_sendv(s, v, 3, &err) == -1 && err.code == RT_EBUSY);
        RT_CHECK(strstr(err.msg, "max_queue_bytes (4096)") != NULL);
        rt_session_stats(s, &st);
        RT_CHECK(st.queued_bytes == 0 && st.messages_sent == 0);
        RT_CHECK(rt_session_sendv(s, v, 2, &err) == 0);
        RT_CHECK(rt_session_sendv(s, v, 0, &err) == 0);
        RT_CHECK(pump(s, &w, 10, is_ready));
        /* the setup, then both parts */
        for (int i = 0; i < 500; i++) {
            struct timespec d = { 0, 10 * 1000 * 1000 };
            rt_session_stats(s, &st);
            if (st.messages_sent >= 3)
                break;
            nanosleep(&d, NULL);
        }
        RT_CHECK(st.messages_sent == 3);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* rt_session_poll_event leaves the descriptor alone when nothing waits (a frame loop pays
 * no system call per event); rt_session_next_event then makes it unreadable. */
static void test_poll_event(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct rt_event *ev;
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";
    int got = 0, done = 0;
    double t_end;
    struct timespec ts;

    RT_CHECK(c);
    if (!c)
        return;
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s && rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t_end = (double)ts.tv_sec + 10;
    while (s && !done && (double)ts.tv_sec < t_end) {
        while ((ev = rt_session_poll_event(s)) != NULL) {
            got++;
            done = done || (ev->type == RT_EV_MESSAGE && strstr(ev->data, "turnComplete"));
            rt_event_free(ev);
        }
        RT_CHECK(rt_session_poll_event(s) == NULL);
        if (!done) {
            struct timespec d = { 0, 5 * 1000 * 1000 };
            nanosleep(&d, NULL);
            clock_gettime(CLOCK_MONOTONIC, &ts);
        }
    }
    RT_CHECK(done && got >= 3);
    RT_CHECK(fd_readable(rt_session_fd(s)));       /* left raised by the polls */
    RT_CHECK(rt_session_next_event(s) == NULL);
    RT_CHECK(!fd_readable(rt_session_fd(s)));      /* cleared by the waiter's call */
    rt_session_free(s);
    rt_client_free(c);
}

/* A text message much larger than one WebSocket fragment. */
static void test_large_text(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    size_t n = 300000, i;
    char *msg = malloc(n + 64);

    RT_CHECK(c && msg);
    if (!c || !msg) {
        free(msg);
        rt_client_free(c);
        return;
    }
    i = (size_t)sprintf(msg, "{\"realtimeInput\":{\"text\":\"");
    memset(msg + i, 'a', n);
    i += n;
    i += (size_t)sprintf(msg + i, "\"}}");
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(rt_session_send(s, msg, i, &err) == 0);
        RT_CHECK(pump(s, &w, 15, is_turn_done));
        RT_CHECK(w.turn_complete == 1);
        RT_CHECK(w.closed == 0);
        if (w.errors)
            printf("# error: %s\n", w.error_msg);
        rt_session_free(s);
    }
    free(msg);
    rt_client_free(c);
}

static void test_audio_manual(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    struct rt_stats st;
    size_t n = 16000 * 2 * 2, i; /* 2 s at 16 kHz: split into two messages */
    short *pcm = malloc(n);

    RT_CHECK(c && pcm);
    if (!c || !pcm) {
        free(pcm);
        rt_client_free(c);
        return;
    }
    for (i = 0; i < n / 2; i++)
        pcm[i] = (short)((i % 40) < 20 ? 8000 : -8000);
    s = session(c, url, sim_key, SETUP_AUDIO_MANUAL, true, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(rt_session_append_audio(s, pcm, 3, &err) == -1 && err.code == RT_EINVAL);
        rt_error_clear(&err);
        RT_CHECK(rt_session_append_audio(s, pcm, n, &err) == 0);
        RT_CHECK(rt_session_commit_audio(s, &err) == 0);
        /* A second commit with no audio in between sends nothing. */
        RT_CHECK(rt_session_commit_audio(s, &err) == 0);
        RT_CHECK(pump(s, &w, 15, is_turn_done));
        RT_CHECK(w.turn_complete == 1);
        RT_CHECK(w.inline_data > 0);
        rt_session_stats(s, &st);
        /* setup + activityStart + 2 audio messages (64,000 bytes / 32,000) + activityEnd */
        RT_CHECK(st.messages_sent == 1 + 1 + 2 + 1);
        RT_CHECK(st.first_audio >= 0 && st.first_audio < 10);
        RT_CHECK(st.queued_bytes == 0);
        printf("# first_audio %.3f s, %llu bytes sent\n", st.first_audio,
               (unsigned long long)st.bytes_sent);
        rt_session_free(s);
    }
    free(pcm);
    rt_client_free(c);
}

/* Opens a session that is expected to end before it is ready, pumps its events into w
 * until the closed one, and frees everything. Returns 1 when the session ran. */
static int run_to_close(const char *ca, const char *u, const char *key, struct seen *w)
{
    struct rt_client *c = client(ca);
    struct rt_session *s;
    int ran = 0;

    RT_CHECK(c);
    if (!c)
        return 0;
    s = session(c, u, key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, w, 10, is_closed));
        printf("# %s\n", w->error_msg);
        rt_session_free(s);
        ran = 1;
    }
    rt_client_free(c);
    return ran;
}

/* The simulator, like the service, accepts the upgrade and closes with 1007. */
static void test_wrong_key(void)
{
    struct seen w = { 0 };

    if (run_to_close(sim_ca, url, "wrong-key", &w)) {
        RT_CHECK(w.ready == 0);
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        RT_CHECK(strncmp(w.error_msg, "server closed the connection (1007: ", 36) == 0);
        RT_CHECK(w.closed == 1 && w.closed_code == 1007 && w.after_closed == 0);
    }
}

/* The upgrade itself is refused with an HTTP status. */
static void test_handshake_refused(void)
{
    struct seen w = { 0 };

    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"refuse\",\"status\":403}}") == 0);
    if (run_to_close(sim_ca, url, sim_key, &w)) {
        RT_CHECK(w.ready == 0);
        RT_CHECK(w.errors == 1 && w.error_code == RT_EHANDSHAKE);
        RT_CHECK(strncmp(w.error_msg, "HTTP 403", 8) == 0);
        RT_CHECK(w.closed == 1 && w.closed_code == 1006 && w.after_closed == 0);
    }
}

static void test_tls_untrusted(void)
{
    struct seen w = { 0 };

    /* The system store does not know the simulator's CA. */
    if (run_to_close(NULL, url, sim_key, &w)) {
        RT_CHECK(w.errors == 1 && w.error_code == RT_ETLS);
        RT_CHECK(strstr(w.error_msg, "certificate") != NULL);
        RT_CHECK(w.closed == 1 && w.closed_code == 1006);
    }
}

/* A host name that cannot resolve. */
static void test_dns_failure(void)
{
    struct seen w = { 0 };

    if (run_to_close(sim_ca, "wss://no-such-host.invalid" GEMINI_PATH, sim_key, &w)) {
        RT_CHECK(w.errors == 1 && w.error_code == RT_EDNS);
        RT_CHECK(w.closed == 1 && w.closed_code == 1006);
    }
}

static void test_connect_refused(void)
{
    struct seen w = { 0 };

    if (run_to_close(sim_ca, "wss://127.0.0.1:1" GEMINI_PATH, sim_key, &w)) {
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECONNECT);
        RT_CHECK(w.closed == 1 && w.closed_code == 1006);
    }
}

/* A listener that never answers: the connect + setup timeout must fire. */
static void test_timeout(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char u[256];

    RT_CHECK(c && fd >= 0);
    if (!c || fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4) ||
        getsockname(fd, (struct sockaddr *)&a, &al)) {
        RT_CHECK(0);
        if (fd >= 0)
            close(fd);
        rt_client_free(c);
        return;
    }
    snprintf(u, sizeof u, "wss://127.0.0.1:%d" GEMINI_PATH, ntohs(a.sin_port));
    s = session(c, u, sim_key, SETUP_TEXT, false, 0.5);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 5, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ETIMEOUT);
        printf("# %s\n", w.error_msg);
        RT_CHECK(w.closed == 1 && w.closed_code == 1006);
        rt_session_free(s);
    }
    close(fd);
    rt_client_free(c);
}

/* A server that refuses the upgrade as soon as a client connects, before reading the
 * request (as a front end answers 431 when the headers grow too large): accepts one
 * connection, writes the refusal, then reads what comes until the client hangs up. */
static void *refuse_at_once(void *arg)
{
    static const char ans[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                              "Content-Length: 9\r\nConnection: close\r\n\r\ntoo large";
    struct timeval tv = { 5, 0 };
    char buf[16384];
    struct pollfd p = { .fd = *(int *)arg, .events = POLLIN };
    int fd;

    /* bounded: a session that never connects must not leave the join waiting */
    if (poll(&p, 1, 15000) != 1 || (fd = accept(p.fd, NULL, NULL)) < 0)
        return NULL;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        write(fd, ans, sizeof ans - 1) == (ssize_t)(sizeof ans - 1))
        while (read(fd, buf, sizeof buf) > 0)
            ;
    close(fd);
    return NULL;
}

/* The server answers a large request at once and reads none of it: the answer is read
 * as the answer (it used to be appended to an unwritten rest of the request and parsed as
 * a malformed answer) and the refusal is reported with its status and body. The bulk is
 * a 40,000-byte header, near the headers' bound (RT_SESSION_HEADERS_MAX); the URL is
 * bounded at 8 KiB. Since both bounds, loopback takes such a request in one write (the
 * 200 KB URL this test used to send left most of it unwritten), so the test no longer
 * forces a request cut by a full socket; the case is kept for the refusal's report. */
static void test_refused_before_request(void)
{
    struct rt_client *c = client(sim_ca);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), rcvbuf = 4096;
    size_t big = 40000;
    char *value = malloc(big + 1), u[256];
    pthread_t th;
    struct seen w = { 0 };
    struct rt_error err = { 0 };

    RT_CHECK(c && fd >= 0 && value);
    if (!c || fd < 0 || !value ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) ||
        bind(fd, (struct sockaddr *)&a, sizeof a) ||
        listen(fd, 4) || getsockname(fd, (struct sockaddr *)&a, &al) ||
        pthread_create(&th, NULL, refuse_at_once, &fd)) {
        RT_CHECK(0);
        if (fd >= 0)
            close(fd);
        free(value);
        rt_client_free(c);
        return;
    }
    memset(value, 'a', big);
    value[big] = '\0';
    snprintf(u, sizeof u, "ws://127.0.0.1:%d" GEMINI_PATH, ntohs(a.sin_port));
    struct rt_header h[] = { { "x-goog-api-key", sim_key }, { "x-pad", value } };
    struct rt_session_options o = {
        .url = u, .headers = h, .nheaders = 2, .setup = SETUP_TEXT,
        .setup_len = strlen(SETUP_TEXT), .timeout = 10,
    };
    struct rt_session *s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_EHANDSHAKE);
        RT_CHECK_STR(w.error_msg, "HTTP 431: Request Header Fields Too Large - too large");
        rt_session_free(s);
    }
    rt_client_free(c);
    pthread_join(th, NULL);
    close(fd);
    free(value);
}

/* The server closes with 1007: an error naming it, then closed with code and reason. */
static void test_server_close(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"close\",\"when\":\"turn\",\"code\":1007,"
                      "\"reason\":\"Request contains an invalid argument.\"}}") == 0);
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        RT_CHECK_STR(w.error_msg,
                     "server closed the connection (1007: Request contains an invalid argument.)");
        RT_CHECK(w.closed_code == 1007);
        RT_CHECK_STR(w.closed_reason, "Request contains an invalid argument.");
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == -1 &&
                 err.code == RT_ECLOSED);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* A send inside the gate of rt_sess_enqueue (its look at `closed` passed, its push not
 * made) while the server ends the session: the hook sends a turn the simulator answers
 * with a close (1000), then waits until the end has set `closed`. */
static struct {
    bool armed;                      /* the next send's hook ends the session */
    int trigger_rc;                  /* what the hook's own send returned */
    bool closed_seen;                /* the end set `closed` while the send waited */
} push_gate;

static void end_in_gate(struct rt_session *s)
{
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";
    struct rt_error err = { 0 };

    if (!push_gate.armed)
        return;                      /* the hook's own send goes through */
    push_gate.armed = false;
    push_gate.trigger_rc = rt_session_send(s, hello, sizeof hello - 1, &err);
    for (int i = 0; i < 1000 && !rt_session_is_closed(s); i++)
        usleep(10000);               /* at most 10 s */
    push_gate.closed_seen = rt_session_is_closed(s);
}

/* A send accepted in the instant the session ends is counted in the final error, never
 * lost without one: the end waits for a send between its look at `closed` and its push
 * (before, the end had already counted the intake, and this send vanished: a server's
 * 1000 close gave no error at all). A send after the end is refused. */
static void test_send_as_session_ends(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char late[] = "{\"realtimeInput\":{\"text\":\"late\"}}";
    char want[128];
    int rc;

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"close\",\"when\":\"turn\","
                      "\"code\":1000,\"reason\":\"bye\"}}") == 0);
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready) && w.ready == 1);
        push_gate.armed = true;
        rt_session_on_push(end_in_gate);
        rc = rt_session_send(s, late, sizeof late - 1, &err);
        rt_session_on_push(NULL);
        RT_CHECK(push_gate.trigger_rc == 0 && push_gate.closed_seen);
        RT_CHECK(rc == 0);           /* accepted: its look at `closed` came first */
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.closed == 1 && w.closed_code == 1000 && w.after_closed == 0);
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        snprintf(want, sizeof want, "the session ended (1 message, %zu bytes, not sent)",
                 sizeof late - 1);
        RT_CHECK_STR(w.error_msg, want);
        RT_CHECK(rt_session_send(s, late, sizeof late - 1, &err) == -1 &&
                 err.code == RT_ECLOSED);
        RT_CHECK_STR(err.msg, "session closed");
        rt_session_free(s);
    }
    RT_CHECK(sim_clear_next() == 0);
    rt_client_free(c);
}

/* Memory runs out as the session closes: its reason cannot be copied and the end's events
 * cannot be allocated, yet the owner still gets the end (from the spares made with the
 * session), last, and nothing leaks. */
static void test_end_without_memory(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    int ended;

    RT_CHECK(c);
    if (!c)
        return;
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready) && w.ready == 1);
        rt_alloc_fail_after(0);
        rt_session_close(s, 4000, "bye");
        ended = pump(s, &w, 10, is_closed);
        rt_alloc_fail_after(-1);
        RT_CHECK(ended && w.closed == 1 && w.after_closed == 0);
        /* The server's close answer could not be read (its payload needs memory): the
         * connection failed with 1011, and the error says what ran out. */
        RT_CHECK(w.closed_code == 1011 && w.closed_reason[0] == '\0');
        RT_CHECK(w.errors == 1 && w.error_code == RT_ENOMEM);
        RT_CHECK_STR(w.error_msg, "out of memory recording why the connection failed");
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* The server fragments every frame into tiny pieces: reassembly must give whole messages. */
static void test_fragmented_rx(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"fragment\",\"size\":7}}") == 0);
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(w.ready == 1);
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        RT_CHECK(pump(s, &w, 10, is_turn_done));
        RT_CHECK(w.turn_complete == 1 && w.errors == 0);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* A server message over max_message_bytes: protocol error, close 1009. */
static void test_oversize(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_TEXT,
        .setup_len = strlen(SETUP_TEXT), .max_message_bytes = 100000,
    };
    struct rt_error err = { 0 };
    struct rt_session *s;
    struct seen w = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"oversize\",\"when\":\"turn\","
                      "\"bytes\":200000}}") == 0);
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_EPROTOCOL);
        printf("# %s\n", w.error_msg);
        RT_CHECK(w.closed_code == 1009);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* The TCP connection vanishes: connection lost, closed 1006. */
static void test_drop(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"drop\",\"when\":\"turn\"}}") == 0);
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        printf("# %s\n", w.error_msg);
        RT_CHECK(w.closed_code == 1006);
        rt_session_free(s);
    }
    rt_client_free(c);
}

#define SETUP_RESUME "{\"setup\":{\"model\":\"models/gemini-live-2.5-flash-preview\"," \
    "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},\"sessionResumption\":{}}}"

static int is_reconnected(const struct seen *w) { return w->reconnected > 0 || w->closed > 0; }

/* With resumption the core reconnects by itself after a drop, replays the message the
 * server had not consumed (the reply comes on the new connection) and never queues an
 * error or closed event for the drop. */
static void test_drop_resumed(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_RESUME,
        .setup_len = strlen(SETUP_RESUME), .timeout = 10, .resumption = true,
    };
    struct rt_session *s;
    struct rt_stats st;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"drop\",\"when\":\"turn\"}}") == 0);
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        RT_CHECK(pump(s, &w, 15, is_reconnected));
        RT_CHECK(w.reconnected == 1 && w.reconnect_attempt == 1);
        /* Server messages are numbered across connections; the reconnected event says
         * the last one the resumed state holds: the one whose handle it resumed from. */
        RT_CHECK(w.handle_seq_then > 0 && w.reconnect_seq == w.handle_seq_then);
        /* The answer to the text sent again may come in the batch that held the
         * reconnect (a busy machine): pump counts it there, so the count is not reset.
         * The dropped connection gave no turnComplete (the fault fires on its first
         * output frame). */
        RT_CHECK(pump(s, &w, 10, is_turn_done));
        RT_CHECK(w.turn_complete == 1 && w.errors == 0 && w.closed == 0);
        RT_CHECK(w.seq_breaks == 0 && w.last_seq == (uint64_t)w.messages);
        rt_session_stats(s, &st);
        RT_CHECK(st.reconnects == 1 && st.resent == 1);
        rt_session_close(s, 1000, "done");
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.closed_code == 1000 && w.errors == 0);
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* Closing while a reconnect waits (the server is gone for good: refused upgrades) ends
 * the session with the caller's close, saying that what it would have sent again (the
 * text, written before the drop) may not have been received; freeing the client
 * meanwhile is clean. */
static void test_close_while_reconnecting(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_RESUME,
        .setup_len = strlen(SETUP_RESUME), .timeout = 10, .resumption = true,
    };
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    static const char hello[] = "{\"realtimeInput\":{\"text\":\"hello\"}}";
    char want[256];

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"drop\",\"when\":\"turn\"}}") == 0);
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_ready));
        /* every reconnect attempt is refused with 503 (retryable) */
        RT_CHECK(sim_post("/_sim/next", "{\"count\":10,\"fault\":{\"type\":\"refuse\",\"status\":503}}") == 0);
        RT_CHECK(rt_session_send(s, hello, sizeof hello - 1, &err) == 0);
        pump(s, &w, 1.0, is_closed);
        RT_CHECK(w.closed == 0 && w.reconnected == 0);
        rt_session_close(s, 1000, "giving up");
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.closed == 1 && w.closed_code == 1000 && w.errors == 1);
        RT_CHECK(w.error_code == RT_ECLOSED);
        snprintf(want, sizeof want, "close: asked while the session was reconnecting, after "
                 "connection lost (1 message, %zu bytes, written before the connection was "
                 "lost and not known to be received)", sizeof hello - 1);
        RT_CHECK(strcmp(w.error_msg, want) == 0);
        rt_session_free(s);
    }
    RT_CHECK(sim_clear_next() == 0);
    rt_client_free(c);
}

/* A server close reason with control bytes (ESC, as a terminal would obey it) is shown
 * escaped in the error and in the reconnect's reason, and verbatim in the closed event:
 * without resumption; with it (the reconnected event); and when the reconnects run out. */
static double mono(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define ESC_REASON_JSON "\"bad\\u001b[2Jred\""
#define ESC_REASON "bad\x1b[2Jred"
#define ESC_SHOWN "bad\\x1b[2Jred"

static void test_server_close_escaped(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_header h[] = { { "x-goog-api-key", sim_key } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 1, .setup = SETUP_RESUME,
        .setup_len = strlen(SETUP_RESUME), .timeout = 10, .resumption = true,
    };
    struct rt_session *s;
    struct rt_event *ev;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    char reconnected[256] = "";
    double t0;

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"close\",\"when\":\"setup\","
                      "\"code\":1011,\"reason\":" ESC_REASON_JSON "}}") == 0);
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    if (s) {
        RT_CHECK(pump(s, &w, 10, is_closed));
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        RT_CHECK_STR(w.error_msg, "server closed the connection (1011: " ESC_SHOWN ")");
        RT_CHECK(w.closed_code == 1011);
        RT_CHECK_STR(w.closed_reason, ESC_REASON);
        rt_session_free(s);
    }

    RT_CHECK(sim_post("/_sim/next", "{\"fault\":{\"type\":\"close\",\"when\":\"setup\","
                      "\"code\":1011,\"reason\":" ESC_REASON_JSON "}}") == 0);
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    for (t0 = mono(); s && !reconnected[0] && mono() - t0 < 10;) {
        rt_session_wait(s, 0.5);
        while ((ev = rt_session_next_event(s))) {
            if (ev->type == RT_EV_RECONNECTED)
                snprintf(reconnected, sizeof reconnected, "%s", ev->data);
            rt_event_free(ev);
        }
    }
    RT_CHECK_STR(reconnected, "server closed the connection (1011: " ESC_SHOWN ")");
    rt_session_free(s);

    /* every attempt closed alike: the attempts run out (about 8 s of backoff) */
    memset(&w, 0, sizeof w);
    RT_CHECK(sim_post("/_sim/next", "{\"count\":10,\"fault\":{\"type\":\"close\","
                      "\"when\":\"setup\",\"code\":1011,\"reason\":" ESC_REASON_JSON "}}") == 0);
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(pump(s, &w, 40, is_closed));
        printf("# %s\n", w.error_msg);
        RT_CHECK(w.errors == 1 && w.error_code == RT_ECLOSED);
        RT_CHECK(strstr(w.error_msg, "cannot resume the session after 6 attempts: "
                        "server closed the connection (1011: " ESC_SHOWN ")") != NULL);
        RT_CHECK(strchr(w.error_msg, 0x1b) == NULL);
        RT_CHECK_STR(w.closed_reason, ESC_REASON);
        rt_session_free(s);
    }
    RT_CHECK(sim_clear_next() == 0);
    rt_client_free(c);
}

/* rt_client_free with sessions ready, connecting and just created. */
static void test_client_free_with_sessions(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s[3];
    struct seen w[3];
    struct rt_error err = { 0 };
    int i;

    RT_CHECK(c);
    if (!c)
        return;
    memset(w, 0, sizeof w);
    s[0] = session(c, url, sim_key, SETUP_TEXT, false, 10);
    s[1] = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s[0] && s[1]);
    if (!s[0] || !s[1])
        return;
    RT_CHECK(pump(s[0], &w[0], 10, is_ready) && w[0].ready == 1);
    s[2] = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s[2]);
    rt_client_free(c);
    for (i = 0; i < 3; i++) {
        if (!s[i])
            continue;
        RT_CHECK(pump(s[i], &w[i], 1, is_closed));
        RT_CHECK(w[i].closed == 1 && w[i].after_closed == 0);
        RT_CHECK(w[i].closed_code == 1001);
        if (w[i].closed_code != 1001)      /* what ended it instead */
            printf("# session %d: closed %d '%s', error %d '%s'\n", i, w[i].closed_code,
                   w[i].closed_reason, w[i].error_code, w[i].error_msg);
        RT_CHECK(rt_session_send(s[i], "{}", 2, &err) == -1 && err.code == RT_ECLOSED);
        rt_error_clear(&err);
        rt_session_close(s[i], 1000, NULL);
        rt_session_free(s[i]);
    }
}

/* rt_client_close starts the stop and returns; rt_client_wait_closed says when the I/O
 * thread has stopped (a host waits in steps and acts on its signals in between), after
 * which rt_client_free does not wait. Each session still ends with 1001. */
static void test_client_close_then_wait(void)
{
    struct rt_client *c = client(sim_ca);
    struct rt_session *s;
    struct seen w = { 0 };
    struct rt_error err = { 0 };
    int r = 0, steps = 0;

    RT_CHECK(c);
    if (!c)
        return;
    s = session(c, url, sim_key, SETUP_TEXT, false, 10);
    RT_CHECK(s && pump(s, &w, 10, is_ready));
    if (!s) {
        rt_client_free(c);
        return;
    }
    rt_client_close(c);
    rt_client_close(c);                     /* idempotent */
    RT_CHECK(rt_session_new(c, &(struct rt_session_options){ .url = url, .setup = SETUP_TEXT,
                                                            .setup_len = strlen(SETUP_TEXT) },
                            &err) == NULL && err.code == RT_ECLOSED);
    while (steps++ < 100 && (r = rt_client_wait_closed(c, 0.1)) == 0)
        ;
    RT_CHECK(r == 1);
    RT_CHECK(rt_client_wait_closed(c, 0) == 1);  /* stays stopped */
    RT_CHECK(pump(s, &w, 1, is_closed) && w.closed_code == 1001);
    rt_client_free(c);
    rt_session_free(s);
    RT_CHECK(rt_client_wait_closed(NULL, -1) == 1);
    rt_client_close(NULL);
    rt_client_close_now(NULL);
}

/* Many short sessions in a row, closed at once: no leak, no hang. */
static void test_churn(void)
{
    struct rt_client *c = client(sim_ca);
    int i;

    RT_CHECK(c);
    if (!c)
        return;
    for (i = 0; i < 20; i++) {
        struct rt_session *s = session(c, url, sim_key, SETUP_TEXT, false, 10);
        struct seen w = { 0 };
        RT_CHECK(s);
        if (!s)
            continue;
        if (i % 2)
            RT_CHECK(pump(s, &w, 10, is_ready));
        rt_session_free(s);
    }
    rt_client_free(c);
}

int main(void)
{
    if (sim_env() != 0)
        return rt_test_done();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RT_RUN(test_connect_ready);
    RT_RUN(test_event_loops);
    RT_RUN(test_text_turn);
    RT_RUN(test_poll_event);
    RT_RUN(test_sendv_whole);
    RT_RUN(test_large_text);
    RT_RUN(test_audio_manual);
    RT_RUN(test_wrong_key);
    RT_RUN(test_handshake_refused);
    RT_RUN(test_tls_untrusted);
    RT_RUN(test_dns_failure);
    RT_RUN(test_connect_refused);
    RT_RUN(test_timeout);
    RT_RUN(test_refused_before_request);
    RT_RUN(test_server_close);
    RT_RUN(test_send_as_session_ends);
    RT_RUN(test_end_without_memory);
    RT_RUN(test_fragmented_rx);
    RT_RUN(test_oversize);
    RT_RUN(test_drop);
    RT_RUN(test_drop_resumed);
    RT_RUN(test_close_while_reconnecting);
    RT_RUN(test_server_close_escaped);
    RT_RUN(test_client_free_with_sessions);
    RT_RUN(test_client_close_then_wait);
    RT_RUN(test_churn);
    curl_global_cleanup();
    return rt_test_done();
}
