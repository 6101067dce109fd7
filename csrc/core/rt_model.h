/* Model names on the wire: the form each backend expects in `setup.model`.
 *
 * Pure C, no Lua: the binding (lrt_map.c) and C hosts both call it. */
#ifndef RT_MODEL_H
#define RT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/* Where a session goes; decides the name form. */
struct rt_model_ctx {
    bool vertex;           /* Vertex AI (else the Gemini Developer API) */
    bool express;          /* Vertex with an API key: no projects/.../locations/... prefix */
    const char *project;   /* borrowed; NULL or "" when unknown */
    const char *location;  /* borrowed; NULL or "" when unknown */
};

/* Longest model name accepted, and the size an output buffer needs for any result. */
#define RT_MODEL_MAX 512
#define RT_MODEL_OUT_MAX (RT_MODEL_MAX + 2 * RT_MODEL_MAX + 64)

/* Writes the wire form of `model` into out (NUL-terminated) and returns 0.
 *
 * Gemini: "models/..." and "tunedModels/..." are kept, anything else gets "models/".
 * Vertex: "projects/..." and "publishers/..." are kept, "pub/id" becomes
 * "publishers/pub/models/id", a bare id or "models/id" (the Gemini API's spelling, which
 * Vertex refuses) "publishers/google/models/id"; a "publishers/..." result gets
 * "projects/{project}/locations/{location}/" when both are known and the session is not
 * in express mode.
 *
 * Returns -1 with *why pointing at a static sentence when the name is unsafe (empty,
 * too long, "..", "?", "&", "#", "%", "\", whitespace or control bytes, an empty path
 * segment, a project or location with "/" in it) or when out is too small. */
int rt_model_resolve(const struct rt_model_ctx *ctx, const char *model, char *out,
                     size_t outsz, const char **why);

#endif
