/* rt_jwt: JSON quoting, RS256 signatures checked with the public key (the base64url
 * parts decoded by OpenSSL, independently of rt_base64). */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "rt_alloc.h"
#include "rt_jwt.h"
#include "rt_test.h"
#include "secret_watch.h"

static EVP_PKEY *key;
static char *key_pem;

static char *pem_of(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1) return NULL;
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

/* Decodes unpadded base64url into out; returns the byte count, or -1. */
static int b64url_decode(const char *in, size_t n, unsigned char *out)
{
    char buf[4096];
    if (n + 4 > sizeof buf) return -1;
    size_t i;
    for (i = 0; i < n; i++) buf[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    size_t pad = (4 - n % 4) % 4;
    for (size_t k = 0; k < pad; k++) buf[i++] = '=';
    int len = EVP_DecodeBlock(out, (const unsigned char *)buf, (int)i);
    return len < 0 ? -1 : len - (int)pad;
}

static void test_json_quote(void)
{
    char out[64];
    rt_jwt_json_quote("a\"b\\c\n\x01\xc3\xa9", out);
    RT_CHECK_STR(out, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"");
}

/* Splits a compact JWT, checks the signature with the public key and returns the
 * decoded header and claims. */
static int verify(const char *jwt, char *header, char *claims)
{
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.')) return -1;
    int hn = b64url_decode(jwt, (size_t)(d1 - jwt), (unsigned char *)header);
    int cn = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), (unsigned char *)claims);
    unsigned char sig[1024];
    int sn = b64url_decode(d2 + 1, strlen(d2 + 1), sig);
    if (hn < 0 || cn < 0 || sn < 0) return -1;
    header[hn] = claims[cn] = '\0';
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1
             && EVP_DigestVerify(md, sig, (size_t)sn, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static void test_assertion_claims_and_signature(void)
{
    struct rt_jwt_claims c = {
        .iss = "sa@proj.iam.gserviceaccount.com", .scope = "https://www.googleapis.com/auth/cloud-platform",
        .aud = "https://oauth2.googleapis.com/token", .kid = "abc123", .iat = 1700000000, .exp = 1700003600,
    };
    char *jwt = NULL;
    struct rt_error err = { RT_OK, "" };
    RT_CHECK(rt_jwt_assertion(&c, key_pem, &jwt, &err) == 0);
    char header[1024], claims[2048];
    RT_CHECK(jwt && verify(jwt, header, claims) == 0);
    RT_CHECK_STR(header, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"abc123\"}");
    RT_CHECK_STR(claims, "{\"iss\":\"sa@proj.iam.gserviceaccount.com\",\"scope\":\"https://www.googleapis.com/auth/cloud-platform\","
                         "\"aud\":\"https://oauth2.googleapis.com/token\",\"iat\":1700000000,\"exp\":1700003600}");
    /* a flipped signature byte fails verification */
    size_t n = strlen(jwt);
    jwt[n - 2] = jwt[n - 2] == 'A' ? 'B' : 'A';
    RT_CHECK(verify(jwt, header, claims) != 0);
    rt_free(jwt);

    c.kid = NULL;
    c.sub = "user@example.com";
    RT_CHECK(rt_jwt_assertion(&c, key_pem, &jwt, &err) == 0);
    RT_CHECK(jwt && verify(jwt, header, claims) == 0);
    RT_CHECK_STR(header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    RT_CHECK(strstr(claims, "\"sub\":\"user@example.com\",\"scope\"") != NULL);
    rt_free(jwt);
}

/* The signature is what makes the assertion worth a token: its bytes are wiped before
 * the memory that held them is freed (RS256 signs the same input the same way, so the
 * first signature is what the second one's memory would hold). */
static void test_signature_wiped(void)
{
    char *jwt = NULL, header[1024], claims[2048];
    unsigned char sig[1024];
    struct rt_error err = { RT_OK, "" };

    RT_CHECK(rt_jwt_sign_rs256(key_pem, "{\"alg\":\"RS256\"}", "{\"iss\":\"x\"}", &jwt, &err) == 0);
    RT_CHECK(jwt && verify(jwt, header, claims) == 0);
    const char *d2 = jwt ? strrchr(jwt, '.') : NULL;
    int sn = d2 ? b64url_decode(d2 + 1, strlen(d2 + 1), sig) : -1;
    RT_CHECK(sn >= 256);
    rt_free(jwt);
    jwt = NULL;
    if (sn < 256)
        return;
    secret_watch(sig, (size_t)sn);
    RT_CHECK(rt_jwt_sign_rs256(key_pem, "{\"alg\":\"RS256\"}", "{\"iss\":\"x\"}", &jwt, &err) == 0);
    if (jwt)
        memset(jwt, 0, strlen(jwt));
    rt_free(jwt);
    RT_CHECK(secret_watch_end() == 0);
}

static void test_bad_keys(void)
{
    struct rt_jwt_claims c = { .iss = "a", .scope = "s", .aud = "https://x/token", .iat = 1, .exp = 2 };
    char *jwt = NULL;
    struct rt_error err = { RT_OK, "" };
    const char *junk = "-----BEGIN PRIVATE KEY-----\nMIIBVwIBADANBgkqhkiG9w0BSECRET\n-----END PRIVATE KEY-----\n";
    RT_CHECK(rt_jwt_assertion(&c, junk, &jwt, &err) == -1);
    RT_CHECK(jwt == NULL);
    RT_CHECK(err.code == RT_EAUTH);
    RT_CHECK_STR(err.msg, "the private key is not a PEM-encoded, unencrypted RSA key");
    RT_CHECK(strstr(err.msg, "SECRET") == NULL);

    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *ec_pem = ec ? pem_of(ec) : NULL;
    rt_error_clear(&err);
    RT_CHECK(ec_pem && rt_jwt_assertion(&c, ec_pem, &jwt, &err) == -1);
    RT_CHECK_STR(err.msg, "the private key is not an RSA key (RS256 needs one)");
    free(ec_pem);
    EVP_PKEY_free(ec);

    rt_error_clear(&err);
    c.aud = NULL;
    RT_CHECK(rt_jwt_assertion(&c, key_pem, &jwt, &err) == -1);
    RT_CHECK(err.code == RT_EINVAL);
}

static void test_allocation_failures(void)
{
    struct rt_jwt_claims c = { .iss = "a@b", .scope = "s", .aud = "https://x/token", .iat = 1, .exp = 2 };
    int ok = 0, nomem = 0, other = 0;
    for (long n = 0; n < 12; n++) {
        char *jwt = NULL;
        struct rt_error err = { RT_OK, "" };
        rt_alloc_fail_after(n);
        int rc = rt_jwt_assertion(&c, key_pem, &jwt, &err);
        rt_alloc_fail_after(-1);
        if (rc == 0) ok++, rt_free(jwt);
        else if (err.code == RT_ENOMEM && jwt == NULL) nomem++;
        else other++;
    }
    RT_CHECK(nomem > 0 && ok > 0 && other == 0);
}

int main(void)
{
    key = EVP_RSA_gen(2048);
    key_pem = key ? pem_of(key) : NULL;
    if (!key_pem) {
        printf("not ok 1 - could not generate an RSA key\n");
        return 1;
    }
    RT_RUN(test_json_quote);
    RT_RUN(test_assertion_claims_and_signature);
    RT_RUN(test_signature_wiped);
    RT_RUN(test_bad_keys);
    RT_RUN(test_allocation_failures);
    free(key_pem);
    EVP_PKEY_free(key);
    return rt_test_done();
}
