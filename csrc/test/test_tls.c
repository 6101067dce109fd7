/* TLS after the handshake: our record layer (rt_tls_record.c) against an OpenSSL 3 server
 * in the same process (memory BIOs): the three suites, data both ways fed whole, byte by
 * byte and in random pieces, large writes, session tickets, key updates from the server
 * and our own, close_notify and an alert, and the fallback to OpenSSL (TLS 1.2, a context
 * without the key log). Hostile records are in test_tls_hostile.c. */
#include "rt_alloc.h"
#include "tls_pair.h"

static struct tp P;
static const struct tp_opts aes128 = {"TLS_AES_128_GCM_SHA256", 0, -1, NULL};

static bool server_says(const void *data, size_t n)
{
    return SSL_write(P.srv, data, (int)n) == (int)n;
}

/* True when the server reads exactly p[0..n) from what the client wrote. */
static bool server_reads(const unsigned char *p, size_t n)
{
    unsigned char *back = malloc(n);
    size_t got = 0;
    int k;
    bool same;

    while (back && got < n && (k = SSL_read(P.srv, back + got, 65536)) > 0)
        got += (size_t)k;
    same = back && got == n && memcmp(back, p, n) == 0;
    free(back);
    return same;
}

/* Feeds all the server wrote to the client in one piece, reading into cap bytes. */
static int feed_whole(size_t cap)
{
    size_t n;
    unsigned char *b = tp_from_server(&P, &n);
    int r = tp_feed(&P, b, n, cap);

    free(b);
    return r;
}

/* The client moved to our layer: no SSL object left, keys at sequence 0 or later. */
static bool switched(void)
{
    return P.t.ssl == NULL && P.t.rec != NULL && P.t.established;
}

static void test_suites(void)
{
    static const char *suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"};
    size_t i;

    for (i = 0; i < 3; i++) {
        struct tp_opts o = {suites[i], 0, -1, NULL};

        RT_CHECK(tp_open(&P, &o) == 0);
        RT_CHECK_STR(SSL_CIPHER_get_name(SSL_get_current_cipher(P.srv)), suites[i]);
        RT_CHECK(switched() && P.t.rec->suite == i);
        RT_CHECK(server_says("hello from the server", 21));
        RT_CHECK(tp_pump(&P, 0) == 0);      /* two session tickets, then the data */
        RT_CHECK(P.got.len == 21 && memcmp(P.got.data, "hello from the server", 21) == 0);
        RT_CHECK(tp_client_says(&P, "hello from the client", 21));
        RT_CHECK(tp_client_says(&P, "and again", 9));
        RT_CHECK(P.t.rec->seq[RT_TLS_WR] == 2 && P.t.rec->seq[RT_TLS_RD] == 3);
        tp_close(&P);
    }
}

/* A server that follows the client's order (OpenSSL's default) gets AES-128-GCM first from
 * our client, not OpenSSL's own first choice, AES-256-GCM. */
static void test_suite_order(void)
{
    struct tp_opts o = {NULL, 0, -1, NULL};

    RT_CHECK(tp_open(&P, &o) == 0);
    RT_CHECK_STR(SSL_CIPHER_get_name(SSL_get_current_cipher(P.srv)), "TLS_AES_128_GCM_SHA256");
    RT_CHECK(switched() && P.t.rec->suite == 0);
    tp_close(&P);
}

/* Nothing is read past the server's Finished: what follows it stays in the window. */
static void test_no_read_ahead(void)
{
    size_t n;
    unsigned char *flight, *in;
    int r = 0;

    memset(&P, 0, sizeof P);
    rt_buf_init(&P.got);
    P.sctx = SSL_CTX_new(TLS_server_method());
    RT_CHECK(SSL_CTX_use_certificate(P.sctx, tp_cert) == 1 &&
             SSL_CTX_use_PrivateKey(P.sctx, tp_key) == 1);
    P.srv = SSL_new(P.sctx);
    P.to_srv = BIO_new(BIO_s_mem());
    P.from_srv = BIO_new(BIO_s_mem());
    SSL_set_bio(P.srv, P.to_srv, P.from_srv);
    SSL_set_accept_state(P.srv);
    RT_CHECK(rt_tls_start(&P.t, tp_cctx, "localhost", P.out, sizeof P.out, &n, &P.err) == 0);
    tp_to_server(&P, n);
    SSL_do_handshake(P.srv);
    flight = tp_from_server(&P, &n);    /* ServerHello ... Finished */
    in = malloc(n + 7);
    memcpy(in, flight, n);
    memcpy(in + n, "\x17\x03\x03\x00\x20zz", 7);
    r = rt_tls_handshake(&P.t, in, n + 7, P.out, sizeof P.out, &n, &P.err);
    RT_CHECK(r == 1 && switched());
    RT_CHECK(P.t.in_len == 7 && memcmp(P.t.in, "\x17\x03\x03\x00\x20zz", 7) == 0);
    free(flight);
    free(in);
    tp_close(&P);
}

