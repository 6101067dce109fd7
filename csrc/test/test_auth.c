/* rt_auth and rt_http against small HTTP servers on the loopback: token parsing,
 * refusals worded without secrets, the metadata header, the non-blocking token call,
 * refreshes, and the one HTTP worker thread (how many threads, cancellation, timeouts,
 * stopping with the last user). */
#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "rt_alloc.h"
#include "rt_auth.h"
#include "rt_http.h"
#include "rt_http_worker.h"
#include "rt_test.h"
#include "secret_watch.h"

/* ---- a loopback server that answers each connection with the next canned reply ----- */

static int srv_fd = -1, srv_port;
static const char *srv_replies[8];
static int srv_nreplies;
static char srv_request[8192];     /* the last request received */
static pthread_t srv_thread;

/* A reply body with "@ASSERTION@" in it gets the last 40 bytes of the request's
 * assertion there (a server that quotes what it was sent); others are used as they are. */
static const char *srv_echo(const char *body, char *out, size_t size)
{
    const char *at = strstr(body, "@ASSERTION@"), *v = strstr(srv_request, "assertion=");
    size_t vl = v ? strcspn(v + 10, "&") : 0;

    if (!at || vl < 40)
        return body;
    snprintf(out, size, "%.*s%.40s%s", (int)(at - body), body, v + 10 + vl - 40, at + 11);
    return out;
}

static void *srv_main(void *ud)
{
    (void)ud;
    for (int i = 0; i < srv_nreplies; i++) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) break;
        size_t n = 0;
        ssize_t r;
        srv_request[0] = '\0';
        while (n + 1 < sizeof srv_request && (r = read(c, srv_request + n, sizeof srv_request - 1 - n)) > 0) {
            n += (size_t)r;
            srv_request[n] = '\0';
            char *end = strstr(srv_request, "\r\n\r\n");
            if (!end) continue;
            char *cl = strcasestr(srv_request, "content-length:");
            size_t want = cl ? (size_t)atoi(cl + 15) : 0;
            if (n >= (size_t)(end + 4 - srv_request) + want) break;
        }
        char head[512], echo[1024];
        const char *body = strstr(srv_replies[i], "\n\n");
        int status = atoi(srv_replies[i]);
        /* what follows the status on its line is one more header line */
        const char *extra = srv_replies[i] + strspn(srv_replies[i], "0123456789");
        int extra_len = *extra == ' ' ? (int)strcspn(extra + 1, "\n") : 0;
        body = body ? body + 2 : "";
        body = srv_echo(body, echo, sizeof echo);
        int hn = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                          "%.*s%sContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                          extra_len, extra + 1, extra_len ? "\r\n" : "", strlen(body));
        if (write(c, head, (size_t)hn) < 0 || write(c, body, strlen(body)) < 0) {
            /* the client went away; the test's checks say what went wrong */
        }
        close(c);
    }
    return NULL;
}

/* A listening socket on the loopback at an ephemeral port (*port). */
static int listen_loopback(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        printf("# cannot listen on the loopback\n");
    *port = ntohs(a.sin_port);
    return fd;
}

/* Starts the server with replies of the form "<status>[ <header line>]\n\n<body>". */
static void serve(int n, const char **replies)
{
    srv_fd = listen_loopback(&srv_port);
    srv_nreplies = n;
    for (int i = 0; i < n; i++) srv_replies[i] = replies[i];
    pthread_create(&srv_thread, NULL, srv_main, NULL);
}

static void serve_end(void)
{
    pthread_join(srv_thread, NULL);
    close(srv_fd);
}

/* ---- a server that accepts connections and never answers ---------------------------- */

static int mute_fd = -1, mute_port, mute_conns[16];
static volatile int mute_accepted;
static pthread_t mute_thread;

/* Holds every connection until mute_end shuts the socket down (the thread lives as long
 * as the server, so thread counts taken in between are stable). */
