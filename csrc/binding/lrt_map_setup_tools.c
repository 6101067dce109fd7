/* Session options -> setup.tools: function declarations (their parameters through
 * lrt_schema.c) and the built-in tools (part of map_setup; see lrt_map_setup.c). */
#include <string.h>

#include <lauxlib.h>

#include "lrt_json.h"
#include "lrt_map.h"
#include "lrt_map_setup.h"

/* The wire form of each built-in tool type: its own Tool entry, an empty object. */
static const char *builtin_tool(const char *type)
{
    static const char *const names[][2] = {
        { "google_search", "googleSearch" },
        { "code_execution", "codeExecution" },
        { "url_context", "urlContext" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

/* Pushes the FunctionDeclaration of the function tool at tool (entry i). */
static void push_declaration(lua_State *L, int tool, lua_Integer i)
{
    if (lrt_user_field(L, tool, "name") != LUA_TSTRING)
        luaL_error(L, "option 'tools': entry %d has no name", (int)i);
    const char *name = lua_tostring(L, -1);
    lua_createtable(L, 0, 4);
    int d = lua_gettop(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, d, "name");
    if (lrt_user_field(L, tool, "description") == LUA_TSTRING)
        lua_setfield(L, d, "description");
    else
        lua_pop(L, 1);
    if (lrt_user_field(L, tool, "parameters") == LUA_TTABLE) {
        lrt_schema_convert(L, -1, name);
        lua_setfield(L, d, "parameters");
    }
    lua_pop(L, 1);
    int t = lrt_user_field(L, tool, "behavior");
    const char *b = lrt_map_enum(L, -1, "tool '%s': behavior", name);
    if (b && strcmp(b, "blocking") == 0)
        lrt_set_str(L, d, "behavior", "BLOCKING");
    else if (b && strcmp(b, "non_blocking") == 0)
        lrt_set_str(L, d, "behavior", "NON_BLOCKING");
    else if (t != LUA_TNIL)
        luaL_error(L, "tool '%s': 'behavior' must be \"blocking\" or \"non_blocking\"", name);
    lua_pop(L, 1);
    lua_remove(L, d - 1);   /* the name */
}

/* tools -> setup.tools: each built-in tool is its own entry, in the given order; every
 * function declaration goes into one functionDeclarations entry, placed where the first
 * function tool stands (the form @google/genai sends for the same list). */
void lrt_setup_tools(lua_State *L, int opts, int setup)
{
    if (opt(L, opts, "tools") != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int tools = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, tools), entries = 0, ndecls = 0;
    if (n == 0) {
        lua_pop(L, 1);
        return;
    }
    lrt_json_newarray(L, (int)n);
    int out = lua_gettop(L);
    lrt_json_newarray(L, 0);
    int decls = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, tools, i) != LUA_TTABLE)
            luaL_error(L, "option 'tools': entry %d is not a table", (int)i);
        int tool = lua_gettop(L);
        const char *type = "function";
        int t = lrt_user_field(L, tool, "type");
        if (t == LUA_TSTRING)
            type = lrt_map_enum(L, -1, "option 'tools': entry %d: type", (int)i);
        else if (t != LUA_TNIL)
            luaL_error(L, "option 'tools': entry %d: 'type' must be a string", (int)i);
        if (strcmp(type, "function") == 0) {
            push_declaration(L, tool, i);
            lua_rawseti(L, decls, ++ndecls);
            if (ndecls == 1) {
                lua_createtable(L, 0, 1);
                lua_pushvalue(L, decls);
                lua_setfield(L, -2, "functionDeclarations");
                lua_rawseti(L, out, ++entries);
            }
        } else {
            const char *wire = builtin_tool(type);
            if (!wire)
                luaL_error(L, "option 'tools': entry %d: unknown tool type %s (expected "
                              "\"function\", \"google_search\", \"code_execution\" or "
                              "\"url_context\")", (int)i, lrt_map_shown(L, type, strlen(type)));
            lua_createtable(L, 0, 1);
            lua_newtable(L);
            lua_setfield(L, -2, wire);
            lua_rawseti(L, out, ++entries);
        }
        lua_settop(L, decls);
    }
    lua_settop(L, out);
    lua_setfield(L, setup, "tools");
    lua_settop(L, tools - 1);
}
