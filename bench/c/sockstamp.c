/* sockstamp: an LD_PRELOAD library for the benchmarks that notes when each large write to
 * a TCP socket happened. It wraps write(), send() and writev(); for calls of at least
 * SOCKSTAMP_MIN bytes (default 600) on a socket it records CLOCK_MONOTONIC nanoseconds
 * when the call returned, the descriptor and the byte count. At exit the records go to the
 * file named by SOCKSTAMP_OUT, one "ns fd bytes" line each.
 *
 * bench/latency.lua compares them with the times at which append_audio returned, to get
 * "append_audio returned -> the frame's bytes were written to the socket". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORDS (1 << 20)

struct rec {
    long long ns;
    int fd;
    long bytes;
};

static struct rec *recs;
static atomic_long nrecs;
static long min_bytes = 600;
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);

__attribute__((constructor)) static void sockstamp_init(void)
{
    const char *m = getenv("SOCKSTAMP_MIN");
    real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_send = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    real_writev = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    if (m)
        min_bytes = atol(m);
    if (getenv("SOCKSTAMP_OUT"))
        recs = calloc(MAX_RECORDS, sizeof *recs);
}

static void note(int fd, ssize_t n)
{
    struct stat st;
    struct timespec ts;
    long i;

    if (!recs || n < min_bytes)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return;
    i = atomic_fetch_add(&nrecs, 1);
    if (i >= MAX_RECORDS)
        return;
    recs[i].ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    recs[i].fd = fd;
    recs[i].bytes = (long)n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    ssize_t n = real_write(fd, buf, len);
    note(fd, n);
    return n;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    ssize_t n = real_send(fd, buf, len, flags);
    note(fd, n);
    return n;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    ssize_t n = real_writev(fd, iov, iovcnt);
    note(fd, n);
    return n;
}

__attribute__((destructor)) static void sockstamp_dump(void)
{
    const char *path = getenv("SOCKSTAMP_OUT");
    long i, n = atomic_load(&nrecs);
    FILE *f;

    if (!path || !recs || !(f = fopen(path, "w")))
        return;
    if (n > MAX_RECORDS)
        n = MAX_RECORDS;
    for (i = 0; i < n; i++)
        fprintf(f, "%lld %d %ld\n", recs[i].ns, recs[i].fd, recs[i].bytes);
    fclose(f);
}
