/* Our TLS 1.3 record layer against records an OpenSSL server never sends, sealed with the
 * server's traffic key by a forger written here from RFC 8446 (TLS_AES_128_GCM_SHA256,
 * no session tickets, so its first record has sequence number 0): a bad tag, outer type,
 * version or length, no content type, too much plaintext, unknown inner and handshake
 * types, an alert, a handshake message split over records, and one interrupted. */
#include "tls_pair.h"

static struct tp P;
static const struct tp_opts quiet = {"TLS_AES_128_GCM_SHA256", 0, 0, NULL};

/* ---- the forger: TLS_AES_128_GCM_SHA256 records under the server's first key ---- */

struct tp_forge {
    unsigned char key[16], iv[12];
    uint64_t seq;
};

/* HKDF-Expand-Label for outputs of one SHA-256 block, written from RFC 8446 §7.1. */
static int tp_expand(const unsigned char *secret, const char *label, unsigned char *out,
                     size_t n)
{
    unsigned char info[64], md[32];
    unsigned int mdlen = 0;
    size_t l = strlen(label), k = 0;

    info[k++] = 0;
    info[k++] = (unsigned char)n;
    info[k++] = (unsigned char)(6 + l);
    memcpy(info + k, "tls13 ", 6);
    memcpy(info + k + 6, label, l);
    k += 6 + l;
    info[k++] = 0;                      /* empty context */
    info[k++] = 1;                      /* T(1) */
    if (!HMAC(EVP_sha256(), secret, 32, info, k, md, &mdlen) || mdlen != 32)
        return -1;
    memcpy(out, md, n);
    return 0;
}

static int tp_forge_init(struct tp_forge *f)
{
    f->seq = 0;
    return tp_srv_secret_len == 32 && !tp_expand(tp_srv_secret, "key", f->key, 16) &&
           !tp_expand(tp_srv_secret, "iv", f->iv, 12) ? 0 : -1;
}

/* Seals inner[0..n) (content, type, padding) as the next record at dst, with outer type
 * `outer` and version 0x0303; returns the record's length. */
static size_t tp_forge(struct tp_forge *f, unsigned char *dst, unsigned char outer,
                       const unsigned char *inner, size_t n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char nonce[12];
    int a, i;
    size_t clen = n + 16;

    memcpy(nonce, f->iv, 12);
    for (i = 0; i < 8; i++)
        nonce[4 + i] ^= (unsigned char)(f->seq >> (56 - 8 * i));
    dst[0] = outer;
    dst[1] = dst[2] = 3;
    dst[3] = (unsigned char)(clen >> 8);
    dst[4] = (unsigned char)clen;
    if (!c || EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, f->key, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &a, dst, 5) != 1 ||
        EVP_EncryptUpdate(c, dst + 5, &a, inner, (int)n) != 1 ||
        EVP_EncryptFinal_ex(c, dst + 5 + n, &a) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, dst + 5 + n) != 1)
        clen = 0;
    EVP_CIPHER_CTX_free(c);
    f->seq++;
    return clen ? 5 + clen : 0;
}

static struct tp_forge F;
static unsigned char rec[2 * RT_TLS_REC_MAX];

/* A fresh connection and forger; false when either could not be made. */
static bool fresh(void)
{
    return tp_open(&P, &quiet) == 0 && P.t.rec != NULL && tp_forge_init(&F) == 0;
}

/* Feeds rec[0..n) to the client: true when it failed with `code` and message `msg`. */
static bool refused(size_t n, enum rt_code code, const char *msg)
{
    int r = tp_feed(&P, rec, n, 65536);

    if (r == 0 || P.err.code != code || strcmp(P.err.msg, msg) != 0) {
        printf("# got %d, %d \"%s\"\n", r, P.err.code, P.err.msg);
        return false;
    }
    return true;
}

/* A fresh connection fed one forged record (outer type `outer`, inner plaintext
 * inner[0..n)): true when it fails with RT_ETLS and message msg. */
static bool refuses_record(unsigned char outer, const char *inner, size_t n, const char *msg)
{
    bool ok = fresh();

    if (ok)
        ok = refused(tp_forge(&F, rec, outer, (const unsigned char *)inner, n), RT_ETLS, msg);
    tp_close(&P);
    return ok;
}

