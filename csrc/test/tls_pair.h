/* For the TLS tests: our client side (rt_tls with the client's own SSL_CTX) against an
 * OpenSSL server in the same process, joined by memory BIOs. The server's first traffic
 * secret is kept for test_tls_hostile.c, which forges what an OpenSSL server never sends. */
#ifndef TLS_PAIR_H
#define TLS_PAIR_H

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "rt_buf.h"
#include "rt_client_private.h"
#include "rt_test.h"
#include "rt_tls.h"

static EVP_PKEY *tp_key;
static X509 *tp_cert;
static SSL_CTX *tp_cctx;                /* the client's, from rt_client_tls_new */
static char tp_ca[] = "/tmp/rt_test_tls_XXXXXX";

/* A self-signed P-256 certificate for "localhost", written out as the client's ca_file. */
static inline int tp_init(void)
{
    X509V3_CTX v;
    X509_EXTENSION *ext;
    X509_NAME *name;
    struct rt_error err;
    FILE *f;
    int fd, ok;

    if (!(tp_key = EVP_EC_gen("P-256")) || !(tp_cert = X509_new()))
        return -1;
    name = X509_get_subject_name(tp_cert);
    ok = X509_set_version(tp_cert, 2) && ASN1_INTEGER_set(X509_get_serialNumber(tp_cert), 1) &&
         X509_gmtime_adj(X509_getm_notBefore(tp_cert), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(tp_cert), 3600) &&
         X509_set_pubkey(tp_cert, tp_key) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                    -1, -1, 0) &&
         X509_set_issuer_name(tp_cert, name);
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, tp_cert, tp_cert, NULL, NULL, 0);
    ext = ok ? X509V3_EXT_conf_nid(NULL, &v, NID_subject_alt_name, "DNS:localhost") : NULL;
    ok = ext && X509_add_ext(tp_cert, ext, -1) && X509_sign(tp_cert, tp_key, EVP_sha256());
    X509_EXTENSION_free(ext);
    if (!ok || (fd = mkstemp(tp_ca)) < 0 || !(f = fdopen(fd, "w")))
        return -1;
    ok = PEM_write_X509(f, tp_cert);
    fclose(f);
    rt_error_clear(&err);
    if (!ok || !(tp_cctx = rt_client_tls_new(tp_ca, &err)))
        return -1;
    return 0;
}

static inline void tp_fini(void)
{
    SSL_CTX_free(tp_cctx);
    X509_free(tp_cert);
    EVP_PKEY_free(tp_key);
    unlink(tp_ca);
}

/* The server's SERVER_TRAFFIC_SECRET_0 of the last handshake (for the forger). */
static unsigned char tp_srv_secret[48];
static size_t tp_srv_secret_len;

static inline void tp_server_keylog(const SSL *ssl, const char *line)
{
    const char *p = strrchr(line, ' ');
    unsigned v;

    (void)ssl;
    if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) || !p)
        return;
    for (tp_srv_secret_len = 0, p++; tp_srv_secret_len < sizeof tp_srv_secret &&
         sscanf(p, "%2x", &v) == 1; p += 2)
        tp_srv_secret[tp_srv_secret_len++] = (unsigned char)v;
}

struct tp_opts {
    const char *suites;                 /* TLS 1.3 suites the server allows, or NULL */
    int max_version;                    /* 0, or TLS1_2_VERSION */
    int tickets;                        /* tickets after the handshake; -1: OpenSSL's default */
    SSL_CTX *cctx;                      /* the client's context, or NULL for tp_cctx */
};

struct tp {
    SSL_CTX *sctx;
    SSL *srv;
    BIO *to_srv, *from_srv;             /* the server's read and write BIOs (its SSL owns them) */
    struct rt_tls t;
    struct rt_error err;
    unsigned char *chunk;               /* the client's input window (rt_tls borrows it) */
    unsigned char out[140000];
    struct rt_buf got;                  /* what the client decrypted */
};

/* What the client wrote (out[0..n) and its spill) goes to the server. */
static inline void tp_to_server(struct tp *p, size_t n)
{
    if (n)
        BIO_write(p->to_srv, p->out, (int)n);
    if (p->t.spill.len)
        BIO_write(p->to_srv, p->t.spill.data, (int)p->t.spill.len);
    rt_buf_free(&p->t.spill);
}

/* Everything the server wrote so far (malloc'd; *n bytes). */
static inline unsigned char *tp_from_server(struct tp *p, size_t *n)
{
    int k = (int)BIO_pending(p->from_srv);
    unsigned char *b = malloc(k > 0 ? (size_t)k : 1);

    *n = k > 0 ? (size_t)BIO_read(p->from_srv, b, k) : 0;
    return b;
}

