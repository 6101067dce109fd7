/* A TLS 1.3 record layer of our own for established connections (RFC 8446 §5, §7).
 *
 * OpenSSL does the whole handshake and every check of the peer. Once it is over, a
 * connection that negotiated TLS 1.3 with TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384
 * or TLS_CHACHA20_POLY1305_SHA256 moves here and its SSL object is freed (as kernel TLS
 * does): an idle connection then keeps two cipher contexts, the current traffic secrets
 * (for key updates), the IVs and the sequence numbers, about 2 KB instead of OpenSSL's
 * 19 KB. Anything else (TLS 1.2, another suite) stays with OpenSSL.
 *
 * The traffic secrets come from OpenSSL's key log callback (rt_tls_keylog, set on the
 * client's SSL_CTX), which copies CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0
 * into the connection's rt_tls (the SSL's app data) and logs nothing. Secrets, keys and
 * IVs are wiped when replaced or freed.
 *
 * Receiving: records are decrypted from rt_tls's input window into the caller's buffer;
 * a record cut by the end of the window waits in a buffer that exists only until the
 * record is complete. After the handshake the server may send NewSessionTicket (ignored:
 * sessions are not resumed) and KeyUpdate (the read key moves on; when asked, a KeyUpdate
 * of ours goes out and the write key moves on too). close_notify ends the connection,
 * user_canceled is ignored, any other alert fails it.
 * Sending: records of at most 16 KB, no padding, written where rt_tls's BIO writes
 * (`out`, else `spill`); before a write key has sealed rt_tls_rec_limit records, a
 * KeyUpdate of ours replaces it (RFC 8446 §5.5). */
#ifndef RT_TLS_RECORD_H
#define RT_TLS_RECORD_H

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_error.h"

struct rt_tls;

/* The longest record accepted (header, 2^14 + 256 bytes of ciphertext), and the room
 * rt_tls_read's buffer must have for this layer: one record's plaintext. */
#define RT_TLS_REC_MAX (5 + 16384 + 256)
#define RT_TLS_READ_MIN (16384 + 256)

enum { RT_TLS_RD = 0, RT_TLS_WR = 1 };  /* server to us, us to server */

struct rt_tls_rec {
    EVP_CIPHER_CTX *aead[2];        /* owned; keyed, NULL until the switch */
    unsigned char secret[2][48];    /* the current traffic secrets */
    unsigned char iv[2][12];
    uint64_t seq[2];                /* records opened / sealed under the current keys */
    unsigned char *part;            /* owned: a record cut by the end of the input, or NULL */
    size_t part_len;
    uint32_t hs_left;               /* body bytes left of the handshake message being read */
    unsigned char hs_hdr[4];        /* its header; hs_got bytes of it so far */
    unsigned char hs_got;
    unsigned char secret_len[2];    /* bytes logged per direction (0: none yet) */
    unsigned char suite;            /* index in the suite table */
    bool failed;                    /* an error or the end was reported: nothing more is read */
    bool closed;                    /* ... and it was the server's close_notify */
};

/* SSL_CTX_set_keylog_callback's callback for the client's context. */
void rt_tls_keylog(const SSL *ssl, const char *line);

/* Called when SSL_do_handshake has returned 1: moves t to this layer and frees t->ssl
 * when the connection qualifies (true), else leaves it with OpenSSL (false). */
bool rt_tls_rec_start(struct rt_tls *t);
void rt_tls_rec_free(struct rt_tls_rec *r);     /* NULL ok; wipes the secrets */

/* rt_tls_read and rt_tls_write of a connection on this layer (rt_tls.h). */
long rt_tls_rec_read(struct rt_tls *t, unsigned char *buf, size_t cap, struct rt_error *err);
int rt_tls_rec_write(struct rt_tls *t, const unsigned char *p, size_t len,
                     struct rt_error *err);

/* Records sealed per write key before our KeyUpdate (2^24; AES-GCM's bound is 2^24.5).
 * For tests only: 0 restores the default. */
void rt_tls_rec_set_limit(uint64_t records);

#endif
