#include "src/lua/lua_script.h"

#include <cstring>

#include "src/lua/fast_path.h"
#include "src/lua/lua_bindings.h"
#include "src/lua/lua_headers.h"

namespace pier::lua {
namespace {

int hookRef(lua_State* L, const char* name) {
  lua_getglobal(L, name);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return -1;
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

}  // namespace

void defineTimestampResolution(lua_State* L) {
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "millisecond");
  lua_setfield(L, -2, "MILLISECOND");
  lua_pushliteral(L, "microsecond");
  lua_setfield(L, -2, "MICROSECOND");
  lua_setglobal(L, "EnvoyTimestampResolution");
}


std::shared_ptr<LuaScript> LuaScript::create(std::string_view code, std::string_view chunk_name,
                                             bool sandbox) {
  std::shared_ptr<LuaScript> script(new LuaScript());
  auto vm = LuaVm::create(code, chunk_name, LuaVm::Options{.sandbox = sandbox, .prepare = defineTimestampResolution});
  if (!vm.ok()) {
    script->load_error_ = vm.error();
    return script;
  }
  script->vm_ = std::move(vm.value());
  lua_State* L = script->vm_->state();
  script->on_request_ref_ = hookRef(L, "envoy_on_request");
  script->on_response_ref_ = hookRef(L, "envoy_on_response");
  registerHandleType(*script);
  registerObjectTypes(*script);
  registerCryptoType(*script);
  return script;
}

LuaScript::~LuaScript() = default;

void LuaScript::defineType(ObjectKind kind, const char* type_name, const luaL_Reg* methods) {
  lua_State* L = state();
  lua_newtable(L);  // metatable
  const int mt = lua_gettop(L);
  lua_newtable(L);  // methods
  const int index = lua_gettop(L);
  for (const luaL_Reg* m = methods; m->name != nullptr; ++m) {
    lua_pushlightuserdata(L, this);
    lua_pushvalue(L, mt);
    lua_pushcclosure(L, m->func, 2);
    lua_setfield(L, std::strncmp(m->name, "__", 2) == 0 ? mt : index, m->name);
  }
  lua_setfield(L, mt, "__index");
  lua_pushstring(L, type_name);
  lua_setfield(L, mt, "__name");
  // getmetatable() returns this instead of the table, so scripts cannot
  // replace methods that other streams' objects share.
  lua_pushboolean(L, 0);
  lua_setfield(L, mt, "__metatable");
  metatable_refs_[static_cast<size_t>(kind)] = luaL_ref(L, LUA_REGISTRYINDEX);
}

void LuaScript::pushMetatable(lua_State* L, ObjectKind kind) const {
  lua_rawgeti(L, LUA_REGISTRYINDEX, metatable_refs_[static_cast<size_t>(kind)]);
}

StreamObject* LuaScript::pushStreamObject(lua_State* L, ObjectKind kind, LiveObjects::Ref side,
                                          uint32_t epoch, uint8_t variant) const {
  auto* o = static_cast<StreamObject*>(lua_newuserdata(L, sizeof(StreamObject)));
  o->side = side;
  o->epoch = epoch;
  o->variant = variant;
  o->kind = kind;
  pushMetatable(L, kind);
  lua_setmetatable(L, -2);
  return o;
}

void LuaScript::useFastPaths() {
  if (fast_paths_) return;
  fast_paths_ = true;
  installFastPaths(*this);
}

std::unique_ptr<LuaScript::Thread> LuaScript::takeThread() {
  if (!idle_.empty()) {
    std::unique_ptr<Thread> t = std::move(idle_.back());
    idle_.pop_back();
    return t;
  }
  auto t = std::make_unique<Thread>();
  lua_State* L = state();
  t->L = lua_newthread(L);
  // The registry reference keeps the thread (while suspended, and with it
  // the handle in its stack) alive; the headers object needs one of its
  // own, which is also how the bindings reach it.
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_rawgeti(t->L, LUA_REGISTRYINDEX, on_request_ref_);
  lua_rawgeti(t->L, LUA_REGISTRYINDEX, on_response_ref_);
  t->handle = pushStreamObject(t->L, ObjectKind::kHandle, {});
  t->headers = pushStreamObject(L, ObjectKind::kHeaders, {}, 0, kHeadersMain);
  t->headers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return t;
}

void LuaScript::recycleThread(std::unique_ptr<Thread> t) {
  if (idle_.size() >= kMaxIdleThreads) {
    dropThread(std::move(t));
    return;
  }
  idle_.push_back(std::move(t));
}

void LuaScript::dropThread(std::unique_ptr<Thread> t) {
  luaL_unref(state(), LUA_REGISTRYINDEX, t->ref);
  luaL_unref(state(), LUA_REGISTRYINDEX, t->headers_ref);
}

}  // namespace pier::lua
