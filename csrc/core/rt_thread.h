/* The library's own threads (the I/O thread, the resolver, the HTTP worker).
 *
 * They take no asynchronous signals: a signal the process gets (SIGINT, SIGTERM, a
 * host's SIGALRM) goes to a thread of the host, whose interrupted wait lets its handler
 * act, instead of to a library thread that would swallow the interruption; and a
 * SIGPIPE raised by a write on a library thread stays pending there (the write fails
 * with EPIPE) whatever the host's disposition. */
#ifndef RT_THREAD_H
#define RT_THREAD_H

#include <pthread.h>

/* pthread_create with every signal but the synchronous ones (faults) blocked in the new
 * thread; the caller's mask is left as it was. Returns pthread_create's result. */
int rt_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
