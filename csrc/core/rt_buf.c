/* Growable byte buffer (see rt_buf.h). */
#include "rt_buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rt_alloc.h"

void rt_buf_init(struct rt_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rt_buf_free(struct rt_buf *b)
{
    rt_free(b->data);
    rt_buf_init(b);
}

void rt_buf_reset(struct rt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int rt_buf_reserve(struct rt_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = rt_realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int rt_buf_append(struct rt_buf *b, const void *p, size_t n)
{
    if (rt_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int rt_buf_append_str(struct rt_buf *b, const char *s)
{
    return rt_buf_append(b, s, strlen(s));
}

int rt_buf_printf(struct rt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || rt_buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *rt_buf_detach(struct rt_buf *b, size_t *len)
{
    char *p;

    if (!b->data && rt_buf_reserve(b, 0))
        return NULL;
    p = b->data;
    if (len)
        *len = b->len;
    rt_buf_init(b);
    return p;
}
