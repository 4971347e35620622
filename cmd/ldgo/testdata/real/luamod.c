/* A C module for the Lua host's require: its lua_* and luaL_* calls are
 * undefined here and bind at run time to the host's exports. */
#include <lua.h>
#include <lauxlib.h>

static int counter;

static int add(lua_State *L)
{
	counter++;
	lua_pushinteger(L, luaL_checkinteger(L, 1) + luaL_checkinteger(L, 2));
	return 1;
}

static int calls(lua_State *L)
{
	lua_pushinteger(L, counter);
	return 1;
}

static int fail(lua_State *L)
{
	return luaL_error(L, "failed in C with %d", (int)luaL_checkinteger(L, 1));
}

int luaopen_luamod(lua_State *L)
{
	static const luaL_Reg fns[] = {{"add", add}, {"calls", calls}, {"fail", fail}, {NULL, NULL}};
	luaL_newlib(L, fns);
	return 1;
}
