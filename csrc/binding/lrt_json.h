/* JSON text <-> Lua values for the binding.
 *
 * Decoding goes through the core's JSON reader (lrt_json_read.c), which makes the values
 * cjson would make, integers exactly as Lua integers; what it leaves (malformed text, an
 * invalid escape) goes through lua-cjson, for its error message (a private instance made with cjson.new(), so
 * the user's cjson settings are neither used nor changed), followed by a walk that turns
 * integral numbers into Lua integers: Debian's cjson 2.1.0 decodes every number as a
 * float.
 *
 * Encoding is done in C (lrt_json_encode.c) because cjson 2.1.0 cannot do what the wire
 * needs: it writes integers with 14 significant digits, cannot write an empty array,
 * escapes "/" and lets invalid UTF-8 through. Our writer is exact for integers, writes
 * the shortest round-trip form of floats whatever the C locale, validates UTF-8, limits
 * nesting and decides array versus object as follows:
 *   - a table whose keys are exactly 1..n (n > 0) is an array;
 *   - a table whose keys are all strings is an object;
 *   - an empty table is an object, unless it carries the array marker (lrt_json_newarray,
 *     core.json_array) or cjson's array_mt, or it is cjson's empty_array sentinel (the
 *     last two exist only in the openresty cjson fork);
 *   - cjson.null is null; anything else (functions, userdata, mixed keys, NaN) raises an
 *     error that names the path of the value, e.g. "result.items[2].name: invalid UTF-8".
 */
#ifndef LRT_JSON_H
#define LRT_JSON_H

#include <stddef.h>

#include <lua.h>

#include "lrt_utf8.h"   /* rt_utf8_valid, lrt_push_utf8_fixed */

/* Nesting limit of user payloads (function results and arguments, raw messages). */
#define LRT_JSON_MAX_DEPTH 64
/* Nesting limit of whole wire messages built by the mapping (a 32-level schema under
 * setup.tools[i].functionDeclarations[j].parameters needs about 72). */
#define LRT_JSON_WIRE_DEPTH 128

/* Requires "cjson", keeps what the functions below need in the registry, and adds
 * json_encode, json_decode, json_array and json_null to the module table on top of the
 * stack. Raises if cjson cannot be loaded. */
void lrt_json_open(lua_State *L);

/* Encodes the value at idx (depth limit max_depth, at most LRT_JSON_WIRE_DEPTH) and
 * pushes the JSON text, however long: the module's json_encode. Raises on a value that
 * cannot be encoded. Returns 1. In lrt_json_encode.c, as are the next ones. */
int lrt_json_encode(lua_State *L, int idx, int max_depth);

/* The mapping's encodes: the same with a name for the root of the error paths (NULL for
 * none), and bounded in size by the lrt_json_pcall_bounded they run under (if any): text
 * that would pass the bound raises the overrun object (lrt_json_is_overrun) at once,
 * with what was written freed. The bound bounds the work too: every value visited
 * writes at least one byte, so a table that shares its subtables (no cycle, but 2^40
 * leaves) stops as soon as its text is too long. */
int lrt_json_encode_ex(lua_State *L, int idx, int max_depth, const char *root);
/* The same for a value the library wrapped in `wrap` levels of its own: a depth error
 * counts the caller's levels only. */
int lrt_json_encode_wrapped(lua_State *L, int idx, int max_depth, const char *root, int wrap);

/* The core's max_queue_bytes when the option is absent (rt_session.h: "0 = 10 MiB"): the
 * bound of a send's encodes, as no longer text can ever be queued. */
#define LRT_DEFAULT_QUEUE_BYTES ((size_t)10 << 20)
/* The bound of the setup message's encode at connect, when max_queue_bytes is lower: the
 * setup is not queued under max_queue_bytes, but a table of `raw` or a tool's schema
 * that shares its subtables must not keep connect encoding for ever. */
#define LRT_SETUP_BOUND ((size_t)16 << 20)

/* What lrt_json_pcall_bounded returns when an encode passed the bound (not a lua_pcall
 * status). */
#define LRT_JSON_OVERRUN 100

