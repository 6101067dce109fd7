/* TLS over a raw libwebsockets socket (see rt_tls.h). */
#include "rt_tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static BIO_METHOD *rt_tls_method;
static pthread_once_t rt_tls_once = PTHREAD_ONCE_INIT;

/* The BIO reads from the window rt_tls_input set, and writes into `out` or `spill`. */
static int rt_tls_bio_read(BIO *b, char *buf, int size)
{
    struct rt_tls *t = BIO_get_data(b);
    size_t n;

    BIO_clear_retry_flags(b);
    if (!t->in_len) {
        BIO_set_retry_read(b);
        return -1;
    }
    n = t->in_len < (size_t)size ? t->in_len : (size_t)size;
    memcpy(buf, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

static int rt_tls_bio_write(BIO *b, const char *buf, int size)
{
    struct rt_tls *t = BIO_get_data(b);
    size_t n = (size_t)size;

    BIO_clear_retry_flags(b);
    if (t->out && t->spill.len == 0 && t->out_cap - t->out_len >= n) {
        memcpy(t->out + t->out_len, buf, n);
        t->out_len += n;
        return size;
    }
    if (rt_buf_append(&t->spill, buf, n))
        return -1;
    return size;
}

static long rt_tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int rt_tls_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void rt_tls_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "realtime raw");

    if (m && BIO_meth_set_read(m, rt_tls_bio_read) == 1 &&
        BIO_meth_set_write(m, rt_tls_bio_write) == 1 &&
        BIO_meth_set_ctrl(m, rt_tls_bio_ctrl) == 1 &&
        BIO_meth_set_create(m, rt_tls_bio_create) == 1)
        rt_tls_method = m;
    else if (m)
        BIO_meth_free(m);
}

/* The method lives as long as the library: freed when it is unloaded (a Lua state that
 * closes unloads the module; LeakSanitizer counts what a static pointer held then). */
__attribute__((destructor)) static void rt_tls_method_fini(void)
{
    if (rt_tls_method)
        BIO_meth_free(rt_tls_method);
    rt_tls_method = NULL;
}

/* OpenSSL's reason for a failure, or the certificate problem. */
static void rt_tls_error(struct rt_tls *t, const char *host, struct rt_error *err)
{
    long v = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    char buf[160];

    if (v != X509_V_OK) {
        rt_error_set(err, RT_ETLS, "TLS certificate of %s rejected: %s", host,
                     X509_verify_cert_error_string(v));
    } else {
        if (e)
            ERR_error_string_n(e, buf, sizeof buf);
        /* a record that is no TLS at all: a plain server (an http:// base_url given as
           https://) answering the ClientHello in HTTP */
        bool plain = e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
                     ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER;
        rt_error_set(err, RT_ETLS, "TLS handshake with %s failed: %s%s", host,
                     e ? buf : "the connection closed",
                     plain ? " (the server does not speak TLS: for a plain server, base_url "
                             "must start with http://)"
                           : "");
    }
    ERR_clear_error();
}

void rt_tls_free(struct rt_tls *t)
{
    if (t->ssl)
        SSL_free(t->ssl);           /* frees the BIO too */
    rt_tls_rec_free(t->rec);
    rt_buf_free(&t->spill);
    memset(t, 0, sizeof *t);
}

/* Moves `spill` (what did not fit last time) to the front of out. */
static void rt_tls_out(struct rt_tls *t, unsigned char *out, size_t cap)
{
    t->out = out;
    t->out_cap = cap;
    t->out_len = 0;
    if (t->spill.len && t->spill.len <= cap) {
        memcpy(out, t->spill.data, t->spill.len);
        t->out_len = t->spill.len;
        rt_buf_free(&t->spill);
    }
}

int rt_tls_start(struct rt_tls *t, SSL_CTX *ctx, const char *host, unsigned char *out,
                 size_t cap, size_t *n, struct rt_error *err)
{
    unsigned char ip[16];
    X509_VERIFY_PARAM *param;
    BIO *b;
    bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

    memset(t, 0, sizeof *t);
    rt_buf_init(&t->spill);
    t->host = host;
    *n = 0;
    pthread_once(&rt_tls_once, rt_tls_method_init);
    if (!rt_tls_method || !(t->ssl = SSL_new(ctx)) || !(b = BIO_new(rt_tls_method))) {
        rt_tls_free(t);
        ERR_clear_error();
        rt_error_set(err, RT_ENOMEM, "cannot create a TLS session");
        return -1;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b);
    if (SSL_set_app_data(t->ssl, t) != 1) {     /* rt_tls_keylog finds t here */
        rt_tls_free(t);
        ERR_clear_error();
        rt_error_set(err, RT_ENOMEM, "cannot create a TLS session");
        return -1;
    }
    param = SSL_get0_param(t->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if ((literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                 : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1 ||
        (!literal && SSL_set_tlsext_host_name(t->ssl, host) != 1)) {
        rt_tls_free(t);
        ERR_clear_error();
        rt_error_set(err, RT_ETLS, "cannot set the TLS name %s", host);
        return -1;
    }
    SSL_set_connect_state(t->ssl);
    return rt_tls_handshake(t, NULL, 0, out, cap, n, err) < 0 ? -1 : 0;
}

int rt_tls_handshake(struct rt_tls *t, const unsigned char *in, size_t len, unsigned char *out,
                     size_t cap, size_t *n, struct rt_error *err)
{
    int r;

    rt_tls_input(t, in, len);
    rt_tls_out(t, out, cap);
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    *n = t->out_len;
    t->out = NULL;
    if (r == 1) {
        t->established = true;
        rt_tls_rec_start(t);        /* our record layer from here when it qualifies */
        return 1;
    }
    switch (SSL_get_error(t->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        rt_tls_error(t, t->host, err);
        return -1;
    }
}

void rt_tls_input(struct rt_tls *t, const unsigned char *in, size_t len)
{
    t->in = in;
    t->in_len = len;
}

long rt_tls_read(struct rt_tls *t, unsigned char *buf, size_t cap, struct rt_error *err)
{
    int r, e;

    t->out = NULL;                   /* an answer TLS owes goes to spill */
    if (!t->ssl && t->rec)
        return rt_tls_rec_read(t, buf, cap, err);
    if (!t->in_len && !SSL_has_pending(t->ssl))
        return 0;
    ERR_clear_error();
    r = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (r > 0)
        return r;
    e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        rt_error_set(err, RT_ECLOSED, "connection lost: the server ended TLS");
        return -1;
    }
    rt_tls_error(t, t->host, err);
    return -1;
}

int rt_tls_write(struct rt_tls *t, const unsigned char *p, size_t len, unsigned char *out,
                 size_t cap, size_t *n, struct rt_error *err)
{
    int r;

    rt_tls_out(t, out, cap);
    *n = 0;
    if (!t->ssl && t->rec) {         /* after the switch (rt_tls_record.h) */
        if (rt_tls_rec_write(t, p, len, err)) {
            t->out = NULL;
            return -1;
        }
    } else if (len) {
        ERR_clear_error();
        r = SSL_write(t->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
        if (r <= 0 || (size_t)r != len) {
            t->out = NULL;
            rt_tls_error(t, t->host, err);
            return -1;
        }
    }
    *n = t->out_len;
    t->out = NULL;
    return 0;
}
