/* What the schema conversion (lrt_schema.c), its reference inlining (lrt_schema_ref.c)
 * and its folded constraints (lrt_schema_fold.c) share. Internal to the three. */
#ifndef LRT_SCHEMA_H
#define LRT_SCHEMA_H

#include <lua.h>

#include "lrt_map.h"

struct seg {
    const char *key;   /* borrowed from a key on the Lua stack; NULL for an index */
    lua_Integer index;
};

/* References being inlined at once (a chain A -> B -> C counts three). */
#define LRT_SCHEMA_MAX_REFS 32
/* What inlining may produce for one tool: schemas, enum values and required or
 * propertyOrdering names made inside a $ref. Each $ref is a new copy, so a few small
 * definitions that each refer twice to the next double at every level. */
#define LRT_SCHEMA_MAX_INLINED 10000
/* What one tool's parameters may make in all: a table given in several places (no
 * cycle, but shared) is converted at each, so 20 levels of { a = t, b = t } make a
 * million schemas from 21 tables. Far above any schema a service takes. */
#define LRT_SCHEMA_MAX_MADE 100000

struct sctx {
    lua_State *L;
    const char *tool;
    int root;          /* stack index of the whole parameters schema */
    struct seg path[LRT_SCHEMA_MAX_DEPTH * 2 + 4];
    int n;
    const char *refs[LRT_SCHEMA_MAX_REFS];  /* the $ref strings being inlined, outermost
                                               first; borrowed from the schema tables */
    int nrefs;
    lua_Integer inlined;   /* counted against LRT_SCHEMA_MAX_INLINED */
    lua_Integer made;      /* counted against LRT_SCHEMA_MAX_MADE */
    int folds;   /* stack index of a table: converted schema -> { clause, description as
                    given }, for each whose constraints were folded into its description */
};

/* Raises "tool 'name': <path>: <fmt with arg>" (arg shown printable, cut at 120). */
int lrt_schema_fail(struct sctx *c, const char *fmt, const char *arg);
/* Adds a segment (a key, or an index when key is NULL) to the path errors name. */
void lrt_schema_push_seg(struct sctx *c, const char *key, lua_Integer index);
/* Converts the schema at src (nesting level) and pushes the result. */
void lrt_schema_node(struct sctx *c, int src, int level);
/* Converts the schema at src, which has a "$ref" (its value on top of the stack), and
 * replaces that value with the result. */
void lrt_schema_inline_ref(struct sctx *c, int src, int level);

/* Counts n things made (a schema, or n list entries); raises once they pass
 * LRT_SCHEMA_MAX_MADE, or, made inside a $ref, LRT_SCHEMA_MAX_INLINED. */
void lrt_schema_count(struct sctx *c, lua_Integer n);

/* Whether k is a keyword lrt_schema_fold tells in the description. */
int lrt_schema_is_folded(const char *k);
/* Appends to dst's description the clauses of src's keywords the Schema has no field
 * for; the value at lifted, when a string, is the clause of the alternative a null
 * anyOf made dst, told first. Each clause is kept apart in c->folds. */
void lrt_schema_fold(struct sctx *c, int src, int dst, int lifted);

#endif
