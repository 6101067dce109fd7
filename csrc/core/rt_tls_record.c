/* The TLS 1.3 record layer after the handshake (see rt_tls_record.h). */
#include "rt_tls_record.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include <string.h>

#include "rt_alloc.h"
#include "rt_tls.h"

#define RT_REC_TAG 16
#define RT_REC_PLAIN_MAX 16384          /* 2^14: content per record */

static const struct rt_rec_suite {
    uint16_t id;                        /* the cipher suite's code point */
    const char *md;                     /* its hash, for HKDF */
    unsigned char hash_len, key_len;
    const EVP_CIPHER *(*cipher)(void);
} rt_rec_suites[] = {
    {0x1301, "SHA256", 32, 16, EVP_aes_128_gcm},        /* TLS_AES_128_GCM_SHA256 */
    {0x1302, "SHA384", 48, 32, EVP_aes_256_gcm},        /* TLS_AES_256_GCM_SHA384 */
    {0x1303, "SHA256", 32, 32, EVP_chacha20_poly1305},  /* TLS_CHACHA20_POLY1305_SHA256 */
};
#define RT_REC_NSUITES (sizeof rt_rec_suites / sizeof rt_rec_suites[0])

static uint64_t rt_rec_limit = (uint64_t)1 << 24;

void rt_tls_rec_set_limit(uint64_t records)
{
    rt_rec_limit = records ? records : (uint64_t)1 << 24;
}


/* ==================================================================== *
 *  K E Y S
 * ==================================================================== */

static int rt_rec_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Lines are "LABEL <client random> <secret>" in hex; only the two application traffic
 * secrets are kept. Nothing is logged, and a line that does not parse leaves the
 * direction without a secret (the connection then stays with OpenSSL). */
void rt_tls_keylog(const SSL *ssl, const char *line)
{
    struct rt_tls *t = SSL_get_app_data(ssl);
    struct rt_tls_rec *r;
    const char *p;
    size_t n = 0;
    int dir;

    if (!t)
        return;
    if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24))
        dir = RT_TLS_RD;
    else if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24))
        dir = RT_TLS_WR;
    else
        return;
    if (!(p = strchr(line + 24, ' ')))
        return;
    if (!t->rec && !(t->rec = rt_calloc(1, sizeof *t->rec)))
        return;
    r = t->rec;
    for (p++; n < sizeof r->secret[dir]; p += 2, n++) {
        int hi = rt_rec_hexval(p[0]), lo = hi < 0 ? -1 : rt_rec_hexval(p[1]);
        if (lo < 0)
            break;
        r->secret[dir][n] = (unsigned char)(hi << 4 | lo);
    }
    r->secret_len[dir] = *p == '\0' ? (unsigned char)n : 0;
    if (!r->secret_len[dir])
        OPENSSL_cleanse(r->secret[dir], sizeof r->secret[dir]);
}

/* HKDF-Expand-Label(secret, label, "", n) with the suite's hash (RFC 8446 §7.1). */
static int rt_rec_expand(const struct rt_rec_suite *s, const unsigned char *secret,
                         const char *label, unsigned char *out, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, NULL);
    EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)s->md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, s->hash_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, "tls13 ", 6),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label, strlen(label)),
        OSSL_PARAM_construct_end(),
    };
    int ok = k && EVP_KDF_derive(k, out, n, params) == 1;

    EVP_KDF_CTX_free(k);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

/* Keys direction dir from its secret (RFC 8446 §7.3); its sequence starts again at 0. */
static int rt_rec_keys(struct rt_tls_rec *r, int dir)
{
    const struct rt_rec_suite *s = &rt_rec_suites[r->suite];
    unsigned char key[32];
    int ok = !rt_rec_expand(s, r->secret[dir], "key", key, s->key_len) &&
             !rt_rec_expand(s, r->secret[dir], "iv", r->iv[dir], sizeof r->iv[dir]) &&
             EVP_CipherInit_ex(r->aead[dir], NULL, NULL, key, NULL, dir == RT_TLS_WR) == 1;

    OPENSSL_cleanse(key, sizeof key);
    r->seq[dir] = 0;
    return ok ? 0 : -1;
}

