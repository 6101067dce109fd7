/* libFuzzer target: the table-driven base64 decoder against the byte-at-a-time one it
 * replaced (bench/c/base64_old.c): both must accept exactly the same texts and give the
 * same bytes, and whatever decodes must encode back to the same text once the alphabet
 * and padding are made canonical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_base64.h"

int rt_base64_decode_old(const char *in, size_t n, void *out, size_t *outlen);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    unsigned char *a = malloc(rt_base64_decoded_max(size)), *b = malloc(rt_base64_decoded_max(size));
    char *again = NULL;
    size_t na = 0, nb = 0;
    int ra, rb;

    if (!a || !b)
        abort();
    ra = rt_base64_decode(text, size, a, &na);
    rb = rt_base64_decode_old(text, size, b, &nb);
    if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0)))
        abort();
    if (ra == 0) {
        size_t i, k, m;
        again = malloc(rt_base64_encoded_len(na) + 1);
        if (!again)
            abort();
        k = rt_base64_encode(a, na, again);
        m = size;
        while (m > 0 && text[m - 1] == '=')
            m--;
        for (i = 0; i < m; i++) {
            char c = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
            /* the last character may carry bits the encoder sets to zero */
            if (i + 1 < m && again[i] != c)
                abort();
        }
        if (k < m)
            abort();
    }
    free(a);
    free(b);
    free(again);
    return 0;
}
