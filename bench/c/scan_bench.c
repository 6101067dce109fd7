/* scan_bench: what the I/O thread pays to look at one server message, three ways.
 *
 *   rt_json   rt_scan_server as built (csrc/core/rt_resume.c over csrc/core/rt_json.c)
 *   old       the byte-at-a-time scanner it replaced (bench/c/scan_old.c)
 *   lejp      libwebsockets' LEJP parser (lejp_parse) with a callback that picks out the
 *             same paths
 *
 * The message is the one bench/map_decode.lua decodes and the simulator sends: 40 ms of
 * 24 kHz output audio (1,920 bytes of PCM, 2,560 base64 characters), camelCase JSON
 * pretty-printed with two spaces, 2,768 bytes. A short turnComplete message is timed too.
 * Prints CPU nanoseconds per scan (CLOCK_THREAD_CPUTIME_ID), the median and the fastest of
 * BENCH_BATCHES (default 7) batches of BENCH_ITERS (default 5000) scans each. Build and
 * run with `make bench-c`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "bench_util.h"
#include "rt_base64.h"
#include "rt_resume.h"

int rt_scan_server_old(const char *text, size_t len, struct rt_scan *out);

/* ---- LEJP: the same questions through its path-matching callback ------------------ */

static const char *const lejp_paths[] = {
    "setupComplete", "toolCall", "goAway", "goAway.timeLeft", "sessionResumptionUpdate",
    "sessionResumptionUpdate.newHandle", "sessionResumptionUpdate.resumable",
    "serverContent.modelTurn", "serverContent.modelTurn.parts[].inlineData",
    "serverContent.turnComplete", "serverContent.interrupted",
};

static signed char lejp_cb(struct lejp_ctx *ctx, char reason)
{
    struct rt_scan *o = ctx->user;

    if (!ctx->path_match)
        return 0;
    switch (ctx->path_match - 1) {
    case 0: o->setup_complete = true; break;
    case 1: o->tool_call = true; break;
    case 2: o->go_away = true; break;
    case 4: o->update = true; break;
    case 6: if (reason == LEJPCB_VAL_TRUE) o->resumable = true; break;
    case 7: o->model_output = true; break;
    case 8: if (reason == LEJPCB_OBJECT_START) o->inline_data = true; break;
    case 9: if (reason == LEJPCB_VAL_TRUE) o->turn_complete = true; break;
    case 10: if (reason == LEJPCB_VAL_TRUE) o->interrupted = true; break;
    default: break;
    }
    return 0;
}

static int scan_lejp(const char *text, size_t len, struct rt_scan *out)
{
    struct lejp_ctx ctx;
    int rc;

    memset(out, 0, sizeof *out);
    lejp_construct(&ctx, lejp_cb, out, lejp_paths, LWS_ARRAY_SIZE(lejp_paths));
    rc = lejp_parse(&ctx, (const unsigned char *)text, (int)len);
    lejp_destruct(&ctx);
    return rc < 0 ? -1 : 0;
}

/* ---- the timing loop ---------------------------------------------------------------- */

typedef int (*scan_fn)(const char *, size_t, struct rt_scan *);

struct scan_call {
    scan_fn fn;
    const char *text;
    size_t len;
    int sink;
};

static void scan_once(void *ud)
{
    struct scan_call *c = ud;
    struct rt_scan sc;

    c->sink += c->fn(c->text, c->len, &sc) + sc.inline_data;
}

/* Times batches of scans; *best receives the fastest batch's figure. */
static double time_scan(scan_fn fn, const char *text, size_t len, int iters, int batches,
                        double *best)
{
    struct scan_call c = { fn, text, len, 0 };
    double median = bench_batches(scan_once, &c, iters, batches, best);

    if (c.sink == -1)
        printf("#\n");   /* keeps the calls from being optimised away */
    return median;
}

int main(void)
{
    static const char *const names[] = { "rt_json", "old", "lejp" };
    static const scan_fn fns[] = { rt_scan_server, rt_scan_server_old, scan_lejp };
    static const char turn[] = "{\n  \"serverContent\": {\n    \"turnComplete\": true\n  }\n}\n";
    unsigned char pcm[1920];
    char b64[2561], *msg;
    int iters = bench_env_int("BENCH_ITERS", 5000, 10000000), batches = bench_env_int("BENCH_BATCHES", 7, 63);
    size_t n, i;

    /* 40 ms of a 440 Hz tone at 24 kHz, 16-bit little-endian */
    for (i = 0; i < 960; i++) {
        int v = (int)floor(6000 * sin(2 * M_PI * 440 * (double)i / 24000));
        pcm[2 * i] = (unsigned char)(v & 0xff);
        pcm[2 * i + 1] = (unsigned char)((v >> 8) & 0xff);
    }
    b64[rt_base64_encode(pcm, sizeof pcm, b64)] = '\0';
    msg = malloc(4096);
    if (!msg)
        return 1;
    n = (size_t)snprintf(msg, 4096,
                         "{\n  \"serverContent\": {\n    \"modelTurn\": {\n      \"parts\": [\n        {\n"
                         "          \"inlineData\": {\n            \"mimeType\": \"audio/pcm;rate=24000\",\n"
                         "            \"data\": \"%s\"\n          }\n        }\n      ]\n    }\n  }\n}\n",
                         b64);
    for (i = 0; i < 3; i++) {
        struct rt_scan sc;
        /* the old scanner predates inline_data */
        if (fns[i](msg, n, &sc) != 0 || !sc.model_output || (i != 1 && !sc.inline_data) ||
            fns[i](turn, sizeof turn - 1, &sc) != 0 || !sc.turn_complete) {
            fprintf(stderr, "%s does not read the messages right\n", names[i]);
            return 1;
        }
    }
    printf("ns per scan, median (fastest) of %d batches of %d\n", batches, iters);
    printf("scanner  audio message, %zu bytes  turnComplete, %zu bytes\n", n, sizeof turn - 1);
    for (i = 0; i < 3; i++) {
        double a_best, t_best;
        double a = time_scan(fns[i], msg, n, iters, batches, &a_best);
        double t = time_scan(fns[i], turn, sizeof turn - 1, iters, batches, &t_best);
        printf("%-8s %15.0f (%6.0f) %13.0f (%5.0f)\n", names[i], a, a_best, t, t_best);
    }
    free(msg);
    return 0;
}