/* Server records (one piece, byte by byte, random pieces) and reads into a buffer that
 * holds exactly one record's plaintext. */
static void test_splits(void)
{
    static unsigned char big[50000];
    size_t i;
    int split;

    for (i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + i / 256);
    srand(42);
    for (split = 0; split < 3; split++) {
        RT_CHECK(tp_open(&P, &aes128) == 0);
        RT_CHECK(server_says("one", 3) && server_says(big, sizeof big) && server_says("two", 3));
        RT_CHECK(tp_pump(&P, split) == 0);
        RT_CHECK(P.got.len == 6 + sizeof big && memcmp(P.got.data, "one", 3) == 0 &&
                 memcmp(P.got.data + 3, big, sizeof big) == 0 &&
                 memcmp(P.got.data + 3 + sizeof big, "two", 3) == 0);
        RT_CHECK(P.t.rec->part == NULL && P.t.rec->hs_got == 0);   /* idle: nothing held */
        tp_close(&P);
    }
    RT_CHECK(tp_open(&P, &aes128) == 0);
    RT_CHECK(server_says(big, sizeof big));
    RT_CHECK(feed_whole(RT_TLS_READ_MIN) == 0);
    RT_CHECK(P.got.len == sizeof big && memcmp(P.got.data, big, sizeof big) == 0);
    tp_close(&P);
}

/* 100 KB from the client: seven records into `out`, or into spill when out is small. */
static void test_large_writes(void)
{
    static unsigned char big[100000];
    size_t i, n;

    for (i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i % 251);
    RT_CHECK(tp_open(&P, &aes128) == 0);
    RT_CHECK(rt_tls_write(&P.t, big, sizeof big, P.out, sizeof P.out, &n, &P.err) == 0);
    RT_CHECK(n == sizeof big + 7 * 22 && P.t.spill.len == 0 && tp_records(P.out, n) == 7);
    tp_to_server(&P, n);
    RT_CHECK(server_reads(big, sizeof big));
    /* a small out: the first record fits, the rest waits in spill, in order */
    RT_CHECK(rt_tls_write(&P.t, big, sizeof big, P.out, 16500, &n, &P.err) == 0);
    RT_CHECK(n == 16384 + 22 && tp_records(P.out, n) == 1 &&
             tp_records((unsigned char *)P.t.spill.data, P.t.spill.len) == 6);
    tp_to_server(&P, n);
    RT_CHECK(server_reads(big, sizeof big));
    RT_CHECK(tp_client_says(&P, big, sizeof big));
    tp_close(&P);
}

static void test_tickets(void)
{
    struct tp_opts o = {"TLS_AES_128_GCM_SHA256", 0, 4, NULL};

    RT_CHECK(tp_open(&P, &o) == 0);
    RT_CHECK(server_says("a", 1));
    RT_CHECK(SSL_new_session_ticket(P.srv) == 1 && SSL_new_session_ticket(P.srv) == 1);
    RT_CHECK(server_says("b", 1));      /* the two new tickets go before it */
    RT_CHECK(tp_pump(&P, 2) == 0);
    RT_CHECK(P.got.len == 2 && memcmp(P.got.data, "ab", 2) == 0);
    RT_CHECK(P.t.rec->seq[RT_TLS_RD] == 8);     /* 6 tickets, 2 data records */
    RT_CHECK(tp_client_says(&P, "thanks", 6));
    tp_close(&P);
}

