/* Allocation wrappers with test-injectable failure (see rt_alloc.h). */
#include "rt_alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined RT_TEST_HOOKS && defined __GLIBC__
#include <malloc.h>
#endif

/* Allocations still allowed before failing; negative means "never fail". */
static atomic_long rt_alloc_budget = -1;
static atomic_long rt_alloc_attempts;

/* True when this allocation must fail. */
static int rt_alloc_should_fail(void)
{
    long b;

    atomic_fetch_add(&rt_alloc_attempts, 1);
    b = atomic_load(&rt_alloc_budget);
    while (b >= 0) {
        if (b == 0)
            return 1;
        if (atomic_compare_exchange_weak(&rt_alloc_budget, &b, b - 1))
            return 0;
    }
    return 0;
}

#ifdef RT_TEST_HOOKS
/* The test hook of rt_alloc_on_release, or NULL. */
static void (*_Atomic rt_alloc_release_hook)(const void *p, size_t size);

void rt_alloc_on_release(void (*hook)(const void *p, size_t size))
{
    atomic_store(&rt_alloc_release_hook, hook);
}

/* Shows the block p, about to be given back, to the test hook if one is set. */
static void rt_alloc_releasing(void *p)
{
#ifdef __GLIBC__
    void (*hook)(const void *, size_t) = atomic_load_explicit(&rt_alloc_release_hook,
                                                              memory_order_relaxed);
    if (hook && p)
        hook(p, malloc_usable_size(p));
#else
    (void)p;
#endif
}
#else
/* The library proper has no hook: a free is a free, with no load in front of it. */
#define rt_alloc_releasing(p) ((void)0)
#endif

void rt_alloc_fail_after(long n)
{
    atomic_store(&rt_alloc_budget, n < 0 ? -1 : n);
}

long rt_alloc_count(void)
{
    return atomic_load(&rt_alloc_attempts);
}

void *rt_malloc(size_t size)
{
    if (rt_alloc_should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *rt_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    if (rt_alloc_should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *rt_realloc(void *p, size_t size)
{
    if (rt_alloc_should_fail())
        return NULL;
    rt_alloc_releasing(p);
    return realloc(p, size ? size : 1);
}

void rt_free(void *p)
{
    rt_alloc_releasing(p);
    free(p);
}

char *rt_strndup(const char *s, size_t n)
{
    size_t len;
    char *d;

    if (!s)
        return NULL;
    len = strnlen(s, n);
    d = rt_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *rt_strdup(const char *s)
{
    return s ? rt_strndup(s, strlen(s)) : NULL;
}
