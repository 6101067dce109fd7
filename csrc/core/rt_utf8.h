/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
 * with a fast path for ASCII runs. One home for the check: text frames from the server,
 * close reasons, and the JSON the binding writes. */
#ifndef RT_UTF8_H
#define RT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is valid UTF-8. */
bool rt_utf8_valid(const void *s, size_t n);

/* Length of the longest prefix of s[0..n) that is valid UTF-8 and ends on a character
 * boundary. */
size_t rt_utf8_valid_prefix(const void *s, size_t n);

#endif
