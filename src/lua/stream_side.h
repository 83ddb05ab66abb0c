#pragma once
// What the Lua bindings (stream_handle.cc, lua_objects.cc) see of a stream:
// one StreamSide per direction, owned by the LuaFilter, plus the state the
// two directions share. Internal to src/lua.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "src/filters/filter.h"
#include "src/lua/async_calls.h"
#include "src/lua/live_objects.h"
#include "src/lua/lua_script.h"
#include "src/stats/metrics.h"

struct lua_State;

namespace pier::config {
struct Route;
}

namespace pier::lua {

// One configured Lua filter entry; owned by its factory, which outlives the
// filters it makes.
struct FilterSettings {
  std::string name;
  std::string listener;
  std::string metadata_namespace;
  bool fail_closed = false;
  bool sandbox = false;
  stats::Counter executions;
  stats::Counter errors;
};

// Why a hook's coroutine is suspended.
enum class Wait : uint8_t { kNone, kBody, kBodyChunk, kTrailers, kHttpCall, kRespond };

struct LocalReply {
  int status = 0;
  std::string body;
  filters::HeaderMap headers;
  const char* details = "";
};

class StreamShared;

struct StreamSide {
  StreamShared* shared = nullptr;
  bool response = false;

  // The hook run, while its coroutine exists. Objects the script gets name
  // `ref`; retiring it kills them all. The side keeps its thread (`co`) and
  // its slot in the script's LiveObjects for its next runs, while they
  // finish normally: a connection's streams run on them without a trip to
  // the pool.
  std::unique_ptr<LuaScript::Thread> co;
  lua_State* thread = nullptr;  // co->L while the run lasts
  LiveObjects::Ref ref;
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t live_slot = kNoSlot;
  Wait wait = Wait::kNone;
  bool always_wrap = false;  // of the body() call being waited for

  // Headers this filter holds (modifiable); after they were continued while
  // the script still runs, a read-only copy.
  filters::HeaderMap* headers = nullptr;
  std::unique_ptr<filters::HeaderMap> headers_copy;
  filters::HeaderMap* trailers = nullptr;  // held with the stream, modifiable
  bool stopped = false;                    // this filter returned a stop status and owes a continue
  bool end_seen = false;                   // the end of this direction reached this filter
  bool streaming = false;                  // bodyChunks() started: data passes through chunk by chunk
  bool saw_body = false;                   // body bytes reached this filter (else body() is nil)
  bool headers_only = false;               // the headers came with end_stream: no body follows

  // The whole held body (body()); `body_epoch` changes when it stops being held.
  // Read it through StreamShared::body().
  std::string* body = nullptr;
  bool body_is_held = false;  // `body` is the chain's held buffer, not looked up yet
  uint32_t body_epoch = 1;
  std::string empty_body;  // what body(true) wraps when there is no body

  // The chunk bodyChunks() handed out: valid until the script asks for the
  // next one or yields. Chunks may be the unseen tail of the held body. The
  // last chunk (the one that ends the body, possibly empty) stays valid after
  // the loop until the script finishes, as in Envoy (`last:setBytes()` after
  // the loop); if the script waits for a call meanwhile, it is held here.
  std::string* chunk = nullptr;
  size_t chunk_offset = 0;
  uint32_t chunk_epoch = 1;
  size_t held_consumed = 0;  // bytes at the start of the held body the script has seen as chunks

  // A synchronous httpCall: the handle, and the answer if it came while Lua was running.
  std::unique_ptr<filters::HttpCallHandle> call;
  bool call_answered = false;  // its callback ran (or runs now): nothing left to cancel
  std::unique_ptr<filters::HttpCallResponse> call_result;  // a pointer: see the size note at LuaFilter
  bool return_duplicate_headers = false;

  LocalReply reply;  // for Wait::kRespond

  bool active() const { return thread != nullptr; }

  // Back to the state of a new side, for a recycled filter: only what a run
  // may leave behind is touched (assigning a fresh StreamSide costs more).
  void resetForNextStream() {
    ref = {};
    wait = Wait::kNone;
    always_wrap = false;
    headers = nullptr;
    if (headers_copy) headers_copy.reset();
    trailers = nullptr;
    stopped = end_seen = streaming = saw_body = headers_only = false;
    body = nullptr;
    body_is_held = false;
    if (!empty_body.empty()) empty_body.clear();
    chunk = nullptr;
    chunk_offset = 0;
    held_consumed = 0;
    call_answered = false;
    if (call_result) call_result.reset();
    return_duplicate_headers = false;
    if (reply.status != 0) reply = LocalReply{};  // every reply made has one (200..599, or 500)
  }
};

// Shared by both directions of one stream; the LuaFilter implements the
// callbacks the bindings need.
class StreamShared {
 public:
  virtual ~StreamShared() = default;
  virtual void onHttpCallDone(StreamSide& side, filters::HttpCallResponse response) = 0;

  filters::FilterCallbacks* callbacks = nullptr;
  const FilterSettings* settings = nullptr;
  const config::Route* route = nullptr;  // the route the filter was made for
  const nlohmann::json* filter_context = nullptr;
  LuaScript* script = nullptr;
  // Asynchronous calls still running; the ones outstanding when the stream
  // ends move to the worker's AsyncCalls and go on.
  AsyncCalls async_calls;
  // Answered synchronous calls. A handle is never destroyed inside its own
  // callback (a script resumed by one answer may start the next call), so
  // they stay until the filter goes.
  std::vector<std::unique_ptr<filters::HttpCallHandle>> answered_calls;
  bool in_lua = false;  // inside lua_resume: stream calls must wait
  bool destroyed = false;

  // Helpers over the callbacks for one direction.
  std::string& held(const StreamSide& s) const {
    return s.response ? callbacks->heldResponseBody() : callbacks->heldRequestBody();
  }
  // The side's whole body, if it has one now. A hook run over held headers
  // gets the chain's held buffer, looked up only when first asked for: most
  // hooks never ask.
  std::string* body(StreamSide& s) const {
    if (s.body_is_held) {
      s.body = &held(s);
      s.body_is_held = false;
    }
    return s.body;
  }
  bool complete(const StreamSide& s) const {
    return s.end_seen || (s.response ? callbacks->responseComplete() : callbacks->requestComplete());
  }
  filters::HeaderMap* chainTrailers(const StreamSide& s) const {
    return s.response ? callbacks->responseTrailers() : callbacks->requestTrailers();
  }
};

}  // namespace pier::lua
