/* Masking secrets in texts (see rt_mask.h). */
#include "rt_mask.h"

#include <string.h>

void rt_mask_mark(const char *text, size_t n, const char *secret, unsigned char *mark)
{
    size_t m = secret ? strlen(secret) : 0;

    for (size_t k = 0; m >= RT_MASK_RUN && k + RT_MASK_RUN <= m; k++) {
        const char *from = text, *hit;
        while ((hit = memmem(from, n - (size_t)(from - text), secret + k, RT_MASK_RUN))) {
            memset(mark + (hit - text), 1, RT_MASK_RUN);
            from = hit + 1;
        }
    }
}

void rt_mask_apply(char *text, size_t n, const unsigned char *mark)
{
    for (size_t i = 0; i < n; i++)
        if (mark[i])
            text[i] = '*';
}