/* The next traffic secret of direction dir and its keys (RFC 8446 §7.2). */
static int rt_rec_next_keys(struct rt_tls_rec *r, int dir)
{
    const struct rt_rec_suite *s = &rt_rec_suites[r->suite];
    unsigned char next[48];
    int bad = rt_rec_expand(s, r->secret[dir], "traffic upd", next, s->hash_len);

    if (!bad)
        memcpy(r->secret[dir], next, s->hash_len);
    OPENSSL_cleanse(next, sizeof next);
    return bad || rt_rec_keys(r, dir) ? -1 : 0;
}

/* The per-record nonce: the IV XOR the 64-bit big-endian sequence number. */
static void rt_rec_nonce(const struct rt_tls_rec *r, int dir, unsigned char nonce[12])
{
    int i;

    memcpy(nonce, r->iv[dir], 12);
    for (i = 0; i < 8; i++)
        nonce[4 + i] ^= (unsigned char)(r->seq[dir] >> (56 - 8 * i));
}

void rt_tls_rec_free(struct rt_tls_rec *r)
{
    if (!r)
        return;
    EVP_CIPHER_CTX_free(r->aead[RT_TLS_RD]);    /* they wipe their keys */
    EVP_CIPHER_CTX_free(r->aead[RT_TLS_WR]);
    rt_free(r->part);
    OPENSSL_cleanse(r, sizeof *r);
    rt_free(r);
}

bool rt_tls_rec_start(struct rt_tls *t)
{
    struct rt_tls_rec *r = t->rec;
    const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
    uint16_t id = c ? SSL_CIPHER_get_protocol_id(c) : 0;
    size_t i;
    int d;

    for (i = 0; i < RT_REC_NSUITES && rt_rec_suites[i].id != id; i++)
        ;
    /* SSL_has_pending: OpenSSL holds no byte it read past the server's Finished (it reads
     * record by record, without read-ahead), so neither direction has used a sequence
     * number of the application keys yet. */
    if (!r || i == RT_REC_NSUITES || SSL_version(t->ssl) != TLS1_3_VERSION ||
        SSL_has_pending(t->ssl) || r->secret_len[RT_TLS_RD] != rt_rec_suites[i].hash_len ||
        r->secret_len[RT_TLS_WR] != rt_rec_suites[i].hash_len)
        goto keep;
    r->suite = (unsigned char)i;
    for (d = RT_TLS_RD; d <= RT_TLS_WR; d++)
        if (!(r->aead[d] = EVP_CIPHER_CTX_new()) ||
            EVP_CipherInit_ex(r->aead[d], rt_rec_suites[i].cipher(), NULL, NULL, NULL,
                              d == RT_TLS_WR) != 1 ||
            rt_rec_keys(r, d))
            goto keep;
    SSL_free(t->ssl);               /* frees the BIO too */
    t->ssl = NULL;
    return true;
keep:
    rt_tls_rec_free(r);
    t->rec = NULL;
    ERR_clear_error();
    return false;
}


/* ==================================================================== *
 *  S E N D I N G
 * ==================================================================== */

/* Seals one record of inner type `type` with content p[0..len) where rt_tls's BIO would
 * write it: at the end of `out` when it fits and nothing waits in `spill`, else in spill. */
static int rt_rec_seal(struct rt_tls *t, unsigned char type, const unsigned char *p, size_t len,
                       struct rt_error *err)
{
    struct rt_tls_rec *r = t->rec;
    EVP_CIPHER_CTX *c = r->aead[RT_TLS_WR];
    size_t clen = len + 1 + RT_REC_TAG, need = 5 + clen;
    bool to_out = t->out && !t->spill.len && t->out_cap - t->out_len >= need;
    unsigned char nonce[12], *d;
    int a = 0, b = 0, f = 0;
    bool ok;

