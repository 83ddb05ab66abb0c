#include "src/lua/lua_compat.h"

#include <string>

#include "src/lua/lua_headers.h"

namespace pier::lua {
namespace {

// Lua 5.2's pairs: a `__pairs` metamethod (looked up raw, ignoring
// `__metatable`, as 5.2 does) supplies the iterator triple; otherwise the
// table is iterated with the builtin `next`. Returning that exact `next` keeps
// LuaJIT's ISNEXT fast path for plain tables.
int pairsWithMetamethod(lua_State* L) {
  if (luaL_getmetafield(L, 1, "__pairs")) {
    lua_pushvalue(L, 1);
    lua_call(L, 1, 3);
    return 3;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// table.unpack/table.pack are plain Lua 5.2 library additions; in Lua source
// so they stay JIT-compilable.
constexpr std::string_view kCompatLua = R"lua(
table.unpack = table.unpack or unpack
table.pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end
)lua";

// Whitelists rather than blacklists: anything added to a library later stays
// out until someone decides it is safe. The registry (debug.getregistry)
// would lead back to package.loaded.io, so `debug` keeps only traceback.
constexpr std::string_view kSandboxLua = R"lua(
local os_time, os_clock, os_date, os_difftime = os.time, os.clock, os.date, os.difftime
os = { time = os_time, clock = os_clock, date = os_date, difftime = os_difftime }
debug = { traceback = debug.traceback }
io, package, require, module, loadfile, dofile = nil, nil, nil, nil, nil, nil
local raw_load = load
local function text_only_load(chunk, name, _, ...)
  return raw_load(chunk, name, "t", ...)
end
load, loadstring = text_only_load, text_only_load
)lua";

}  // namespace

std::string chunkName(std::string_view name) { return "@" + std::string(name); }

Status runChunk(lua_State* L, std::string_view code, std::string_view name) {
  const std::string chunk = chunkName(name);
  if (luaL_loadbuffer(L, code.data(), code.size(), chunk.c_str()) != 0 || lua_pcall(L, 0, 0, 0) != 0) {
    Error error{lua_isstring(L, -1) ? lua_tostring(L, -1) : "error object is not a string"};
    lua_pop(L, 1);
    return error;
  }
  return {};
}

Status installCompat(lua_State* L) {
  lua_getglobal(L, "next");
  lua_pushcclosure(L, pairsWithMetamethod, 1);
  lua_setglobal(L, "pairs");
  return runChunk(L, kCompatLua, "pier_lua_compat");
}

Status installSandbox(lua_State* L) { return runChunk(L, kSandboxLua, "pier_lua_sandbox"); }

}  // namespace pier::lua
