/* rt_session_new: the URL's parts, the headers and the setup as the session keeps them
 * (one block of strings), the refusals of a bad URL, and allocation failures. No server:
 * each session is closed at once (a connect, if the I/O thread starts one first, fails). */
#include <string.h>

#include "realtime.h"
#include "rt_alloc.h"
#include "rt_session_private.h"
#include "rt_test.h"

#define SETUP "{\"setup\":{\"model\":\"m\"}}"
#define SETUP_RESUME "{\"setup\":{\"model\":\"m\",\"sessionResumption\":{}}}"

static struct rt_client *client(void)
{
    struct rt_client_options o = { 0 };
    struct rt_error err = { 0 };

    return rt_client_new(&o, &err);
}

static struct rt_session *open_url(struct rt_client *c, const char *url, struct rt_error *err)
{
    struct rt_header h[] = { { "x-goog-api-key", "secret" }, { "x-extra", "" } };
    struct rt_session_options o = {
        .url = url, .headers = h, .nheaders = 2, .setup = SETUP, .setup_len = strlen(SETUP),
    };

    return rt_session_new(c, &o, err);
}

/* What the upgrade will use: host to resolve, Host header, request target, port. */
static void expect(struct rt_client *c, const char *url, const char *host, const char *hh,
                   const char *path, int port, bool tls)
{
    struct rt_error err = { 0 };
    struct rt_session *s = open_url(c, url, &err);

    RT_CHECK(s);
    if (!s) {
        printf("# %s: %s\n", url, err.msg);
        return;
    }
    RT_CHECK_STR(s->host, host);
    RT_CHECK_STR(s->host_header, hh);
    RT_CHECK_STR(s->path, path);
    RT_CHECK(s->port == port && s->use_tls == tls);
    RT_CHECK(s->nheaders == 2);
    RT_CHECK_STR(s->headers[0].name, "x-goog-api-key");
    RT_CHECK_STR(s->headers[0].value, "secret");
    RT_CHECK_STR(s->headers[1].name, "x-extra");
    RT_CHECK_STR(s->headers[1].value, "");
    RT_CHECK_STR(s->audio_mime, "audio/pcm;rate=16000");
    RT_CHECK(!s->resume_on && !s->setup_tmpl);
    rt_session_free(s);
}

static void test_url_parts(void)
{
    struct rt_client *c = client();

    RT_CHECK(c);
    if (!c)
        return;
    expect(c, "ws://127.0.0.1:9/a/b?c=d#frag", "127.0.0.1", "127.0.0.1:9", "/a/b?c=d", 9, false);
    expect(c, "WSS://[::1]/x", "::1", "[::1]", "/x", 443, true);
    expect(c, "wss://[::1]:8443?k=v", "::1", "[::1]:8443", "/?k=v", 8443, true);
    expect(c, "ws://localhost", "localhost", "localhost", "/", 80, false);
    expect(c, "wss://localhost:443#f", "localhost", "localhost", "/", 443, true);
    expect(c, "ws://[::ffff:127.0.0.1]:00080/%7e~", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "/%7e~",
           80, false);
    expect(c, "ws://a_b-c.d:65535", "a_b-c.d", "a_b-c.d:65535", "/", 65535, false);
    rt_client_free(c);
}

static void test_url_refused(void)
{
    static const struct { const char *url, *msg; } bad[] = {
        { "http://h/", "url must start with ws:// or wss://" },
        { "ws://h /", "url contains a space or control character" },
        { "ws://u@h/", "url must not contain user information" },
        { "ws://[::1/", "url has an unterminated IPv6 address" },
        { "ws://[::1]x/", "url has junk after the IPv6 address" },
        { "ws://:80/", "url has no host" },
        { "ws://h:0/", "url has an invalid port (1 to 65535)" },
        { "ws://h:65536/", "url has an invalid port (1 to 65535)" },
        { "ws://h:8x/", "url has an invalid port (1 to 65535)" },
        /* strtol took a sign and any number of zeros */
        { "wss://127.0.0.1:+35985/p", "url has an invalid port (1 to 65535)" },
        { "wss://127.0.0.1:0035985/p", "url has an invalid port (1 to 65535)" },
        { "ws://h:/", "url has an invalid port (1 to 65535)" },
        /* bytes a resolver error or the request line would carry raw */
        { "wss://\xff\xfe.example/p", "url contains a byte outside ASCII (percent-encode it)" },
        { "wss://h.example/p\xc3", "url contains a byte outside ASCII (percent-encode it)" },
        { "ws://h\\x/", "url has an invalid host name (letters, digits, '-', '.', '_')" },
        { "ws://h{x}/", "url has an invalid host name (letters, digits, '-', '.', '_')" },
        { "ws://[zz]/", "url has an invalid IPv6 address" },
        { "ws://[1.2.3.4]/", "url has an invalid IPv6 address" },
    };
    struct rt_client *c = client();

    RT_CHECK(c);
    if (!c)
        return;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rt_error err = { 0 };
        RT_CHECK(!open_url(c, bad[i].url, &err) && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, bad[i].msg);
    }
    rt_client_free(c);
}