    if (!to_out && rt_buf_reserve(&t->spill, need)) {
        rt_error_set(err, RT_ENOMEM, "out of memory for TLS output to %s", t->host);
        return -1;
    }
    d = to_out ? t->out + t->out_len : (unsigned char *)t->spill.data + t->spill.len;
    d[0] = 23;                      /* application_data, TLS 1.2 on the outside */
    d[1] = 3;
    d[2] = 3;
    d[3] = (unsigned char)(clen >> 8);
    d[4] = (unsigned char)clen;
    rt_rec_nonce(r, RT_TLS_WR, nonce);
    ok = EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) == 1 &&
         EVP_EncryptUpdate(c, NULL, &a, d, 5) == 1 &&
         EVP_EncryptUpdate(c, d + 5, &a, p, (int)len) == 1 && (size_t)a == len &&
         EVP_EncryptUpdate(c, d + 5 + len, &b, &type, 1) == 1 && b == 1 &&
         EVP_EncryptFinal_ex(c, d + 6 + len, &f) == 1 && f == 0 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, RT_REC_TAG, d + 6 + len) == 1;
    OPENSSL_cleanse(nonce, sizeof nonce);
    if (!ok) {
        ERR_clear_error();
        rt_error_set(err, RT_ETLS, "TLS encryption for %s failed", t->host);
        return -1;
    }
    if (to_out) {
        t->out_len += need;
    } else {
        t->spill.len += need;
        t->spill.data[t->spill.len] = '\0';
    }
    r->seq[RT_TLS_WR]++;
    return 0;
}

/* KeyUpdate(update_not_requested) under the current write key, then the next one. */
static int rt_rec_send_key_update(struct rt_tls *t, struct rt_error *err)
{
    static const unsigned char msg[5] = {24, 0, 0, 1, 0};

    if (rt_rec_seal(t, 22, msg, sizeof msg, err))
        return -1;
    if (rt_rec_next_keys(t->rec, RT_TLS_WR)) {
        ERR_clear_error();
        rt_error_set(err, RT_ETLS, "TLS key update for %s failed", t->host);
        return -1;
    }
    return 0;
}

int rt_tls_rec_write(struct rt_tls *t, const unsigned char *p, size_t len, struct rt_error *err)
{
    while (len) {
        size_t k = len < RT_REC_PLAIN_MAX ? len : RT_REC_PLAIN_MAX;

        if (t->rec->seq[RT_TLS_WR] >= rt_rec_limit && rt_rec_send_key_update(t, err))
            return -1;
        if (rt_rec_seal(t, 23, p, k, err))
            return -1;
        p += k;
        len -= k;
    }
    return 0;
}


/* ==================================================================== *
 *  R E C E I V I N G
 * ==================================================================== */

/* Checks a record header; *len is its ciphertext length. */
static int rt_rec_header(struct rt_tls *t, const unsigned char *h, size_t *len,
                         struct rt_error *err)
{
    *len = (size_t)h[3] << 8 | h[4];
    if (h[0] != 23)
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: outer content type %u "
                     "(only application data, 23, may follow the handshake)", t->host, h[0]);
    else if (h[1] != 3 || h[2] != 3)
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: version 0x%02x%02x "
                     "(0x0303 expected)", t->host, h[1], h[2]);
    else if (*len > RT_TLS_REC_MAX - 5)
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: %zu bytes, more than "
                     "the 16,640 allowed", t->host, *len);
    else if (*len < RT_REC_TAG)
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: %zu bytes, shorter than "
                     "its authentication tag", t->host, *len);
    else
        return 0;
    return -1;
}

/* The next whole record: 1 with *rec, *rlen (in the input window or in `part`), 0 when
 * the input ended first (what there was is kept in `part`), -1 on a bad header. */
static int rt_rec_next(struct rt_tls *t, const unsigned char **rec, size_t *rlen,
                       struct rt_error *err)
{
    struct rt_tls_rec *r = t->rec;
    size_t len, k;

    if (!r->part_len && t->in_len >= 5) {
        if (rt_rec_header(t, t->in, &len, err))
            return -1;
        if (t->in_len >= 5 + len) {
            *rec = t->in;
            *rlen = 5 + len;
            return 1;
        }
    }
    if (!r->part_len && !t->in_len)
        return 0;
    if (!r->part && !(r->part = rt_malloc(RT_TLS_REC_MAX))) {
        rt_error_set(err, RT_ENOMEM, "out of memory for a TLS record from %s", t->host);
        return -1;
    }
    k = r->part_len < 5 ? 5 - r->part_len : 0;
    k = k < t->in_len ? k : t->in_len;
    memcpy(r->part + r->part_len, t->in, k);
    r->part_len += k;
    t->in += k;
    t->in_len -= k;
    if (r->part_len < 5)
        return 0;
    if (rt_rec_header(t, r->part, &len, err))
        return -1;
    k = 5 + len - r->part_len;
    k = k < t->in_len ? k : t->in_len;
    memcpy(r->part + r->part_len, t->in, k);
    r->part_len += k;
    t->in += k;
    t->in_len -= k;
    if (r->part_len < 5 + len)
        return 0;
    *rec = r->part;
    *rlen = r->part_len;
    return 1;
}

