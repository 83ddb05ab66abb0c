#pragma once
// One LuaJIT state holding one script, and coroutines that run its hooks.
//
// What Debian 12's libluajit2-5.1-dev (OpenResty LuaJIT 2.1-20230119,
// LUAJIT_VERSION "LuaJIT 2.1.0-beta3") provides, asserted by
// tests/lua/luajit_build_test.cc so a package change is noticed:
// - Built WITHOUT LUAJIT_ENABLE_LUA52COMPAT (Envoy builds with it):
//   `pairs` ignores `__pairs`, `ipairs` ignores `__ipairs`, `#` ignores
//   `__len` on tables, and `table.unpack`, `table.pack`, `rawlen` and
//   `package.searchers` are nil; _VERSION is "Lua 5.1".
// - Present anyway (unconditional in LuaJIT 2.1): `goto`/labels, `load` with a
//   mode and an env argument, `xpcall` with arguments, `math.log(x, base)`,
//   `string.rep(s, n, sep)`, `table.move`.
// - After luaL_openlibs: `bit` and `jit` are globals; `ffi` is NOT a global but
//   `require("ffi")` works (Envoy scripts write `local ffi = require("ffi")`).
// - GC64 is on (ffi.abi("gc64")), like Envoy's build. GC64 states use
//   LuaJIT's own allocator, so lua_newstate with a custom allocator (e.g. a
//   memory cap) is not available; memory is read with lua_gc instead.
// - The JIT compiler is enabled (jit.status() is true).
// Compensation (lua_compat.h): `pairs` honours `__pairs`, and `table.unpack`
// and `table.pack` exist. `__len` on tables and `__ipairs` are not emulated:
// Envoy's API objects do not depend on them.
//
// No instruction/time limit: LuaJIT ignores count hooks inside compiled
// traces, so lua_sethook cannot bound a looping script reliably.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "src/common/result.h"

struct lua_State;

namespace pier::lua {

class LuaVm;

enum class CoroutineStatus { kFinished, kYielded, kError };

// A hook invocation that may suspend (body(), httpCall()). Keeps its thread
// alive through a registry reference, released on destruction. Must be
// destroyed before its LuaVm.
class LuaCoroutine {
 public:
  ~LuaCoroutine();
  LuaCoroutine(const LuaCoroutine&) = delete;
  LuaCoroutine& operator=(const LuaCoroutine&) = delete;

  CoroutineStatus status() const { return status_; }
  // For kError: "<name>:<line>: <message>" followed by a stack traceback.
  const std::string& error() const { return error_; }
  // The coroutine's stack: after kYielded it holds the yielded values, after
  // kFinished the hook's return values.
  lua_State* thread() const { return thread_; }

 private:
  friend class LuaVm;
  LuaCoroutine(LuaVm& vm, lua_State* thread, int ref) : vm_(vm), thread_(thread), ref_(ref) {}

  LuaVm& vm_;
  lua_State* thread_;
  int ref_;
  CoroutineStatus status_ = CoroutineStatus::kFinished;
  std::string error_;
};

class LuaVm {
 public:
  struct Options {
    // Withhold io, package/require/module, loadfile/dofile, debug (except
    // traceback), os (except time/clock/date/difftime), and bytecode loading.
    // Note this also withholds ffi, which is reachable only through require.
    bool sandbox = false;
    // Runs after the libraries are set up and before the script's top level
    // (globals the top level may use, e.g. EnvoyTimestampResolution).
    std::function<void(lua_State*)> prepare;
  };

  // Pushes arguments onto the given coroutine stack; returns how many.
  using PushArgs = std::function<int(lua_State*)>;

  // Compiles `code` and runs its top level once. Errors (compile or run)
  // read "<chunk_name>:<line>: <message>".
  static Result<std::unique_ptr<LuaVm>> create(std::string_view code, std::string_view chunk_name,
                                               const Options& options);
  // Compiles without running, for config validation.
  static Status checkSyntax(std::string_view code, std::string_view chunk_name);

  ~LuaVm();
  LuaVm(const LuaVm&) = delete;
  LuaVm& operator=(const LuaVm&) = delete;

  lua_State* state() const { return L_; }
  bool hasOnRequest() const { return has_on_request_; }
  bool hasOnResponse() const { return has_on_response_; }
  // Bytes the Lua GC currently accounts for (objects, not JIT machine code).
  size_t memoryBytes() const;
  // Coroutines created by startHook and not yet destroyed.
  int liveCoroutines() const { return live_coroutines_; }

  // Calls global function `hook` in a new coroutine with the arguments `push`
  // places. A missing hook is reported as kError.
  std::unique_ptr<LuaCoroutine> startHook(const char* hook, const PushArgs& push);
  // Continues a kYielded coroutine: its yielded values are dropped and the
  // values `push` places become the results of the yield. Resuming in any
  // other state is kError.
  CoroutineStatus resume(LuaCoroutine& co, const PushArgs& push);

 private:
  friend class LuaCoroutine;
  explicit LuaVm(lua_State* L) : L_(L) {}
  CoroutineStatus run(LuaCoroutine& co, int nargs);
  void release(int ref);

  lua_State* L_;
  bool has_on_request_ = false;
  bool has_on_response_ = false;
  int live_coroutines_ = 0;
};

}  // namespace pier::lua
