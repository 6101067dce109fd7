/* The client: lws context creation, the I/O thread and its shutdown.
 *
 * The context is created on the caller's thread before the I/O thread starts, so only one
 * thread ever touches it at a time; from then on the I/O thread owns it, runs
 * lws_service(ctx, 0) (which blocks until lws has something to do or lws_cancel_service
 * wakes it) and destroys it on the way out. */
#include "rt_client_private.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_alloc.h"

/* pt_serv_buf_size also bounds the space for handshake headers: an 8 KB bearer token
 * plus the default headers must fit. */
#define RT_SERV_BUF_SIZE 32768
#define RT_RX_BUFFER 8192
/* Default bound of a client's concurrent sessions. lws sizes its descriptor table from
 * it (plus a few for its own wake-up pipe); being below `ulimit -n` also makes lws look
 * sockets up by search instead of indexing by descriptor number, so a host with many
 * open files still works. */
#define RT_MAX_SESSIONS_DEFAULT 1024
#define RT_FD_SPARE 16

/* ---- libwebsockets log capture ----
 *
 * lws logging is process-wide in 4.1. Lines are kept per thread: the one the I/O thread
 * logged last before a connection error usually names the cause (a TLS certificate
 * problem, for instance), and is attached to the error. Set RT_LWS_LOG in the
 * environment to also see them on stderr. */

static _Thread_local char rt_last_log_line[200];
static pthread_once_t rt_log_once = PTHREAD_ONCE_INIT;
static bool rt_log_stderr;

static void rt_log_emit(int level, const char *line)
{
    size_t n;

    if (rt_log_stderr)
        fprintf(stderr, "lws: %s", line);
    if (!(level & (LLL_ERR | LLL_WARN)))
        return;
    /* Skip the timestamp prefix "[YYYY/MM/DD HH:MM:SS.frac] E: ". */
    if (line[0] == '[') {
        const char *p = strchr(line, ']');
        if (p) {
            line = p + 1;
            while (*line == ' ')
                line++;
            if (line[0] && line[1] == ':' && line[2] == ' ')
                line += 3;
        }
    }
    snprintf(rt_last_log_line, sizeof rt_last_log_line, "%s", line);
    n = strlen(rt_last_log_line);
    while (n && (rt_last_log_line[n - 1] == '\n' || rt_last_log_line[n - 1] == '\r'))
        rt_last_log_line[--n] = '\0';
}

static void rt_log_init(void)
{
    rt_log_stderr = getenv("RT_LWS_LOG") != NULL;
    lws_set_log_level(rt_log_stderr ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO
                                    : LLL_ERR | LLL_WARN, rt_log_emit);
}

const char *rt_client_last_log(void)
{
    return rt_last_log_line;
}

void rt_client_clear_log(void)
{
    rt_last_log_line[0] = '\0';
}

/* ---- I/O thread ---- */

static void *rt_client_thread(void *arg)
{
    struct rt_client *c = arg;
    struct rt_session *s;

    while (!c->exit_loop) {
        if (lws_service(c->ctx, 0) < 0)
            break;
    }
    /* From here on no other thread may wake the context: clear every session's client
     * pointer before destroying it. Destroying closes the remaining connections, whose
     * WSI_DESTROY callbacks finish their sessions. */
    for (s = c->live; s; s = s->live_next) {
        pthread_mutex_lock(&s->lock);
        s->client = NULL;
        pthread_mutex_unlock(&s->lock);
        /* Timers live in the context: unlink them while it exists (a session waiting to
         * reconnect has no wsi whose destruction would do it). */
        lws_sul_cancel(&s->sul_retry);
        lws_sul_cancel(&s->sul_goaway);
        lws_sul_cancel(&s->sul_timeout);
        lws_sul_cancel(&s->sul_close);
    }
    lws_sul_cancel(&c->sul_stop);
    lws_context_destroy(c->ctx);
    c->ctx = NULL;
    /* Anything lws did not report (a session whose wsi never existed) ends here. */
    while (c->live)
        rt_session_io_finish(c, c->live);
    return NULL;
}

/* ---- construction ---- */

/* Test hook: RT_TEST_PING_SECS="<interval>:<timeout>" in the environment replaces the
 * ping policy of every client, below the 30 s minimum, so the tests can see a dead peer
 * found in seconds (spec/session_faults_spec.lua). Not for production use. */
static void rt_client_test_pings(struct rt_client *c)
{
    const char *v = getenv("RT_TEST_PING_SECS");
    int interval, timeout;

    if (v && sscanf(v, "%d:%d", &interval, &timeout) == 2 && interval >= 1 &&
        interval <= 3600 && timeout >= 1 && timeout <= 3600) {
        c->ping_interval = interval;
        c->ping_timeout = timeout;
    }
}


/* The client TLS context, made here rather than by lws: libwebsockets 4.1 keys its
 * bookkeeping of generated client contexts on a process-wide OpenSSL ex_data index that
 * each new lws context replaces, so with two clients alive the first one's context is
 * never freed (about 700 KB per client). A context we provide is ours to free. It
 * verifies the peer against ca_file when given, else the system store; lws checks the
 * host name on each connection. */
