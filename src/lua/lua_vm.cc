#include "src/lua/lua_vm.h"

#include <cassert>

#include "src/lua/lua_compat.h"
#include "src/lua/lua_headers.h"

namespace pier::lua {
namespace {

// error() accepts any value; only strings and numbers carry a message.
std::string errorText(lua_State* L, int index) {
  if (lua_type(L, index) == LUA_TSTRING || lua_type(L, index) == LUA_TNUMBER) return lua_tostring(L, index);
  return std::string("(error object is a ") + luaL_typename(L, index) + " value)";
}

// Message handler for pcall: runs before the stack unwinds, so the traceback
// still shows where the error happened.
int tracebackHandler(lua_State* L) {
  const std::string message = errorText(L, 1);
  luaL_traceback(L, L, message.c_str(), 1);
  return 1;
}

bool isGlobalFunction(lua_State* L, const char* name) {
  lua_getglobal(L, name);
  const bool is_function = lua_isfunction(L, -1);
  lua_pop(L, 1);
  return is_function;
}

struct StateCloser {
  void operator()(lua_State* L) const { lua_close(L); }
};
using StatePtr = std::unique_ptr<lua_State, StateCloser>;

}  // namespace

LuaCoroutine::~LuaCoroutine() { vm_.release(ref_); }

Status LuaVm::checkSyntax(std::string_view code, std::string_view chunk_name) {
  // Compiling needs no libraries, so a bare state is enough and cheap.
  StatePtr L(luaL_newstate());
  if (!L) return Error{"cannot create a Lua state"};
  const std::string chunk = chunkName(chunk_name);
  if (luaL_loadbuffer(L.get(), code.data(), code.size(), chunk.c_str()) != 0) {
    return Error{errorText(L.get(), -1)};
  }
  return {};
}

Result<std::unique_ptr<LuaVm>> LuaVm::create(std::string_view code, std::string_view chunk_name,
                                             const Options& options) {
  StatePtr owned(luaL_newstate());
  if (!owned) return Error{"cannot create a Lua state"};
  lua_State* L = owned.get();
  luaL_openlibs(L);
  if (Status s = installCompat(L); !s) return Error{s.error()};
  if (options.sandbox) {
    if (Status s = installSandbox(L); !s) return Error{s.error()};
  }

  if (options.prepare) options.prepare(L);
  lua_pushcfunction(L, tracebackHandler);
  const std::string chunk = chunkName(chunk_name);
  if (luaL_loadbuffer(L, code.data(), code.size(), chunk.c_str()) != 0) {
    return Error{errorText(L, -1)};
  }
  if (lua_pcall(L, 0, 0, -2) != 0) return Error{errorText(L, -1)};
  lua_pop(L, 1);  // the handler

  std::unique_ptr<LuaVm> vm(new LuaVm(owned.release()));
  vm->has_on_request_ = isGlobalFunction(L, "envoy_on_request");
  vm->has_on_response_ = isGlobalFunction(L, "envoy_on_response");
  return vm;
}

LuaVm::~LuaVm() {
  // A coroutine outliving its VM would unref into a closed state.
  assert(live_coroutines_ == 0);
  lua_close(L_);
}

size_t LuaVm::memoryBytes() const {
  return static_cast<size_t>(lua_gc(L_, LUA_GCCOUNT, 0)) * 1024 +
         static_cast<size_t>(lua_gc(L_, LUA_GCCOUNTB, 0));
}

std::unique_ptr<LuaCoroutine> LuaVm::startHook(const char* hook, const PushArgs& push) {
  lua_State* thread = lua_newthread(L_);
  // The registry reference is what keeps the thread from being collected
  // while it is suspended; luaL_ref pops it from the main stack.
  const int ref = luaL_ref(L_, LUA_REGISTRYINDEX);
  std::unique_ptr<LuaCoroutine> co(new LuaCoroutine(*this, thread, ref));
  ++live_coroutines_;

  lua_getglobal(thread, hook);
  if (!lua_isfunction(thread, -1)) {
    lua_settop(thread, 0);
    co->status_ = CoroutineStatus::kError;
    co->error_ = std::string("no global function '") + hook + "'";
    return co;
  }
  const int nargs = push ? push(thread) : 0;
  run(*co, nargs);
  return co;
}

CoroutineStatus LuaVm::resume(LuaCoroutine& co, const PushArgs& push) {
  if (co.status_ != CoroutineStatus::kYielded) {
    co.status_ = CoroutineStatus::kError;
    co.error_ = "cannot resume a coroutine that is not suspended";
    return co.status_;
  }
  lua_settop(co.thread_, 0);
  const int nargs = push ? push(co.thread_) : 0;
  return run(co, nargs);
}

CoroutineStatus LuaVm::run(LuaCoroutine& co, int nargs) {
  const int rc = lua_resume(co.thread_, nargs);
  if (rc == LUA_YIELD) {
    co.status_ = CoroutineStatus::kYielded;
  } else if (rc == 0) {
    co.status_ = CoroutineStatus::kFinished;
  } else {
    co.status_ = CoroutineStatus::kError;
    // A dead coroutine keeps its frames, so the traceback is taken from it
    // after the fact (there is no message handler for lua_resume).
    const std::string message = errorText(co.thread_, -1);
    luaL_traceback(L_, co.thread_, message.c_str(), 0);
    co.error_ = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    lua_settop(co.thread_, 0);
  }
  return co.status_;
}

void LuaVm::release(int ref) {
  luaL_unref(L_, LUA_REGISTRYINDEX, ref);
  --live_coroutines_;
}

}  // namespace pier::lua