static inline int tp_open(struct tp *p, const struct tp_opts *o)
{
    size_t n;
    int r = 0, i;

    memset(p, 0, sizeof *p);
    rt_buf_init(&p->got);
    p->sctx = SSL_CTX_new(TLS_server_method());
    if (!p->sctx || SSL_CTX_use_certificate(p->sctx, tp_cert) != 1 ||
        SSL_CTX_use_PrivateKey(p->sctx, tp_key) != 1 ||
        (o->suites && SSL_CTX_set_ciphersuites(p->sctx, o->suites) != 1) ||
        (o->max_version && SSL_CTX_set_max_proto_version(p->sctx, o->max_version) != 1) ||
        (o->tickets >= 0 && SSL_CTX_set_num_tickets(p->sctx, (size_t)o->tickets) != 1) ||
        !(p->srv = SSL_new(p->sctx)) || !(p->to_srv = BIO_new(BIO_s_mem())) ||
        !(p->from_srv = BIO_new(BIO_s_mem())))
        return -1;
    SSL_CTX_set_keylog_callback(p->sctx, tp_server_keylog);
    SSL_set_bio(p->srv, p->to_srv, p->from_srv);
    SSL_set_accept_state(p->srv);
    rt_error_clear(&p->err);
    if (rt_tls_start(&p->t, o->cctx ? o->cctx : tp_cctx, "localhost", p->out, sizeof p->out,
                     &n, &p->err))
        return -1;
    tp_to_server(p, n);
    for (i = 0; i < 10 && r == 0; i++) {
        SSL_do_handshake(p->srv);
        free(p->chunk);
        p->chunk = tp_from_server(p, &n);
        r = rt_tls_handshake(&p->t, p->chunk, n, p->out, sizeof p->out, &n, &p->err);
        tp_to_server(p, n);
    }
    return r == 1 && SSL_do_handshake(p->srv) == 1 ? 0 : -1;
}

static inline void tp_close(struct tp *p)
{
    rt_tls_free(&p->t);
    SSL_free(p->srv);
    SSL_CTX_free(p->sctx);
    free(p->chunk);
    rt_buf_free(&p->got);
}

/* Hands in[0..n) to the client and reads it all into p->got: 0, or -1 (p->err). */
static inline int tp_feed(struct tp *p, const unsigned char *in, size_t n, size_t cap)
{
    static unsigned char buf[65536];
    long k;

    rt_tls_input(&p->t, in, n);
    while ((k = rt_tls_read(&p->t, buf, cap, &p->err)) > 0)
        rt_buf_append(&p->got, buf, (size_t)k);
    return k < 0 ? -1 : 0;
}

/* Feeds what the server wrote: whole (split 0), byte by byte (1), or in random pieces
 * (2). The client's answers (KeyUpdate) go to the server. */
static inline int tp_pump(struct tp *p, int split)
{
    size_t n, at = 0;
    unsigned char *b = tp_from_server(p, &n);
    int r = 0;

    while (at < n && !r) {
        size_t k = split == 0 ? n : split == 1 ? 1 : 1 + (size_t)rand() % 3000;
        k = k < n - at ? k : n - at;
        r = tp_feed(p, b + at, k, sizeof p->out);
        at += k;
    }
    if (!r && !n)
        r = tp_feed(p, NULL, 0, sizeof p->out);
    tp_to_server(p, 0);
    free(b);
    return r;
}

/* The client sends p[0..n); the server reads it all: true when it got exactly that. */
static inline bool tp_client_says(struct tp *p, const void *data, size_t n)
{
    unsigned char *back = malloc(n + 1);
    size_t len, got = 0;
    int k;
    bool ok;

    ok = rt_tls_write(&p->t, data, n, p->out, sizeof p->out, &len, &p->err) == 0;
    if (ok)
        tp_to_server(p, len);
    while (ok && got < n && (k = SSL_read(p->srv, back + got, (int)(n - got))) > 0)
        got += (size_t)k;
    ok = ok && got == n && memcmp(back, data, n) == 0;
    free(back);
    ERR_clear_error();
    return ok;
}

/* Records in a ciphertext stream (headers walked). */
static inline int tp_records(const unsigned char *b, size_t n)
{
    int k = 0;
    size_t at = 0;

    for (; at + 5 <= n; k++)
        at += 5 + ((size_t)b[at + 3] << 8 | b[at + 4]);
    return at == n ? k : -1;
}

#endif
