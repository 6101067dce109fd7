/* Model names on the wire (see rt_model.h). */
#include "rt_model.h"

#include <stdio.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The SDKs refuse "..", "?" and "&"; the rest of the list keeps a name from smuggling
 * URL syntax, escapes or an empty segment into a resource path. */
static const char *unsafe_reason(const char *s, bool allow_slash)
{
    size_t n = strlen(s);

    if (n == 0)
        return "unsafe model name: it is empty";
    if (n > RT_MODEL_MAX)
        return "unsafe model name: it is too long";
    if (strstr(s, ".."))
        return "unsafe model name: it contains \"..\"";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return "unsafe model name: it contains a space or a control character";
        if (c == '?' || c == '&' || c == '#' || c == '%' || c == '\\')
            return "unsafe model name: it contains one of ? & # % \\";
        if (c == '/' && !allow_slash)
            return "unsafe project or location: it contains \"/\"";
    }
    if (s[0] == '/' || s[n - 1] == '/' || strstr(s, "//"))
        return "unsafe model name: it has an empty path segment";
    return NULL;
}

/* Whether a Vertex resource name (projects/..., publishers/...) ends at its model's id:
 * its "models" segment is followed by one segment, the id. "publishers/google/models/a/b"
 * and ".../models/x/extra" name no model (the service closes 1008 after the handshake), so
 * they are refused here, as "models/a/b" is. A name without a "models" segment (an
 * endpoint) is left to the service. */
static bool id_ends_name(const char *s)
{
    for (const char *p = s; (p = strstr(p, "models/")) != NULL; p++) {
        if (p == s || p[-1] == '/')
            return strchr(p + strlen("models/"), '/') == NULL;
    }
    return true;
}

static int emit(char *out, size_t outsz, const char **why, const char *fmt, const char *a,
                const char *b, const char *c)
{
    int n = snprintf(out, outsz, fmt, a, b, c);

    if (n < 0 || (size_t)n >= outsz) {
        *why = "model name does not fit the output buffer";
        return -1;
    }
    return 0;
}

static bool known(const char *s)
{
    return s && *s;
}

int rt_model_resolve(const struct rt_model_ctx *ctx, const char *model, char *out,
                     size_t outsz, const char **why)
{
    const char *r;

    if (!model) {
        *why = "model name is missing";
        return -1;
    }
    r = unsafe_reason(model, true);
    if (r) {
        *why = r;
        return -1;
    }

    if (!ctx->vertex) {
        const char *id = starts_with(model, "models/") ? model + strlen("models/")
                         : starts_with(model, "tunedModels/") ? model + strlen("tunedModels/")
                         : model;
        /* A Gemini model's id is one segment: "models/a/b" names nothing the service has
         * (it closes 1008 after the handshake), so it is refused here by name. */
        if (strchr(id, '/')) {
            *why = "unsafe model name: expected \"id\", \"models/id\" or \"tunedModels/id\" "
                   "with no \"/\" in the id";
            return -1;
        }
        return emit(out, outsz, why, "%s%s%s", id == model ? "models/" : "", model, "");
    }

    if ((starts_with(model, "projects/") || starts_with(model, "publishers/")) &&
        !id_ends_name(model)) {
        *why = "unsafe model name: expected \"models/id\" with no \"/\" in the id";
        return -1;
    }
    if (starts_with(model, "projects/"))
        return emit(out, outsz, why, "%s%s%s", model, "", "");
    /* "models/ID" is the Gemini API's spelling; Vertex has no such resource and closes
     * 1008 on it, so it names Google's model there as the bare ID does. */
    if (starts_with(model, "models/")) {
        model += strlen("models/");
        if (strchr(model, '/')) {
            *why = "unsafe model name: expected \"models/id\" with no \"/\" in the id";
            return -1;
        }
    }

    char tmp[RT_MODEL_MAX + 64];
    if (starts_with(model, "publishers/")) {
        snprintf(tmp, sizeof tmp, "%s", model);
    } else {
        const char *slash = strchr(model, '/');
        if (!slash) {
            snprintf(tmp, sizeof tmp, "publishers/google/models/%s", model);
        } else if (strchr(slash + 1, '/')) {
            /* The SDKs keep only the first two segments of "a/b/c"; refuse instead of
             * silently dropping part of the name. */
            *why = "unsafe model name: expected \"id\", \"publisher/id\" or a resource name";
            return -1;
        } else {
            snprintf(tmp, sizeof tmp, "publishers/%.*s/models/%s", (int)(slash - model),
                     model, slash + 1);
        }
    }

    if (ctx->express || !known(ctx->project) || !known(ctx->location))
        return emit(out, outsz, why, "%s%s%s", tmp, "", "");
    r = unsafe_reason(ctx->project, false);
    if (!r)
        r = unsafe_reason(ctx->location, false);
    if (r) {
        *why = strstr(r, "project") ? r : "unsafe project or location for the model name";
        return -1;
    }
    char pre[2 * RT_MODEL_MAX + 32];
    snprintf(pre, sizeof pre, "projects/%s/locations/%s/", ctx->project, ctx->location);
    return emit(out, outsz, why, "%s%s%s", pre, tmp, "");
}