static void *mute_main(void *ud)
{
    (void)ud;
    for (;;) {
        int c = accept(mute_fd, NULL, NULL);
        if (c < 0) break;
        if (mute_accepted == 16) {
            close(c);
            continue;
        }
        mute_conns[mute_accepted] = c;
        __atomic_add_fetch(&mute_accepted, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void mute_serve(void)
{
    mute_fd = listen_loopback(&mute_port);
    mute_accepted = 0;
    pthread_create(&mute_thread, NULL, mute_main, NULL);
}

static void mute_end(void)
{
    shutdown(mute_fd, SHUT_RDWR);    /* ends an accept still waiting */
    pthread_join(mute_thread, NULL);
    for (int i = 0; i < mute_accepted; i++) close(mute_conns[i]);
    close(mute_fd);
}

/* Waits up to 5 s for the mute server to hold n connections. */
static bool mute_wait(int n)
{
    for (int i = 0; i < 500 && __atomic_load_n(&mute_accepted, __ATOMIC_SEQ_CST) < n; i++)
        usleep(10000);
    return mute_accepted >= n;
}

static int threads_now(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The thread count once it has held still for 100 ms (within 3 s): a thread that was
 * just joined (an earlier test's worker) stays listed in /proc until the kernel reaps it,
 * which on a loaded machine can take a while. */
static int threads_settled(void)
{
    int n = threads_now(), still = 0;
    for (double end = mono() + 3; still < 10 && mono() < end; ) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        int m;
        nanosleep(&ts, NULL);
        m = threads_now();
        still = m == n ? still + 1 : 0;
        n = m;
    }
    return n;
}

/* Waits (within 3 s) for the thread count to be `want`; returns the count it saw last. */
static int threads_become(int want)
{
    int n = threads_now();
    for (double end = mono() + 3; n != want && mono() < end; n = threads_now()) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return n;
}

static char url[128];
static const char *token_url(void)
{
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", srv_port);
    return url;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_redact_url(void)
{
    char out[128];
    rt_http_redact_url("https://user:pw@host:8443/p/a?key=SECRET#frag", out, sizeof out);
    RT_CHECK_STR(out, "https://host:8443/p/a");
    rt_http_redact_url("http://h/x#y", out, sizeof out);
    RT_CHECK_STR(out, "http://h/x");
    rt_http_redact_url("https://h/abcdef", out, 10);
    RT_CHECK_STR(out, "https://h");
}

static void test_margin(void)
{
    RT_CHECK(rt_auth_refresh_margin(3600) == 300);
    RT_CHECK(rt_auth_refresh_margin(2) == 0.5);
}

static void test_new_validates(void)
{
    struct rt_error err = { RT_OK, "" };
    struct rt_auth_options o = { .kind = RT_AUTH_SERVICE_ACCOUNT, .source = "key.json",
                                 .client_email = "a@b" };
    RT_CHECK(rt_auth_new(&o, &err) == NULL);
    RT_CHECK_STR(err.msg, "key.json: the service account credential lacks private_key");
    rt_error_clear(&err);
    struct rt_auth_options u = { .kind = RT_AUTH_AUTHORIZED_USER, .client_id = "id", .client_secret = "S3CRET" };
    RT_CHECK(rt_auth_new(&u, &err) == NULL);
    RT_CHECK_STR(err.msg, "authorized user: the authorized user credential lacks refresh_token");
    rt_error_clear(&err);
    struct rt_auth_options k = { .kind = (enum rt_auth_kind)42 };
    RT_CHECK(rt_auth_new(&k, &err) == NULL && err.code == RT_EINVAL);
    rt_error_clear(&err);
    struct rt_auth_options t = { .kind = RT_AUTH_AUTHORIZED_USER, .client_id = "id", .client_secret = "s",
                                 .refresh_token = "r", .token_uri = "ftp://x" };
    RT_CHECK(rt_auth_new(&t, &err) == NULL);
    RT_CHECK_STR(err.msg, "authorized user: token_uri must be an http(s) URL");
    rt_error_clear(&err);
    /* a URL scheme is case-insensitive (RFC 3986) */
    t.token_uri = "HTTPS://127.0.0.1:1/token";
    struct rt_auth *a = rt_auth_new(&t, &err);
    RT_CHECK(a != NULL);
    RT_CHECK_STR(err.msg, "");
    if (a)
        rt_auth_free(a);
}

/* metadata_host is "host[:port]" or an http(s) URL with a path prefix, nothing else: a
 * query or fragment would swallow the token path, and junk reached curl as it was. */
static void test_metadata_host_checked(void)
{
    static const struct { const char *host, *msg; } bad[] = {
        { "https://127.0.0.1:9/x?y#z", "metadata server: metadata_host has a query or fragment" },
        { "https://127.0.0.1:9#", "metadata server: metadata_host has a query or fragment" },
        { "127.0.0.1:9 junk", "metadata server: metadata_host has a space, a control character, "
                              "a backslash or a byte outside ASCII" },
        { "h:0", "metadata server: metadata_host has an invalid port (1 to 65535)" },
        { "http://[zz]:80", "metadata server: metadata_host has an invalid IPv6 address" },
        { "http://u:p@h", "metadata server: metadata_host has user information" },
        { "https://", "metadata server: metadata_host has no host" },
        { "h/computeMetadata", "metadata server: metadata_host has a path without http:// or "
                               "https:// (expected \"host[:port]\" or a URL)" },
    };
    static const char *const good[] = { "127.0.0.1:9", "metadata.google.internal", "[::1]:8080",
                                        "HTTPS://h.example:8443/prefix/", "http://[::1]" };
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .timeout = 1 };
    struct rt_error err;
    struct rt_auth *a;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.metadata_host = bad[i].host;
        a = rt_auth_new(&o, &err);
        RT_CHECK(!a && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, bad[i].msg);
        rt_auth_free(a);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        o.metadata_host = good[i];
        a = rt_auth_new(&o, &err);
        RT_CHECK(a && err.code == RT_OK);
        if (!a)
            printf("# %s: %s\n", good[i], err.msg);
        rt_auth_free(a);
    }
}

/* A source is often a file path, which may hold any byte: kept, but shown with control
 * and non-ASCII bytes as \xNN in every message and in rt_auth_source. */
static void test_source_shown_printable(void)
{
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .source = "src\1\255x",
                                 .metadata_host = "127.0.0.1:9", .timeout = 1 };
    struct rt_error err;
    struct rt_auth *a = rt_auth_new(&o, &err);
    char *tok = NULL;
    double life;

    RT_CHECK(a != NULL);
    if (a) {
        RT_CHECK_STR(rt_auth_source(a), "src\\x01\\xadx");
        RT_CHECK(rt_auth_fetch_now(a, &tok, &life, &err) == -1 && err.code == RT_EAUTH);
        RT_CHECK(strncmp(err.msg, "src\\x01\\xadx: ", 14) == 0);
        rt_auth_free(a);
    }
    o.metadata_host = "h:0";
    RT_CHECK(!rt_auth_new(&o, &err) && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "src\\x01\\xadx: metadata_host has an invalid port (1 to 65535)");
}

/* NULL where a pointer is required: RT_EINVAL naming the argument from the functions
 * with an rt_error, the neutral answer from the others; no crash. */
static void test_null_arguments(void)
{
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = "127.0.0.1:9",
                                 .timeout = 1 };
    struct rt_error err;
    struct rt_auth *a;
    char *tok = (char *)"stale";
    double life;

    RT_CHECK(!rt_auth_new(NULL, &err) && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "o is NULL");
    RT_CHECK(rt_auth_token(NULL, 0, &tok, NULL, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "a is NULL");
    RT_CHECK(tok == NULL);
    RT_CHECK(rt_auth_retain(NULL) == NULL);
    RT_CHECK(rt_auth_fd(NULL) == -1);
    RT_CHECK(rt_auth_wait(NULL, 5) == 0);
    RT_CHECK(rt_auth_source(NULL) == NULL);
    RT_CHECK(rt_auth_fetches(NULL) == 0);
    rt_auth_invalidate(NULL);
    rt_auth_free(NULL);
    RT_CHECK(rt_auth_fetch_now(NULL, &tok, &life, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "a is NULL");
    a = rt_auth_new(&o, &err);
    RT_CHECK(a != NULL);
    if (!a)
        return;
    RT_CHECK(rt_auth_token(a, 0, NULL, NULL, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "token is NULL");
    RT_CHECK(rt_auth_fetch_now(a, NULL, NULL, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "token is NULL");
    RT_CHECK(rt_auth_fetch_now(a, &tok, NULL, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "lifetime is NULL");
    RT_CHECK(rt_auth_fetches(a) == 0);      /* no fetch was started */
    rt_auth_free(a);
}

static struct rt_auth *user_auth(void)
{
    struct rt_error err = { RT_OK, "" };
    struct rt_auth_options o = { .kind = RT_AUTH_AUTHORIZED_USER, .source = "user.json",
                                 .client_id = "cid", .client_secret = "sec ret&1",
                                 .refresh_token = "1//refresh-SECRET", .token_uri = token_url(),
                                 .timeout = 5 };
    return rt_auth_new(&o, &err);
}

static void test_refresh_grant(void)
{
    const char *replies[] = { "200\n\n{\"access_token\":\"ya29.tok-1\",\"expires_in\":3599,\"token_type\":\"Bearer\"}" };
    serve(1, replies);
    struct rt_auth *a = user_auth();
    char *tok = NULL;
    double lifetime = 0;
    struct rt_error err = { RT_OK, "" };
    RT_CHECK(a && rt_auth_fetch_now(a, &tok, &lifetime, &err) == 0);
    serve_end();
    RT_CHECK_STR(tok, "ya29.tok-1");
    RT_CHECK(lifetime == 3599);
    RT_CHECK(strstr(srv_request, "POST /token HTTP/1.1") == srv_request);
    RT_CHECK(strcasestr(srv_request, "content-type: application/x-www-form-urlencoded") != NULL);
    RT_CHECK(strstr(srv_request, "grant_type=refresh_token&client_id=cid&client_secret=sec%20ret%261"
                                 "&refresh_token=1%2F%2Frefresh-SECRET") != NULL);
    rt_free(tok);
    rt_auth_free(a);
}

/* A token answer longer than libcurl hands over at once (16 KiB) comes in pieces: the
 * body's buffer grows, and the block that held the token is wiped before it goes. */
static void test_long_answer_token_wiped(void)
{
    static const char secret[] = "ya29.SECRET-ACCESS-TOKEN-0123456789";
    static char reply[48 * 1024];
    int n = snprintf(reply, sizeof reply, "200\n\n{\"access_token\":\"%s\",\"expires_in\":3599,"
                     "\"pad\":\"", secret);
    memset(reply + n, 'p', 40000);
    strcpy(reply + n + 40000, "\"}");
    const char *replies[] = { reply };
    serve(1, replies);
    struct rt_auth *a = user_auth();
    char *tok = NULL;
    double lifetime = 0;
    struct rt_error err = { RT_OK, "" };
    secret_watch(secret, sizeof secret - 1);
    RT_CHECK(a && rt_auth_fetch_now(a, &tok, &lifetime, &err) == 0);
    serve_end();
    RT_CHECK_STR(tok, secret);
    if (tok)
        memset(tok, 0, strlen(tok));
    rt_free(tok);
    rt_auth_free(a);
    RT_CHECK(secret_watch_end() == 0);
}

static void test_refusal_without_secrets(void)
{
    const char *replies[] = {
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"Bad token 1//refresh-SECRET\"}",
        "401\n\n{\"error\":\"invalid_client\",\"error_description\":\"The OAuth client was not found.\"}",
        "200\n\n{\"token_type\":\"Bearer\"}",
        "200\n\nnot json",
    };
    serve(4, replies);
    struct rt_auth *a = user_auth();
    char *tok = NULL;
    double lifetime = 0;
    char want[256];
    struct rt_error err = { RT_OK, "" };
    RT_CHECK(rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1 && err.code == RT_EAUTH);
    snprintf(want, sizeof want, "user.json: token endpoint http://127.0.0.1:%d/token refused: HTTP 400 "
             "invalid_grant; run `gcloud auth application-default login` again", srv_port);
    RT_CHECK_STR(err.msg, want);
    rt_error_clear(&err);
    RT_CHECK(rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1);
    snprintf(want, sizeof want, "user.json: token endpoint http://127.0.0.1:%d/token refused: HTTP 401 "
             "invalid_client: The OAuth client was not found.; check client_id and client_secret", srv_port);
    RT_CHECK_STR(err.msg, want);
    rt_error_clear(&err);
    RT_CHECK(rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1);
    snprintf(want, sizeof want, "user.json: the token endpoint http://127.0.0.1:%d/token answered "
             "without a usable access_token", srv_port);
    RT_CHECK_STR(err.msg, want);
    rt_error_clear(&err);
    RT_CHECK(rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1);
    RT_CHECK_STR(err.msg, want);
    serve_end();
    rt_auth_free(a);
}

/* Serves the n replies to a user credential's fetches, each of which must fail with
 * "auth" and the message ending in ends[i]. */
static void expect_refusals(int n, const char **replies, const char **ends)
{
    serve(n, replies);
    struct rt_auth *a = user_auth();
    for (int i = 0; a && i < n; i++) {
        char *tok = NULL, want[512];
        double lifetime = 0;
        struct rt_error err = { RT_OK, "" };
        RT_CHECK(rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1 && err.code == RT_EAUTH);
        snprintf(want, sizeof want, "user.json: token endpoint http://127.0.0.1:%d/token refused: %s",
                 srv_port, ends[i]);
        RT_CHECK_STR(err.msg, want);
    }
    serve_end();
    rt_auth_free(a);
}

/* A refusal that quotes part of a secret (8 bytes or more of the refresh token, the
 * client secret, the private key's body) is not quoted at all; one quoting none is. */
static void test_refusal_partial_secrets(void)
{
    const char *replies[] = {
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"token 1//refresh-SE is bad\"}",
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"secret was sec ret&, bad\"}",
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"SECRET alone is no run\"}",
        "400\n\n{\"error\":{\"code\":400,\"status\":\"h-SECRET\",\"message\":\"m\"}}",
    };
    const char *ends[] = {
        "HTTP 400 invalid_grant; run `gcloud auth application-default login` again",
        "HTTP 400 invalid_grant; run `gcloud auth application-default login` again",
        "HTTP 400 invalid_grant: SECRET alone is no run; run `gcloud auth application-default login` again",
        "HTTP 400: m",
    };
    expect_refusals(4, replies, ends);
}

/* A refusal quoting a secret as the grant carried it, form-encoded (the client secret
 * "sec ret&1" as "sec%20ret%261", the refresh token's "1//" as "1%2F%2F"), is not quoted
 * either, though no 8 bytes of the raw secret appear in it. */
static void test_refusal_form_encoded_secrets(void)
{
    const char *replies[] = {
        "400\n\n{\"error\":\"invalid_client\",\"error_description\":\"no client sec%20ret%261\"}",
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"token 1%2F%2Frefr bad\"}",
    };
    const char *ends[] = {
        "HTTP 400 invalid_client; check client_id and client_secret",
        "HTTP 400 invalid_grant; run `gcloud auth application-default login` again",
    };
    expect_refusals(2, replies, ends);
}

/* A refusal quoting 8 bytes or more of the access token the source holds (a refresh
 * refused after a token was issued) is not quoted; one quoting none of it is. */
static void test_refusal_quotes_access_token(void)
{
    const char *replies[] = {
        "200\n\n{\"access_token\":\"tok-ABCDEFGH12345678\",\"expires_in\":3600}",
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"was tok-ABCDEFGH1 bad\"}",
        "400\n\n{\"error\":\"invalid_grant\",\"error_description\":\"tok-ABC alone\"}",
    };
    const char *ends[] = {
        "HTTP 400 invalid_grant; run `gcloud auth application-default login` again",
        "HTTP 400 invalid_grant: tok-ABC alone; run `gcloud auth application-default login` again",
    };
    serve(3, replies);
    struct rt_auth *a = user_auth();
    struct rt_error err = { RT_OK, "" };
    char *tok = NULL;
    int rc = a ? rt_auth_token(a, 60, &tok, NULL, &err) : -1;
    for (int i = 0; i < 50 && rc == 0; i++) {
        rt_auth_wait(a, 0.2);
        rc = rt_auth_token(a, 60, &tok, NULL, &err);
    }
    RT_CHECK(rc == 1);
    RT_CHECK_STR(tok, "tok-ABCDEFGH12345678");
    rt_free(tok);
    for (int i = 0; rc == 1 && i < 2; i++) {
        char want[512];
        double lifetime = 0;
        tok = NULL;
        rt_error_clear(&err);
        RT_CHECK(rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1 && err.code == RT_EAUTH);
        snprintf(want, sizeof want, "user.json: token endpoint http://127.0.0.1:%d/token refused: %s",
                 srv_port, ends[i]);
        RT_CHECK_STR(err.msg, want);
    }
    serve_end();
    rt_auth_free(a);
}

/* The same for a service account's private key: 32 bytes of its body, from the middle
 * of a line, in the endpoint's answer. */
static void test_refusal_quotes_key(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL, reply[512], want[512];
    long n = 0;

    RT_CHECK(k && bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1);
    if (bio)
        n = BIO_get_mem_data(bio, &pem);
    const char *line2 = n > 100 ? strchr(pem, '\n') : NULL;
    RT_CHECK(line2 != NULL);
    if (line2) {
        line2 = strchr(line2 + 1, '\n');      /* the body's second line */
        char *copy = strndup(pem, (size_t)n);
        snprintf(reply, sizeof reply, "400\n\n{\"error\":\"invalid_grant\",\"error_description\":"
                 "\"bad key %.32s here\"}", line2 + 5);
        /* the signed assertion the request carried (its signature's end), quoted */
        const char *replies[] = { reply, "400\n\n{\"error\":\"invalid_grant\","
                                  "\"error_description\":\"bad @ASSERTION@ here\"}" };
        serve(2, replies);
        struct rt_error err = { RT_OK, "" };
        struct rt_auth_options o = { .kind = RT_AUTH_SERVICE_ACCOUNT, .source = "key.json",
                                     .client_email = "a@b.iam.gserviceaccount.com",
                                     .private_key = copy, .token_uri = token_url(), .timeout = 5 };
        struct rt_auth *a = rt_auth_new(&o, &err);
        char *tok = NULL;
        double lifetime = 0;
        RT_CHECK(a && rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1 && err.code == RT_EAUTH);
        snprintf(want, sizeof want, "key.json: token endpoint http://127.0.0.1:%d/token refused: "
                 "HTTP 400 invalid_grant; is the key still active and the clock right?", srv_port);
        RT_CHECK_STR(err.msg, want);
        rt_error_clear(&err);
        RT_CHECK(a && rt_auth_fetch_now(a, &tok, &lifetime, &err) == -1 && err.code == RT_EAUTH);
        RT_CHECK_STR(err.msg, want);
        serve_end();
        rt_auth_free(a);
        if (copy)
            explicit_bzero(copy, strlen(copy));
        free(copy);
    }
    BIO_free(bio);
    EVP_PKEY_free(k);
}

static void test_metadata_and_async_token(void)
{
    const char *replies[] = { "200\n\n{\"access_token\":\"ya29.meta\",\"expires_in\":3000}" };
    serve(1, replies);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", srv_port);
    struct rt_error err = { RT_OK, "" };
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = host, .timeout = 5 };
    struct rt_auth *a = rt_auth_new(&o, &err);
    RT_CHECK(a != NULL);
    RT_CHECK_STR(rt_auth_source(a), "metadata server");
    char *tok = NULL;
    double left = 0;
    int rc = rt_auth_token(a, 60, &tok, &left, &err);
    RT_CHECK(rc == 0);                       /* never blocks: the fetch runs on its thread */
    for (int i = 0; i < 50 && rc == 0; i++) {
        rt_auth_wait(a, 0.2);
        rc = rt_auth_token(a, 60, &tok, &left, &err);
    }
    serve_end();
    RT_CHECK(rc == 1);
    RT_CHECK_STR(tok, "ya29.meta");
    RT_CHECK(left > 2990 && left <= 3000);
    RT_CHECK(rt_auth_fetches(a) == 1);
    RT_CHECK(strstr(srv_request, "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1") == srv_request);
    RT_CHECK(strcasestr(srv_request, "\r\nMetadata-Flavor: Google\r\n") != NULL);
    rt_free(tok);
    /* cached: a second call answers at once without a fetch */
    RT_CHECK(rt_auth_token(a, 60, &tok, &left, &err) == 1);
    RT_CHECK(rt_auth_fetches(a) == 1);
    rt_free(tok);
    rt_auth_free(a);
}

/* The default metadata host reached through $http_proxy (as a proxy, a captive portal or
 * a resolver answering every name would answer for it off Google Cloud): an answer
 * without Metadata-Flavor: Google is no metadata server's, a failure that did not reach
 * one; with the header, its token is taken. */
static void test_default_metadata_needs_flavor(void)
{
    const char *replies[] = {
        "200\n\n{\"access_token\":\"ya29.proxy\",\"expires_in\":3000}",
        "200 Metadata-Flavor:  Google \n\n{\"access_token\":\"ya29.meta\",\"expires_in\":3000}",
    };
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .timeout = 5 };

    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    /* a credential each, so that each answer is asked for whatever the other gave */
    for (int round = 0; round < 2; round++) {
        struct rt_error err = { RT_OK, "" };
        enum rt_code cause = RT_OK;
        char proxy[64], *tok = NULL;
        int rc = 0;

        serve(1, replies + round);
        snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", srv_port);
        setenv("http_proxy", proxy, 1);
        struct rt_auth *a = rt_auth_new(&o, &err);
        for (int i = 0; i < 50 && rc == 0; i++) {
            rc = rt_auth_token(a, 60, &tok, NULL, &err);
            if (rc == 0) rt_auth_wait(a, 0.2);
        }
        serve_end();
        unsetenv("http_proxy");
        RT_CHECK(strncmp(srv_request, "GET http://metadata.google.internal/computeMetadata/", 52) == 0);
        if (round == 0) {
            RT_CHECK(rc == -1 && err.code == RT_EAUTH && tok == NULL);
            RT_CHECK_STR(err.msg, "metadata server: GET http://metadata.google.internal/"
                         "computeMetadata/v1/instance/service-accounts/default/token: its answer "
                         "(HTTP 200) lacks Metadata-Flavor: Google, so no metadata server gave it "
                         "(a proxy? on Google Cloud, set no_proxy=metadata.google.internal)");
            RT_CHECK(rt_auth_reached(a, &cause) == 0 && cause == RT_EPROTOCOL);
        } else {
            RT_CHECK(rc == 1);
            RT_CHECK_STR(tok, "ya29.meta");
        }
        rt_auth_token_free(tok);
        rt_auth_free(a);
    }
}

/* A C host gives a token back with rt_auth_token_free (rt_auth.h, installed): wiped,
 * then freed by the library's allocator; NULL ok. */
static void test_token_free(void)
{
    static const char secret[] = "ya29.give-it-back";
    const char *replies[] = { "200\n\n{\"access_token\":\"ya29.give-it-back\",\"expires_in\":3000}" };
    char host[64];
    struct rt_error err = { RT_OK, "" };
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = host, .timeout = 5 };
    struct rt_auth *a;
    char *tok = NULL;
    int rc = 0;

    serve(1, replies);
    snprintf(host, sizeof host, "127.0.0.1:%d", srv_port);
    a = rt_auth_new(&o, &err);
    RT_CHECK(a != NULL);
    for (int i = 0; a && i < 50 && rc == 0; i++) {
        rc = rt_auth_token(a, 60, &tok, NULL, &err);
        if (rc == 0)
            rt_auth_wait(a, 0.2);
    }
    serve_end();
    RT_CHECK(rc == 1);
    RT_CHECK_STR(tok, secret);
    secret_watch(secret, sizeof secret - 1);
    rt_auth_token_free(tok);
    rt_auth_token_free(NULL);
    RT_CHECK(secret_watch_end() == 0);
    rt_auth_free(a);
}

static void test_unreachable_names_source(void)
{
    struct rt_error err = { RT_OK, "" };
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .source = "metadata server test",
                                 .metadata_host = "127.0.0.1:9", .timeout = 5 };
    struct rt_auth *a = rt_auth_new(&o, &err);
    char *tok = NULL;
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        rc = rt_auth_token(a, 60, &tok, NULL, &err);
        if (rc == 0) rt_auth_wait(a, 0.1);
    }
    RT_CHECK(rc == -1 && err.code == RT_EAUTH);
    RT_CHECK(strncmp(err.msg, "metadata server test: GET http://127.0.0.1:9/computeMetadata/", 61) == 0);
    if (strncmp(err.msg, "metadata server test: GET http://127.0.0.1:9/computeMetadata/", 61) != 0)
        printf("# %s\n", err.msg);
    rt_auth_free(a);
}

/* N credentials, each with a fetch under way, and an HTTP job: one worker thread for
 * all of them; freeing them cancels the fetches at once and stops the worker. */
static void test_one_worker_thread(void)
{
    enum { N = 6 };
    struct rt_auth *a[N];
    struct rt_error err = { RT_OK, "" };
    char host[64], jurl[96];
    char *tok = NULL;
    int base, during, after;
    double t0, took;

    mute_serve();
    base = threads_settled();
    RT_CHECK(!rt_http_worker_running());
    snprintf(host, sizeof host, "127.0.0.1:%d", mute_port);
    for (int i = 0; i < N; i++) {
        struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = host, .timeout = 20 };
        a[i] = rt_auth_new(&o, &err);
        RT_CHECK(a[i] && rt_auth_token(a[i], 60, &tok, NULL, &err) == 0);
    }
    snprintf(jurl, sizeof jurl, "http://127.0.0.1:%d/x", mute_port);
    struct rt_http_request r = { .method = "POST", .url = jurl, .body = "secret=1", .body_len = 8,
                                 .timeout = 20 };
    struct rt_http_job *j = rt_http_start(&r, &err);
    RT_CHECK(j != NULL);
    RT_CHECK(mute_wait(N + 1));
    during = threads_become(base + 1);
    printf("# threads: %d before, %d with %d credentials and a job in flight\n", base, during, N);
    RT_CHECK(during == base + 1);
    RT_CHECK(rt_http_worker_running());
    RT_CHECK(!rt_http_job_done(j) && rt_http_job_wait(j, 0.05) == 0);
    for (int i = 0; i < N; i++) RT_CHECK(rt_auth_wait(a[i], 0) == 0);   /* fetch under way */

    t0 = mono();
    for (int i = 0; i < N; i++) rt_auth_free(a[i]);
    rt_http_job_free(j);
    took = mono() - t0;
    after = threads_become(base);
    RT_CHECK(took < 2.0);                 /* cancelled, not waited out (20 s timeouts) */
    RT_CHECK(!rt_http_worker_running());
    RT_CHECK(after == base);
    mute_end();
}