/* lua_pcall(L, nargs, nresults, 0) with the mapping's encodes in it bounded to `bound`
 * bytes of JSON text each (0: none; the bound of the caller's own call, if any, is
 * restored after). Returns the lua_pcall status, or LRT_JSON_OVERRUN with the message
 * "a send of more than <bound> bytes exceeds max_queue_bytes (<bound>)" on top, in
 * place of the overrun object: a send path turns it into its "busy" return. The bound
 * is the Lua state's while the call runs: the call must not yield (a C function called
 * under it cannot). */
int lrt_json_pcall_bounded(lua_State *L, size_t bound, int nargs, int nresults);

/* Whether the value at idx is the object an encode past its bound raises. */
int lrt_json_is_overrun(lua_State *L, int idx);

/* Nesting limit of server messages: far beyond any real one (a dozen levels), so that a
 * message with deep arguments is read, and only those arguments are refused (at
 * LRT_JSON_MAX_DEPTH), not the message. */
#define LRT_JSON_SERVER_DEPTH 1000

/* What a decode of server text corrected: lone surrogate escapes ("\ud800" without its
 * low half, a lone "\udc00"), which no UTF-8 can carry, read as U+FFFD. */
struct lrt_json_fixes {
    int lone;            /* how many */
    int key;             /* the first was in a key of the object at `where` */
    char where[96];      /* the first one's path ("serverContent.modelTurn.parts[1].text"),
                            "" for the root */
    char escape[7];      /* its escape as written */
};

/* Decodes s[0..n) and pushes the value (integers exact, integral floats as integers);
 * returns 0. On malformed JSON, a lone surrogate escape, or nesting deeper than
 * LRT_JSON_WIRE_DEPTH, pushes a message and returns -1. Raises only on memory errors. */
int lrt_json_decode(lua_State *L, const char *s, size_t n);

/* The same for a server message: nesting up to LRT_JSON_SERVER_DEPTH, lone surrogates
 * read as U+FFFD and told in *fx. The message pushed on failure is whole ("malformed
 * JSON from the server: ...", "the server message nests deeper than 1000 levels"). */
int lrt_json_decode_server(lua_State *L, const char *s, size_t n, struct lrt_json_fixes *fx);

/* Same as lrt_json_decode for the Lua string at idx, without copying it. */
int lrt_json_decode_at(lua_State *L, int idx);

/* Decodes s[0..n) with the core's reader (lrt_json_read.c), without recursion: pushes
 * the value and returns 0, or pushes nothing and returns -2 when the text nests deeper
 * than max_depth containers (at most RT_JSON_DEPTH - 1), -1 when it is not one
 * well-formed JSON value or holds an invalid escape (left to cjson, for its message).
 * fx NULL: a lone surrogate escape is invalid; else it reads as U+FFFD, told in *fx. */
int lrt_json_read(lua_State *L, const char *s, size_t n, int max_depth,
                  struct lrt_json_fixes *fx);

/* Checks that s[0..n) is the text of one JSON object, as a client message must be:
 * returns 0, or -1 with a message pushed ("not valid UTF-8", "not JSON: ...", "a JSON
 * array, not an object", ...). A raw control character inside a string is not JSON
 * (cjson takes it; the service does not). Raises only on memory errors. In
 * lrt_json_read.c. */
int lrt_json_check_object(lua_State *L, const char *s, size_t n);

/* Turns integral float numbers into integers in the table at idx, in place, at every
 * depth (no metatables are consulted). Returns the nesting depth of the table (1 for a
 * table without subtables), or -1 as soon as it exceeds max_depth. */
int lrt_json_normalize(lua_State *L, int idx, int max_depth);

/* Pushes a new empty table that encodes as [] while it stays empty. */
void lrt_json_newarray(lua_State *L, int narr);

/* Whether the table at idx carries an array marker (lrt_json_newarray's, core.json_array's
 * or cjson's array_mt): empty, it encodes as []. */
int lrt_json_marked_array(lua_State *L, int idx);

/* Whether the table at idx, which stores nothing and whose metatable's __index is a
 * function, is a "strict" table (penlight's strict): one whose __index raises for a key
 * it lacks. It is asked once, in a protected call, for a key no table has. Such a table
 * is empty; one whose __index answers is a proxy, whose entries cannot be listed. Out of
 * memory still raises, and so does an encode in the __index past a send's bound. */
int lrt_json_strict_empty(lua_State *L, int idx);

/* Pushes cjson.null; tells whether the value at idx is cjson.null. */
void lrt_json_pushnull(lua_State *L);
int lrt_json_isnull(lua_State *L, int idx);

#endif
