#pragma once
// Runs a callback once on a later loop iteration: how a connection that
// stopped at its fairness budget resumes without starving the others.
//
// A zero-delay Timer would not do: the loop runs due timers until none is
// due, so a timer re-armed from its own callback runs again in the same
// pass. A posted function runs after the next epoll_wait instead. The shared
// state makes a pending run harmless once the owner is gone.
#include <functional>
#include <memory>
#include <utility>

#include "src/event/loop.h"

namespace pier::l4 {

class Deferred {
 public:
  Deferred(event::Loop& loop, std::function<void()> fn) : loop_(loop), state_(std::make_shared<State>()) {
    state_->fn = std::move(fn);
  }
  ~Deferred() { state_->alive = false; }
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  // At most one run is pending at a time.
  void schedule() {
    if (state_->pending) return;
    state_->pending = true;
    loop_.post([state = state_] {
      if (!state->alive || !state->pending) return;
      state->pending = false;
      state->fn();
    });
  }
  void cancel() { state_->pending = false; }
  bool pending() const { return state_->pending; }

 private:
  struct State {
    bool alive = true;
    bool pending = false;
    std::function<void()> fn;
  };
  event::Loop& loop_;
  std::shared_ptr<State> state_;
};

}  // namespace pier::l4