/* A request without an answer ends with RT_ETIMEOUT after its timeout; one cancelled by
 * rt_http_job_free mid-way leaves nothing behind. */
static void test_job_timeout(void)
{
    struct rt_error err = { RT_OK, "" };
    struct rt_http_response resp = { 0 };
    char jurl[96], want[160];

    mute_serve();
    snprintf(jurl, sizeof jurl, "http://127.0.0.1:%d/slow?key=SECRET", mute_port);
    struct rt_http_request r = { .method = "GET", .url = jurl, .timeout = 0.3 };
    struct rt_http_job *j = rt_http_start(&r, &err);
    RT_CHECK(j != NULL);
    RT_CHECK(rt_http_job_result(j, &resp, &err) == -1 && err.code == RT_EBUSY);
    rt_error_clear(&err);
    RT_CHECK(rt_http_job_wait(j, 10) == 1);
    RT_CHECK(rt_http_job_result(j, &resp, &err) == -1 && err.code == RT_ETIMEOUT);
    snprintf(want, sizeof want, "GET http://127.0.0.1:%d/slow: no response within 0.3 s", mute_port);
    RT_CHECK_STR(err.msg, want);
    rt_http_job_free(j);

    r.timeout = 20;
    j = rt_http_start(&r, &err);
    RT_CHECK(j && mute_wait(2));
    rt_http_job_free(j);
    RT_CHECK(!rt_http_worker_running());

    /* a request that cannot be made ends at once, with the reason */
    struct rt_http_request bad = { .method = "GET", .url = "ftp://h/x?k=SECRET" };
    rt_error_clear(&err);
    j = rt_http_start(&bad, &err);
    RT_CHECK(j && rt_http_job_wait(j, 0) == 1);
    RT_CHECK(rt_http_job_result(j, &resp, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "ftp://h/x: only http:// and https:// URLs are supported");
    rt_http_job_free(j);
    mute_end();
}

/* The worker renews a short-lived token on its own, a quarter of its lifetime early. */
static void test_background_refresh(void)
{
    const char *replies[] = { "200\n\n{\"access_token\":\"ya29.one\",\"expires_in\":2}",
                              "200\n\n{\"access_token\":\"ya29.two\",\"expires_in\":3600}" };
    struct rt_error err = { RT_OK, "" };
    char host[64];
    char *tok = NULL;
    int rc = 0;
    double got, renewed = 0;

    serve(2, replies);
    snprintf(host, sizeof host, "127.0.0.1:%d", srv_port);
    struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = host, .timeout = 5 };
    struct rt_auth *a = rt_auth_new(&o, &err);
    for (int i = 0; i < 100 && rc == 0; i++) {
        rc = rt_auth_token(a, 0.1, &tok, NULL, &err);
        if (rc == 0) rt_auth_wait(a, 0.1);
    }
    got = mono();
    RT_CHECK(rc == 1);
    RT_CHECK_STR(tok, "ya29.one");
    rt_free(tok);
    /* nobody asks; the refresh is due 1.5 s after the token was issued */
    for (int i = 0; i < 100 && rt_auth_fetches(a) < 2; i++) usleep(50000);
    renewed = mono();
    serve_end();
    RT_CHECK(rt_auth_fetches(a) == 2);
    RT_CHECK(renewed - got > 1.3);
    RT_CHECK(rt_auth_token(a, 60, &tok, NULL, &err) == 1);
    RT_CHECK_STR(tok, "ya29.two");
    rt_free(tok);
    rt_auth_free(a);
    RT_CHECK(!rt_http_worker_running());
}

