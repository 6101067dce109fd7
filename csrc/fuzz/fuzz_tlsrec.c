/* libFuzzer target: the receive side of the TLS 1.3 record layer (rt_tls_input and
 * rt_tls_read over rt_tls_record.c), keyed with fixed traffic secrets. The input is a
 * program that builds the server's byte stream (records sealed with chosen content types,
 * padding and lengths, raw bytes, the server's key updates with or without a KeyUpdate
 * message), and the sizes of the reads that deliver it. Every read must stay within its
 * buffer; a failure must set an error and stay failed; without one, every byte delivered
 * is taken.
 *
 * Input: byte 0 the cipher suite, byte 1 the read buffer's size, then operations (the low
 * bits of each op byte pick one; see rt_fz_program). The file is included for its static
 * key schedule, which the server side here shares. */
#include "../core/rt_tls_record.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RT_FZ_MAX_READS 64

/* The server's sending side: its key, IV and sequence number. */
struct rt_fz_server {
    EVP_CIPHER_CTX *c;
    unsigned char secret[48], iv[12];
    uint64_t seq;
    unsigned suite;
};

/* The stream being built, and one record's plaintext. */
static unsigned char *rt_fz_stream, rt_fz_plain[20000];
static size_t rt_fz_len, rt_fz_cap;

static void rt_fz_put(const void *p, size_t n)
{
    if (!n)
        return;
    if (rt_fz_len + n > rt_fz_cap) {
        size_t cap = (rt_fz_len + n) * 2 + 64;
        unsigned char *b = realloc(rt_fz_stream, cap);
        if (!b)
            abort();
        rt_fz_stream = b;
        rt_fz_cap = cap;
    }
    memcpy(rt_fz_stream + rt_fz_len, p, n);
    rt_fz_len += n;
}

/* The server's key and IV from its secret; the sequence starts again. */
static void rt_fz_keys(struct rt_fz_server *v)
{
    const struct rt_rec_suite *s = &rt_rec_suites[v->suite];
    unsigned char key[32];

    if (rt_rec_expand(s, v->secret, "key", key, s->key_len) ||
        rt_rec_expand(s, v->secret, "iv", v->iv, 12) ||
        EVP_CipherInit_ex(v->c, NULL, NULL, key, NULL, 1) != 1)
        abort();
    v->seq = 0;
}

/* The server's next traffic secret (RFC 8446 7.2), as after a KeyUpdate it sent. */
static void rt_fz_next(struct rt_fz_server *v)
{
    const struct rt_rec_suite *s = &rt_rec_suites[v->suite];
    unsigned char next[48];

    if (rt_rec_expand(s, v->secret, "traffic upd", next, s->hash_len))
        abort();
    memcpy(v->secret, next, s->hash_len);
    rt_fz_keys(v);
}

