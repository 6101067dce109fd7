/* "$ref" inlining for the schema conversion (lrt_schema.c): a reference is resolved as a
 * JSON pointer into the whole parameters schema, and the schema it points to, with the
 * keywords written beside the $ref laid over it, is converted in its place. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_map.h"
#include "lrt_schema.h"

/* Pushes what the reference ref ("#", "#/$defs/Name", any JSON pointer after '#') points
 * to in the root schema. Raises when it points nowhere or outside the schema. */
static void resolve_ref(struct sctx *c, const char *ref)
{
    lua_State *L = c->L;
    const char *p = ref + 1;

    if (ref[0] != '#' || (*p != '\0' && *p != '/'))
        lrt_schema_fail(c, "unresolvable reference '%s' (only JSON pointers into this "
                           "schema, \"#/...\", can be inlined)", ref);
    lua_pushvalue(L, c->root);
    while (*p == '/') {
        char tok[256];
        size_t n = 0;
        for (p++; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '~' && (p[1] == '0' || p[1] == '1')) {
                ch = p[1] == '0' ? '~' : '/';
                p++;
            } else if (ch == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
                char hex[3] = { p[1], p[2], '\0' };
                ch = (char)strtol(hex, NULL, 16);
                p += 2;
            }
            if (n == sizeof tok - 1)
                lrt_schema_fail(c, "unresolvable reference '%s' (a name in it is too long)", ref);
            tok[n++] = ch;
        }
        tok[n] = '\0';
        if (lua_type(L, -1) != LUA_TTABLE)
            lrt_schema_fail(c, "unresolvable reference '%s'", ref);
        char *end = tok;
        long idx = n > 0 && isdigit((unsigned char)tok[0]) ? strtol(tok, &end, 10) : -1;
        if (idx >= 0 && *end == '\0' && lua_rawlen(L, -1) > 0)
            lua_rawgeti(L, -1, (lua_Integer)idx + 1);   /* pointers count from 0 */
        else
            lrt_user_field(L, -1, tok);
        lua_remove(L, -2);
        if (lua_isnil(L, -1))
            lrt_schema_fail(c, "unresolvable reference '%s'", ref);
    }
}

/* Converts the schema at src, which has a "$ref" (its value on top of the stack): the
 * target's keywords with those beside the $ref laid over them. Replaces the value on
 * top with the converted schema. */
void lrt_schema_inline_ref(struct sctx *c, int src, int level)
{
    lua_State *L = c->L;
    int ref = lua_gettop(L);

    lrt_schema_push_seg(c, "$ref", 0);
    if (lua_type(L, ref) != LUA_TSTRING)
        lrt_schema_fail(c, "must be a string%s", NULL);
    /* stays on the stack while used */
    const char *r = lrt_map_enum(L, ref, "tool '%s': parameters: $ref", c->tool);
    for (int i = 0; i < c->nrefs; i++)
        if (strcmp(c->refs[i], r) == 0)
            lrt_schema_fail(c, "reference cycle through '%s' (a recursive schema cannot be "
                               "inlined)", r);
    if (c->nrefs == LRT_SCHEMA_MAX_REFS)
        lrt_schema_fail(c, "more than 32 references inside one another at '%s'", r);
    resolve_ref(c, r);
    if (lua_type(L, -1) != LUA_TTABLE)
        lrt_schema_fail(c, "reference '%s' does not point to a schema", r);
    c->n--;

    int target = lua_gettop(L);
    lua_newtable(L);
    int merged = lua_gettop(L);
    for (int from = target; from; from = from == target ? src : 0) {
        lua_pushnil(L);
        while (lua_next(L, from)) {
            const char *k = lrt_map_enum(L, -2, "tool '%s': parameters: key", c->tool);
            if (from == src && k && strcmp(k, "$ref") == 0) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, merged);
        }
    }
    c->refs[c->nrefs++] = r;
    lrt_schema_node(c, merged, level);
    c->nrefs--;
    lua_replace(L, ref);
    lua_settop(L, ref);
}

void lrt_schema_count(struct sctx *c, lua_Integer n)
{
    c->made += n;
    if (c->made > LRT_SCHEMA_MAX_MADE)
        luaL_error(c->L, "tool '%s': parameters hold more than %d schemas and values (a table "
                         "given in several places is converted at each: one shared at every "
                         "level doubles at each)", c->tool, LRT_SCHEMA_MAX_MADE);
    if (c->nrefs == 0)
        return;   /* outside references, what is made is counted above */
    c->inlined += n;
    if (c->inlined > LRT_SCHEMA_MAX_INLINED)
        luaL_error(c->L, "tool '%s': parameters expand past %d schemas and values once their "
                         "references are inlined (each $ref is a new copy of what it points to: "
                         "refer to large definitions less often, or from fewer places)",
                   c->tool, LRT_SCHEMA_MAX_INLINED);
}
