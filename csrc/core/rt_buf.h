/* A growable byte buffer, always NUL-terminated after its content. */
#ifndef RT_BUF_H
#define RT_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct rt_buf {
    char *data;  /* owned; NULL until the first append; data[len] == '\0' when not NULL */
    size_t len;  /* bytes of content */
    size_t cap;  /* bytes allocated (content + terminator + spare) */
};

void rt_buf_init(struct rt_buf *b);
void rt_buf_free(struct rt_buf *b);          /* frees the content, leaves b empty */
void rt_buf_reset(struct rt_buf *b);         /* empties b, keeps the memory */

/* Ensures room for `extra` more bytes (plus the terminator): 0, or -1 when out of
 * memory or on size overflow (b unchanged). */
int rt_buf_reserve(struct rt_buf *b, size_t extra);
int rt_buf_append(struct rt_buf *b, const void *p, size_t n);
int rt_buf_append_str(struct rt_buf *b, const char *s);
int rt_buf_printf(struct rt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the content to the caller (who frees it with rt_free) and leaves b empty. Returns
 * an empty allocated string when b is empty, NULL only when out of memory. */
char *rt_buf_detach(struct rt_buf *b, size_t *len);

#endif
