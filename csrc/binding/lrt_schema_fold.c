/* Constraints Google's Schema has no field for (exclusiveMinimum, exclusiveMaximum,
 * multipleOf, uniqueItems = true, additionalProperties = false), told to the model as a
 * clause of the description instead of lost: "Count (greater than 0; a multiple of 2)".
 * The rest of the conversion is lrt_schema.c. */
#include <math.h>
#include <string.h>

#include <lauxlib.h>

#include "lrt_schema.h"

/* The keywords folded, in the order their clauses are told. */
static const char *const folded[] = { "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                                      "uniqueItems", "additionalProperties", NULL };

int lrt_schema_is_folded(const char *k)
{
    for (const char *const *f = folded; *f; f++)
        if (strcmp(k, *f) == 0)
            return 1;
    return 0;
}

/* Pushes the number at v as the description shows it: 2, 0.5, 1e+20. A float with no
 * fraction reads as an integer ("greater than 0", not "0.0"): JSON decoders hand
 * every number over as a float. */
static void push_number(lua_State *L, int v)
{
    lua_Number x = lua_tonumber(L, v);

    if (lua_isinteger(L, v))
        lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, v));
    else if (x == floor(x) && fabs(x) < 1e15)   /* exact as an integer */
        lua_pushfstring(L, "%I", (LUAI_UACINT)(lua_Integer)x);
    else
        lua_pushfstring(L, "%f", (LUAI_UACNUMBER)x);
}

/* exclusiveMinimum / exclusiveMaximum at v: a number, or (draft 4) true, which makes the
 * minimum / maximum beside it exclusive. Pushes "greater than N" and returns 1, or
 * returns 0 when it narrows nothing. */
static int bound_clause(struct sctx *c, int src, int v, int lower)
{
    lua_State *L = c->L;
    int top = lua_gettop(L);

    if (lua_type(L, v) == LUA_TBOOLEAN) {
        lua_pushstring(L, lower ? "minimum" : "maximum");
        if (!lua_toboolean(L, v) || lua_rawget(L, src) != LUA_TNUMBER) {
            lua_settop(L, top);
            return 0;
        }
        v = lua_gettop(L);   /* checked finite where it was converted */
    } else if (lua_type(L, v) != LUA_TNUMBER || !isfinite(lua_tonumber(L, v))) {
        lrt_schema_fail(c, "must be a finite number (or, as in draft 4, a boolean beside "
                           "minimum or maximum)%s", NULL);
    }
    lua_pushstring(L, lower ? "greater than " : "less than ");
    push_number(L, v);
    lua_concat(L, 2);
    if (lua_gettop(L) > top + 1)
        lua_replace(L, top + 1);   /* over the minimum / maximum it read */
    return 1;
}

/* The clause the folded keyword k (its value at v) adds to the description: pushed,
 * returning 1; or 0 when the value narrows nothing (uniqueItems = false, ...). */
static int fold_clause(struct sctx *c, int src, const char *k, int v)
{
    lua_State *L = c->L;

    if (strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0)
        return bound_clause(c, src, v, strcmp(k, "exclusiveMinimum") == 0);
    if (strcmp(k, "multipleOf") == 0) {
        if (lua_type(L, v) != LUA_TNUMBER || !isfinite(lua_tonumber(L, v)) ||
            lua_tonumber(L, v) <= 0)
            lrt_schema_fail(c, "must be a finite number greater than 0%s", NULL);
        lua_pushliteral(L, "a multiple of ");
        push_number(L, v);
        lua_concat(L, 2);
        return 1;
    }
    if (strcmp(k, "uniqueItems") == 0) {
        if (lua_type(L, v) != LUA_TBOOLEAN)
            lrt_schema_fail(c, "must be a boolean%s", NULL);
        if (!lua_toboolean(L, v))
            return 0;
        lua_pushliteral(L, "no two items equal");
        return 1;
    }
    /* additionalProperties: true, or a schema for the others, which Google's Schema
     * cannot say (it has no map type), narrows nothing it could tell. */
    if (lua_type(L, v) != LUA_TBOOLEAN && lua_type(L, v) != LUA_TTABLE)
        lrt_schema_fail(c, "must be a boolean or a schema%s", NULL);
    if (lua_type(L, v) == LUA_TTABLE || lua_toboolean(L, v))
        return 0;
    lua_pushliteral(L, "no properties other than those listed");
    return 1;
}

void lrt_schema_fold(struct sctx *c, int src, int dst, int lifted)
{
    lua_State *L = c->L;
    int top = lua_gettop(L), n = 0;

    luaL_checkstack(L, 16, "schema constraints");
    if (lua_type(L, lifted) == LUA_TSTRING) {
        lua_pushvalue(L, lifted);
        n++;
    }
    for (const char *const *k = folded; *k; k++) {
        lua_pushstring(L, *k);
        if (lua_rawget(L, src) == LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        lrt_schema_push_seg(c, *k, 0);
        int got = fold_clause(c, src, *k, lua_gettop(L));
        c->n--;
        lua_remove(L, -1 - got);   /* the keyword's value */
        if (got && n++) {
            lua_pushliteral(L, "; ");
            lua_insert(L, -2);
        }
    }
    if (n == 0)
        return;
    lua_concat(L, lua_gettop(L) - top);
    int clauses = lua_gettop(L);
    /* kept apart, for an anyOf this schema is the one non-null alternative of */
    lua_pushvalue(L, dst);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, clauses);
    lua_rawseti(L, -2, 1);
    lua_getfield(L, dst, "description");
    lua_rawseti(L, -2, 2);
    lua_rawset(L, c->folds);
    /* lua_concat, not a format: a description may hold NUL bytes */
    if (lua_getfield(L, dst, "description") == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
        lua_pushliteral(L, " (");
    } else {
        lua_pop(L, 1);
        lua_pushliteral(L, "(");
    }
    lua_pushvalue(L, clauses);
    lua_pushliteral(L, ")");
    lua_concat(L, lua_gettop(L) - clauses);
    lua_setfield(L, dst, "description");
    lua_settop(L, top);
}
