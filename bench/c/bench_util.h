/* Shared by the C micro-benchmarks (bench/c/scan_bench.c, base64_bench.c): CPU time,
 * knobs from the environment, and batches of calls timed and ranked. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* CPU seconds of the calling thread: another process's load shows less than in wall time. */
static inline double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The integer in $name, dflt when unset or below 1, at most max. */
static inline int bench_env_int(const char *name, int dflt, int max)
{
    const char *v = getenv(name);
    int n = v ? atoi(v) : dflt;
    return n < 1 ? dflt : n > max ? max : n;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs one(ud) `iters` times in each of `batches` batches (at most 63): returns the
 * median nanoseconds per call, and the fastest batch's in *best. */
static inline double bench_batches(void (*one)(void *), void *ud, int iters, int batches,
                                   double *best)
{
    double per[64];
    int b, i;

    if (batches > 63)
        batches = 63;
    for (b = 0; b < batches; b++) {
        double t0 = bench_now();
        for (i = 0; i < iters; i++)
            one(ud);
        per[b] = (bench_now() - t0) / iters * 1e9;
    }
    qsort(per, (size_t)batches, sizeof *per, bench_cmp_double);
    *best = per[0];
    return per[batches / 2];
}

#endif
