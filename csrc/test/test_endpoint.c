/* Endpoints: exact URLs and headers for every backend and credential form. */
#include "rt_alloc.h"
#include "rt_endpoint.h"
#include "rt_version.h"
#include "rt_test.h"
#include "secret_watch.h"

#define UA "realtime-lua/" RT_VERSION

static const char *hdr(const struct rt_endpoint *ep, const char *name)
{
    size_t i;

    for (i = 0; i < ep->nheaders; i++)
        if (strcmp(ep->headers[i].name, name) == 0)
            return ep->headers[i].value;
    return NULL;
}

static void test_gemini_key(void)
{
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "AIzaSECRET" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "wss://generativelanguage.googleapis.com/ws/"
                         "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent");
    RT_CHECK(strstr(ep.url, "AIza") == NULL);
    RT_CHECK_STR(hdr(&ep, "x-goog-api-key"), "AIzaSECRET");
    RT_CHECK_STR(hdr(&ep, "user-agent"), UA);
    RT_CHECK_STR(hdr(&ep, "x-goog-api-client"), UA);
    RT_CHECK(hdr(&ep, "authorization") == NULL);
    RT_CHECK(ep.nheaders == 3);
    rt_endpoint_free(&ep);
}

static void test_gemini_ephemeral(void)
{
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "auth_tokens/abc" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "wss://generativelanguage.googleapis.com/ws/google.ai."
                         "generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained");
    RT_CHECK_STR(hdr(&ep, "authorization"), "Token auth_tokens/abc");
    RT_CHECK(hdr(&ep, "x-goog-api-key") == NULL);
    rt_endpoint_free(&ep);
}

static void test_gemini_base_url(void)
{
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "k",
                                     .base_url = "http://127.0.0.1:8080/", .api_version = "v1" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "ws://127.0.0.1:8080/ws/google.ai.generativelanguage.v1."
                         "GenerativeService.BidiGenerateContent");
    rt_endpoint_free(&ep);
    o.base_url = "https://proxy.example/prefix//";
    o.api_version = NULL;
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "wss://proxy.example/prefix/ws/google.ai.generativelanguage.v1beta."
                         "GenerativeService.BidiGenerateContent");
    rt_endpoint_free(&ep);
    o.base_url = "wss://h:1";
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK(strncmp(ep.url, "wss://h:1/ws/", 13) == 0);
    rt_endpoint_free(&ep);
}

static void test_vertex_bearer(void)
{
    struct rt_endpoint_options o = { .backend = RT_BACKEND_VERTEX, .access_token = "ya29.tok",
                                     .project = "p", .location = "us-central1",
                                     .quota_project = "billing-p" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "wss://us-central1-aiplatform.googleapis.com/ws/"
                         "google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent");
    RT_CHECK_STR(hdr(&ep, "authorization"), "Bearer ya29.tok");
    RT_CHECK_STR(hdr(&ep, "x-goog-user-project"), "billing-p");
    RT_CHECK(hdr(&ep, "x-goog-api-key") == NULL);
    rt_endpoint_free(&ep);
}

static void test_vertex_hosts(void)
{
    static const char *const cases[][2] = {
        { "global", "wss://aiplatform.googleapis.com/ws/" },
        { "us", "wss://aiplatform.us.rep.googleapis.com/ws/" },
        { "eu", "wss://aiplatform.eu.rep.googleapis.com/ws/" },
        { "europe-west4", "wss://europe-west4-aiplatform.googleapis.com/ws/" },
    };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_VERTEX, .access_token = "t" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        o.location = cases[i][0];
        RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
        RT_CHECK(ep.url && strncmp(ep.url, cases[i][1], strlen(cases[i][1])) == 0);
        if (ep.url && strncmp(ep.url, cases[i][1], strlen(cases[i][1])) != 0)
            printf("# %s -> %s\n", cases[i][0], ep.url);
        rt_endpoint_free(&ep);
    }
    o.location = NULL;
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK(strncmp(ep.url, "wss://aiplatform.googleapis.com/ws/", 35) == 0);
    rt_endpoint_free(&ep);
}

