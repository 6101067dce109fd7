/* fork() with clients, sessions, credentials and HTTP jobs open (a server that makes a
 * client in its master and forks workers): in the child, what the parent made fails at
 * once with RT_ECLOSED and a message that says why, nothing waits on a thread that did
 * not come along, frees abandon the parent's copies, and new objects work (the HTTP
 * worker starts afresh); the parent's session and credential go on as before.
 *
 * Each child checks with RT_CHECK (its lines land in the same output) and _exit()s with
 * 0 when everything held, so LeakSanitizer, which runs at exit, never sees the copies it
 * abandoned; alarm() ends a child that hangs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_alloc.h"
#include "rt_auth_private.h"
#include "rt_http.h"
#include "rt_http_worker.h"
#include "rt_session_private.h"
#include "sim_live.h"

static const char hi[] = "{\"realtimeInput\":{\"text\":\"hello there\"}}";

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Sends a text turn on s and waits for its turnComplete; whether it came. */
static int text_turn(struct rt_session *s)
{
    struct rt_error err = { 0 };
    struct seen w = { 0 };

    if (!s || rt_session_send(s, hi, sizeof hi - 1, &err) != 0) {
        printf("# text turn: %s\n", err.msg);
        return 0;
    }
    return pump(s, &w, 10, is_turn_done) && w.turn_complete == 1 && w.errors == 0;
}

/* A client and a session that is ready; NULL session on failure. */
static struct rt_session *ready_session(struct rt_client **c)
{
    struct seen w = { 0 };
    struct rt_session *s;

    *c = client(sim_ca);
    s = *c ? session(*c, url, sim_key, SETUP_TEXT, false, 10) : NULL;
    if (s && (!pump(s, &w, 10, is_ready) || w.ready != 1)) {
        printf("# not ready: %s\n", w.error_msg);
        rt_session_free(s);
        s = NULL;
    }
    return s;
}

/* A metadata-server credential on the simulator, with its first token fetched (so the
 * HTTP worker runs); NULL on failure. */
static struct rt_auth *fetched_auth(void)
{
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = sim_http,
                                 .ca_file = sim_ca, .timeout = 5 };
    struct rt_error err = { 0 };
    struct rt_auth *a = rt_auth_new(&o, &err);
    char *tok = NULL;
    int rc = 0;

    for (double end = now() + 10; a && rc == 0 && now() < end;) {
        rc = rt_auth_token(a, 60, &tok, NULL, &err);
        if (rc == 0)
            rt_auth_wait(a, 1);
    }
    if (rc != 1)
        printf("# no token: %s\n", err.msg);
    rt_free(tok);
    if (rc != 1) {
        rt_auth_free(a);
        return NULL;
    }
    return a;
}

/* err says that an object of process `pid` cannot be used here, with the closed code. */
static void check_fork_error(const struct rt_error *err, const char *what, pid_t pid)
{
    char want[128];

    snprintf(want, sizeof want, "%s made by process %d before fork()", what, (int)pid);
    RT_CHECK(err->code == RT_ECLOSED);
    RT_CHECK(strstr(err->msg, want) != NULL);
    RT_CHECK(strstr(err->msg, "make a new client in the child") != NULL);
    if (err->code != RT_ECLOSED || !strstr(err->msg, want))
        printf("# code %d: %s\n", (int)err->code, err->msg);
}

/* Forks; the child runs fn and _exit()s with its verdict; the parent waits for it and
 * checks that it passed. */
