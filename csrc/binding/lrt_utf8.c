/* UTF-8 repair for the binding (see lrt_utf8.h), on the core's one check (rt_utf8.c). */
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
