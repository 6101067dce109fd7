/* UTF-8 for the binding: the core's check (rt_utf8_valid), which every string the
 * encoder writes and every client message passes, and its printable form of a value an
 * error quotes (rt_printable); a repair for text that is only shown (lrt_utf8.c).
 * lrt_json.h includes this header, so the files that use JSON have these too. */
#ifndef LRT_UTF8_H
#define LRT_UTF8_H

#include <stddef.h>

#include <lua.h>

#include "rt_utf8.h"   /* rt_utf8_valid, rt_printable: the core's */

/* Pushes s[0..n) with every byte that does not start a well-formed UTF-8 sequence
 * replaced by U+FFFD (so the text can be logged and encoded as JSON). */
void lrt_push_utf8_fixed(lua_State *L, const char *s, size_t n);

/* Pushes (one value) and returns s[0..n) quoted for an error message: control and
 * non-ASCII bytes, quote and backslash as \xNN (rt_printable), so the message is printable
 * UTF-8 whatever s holds; cut after at most max bytes (LRT_SHOWN_MAX at most) with "...",
 * before a UTF-8 character rather than inside it. */
#define LRT_SHOWN_MAX 160
const char *lrt_push_shown(lua_State *L, const char *s, size_t n, size_t max);

#endif