/* Extra headers follow rt_endpoint_check's rules (rt_headers_check): a header the
 * upgrade writes itself would go out twice, contradicting the library's own, and a
 * control byte in a value would reach the wire. A tab is a field value's own. */
static void test_headers_refused(void)
{
    static const struct { struct rt_header h; const char *msg; } bad[] = {
        { { "Host", "evil.example" }, "option 'headers': 'Host' is written by the library "
                                       "itself (the WebSocket upgrade); leave it out" },
        { { "upgrade", "h2c" }, "option 'headers': 'upgrade' is written by the library "
                                 "itself (the WebSocket upgrade); leave it out" },
        { { "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==" },
          "option 'headers': 'Sec-WebSocket-Key' is written by the library itself (the "
          "WebSocket upgrade); leave it out" },
        { { "x-v", "a\x01\x7f" "b" }, "option 'headers': the value of 'x-v' contains CR, LF "
                                       "or another control character" },
        { { "x-v", NULL }, "option 'headers': the value of 'x-v' is missing" },
        { { "x a", "v" }, "option 'headers': 'x a' is not a valid header name (letters, "
                           "digits and !#$%&'*+-.^_`|~)" },
    };
    struct rt_header tab = { "x-t", "a\tb" };
    struct rt_session_options o = { .url = "ws://127.0.0.1:9", .nheaders = 1,
                                    .setup = SETUP, .setup_len = strlen(SETUP) };
    struct rt_client *c = client();
    struct rt_session *s;
    struct rt_error err = { 0 };

    RT_CHECK(c);
    if (!c)
        return;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.headers = &bad[i].h;
        s = rt_session_new(c, &o, &err);
        RT_CHECK(!s && err.code == RT_EINVAL);
        RT_CHECK_STR(err.msg, bad[i].msg);
        rt_session_free(s);
    }
    o.headers = NULL;
    RT_CHECK(!rt_session_new(c, &o, &err) && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "option 'headers': nheaders is set but headers is NULL");
    o.headers = &tab;
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s && err.code == RT_OK);
    rt_session_free(s);
    rt_client_free(c);
}

/* The headers' total is bounded as rt_endpoint_check bounds the extra ones: megabytes
 * of them went out in the upgrade, which the server answers 431 (a failed handshake).
 * The largest list rt_endpoint_build makes of accepted options still fits. */
static void test_headers_too_large(void)
{
    static char big[1 << 20], cred[RT_EP_VALUE_MAX + 1], extra[RT_EP_HEADERS_MAX - 16];
    struct rt_header h = { "x-big", big };
    struct rt_header xh = { "x-extra", extra };
    struct rt_session_options o = { .url = "ws://127.0.0.1:9", .headers = &h, .nheaders = 1,
                                    .setup = SETUP, .setup_len = strlen(SETUP) };
    struct rt_endpoint_options eo = {
        .backend = RT_BACKEND_VERTEX, .access_token = cred, .quota_project = cred,
        .project = "p", .headers = &xh, .nheaders = 1,
    };
    struct rt_endpoint ep;
    struct rt_client *c = client();
    struct rt_session *s;
    struct rt_error err = { 0 };

    RT_CHECK(c);
    if (!c)
        return;
    memset(big, 'a', sizeof big - 1);
    s = rt_session_new(c, &o, &err);
    RT_CHECK(!s && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "option 'headers': 1048584 bytes of names and values, more than "
                          "the 41472 a handshake may carry");
    rt_session_free(s);

    memset(cred, 'c', sizeof cred - 1);
    memset(extra, 'e', sizeof extra - 1);
    RT_CHECK(rt_endpoint_build(&eo, &ep, &err) == 0);
    o.headers = ep.headers;
    o.nheaders = ep.nheaders;
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s && err.code == RT_OK);
    rt_session_free(s);
    rt_endpoint_free(&ep);
    rt_client_free(c);
}