/* Seals pt[0..n) as one record of content type `type` with `pad` zero bytes of padding. */
static void rt_fz_seal(struct rt_fz_server *v, const unsigned char *pt, size_t n,
                       unsigned char type, size_t pad)
{
    size_t inner = n + 1 + pad, clen = inner + RT_REC_TAG;
    unsigned char *rec = calloc(1, 5 + clen), *in = calloc(1, inner), nonce[12];
    int a, f;

    if (!rec || !in)
        abort();
    memcpy(in, pt, n);
    in[n] = type;
    rec[0] = 23;
    rec[1] = 3;
    rec[2] = 3;
    rec[3] = (unsigned char)(clen >> 8);
    rec[4] = (unsigned char)clen;
    memcpy(nonce, v->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= (unsigned char)(v->seq >> (56 - 8 * i));
    if (EVP_EncryptInit_ex(v->c, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(v->c, NULL, &a, rec, 5) != 1 ||
        EVP_EncryptUpdate(v->c, rec + 5, &a, in, (int)inner) != 1 ||
        EVP_EncryptFinal_ex(v->c, rec + 5 + a, &f) != 1 ||
        EVP_CIPHER_CTX_ctrl(v->c, EVP_CTRL_AEAD_GET_TAG, RT_REC_TAG, rec + 5 + inner) != 1)
        abort();
    v->seq++;
    rt_fz_put(rec, 5 + clen);
    free(rec);
    free(in);
}

/* Runs the program data[0..size) into the stream; the read sizes it gives go to reads. */
static size_t rt_fz_program(struct rt_fz_server *v, const uint8_t *data, size_t size,
                            size_t *reads)
{
    size_t i = 0, nreads = 0;

    while (i < size) {
        unsigned op = data[i++];
        switch (op % 6) {
        case 0: {       /* raw bytes: a length, then the bytes */
            size_t n = i < size ? data[i++] : 0;
            if (n > size - i)
                n = size - i;
            rt_fz_put(data + i, n);
            i += n;
            break;
        }
        case 1:
        case 2: {       /* a sealed record: type, length (2), padding (2), plaintext */
            unsigned char type;
            size_t n, pad, have;
            if (size - i < 5) {
                i = size;
                break;
            }
            type = data[i];
            n = (size_t)data[i + 1] << 8 | data[i + 2];
            pad = ((size_t)data[i + 3] << 8 | data[i + 4]) % 512;
            i += 5;
            n %= (op & 0x80) ? 17000 : 300;   /* up to beyond the 2^14 a record holds */
            have = size - i < n ? size - i : n;
            memset(rt_fz_plain, 'A', n);
            memcpy(rt_fz_plain, data + i, have);
            i += have;
            if (n + 1 + pad + RT_REC_TAG <= 0xffff)
                rt_fz_seal(v, rt_fz_plain, n, type, pad);
            break;
        }
        case 3:         /* the server's key moves on without telling */
            rt_fz_next(v);
            break;
        case 4: {       /* a sealed KeyUpdate (update_requested or not), then the new key */
            unsigned char ku[5] = { 24, 0, 0, 1, i < size ? data[i++] & 1 : 0 };
            rt_fz_seal(v, ku, sizeof ku, 22, 0);
            rt_fz_next(v);
            break;
        }
        case 5:         /* the size of the next read */
            if (nreads < RT_FZ_MAX_READS && i < size)
                reads[nreads++] = 1 + data[i++] * (op >> 3);
            break;
        }
    }
    return nreads;
}

/* A session's record state with the fixed secrets of both directions. */
static struct rt_tls_rec *rt_fz_rec(unsigned suite)
{
    const struct rt_rec_suite *s = &rt_rec_suites[suite];
    struct rt_tls_rec *r = rt_calloc(1, sizeof *r);

    if (!r)
        abort();
    r->suite = (unsigned char)suite;
    for (int d = 0; d < 2; d++) {
        memset(r->secret[d], 0x11 * (d + 1), s->hash_len);
        r->secret_len[d] = s->hash_len;
        r->aead[d] = EVP_CIPHER_CTX_new();
        if (!r->aead[d] ||
            EVP_CipherInit_ex(r->aead[d], s->cipher(), NULL, NULL, NULL, d == RT_TLS_WR) != 1 ||
            rt_rec_keys(r, d))
            abort();
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_fz_server v = { 0 };
    struct rt_tls t;
    size_t reads[RT_FZ_MAX_READS], nreads, cap, off = 0, ri = 0;
    unsigned char *buf;
    long k = 0;

    if (size < 3)
        return 0;
    v.suite = data[0] % RT_REC_NSUITES;
    cap = RT_TLS_READ_MIN + (size_t)data[1] * 190;

    memset(&t, 0, sizeof t);
    rt_buf_init(&t.spill);
    t.host = "fuzz.example";
    t.established = true;
    t.rec = rt_fz_rec(v.suite);

    /* the server's side reads the client's direction's secret (0x11...) */
    v.c = EVP_CIPHER_CTX_new();
    if (!v.c ||
        EVP_CipherInit_ex(v.c, rt_rec_suites[v.suite].cipher(), NULL, NULL, NULL, 1) != 1)
        abort();
    memset(v.secret, 0x11, rt_rec_suites[v.suite].hash_len);
    rt_fz_keys(&v);
    rt_fz_len = 0;
    nreads = rt_fz_program(&v, data + 2, size - 2, reads);

    buf = malloc(cap);
    if (!buf)
        abort();
    while (off < rt_fz_len) {
        size_t n = ri < nreads ? reads[ri++] : rt_fz_len - off;
        unsigned char *c;
        struct rt_error e;

        if (n > rt_fz_len - off)
            n = rt_fz_len - off;
        c = malloc(n);          /* its own allocation, so that ASan sees a read past it */
        if (!c)
            abort();
        memcpy(c, rt_fz_stream + off, n);
        rt_tls_input(&t, c, n);
        rt_error_clear(&e);
        while ((k = rt_tls_read(&t, buf, cap, &e)) > 0)
            if ((size_t)k > cap)
                abort();
        if (k < 0) {
            struct rt_error again;
            if (e.code == RT_OK || !e.msg[0])
                abort();
            rt_error_clear(&again);     /* a failed stream stays failed */
            if (rt_tls_read(&t, buf, cap, &again) != -1)
                abort();
        }
        free(c);
        off += n;
        if (k < 0)
            break;
        if (t.in_len != 0)
            abort();                /* without an error, every byte delivered is taken */
    }
    free(buf);
    EVP_CIPHER_CTX_free(v.c);
    rt_tls_rec_free(t.rec);
    rt_buf_free(&t.spill);
    return 0;
}
