#include "src/lua/async_calls.h"

#include <string>
#include <utility>

namespace pier::lua {
namespace {

// Script states are keyed "lua:s:..." and "lua:u:..." (LuaFilterFactory::cacheKey): no clash.
constexpr char kDetachedKey[] = "lua:async-calls";

}  // namespace

// Destroying a handle never runs its callback, so nothing here re-enters.
AsyncCalls::~AsyncCalls() = default;

Status AsyncCalls::start(filters::FilterCallbacks& callbacks, filters::HttpCallRequest request) {
  // Registered before the call starts: the callback needs it and may, with
  // some FilterCallbacks, run before httpCall() returns.
  auto owned = std::make_unique<Call>();
  Call* call = owned.get();
  add(std::move(owned));
  auto started = callbacks.httpCall(std::move(request),
                                    [call](filters::HttpCallResponse) { call->owner->onDone(call); });
  if (!started.ok()) {
    remove(call);
    return Error{started.error()};
  }
  if (call->answered_at_once) {
    remove(call);  // its handle goes with `started`, outside the callback
    return {};
  }
  call->handle = std::move(started.value());
  return {};
}

void AsyncCalls::moveTo(AsyncCalls& to) {
  for (auto& call : calls_) to.add(std::move(call));
  calls_.clear();
}

AsyncCalls& AsyncCalls::detached(filters::WorkerCache& cache) {
  auto calls = std::static_pointer_cast<AsyncCalls>(cache.find(std::string(kDetachedKey)));
  if (calls == nullptr) {
    calls = std::make_shared<AsyncCalls>();
    cache.put(kDetachedKey, calls);
  }
  return *calls;  // the cache keeps it
}

void AsyncCalls::add(std::unique_ptr<Call> call) {
  call->owner = this;
  call->index = calls_.size();
  calls_.push_back(std::move(call));
}

void AsyncCalls::remove(Call* call) {
  const size_t index = call->index;
  if (index + 1 != calls_.size()) {
    calls_[index] = std::move(calls_.back());
    calls_[index]->index = index;
  }
  calls_.pop_back();
}

void AsyncCalls::onDone(Call* call) {
  if (call->handle == nullptr) {
    call->answered_at_once = true;
    return;
  }
  // The previous finished handle's callback returned long ago: it can go now.
  finished_ = std::move(call->handle);
  remove(call);
}

}  // namespace pier::lua