/* The server updates its key, with and without asking us to update ours. */
static void test_server_key_update(void)
{
    RT_CHECK(tp_open(&P, &aes128) == 0);
    RT_CHECK(tp_client_says(&P, "before", 6));
    RT_CHECK(SSL_key_update(P.srv, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
    RT_CHECK(server_says("after", 5));
    RT_CHECK(tp_pump(&P, 0) == 0);
    RT_CHECK(P.got.len == 5 && memcmp(P.got.data, "after", 5) == 0);
    RT_CHECK(P.t.rec->seq[RT_TLS_RD] == 1 && P.t.spill.len == 0);  /* no answer owed */
    RT_CHECK(tp_client_says(&P, "back", 4) && P.t.rec->seq[RT_TLS_WR] == 2);

    rt_buf_reset(&P.got);
    RT_CHECK(SSL_key_update(P.srv, SSL_KEY_UPDATE_REQUESTED) == 1);
    RT_CHECK(server_says("update yours", 12));
    RT_CHECK(feed_whole(65536) == 0);
    RT_CHECK(P.got.len == 12 && memcmp(P.got.data, "update yours", 12) == 0);
    /* our KeyUpdate went to spill under the old key; the new write key starts at 0 */
    RT_CHECK(P.t.spill.len == 5 + 6 + 16 && P.t.rec->seq[RT_TLS_WR] == 0);
    tp_to_server(&P, 0);
    RT_CHECK(tp_client_says(&P, "updated", 7) && P.t.rec->seq[RT_TLS_WR] == 1);
    RT_CHECK(server_says("still here", 10));
    rt_buf_reset(&P.got);
    RT_CHECK(tp_pump(&P, 1) == 0);
    RT_CHECK(P.got.len == 10 && memcmp(P.got.data, "still here", 10) == 0);
    tp_close(&P);
}

/* Our own KeyUpdate when a write key has sealed the limit (3 here): the server reads on. */
static void test_own_key_update(void)
{
    static unsigned char big[100000];
    size_t i, n;

    for (i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i % 253);
    RT_CHECK(tp_open(&P, &aes128) == 0);
    rt_tls_rec_set_limit(3);
    RT_CHECK(rt_tls_write(&P.t, big, sizeof big, P.out, sizeof P.out, &n, &P.err) == 0);
    /* 3 data records, KeyUpdate, 3 more, KeyUpdate, the last one under the third key */
    RT_CHECK(tp_records(P.out, n) == 9 && n == sizeof big + 7 * 22 + 2 * 27);
    RT_CHECK(P.t.rec->seq[RT_TLS_WR] == 1);
    tp_to_server(&P, n);
    RT_CHECK(server_reads(big, sizeof big));
    for (i = 0; i < 5; i++)
        RT_CHECK(tp_client_says(&P, "small", 5));
    rt_tls_rec_set_limit(0);
    RT_CHECK(server_says("ok", 2) && tp_pump(&P, 0) == 0 && P.got.len == 2);
    tp_close(&P);
}

/* close_notify after data: the data first, then the end (and again on the next call). */
static void test_close_notify(void)
{
    unsigned char buf[RT_TLS_READ_MIN];

    RT_CHECK(tp_open(&P, &aes128) == 0);
    RT_CHECK(server_says("bye", 3));
    RT_CHECK(SSL_shutdown(P.srv) == 0);
    RT_CHECK(tp_pump(&P, 0) == -1);
    RT_CHECK(P.got.len == 3 && memcmp(P.got.data, "bye", 3) == 0);
    RT_CHECK(P.err.code == RT_ECLOSED);
    RT_CHECK_STR(P.err.msg, "connection lost: the server ended TLS");
    rt_error_clear(&P.err);
    RT_CHECK(rt_tls_read(&P.t, buf, sizeof buf, &P.err) == -1 && P.err.code == RT_ECLOSED);
    tp_close(&P);
}

/* The server rejects a record we damaged and says so with an alert. */
static void test_server_alert(void)
{
    size_t n;

    RT_CHECK(tp_open(&P, &aes128) == 0);
    RT_CHECK(tp_pump(&P, 0) == 0);      /* the tickets */
    RT_CHECK(rt_tls_write(&P.t, (const unsigned char *)"x", 1, P.out, sizeof P.out, &n,
                          &P.err) == 0);
    P.out[6] ^= 1;
    tp_to_server(&P, n);
    RT_CHECK(SSL_read(P.srv, P.out, 10) <= 0);
    ERR_clear_error();
    RT_CHECK(tp_pump(&P, 0) == -1 && P.err.code == RT_ETLS);
    RT_CHECK_STR(P.err.msg, "TLS alert from localhost: bad record mac (20)");
    tp_close(&P);
}

/* TLS 1.2, and a context without our key log: OpenSSL keeps the connection. */
static void test_fallback(void)
{
    struct tp_opts tls12 = {NULL, TLS1_2_VERSION, -1, NULL};
    struct tp_opts nolog = aes128;
    SSL_CTX *plain = SSL_CTX_new(TLS_client_method());

    RT_CHECK(tp_open(&P, &tls12) == 0);
    RT_CHECK(P.t.ssl != NULL && P.t.rec == NULL && SSL_version(P.t.ssl) == TLS1_2_VERSION);
    RT_CHECK(server_says("twelve", 6) && tp_pump(&P, 1) == 0);
    RT_CHECK(P.got.len == 6 && memcmp(P.got.data, "twelve", 6) == 0);
    RT_CHECK(tp_client_says(&P, "back", 4));
    tp_close(&P);

    RT_CHECK(plain && SSL_CTX_load_verify_locations(plain, tp_ca, NULL) == 1);
    SSL_CTX_set_verify(plain, SSL_VERIFY_PEER, NULL);
    nolog.cctx = plain;
    RT_CHECK(tp_open(&P, &nolog) == 0);
    RT_CHECK(P.t.ssl != NULL && P.t.rec == NULL && SSL_version(P.t.ssl) == TLS1_3_VERSION);
    RT_CHECK(server_says("thirteen", 8) && tp_pump(&P, 2) == 0);
    RT_CHECK(P.got.len == 8 && memcmp(P.got.data, "thirteen", 8) == 0);
    RT_CHECK(tp_client_says(&P, "back", 4));
    tp_close(&P);
    SSL_CTX_free(plain);
}

/* A wrong certificate still fails in the handshake, as before. */
static void test_verify_still_fails(void)
{
    struct tp_opts o = aes128;
    SSL_CTX *other = SSL_CTX_new(TLS_client_method());

    SSL_CTX_set_verify(other, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_keylog_callback(other, rt_tls_keylog);
    o.cctx = other;
    RT_CHECK(tp_open(&P, &o) == -1 && P.err.code == RT_ETLS && P.t.rec == NULL);
    RT_CHECK(strstr(P.err.msg, "TLS certificate of localhost rejected") != NULL);
    tp_close(&P);
    SSL_CTX_free(other);
}

/* Out of memory: for the secrets, the connection stays with OpenSSL; for a cut record or
 * output that goes to spill, the call fails with "nomem". */
static void test_out_of_memory(void)
{
    size_t n;
    unsigned char *b;

    rt_alloc_fail_after(0);
    RT_CHECK(tp_open(&P, &aes128) == 0);
    rt_alloc_fail_after(-1);
    RT_CHECK(P.t.ssl != NULL && P.t.rec == NULL);
    RT_CHECK(server_says("still", 5) && tp_pump(&P, 0) == 0 && P.got.len == 5);
    RT_CHECK(tp_client_says(&P, "fine", 4));
    tp_close(&P);

    RT_CHECK(tp_open(&P, &aes128) == 0 && switched());
    RT_CHECK(tp_pump(&P, 0) == 0);      /* the tickets */
    RT_CHECK(server_says("cut in two", 10));
    b = tp_from_server(&P, &n);
    rt_alloc_fail_after(0);
    RT_CHECK(tp_feed(&P, b, n / 2, 65536) == -1 && P.err.code == RT_ENOMEM);
    RT_CHECK_STR(P.err.msg, "out of memory for a TLS record from localhost");
    rt_error_clear(&P.err);
    RT_CHECK(rt_tls_write(&P.t, b, n, P.out, 10, &n, &P.err) == -1 && P.err.code == RT_ENOMEM);
    rt_alloc_fail_after(-1);
    RT_CHECK_STR(P.err.msg, "out of memory for TLS output to localhost");
    free(b);
    tp_close(&P);
}

int main(void)
{
    if (tp_init()) {
        printf("# cannot make the test certificate\n");
        return 1;
    }
    RT_RUN(test_suites);
    RT_RUN(test_suite_order);
    RT_RUN(test_no_read_ahead);
    RT_RUN(test_splits);
    RT_RUN(test_large_writes);
    RT_RUN(test_tickets);
    RT_RUN(test_server_key_update);
    RT_RUN(test_own_key_update);
    RT_RUN(test_close_notify);
    RT_RUN(test_server_alert);
    RT_RUN(test_fallback);
    RT_RUN(test_verify_still_fails);
    RT_RUN(test_out_of_memory);
    tp_fini();
    return rt_test_done();
}
