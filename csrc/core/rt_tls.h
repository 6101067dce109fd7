/* TLS for a connection whose bytes libwebsockets carries as a raw socket.
 *
 * libwebsockets 4.1.6 cannot open a raw client connection over TLS (it starts the TLS
 * handshake before the socket exists), so TLS is ours too: an OpenSSL session whose BIO
 * reads the ciphertext lws hands over and writes ciphertext into a buffer the caller
 * gives, sent with one write. No per-connection buffer is kept between calls except
 * OpenSSL's own, which it releases while the connection is idle.
 *
 * The peer is always verified: the certificate chain against the client's trust store
 * (ca_file or the system's), and the host name (or IP address) the caller connects to,
 * which is also sent as SNI.
 *
 * Once the handshake is over, a TLS 1.3 connection with an AES-GCM or ChaCha20-Poly1305
 * suite leaves OpenSSL: its records are sealed and opened by rt_tls_record.c with the
 * traffic keys OpenSSL derived, and the SSL object (about 19 KB a connection) is freed.
 * The functions below work the same either way. */
#ifndef RT_TLS_H
#define RT_TLS_H

#include <openssl/ssl.h>

#include <stdbool.h>
#include <stddef.h>

#include "rt_buf.h"
#include "rt_error.h"
#include "rt_tls_record.h"

struct rt_tls {
    SSL *ssl;                       /* owned; NULL when not started or after the switch */
    struct rt_tls_rec *rec;         /* owned: our record layer once switched (or the
                                     * secrets logged during the handshake), or NULL */
    const char *host;               /* borrowed: the name checked, for messages */
    bool established;               /* the handshake is complete */
    const unsigned char *in;        /* ciphertext read and not yet consumed (borrowed) */
    size_t in_len;
    unsigned char *out;             /* where ciphertext goes (borrowed), or NULL */
    size_t out_len, out_cap;
    struct rt_buf spill;            /* ciphertext that did not fit in `out` (rare) */
};

/* Whether the connection runs TLS (started, with OpenSSL or our record layer). */
static inline bool rt_tls_active(const struct rt_tls *t)
{
    return t->ssl || t->rec;
}

/* Creates the session for `host` and starts the handshake: the ClientHello goes to
 * out[0..cap) (*n bytes). The SSL_CTX must have rt_tls_keylog as its key log callback
 * for a connection to move to our record layer. 0, or -1 with err (RT_ENOMEM, RT_ETLS). */
int rt_tls_start(struct rt_tls *t, SSL_CTX *ctx, const char *host, unsigned char *out,
                 size_t cap, size_t *n, struct rt_error *err);
void rt_tls_free(struct rt_tls *t);

/* Feeds ciphertext in[0..len) and drives the handshake; what it answers goes to
 * out[0..cap) (*n bytes). Returns 1 once established, 0 while it goes on, -1 on failure
 * with err (RT_ETLS: the certificate problem or OpenSSL's reason). What follows the
 * server's last handshake record stays in the input window for rt_tls_read. */
int rt_tls_handshake(struct rt_tls *t, const unsigned char *in, size_t len, unsigned char *out,
                     size_t cap, size_t *n, struct rt_error *err);

/* Sets the ciphertext to decrypt next (it must stay valid while rt_tls_read is called). */
void rt_tls_input(struct rt_tls *t, const unsigned char *in, size_t len);
/* Decrypts into buf: bytes (> 0), 0 when the input is used up, -1 when the peer closed
 * TLS (RT_ECLOSED) or it failed (err set; RT_ETLS names what the server sent wrong).
 * Anything TLS must answer (a KeyUpdate) goes to `spill`. cap must be at least
 * RT_TLS_READ_MIN (a whole record's plaintext). Data before a record that fails or ends
 * the connection is returned first; the next call reports it. */
long rt_tls_read(struct rt_tls *t, unsigned char *buf, size_t cap, struct rt_error *err);

/* Encrypts p[0..len) into out[0..cap) (*n bytes; cap must exceed len by 1 KB per 16 KB;
 * what does not fit goes to `spill`, after what waited there); -1 on failure with err. */
int rt_tls_write(struct rt_tls *t, const unsigned char *p, size_t len, unsigned char *out,
                 size_t cap, size_t *n, struct rt_error *err);

#endif
