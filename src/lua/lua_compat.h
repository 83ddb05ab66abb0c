#pragma once
// Bridges between Debian's LuaJIT build and what Envoy Lua filter scripts
// expect, and the optional sandbox. See lua_vm.h for why each shim exists.
#include <string>
#include <string_view>

#include "src/common/result.h"

struct lua_State;

namespace pier::lua {

// Adds the Lua 5.2 pieces Envoy scripts rely on that this LuaJIT build lacks:
// a `pairs` that honours `__pairs`, `table.unpack` and `table.pack`.
// Needs the standard libraries opened first.
Status installCompat(lua_State* L);

// Withholds the globals that reach the file system, processes, environment or
// module loader, and makes load/loadstring refuse bytecode (LuaJIT does not
// verify bytecode, so loading crafted bytecode can corrupt memory).
Status installSandbox(lua_State* L);

// "name" as LuaJIT chunk name: the '@' prefix makes errors read "name:line:"
// instead of "[string \"...\"]:line:".
std::string chunkName(std::string_view name);

// Runs `code` as a chunk named `name` in protected mode, for the shims above.
Status runChunk(lua_State* L, std::string_view code, std::string_view name);

}  // namespace pier::lua
