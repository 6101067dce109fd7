/* Binding of the credential machinery (rt_auth, rt_http, rt_jwt) to realtime.core. */
#include "lrt_private.h"

void lrt_open_auth(lua_State *L)
{
    (void)L;
}
