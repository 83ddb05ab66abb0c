#include "src/lua/lua_script.h"

#include <cstring>
#include <utility>

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
  // Make a thread's run closures (see Thread): `hook(handle)` as a tail
  // call. One chunk per hook: each closure's code then gets its own trace,
  // specialised to its hook.
  constexpr std::string_view kMakeRun = "local hook, handle = ... return function() return hook(handle) end";
  for (int* ref : {&script->make_request_run_ref_, &script->make_response_run_ref_}) {
    if (luaL_loadbuffer(L, kMakeRun.data(), kMakeRun.size(), "=pier_run") != 0) {
      script->load_error_ = lua_tostring(L, -1);
      script->vm_.reset();
      return script;
    }
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
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
  // the run closures in its stack and the handle they hold) alive; the
  // headers object needs one of its own, which is also how the bindings
  // reach it.
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->handle = pushStreamObject(t->L, ObjectKind::kHandle, {});
  for (const auto& [make_ref, hook_ref] : {std::pair{make_request_run_ref_, on_request_ref_},
                                          std::pair{make_response_run_ref_, on_response_ref_}}) {
    lua_rawgeti(t->L, LUA_REGISTRYINDEX, make_ref);
    lua_rawgeti(t->L, LUA_REGISTRYINDEX, hook_ref);
    lua_pushvalue(t->L, 1);
    lua_call(t->L, 2, 1);
  }
  lua_remove(t->L, 1);  // the run closures keep the handle
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