static void test_vertex_express(void)
{
    struct rt_endpoint_options o = { .backend = RT_BACKEND_VERTEX, .api_key = "vkey",
                                     .location = "us-central1" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "wss://aiplatform.googleapis.com/ws/"
                         "google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent");
    RT_CHECK_STR(hdr(&ep, "x-goog-api-key"), "vkey");
    RT_CHECK(hdr(&ep, "authorization") == NULL);
    rt_endpoint_free(&ep);
}

/* The caller's own Authorization header is an OAuth credential: the regional host, the
 * header as given, no key header; without it and without a token or key, "auth". */
static void test_vertex_user_authorization(void)
{
    struct rt_header extra[] = { { "Authorization", "Bearer mine" } };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_VERTEX, .project = "p",
                                     .location = "us-central1", .headers = extra,
                                     .nheaders = 1 };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(ep.url, "wss://us-central1-aiplatform.googleapis.com/ws/"
                         "google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent");
    RT_CHECK_STR(hdr(&ep, "Authorization"), "Bearer mine");
    RT_CHECK(hdr(&ep, "x-goog-api-key") == NULL);
    rt_endpoint_free(&ep);
    o.nheaders = 0;
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1);
    RT_CHECK(err.code == RT_EAUTH);
    /* a host whose tokens come from rt_session_options.auth learns what to pass here */
    RT_CHECK(strstr(err.msg, "or a placeholder access_token when the session's .auth "
                             "gives the tokens") != NULL);
    RT_CHECK(ep.url == NULL);
    rt_endpoint_free(&ep);
}

static void test_extra_headers(void)
{
    struct rt_header extra[] = { { "x-custom", "1" }, { "User-Agent", "mine/2" } };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "k",
                                     .headers = extra, .nheaders = 2 };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(hdr(&ep, "x-custom"), "1");
    RT_CHECK_STR(hdr(&ep, "user-agent"), "mine/2"); /* same name: the caller's wins */
    RT_CHECK(ep.nheaders == 4);
    rt_endpoint_free(&ep);
}

static void test_rejects(void)
{
    struct rt_header crlf[] = { { "x-a", "1\r\nInjected: yes" } };
    struct rt_header badname[] = { { "x a", "1" } };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "k" };
    struct rt_endpoint ep;
    struct rt_error err = { 0 };

    o.headers = crlf;
    o.nheaders = 1;
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EINVAL);
    rt_endpoint_free(&ep);
    rt_error_clear(&err);
    o.headers = badname;
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EINVAL);
    rt_endpoint_free(&ep);
    rt_error_clear(&err);
    o.headers = NULL;
    o.nheaders = 0;
    o.api_key = "bad\nkey";
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK(strstr(err.msg, "bad") == NULL); /* no secret in the message */
    rt_endpoint_free(&ep);
    rt_error_clear(&err);
    o.api_key = NULL;
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EAUTH);
    rt_endpoint_free(&ep);
    rt_error_clear(&err);
    o.api_key = "k";
    o.base_url = "ftp://x";
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EINVAL);
    rt_endpoint_free(&ep);
    rt_error_clear(&err);
    o.base_url = "https://x/?q=1";
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EINVAL);
    rt_endpoint_free(&ep);
    rt_error_clear(&err);
    o.base_url = NULL;
    o.backend = RT_BACKEND_VERTEX;
    o.access_token = "t";
    o.location = "us/../evil";
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == -1 && err.code == RT_EINVAL);
    rt_endpoint_free(&ep);
}

