/* A wake-up signal between threads, readable as a file descriptor, and the one bounded
 * wait the core does on descriptors.
 *
 * One side raises the signal when it hands over work; the other waits on it (poll on the
 * descriptor, or rt_signal_wait) and clears it before it looks for the work. Raising an
 * already raised signal costs no system call, so a producer that hands over many items
 * before the consumer wakes pays for one write, and a consumer that finds the signal not
 * raised pays for no read. Used by sessions (events for the owner), credentials and HTTP
 * jobs (results for a waiting caller). */
#ifndef RT_SIGNAL_H
#define RT_SIGNAL_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rt_error.h"

struct rt_signal {
    int fd;                  /* owned eventfd (non-blocking): readable while raised */
    atomic_bool raised;      /* true from the first raise until the next clear */
};

/* Creates the descriptor: 0, or -1 with RT_ECONNECT when the process or system is out
 * of descriptors (EMFILE, ENFILE), RT_ENOMEM when the kernel is out of memory. */
int rt_signal_init(struct rt_signal *sg, struct rt_error *err);
/* Closes the descriptor; a signal never initialised (fd -1 or 0-filled with fd set to -1
 * by rt_signal_init's failure) is ignored. */
void rt_signal_destroy(struct rt_signal *sg);

/* Makes the descriptor readable unless it already is (any thread). */
void rt_signal_raise(struct rt_signal *sg);
/* Makes the descriptor unreadable again; returns whether it was raised. The consumer
 * calls it when it has found no work, then looks once more: work handed over before the
 * clear is then seen, and work handed over after it raises the signal anew. */
bool rt_signal_clear(struct rt_signal *sg);

/* Waits until the signal is raised or `timeout` seconds pass (see rt_wait_fds): 1 when
 * raised, 0 on timeout, -1 (errno EINTR) when a signal handler ran. Does not clear it. */
int rt_signal_wait(struct rt_signal *sg, double timeout);

/* poll() with a timeout in seconds: a timeout below 0 or infinite waits without a bound,
 * 0 (or NaN) does not wait. Returns poll's count of ready descriptors (0 on timeout), or
 * -1 with errno. A signal handler that runs ends the wait (EINTR), not restarted: the
 * caller's loop then looks at its deadline and lets the host act on the signal (Lua's
 * Ctrl-C hook runs only when control is back in Lua). */
int rt_wait_fds(struct pollfd *fds, nfds_t n, double timeout);

#endif
