/* Secrets in texts that reach errors and logs: a server's close reason, refusal or odd
 * value may quote what the request carried (an API key, a token). Every run of
 * RT_MASK_RUN or more bytes of a secret is replaced by '*'; shorter runs cannot be told
 * from ordinary words. */
#ifndef RT_MASK_H
#define RT_MASK_H

#include <stddef.h>

#define RT_MASK_RUN 8

/* Sets mark[i] for every byte of text[0..n) inside a run of RT_MASK_RUN bytes of secret
 * (NULL: none). mark holds n bytes; the caller zeroes it and may mark for several
 * secrets before rt_mask_apply. */
void rt_mask_mark(const char *text, size_t n, const char *secret, unsigned char *mark);
/* Writes '*' over every marked byte of text[0..n). */
void rt_mask_apply(char *text, size_t n, const unsigned char *mark);

#endif
