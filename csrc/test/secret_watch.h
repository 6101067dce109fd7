/* Watches the memory the core gives back (rt_alloc_on_release) for a secret: the rule is
 * that every copy of a key or token is wiped before it is freed, and realloc frees the
 * old block of a growing buffer without wiping it. One watch at a time, any thread. */
#ifndef SECRET_WATCH_H
#define SECRET_WATCH_H

#include <stdatomic.h>
#include <string.h>

#include "rt_alloc.h"

static const void *secret_watch_bytes;
static size_t secret_watch_len;
static atomic_int secret_watch_seen;

static void secret_watch_hook(const void *p, size_t n)
{
    if (n >= secret_watch_len && memmem(p, n, secret_watch_bytes, secret_watch_len))
        atomic_fetch_add(&secret_watch_seen, 1);
}

/* Starts watching for the len bytes at secret (which must outlive the watch). */
static inline void secret_watch(const void *secret, size_t len)
{
    secret_watch_bytes = secret;
    secret_watch_len = len;
    atomic_store(&secret_watch_seen, 0);
    rt_alloc_on_release(secret_watch_hook);
}

/* Ends the watch: the number of blocks given back with the secret still in them. */
static inline int secret_watch_end(void)
{
    rt_alloc_on_release(NULL);
    return atomic_load(&secret_watch_seen);
}

#endif
