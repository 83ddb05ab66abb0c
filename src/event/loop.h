#pragma once
// One epoll event loop per thread. Everything registered with a loop is used
// only from that loop's thread; other threads talk to it with post().
//
// Rules for code running on a loop: never block, and never delete an object
// whose handler may still be called in this iteration: hand it to
// deferDelete() instead.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "src/common/clock.h"

namespace pier::event {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP).
  virtual void onIoEvent(uint32_t events) = 0;
};

class Loop;

// A one-shot timer owned by its user; destroying it cancels it.
class Timer {
 public:
  explicit Timer(Loop& loop, std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void armAfter(Duration delay);
  void armAt(MonoTime deadline);
  void cancel();
  bool armed() const { return heap_index_ >= 0 || heap_index_ == kDue; }
  MonoTime deadline() const { return deadline_; }

 private:
  friend class Loop;
  static constexpr int kDue = -2;  // taken off the heap, about to fire this pass
  Loop& loop_;
  std::function<void()> callback_;
  MonoTime deadline_{};
  int heap_index_ = -1;
};

class Deletable {
 public:
  virtual ~Deletable() = default;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Edge-triggered registration: handlers must read/write until EAGAIN (or a
  // short read) before they can expect another event.
  void add(int fd, IoHandler& handler, uint32_t events);
  void modify(int fd, IoHandler& handler, uint32_t events);
  void remove(int fd);

  // Runs `fn` on this loop's thread; safe from any thread.
  void post(std::function<void()> fn);
  // Deletes `object` after the current iteration's events are handled.
  void deferDelete(std::unique_ptr<Deletable> object);

  // Runs until stop(); stop() is safe from any thread.
  void run();
  void stop();

  // The time at the start of this iteration (cheap; good enough for timeouts).
  MonoTime now() const { return now_; }
  MonoTime updateNow();

 private:
  friend class Timer;
  void addTimer(Timer& timer);
  void removeTimer(Timer& timer);
  void siftUp(size_t index);
  void siftDown(size_t index);
  void runTimers();
  void forgetDue(Timer& timer);
  void runPosted();
  void deletePending();
  int nextTimeoutMs() const;

  class Waker;
  int epoll_fd_ = -1;
  std::unique_ptr<Waker> waker_;
  std::vector<Timer*> timers_;  // binary min-heap on deadline
  std::vector<Timer*> due_;     // being fired by runTimers()
  std::vector<std::unique_ptr<Deletable>> to_delete_;
  std::vector<std::unique_ptr<Deletable>> deleting_;  // the batch deletePending() works on
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  bool stopping_ = false;
  MonoTime now_;
};

}  // namespace pier::event