/* rt_endpoint_check: each refusal names the option and what is wrong, never a secret. */
static void test_check_messages(void)
{
    static const struct {
        const char *base_url, *api_key, *want;
    } cases[] = {
        { "ftp://x", "k", "option 'base_url': the scheme 'ftp' is not supported" },
        { "file:///etc/passwd", "k", "option 'base_url': the scheme 'file' is not supported" },
        { "example.com", "k", "option 'base_url': expected a URL starting with http://" },
        { "http://a b", "k", "option 'base_url': contains a space" },
        { "http://a\r\nb", "k", "option 'base_url': contains a control character" },
        { "https://", "k", "option 'base_url': has no host" },
        { "https://x/?q=1", "k", "option 'base_url': has a query or fragment" },
        { "https://me:pw-secret@x", "k", "option 'base_url': has user information" },
        { "http://x:0", "k", "option 'base_url': has an invalid port" },
        { "http://x:65536", "k", "option 'base_url': has an invalid port" },
        { "http://[::1", "k", "option 'base_url': has an unterminated IPv6 address" },
        { "http://[::1]x", "k", "option 'base_url': has junk after the IPv6 address" },
        { "https://[zz]/", "k", "option 'base_url': has an invalid IPv6 address" },
        { "https://[::1:]/", "k", "option 'base_url': has an invalid IPv6 address" },
        { "https://[]/", "k", "option 'base_url': has no host" },
        { "https://x:+443/", "k", "option 'base_url': has an invalid port (1 to 65535)" },
        { "https://a\\b/x", "k", "option 'base_url': has an invalid host name" },
        { "https://a{b}", "k", "option 'base_url': has an invalid host name" },
        { "https://x/a\"b", "k", "option 'base_url': has a character a URL path cannot hold" },
        { "https://x/a<b>", "k", "option 'base_url': has a character a URL path cannot hold" },
        { NULL, "key-secret\r\nX: y", "option 'api_key': contains CR, LF" },
        { NULL, "key-secret\xc2\xa0", "option 'api_key': contains a byte outside ASCII" },
        { NULL, "\xe2\x80\x9ckey-secret\xe2\x80\x9d", "option 'api_key': contains a byte outside ASCII" },
    };
    struct rt_header bad_value[] = { { "x-extra", "a\nb" } };
    struct rt_header bad_name[] = { { "bad name", "v" } };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI };
    struct rt_error err;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        o.base_url = cases[i].base_url;
        o.api_key = cases[i].api_key;
        rt_error_clear(&err);
        RT_CHECK(rt_endpoint_check(&o, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK(strncmp(err.msg, cases[i].want, strlen(cases[i].want)) == 0);
        RT_CHECK(strstr(err.msg, "secret") == NULL);
    }
    o.base_url = "HTTPS://[::1]:8443/prefix/";
    o.api_key = NULL;   /* no credential is needed to check the forms */
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == 0);
    o.access_token = "ya29.token-secret\xe2\x80\x8b";
    RT_CHECK(rt_endpoint_check(&o, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK(strncmp(err.msg, "option 'access_token': contains a byte outside ASCII", 52) == 0);
    RT_CHECK(strstr(err.msg, "secret") == NULL);
    o.access_token = "Bearer ya29.token-secret";
    RT_CHECK(rt_endpoint_check(&o, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "option 'access_token': contains a space, which no bearer token "
                          "holds (pass the token alone, without \"Bearer \")");
    o.access_token = NULL;
    o.headers = bad_value;
    o.nheaders = 1;
    RT_CHECK(rt_endpoint_check(&o, &err) == -1);
    RT_CHECK_STR(err.msg, "option 'headers': the value of 'x-extra' contains CR, LF or another "
                          "control character");
    rt_error_clear(&err);
    o.headers = bad_name;
    RT_CHECK(rt_endpoint_check(&o, &err) == -1);
    RT_CHECK(strncmp(err.msg, "option 'headers': 'bad name' is not a valid header name", 55) == 0);
    o.headers = NULL;
    o.nheaders = 0;
    o.backend = RT_BACKEND_VERTEX;
    o.location = "us central";
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == -1);
    RT_CHECK(strncmp(err.msg, "option 'location':", 18) == 0);
    o.location = NULL;
    o.project = "a/../b";
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == -1);
    RT_CHECK(strncmp(err.msg, "option 'project': expected a Google Cloud project ID", 52) == 0);
    o.project = "example.com:my-project";
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == 0);
}

