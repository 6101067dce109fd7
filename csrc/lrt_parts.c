/* The list of binding parts that add themselves to realtime.core. */
#include "lrt_private.h"

void lrt_open_parts(lua_State *L)
{
    (void)L;
    lrt_open_auth(L);
    lrt_open_audio(L);
}