/* The forger is right: its records read as data, padding and all. */
static void test_forged_data(void)
{
    size_t n;

    RT_CHECK(fresh());
    n = tp_forge(&F, rec, 23, (const unsigned char *)"ok\x17", 3);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"padded\x17\0\0\0\0", 11);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"\x17", 1);       /* empty data */
    RT_CHECK(tp_feed(&P, rec, n, 65536) == 0);
    RT_CHECK(P.got.len == 8 && memcmp(P.got.data, "okpadded", 8) == 0);
    RT_CHECK(P.t.rec->seq[RT_TLS_RD] == 3);
    tp_close(&P);
}

static void test_bad_tag(void)
{
    size_t n;

    RT_CHECK(fresh());
    n = tp_forge(&F, rec, 23, (const unsigned char *)"ok\x17", 3);
    rec[n - 1] ^= 0x80;
    RT_CHECK(refused(n, RT_ETLS, "TLS record from localhost failed its integrity check "
                                 "(bad record MAC)"));
    /* it stays failed */
    rt_error_clear(&P.err);
    RT_CHECK(refused(0, RT_ETLS, "TLS with localhost failed earlier"));
    tp_close(&P);

    RT_CHECK(fresh());              /* a record sealed with the wrong sequence number */
    F.seq = 1;
    n = tp_forge(&F, rec, 23, (const unsigned char *)"ok\x17", 3);
    RT_CHECK(refused(n, RT_ETLS, "TLS record from localhost failed its integrity check "
                                 "(bad record MAC)"));
    tp_close(&P);
}

static void test_bad_headers(void)
{
    size_t n;

    RT_CHECK(refuses_record(22, "ok\x17", 3, "TLS record from localhost refused: outer "
                            "content type 22 (only application data, 23, may follow the "
                            "handshake)"));

    RT_CHECK(fresh());
    n = tp_forge(&F, rec, 23, (const unsigned char *)"ok\x17", 3);
    rec[2] = 1;
    RT_CHECK(refused(n, RT_ETLS, "TLS record from localhost refused: version 0x0301 "
                                 "(0x0303 expected)"));
    tp_close(&P);

    RT_CHECK(fresh());              /* refused on its header: the body need not come */
    memcpy(rec, "\x17\x03\x03\x41\x01", 5);
    RT_CHECK(refused(5, RT_ETLS, "TLS record from localhost refused: 16641 bytes, more "
                                 "than the 16,640 allowed"));
    tp_close(&P);

    RT_CHECK(fresh());
    memcpy(rec, "\x17\x03\x03\x00\x0f", 5);
    RT_CHECK(refused(5, RT_ETLS, "TLS record from localhost refused: 15 bytes, shorter "
                                 "than its authentication tag"));
    tp_close(&P);
}

static void test_bad_plaintext(void)
{
    static unsigned char big[16384 + 2];
    size_t n;

    RT_CHECK(refuses_record(23, "\0\0\0", 3, "TLS record from localhost refused: no "
                            "content type (all zero)"));

    RT_CHECK(fresh());
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = 23;
    n = tp_forge(&F, rec, 23, big, sizeof big);
    RT_CHECK(refused(n, RT_ETLS, "TLS record from localhost refused: 16386 bytes of "
                                 "plaintext, more than the 16,385 allowed"));
    tp_close(&P);

    RT_CHECK(fresh());              /* 2^14 bytes of data is the most, and it is read */
    big[sizeof big - 2] = 23;
    n = tp_forge(&F, rec, 23, big, sizeof big - 1);
    RT_CHECK(tp_feed(&P, rec, n, RT_TLS_READ_MIN) == 0 && P.got.len == 16384);
    tp_close(&P);

    RT_CHECK(refuses_record(23, "ok\x18", 3, "TLS record from localhost refused: inner "
                            "content type 24"));
}

