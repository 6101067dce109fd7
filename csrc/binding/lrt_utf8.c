/* UTF-8 checks and repair for the binding (see lrt_utf8.h). */
#include "lrt_utf8.h"

#include <lauxlib.h>

/* The length of the well-formed UTF-8 sequence at s[0..n) (1 to 4), or 0 when the
 * first byte does not start one (no overlongs, surrogates or values past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int lrt_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        size_t len = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

void lrt_push_utf8_fixed(lua_State *L, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    luaL_Buffer b;

    if (lrt_utf8_valid(str, n)) {
        lua_pushlstring(L, str, n);
        return;
    }
    luaL_buffinit(L, &b);
    while (i < n) {
        size_t len = utf8_seq(s + i, n - i);
        if (len) {
            i += len;
            continue;
        }
        luaL_addlstring(&b, str + run, i - run);
        luaL_addstring(&b, "\xEF\xBF\xBD");   /* U+FFFD */
        run = ++i;
    }
    luaL_addlstring(&b, str + run, n - run);
    luaL_pushresult(&b);
}
