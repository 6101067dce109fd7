/* The monotonic clock in seconds, for deadlines: one definition for the core. */
#ifndef RT_CLOCK_H
#define RT_CLOCK_H

#include <time.h>

static inline double rt_clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