/* Done with the record rt_rec_next gave: the next one has the next sequence number. */
static void rt_rec_consume(struct rt_tls *t, size_t rlen)
{
    struct rt_tls_rec *r = t->rec;

    if (r->part_len) {
        rt_free(r->part);
        r->part = NULL;
        r->part_len = 0;
    } else {
        t->in += rlen;
        t->in_len -= rlen;
    }
    r->seq[RT_TLS_RD]++;
}

/* Decrypts record rec[0..rlen) into out: *n content bytes of inner type *type. */
static int rt_rec_open(struct rt_tls *t, const unsigned char *rec, size_t rlen,
                       unsigned char *out, size_t *n, unsigned char *type, struct rt_error *err)
{
    struct rt_tls_rec *r = t->rec;
    EVP_CIPHER_CTX *c = r->aead[RT_TLS_RD];
    size_t clen = rlen - 5 - RT_REC_TAG;
    unsigned char nonce[12], tag[RT_REC_TAG];
    int a = 0, f = 0;
    bool ok;

    memcpy(tag, rec + rlen - RT_REC_TAG, RT_REC_TAG);
    rt_rec_nonce(r, RT_TLS_RD, nonce);
    ok = EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) == 1 &&
         EVP_DecryptUpdate(c, NULL, &a, rec, 5) == 1 &&
         EVP_DecryptUpdate(c, out, &a, rec + 5, (int)clen) == 1 && (size_t)a == clen &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, RT_REC_TAG, tag) == 1;
    OPENSSL_cleanse(nonce, sizeof nonce);
    if (!ok || EVP_DecryptFinal_ex(c, out + clen, &f) != 1) {
        ERR_clear_error();
        rt_error_set(err, RT_ETLS, ok ? "TLS record from %s failed its integrity check "
                     "(bad record MAC)" : "TLS decryption of a record from %s failed", t->host);
        return -1;
    }
    if (clen > RT_REC_PLAIN_MAX + 1) {
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: %zu bytes of plaintext, "
                     "more than the 16,385 allowed", t->host, clen);
        return -1;
    }
    while (clen && !out[clen - 1])  /* padding */
        clen--;
    if (!clen) {
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: no content type (all "
                     "zero)", t->host);
        return -1;
    }
    *type = out[clen - 1];
    *n = clen - 1;
    return 0;
}

/* Handshake messages after the handshake, which may span records (RFC 8446 §4.6). */
static int rt_rec_handshake_msgs(struct rt_tls *t, const unsigned char *p, size_t n,
                                 struct rt_error *err)
{
    struct rt_tls_rec *r = t->rec;

    if (!n) {
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: an empty handshake "
                     "record", t->host);
        return -1;
    }
    while (n) {
        if (r->hs_got < 4) {
            r->hs_hdr[r->hs_got++] = *p++;
            n--;
            if (r->hs_got < 4)
                continue;
            r->hs_left = (uint32_t)r->hs_hdr[1] << 16 | (uint32_t)r->hs_hdr[2] << 8 |
                         r->hs_hdr[3];
            if (r->hs_hdr[0] != 4 && r->hs_hdr[0] != 24) {
                rt_error_set(err, RT_ETLS, "TLS message from %s refused: handshake "
                             "message type %u after the handshake", t->host, r->hs_hdr[0]);
                return -1;
            }
            if (r->hs_hdr[0] == 24 && r->hs_left != 1) {
                rt_error_set(err, RT_ETLS, "TLS message from %s refused: a KeyUpdate of "
                             "%u bytes", t->host, (unsigned)r->hs_left);
                return -1;
            }
        } else if (r->hs_hdr[0] == 4) {         /* NewSessionTicket: no resumption */
            size_t k = n < r->hs_left ? n : r->hs_left;
            p += k;
            n -= k;
            r->hs_left -= (uint32_t)k;
        } else {                                /* KeyUpdate */
            bool requested = *p == 1;

            if (*p > 1 || n != 1) {
                rt_error_set(err, RT_ETLS, "TLS message from %s refused: %s", t->host,
                             *p > 1 ? "a KeyUpdate with a bad request_update"
                                    : "data after a KeyUpdate in its record");
                return -1;
            }
            n = r->hs_left = 0;
            if (rt_rec_next_keys(r, RT_TLS_RD)) {
                ERR_clear_error();
                rt_error_set(err, RT_ETLS, "TLS key update from %s failed", t->host);
                return -1;
            }
            if (requested && rt_rec_send_key_update(t, err))
                return -1;
        }
        if (r->hs_got == 4 && !r->hs_left)
            r->hs_got = 0;                      /* the message is complete */
    }
    return 0;
}

