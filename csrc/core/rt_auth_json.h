/* A tiny, strict JSON reader for the flat objects token endpoints answer with.
 *
 * It reads one top-level object, skips nested values, and looks up one key at a time.
 * Nesting is limited to 32 levels; anything that is not well-formed JSON is rejected.
 * No allocation except the returned string. */
#ifndef RT_AUTH_JSON_H
#define RT_AUTH_JSON_H

#include <stddef.h>

enum rt_auth_json_type {
    RT_AUTH_JSON_MISSING = 0,   /* the key is absent (or json is not an object: see below) */
    RT_AUTH_JSON_STRING,
    RT_AUTH_JSON_NUMBER,
    RT_AUTH_JSON_OTHER          /* true, false, null, an object or an array */
};

/* Checks that json (len bytes) is one well-formed JSON object: 0, or -1. */
int rt_auth_json_check(const char *json, size_t len);

/* Looks key up among the top-level members of the object in json (len bytes). For a
 * string value, *str (when str is not NULL) receives its decoded text (UTF-8,
 * NUL-terminated, rt_malloc'd; a value containing NUL is cut there); for a number, *num
 * receives it. Returns the value's type; -1 when json is not a well-formed object or
 * memory runs out. The last occurrence of a repeated key wins. */
int rt_auth_json_get(const char *json, size_t len, const char *key, char **str, double *num);

/* Looks up a member of an object member: obj.key (e.g. "error" then "message"). Same
 * results as rt_auth_json_get; RT_AUTH_JSON_MISSING when obj is absent or not an object. */
int rt_auth_json_get2(const char *json, size_t len, const char *obj, const char *key, char **str,
                      double *num);

#endif