/* A url of more than RT_URL_MAX bytes is refused: its path and query would go out in a
 * request line servers refuse (414), megabytes of it before. RT_URL_MAX bytes are taken. */
static void test_url_too_long(void)
{
    static char url[RT_URL_MAX + 2];
    struct rt_client *c = client();
    struct rt_session *s;
    struct rt_error err = { 0 };

    RT_CHECK(c);
    if (!c)
        return;
    strcpy(url, "ws://127.0.0.1:9/x?q=");
    memset(url + strlen(url), 'a', RT_URL_MAX + 1 - strlen(url));
    s = open_url(c, url, &err);
    RT_CHECK(!s && err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "url: 8193 bytes, more than the 8192 an upgrade request line may "
                          "carry");
    rt_session_free(s);
    url[RT_URL_MAX] = '\0';
    s = open_url(c, url, &err);
    RT_CHECK(s && err.code == RT_OK);
    RT_CHECK(s && strlen(s->path) == RT_URL_MAX - strlen("ws://127.0.0.1:9"));
    rt_session_free(s);
    rt_client_free(c);
}

/* Resumption asked of a setup with no sessionResumption object (nowhere to write the
 * handle): refused, not a session that never reconnects. */
static void test_resumption_without_object(void)
{
    struct rt_client *c = client();
    static const char setup[] = "{\"setup\":{\"model\":\"models/m\"}}";
    struct rt_session_options o = {
        .url = "ws://127.0.0.1:9", .setup = setup, .setup_len = sizeof setup - 1,
        .resumption = true,
    };
    struct rt_error err = { 0 };

    RT_CHECK(c);
    if (!c)
        return;
    RT_CHECK(rt_session_new(c, &o, &err) == NULL);
    RT_CHECK(err.code == RT_EINVAL && strstr(err.msg, "sessionResumption"));
    rt_client_free(c);
}

/* With resumption asked and a sessionResumption in the setup, the setup is kept (for the
 * setups of later connections), after the strings of the URL and the headers. */
static void test_setup_kept(void)
{
    struct rt_client *c = client();
    struct rt_session_options o = {
        .url = "ws://127.0.0.1:9", .setup = SETUP_RESUME, .setup_len = strlen(SETUP_RESUME),
        .resumption = true, .audio_mime = "audio/pcm;rate=24000",
    };
    struct rt_error err = { 0 };
    struct rt_session *s;

    RT_CHECK(c);
    if (!c)
        return;
    s = rt_session_new(c, &o, &err);
    RT_CHECK(s);
    if (s) {
        RT_CHECK(s->resume_on && s->nheaders == 0);
        RT_CHECK_STR(s->setup_tmpl, SETUP_RESUME);
        RT_CHECK(s->setup_len == strlen(SETUP_RESUME));
        RT_CHECK_STR(s->audio_mime, "audio/pcm;rate=24000");
        RT_CHECK_STR(s->path, "/");
        rt_session_free(s);
    }
    rt_client_free(c);
}

/* Every allocation of rt_session_new failing in turn: RT_ENOMEM, and nothing leaks. */
static void test_nomem(void)
{
    struct rt_client *c = client();
    long k;

    RT_CHECK(c);
    if (!c)
        return;
    for (k = 0; k < 50; k++) {
        struct rt_error err = { 0 };
        struct rt_session *s;

        rt_alloc_fail_after(k);
        s = open_url(c, "ws://127.0.0.1:9/x", &err);
        rt_alloc_fail_after(-1);
        if (s) {
            rt_session_free(s);
            break;
        }
        RT_CHECK(err.code == RT_ENOMEM);
    }
    RT_CHECK(k > 0 && k < 50);
    rt_client_free(c);
}

int main(void)
{
    RT_RUN(test_url_parts);
    RT_RUN(test_url_refused);
    RT_RUN(test_headers_refused);
    RT_RUN(test_headers_too_large);
    RT_RUN(test_url_too_long);
    RT_RUN(test_setup_kept);
    RT_RUN(test_resumption_without_object);
    RT_RUN(test_nomem);
    return rt_test_done();
}
