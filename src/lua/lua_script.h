#pragma once
// One script loaded in one LuaJIT state on one worker, with what every stream
// running it shares: the API's metatables (made once), the table that keeps
// Lua objects from outliving their C++ counterparts, and a pool of finished
// coroutine threads to run the next hooks on. Internal to src/lua.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/lua/live_objects.h"
#include "src/lua/lua_headers.h"
#include "src/lua/lua_vm.h"

namespace pier::filters {
class HeaderMap;
}

namespace pier::lua {

enum class ObjectKind : uint8_t {
  kHandle,
  kHeaders,
  kBuffer,
  kMetadata,
  kStreamInfo,
  kDynamicMetadata,
  kFilterState,
  kConnection,
  kPublicKey,
  kCount,
};

enum BufferVariant : uint8_t { kBufferBody = 0, kBufferChunk = 1, kBufferEmpty = 2 };
enum HeadersVariant : uint8_t { kHeadersMain = 0, kHeadersTrailers = 1 };

// The userdata of every object tied to a stream direction.
struct StreamObject {
  LiveObjects::Ref side;
  uint32_t epoch;   // for buffers: which body/chunk it wraps
  uint8_t variant;  // HeadersVariant or BufferVariant
  ObjectKind kind;
};

class LuaScript {
 public:
  // Never null; check ok(). A failed load is kept (and cached) so a broken
  // script is not recompiled on every request.
  static std::shared_ptr<LuaScript> create(std::string_view code, std::string_view chunk_name, bool sandbox);
  ~LuaScript();
  LuaScript(const LuaScript&) = delete;
  LuaScript& operator=(const LuaScript&) = delete;

  bool ok() const { return vm_ != nullptr; }
  const std::string& loadError() const { return load_error_; }
  LuaVm* vm() const { return vm_.get(); }
  lua_State* state() const { return vm_->state(); }
  bool hasOnRequest() const { return on_request_ref_ >= 0; }
  bool hasOnResponse() const { return on_response_ref_ >= 0; }
  LiveObjects& live() { return live_; }

  // Creates the metatable of `kind`: `methods` (NULL-terminated) become
  // closures with upvalues (this script, the metatable); names starting with
  // "__" are metamethods, the rest are reached through __index.
  void defineType(ObjectKind kind, const char* type_name, const luaL_Reg* methods);
  void pushMetatable(lua_State* L, ObjectKind kind) const;
  StreamObject* pushStreamObject(lua_State* L, ObjectKind kind, LiveObjects::Ref side, uint32_t epoch = 0,
                                 uint8_t variant = 0) const;

  // A coroutine thread with the handle and headers objects its hooks get.
  // Both are made once per thread and pointed at each new run, which saves
  // two allocations (and their garbage collection) per hook run; a copy a
  // script kept from an earlier run errors once that run ended (its side
  // reference is dead) and names the current run if the thread runs again.
  //
  // An idle thread's stack holds its two run closures, which call the
  // request or response hook with the handle (slots kRequestRunSlot and
  // kResponseRunSlot, below the base every run starts from): starting a
  // run copies one stack slot, and the hook gets its argument from the
  // closure instead of the stack.
  struct Thread {
    lua_State* L = nullptr;
    int ref = -1;
    StreamObject* handle = nullptr;
    StreamObject* headers = nullptr;
    int headers_ref = -1;
  };
  static constexpr int kRequestRunSlot = 1;
  static constexpr int kResponseRunSlot = 2;
  static constexpr int kSavedSlots = 2;
  // A thread for hook runs, idle from the pool or new. The caller may keep it
  // for its next runs (a filter's stream side does) while they finish
  // normally, and gives it back with recycleThread() or dropThread().
  std::unique_ptr<Thread> takeThread();
  // Readies `t` (new, or idle: its last hook finished normally) for a run of
  // the request or response hook: the run closure above the saved slots
  // (ready for lua_resume with no argument), its objects naming `side`.
  // Inline: it runs twice per request.
  void startRun(Thread& t, bool response, LiveObjects::Ref side) {
    // Only a script that runs often gets the fast paths: the FFI they load
    // costs ~24 KiB per state, which a thousand rarely used routes would pay
    // for nothing.
    if (!fast_paths_ && ++hook_runs_ >= kFastPathsAfterRuns) useFastPaths();
    t.handle->side = side;
    t.headers->side = side;
    // A coroutine that returned can run a new function: LuaJIT starts one
    // whenever a thread with status 0 has a function above its base, and the
    // base of a finished one is the bottom of its stack again, below the
    // saved slots (tests/lua/coroutine_test.cc checks both). Hooks seldom
    // return values, so the stack is usually at the saved slots already.
    if (lua_gettop(t.L) != kSavedSlots) lua_settop(t.L, kSavedSlots);
    lua_pushvalue(t.L, response ? kResponseRunSlot : kRequestRunSlot);
  }
  // An idle thread goes back to the pool (or, when the pool is full, to the
  // garbage collector).
  void recycleThread(std::unique_ptr<Thread> t);
  // Suspended or failed threads are left to the garbage collector.
  void dropThread(std::unique_ptr<Thread> t);
  size_t idleThreads() const { return idle_.size(); }

