/* The core's allocator: thin wrappers over malloc that tests can make fail.
 *
 * Every allocation in the core goes through these functions, so a test can call
 * rt_alloc_fail_after(n) and check that the n+1-th allocation's failure is reported as
 * RT_ENOMEM and leaks nothing. Failure injection is process-wide and thread-safe. */
#ifndef RT_ALLOC_H
#define RT_ALLOC_H

#include <stddef.h>

void *rt_malloc(size_t size);
void *rt_calloc(size_t n, size_t size);         /* NULL on n * size overflow */
void *rt_realloc(void *p, size_t size);         /* on failure p is left untouched */
void rt_free(void *p);                          /* NULL ok */
char *rt_strdup(const char *s);                 /* NULL s gives NULL */
char *rt_strndup(const char *s, size_t n);      /* copies at most n bytes, terminates */

/* Lets the next n allocations succeed and makes every later one fail (returning NULL),
 * until called again; a negative n turns failure injection off. */
void rt_alloc_fail_after(long n);

/* Number of allocations attempted since the process started (for tests that size
 * their failure loops). */
long rt_alloc_count(void);

#ifdef RT_TEST_HOOKS
/* Test hook: when set (NULL unsets it), called with each block rt_free is about to free
 * and each block rt_realloc is about to pass to realloc (which may free it without
 * wiping it), with its usable size, so that a test can check no secret is left in
 * memory given back. Called from any thread; glibc only (elsewhere never called).
 * Only in builds with RT_TEST_HOOKS defined (the Makefile's test binaries link such an
 * rt_alloc.o ahead of the library): the library itself pays nothing per free for it. */
void rt_alloc_on_release(void (*hook)(const void *p, size_t size));
#endif

#endif
