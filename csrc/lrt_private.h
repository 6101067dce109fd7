/* Declarations shared by the binding files (csrc/lrt_*.c). Not installed. */
#ifndef LRT_PRIVATE_H
#define LRT_PRIVATE_H

#include <lua.h>

/* Each binding part adds its functions to the module table on top of the stack. */
void lrt_open_parts(lua_State *L);
void lrt_open_auth(lua_State *L);
void lrt_open_audio(lua_State *L);

#endif
