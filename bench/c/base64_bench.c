/* base64_bench: the core's base64 (csrc/core/rt_base64.c: rt_base64_encode and
 * rt_base64_decode, which take a vector path on x86-64 CPUs with SSSE3, and the portable
 * versions behind them), the code it replaced (bench/c/base64_old.c) and OpenSSL's
 * EVP_EncodeBlock / EVP_DecodeBlock, on the audio sizes: 640 bytes (20 ms of 16 kHz
 * input, what append_audio encodes per chunk) and 1,920 bytes (40 ms of 24 kHz output,
 * what each server audio message carries: 2,560 characters to decode).
 *
 * Prints CPU nanoseconds per call (CLOCK_THREAD_CPUTIME_ID), the median and the fastest
 * of BENCH_BATCHES (default 7) batches of BENCH_ITERS (default 20000) calls. The coders
 * are checked to agree first. Build and run with `make bench-c`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "bench_util.h"
#include "rt_base64.h"

size_t rt_base64_encode_old(const void *in, size_t n, char *out);
int rt_base64_decode_old(const char *in, size_t n, void *out, size_t *outlen);

enum op { ENC_RT, ENC_SCALAR, ENC_OLD, ENC_SSL, DEC_RT, DEC_SCALAR, DEC_OLD, DEC_SSL, NOPS };

static unsigned char bin[1920], back[1920 + 8];
static char text[2561 + 1];
static volatile size_t sink;

/* One call of op on n bytes (encode) or their text (decode). */
static void run(enum op op, size_t n, size_t tn)
{
    size_t len = 0;
    int k;

    switch (op) {
    case ENC_RT:
        sink += rt_base64_encode(bin, n, text);
        break;
    case ENC_SCALAR:
        sink += rt_base64_encode_scalar(bin, n, text);
        break;
    case ENC_OLD:
        sink += rt_base64_encode_old(bin, n, text);
        break;
    case ENC_SSL:
        sink += (size_t)EVP_EncodeBlock((unsigned char *)text, bin, (int)n);
        break;
    case DEC_RT:
        sink += rt_base64_decode(text, tn, back, &len) + len;
        break;
    case DEC_SCALAR:
        sink += rt_base64_decode_scalar(text, tn, back, &len) + len;
        break;
    case DEC_OLD:
        sink += rt_base64_decode_old(text, tn, back, &len) + len;
        break;
    case DEC_SSL:
        /* EVP_DecodeBlock counts the padding's zero bytes: take them off */
        k = EVP_DecodeBlock(back, (const unsigned char *)text, (int)tn);
        sink += (size_t)k - (tn && text[tn - 1] == '=') - (tn > 1 && text[tn - 2] == '=');
        break;
    case NOPS:
        break;
    }
}

struct op_call {
    enum op op;
    size_t n, tn;
};

static void op_once(void *ud)
{
    struct op_call *c = ud;

    run(c->op, c->n, c->tn);
}

static double time_op(enum op op, size_t n, int iters, int batches, double *best)
{
    struct op_call c = { op, n, rt_base64_encoded_len(n) };

    rt_base64_encode(bin, n, text);
    return bench_batches(op_once, &c, iters, batches, best);
}

int main(void)
{
    static const char *const names[] = { "encode rt_base64", "encode rt_base64 portable",
                                          "encode old rt_base64", "encode EVP_EncodeBlock",
                                          "decode rt_base64", "decode rt_base64 portable",
                                          "decode old rt_base64", "decode EVP_DecodeBlock" };
    static const size_t sizes[] = { 640, 1920 };
    int iters = bench_env_int("BENCH_ITERS", 20000, 10000000), batches = bench_env_int("BENCH_BATCHES", 7, 63);
    size_t i, s;

    srand(7);
    for (i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)rand();
    for (s = 0; s < 2; s++) {
        size_t n = sizes[s], tn = rt_base64_encoded_len(n), len = 0;
        char ssl_text[2562];
        int k = EVP_EncodeBlock((unsigned char *)ssl_text, bin, (int)n);
        size_t slen = 0;
        rt_base64_encode(bin, n, text);
        if ((size_t)k != tn || memcmp(ssl_text, text, tn) != 0 ||
            rt_base64_encode_scalar(bin, n, ssl_text) != tn || memcmp(ssl_text, text, tn) != 0 ||
            rt_base64_decode_scalar(text, tn, back, &slen) != 0 || slen != n ||
            memcmp(back, bin, n) != 0 ||
            rt_base64_decode(text, tn, back, &len) != 0 || len != n || memcmp(back, bin, n) != 0 ||
            EVP_DecodeBlock(back, (const unsigned char *)text, (int)tn) < (int)n ||
            memcmp(back, bin, n) != 0) {
            fprintf(stderr, "the encoders or decoders disagree at %zu bytes\n", n);
            return 1;
        }
    }
    printf("ns per call, median (fastest) of %d batches of %d; vector path: %s\n", batches, iters,
           rt_base64_simd() ? "SSSE3" : "none");
    printf("%-26s %18s %18s\n", "", "640 bytes", "1920 bytes");
    for (i = 0; i < NOPS; i++) {
        double b640, b1920;
        double m640 = time_op((enum op)i, 640, iters, batches, &b640);
        double m1920 = time_op((enum op)i, 1920, iters, batches, &b1920);
        printf("%-26s %9.0f (%6.0f) %9.0f (%6.0f)\n", names[i], m640, b640, m1920, b1920);
    }
    return 0;
}
