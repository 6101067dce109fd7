/* What the JSON reader's files share (not part of rt_json.h's interface). */
#ifndef RT_JSON_PRIVATE_H
#define RT_JSON_PRIVATE_H

#include <stddef.h>

/* Decodes the string content p..e (escapes as written) into out (cap bytes, NUL
 * included); out NULL only validates. -1 on a control character, a bad escape, a lone
 * surrogate, or too little room. (rt_json_string.c) */
int rt_json_decode(const char *p, const char *e, char *out, size_t cap, size_t *len);

/* The same, except that with lone non-NULL a lone surrogate escape becomes U+FFFD: *lone
 * counts them, *first (optional) is the offset from p of the first one. (rt_json_string.c) */
int rt_json_decode_lossy(const char *p, const char *e, char *out, size_t cap, size_t *len,
                         size_t *lone, size_t *first);

#endif
