/* JSON Schema (a Lua table) -> the Live API's Schema, for tool parameters.
 *
 * Kept, converted: type (lower case -> "STRING" ...; a list such as {"string","null"}
 * -> type + nullable, several non-null types -> anyOf), description, title, format,
 * pattern, nullable, enum (values written as strings: the API's enum is a string list),
 * const (-> a one-value enum), properties, required, items, anyOf and oneOf (-> anyOf;
 * a {type = "null"} alternative -> nullable, as the type list does, since the service
 * has no null type: one other left is this schema itself, with nullable),
 * minimum, maximum, min/max Items/Length/Properties (int64, so strings on the wire),
 * default, example, propertyOrdering (a list of names, as required is).
 *
 * Told in the description (lrt_schema_fold.c): constraints with no field to map to
 * (exclusiveMinimum, exclusiveMaximum, multipleOf, uniqueItems = true,
 * additionalProperties = false) become a clause appended to it, "(greater than 0; a
 * multiple of 2)", so the model still reads them (the service refuses the keywords).
 *
 * Dropped: keywords that only annotate ($schema, $id, $comment, $anchor, examples,
 * deprecated, readOnly, writeOnly, content*, "x-..." extensions), and a schema for
 * additionalProperties (the Schema has no map type).
 *
 * Inlined (lrt_schema_ref.c): "$ref" to a place in the same schema ("#/$defs/Name",
 * "#/definitions/Name", any JSON pointer from the root): the schema it points to, with
 * the keywords written beside the $ref laid over it (they win), is converted in its
 * place, since Google's Schema has no references. "$defs" and "definitions" themselves only hold the targets.
 * A reference cycle (a recursive type cannot be inlined) and a reference that leads
 * nowhere, or outside the schema, are refused, and so is a schema that inlining would make
 * larger than LRT_SCHEMA_MAX_INLINED schemas and values (each $ref is a new copy).
 *
 * Refused with an error: everything else (allOf, not, if/then/else, patternProperties,
 * tuple items, ...), because dropping it would change what the model is told the
 * function accepts. Nesting deeper than LRT_SCHEMA_MAX_DEPTH too, and what Google's
 * SDK refuses: null as the only type, type beside anyOf/oneOf. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_schema.h"

int lrt_schema_fail(struct sctx *c, const char *fmt, const char *arg)
{
    char path[256], msg[256], shown[120 * 4 + 1];
    size_t n = (size_t)snprintf(path, sizeof path, "parameters");

    for (int i = 0; i < c->n && n < sizeof path - 1; i++) {
        const char *key = c->path[i].key;
        if (key) {
            int cut;
            path[n++] = '.';
            n += rt_printable(path + n, sizeof path - n, key, strnlen(key, 40), &cut);
            if (cut)
                break;   /* the path ends where it no longer fits, not with a later part */
        } else {
            int w = snprintf(path + n, sizeof path - n, "[%lld]", (long long)c->path[i].index);
            if (w < 0)
                break;
            n += (size_t)w;
        }
    }
    rt_printable(shown, sizeof shown, arg ? arg : "", arg ? strnlen(arg, 120) : 0, NULL);
    snprintf(msg, sizeof msg, fmt, shown);
    return luaL_error(c->L, "tool '%s': %s: %s", c->tool, path, msg);
}

void lrt_schema_push_seg(struct sctx *c, const char *key, lua_Integer index)
{
    /* Bounded: each schema level pushes at most two segments, and the level check in
     * lrt_schema_node() raises before the array could overflow. */
    c->path[c->n].key = key;
    c->path[c->n].index = index;
    c->n++;
}

