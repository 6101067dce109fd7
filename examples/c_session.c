/* c_session.c: a Live API session from C alone, through the installed library (no Lua):
 * connect, say one thing in text, print what the server sends until the model's turn is
 * complete, close.
 *
 *   make install PREFIX=$HOME/.local
 *   export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig LD_LIBRARY_PATH=$HOME/.local/lib
 *   cc c_session.c $(pkg-config --cflags --libs realtime) -o c_session
 *   GEMINI_API_KEY=... ./c_session "What is the capital of Peru?"
 *
 * (PKG_CONFIG_PATH finds realtime.pc under a prefix pkg-config does not search;
 * LD_LIBRARY_PATH finds librealtime.so when the program runs. Neither is needed with
 * PREFIX=/usr/local, after ldconfig.)
 *
 * Environment: GEMINI_API_KEY; REALTIME_BASE_URL and REALTIME_CA_FILE to use another
 * server (the local simulator, say); REALTIME_MODEL. Server messages are JSON text; this
 * example prints them as they come (a program would hand them to its JSON parser) and
 * takes the first one holding "turnComplete" as the end of the model's turn.
 *
 * Exit status 0 when the model's turn completed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime.h"

/* Appends text to out as the body of a JSON string; 0, or -1 when it does not fit. */
static int json_escape(char *out, size_t cap, const char *text)
{
    size_t n = strlen(out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        else
            esc[0] = (char)*p, esc[1] = '\0';
        size_t k = strlen(esc);
        if (n + k + 1 > cap)
            return -1;
        memcpy(out + n, esc, k + 1);
        n += k;
    }
    return 0;
}

static const char *env(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

int main(int argc, char **argv)
{
    const char *say = argc > 1 ? argv[1] : "Hello from C";
    const char *model = env("REALTIME_MODEL", "gemini-2.5-flash-native-audio-preview-09-2025");
    struct rt_client_options copts = { .ca_file = env("REALTIME_CA_FILE", NULL) };
    struct rt_endpoint_options eopts = { .backend = RT_BACKEND_GEMINI,
                                         .api_key = env("GEMINI_API_KEY", NULL),
                                         .base_url = env("REALTIME_BASE_URL", NULL) };
    struct rt_endpoint ep = { 0 };
    struct rt_error err = { 0 };
    struct rt_client *client = NULL;
    struct rt_session *session = NULL;
    char setup[512], text[2048] = "{\"realtimeInput\":{\"text\":\"";
    int done = 0, status = 1;

    printf("realtime %s (header %s)\n", rt_version(), RT_VERSION);
    /* The setup asks for text answers; the model name needs no JSON escaping here. */
    if (strpbrk(model, "\"\\") ||
        snprintf(setup, sizeof setup, "{\"setup\":{\"model\":\"models/%s\",\"generationConfig\":"
                 "{\"responseModalities\":[\"TEXT\"]}}}", model) >= (int)sizeof setup ||
        json_escape(text, sizeof text - 4, say) != 0) {
        fprintf(stderr, "the model name or the text does not fit\n");
        return 2;
    }
    strcat(text, "\"}}");

    if (!(client = rt_client_new(&copts, &err)) || rt_endpoint_build(&eopts, &ep, &err) != 0)
        goto fail;
    session = rt_session_new(client, &(struct rt_session_options){
        .url = ep.url, .headers = ep.headers, .nheaders = ep.nheaders,
        .setup = setup, .setup_len = strlen(setup) }, &err);
    rt_endpoint_free(&ep);   /* the session copied what it needs */
    if (!session)
        goto fail;

    /* Events come from the session's own queue; this thread waits on it. */
    while (rt_session_wait(session, 30) > 0) {
        struct rt_event *ev = rt_session_next_event(session);
        int last = 0;
        if (!ev)
            continue;
        switch (ev->type) {
        case RT_EV_READY:   /* setupComplete: the session is open */
            printf("connected; saying: %s\n", say);
            if (rt_session_send(session, text, strlen(text), &err) != 0) {
                fprintf(stderr, "send: %s (%s)\n", err.msg, rt_code_name(err.code));
                rt_session_close(session, 1000, NULL);
            }
            break;
        case RT_EV_MESSAGE:
            printf("server: %s\n", ev->data);
            if (!done && strstr(ev->data, "\"turnComplete\"")) {
                done = 1;
                rt_session_close(session, 1000, "done");
            }
            break;
        case RT_EV_RECONNECTED:
            printf("reconnected (%s)\n", ev->data);
            break;
        case RT_EV_ERROR:
            fprintf(stderr, "error: %s (%s)\n", ev->data, rt_code_name((enum rt_code)ev->code));
            break;
        case RT_EV_CLOSED:  /* always the last event */
            printf("closed: %d %s\n", ev->code, ev->data);
            last = 1;
            break;
        }
        rt_event_free(ev);
        if (last)
            break;
    }
    status = done ? 0 : 1;
    rt_session_free(session);
    rt_client_free(client);
    return status;

fail:
    /* The examples' one-line form; a refusal for want of a key names where it is read from. */
    fprintf(stderr, "c_session: could not connect (%s): %s%s\n", rt_code_name(err.code), err.msg,
            err.code == RT_EAUTH && !eopts.api_key ? ": set GEMINI_API_KEY" : "");
    rt_endpoint_free(&ep);
    rt_client_free(client);
    return 1;
}