/* Headers the upgrade request writes itself, and more header bytes than a handshake
 * carries, are refused when checked, not sent as a second, contradicting copy. */
static void test_check_headers(void)
{
    static const char *const reserved[] = { "Host", "connection", "Upgrade", "Content-Length",
                                            "transfer-encoding", "Sec-WebSocket-Key",
                                            "sec-websocket-extensions" };
    static char big[9000];
    struct rt_header h[1];
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "k",
                                     .headers = h, .nheaders = 1 };
    struct rt_error err;
    size_t i;

    for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        h[0] = (struct rt_header){ reserved[i], "v" };
        rt_error_clear(&err);
        RT_CHECK(rt_endpoint_check(&o, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK(strstr(err.msg, "is written by the library itself") != NULL);
        RT_CHECK(strstr(err.msg, reserved[i]) != NULL);
    }
    memset(big, 'v', sizeof big - 1);
    h[0] = (struct rt_header){ "x-big", big };
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == -1);
    RT_CHECK(strstr(err.msg, "more than the 8192 a handshake may carry") != NULL);
    big[8000] = '\0';
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == 0);
}

/* A credential longer than 16 KiB is refused by name, without quoting it. */
static void test_check_long_credential(void)
{
    static char key[16386];
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = key };
    struct rt_error err;

    memset(key, 'k', sizeof key - 1);
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "option 'api_key': longer than 16384 bytes (keys and tokens are a few "
                          "hundred)");
    key[16384] = '\0';
    rt_error_clear(&err);
    RT_CHECK(rt_endpoint_check(&o, &err) == 0);
}

/* Fills base with "https://proxy.example/" and a path prefix of k bytes. */
static void long_base(char *base, size_t k)
{
    strcpy(base, "https://proxy.example/");
    memset(base + strlen(base), 'p', k);
    base[22 + k] = '\0';
}

/* The session URL a base_url makes is at most RT_URL_MAX bytes (its path goes into the
 * request line): the base that makes exactly that many is built, one byte more is
 * refused by name, on each backend's path. Megabytes went out in the upgrade before. */
static void test_check_url_length(void)
{
    static char base[RT_URL_MAX + 64];
    struct rt_endpoint_options cases[] = {
        { .backend = RT_BACKEND_GEMINI, .api_key = "k" },
        { .backend = RT_BACKEND_GEMINI, .api_key = "auth_tokens/t" },
        { .backend = RT_BACKEND_VERTEX, .access_token = "t", .project = "p", .api_version = "v1" },
    };
    struct rt_endpoint ep;
    struct rt_error err;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rt_endpoint_options *o = &cases[i];
        size_t k, url_len;

        long_base(base, 1);
        o->base_url = base;
        RT_CHECK(rt_endpoint_build(o, &ep, &err) == 0);
        url_len = ep.url ? strlen(ep.url) : 0;
        rt_endpoint_free(&ep);
        k = 1 + RT_URL_MAX - url_len;
        long_base(base, k);
        RT_CHECK(rt_endpoint_build(o, &ep, &err) == 0);
        RT_CHECK(ep.url && strlen(ep.url) == RT_URL_MAX);
        rt_endpoint_free(&ep);
        long_base(base, k + 1);
        RT_CHECK(rt_endpoint_check(o, &err) == -1 && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, "option 'base_url': makes a session URL of 8193 bytes, more than "
                              "the 8192 an upgrade request line may carry");
        RT_CHECK(rt_endpoint_build(o, &ep, &err) == -1 && err.code == RT_EINVAL && !ep.url);
        rt_endpoint_free(&ep);
        strcat(base, "///");                      /* trailing slashes are dropped: still 8193 */
        RT_CHECK(rt_endpoint_check(o, &err) == -1 && strstr(err.msg, " 8193 bytes"));
    }
}