static void test_handshake_messages(void)
{
    /* a NewSessionTicket split over two records, another whole, then data */
    static const unsigned char nst1[] = {4, 0, 0, 6, 'a', 22};
    static const unsigned char nst2[] = {'b', 'c', 'd', 'e', 'f', 4, 0, 0, 1, 'x', 22};
    size_t n;

    RT_CHECK(fresh());
    n = tp_forge(&F, rec, 23, nst1, sizeof nst1);
    n += tp_forge(&F, rec + n, 23, nst2, sizeof nst2);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"data\x17", 5);
    RT_CHECK(tp_feed(&P, rec, n, 65536) == 0);
    RT_CHECK(P.got.len == 4 && memcmp(P.got.data, "data", 4) == 0 && P.t.rec->hs_got == 0);
    tp_close(&P);

    RT_CHECK(fresh());              /* data inside a handshake message */
    n = tp_forge(&F, rec, 23, nst1, sizeof nst1);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"data\x17", 5);
    RT_CHECK(refused(n, RT_ETLS, "TLS record from localhost refused: content type 23 inside "
                                 "a handshake message"));
    tp_close(&P);

    /* CertificateRequest: we offered no post-handshake auth */
    RT_CHECK(refuses_record(23, "\x0d\0\0\0\x16", 5, "TLS message from localhost refused: "
                            "handshake message type 13 after the handshake"));
    RT_CHECK(refuses_record(23, "\x18\0\0\x01\x02\x16", 6, "TLS message from localhost "
                            "refused: a KeyUpdate with a bad request_update"));
    /* a key change must end its record */
    RT_CHECK(refuses_record(23, "\x18\0\0\x01\0\x04\x16", 7, "TLS message from localhost "
                            "refused: data after a KeyUpdate in its record"));
    RT_CHECK(refuses_record(23, "\x16", 1, "TLS record from localhost refused: an empty "
                            "handshake record"));
}

static void test_alerts(void)
{
    size_t n;

    RT_CHECK(fresh());              /* data, then a fatal alert: the data comes first */
    n = tp_forge(&F, rec, 23, (const unsigned char *)"last\x17", 5);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"\x02\x50\x15", 3);
    RT_CHECK(refused(n, RT_ETLS, "TLS alert from localhost: internal error (80)"));
    RT_CHECK(P.got.len == 4 && memcmp(P.got.data, "last", 4) == 0);
    tp_close(&P);

    RT_CHECK(fresh());              /* user_canceled is let pass; close_notify ends */
    n = tp_forge(&F, rec, 23, (const unsigned char *)"\x01\x5a\x15", 3);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"more\x17", 5);
    n += tp_forge(&F, rec + n, 23, (const unsigned char *)"\x01\x00\x15", 3);
    RT_CHECK(refused(n, RT_ECLOSED, "connection lost: the server ended TLS"));
    RT_CHECK(P.got.len == 4 && memcmp(P.got.data, "more", 4) == 0);
    tp_close(&P);

    RT_CHECK(refuses_record(23, "\x02\x50\x00\x15", 4, "TLS record from localhost "
                            "refused: an alert of 3 bytes"));
}

/* TLS 1.3 alerts OpenSSL 3.0 has no name for are named all the same: a server that wants a
 * client certificate sends certificate_required after the client's Finished. */
static void test_alert_names(void)
{
    RT_CHECK(refuses_record(23, "\x02\x74\x15", 3,
                            "TLS alert from localhost: certificate required (116)"));
    RT_CHECK(refuses_record(23, "\x02\x6d\x15", 3,
                            "TLS alert from localhost: missing extension (109)"));
    RT_CHECK(refuses_record(23, "\x02\x56\x15", 3,
                            "TLS alert from localhost: inappropriate fallback (86)"));
    RT_CHECK(refuses_record(23, "\x02\x78\x15", 3,
                            "TLS alert from localhost: no application protocol (120)"));
    RT_CHECK(refuses_record(23, "\x02\xc8\x15", 3, "TLS alert from localhost: unknown (200)"));
}

int main(void)
{
    if (tp_init()) {
        printf("# cannot make the test certificate\n");
        return 1;
    }
    RT_RUN(test_forged_data);
    RT_RUN(test_bad_tag);
    RT_RUN(test_bad_headers);
    RT_RUN(test_bad_plaintext);
    RT_RUN(test_handshake_messages);
    RT_RUN(test_alerts);
    RT_RUN(test_alert_names);
    tp_fini();
    return rt_test_done();
}
