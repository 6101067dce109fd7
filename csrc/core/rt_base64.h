/* Base64, the core's one home for it: the standard alphabet with padding on output
 * (audio going out, bytes in tool results), base64url without padding on output (JWTs),
 * and either alphabet, with or without padding, on input (audio coming in; protobuf's
 * JSON mapping allows both). Input is checked strictly: no white space, nothing outside
 * the alphabets, padding complete or absent. */
#ifndef RT_BASE64_H
#define RT_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Characters written by rt_base64_encode for n input bytes (no terminator). */
static inline size_t rt_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Upper bound of the bytes rt_base64_decode writes for n input characters. */
static inline size_t rt_base64_decoded_max(size_t n)
{
    return n / 4 * 3 + 3;
}

/* Encodes n bytes of in into out (room for rt_base64_encoded_len(n) bytes; no NUL is
 * written). Returns the characters written. */
size_t rt_base64_encode(const void *in, size_t n, char *out);

/* Characters written by rt_base64url_encode for n input bytes (no padding, no NUL). */
static inline size_t rt_base64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Encodes n bytes of in into out with the URL-safe alphabet and no padding (room for
 * rt_base64url_len(n) + 1 bytes), NUL-terminates, and returns the characters written. */
size_t rt_base64url_encode(const void *in, size_t n, char *out);

/* Decodes n characters into out (room for rt_base64_decoded_max(n) bytes) and stores
 * the byte count in *outlen. Accepts '+' '/' and '-' '_', and padding that is either
 * complete or absent. Returns 0, or -1 on a character outside both alphabets, a
 * misplaced '=' or an impossible length (1 character in the last group). */
int rt_base64_decode(const char *in, size_t n, void *out, size_t *outlen);

/* ---- for the tests and the benchmark ---- */

/* Whether rt_base64_encode and rt_base64_decode take their vector path on this CPU (x86-64
 * with SSSE3); they do the same as these portable versions, which they use otherwise. */
bool rt_base64_simd(void);
size_t rt_base64_encode_scalar(const void *in, size_t n, char *out);
int rt_base64_decode_scalar(const char *in, size_t n, void *out, size_t *outlen);

#endif