  // The thread objects of the hook run inside lua_resume right now (null
  // outside one): the bindings recognise them by address, which spares the
  // userdata type check for the calls nearly every script makes. Set by
  // the filter around lua_resume (enterRun, leaveRun), with the headers the
  // run's side holds: `headers`, the map its script may change (null when
  // it holds none, or only a read-only copy); `headers_readable`, it holds
  // one either way.
  //
  // No run starts inside another (no binding resumes a hook), so leaving
  // clears rather than restores. If one ever did, the outer run would go on
  // through the classic, fully checked calls: slower, never wrong.
  void enterRun(const Thread& t, filters::HeaderMap* headers, bool headers_readable) {
    running_ = &t;
    running_objects_[0] = headers_readable ? t.handle : nullptr;
    running_objects_[1] = headers != nullptr ? t.headers : nullptr;
    running_headers_ = headers;
    running_headers_ref_ = t.headers_ref;
  }
  void leaveRun() {
    running_ = nullptr;
    running_objects_[0] = nullptr;
    running_objects_[1] = nullptr;
    running_headers_ = nullptr;
    running_headers_ref_ = 0;
  }
  const Thread* running() const { return running_; }
  // The running hook's own handle (while its headers are readable) and
  // headers object (while they may be changed), by the address of their
  // payload, else nullptr. The fast paths compare a script's objects with
  // them through this address (no call into C++); nothing changes them
  // while Lua runs.
  const void* const* runningObjectsCell() const { return running_objects_; }
  // The headers the running hook's own headers object stands for, while it
  // may change them (see enterRun).
  filters::HeaderMap* runningHeaders() const { return running_headers_; }
  // The registry reference of the running hook's own headers object: what
  // the fast handle:headers() returns once the handle is the running one's.
  const int32_t* runningHeadersRefCell() const { return &running_headers_ref_; }
  // Installs the fast paths of fast_path.h now (startRun does once the
  // script has run kFastPathsAfterRuns hooks).
  void useFastPaths();
  bool fastPaths() const { return fast_paths_; }
  static constexpr uint32_t kFastPathsAfterRuns = 100;

 private:
  LuaScript() = default;
  static constexpr size_t kMaxIdleThreads = 64;

  std::unique_ptr<LuaVm> vm_;  // first: everything below refers into it
  std::string load_error_;
  int on_request_ref_ = -1;
  int on_response_ref_ = -1;
  int make_request_run_ref_ = -1;
  int make_response_run_ref_ = -1;
  int metatable_refs_[static_cast<size_t>(ObjectKind::kCount)] = {};
  LiveObjects live_;
  std::vector<std::unique_ptr<Thread>> idle_;
  const Thread* running_ = nullptr;
  const void* running_objects_[2] = {nullptr, nullptr};
  filters::HeaderMap* running_headers_ = nullptr;
  int32_t running_headers_ref_ = 0;
  uint32_t hook_runs_ = 0;
  bool fast_paths_ = false;
};

// Defines EnvoyTimestampResolution, which scripts pass to timestamp() and
// timestampString(); run before a script's top level (LuaVm::Options::prepare).
void defineTimestampResolution(lua_State* L);

}  // namespace pier::lua