static void in_child(void (*fn)(void *), void *arg)
{
    pid_t pid;
    int st = 0;

    fflush(stdout);
    pid = fork();
    RT_CHECK(pid >= 0);
    if (pid == 0) {
        alarm(30);                  /* a child that hangs fails instead of stalling the run */
        fn(arg);
        fflush(stdout);
        _exit(rt_test_case_failed ? 1 : 0);
    }
    RT_CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        printf("# the child %s %d\n", WIFEXITED(st) ? "exited with" : "died of signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ==================================================================== *
 *  A   S E S S I O N   A N D   I T S   C L I E N T
 * ==================================================================== */

struct inherited {
    struct rt_client *c;
    struct rt_session *s;
    struct rt_auth *a;
    struct rt_http_job *j;
    pid_t parent;
};

static void child_uses_session(void *arg)
{
    struct inherited *in = arg;
    struct rt_error err = { 0 };
    struct iovec v = { (void *)hi, sizeof hi - 1 };
    struct rt_event *ev;
    short pcm[160] = { 0 };
    double t0 = now();

    RT_CHECK(rt_session_send(in->s, hi, sizeof hi - 1, &err) == -1);
    check_fork_error(&err, "a session", in->parent);
    RT_CHECK(rt_session_sendv(in->s, &v, 1, &err) == -1 && err.code == RT_ECLOSED);
    RT_CHECK(rt_session_send_initial(in->s, hi, sizeof hi - 1, &err) == -1);
    RT_CHECK(rt_session_append_audio(in->s, pcm, sizeof pcm, &err) == -1 &&
             err.code == RT_ECLOSED);
    RT_CHECK(rt_session_commit_audio(in->s, &err) == -1 && err.code == RT_ECLOSED);
    RT_CHECK(rt_session_send(in->s, hi, 0, &err) == -1 && err.code == RT_ECLOSED);
    RT_CHECK(rt_session_is_closed(in->s) && rt_session_is_ended(in->s));

    /* receiving: the error, then closed, then nothing; no wait blocks */
    RT_CHECK(rt_session_pending(in->s) == 1);
    RT_CHECK(rt_session_wait(in->s, 5) == 1);
    ev = rt_session_next_event(in->s);
    RT_CHECK(ev && ev->type == RT_EV_ERROR && ev->code == RT_ECLOSED);
    if (ev && ev->type == RT_EV_ERROR) {
        struct rt_error e = { .code = (enum rt_code)ev->code };
        snprintf(e.msg, sizeof e.msg, "%s", ev->data);
        check_fork_error(&e, "a session", in->parent);
    }
    rt_event_free(ev);
    ev = rt_session_poll_event(in->s);
    RT_CHECK(ev && ev->type == RT_EV_CLOSED);
    rt_event_free(ev);
    RT_CHECK(rt_session_next_event(in->s) == NULL);
    RT_CHECK(rt_session_pending(in->s) == 0);
    RT_CHECK(rt_session_wait(in->s, 5) == 0);

    /* the client refuses new sessions */
    RT_CHECK(session(in->c, url, sim_key, SETUP_TEXT, false, 10) == NULL);
    {
        struct rt_header h[] = { { "x-goog-api-key", sim_key } };
        struct rt_session_options o = { .url = url, .headers = h, .nheaders = 1,
                                        .setup = SETUP_TEXT, .setup_len = strlen(SETUP_TEXT) };
        RT_CHECK(rt_session_new(in->c, &o, &err) == NULL);
        check_fork_error(&err, "a client", in->parent);
    }

    /* closing and freeing abandon the copies: nothing is written, nothing joined */
    rt_session_close(in->s, 1000, "child");
    rt_session_free(in->s);
    rt_client_free(in->c);
    printf("# the child's uses took %.3f s\n", now() - t0);
    RT_CHECK(now() - t0 < 1);

    /* a client made here works */
    {
        struct rt_client *c2 = NULL;
        struct rt_session *s2 = ready_session(&c2);
        RT_CHECK(s2 && text_turn(s2));
        rt_session_free(s2);
        rt_client_free(c2);
    }
}

/* The parent's session goes on after the child used, closed and freed its copy. */
static void test_fork_session(void)
{
    struct inherited in = { .parent = getpid() };

    in.s = ready_session(&in.c);
    RT_CHECK(in.s && text_turn(in.s));
    if (in.s)
        in_child(child_uses_session, &in);
    RT_CHECK(in.s && !rt_session_is_closed(in.s));
    RT_CHECK(in.s && text_turn(in.s));
    RT_CHECK(in.s && text_turn(in.s));
    rt_session_free(in.s);
    rt_client_free(in.c);
}

/* ==================================================================== *
 *  C R E D E N T I A L S   A N D   H T T P   J O B S
 * ==================================================================== */

static void child_uses_auth(void *arg)
{
    struct inherited *in = arg;
    struct rt_error err = { 0 };
    struct rt_http_response resp = { 0 };
    char *tok = NULL;
    double lifetime = 0, t0 = now();

    RT_CHECK(rt_auth_token(in->a, 60, &tok, NULL, &err) == -1 && tok == NULL);
    check_fork_error(&err, "a credential", in->parent);
    RT_CHECK(rt_auth_wait(in->a, 5) == 1);
    rt_auth_invalidate(in->a);
    RT_CHECK(rt_auth_fetch_now(in->a, &tok, &lifetime, &err) == -1 && err.code == RT_ECLOSED);
    RT_CHECK(rt_auth_retain(in->a) == in->a);

    RT_CHECK(rt_http_job_wait(in->j, 5) == 1 && rt_http_job_done(in->j));
    rt_error_clear(&err);
    RT_CHECK(rt_http_job_result(in->j, &resp, &err) == -1);
    check_fork_error(&err, "an HTTP request", in->parent);

    rt_auth_free(in->a);
    rt_auth_free(in->a);
    rt_http_job_free(in->j);
    printf("# the child's uses took %.3f s\n", now() - t0);
    RT_CHECK(now() - t0 < 1);

    /* a credential made here fetches on a worker of the child's own, which its free
     * stops */
    {
        struct rt_auth *a2 = fetched_auth();
        RT_CHECK(a2 != NULL);
        RT_CHECK(rt_http_worker_running());
        rt_auth_free(a2);
        RT_CHECK(!rt_http_worker_running());
    }
}

/* A listening socket on 127.0.0.1 that never accepts: a request to it connects (the
 * backlog takes it) and then waits for an answer that never comes. -1 on failure. */
static int silent_listener(char *url, size_t cap)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    snprintf(url, cap, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    return fd;
}

/* A credential (its worker running) and an HTTP job under way: the child's copies fail
 * at once, its own credential fetches; the parent's still gives its token. The job waits
 * on a server that never answers, so the worker sits in its poll at the fork, holding no
 * lock of libcurl's or OpenSSL's (a fork while it is inside them is not supported: see
 * rt_fork.h). */
static void test_fork_auth(void)
{
    struct inherited in = { .parent = getpid() };
    char url[64];
    int lfd = silent_listener(url, sizeof url);
    struct rt_http_request r = { .method = "GET", .url = url, .timeout = 3 };
    struct rt_error err = { 0 };
    char *tok = NULL;

    RT_CHECK(lfd >= 0);
    in.a = fetched_auth();
    in.j = lfd >= 0 ? rt_http_start(&r, &err) : NULL;
    RT_CHECK(in.a && in.j && rt_http_worker_running());
    usleep(200 * 1000);             /* connected: the worker waits for the answer */
    if (in.a && in.j)
        in_child(child_uses_auth, &in);
    RT_CHECK(in.a && rt_auth_token(in.a, 60, &tok, NULL, &err) == 1);
    rt_free(tok);
    RT_CHECK(in.j && rt_http_job_wait(in.j, 10) == 1);   /* its timeout, 3 s */
    rt_http_job_free(in.j);
    rt_auth_free(in.a);
    RT_CHECK(!rt_http_worker_running());
    if (lfd >= 0)
        close(lfd);
}

/* ==================================================================== *
 *  L O C K S   H E L D   A T   T H E   F O R K
 * ==================================================================== */

static void child_with_locks_held(void *arg)
{
    struct inherited *in = arg;
    struct rt_error err = { 0 };
    struct rt_event *ev;
    short pcm[160] = { 0 };
    char *tok = NULL;
    double t0 = now();

    RT_CHECK(rt_session_append_audio(in->s, pcm, sizeof pcm, &err) == -1);
    RT_CHECK(rt_session_commit_audio(in->s, &err) == -1);
    RT_CHECK(rt_session_send(in->s, hi, sizeof hi - 1, &err) == -1);
    RT_CHECK(rt_session_wait(in->s, 5) == 1);
    ev = rt_session_next_event(in->s);
    RT_CHECK(ev && ev->type == RT_EV_ERROR);
    rt_event_free(ev);
    rt_session_close(in->s, 1000, NULL);
    rt_session_free(in->s);
    RT_CHECK(rt_auth_token(in->a, 60, &tok, NULL, &err) == -1 && err.code == RT_ECLOSED);
    RT_CHECK(rt_auth_wait(in->a, 5) == 1);
    (void)rt_auth_fetches(in->a);
    rt_auth_invalidate(in->a);
    rt_auth_retain(in->a);
    rt_auth_free(in->a);
    rt_client_free(in->c);
    RT_CHECK(now() - t0 < 1);
}

/* The locks a parent thread may hold at the fork (a session's turn and event queue
 * locks, a credential's) are never taken in the child: it would wait for ever. */
static void test_fork_locks_held(void)
{
    struct inherited in = { .parent = getpid() };
    struct seen w = { 0 };

    in.c = client(sim_ca);
    in.s = in.c ? session(in.c, url, sim_key, SETUP_AUDIO_MANUAL, true, 10) : NULL;
    in.a = fetched_auth();
    RT_CHECK(in.s && pump(in.s, &w, 10, is_ready) && w.ready == 1 && in.a);
    if (in.s && w.ready && in.a) {
        pthread_mutex_lock(&in.s->turn_lock);
        pthread_mutex_lock(&in.s->events.lock);
        pthread_mutex_lock(&in.a->lock);
        in_child(child_with_locks_held, &in);
        pthread_mutex_unlock(&in.a->lock);
        pthread_mutex_unlock(&in.s->events.lock);
        pthread_mutex_unlock(&in.s->turn_lock);
        RT_CHECK(text_turn(in.s));
    }
    rt_session_free(in.s);
    rt_client_free(in.c);
    rt_auth_free(in.a);
}

int main(void)
{
    if (sim_env() != 0)
        return rt_test_done();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RT_RUN(test_fork_session);
    RT_RUN(test_fork_auth);
    RT_RUN(test_fork_locks_held);
    curl_global_cleanup();
    return rt_test_done();
}
