#pragma once
// Asynchronous (fire-and-forget) httpCalls of Lua scripts. As in Envoy such a
// call runs to its end (answer or timeout) even when the stream that made it
// ends first, as a script's audit or log request usually does. So the stream
// does not own it for good: while the stream lasts its filter's AsyncCalls
// holds the call, and when the stream ends the calls still outstanding move
// to the worker's AsyncCalls (kept in its WorkerCache). Either drops a call's
// handle once the call is done, so a long stream firing many calls, or a
// worker serving many streams, holds only the outstanding ones.
// Internal to src/lua.
#include <cstddef>
#include <memory>
#include <vector>

#include "src/common/result.h"
#include "src/filters/filter.h"

namespace pier::lua {

class AsyncCalls {
 public:
  AsyncCalls() = default;
  // Cancels the outstanding calls: a worker's calls end with its
  // configuration (the WorkerCache is emptied on reload) or at shutdown.
  ~AsyncCalls();
  AsyncCalls(const AsyncCalls&) = delete;
  AsyncCalls& operator=(const AsyncCalls&) = delete;

  // Starts a call through `callbacks`; its answer is dropped. Error: the
  // cluster does not exist.
  Status start(filters::FilterCallbacks& callbacks, filters::HttpCallRequest request);
  // Hands every outstanding call over to `to`, where it keeps running.
  void moveTo(AsyncCalls& to);
  size_t outstanding() const { return calls_.size(); }

  // The worker's owner of calls whose streams ended, made on first use.
  static AsyncCalls& detached(filters::WorkerCache& cache);

 private:
  struct Call {
    AsyncCalls* owner = nullptr;  // the callback finds the call's current owner here
    size_t index = 0;             // in owner->calls_
    std::unique_ptr<filters::HttpCallHandle> handle;
    bool answered_at_once = false;  // the callback ran inside httpCall(), before the handle existed
  };
  void add(std::unique_ptr<Call> call);
  void remove(Call* call);
  void onDone(Call* call);

  std::vector<std::unique_ptr<Call>> calls_;
  // The handle of the call that finished last. A handle is not destroyed
  // inside its own callback (the call's code may still be on the stack), so
  // it waits here until the next call finishes or this object goes.
  std::unique_ptr<filters::HttpCallHandle> finished_;
};

}  // namespace pier::lua
