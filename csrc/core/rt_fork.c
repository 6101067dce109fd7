/* Telling a parent's objects from this process's after fork() (see rt_fork.h). */
#include "rt_fork.h"

#include <pthread.h>
#include <unistd.h>

#include "rt_http_worker.h"

atomic_uint rt_fork_gen;

static pthread_once_t rt_fork_once = PTHREAD_ONCE_INIT;

/* In the child, before fork() returns there: the child has one thread. */
static void rt_fork_child(void)
{
    atomic_fetch_add_explicit(&rt_fork_gen, 1, memory_order_relaxed);
    rt_http_worker_forget();
}

/* Registered by the first object, so a program that never makes one pays nothing at
 * fork. The library is never unloaded (-z nodelete), so the handler stays valid.
 * pthread_atfork fails only for want of memory; copies would then go
 * unnoticed, as they did before the handler existed. */
static void rt_fork_register(void)
{
    (void)pthread_atfork(NULL, NULL, rt_fork_child);
}

void rt_fork_stamp(struct rt_fork_stamp *st)
{
    pthread_once(&rt_fork_once, rt_fork_register);
    st->gen = atomic_load_explicit(&rt_fork_gen, memory_order_relaxed);
    st->pid = (int)getpid();
}

int rt_fork_refuse(const struct rt_fork_stamp *st, const char *what, struct rt_error *err)
{
    rt_error_set(err, RT_ECLOSED, "%s made by process %d before fork(): a child process "
                 "cannot use it; make a new client in the child", what, st->pid);
    return -1;
}
