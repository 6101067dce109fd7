/* Wake-up signals on eventfd, and bounded waits in seconds. */
#include "rt_signal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int rt_signal_init(struct rt_signal *sg, struct rt_error *err)
{
    atomic_init(&sg->raised, false);
    sg->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sg->fd < 0) {
        /* Out of descriptors is a limit of the process the caller can act on (close
         * something, raise `ulimit -n`) and reports as a failed connection like a socket()
         * that fails; only a kernel out of memory is RT_ENOMEM, which raises. */
        int e = errno;
        rt_error_set(err, e == EMFILE || e == ENFILE ? RT_ECONNECT : RT_ENOMEM,
                     "cannot create an eventfd: %s", strerror(e));
        return -1;
    }
    return 0;
}

void rt_signal_destroy(struct rt_signal *sg)
{
    if (sg->fd >= 0)
        close(sg->fd);
    sg->fd = -1;
}

void rt_signal_raise(struct rt_signal *sg)
{
    uint64_t one = 1;

    if (atomic_exchange(&sg->raised, true))
        return;
    /* Only EAGAIN (the counter is saturated, which reads as raised all the same) or a
     * closed descriptor can make this fail; neither leaves anything to do. */
    if (write(sg->fd, &one, sizeof one) < 0)
        return;
}

bool rt_signal_clear(struct rt_signal *sg)
{
    uint64_t v;

    if (!atomic_load(&sg->raised))
        return false;
    /* Read before lowering the flag: a raise in between then writes again. */
    while (read(sg->fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    atomic_store(&sg->raised, false);
    return true;
}

int rt_signal_wait(struct rt_signal *sg, double timeout)
{
    struct pollfd p = { .fd = sg->fd, .events = POLLIN };
    int n;

    if (atomic_load(&sg->raised))
        return 1;
    n = rt_wait_fds(&p, 1, timeout);
    return n > 0 ? 1 : n;
}

int rt_wait_fds(struct pollfd *fds, nfds_t n, double timeout)
{
    int ms;

    if (isnan(timeout) || timeout == 0)
        ms = 0;
    else if (timeout < 0 || isinf(timeout))
        ms = -1;
    else   /* round up, so a wait never ends before its time and never spins at 0 ms */
        ms = timeout * 1000.0 >= INT_MAX ? INT_MAX : (int)ceil(timeout * 1000.0);
    return poll(fds, n, ms);
}
