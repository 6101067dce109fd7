/* Unit tests of rt_model_resolve: model-name forms per backend and refused names. */
#include "rt_model.h"
#include "rt_test.h"

static char out[RT_MODEL_OUT_MAX];
static const char *why;

static const char *gem(const char *m)
{
    struct rt_model_ctx c = { .vertex = false };
    return rt_model_resolve(&c, m, out, sizeof out, &why) == 0 ? out : NULL;
}

static const char *vtx(const char *m, const char *p, const char *l, bool express)
{
    struct rt_model_ctx c = { .vertex = true, .express = express, .project = p, .location = l };
    return rt_model_resolve(&c, m, out, sizeof out, &why) == 0 ? out : NULL;
}

static void gemini_forms(void)
{
    RT_CHECK_STR(gem("gemini-live-2.5-flash-preview"), "models/gemini-live-2.5-flash-preview");
    RT_CHECK_STR(gem("models/gemini-2.0-flash"), "models/gemini-2.0-flash");
    RT_CHECK_STR(gem("tunedModels/my-model"), "tunedModels/my-model");
    /* a Gemini id is one segment, whatever the prefix */
    RT_CHECK(gem("models/a/b") == NULL);
    RT_CHECK(gem("tunedModels/a/b") == NULL);
    RT_CHECK(gem("a/b") == NULL);
    RT_CHECK_STR(gem("tunedModels/abc"), "tunedModels/abc");
}

static void vertex_forms(void)
{
    RT_CHECK_STR(vtx("gemini-live-2.5-flash", "p1", "us-central1", false),
                 "projects/p1/locations/us-central1/publishers/google/models/gemini-live-2.5-flash");
    RT_CHECK_STR(vtx("meta/llama", "p1", "eu", false),
                 "projects/p1/locations/eu/publishers/meta/models/llama");
    /* a publisher's resource name goes out under the project and location, as the SDK
     * sends it; without them (express mode) as given */
    RT_CHECK_STR(vtx("publishers/google/models/x", "p", "l", false),
                 "projects/p/locations/l/publishers/google/models/x");
    RT_CHECK_STR(vtx("publishers/google/models/x", "p", "l", true), "publishers/google/models/x");
    /* full resource names are kept as given */
    RT_CHECK_STR(vtx("projects/a/locations/b/publishers/google/models/x", "p", "l", false),
                 "projects/a/locations/b/publishers/google/models/x");
    /* "models/id", the Gemini spelling (Vertex closes 1008 on it as is), is Google's
     * model as the bare id is, in express mode too */
    RT_CHECK_STR(vtx("models/foo", "p", "l", false),
                 "projects/p/locations/l/publishers/google/models/foo");
    RT_CHECK_STR(vtx("models/foo", "p", "l", true), "publishers/google/models/foo");
    RT_CHECK_STR(vtx("models/foo", NULL, NULL, false), "publishers/google/models/foo");
    /* what "models/" leaves must be a lone id */
    RT_CHECK(vtx("models/a/b", "p", "l", false) == NULL);
    RT_CHECK_STR(why, "unsafe model name: expected \"models/id\" with no \"/\" in the id");
    RT_CHECK(vtx("models/", "p", "l", false) == NULL);
    /* so must what a resource name's "models/" leaves (the service closed 1008 on them
     * after the handshake) */
    RT_CHECK(vtx("publishers/google/models/a/b", "p", "l", false) == NULL);
    RT_CHECK_STR(why, "unsafe model name: expected \"models/id\" with no \"/\" in the id");
    RT_CHECK(vtx("publishers/google/models/a/b", "p", "l", true) == NULL);
    RT_CHECK(vtx("projects/p/locations/l/publishers/google/models/x/extra", "p", "l", false) ==
             NULL);
    RT_CHECK_STR(why, "unsafe model name: expected \"models/id\" with no \"/\" in the id");
    RT_CHECK(vtx("publishers/acme/models/x/y/z", NULL, NULL, false) == NULL);
    /* a publisher or project whose name ends in "models" is not the models segment */
    RT_CHECK_STR(vtx("publishers/mymodels/models/x", "p", "l", false),
                 "projects/p/locations/l/publishers/mymodels/models/x");
}

static void vertex_express_and_unknown_project(void)
{
    RT_CHECK_STR(vtx("gemini-live-2.5-flash", "p", "l", true),
                 "publishers/google/models/gemini-live-2.5-flash");
    RT_CHECK_STR(vtx("gemini-live-2.5-flash", NULL, "l", false),
                 "publishers/google/models/gemini-live-2.5-flash");
    RT_CHECK_STR(vtx("gemini-live-2.5-flash", "p", "", false),
                 "publishers/google/models/gemini-live-2.5-flash");
}

static void unsafe_names_refused(void)
{
    RT_CHECK(gem("../secret") == NULL);
    RT_CHECK_STR(why, "unsafe model name: it contains \"..\"");
    RT_CHECK(gem("m?key=1") == NULL);
    RT_CHECK(gem("a&b") == NULL);
    RT_CHECK(gem("a#b") == NULL);
    RT_CHECK(gem("a%2e") == NULL);
    RT_CHECK(gem("a b") == NULL);
    RT_CHECK(gem("a\nb") == NULL);
    RT_CHECK(gem("") == NULL);
    RT_CHECK_STR(why, "unsafe model name: it is empty");
    RT_CHECK(gem(NULL) == NULL);
    RT_CHECK(gem("models//x") == NULL);
    RT_CHECK(gem("x/") == NULL);
    RT_CHECK(vtx("a/b/c", "p", "l", false) == NULL);
    RT_CHECK(vtx("m", "p/x", "l", false) == NULL);
    RT_CHECK_STR(why, "unsafe project or location: it contains \"/\"");
    RT_CHECK(vtx("m", "p", "l?", false) == NULL);
}

static void too_long_refused(void)
{
    char big[RT_MODEL_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    RT_CHECK(gem(big) == NULL);
    RT_CHECK_STR(why, "unsafe model name: it is too long");
    big[RT_MODEL_MAX] = '\0'; /* exactly the limit: accepted */
    RT_CHECK(gem(big) != NULL);
}

static void small_buffer_reported(void)
{
    struct rt_model_ctx c = { .vertex = false };
    char tiny[8];
    RT_CHECK(rt_model_resolve(&c, "gemini", tiny, sizeof tiny, &why) == -1);
    RT_CHECK_STR(why, "model name does not fit the output buffer");
}

int main(void)
{
    RT_RUN(gemini_forms);
    RT_RUN(vertex_forms);
    RT_RUN(vertex_express_and_unknown_project);
    RT_RUN(unsafe_names_refused);
    RT_RUN(too_long_refused);
    RT_RUN(small_buffer_reported);
    return rt_test_done();
}
