#pragma once
// Helpers shared by the files that implement the Lua API (stream_handle.cc,
// lua_objects.cc, lua_crypto.cc), and what the filter calls to hand objects
// to scripts. Internal to src/lua.
//
// Every API function is a C closure with upvalue 1 = its LuaScript and
// upvalue 2 = the metatable of its object type (see LuaScript::defineType).
// Errors are raised with luaL_error, which prefixes the script's chunk:line.
// LuaJIT on x86-64 unwinds with the C++ ABI, so C++ destructors of the
// calling function still run when a Lua error is raised (a test checks this
// under LeakSanitizer).
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "src/lua/lua_headers.h"
#include "src/lua/lua_script.h"
#include "src/lua/stream_side.h"

namespace pier::lua {

inline LuaScript& scriptOf(lua_State* L) {
  return *static_cast<LuaScript*>(lua_touserdata(L, lua_upvalueindex(1)));
}

struct TypeName {
  ObjectKind kind;
  const char* name;
};

// `self` (argument 1) as a stream object of `type`, or a Lua error. The size
// and kind tell pier's objects apart without a metatable lookup; a foreign
// userdata that happened to match would still only be resolved through
// LiveObjects (integers, bounds- and generation-checked), never dereferenced.
inline StreamObject& selfObject(lua_State* L, TypeName type) {
  auto* o = static_cast<StreamObject*>(lua_touserdata(L, 1));
  if (o == nullptr || lua_objlen(L, 1) != sizeof(StreamObject) || o->kind != type.kind) {
    luaL_error(L, "expected a %s object as self (call methods with ':')", type.name);
  }
  return *o;
}

// The same for the methods of the handle and the headers: the running hook's
// own handle and headers objects are known by address (no size check).
inline StreamObject& selfObject(lua_State* L, const LuaScript& script, TypeName type) {
  auto* o = static_cast<StreamObject*>(lua_touserdata(L, 1));
  const LuaScript::Thread* t = script.running();
  if (t != nullptr && (o == t->handle || o == t->headers) && o->kind == type.kind) return *o;
  return selfObject(L, type);
}

// The direction an object belongs to, or a Lua error once its script run ended.
inline StreamSide& sideOf(lua_State* L, LuaScript& script, const StreamObject& o) {
  void* side = script.live().find(o.side);
  if (side == nullptr) luaL_error(L, "object used after the script run it belongs to ended");
  return *static_cast<StreamSide*>(side);
}
inline StreamSide& sideOf(lua_State* L, const StreamObject& o) { return sideOf(L, scriptOf(L), o); }

inline std::string_view checkView(lua_State* L, int index) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, index, &len);
  return {s, len};
}

// Type registration, called once per LuaScript.
void registerHandleType(LuaScript& script);
void registerObjectTypes(LuaScript& script);
void registerCryptoType(LuaScript& script);

// Objects the filter hands to scripts (pushed on `L`; the handle comes with
// LuaScript::startRun).
void pushHeaders(lua_State* L, const StreamSide& side, HeadersVariant variant);
// body() results: the held body, or nil/an empty buffer when there is none.
void pushBody(lua_State* L, StreamSide& side, bool always_wrap);
// A chunk for bodyChunks(): the bytes of `data` from `offset` on.
void pushChunk(lua_State* L, StreamSide& side, std::string* data, size_t offset);
// httpCall's results: headers table and body (nil when empty).
int pushHttpCallResponse(lua_State* L, const filters::HttpCallResponse& response,
                         bool duplicate_headers_as_arrays);

// JSON <-> Lua values (metadata, dynamic metadata, filter context).
void pushJson(lua_State* L, const nlohmann::json& value);
// Error text when the value cannot be represented (functions, cycles, ...).
bool toJson(lua_State* L, int index, nlohmann::json& out, std::string& error);

// Validation of header names and values a script sets: no CR, LF or NUL can
// reach the wire.
bool validHeaderName(std::string_view name);
bool validHeaderValue(std::string_view value);

}  // namespace pier::lua