static const char *type_name(const char *t)
{
    static const char *const names[][2] = {
        { "string", "STRING" },   { "number", "NUMBER" }, { "integer", "INTEGER" },
        { "boolean", "BOOLEAN" }, { "array", "ARRAY" },   { "object", "OBJECT" },
        { "null", "NULL" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(t, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

/* The JSON type another language's name for a type most likely means, or NULL. */
static const char *type_alias(const char *t)
{
    static const char *const aliases[][2] = {
        { "int", "integer" },  { "float", "number" }, { "double", "number" },
        { "bool", "boolean" }, { "str", "string" },   { "dict", "object" },
        { "table", "object" }, { "list", "array" },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(t, aliases[i][0]) == 0)
            return aliases[i][1];
    return NULL;
}

/* Raises for a type name that is none of JSON's, naming the one an alias means. */
static void unknown_type(struct sctx *c, const char *t)
{
    static const char *const fmts[][2] = {
        { "integer", "unknown type '%s' (did you mean 'integer'?)" },
        { "number", "unknown type '%s' (did you mean 'number'?)" },
        { "boolean", "unknown type '%s' (did you mean 'boolean'?)" },
        { "string", "unknown type '%s' (did you mean 'string'?)" },
        { "object", "unknown type '%s' (did you mean 'object'?)" },
        { "array", "unknown type '%s' (did you mean 'array'?)" },
    };
    const char *meant = type_alias(t);
    for (size_t i = 0; meant && i < sizeof fmts / sizeof fmts[0]; i++)
        if (strcmp(meant, fmts[i][0]) == 0)
            lrt_schema_fail(c, fmts[i][1], t);
    lrt_schema_fail(c, "unknown type '%s'", t);
}

static int in_list(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(k, *list) == 0)
            return 1;
    return 0;
}

/* Annotations, and the places $ref targets live in: nothing about the value is lost. */
static const char *const dropped[] = {
    "$schema", "$id", "$comment", "$anchor", "$defs", "definitions", "examples",
    "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType",
    "contentSchema", NULL,
};
static const char *const copied_str[] = { "description", "title", "format", "pattern", NULL };
static const char *const copied_int64[] = { "minItems", "maxItems", "minLength", "maxLength",
                                            "minProperties", "maxProperties", NULL };


/* The service has no null type: null only ever makes another type nullable. */
#define NULL_ONLY "null cannot be the only possible type (give it beside another type, " \
                  "as { \"string\", \"null\" }, or write nullable = true)"

/* Whether the schema at idx stands for null alone: its type "null", or a list of
 * nothing but "null". Read raw: plain() checks the table when it is converted. */
static int null_schema(lua_State *L, int idx)
{
    int only = 0;

    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    lua_pushliteral(L, "type");
    int t = lua_rawget(L, idx);
    if (t == LUA_TSTRING) {
        only = strcasecmp(lua_tostring(L, -1), "null") == 0;
    } else if (t == LUA_TTABLE && lua_rawlen(L, -1) > 0) {
        only = 1;
        for (lua_Integer i = 1; only && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
            only = lua_rawgeti(L, -1, i) == LUA_TSTRING &&
                   strcasecmp(lua_tostring(L, -1), "null") == 0;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return only;
}

/* A schema is read from its tables' own fields: one whose metatable supplies fields
 * (an __index table) or lists them (__pairs) would lose them without a word, so it
 * raises. An __index function on a table with fields of its own is a "strict" table
 * (it raises for a key it lacks): read as stored, as the encoder reads one. On a table
 * that stores nothing it is strict when it raises for a key no table has (an empty
 * table), else a proxy, and raises. */
static void plain(struct sctx *c, int idx)
{
    lua_State *L = c->L;
    int t = luaL_getmetafield(L, idx, "__index");
    if (t == LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_pushnil(L);
        t = lua_next(L, idx) ? LUA_TNIL : LUA_TFUNCTION;
        lua_settop(L, lua_gettop(L) - (t == LUA_TNIL ? 2 : 0));
        if (t == LUA_TFUNCTION && lrt_json_strict_empty(L, idx))
            t = LUA_TNIL;
    }
    if (t == LUA_TNIL)
        t = luaL_getmetafield(L, idx, "__pairs");
    if (t != LUA_TNIL)
        lrt_schema_fail(c, "is a table whose metatable has __index or __pairs: the schema is read "
                           "from its own fields, so give a plain table%s", NULL);
}

/* Pushes an array of the schemas in the list at src (anyOf / oneOf). A null alternative
 * makes dst nullable instead (Google's SDK does the same). Returns 1 when null took one
 * out and a single schema is left: dst is then that schema, nullable. */
static int convert_list(struct sctx *c, int src, int level, const char *key, int dst)
{
    lua_State *L = c->L;
    lua_Integer kept = 0, nulls = 0;

    if (lua_type(L, src) != LUA_TTABLE || lua_rawlen(L, src) == 0)
        lrt_schema_fail(c, "'%s' must be a non-empty list of schemas", key);
    plain(c, src);
    lua_Integer n = (lua_Integer)lua_rawlen(L, src);
    lrt_json_newarray(L, (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lrt_schema_push_seg(c, NULL, i);
        lua_rawgeti(L, src, i);
        if (null_schema(L, lua_gettop(L))) {
            lua_pop(L, 1);
            nulls++;
        } else {
            lrt_schema_node(c, lua_gettop(L), level + 1);
            lua_remove(L, -2);
            lua_rawseti(L, -2, ++kept);
        }
        c->n--;
    }
    if (kept == 0)
        lrt_schema_fail(c, NULL_ONLY "%s", "");
    if (nulls)
        lrt_set_bool(L, dst, "nullable", 1);
    return nulls > 0 && kept == 1;
}

/* Makes dst the one alternative at alt that a null anyOf left: its keywords fill in
 * those dst lacks; those written beside the anyOf win, as beside a $ref. The clause its
 * constraints added to its description is taken out and replaces the value at alt, to
 * be told with dst's own (lrt_schema_fold): a description beside the anyOf would
 * otherwise win over it and drop the constraints unsaid. nil replaces it when none. */
static void lift_alternative(struct sctx *c, int dst, int alt)
{
    lua_State *L = c->L;

    lua_rawgeti(L, alt, 1);
    int one = lua_gettop(L);
    lua_pushvalue(L, one);
    if (lua_rawget(L, c->folds) == LUA_TTABLE) {
        lua_rawgeti(L, -1, 2);          /* its description as given, or nil */
        lua_setfield(L, one, "description");
        lua_rawgeti(L, -1, 1);
        lua_replace(L, -2);
    }
    lua_pushnil(L);                     /* above the clause, or nil */
    while (lua_next(L, one)) {
        lua_pushvalue(L, -2);
        if (lua_rawget(L, dst) == LUA_TNIL) {
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -3);
            lua_rawset(L, dst);
        }
        lua_pop(L, 2);
    }
    lua_replace(L, alt);
    lua_settop(L, one - 1);
}

/* Writes the value at top as an enum entry string (pops it, pushes the string). */
static void enum_string(struct sctx *c)
{
    lua_State *L = c->L;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        /* named here, by its place in the tool, as a description is */
        if (!rt_utf8_valid(lua_tostring(L, -1), lua_rawlen(L, -1)))
            lrt_schema_fail(c, "is not valid UTF-8%s", NULL);
        return;
    case LUA_TNUMBER:
        if (lua_tonumber(L, -1) != lua_tonumber(L, -1) || lua_tonumber(L, -1) - lua_tonumber(L, -1) != 0)
            lrt_schema_fail(c, "enum values must be finite numbers (NaN and infinities have no "
                               "JSON form)%s", NULL);
        /* fall through */
    case LUA_TBOOLEAN:
        lrt_json_encode_ex(L, -1, 1, NULL);
        lua_remove(L, -2);
        return;
    default:
        lrt_schema_fail(c, "enum values must be strings, numbers or booleans%s", NULL);
    }
}

static void convert_type(struct sctx *c, int src, int dst)
{
    lua_State *L = c->L;
    const char *t;

    if (lua_type(L, src) == LUA_TSTRING) {
        t = type_name(lrt_map_enum(L, src, "tool '%s': parameters: type", c->tool));
        if (!t)
            unknown_type(c, lua_tostring(L, src));
        if (strcmp(t, "NULL") == 0)
            lrt_schema_fail(c, NULL_ONLY "%s", "");
        lrt_set_str(L, dst, "type", t);
        return;
    }
    if (lua_type(L, src) != LUA_TTABLE)
        lrt_schema_fail(c, "'type' must be a string or a list of strings%s", NULL);

    lua_Integer n = (lua_Integer)lua_rawlen(L, src), kept = 0;
    int nullable = 0;
    lrt_json_newarray(L, 0);  /* the non-null types, as {type=} schemas */
    int alts = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, src, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            lrt_schema_fail(c, "'type' must be a string or a list of strings%s", NULL);
        t = type_name(lrt_map_enum(L, -1, "tool '%s': parameters: type", c->tool));
        if (!t)
            unknown_type(c, lua_tostring(L, -1));
        lua_pop(L, 1);
        if (strcmp(t, "NULL") == 0) {
            nullable = 1;
            continue;
        }
        lua_createtable(L, 0, 1);
        lrt_set_str(L, -1, "type", t);
        lua_rawseti(L, alts, ++kept);
    }
    if (nullable)
        lrt_set_bool(L, dst, "nullable", 1);
    if (kept == 0) {
        if (nullable)
            lrt_schema_fail(c, NULL_ONLY "%s", "");
        lrt_schema_fail(c, "'type' is an empty list%s", NULL);
    } else if (kept == 1) {
        lua_rawgeti(L, alts, 1);
        lua_getfield(L, -1, "type");
        lua_setfield(L, dst, "type");
        lua_pop(L, 1);
    } else {
        lua_pushvalue(L, alts);
        lua_setfield(L, dst, "anyOf");
    }
    lua_pop(L, 1);
}

/* `required` or `propertyOrdering` (k) at v, a list of property names, into dst as a
 * JSON array, an empty one too (an empty Lua table would go out as an object, which the
 * service refuses with the whole setup). */
static void copy_names(struct sctx *c, int v, int dst, const char *k)
{
    lua_State *L = c->L;

    if (lua_type(L, v) != LUA_TTABLE)
        lrt_schema_fail(c, "must be a list of property names%s", NULL);
    plain(c, v);
    lua_Integer n = (lua_Integer)lua_rawlen(L, v), keys = 0;
    lua_pushnil(L);
    while (lua_next(L, v)) {       /* { a = 1 } has no list part: not [] */
        keys++;
        lua_pop(L, 1);
    }
    if (keys != n)
        lrt_schema_fail(c, "must be a list of property names%s", NULL);
    lrt_schema_count(c, n);
    lrt_json_newarray(L, (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, v, i) != LUA_TSTRING)
            lrt_schema_fail(c, "must be a list of property names%s", NULL);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, dst, k);
}

/* Every name in `required` (k; `propertyOrdering` too) must be a property this schema
 * declares: the service refuses the whole setup otherwise ("property is not defined"),
 * long after the mistake. */
static void check_names(struct sctx *c, int dst, const char *k)
{
    lua_State *L = c->L;
    int top = lua_gettop(L);

    if (lua_getfield(L, dst, k) != LUA_TTABLE) {
        lua_settop(L, top);
        return;
    }
    int req = lua_gettop(L);
    int props = lua_getfield(L, dst, "properties") == LUA_TTABLE ? lua_gettop(L) : 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, req);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, req, i);
        const char *name = lua_tostring(L, -1);
        int declared = props && lua_rawget(L, props) != LUA_TNIL;
        if (!declared) {
            lrt_schema_push_seg(c, k, 0);
            lrt_schema_push_seg(c, NULL, i);
            lrt_schema_fail(c, "'%s' is not one of the schema's properties", name);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
}

void lrt_schema_node(struct sctx *c, int src, int level)
{
    lua_State *L = c->L;

    if (level > LRT_SCHEMA_MAX_DEPTH)
        luaL_error(L, "tool '%s': parameters nest deeper than %d levels", c->tool,
                   LRT_SCHEMA_MAX_DEPTH);
    if (lua_type(L, src) == LUA_TSTRING)   /* properties = { city = "string" } */
        lrt_schema_fail(c, "a schema must be a table (for a type alone, write { type = \"%s\" })",
                        lua_tostring(L, src));
    if (lua_type(L, src) != LUA_TTABLE)
        lrt_schema_fail(c, "a schema must be a table%s", NULL);
    luaL_checkstack(L, 8, "schema nesting");
    plain(c, src);
    if (lrt_user_field(L, src, "$ref") != LUA_TNIL) {
        lrt_schema_inline_ref(c, src, level);
        return;
    }
    lua_pop(L, 1);
    lrt_schema_count(c, 1);   /* here, as a $ref makes one schema: its target's */

    /* The service takes one or the other (Google's SDK refuses both). */
    lua_pushliteral(L, "type");
    if (lua_rawget(L, src) != LUA_TNIL) {
        for (int i = 0; i < 2; i++) {
            const char *alt = i ? "oneOf" : "anyOf";
            if (lrt_user_field(L, src, alt) != LUA_TNIL) {
                lrt_schema_push_seg(c, alt, 0);
                lrt_schema_fail(c, "cannot be given beside 'type' (put the type in each "
                                   "alternative)%s", NULL);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, 4);
    int dst = lua_gettop(L);
    int has_enum = 0;
    lua_pushnil(L);                  /* the alternative that a null anyOf left, if any */
    int lift = lua_gettop(L);

    lua_pushnil(L);
    while (lua_next(L, src)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            lrt_schema_fail(c, "schema keys must be strings%s", NULL);
        const char *k = lrt_map_enum(L, -2, "tool '%s': parameters: key", c->tool);
        int v = lua_gettop(L);
        lrt_schema_push_seg(c, k, 0);

        if (strcmp(k, "type") == 0) {
            convert_type(c, v, dst);
        } else if (in_list(k, copied_str)) {
            if (lua_type(L, v) != LUA_TSTRING)
                lrt_schema_fail(c, "must be a string%s", NULL);
            /* checked here, where the path reads as the tool's: the setup's JSON
               encoding would name it by its place in the setup */
            if (!rt_utf8_valid(lua_tostring(L, v), lua_rawlen(L, v)))
                lrt_schema_fail(c, "is not valid UTF-8%s", NULL);
            lua_pushvalue(L, v);
            lua_setfield(L, dst, k);
        } else if (strcmp(k, "nullable") == 0) {
            if (lua_type(L, v) != LUA_TBOOLEAN)
                lrt_schema_fail(c, "must be a boolean%s", NULL);
            if (lua_toboolean(L, v))
                lrt_set_bool(L, dst, "nullable", 1);
        } else if (strcmp(k, "enum") == 0 || strcmp(k, "const") == 0) {
            int is_const = k[0] == 'c';
            lua_Integer n = is_const ? 1 : (lua_Integer)lua_rawlen(L, v);
            if (!is_const && (lua_type(L, v) != LUA_TTABLE || n == 0))
                lrt_schema_fail(c, "must be a non-empty list%s", NULL);
            if (!is_const)
                plain(c, v);
            lrt_schema_count(c, n);
            lrt_json_newarray(L, (int)n);
            for (lua_Integer i = 1; i <= n; i++) {
                if (is_const) {
                    lua_pushvalue(L, v);
                } else {
                    lrt_schema_push_seg(c, NULL, i);
                    lua_rawgeti(L, v, i);
                }
                enum_string(c);
                lua_rawseti(L, -2, i);
                if (!is_const)
                    c->n--;
            }
            lua_setfield(L, dst, "enum");
            has_enum = 1;
        } else if (strcmp(k, "properties") == 0) {
            if (lua_type(L, v) != LUA_TTABLE)
                lrt_schema_fail(c, "must be a table of schemas%s", NULL);
            plain(c, v);
            lua_newtable(L);
            int props = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, v)) {
                if (lua_type(L, -2) != LUA_TSTRING)
                    lrt_schema_fail(c, "property names must be strings: properties is a table of "
                                       "schemas by name ({ city = { type = \"string\" } }), not a "
                                       "list%s", NULL);
                if (!rt_utf8_valid(lua_tostring(L, -2), lua_rawlen(L, -2)))
                    lrt_schema_fail(c, "property name '%s' is not valid UTF-8", lua_tostring(L, -2));
                lrt_schema_push_seg(c, lua_tostring(L, -2), 0);
                lrt_schema_node(c, lua_gettop(L), level + 1);
                lua_pushvalue(L, -3);  /* the property name, kept verbatim */
                lua_insert(L, -2);
                lua_rawset(L, props);
                lua_pop(L, 1);
                c->n--;
            }
            lua_setfield(L, dst, "properties");
        } else if (strcmp(k, "required") == 0 || strcmp(k, "propertyOrdering") == 0) {
            copy_names(c, v, dst, k);
        } else if (strcmp(k, "items") == 0) {
            if (lua_type(L, v) != LUA_TTABLE || lua_rawlen(L, v) > 0)
                lrt_schema_fail(c, "must be one schema (tuple forms are not supported)%s", NULL);
            lrt_schema_node(c, v, level + 1);
            lua_setfield(L, dst, "items");
        } else if (strcmp(k, "anyOf") == 0 || strcmp(k, "oneOf") == 0) {
            /* oneOf becomes anyOf: the API has no exclusive form, and the model is told
             * the same alternatives. */
            if (convert_list(c, v, level, k, dst))
                lua_replace(L, lift);
            else
                lua_setfield(L, dst, "anyOf");
        } else if (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0) {
            if (lua_type(L, v) != LUA_TNUMBER)
                lrt_schema_fail(c, "must be a number%s", NULL);
            if (!isfinite(lua_tonumber(L, v)))   /* JSON has no NaN or infinity */
                lrt_schema_fail(c, "must be a finite number%s", NULL);
            lua_pushvalue(L, v);
            lua_setfield(L, dst, k);
        } else if (in_list(k, copied_int64)) {
            if (!lua_isinteger(L, v) && !(lua_type(L, v) == LUA_TNUMBER &&
                                          lua_tonumber(L, v) == (lua_Number)lua_tointeger(L, v)))
                lrt_schema_fail(c, "must be an integer%s", NULL);
            if (lua_tointeger(L, v) < 0)   /* a count of characters, items or properties */
                lrt_schema_fail(c, "must be a non-negative integer, got %s", lua_tostring(L, v));
            lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, v));
            lua_setfield(L, dst, k);
        } else if (strcmp(k, "default") == 0 || strcmp(k, "example") == 0) {
            lua_pushvalue(L, v);
            lua_setfield(L, dst, k);
        } else if (!in_list(k, dropped) && !lrt_schema_is_folded(k) && strncmp(k, "x-", 2) != 0) {
            c->n--;
            lrt_schema_fail(c, "unsupported JSON Schema keyword '%s'", k);
        }
        c->n--;
        lua_settop(L, v - 1);
    }
    if (!lua_isnil(L, lift))
        lift_alternative(c, dst, lift);
    lrt_schema_fold(c, src, dst, lift);
    /* an enum alone is a string's (the API's enum is a string list) */
    if (has_enum && lua_getfield(L, dst, "type") == LUA_TNIL &&
        lua_getfield(L, dst, "anyOf") == LUA_TNIL)
        lrt_set_str(L, dst, "type", "STRING");
    lua_settop(L, dst);
    check_names(c, dst, "required");
    check_names(c, dst, "propertyOrdering");
}

void lrt_schema_convert(lua_State *L, int idx, const char *tool)
{
    struct sctx c;

    c.L = L;
    c.tool = tool;
    c.root = lua_absindex(L, idx);
    c.n = 0;
    c.nrefs = 0;
    c.inlined = 0;
    c.made = 0;
    lua_newtable(L);
    c.folds = lua_gettop(L);
    lrt_schema_node(&c, c.root, 1);
    lua_remove(L, c.folds);
}
