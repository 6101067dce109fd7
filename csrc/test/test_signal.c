/* Wake-up signals: one write per raise-clear cycle, readability, bounded waits. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "rt_signal.h"
#include "rt_test.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

static void test_raise_clear(void)
{
    struct rt_signal sg;
    struct rt_error err = { 0 };

    RT_CHECK(rt_signal_init(&sg, &err) == 0);
    RT_CHECK(!readable(sg.fd));
    RT_CHECK(!rt_signal_clear(&sg));
    rt_signal_raise(&sg);
    rt_signal_raise(&sg);              /* no second write: the flag says raised */
    RT_CHECK(readable(sg.fd));
    RT_CHECK(rt_signal_wait(&sg, 0) == 1);
    RT_CHECK(rt_signal_clear(&sg));
    RT_CHECK(!readable(sg.fd));
    RT_CHECK(!rt_signal_clear(&sg));
    rt_signal_raise(&sg);
    RT_CHECK(readable(sg.fd));
    rt_signal_destroy(&sg);
    RT_CHECK(sg.fd == -1);
}

static void test_wait_bounds(void)
{
    struct rt_signal sg;
    struct rt_error err = { 0 };
    double t;

    RT_CHECK(rt_signal_init(&sg, &err) == 0);
    t = now();
    RT_CHECK(rt_signal_wait(&sg, 0.05) == 0);
    t = now() - t;
    RT_CHECK(t >= 0.05 && t < 1.0);
    t = now();
    RT_CHECK(rt_signal_wait(&sg, 0) == 0);
    RT_CHECK(rt_signal_wait(&sg, NAN) == 0);   /* NaN does not wait */
    RT_CHECK(now() - t < 0.5);
    rt_signal_destroy(&sg);
}

static void *raise_later(void *arg)
{
    struct timespec d = { 0, 50 * 1000 * 1000 };
    nanosleep(&d, NULL);
    rt_signal_raise(arg);
    return NULL;
}

/* An infinite or negative timeout waits for the raise, and returns as soon as it comes. */
static void test_wait_forever(void)
{
    struct rt_signal sg;
    struct rt_error err = { 0 };
    pthread_t th;
    double t;

    RT_CHECK(rt_signal_init(&sg, &err) == 0);
    for (int i = 0; i < 2; i++) {
        t = now();
        RT_CHECK(pthread_create(&th, NULL, raise_later, &sg) == 0);
        RT_CHECK(rt_signal_wait(&sg, i ? -1 : INFINITY) == 1);
        RT_CHECK(now() - t < 5);
        pthread_join(th, NULL);
        RT_CHECK(rt_signal_clear(&sg));
    }
    rt_signal_destroy(&sg);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* A signal handler that runs during a wait ends it (-1, EINTR) instead of being sat out
 * until the timeout, or for ever: the host's handler gets to act (Lua's Ctrl-C hook runs
 * only when control is back in Lua). */
static void test_wait_interrupted(void)
{
    struct rt_signal sg;
    struct rt_error err = { 0 };
    struct sigaction sa, old;
    struct itimerval it = { { 0, 0 }, { 0, 50 * 1000 } };
    double t;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;           /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    RT_CHECK(rt_signal_init(&sg, &err) == 0);
    RT_CHECK(sigaction(SIGALRM, &sa, &old) == 0);
    for (int i = 0; i < 2; i++) {
        alarms = 0;
        t = now();
        RT_CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
        errno = 0;
        RT_CHECK(rt_signal_wait(&sg, i ? 30 : -1) == -1);
        RT_CHECK(errno == EINTR && alarms == 1);
        RT_CHECK(now() - t < 5);
    }
    RT_CHECK(sigaction(SIGALRM, &old, NULL) == 0);
    rt_signal_destroy(&sg);
}

/* A process out of descriptors gets a failure it can handle (RT_ECONNECT, the cause
 * named), not RT_ENOMEM, which the binding raises: connect must return nil, msg, code. */
static void test_out_of_descriptors(void)
{
    struct rt_signal sg, filler;
    struct rt_error err = { 0 };
    struct rlimit old, low;

    RT_CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    RT_CHECK(rt_signal_init(&filler, &err) == 0);
    low = old;
    low.rlim_cur = (rlim_t)filler.fd;   /* every descriptor from here on is beyond it */
    RT_CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    RT_CHECK(rt_signal_init(&sg, &err) == -1);
    RT_CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    RT_CHECK(err.code == RT_ECONNECT);
    RT_CHECK(strstr(err.msg, "Too many open files") != NULL);
    rt_signal_destroy(&filler);
}

int main(void)
{
    RT_RUN(test_raise_clear);
    RT_RUN(test_wait_bounds);
    RT_RUN(test_wait_forever);
    RT_RUN(test_wait_interrupted);
    RT_RUN(test_out_of_descriptors);
    return rt_test_done();
}
