/* The field a mistyped or foreign name most likely meant (lrt_suggest.c). */
#ifndef LRT_SUGGEST_H
#define LRT_SUGGEST_H

#include <stddef.h>

/* The entry of names (NULL-terminated) that the unknown key k (n bytes) most likely
 * meant: its snake_case spelling, another API's name for it, the one name within a small
 * edit distance, or the one name it is a part of (or that is a part of it); NULL when
 * none stands out. */
const char *lrt_suggest(const char *k, size_t n, const char *const names[]);

#endif
