/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
 * with a fast path for ASCII runs. One home for the check: text frames from the server,
 * close reasons, and the JSON the binding writes. And the printable form of bytes a
 * message shows (a credential's source, values the binding quotes). */
#ifndef RT_UTF8_H
#define RT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is valid UTF-8. */
bool rt_utf8_valid(const void *s, size_t n);

/* Length of the longest prefix of s[0..n) that is valid UTF-8 and ends on a character
 * boundary. */
size_t rt_utf8_valid_prefix(const void *s, size_t n);

/* Writes s[0..n) into dst (cap > 0 bytes, always NUL-terminated) with control and
 * non-ASCII bytes, quote and backslash as \xNN, for a value named in an error message;
 * returns the bytes written. When it does not fit it is cut before the first byte that
 * does not, and *cut (if given) is set. */
size_t rt_printable(char *dst, size_t cap, const char *s, size_t n, int *cut);

#endif
