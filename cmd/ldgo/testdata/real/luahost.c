/* A Lua host: runs the script named by argv[1] with the standard
 * libraries open, the rest of argv as the global table arg, as lua.c
 * does. Linked with -Wl,-E, so C modules loaded by require bind to the
 * Lua API in this program. */
#include <stdio.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static int traceback(lua_State *L)
{
	luaL_traceback(L, L, lua_tostring(L, 1), 1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s script [args]\n", argv[0]);
		return 2;
	}
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	lua_createtable(L, argc, 0);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1);
	}
	lua_setglobal(L, "arg");
	lua_pushcfunction(L, traceback);
	int status = luaL_loadfile(L, argv[1]);
	if (status == LUA_OK)
		status = lua_pcall(L, 0, 0, -2);
	if (status != LUA_OK)
		fprintf(stderr, "%s: %s\n", argv[0], lua_tostring(L, -1));
	lua_close(L);
	return status == LUA_OK ? 0 : 1;
}
