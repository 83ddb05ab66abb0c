#pragma once
// Runs Lua snippets and returns their result as text, so tests read as
// "this expression evaluates to that".
#include <string>
#include <string_view>

#include "src/lua/lua_headers.h"

namespace pier::lua::testing {

// Returns tostring(<first result of code>), or "error: <message>".
inline std::string eval(lua_State* L, std::string_view code) {
  const int top = lua_gettop(L);
  std::string out;
  if (luaL_loadbuffer(L, code.data(), code.size(), "=test") != 0 || lua_pcall(L, 0, 1, 0) != 0) {
    out = std::string("error: ") + (lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
  } else {
    lua_getglobal(L, "tostring");
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    out = lua_tostring(L, -1);
  }
  lua_settop(L, top);
  return out;
}

}  // namespace pier::lua::testing
