#include "src/event/loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pier::event {

// Wakes the loop from other threads (post, stop).
class Loop::Waker final : public IoHandler {
 public:
  explicit Waker(Loop& loop) : loop_(loop), fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) {
      throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    }
  }
  ~Waker() override { close(fd_); }
  int fd() const { return fd_; }
  void wake() const {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(fd_, &one, sizeof one);
  }
  void onIoEvent(uint32_t) override {
    uint64_t value;
    while (read(fd_, &value, sizeof value) > 0) {
    }
    loop_.runPosted();
  }

 private:
  Loop& loop_;
  int fd_;
};

Timer::Timer(Loop& loop, std::function<void()> callback) : loop_(loop), callback_(std::move(callback)) {}

Timer::~Timer() { cancel(); }

void Timer::armAfter(Duration delay) { armAt(loop_.now() + delay); }

void Timer::armAt(MonoTime deadline) {
  cancel();
  deadline_ = deadline;
  loop_.addTimer(*this);
}

void Timer::cancel() {
  if (heap_index_ >= 0) {
    loop_.removeTimer(*this);
  } else if (heap_index_ == kDue) {
    loop_.forgetDue(*this);
  }
}

Loop::Loop() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), now_(std::chrono::steady_clock::now()) {
  if (epoll_fd_ < 0) {
    throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  }
  waker_ = std::make_unique<Waker>(*this);
  add(waker_->fd(), *waker_, EPOLLIN);
}

Loop::~Loop() {
  for (Timer* t : timers_) {
    t->heap_index_ = -1;
  }
  deletePending();
  waker_.reset();
  close(epoll_fd_);
}

void Loop::add(int fd, IoHandler& handler, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = &handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw std::runtime_error(std::string("epoll_ctl add: ") + std::strerror(errno));
  }
}

void Loop::modify(int fd, IoHandler& handler, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = &handler;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void Loop::remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  waker_->wake();
}

void Loop::deferDelete(std::unique_ptr<Deletable> object) { to_delete_.push_back(std::move(object)); }

void Loop::deletePending() {
  // A destructor may defer more deletions (a stream's filters owning a call's
  // socket): take the batch out first, and repeat until nothing is left.
  while (!to_delete_.empty()) {
    deleting_.swap(to_delete_);
    deleting_.clear();  // keeps its storage for the next iteration
  }
}

void Loop::stop() {
  post([this] { stopping_ = true; });
}

MonoTime Loop::updateNow() {
  now_ = std::chrono::steady_clock::now();
  return now_;
}

void Loop::runPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    fn();
  }
}

int Loop::nextTimeoutMs() const {
  if (timers_.empty()) {
    return -1;
  }
  auto delta = timers_.front()->deadline_ - now_;
  if (delta <= Duration::zero()) {
    return 0;
  }
  // Round up so a timer never fires early; cap so the int can't wrap.
  auto ms = (std::chrono::duration_cast<std::chrono::microseconds>(delta).count() + 999) / 1000;
  return static_cast<int>(std::min<int64_t>(ms, 24 * 3600 * 1000));
}

void Loop::run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  updateNow();
  while (!stopping_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, nextTimeoutMs());
    updateNow();
    if (n < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      static_cast<IoHandler*>(events[i].data.ptr)->onIoEvent(events[i].events);
    }
    runTimers();
    deletePending();
  }
  runPosted();
  deletePending();
  stopping_ = false;  // a later run() starts afresh
}

void Loop::runTimers() {
  // Take every timer due now before firing any: a callback that re-arms its
  // timer (even with a zero delay) runs again next iteration, after epoll and
  // posted work, rather than spinning here forever.
  due_.clear();
  while (!timers_.empty() && timers_.front()->deadline_ <= now_) {
    Timer* t = timers_.front();
    removeTimer(*t);
    t->heap_index_ = Timer::kDue;
    due_.push_back(t);
  }
  for (size_t i = 0; i < due_.size(); ++i) {
    Timer* t = due_[i];
    if (t == nullptr) {
      continue;  // cancelled or destroyed by an earlier callback
    }
    t->heap_index_ = -1;
    due_[i] = nullptr;
    t->callback_();
  }
  due_.clear();
}

void Loop::forgetDue(Timer& timer) {
  for (auto& t : due_) {
    if (t == &timer) {
      t = nullptr;
    }
  }
  timer.heap_index_ = -1;
}

void Loop::addTimer(Timer& timer) {
  timer.heap_index_ = static_cast<int>(timers_.size());
  timers_.push_back(&timer);
  siftUp(timers_.size() - 1);
}

void Loop::removeTimer(Timer& timer) {
  size_t index = static_cast<size_t>(timer.heap_index_);
  size_t last = timers_.size() - 1;
  if (index != last) {
    timers_[index] = timers_[last];
    timers_[index]->heap_index_ = static_cast<int>(index);
  }
  timers_.pop_back();
  timer.heap_index_ = -1;
  if (index < timers_.size()) {
    siftUp(index);
    siftDown(index);
  }
}

void Loop::siftUp(size_t index) {
  while (index > 0) {
    size_t parent = (index - 1) / 2;
    if (timers_[parent]->deadline_ <= timers_[index]->deadline_) {
      break;
    }
    std::swap(timers_[parent], timers_[index]);
    timers_[parent]->heap_index_ = static_cast<int>(parent);
    timers_[index]->heap_index_ = static_cast<int>(index);
    index = parent;
  }
}

void Loop::siftDown(size_t index) {
  size_t n = timers_.size();
  while (true) {
    size_t smallest = index;
    size_t l = 2 * index + 1;
    size_t r = l + 1;
    if (l < n && timers_[l]->deadline_ < timers_[smallest]->deadline_) smallest = l;
    if (r < n && timers_[r]->deadline_ < timers_[smallest]->deadline_) smallest = r;
    if (smallest == index) {
      break;
    }
    std::swap(timers_[smallest], timers_[index]);
    timers_[smallest]->heap_index_ = static_cast<int>(smallest);
    timers_[index]->heap_index_ = static_cast<int>(index);
    index = smallest;
  }
}

}  // namespace pier::event