/* An alert's name: OpenSSL's, or for the alerts of RFC 8446 section 6 that OpenSSL 3.0
 * calls "unknown" (a server asking for a client certificate sends certificate_required). */
static const char *rt_rec_alert_name(unsigned char desc)
{
    const char *name = SSL_alert_desc_string_long(desc);

    if (name && strcmp(name, "unknown") != 0)
        return name;
    switch (desc) {
    case 86: return "inappropriate fallback";
    case 109: return "missing extension";
    case 116: return "certificate required";
    default: return "unknown";
    }
}

/* An alert record: 1 to go on (user_canceled), -1 otherwise (err set). */
static int rt_rec_alert(struct rt_tls *t, const unsigned char *p, size_t n, struct rt_error *err)
{
    if (n != 2) {
        rt_error_set(err, RT_ETLS, "TLS record from %s refused: an alert of %zu bytes",
                     t->host, n);
    } else if (p[1] == SSL_AD_CLOSE_NOTIFY) {
        t->rec->closed = true;
        rt_error_set(err, RT_ECLOSED, "connection lost: the server ended TLS");
    } else if (p[1] == SSL_AD_USER_CANCELLED) {
        return 1;                               /* close_notify follows */
    } else {
        rt_error_set(err, RT_ETLS, "TLS alert from %s: %s (%u)", t->host,
                     rt_rec_alert_name(p[1]), p[1]);
    }
    return -1;
}

long rt_tls_rec_read(struct rt_tls *t, unsigned char *buf, size_t cap, struct rt_error *err)
{
    struct rt_tls_rec *r = t->rec;
    struct rt_error e;
    size_t pos = 0;

    rt_error_clear(&e);
    if (r->failed) {
        if (r->closed)
            rt_error_set(err, RT_ECLOSED, "connection lost: the server ended TLS");
        else
            rt_error_set(err, RT_ETLS, "TLS with %s failed earlier", t->host);
        return -1;
    }
    for (;;) {
        const unsigned char *rec;
        size_t rlen, n;
        unsigned char type;
        int k = rt_rec_next(t, &rec, &rlen, &e);

        if (k <= 0) {
            if (k < 0)
                goto fail;
            return (long)pos;
        }
        if (rlen - 5 - RT_REC_TAG > cap - pos) {
            if (!pos)
                rt_error_set(&e, RT_EINVAL, "TLS read buffer of %zu bytes is too small for "
                             "a record of %zu", cap, rlen);
            goto fail;
        }
        if (rt_rec_open(t, rec, rlen, buf + pos, &n, &type, &e))
            goto fail;
        /* Anything but data is handled at the start of a call, after the data before it
         * went to the caller: it is opened again then (same key, same sequence number). */
        if (type != 23 && pos)
            return (long)pos;
        if (r->hs_got && type != 22) {
            rt_error_set(&e, RT_ETLS, "TLS record from %s refused: content type %u inside "
                         "a handshake message", t->host, type);
            goto fail;
        }
        if (type == 21 && rt_rec_alert(t, buf, n, &e) < 0)
            goto fail;
        if (type != 21 && type != 22 && type != 23) {
            rt_error_set(&e, RT_ETLS, "TLS record from %s refused: inner content type %u",
                         t->host, type);
            goto fail;
        }
        rt_rec_consume(t, rlen);
        if (type == 23)
            pos += n;
        else if (type == 22 && rt_rec_handshake_msgs(t, buf, n, &e))
            goto fail;
    }
fail:
    /* A record that fails after data was read is left for the next call, which fails. */
    if (pos)
        return (long)pos;
    r->failed = true;
    rt_error_set(err, e.code, "%s", e.msg);
    return -1;
}