/* Every allocation failure on the way to a fetch and a job is reported, and leaks
 * nothing (checked under LeakSanitizer by make check). */
static void test_out_of_memory(void)
{
    char host[64], jurl[96];
    int made = 0, failed = 0;

    mute_serve();
    snprintf(host, sizeof host, "127.0.0.1:%d", mute_port);
    snprintf(jurl, sizeof jurl, "http://127.0.0.1:%d/x", mute_port);
    for (long n = 0; n < 40; n++) {
        struct rt_error err = { RT_OK, "" };
        struct rt_auth_options o = { .kind = RT_AUTH_AUTHORIZED_USER, .client_id = "id",
                                     .client_secret = "s", .refresh_token = "r",
                                     .token_uri = jurl, .timeout = 20 };
        struct rt_http_request r = { .method = "POST", .url = jurl, .body = "b", .body_len = 1 };
        char *tok = NULL;
        rt_alloc_fail_after(n);
        struct rt_auth *a = rt_auth_new(&o, &err);
        int rc = a ? rt_auth_token(a, 60, &tok, NULL, &err) : -1;
        struct rt_http_job *j = rt_http_start(&r, &err);
        rt_alloc_fail_after(-1);
        if (!a || !j)
            RT_CHECK(err.code == RT_ENOMEM || err.code == RT_EAUTH);
        made += a && j && rc == 0;
        failed += !a || !j;
        rt_auth_free(a);
        rt_http_job_free(j);
    }
    RT_CHECK(made > 0 && failed > 0);
    RT_CHECK(!rt_http_worker_running());
    mute_end();
}

int main(void)
{
    RT_RUN(test_redact_url);
    RT_RUN(test_margin);
    RT_RUN(test_new_validates);
    RT_RUN(test_metadata_host_checked);
    RT_RUN(test_source_shown_printable);
    RT_RUN(test_null_arguments);
    RT_RUN(test_refresh_grant);
    RT_RUN(test_long_answer_token_wiped);
    RT_RUN(test_refusal_without_secrets);
    RT_RUN(test_refusal_partial_secrets);
    RT_RUN(test_refusal_form_encoded_secrets);
    RT_RUN(test_refusal_quotes_access_token);
    RT_RUN(test_refusal_quotes_key);
    RT_RUN(test_metadata_and_async_token);
    RT_RUN(test_default_metadata_needs_flavor);
    RT_RUN(test_token_free);
    RT_RUN(test_unreachable_names_source);
    RT_RUN(test_one_worker_thread);
    RT_RUN(test_job_timeout);
    RT_RUN(test_background_refresh);
    RT_RUN(test_out_of_memory);
    return rt_test_done();
}
