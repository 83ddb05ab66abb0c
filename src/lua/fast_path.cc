#include "src/lua/fast_path.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/common/log.h"
#include "src/lua/lua_bindings.h"

namespace pier::lua {
namespace {

// Results of the C++ side, as the Lua side reads them.
constexpr int kDone = 0;
constexpr int kSlowPath = 1;
constexpr int kAbsent = 2;            // get(): no such header
constexpr int kDoneMixedCaseName = 3;  // add(), replace(): done; a new name with upper-case letters

bool lowerCase(std::string_view name) {
  for (const char c : name) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

// After a successful add() or replace(): what the Lua side is to remember
// of a name it did not know to be valid.
int doneWith(std::string_view name, bool name_valid) {
  return !name_valid && !lowerCase(name) ? kDoneMixedCaseName : kDone;
}

// The headers of the running hook, when its script may change them;
// otherwise nullptr (the slow path decides). The Lua side has checked that
// the headers object is the running thread's own (by address, see
// LuaScript::runningObjectsCell), so the running hook's are the ones.
filters::HeaderMap* ownHeaders(void* script) { return static_cast<LuaScript*>(script)->runningHeaders(); }

// The functions below are called from Lua through the FFI: they must not
// raise Lua errors (no longjmp across an FFI frame) nor throw.

// `name_valid`, `name_lower_case`: what an earlier call found about the
// name (the Lua side remembers it).
int fastHeadersAdd(void* script, const char* name, size_t name_len, const char* value, size_t value_len,
                   bool name_valid, bool name_lower_case) noexcept {
  filters::HeaderMap* headers = ownHeaders(script);
  const std::string_view n(name, name_len);
  const std::string_view v(value, value_len);
  if (headers == nullptr || !validHeaderValue(v)) return kSlowPath;
  if (name_lower_case) {
    headers->addLowerCase(n, v);
    return kDone;
  }
  if (!name_valid && !validHeaderName(n)) return kSlowPath;
  headers->add(n, v);
  return doneWith(n, name_valid);
}

int fastHeadersReplace(void* script, const char* name, size_t name_len, const char* value, size_t value_len,
                       bool name_valid) noexcept {
  filters::HeaderMap* headers = ownHeaders(script);
  const std::string_view n(name, name_len);
  const std::string_view v(value, value_len);
  if (headers == nullptr || (!name_valid && !validHeaderName(n)) || !validHeaderValue(v)) return kSlowPath;
  headers->replace(n, v);
  return doneWith(n, name_valid);
}

int fastHeadersRemove(void* script, const char* name, size_t name_len) noexcept {
  filters::HeaderMap* headers = ownHeaders(script);
  if (headers == nullptr) return kSlowPath;
  headers->remove(std::string_view(name, name_len));
  return kDone;
}

// One value: its bytes in *out (valid until the map changes; the Lua side
// copies them at once). Several values are joined by the slow path.
int fastHeadersGet(void* script, const char* name, size_t name_len, const char** out, size_t* out_len) noexcept {
  const filters::HeaderMap* headers = ownHeaders(script);
  if (headers == nullptr) return kSlowPath;
  const std::string_view n(name, name_len);
  const filters::HeaderMap& h = *headers;
  const std::string_view* first = h.getFirst(n);
  if (first == nullptr) return kAbsent;
  if (h.getAtIndex(n, 1) != nullptr) return kSlowPath;
  *out = first->data();
  *out_len = first->size();
  return kDone;
}

// Runs once per state with: ffi, the handle's and the headers' method
// tables, the registry, the script, the cells naming the running hook's own
// handle and headers objects (LuaScript::runningObjectsCell) and its headers
// object's registry reference (runningHeadersRefCell), and the C++
// functions (light userdata).
// The objects are told by the address of their payload, as the FFI converts
// a userdata to a pointer: a compare the JIT compiles into the script's
// trace (a table lookup per call cost more). headers() needs no C++. Each
// fast function tail-calls the classic one when the fast check or the C++
// side declines, so its errors name the script's line.
constexpr std::string_view kInstallLua = R"lua(
local ffi, handle_methods, headers_methods, registry,
      p_script, p_running, p_headers_ref, p_add, p_replace, p_remove, p_get = ...
local type = type
local cast = ffi.cast
local object_address = ffi.typeof("const void *")
local script = cast("void *", p_script)
local running = cast("const void * const *", p_running)  -- [0] handle, [1] headers
local headers_ref = cast("const int32_t *", p_headers_ref)
local c_add = cast("int (*)(void *, const char *, size_t, const char *, size_t, bool, bool)", p_add)
local c_replace = cast("int (*)(void *, const char *, size_t, const char *, size_t, bool)", p_replace)
local c_remove = cast("int (*)(void *, const char *, size_t)", p_remove)
local c_get = cast("int (*)(void *, const char *, size_t, const char **, size_t *)", p_get)
local got = ffi.new("const char *[1]")
local got_len = ffi.new("size_t[1]")
local ffi_string = ffi.string

local slow_headers = handle_methods.headers
handle_methods.headers = function(self)
  if type(self) == "userdata" and cast(object_address, self) == running[0] then
    return registry[headers_ref[0]]
  end
  return slow_headers(self)
end

local function own_headers(self)
  return type(self) == "userdata" and cast(object_address, self) == running[1]
end

-- Names add() and replace() found valid: true when they hold no upper-case
-- letter (add() then copies them without lowering), false otherwise. Lua
-- strings are interned (one string per text, kept alive as a key here), so
-- this knows texts, not addresses. Scripts use the same few names on every
-- run, and the lookup (compiled into the trace for a literal name) costs
-- less than the check.
local valid_names, valid_name_count = {}, 0
local function remember_name(name, rc)
  if valid_name_count < 64 then
    valid_names[name] = rc == 0
    valid_name_count = valid_name_count + 1
  end
end

local slow_add = headers_methods.add
headers_methods.add = function(self, name, value)
  if own_headers(self) and type(name) == "string" and type(value) == "string" then
    local known = valid_names[name]
    local rc = c_add(script, name, #name, value, #value, known ~= nil, known == true)
    if rc == 0 or rc == 3 then
      if known == nil then remember_name(name, rc) end
      return
    end
  end
  return slow_add(self, name, value)
end

local slow_replace = headers_methods.replace
headers_methods.replace = function(self, name, value)
  if own_headers(self) and type(name) == "string" and type(value) == "string" then
    local known = valid_names[name]
    local rc = c_replace(script, name, #name, value, #value, known ~= nil)
    if rc == 0 or rc == 3 then
      if known == nil then remember_name(name, rc) end
      return
    end
  end
  return slow_replace(self, name, value)
end

local slow_remove = headers_methods.remove
headers_methods.remove = function(self, name)
  if own_headers(self) and type(name) == "string" and c_remove(script, name, #name) == 0 then
    return
  end
  return slow_remove(self, name)
end

local slow_get = headers_methods.get
headers_methods.get = function(self, name)
  if own_headers(self) and type(name) == "string" then
    local rc = c_get(script, name, #name, got, got_len)
    if rc == 0 then return ffi_string(got[0], got_len[0]) end
    if rc == 2 then return nil end
  end
  return slow_get(self, name)
end
)lua";

void pushMethods(LuaScript& script, lua_State* L, ObjectKind kind) {
  script.pushMetatable(L, kind);
  lua_getfield(L, -1, "__index");
  lua_remove(L, -2);
}

}  // namespace

void installFastPaths(LuaScript& script) {
  lua_State* L = script.state();
  const int top = lua_gettop(L);
  if (luaL_loadbuffer(L, kInstallLua.data(), kInstallLua.size(), "=pier_fast_path") != 0) {
    lua_settop(L, top);
    return;  // the classic functions stay: slower, same behaviour
  }
  // The FFI module, whether or not the sandbox withholds require() (only
  // these functions keep it then). Opened once per state: a second
  // luaopen_ffi() would start a second C type state.
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "ffi");
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushcfunction(L, luaopen_ffi);
    lua_call(L, 0, 1);  // also records it in _LOADED, for require("ffi") later
  }
  pushMethods(script, L, ObjectKind::kHandle);
  pushMethods(script, L, ObjectKind::kHeaders);
  lua_pushvalue(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, &script);
  lua_pushlightuserdata(L, const_cast<const void**>(script.runningObjectsCell()));
  lua_pushlightuserdata(L, const_cast<int32_t*>(script.runningHeadersRefCell()));
  lua_pushlightuserdata(L, reinterpret_cast<void*>(&fastHeadersAdd));
  lua_pushlightuserdata(L, reinterpret_cast<void*>(&fastHeadersReplace));
  lua_pushlightuserdata(L, reinterpret_cast<void*>(&fastHeadersRemove));
  lua_pushlightuserdata(L, reinterpret_cast<void*>(&fastHeadersGet));
  if (lua_pcall(L, 11, 0, 0) != 0) {
    PIER_LOG_WARN("lua: fast paths not installed: {}", lua_tostring(L, -1));
  }
  lua_settop(L, top);
}

}  // namespace pier::lua