static SSL_CTX *rt_client_tls_new(const char *ca_file, struct rt_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        rt_error_set(err, RT_ENOMEM, "cannot create the TLS context");
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        goto fail;
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            SSL_CTX_free(ctx);
            ERR_clear_error();
            rt_error_set(err, RT_ETLS, "cannot load CA certificates from %s", ca_file);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* An idle connection then holds no TLS read/write buffers (about 33 KB each). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    rt_error_set(err, RT_ETLS, "cannot set up the TLS context");
    return NULL;
}

struct rt_client *rt_client_new(const struct rt_client_options *o, struct rt_error *err)
{
    static const struct rt_client_options defaults;
    struct lws_context_creation_info info;
    struct rt_client *c;
    int rc;

    if (!o)
        o = &defaults;
    if (o->max_sessions < 0 || o->max_sessions > 1000000) {
        rt_error_set(err, RT_EINVAL, "max_sessions must be 1..1000000");
        return NULL;
    }
    if (o->ping_interval < 0 || o->ping_timeout < 0 || o->ping_interval > 3600 ||
        o->ping_timeout > 3600) {
        rt_error_set(err, RT_EINVAL, "ping_interval and ping_timeout must be 0..3600 seconds");
        return NULL;
    }
    if (o->ca_file && access(o->ca_file, R_OK) != 0) {
        rt_error_set(err, RT_ETLS, "cannot read ca_file %s: %s", o->ca_file, strerror(errno));
        return NULL;
    }
    c = rt_calloc(1, sizeof *c);
    if (!c) {
        rt_error_set(err, RT_ENOMEM, "out of memory creating a client");
        return NULL;
    }
    if (o->ca_file && !(c->ca_file = rt_strdup(o->ca_file))) {
        rt_free(c);
        rt_error_set(err, RT_ENOMEM, "out of memory creating a client");
        return NULL;
    }
    c->ping_interval = o->ping_interval ? o->ping_interval : 20;
    c->ping_timeout = o->ping_timeout ? o->ping_timeout : 45;
    if (c->ping_timeout < 30)
        c->ping_timeout = 30;
    rt_client_test_pings(c);
    /* Never 0: a zero validity interval makes lws ping in a loop. */
    c->retry.secs_since_valid_ping = (uint16_t)c->ping_interval;
    c->retry.secs_since_valid_hangup = (uint16_t)(c->ping_interval + c->ping_timeout);
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        rt_free(c->ca_file);
        rt_free(c);
        rt_error_set(err, RT_ENOMEM, "cannot create a mutex");
        return NULL;
    }

    c->ssl_ctx = rt_client_tls_new(c->ca_file, err);
    if (!c->ssl_ctx) {
        pthread_mutex_destroy(&c->lock);
        rt_free(c->ca_file);
        rt_free(c);
        return NULL;
    }

    c->protocols[0].name = "realtime";
    c->protocols[0].callback = rt_session_lws_callback;
    /* Each connection's receive buffer; messages are reassembled beyond it, so a small
     * one only means more callbacks for large messages (the default would be the whole
     * pt_serv_buf_size, 32 KB, per connection). */
    c->protocols[0].rx_buffer_size = RT_RX_BUFFER;

    pthread_once(&rt_log_once, rt_log_init);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.provided_client_ssl_ctx = c->ssl_ctx;
    info.pt_serv_buf_size = RT_SERV_BUF_SIZE;
    info.fd_limit_per_thread = (unsigned int)(o->max_sessions ? o->max_sessions
                                                               : RT_MAX_SESSIONS_DEFAULT) + RT_FD_SPARE;
    info.gid = -1;
    info.uid = -1;
    info.user = c;
    rt_client_clear_log();
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        const char *why = rt_client_last_log();
        rt_error_set(err, c->ca_file ? RT_ETLS : RT_ENOMEM,
                     "cannot create the libwebsockets context%s%s", *why ? ": " : "", why);
        SSL_CTX_free(c->ssl_ctx);
        pthread_mutex_destroy(&c->lock);
        rt_free(c->ca_file);
        rt_free(c);
        return NULL;
    }
    rc = pthread_create(&c->thread, NULL, rt_client_thread, c);
    if (rc != 0) {
        lws_context_destroy(c->ctx);
        SSL_CTX_free(c->ssl_ctx);
        pthread_mutex_destroy(&c->lock);
        rt_free(c->ca_file);
        rt_free(c);
        rt_error_set(err, RT_ENOMEM, "cannot start the I/O thread: %s", strerror(rc));
        return NULL;
    }
    return c;
}

void rt_client_free(struct rt_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    lws_cancel_service(c->ctx);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    SSL_CTX_free(c->ssl_ctx);          /* after lws_context_destroy, on the thread */
    pthread_mutex_destroy(&c->lock);
    rt_free(c->ca_file);
    rt_free(c);
}
