/* UTF-8 repair and quoting for the binding (see lrt_utf8.h), on the core's one check and
 * printable form (rt_utf8.c). */
#include "lrt_utf8.h"

#include <lauxlib.h>

#include "rt_utf8.h"

void lrt_push_utf8_fixed(lua_State *L, const char *str, size_t n)
{
    size_t i = rt_utf8_valid_prefix(str, n);
    luaL_Buffer b;

    if (i == n) {
        lua_pushlstring(L, str, n);
        return;
    }
    luaL_buffinit(L, &b);
    for (;;) {
        luaL_addlstring(&b, str, i);
        if (i == n)
            break;
        luaL_addstring(&b, "\xEF\xBF\xBD");   /* U+FFFD for the byte that starts no sequence */
        str += i + 1;
        n -= i + 1;
        i = rt_utf8_valid_prefix(str, n);
    }
    luaL_pushresult(&b);
}

const char *lrt_push_shown(lua_State *L, const char *s, size_t n, size_t max)
{
    char out[LRT_SHOWN_MAX * 4 + 1];
    size_t m = n;

    if (max > LRT_SHOWN_MAX)
        max = LRT_SHOWN_MAX;
    if (m > max) {
        /* cut before a character, not inside it (a continuation byte is 10xxxxxx) */
        m = max;
        while (m > 0 && max - m < 3 && ((unsigned char)s[m] & 0xC0) == 0x80)
            m--;
    }
    rt_printable(out, sizeof out, s, m, NULL);   /* LRT_SHOWN_MAX bytes always fit */
    return lua_pushfstring(L, "'%s'%s", out, m < n ? "..." : "");
}