/* api_version is a path segment of the URL: at most 128 bytes, like project and location. */
static void test_check_long_version(void)
{
    static char v[131];
    struct rt_endpoint_options o = { .backend = RT_BACKEND_VERTEX, .access_token = "t",
                                     .project = "p", .api_version = v };
    struct rt_endpoint ep;
    struct rt_error err;

    memset(v, 'v', 129);
    RT_CHECK(rt_endpoint_check(&o, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "option 'api_version': longer than 128 bytes (versions are like "
                          "\"v1beta\")");
    v[128] = '\0';
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK(ep.url && strstr(ep.url, v) != NULL);
    rt_endpoint_free(&ep);
}

/* NULL options or endpoint: RT_EINVAL naming the argument, not a crash. */
static void test_null_arguments(void)
{
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = "k" };
    struct rt_endpoint ep = { (char *)"stale", NULL, 3 };
    struct rt_error err;

    RT_CHECK(rt_endpoint_check(NULL, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "o is NULL");
    RT_CHECK(rt_endpoint_build(NULL, &ep, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "o is NULL");
    RT_CHECK(!ep.url && !ep.headers && ep.nheaders == 0);   /* left for rt_endpoint_free */
    rt_endpoint_free(&ep);
    RT_CHECK(rt_endpoint_build(&o, NULL, &err) == -1 && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "ep is NULL");
}

/* Every allocation can fail: RT_ENOMEM, and rt_endpoint_free cleans up. */
static void test_nomem(void)
{
    struct rt_header extra[] = { { "x-custom", "1" } };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_VERTEX, .access_token = "t",
                                     .location = "us-central1", .quota_project = "q",
                                     .headers = extra, .nheaders = 1 };
    struct rt_endpoint ep;
    struct rt_error err;
    long n;
    int ok = 0;

    for (n = 0; n < 40; n++) {
        rt_error_clear(&err);
        rt_alloc_fail_after(n);
        if (rt_endpoint_build(&o, &ep, &err) == 0) {
            ok = 1;
            rt_endpoint_free(&ep);
            rt_alloc_fail_after(-1);
            break;
        }
        rt_alloc_fail_after(-1);
        RT_CHECK(err.code == RT_ENOMEM);
        rt_endpoint_free(&ep);
    }
    RT_CHECK(ok && n > 5);
}

/* The key replaced by an extra header of the same name, and the copies an allocation
 * failure leaves, are wiped before they are freed. */
static void test_secret_copies_wiped(void)
{
    static const char secret[] = "AIzaSECRET-KEY-0123456789";
    struct rt_header extra[] = { { "x-goog-api-key", "other" }, { "x-custom", "1" } };
    struct rt_endpoint_options o = { .backend = RT_BACKEND_GEMINI, .api_key = secret,
                                     .headers = extra, .nheaders = 2 };
    struct rt_endpoint ep;
    struct rt_error err;

    secret_watch(secret, sizeof secret - 1);
    RT_CHECK(rt_endpoint_build(&o, &ep, &err) == 0);
    RT_CHECK_STR(hdr(&ep, "x-goog-api-key"), "other");
    rt_endpoint_free(&ep);
    for (long n = 0; n < 40; n++) {
        rt_alloc_fail_after(n);
        int rc = rt_endpoint_build(&o, &ep, &err);
        rt_alloc_fail_after(-1);
        rt_endpoint_free(&ep);
        if (rc == 0)
            break;
    }
    RT_CHECK(secret_watch_end() == 0);
}

int main(void)
{
    RT_RUN(test_gemini_key);
    RT_RUN(test_gemini_ephemeral);
    RT_RUN(test_gemini_base_url);
    RT_RUN(test_vertex_bearer);
    RT_RUN(test_vertex_hosts);
    RT_RUN(test_vertex_express);
    RT_RUN(test_vertex_user_authorization);
    RT_RUN(test_extra_headers);
    RT_RUN(test_rejects);
    RT_RUN(test_check_messages);
    RT_RUN(test_check_headers);
    RT_RUN(test_check_long_credential);
    RT_RUN(test_check_url_length);
    RT_RUN(test_check_long_version);
    RT_RUN(test_null_arguments);
    RT_RUN(test_nomem);
    RT_RUN(test_secret_copies_wiped);
    return rt_test_done();
}
