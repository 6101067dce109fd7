/* The field a mistyped or foreign name most likely meant, for the mapping's "unknown
 * field" errors: the C twin of lua/realtime/suggest.lua (which the option checks use),
 * for the fields of messages and parts that the binding checks. */
#include "lrt_suggest.h"

#include <string.h>

#define LRT_SUGGEST_MAX 48   /* longer names get no guess: nothing here is that long */

/* Names other APIs (or the wire) use for our fields. */
static const char *const foreign[][2] = {
    { "image", "data" },  { "bytes", "data" },     { "inline_data", "data" },
    { "pcm", "audio" },   { "chunk", "audio" },    { "id", "call_id" },
    { "output", "result" }, { "response", "result" }, { "message", "text" },
    { "parts", "content" }, { "turns", "content" },  { "audio", "data" },
    { "mime_type", "mime" }, { "json", "wire" },     { "text", "wire" },
    { "mimetype", "mime" },  { "content_type", "mime" }, { "media_type", "mime" },
};

/* name in snake_case (a camelCase "mimeType" as "mime_type"), lower case, into out;
 * 0 when it does not fit. */
static size_t snake(const char *k, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        int upper = c >= 'A' && c <= 'Z';
        if (upper && i > 0 && k[i - 1] >= 'a' && k[i - 1] <= 'z') {
            if (o + 1 >= cap)
                return 0;
            out[o++] = '_';
        }
        if (o + 1 >= cap)
            return 0;
        out[o++] = (char)(upper ? c + ('a' - 'A') : c);
    }
    out[o] = '\0';
    return o;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Edit distance (insertions, deletions, substitutions, a swap of two neighbours) of a
 * and b, both at most LRT_SUGGEST_MAX bytes. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[LRT_SUGGEST_MAX + 1][LRT_SUGGEST_MAX + 1];

    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t v = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
                            d[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}

static const char *known(const char *s, const char *const names[])
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return names[i];
    return NULL;
}

/* Whether part is a whole '_'-separated part of name ("call_id" of "function_call_id"). */
static int has_part(const char *name, const char *part)
{
    size_t n = strlen(name), p = strlen(part);

    for (const char *at = strstr(name, part); at; at = strstr(at + 1, part)) {
        size_t off = (size_t)(at - name);
        if ((off == 0 || name[off - 1] == '_') && (off + p == n || name[off + p] == '_'))
            return 1;
    }
    return 0;
}

const char *lrt_suggest(const char *k, size_t n, const char *const names[])
{
    char s[LRT_SUGGEST_MAX + 1];
    size_t len = n && n <= LRT_SUGGEST_MAX ? snake(k, n, s, sizeof s) : 0;
    const char *best = NULL, *hit;
    size_t best_d = 0, limit = len <= 4 ? 1 : 2;
    int tied = 0;

    if (!len || memchr(k, '\0', n))
        return NULL;
    if ((hit = known(s, names)) != NULL)
        return hit;                       /* turnComplete: turn_complete */
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (strcmp(s, foreign[i][0]) == 0 && (hit = known(foreign[i][1], names)) != NULL)
            return hit;
    /* only a name closer than every other is a guess: of two as close, either may be
       wrong, and a wrong guess misleads more than none */
    for (int i = 0; names[i]; i++) {
        size_t nl = strlen(names[i]), d;
        if (nl > LRT_SUGGEST_MAX || (nl > len ? nl - len : len - nl) > limit)
            continue;
        d = distance(s, len, names[i], nl);
        if (d <= limit && (!best || d <= best_d)) {
            tied = best && d == best_d;
            best = names[i];
            best_d = d;
        }
    }
    if (best)
        return tied ? NULL : best;
    /* a whole part of one name ("turn" of "turn_complete"), or one name a whole part of
       it ("mime" of "mime_type") */
    for (int i = 0; names[i]; i++) {
        if ((len >= 4 && has_part(names[i], s)) ||
            (strlen(names[i]) >= 4 && has_part(s, names[i]))) {
            if (best)
                return NULL;
            best = names[i];
        }
    }
    return best;
}
