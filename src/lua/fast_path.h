#pragma once
// Fast paths for the calls nearly every script makes: handle:headers() and
// headers:add/get/replace/remove. Each becomes a small Lua function that
// the JIT compiles into the script's own trace: each compares its object's
// address with the running hook's own handle or headers object, which
// LuaScript keeps where the FFI reads it, and the headers functions call
// C++ through LuaJIT's FFI. A classic C function costs a trace exit and a
// dozen C-API calls per call. The fast
// side only accepts the plain case (the running hook's own objects, string
// arguments, valid names and values, headers still held);
// anything else falls through to the classic C function, which checks
// everything and raises the usual errors at the script's line. Internal to
// src/lua.

namespace pier::lua {

class LuaScript;

// Once per script state, after the types are registered (LuaScript does
// it once the script runs often; see LuaScript::useFastPaths). The fast
// headers() returns the running hook's headers object from the registry
// (LuaScript::runningHeadersRefCell names it).
void installFastPaths(LuaScript& script);

}  // namespace pier::lua
