/* The core's one JSON reader: a bounded, non-recursive pull reader over a JSON text.
 *
 * The caller walks the text: rt_json_root reads the top-level value, rt_json_member and
 * rt_json_element read the next member or element of an object or array read earlier.
 * A container's contents that the caller does not visit are skipped on the next read
 * of its parent, so a caller only writes the paths it cares about. Values are handed
 * out as spans of the text (struct rt_json_val); nothing is copied and nothing is
 * allocated while reading. rt_json_unescape / rt_json_strdup decode a string's escapes
 * when the caller needs its text.
 *
 * Strings are crossed with memchr (finding the closing quote, then counting the
 * backslashes before it), so a long base64 string costs about what memchr costs.
 *
 * Two modes:
 *   strict   (RT_JSON_STRICT) the text must be well-formed JSON: strings without control
 *            characters and with valid escapes (surrogates paired), at most RT_JSON_DEPTH
 *            nested containers. For token responses and credentials.
 *   lenient  the structure (brackets, commas, colons, numbers and literals) is checked
 *            as in strict mode, but string contents are not looked at, and containers
 *            nested deeper than RT_JSON_DEPTH are skipped by counting brackets (their
 *            bracket kinds are not matched). For server messages on the I/O thread,
 *            which the binding decodes strictly anyway.
 * In both modes every read is bounded by the text's end and a failure is sticky: once
 * a read fails, every later read returns false or RT_JSON_NONE. */
#ifndef RT_JSON_H
#define RT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Containers tracked one by one; see the modes above for deeper ones. Far beyond any real
 * message (the service's run to a dozen levels), so that a message nested deeper than
 * the caller allows can still be read, and its deep part refused alone. The reader does
 * not recurse: the depth costs a bit per level. */
#define RT_JSON_DEPTH 1024

enum rt_json_type {
    RT_JSON_NONE = 0,    /* no value: an absent member, the end of a container, a failure */
    RT_JSON_OBJECT,
    RT_JSON_ARRAY,
    RT_JSON_STRING,
    RT_JSON_NUMBER,
    RT_JSON_TRUE,
    RT_JSON_FALSE,
    RT_JSON_NULL
};

/* A value as it appears in the text (borrowed: valid while the text is). */
struct rt_json_val {
    enum rt_json_type type;
    const char *s;       /* string: its content between the quotes, escapes as written;
                            number, true, false, null: its text; object, array: its bracket */
    size_t n;            /* bytes at s (1 for containers) */
    unsigned depth;      /* object, array: the reader's depth inside it (the root is 1) */
};

enum rt_json_state {
    RT_JSON_OPENED,      /* just after '{' or '[' (or before the root) */
    RT_JSON_NEED,        /* just after ',': a member or element must follow */
    RT_JSON_AFTER        /* just after a value: ',' or the closing bracket follows */
};

/* The reader's state; fill it with rt_json_init. Borrows the text. */
struct rt_json {
    const char *p;               /* next byte to read */
    const char *end;             /* one past the text */
    unsigned depth;              /* containers open at p */
    enum rt_json_state state;    /* where p stands in the innermost open container */
    bool strict;
    bool failed;                 /* sticky */
    uint64_t objects[RT_JSON_DEPTH / 64];  /* bit d-1 set: the container at depth d is an
                                              object (written as it opens) */
};

#define RT_JSON_STRICT 1u

/* Starts reading text[0..len). flags: 0 (lenient) or RT_JSON_STRICT. */
void rt_json_init(struct rt_json *r, const char *text, size_t len, unsigned flags);

/* Reads the top-level value into *v and returns its type (RT_JSON_NONE on a failure).
 * Call once, first. */
enum rt_json_type rt_json_root(struct rt_json *r, struct rt_json_val *v);

/* Reads the next member of the object obj (a value this reader returned): true with
 * *key (a RT_JSON_STRING) and *val, false at the object's end or on a failure
 * (rt_json_failed tells them apart). Whatever of the previous member the caller left
 * unread is skipped first. */
bool rt_json_member(struct rt_json *r, const struct rt_json_val *obj, struct rt_json_val *key,
                    struct rt_json_val *val);

/* The same for the elements of the array arr. */
bool rt_json_element(struct rt_json *r, const struct rt_json_val *arr, struct rt_json_val *val);

/* Skips whatever is left of the document, then checks that only white space follows
 * it: 0, or -1 when the text is not one well-formed value (in the reader's mode). */
int rt_json_finish(struct rt_json *r);

/* True once a read has failed. */
bool rt_json_failed(const struct rt_json *r);

/* ---- values ------------------------------------------------------------------------- */

/* True when v is a string whose decoded text is the n bytes at lit (escapes are decoded
 * to compare). */
bool rt_json_eqn(const struct rt_json_val *v, const char *lit, size_t n);

/* The same for a NUL-terminated lit (inline, so a literal's length is known at compile
 * time). */
static inline bool rt_json_eq(const struct rt_json_val *v, const char *lit)
{
    return rt_json_eqn(v, lit, strlen(lit));
}

/* Decodes the string v into out (cap bytes, room for the NUL included): UTF-8, NUL-
 * terminated, *len (optional) the bytes before the NUL. A decoded text never takes more
 * bytes than v->n, so cap = v->n + 1 always fits. -1 when v is not a string, holds an
 * invalid escape or a lone surrogate, or does not fit. A "\u0000" is kept (so *len may
 * exceed strlen(out)). */
int rt_json_unescape(const struct rt_json_val *v, char *out, size_t cap, size_t *len);

/* The same, except that a lone surrogate escape (a "\ud800" not followed by a low one,
 * a lone "\udc00") becomes U+FFFD (3 bytes, fewer than its escape's 6) instead of a
 * failure: *lone counts them, *first (optional) is the offset in v->s of the first one's
 * backslash. For server text, which cannot be refused whole for one bad character. */
int rt_json_unescape_lossy(const struct rt_json_val *v, char *out, size_t cap, size_t *len,
                           size_t *lone, size_t *first);

/* The same into a new rt_malloc'd buffer (the caller frees it; wipe it first when it
 * held a secret); NULL when out of memory or invalid (*oom, optional, says which). */
char *rt_json_strdup(const struct rt_json_val *v, size_t *len, bool *oom);

/* Reads the number v without the C locale: 0 with *out, -1 when v is not a number. */
int rt_json_number(const struct rt_json_val *v, double *out);

/* Reads the number v as an integer, exactly: 0 with *out when its text is an integer
 * (no fraction, no exponent) within int64_t, else -1 (then rt_json_number reads it). A
 * double holds integers exactly only up to 2^53. */
int rt_json_integer(const struct rt_json_val *v, int64_t *out);

/* ---- whole documents (strict) ---------------------------------------------------------- */

/* 0 when text is one well-formed JSON object, else -1. */
int rt_json_check(const char *text, size_t len);

/* Checks that text is one well-formed JSON object and finds the member at path: keys
 * separated by '.' ("access_token", "error.message"), each level an object. Returns
 * the member's type with *val filled (val may be NULL), RT_JSON_NONE when it is absent
 * (or a level on the way is not an object), -1 when the text is not a well-formed
 * object. The last occurrence of a repeated key wins. */
int rt_json_find(const char *text, size_t len, const char *path, struct rt_json_val *val);

#endif
