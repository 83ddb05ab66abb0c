// The epoll loop: post() from other threads, stop(), I/O registration and
// deferDelete(). Tests synchronise through the loop itself (posted work and
// timers), never by sleeping.
#include "src/event/loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace pier::event {
namespace {

using std::chrono::milliseconds;

// Fails and stops the loop if a test has not finished in time, so a broken
// loop shows up as a failure rather than a hang.
class LoopTest : public ::testing::Test {
 protected:
  LoopTest()
      : watchdog_(loop_, [this] {
          ADD_FAILURE() << "watchdog: the loop did not stop in time";
          loop_.stop();
        }) {
    watchdog_.armAfter(std::chrono::seconds(10));
  }

  Loop loop_;
  Timer watchdog_;
};

TEST_F(LoopTest, PostFromAnotherThreadRunsOnTheLoopThread) {
  std::thread::id ran_on;
  std::thread poster([&] {
    loop_.post([&] {
      ran_on = std::this_thread::get_id();
      loop_.stop();
    });
  });
  loop_.run();
  poster.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_F(LoopTest, PostsFromOneThreadRunInOrder) {
  std::vector<int> seen;
  std::thread poster([&] {
    for (int i = 0; i < 500; ++i) {
      loop_.post([&seen, i] { seen.push_back(i); });
    }
    loop_.post([&] { loop_.stop(); });
  });
  loop_.run();
  poster.join();
  ASSERT_EQ(seen.size(), 500u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  }
}

TEST_F(LoopTest, PostsFromManyThreadsAllRun) {
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  int total = 0;  // touched only on the loop thread
  int finished = 0;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        loop_.post([&] { ++total; });
      }
      // Posts from one thread are ordered, so this runs after its increments.
      loop_.post([&] {
        if (++finished == kThreads) {
          loop_.stop();
        }
      });
    });
  }
  loop_.run();
  for (auto& t : posters) {
    t.join();
  }
  EXPECT_EQ(total, kThreads * kEach);
}

TEST_F(LoopTest, WorkPostedBeforeRunRunsWhenTheLoopStarts) {
  bool ran = false;
  loop_.post([&] {
    ran = true;
    loop_.stop();
  });
  EXPECT_FALSE(ran);
  loop_.run();
  EXPECT_TRUE(ran);
}

TEST_F(LoopTest, WorkPostedByPostedWorkRuns) {
  std::vector<int> order;
  loop_.post([&] {
    order.push_back(1);
    loop_.post([&] {
      order.push_back(3);
      loop_.stop();
    });
    order.push_back(2);
  });
  loop_.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(LoopTest, StopBeforeRunMakesRunReturn) {
  loop_.stop();
  loop_.run();
  SUCCEED();
}

TEST_F(LoopTest, StopFromAnotherThreadMakesRunReturn) {
  std::atomic<bool> started{false};
  loop_.post([&] { started = true; });
  std::thread stopper([&] { loop_.stop(); });
  loop_.run();
  stopper.join();
  EXPECT_TRUE(started.load());
}

TEST_F(LoopTest, StopFromATimerMakesRunReturn) {
  bool fired = false;
  Timer t(loop_, [&] {
    fired = true;
    loop_.stop();
  });
  t.armAfter(milliseconds(1));
  loop_.run();
  EXPECT_TRUE(fired);
}

TEST_F(LoopTest, UpdateNowFollowsTheSteadyClock) {
  auto before = std::chrono::steady_clock::now();
  auto now = loop_.updateNow();
  auto after = std::chrono::steady_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  EXPECT_EQ(loop_.now(), now);
}

// --- I/O ---------------------------------------------------------------------

class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed";
      return;
    }
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    close(read_end);
    close(write_end);
  }
  void put(char c) const { ASSERT_EQ(write(write_end, &c, 1), 1); }
  int drain() const {
    char buf[64];
    int total = 0;
    ssize_t n;
    while ((n = read(read_end, buf, sizeof buf)) > 0) {
      total += static_cast<int>(n);
    }
    return total;
  }
  int read_end = -1;
  int write_end = -1;
};

class FnHandler final : public IoHandler {
 public:
  explicit FnHandler(std::function<void(uint32_t)> fn) : fn_(std::move(fn)) {}
  void onIoEvent(uint32_t events) override { fn_(events); }

 private:
  std::function<void(uint32_t)> fn_;
};

TEST_F(LoopTest, ReadableFdCallsItsHandler) {
  Pipe p;
  uint32_t got = 0;
  int bytes = 0;
  FnHandler h([&](uint32_t events) {
    got = events;
    bytes = p.drain();
    loop_.stop();
  });
  loop_.add(p.read_end, h, EPOLLIN);
  std::thread writer([&] { p.put('x'); });
  loop_.run();
  writer.join();
  EXPECT_TRUE(got & EPOLLIN);
  EXPECT_EQ(bytes, 1);
  loop_.remove(p.read_end);
}

TEST_F(LoopTest, ModifyChangesTheEventsReported) {
  Pipe p;
  std::vector<uint32_t> seen;
  FnHandler h([&](uint32_t events) {
    seen.push_back(events);
    loop_.stop();
  });
  // A pipe's write end with room is writable but never readable.
  loop_.add(p.write_end, h, EPOLLIN);
  loop_.post([&] { loop_.modify(p.write_end, h, EPOLLOUT); });
  loop_.run();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0] & EPOLLOUT);
  loop_.remove(p.write_end);
}

TEST_F(LoopTest, RemovedFdNoLongerCallsItsHandler) {
  Pipe p;
  int calls = 0;
  FnHandler h([&](uint32_t) {
    ++calls;
    p.drain();
  });
  loop_.add(p.read_end, h, EPOLLIN);
  Timer stop(loop_, [&] { loop_.stop(); });
  loop_.post([&] {
    loop_.remove(p.read_end);
    // Already readable when the loop next waits: a registered fd would be
    // reported long before the timer below expires.
    p.put('x');
    stop.armAfter(milliseconds(20));
  });
  loop_.run();
  EXPECT_EQ(calls, 0);
}

TEST_F(LoopTest, EdgeTriggeredHandlerSeesNewDataAfterDraining) {
  Pipe p;
  int calls = 0;
  FnHandler h([&](uint32_t) {
    p.drain();
    if (++calls == 3) {
      loop_.stop();
    } else {
      // Writing from the loop thread: the next wait reports it again.
      p.put('y');
    }
  });
  loop_.add(p.read_end, h, EPOLLIN);
  p.put('x');
  loop_.run();
  EXPECT_EQ(calls, 3);
  loop_.remove(p.read_end);
}

// --- deferDelete -------------------------------------------------------------

class Tracked final : public Deletable {
 public:
  explicit Tracked(bool& deleted) : deleted_(deleted) {}
  ~Tracked() override { deleted_ = true; }
  int value = 42;

 private:
  bool& deleted_;
};

TEST_F(LoopTest, DeferDeleteKeepsTheObjectUntilTheIterationEnds) {
  bool deleted = false;
  bool alive_after_handoff = false;
  bool deleted_next_iteration = false;
  loop_.post([&] {
    auto obj = std::make_unique<Tracked>(deleted);
    Tracked* raw = obj.get();
    loop_.deferDelete(std::move(obj));
    alive_after_handoff = !deleted && raw->value == 42;
    loop_.post([&] {
      deleted_next_iteration = deleted;
      loop_.stop();
    });
  });
  loop_.run();
  EXPECT_TRUE(alive_after_handoff);
  EXPECT_TRUE(deleted_next_iteration);
}

TEST_F(LoopTest, DeferDeleteFromATimerKeepsTheObjectForLaterTimersOfThatIteration) {
  bool deleted = false;
  bool alive_in_second = false;
  Tracked* raw = nullptr;
  MonoTime past = loop_.now() - milliseconds(5);
  Timer first(loop_, [&] {
    auto obj = std::make_unique<Tracked>(deleted);
    raw = obj.get();
    loop_.deferDelete(std::move(obj));
  });
  Timer second(loop_, [&] {
    alive_in_second = !deleted && raw != nullptr && raw->value == 42;
    loop_.stop();
  });
  // Both due at the first wait, so they run in the same iteration, in order.
  first.armAt(past);
  second.armAt(past + std::chrono::nanoseconds(1));
  loop_.run();
  EXPECT_TRUE(alive_in_second);
  EXPECT_TRUE(deleted);
}

TEST(LoopLifetimeTest, PendingDeferredObjectsAreDeletedWithTheLoop) {
  bool deleted = false;
  {
    Loop loop;
    loop.deferDelete(std::make_unique<Tracked>(deleted));
    EXPECT_FALSE(deleted);
  }
  EXPECT_TRUE(deleted);
}

TEST(LoopLifetimeTest, PendingDeferredObjectsAreDeletedWhenRunReturns) {
  bool deleted = false;
  Loop loop;
  loop.post([&] {
    loop.deferDelete(std::make_unique<Tracked>(deleted));
    loop.stop();
  });
  loop.run();
  EXPECT_TRUE(deleted);
}


// A destructor that defers another deletion (a stream's filters owning a
// call whose socket is deleted later) must not disturb the batch being freed.
class DefersAnother final : public Deletable {
 public:
  DefersAnother(Loop& loop, bool& inner_deleted) : loop_(loop), inner_deleted_(inner_deleted) {}
  ~DefersAnother() override { loop_.deferDelete(std::make_unique<Tracked>(inner_deleted_)); }

 private:
  Loop& loop_;
  bool& inner_deleted_;
};

TEST_F(LoopTest, DeletionsDeferredByADestructorAreFreedToo) {
  bool inner_deleted = false;
  bool other_deleted = false;
  loop_.post([&] {
    loop_.deferDelete(std::make_unique<DefersAnother>(loop_, inner_deleted));
    loop_.deferDelete(std::make_unique<Tracked>(other_deleted));
    loop_.post([&] { loop_.stop(); });
  });
  loop_.run();
  EXPECT_TRUE(inner_deleted);
  EXPECT_TRUE(other_deleted);
}


// Counts its own deletion; its destructor defers `then` (when set), as a
// stream's filters defer a call's socket.
class DefersOnDeletion final : public Deletable {
 public:
  DefersOnDeletion(Loop& loop, int& deletions, std::unique_ptr<Deletable> then)
      : loop_(loop), deletions_(deletions), then_(std::move(then)) {}
  ~DefersOnDeletion() override {
    ++deletions_;
    if (then_) loop_.deferDelete(std::move(then_));
  }

 private:
  Loop& loop_;
  int& deletions_;
  std::unique_ptr<Deletable> then_;
};

class Counted final : public Deletable {
 public:
  explicit Counted(int& deletions) : deletions_(deletions) {}
  ~Counted() override { ++deletions_; }

 private:
  int& deletions_;
};

// Deferred in one turn, checked by work posted from that turn, which runs in
// the next one: both the object and what its destructor deferred are gone.
TEST_F(LoopTest, ADeletionDeferredByADestructorIsFreedInTheSameTurn) {
  int outer = 0;
  int inner = 0;
  int outer_seen = -1;
  int inner_seen = -1;
  loop_.post([&] {
    loop_.deferDelete(std::make_unique<DefersOnDeletion>(loop_, outer, std::make_unique<Counted>(inner)));
    loop_.post([&] {
      outer_seen = outer;
      inner_seen = inner;
      loop_.stop();
    });
  });
  loop_.run();
  EXPECT_EQ(outer_seen, 1);
  EXPECT_EQ(inner_seen, 1);
}

// The batch vector deletePending() works on is kept between turns: a second
// round must free its own objects, and the first round's exactly once.
TEST_F(LoopTest, DeletionsDeferredByDestructorsAreFreedInTwoSuccessiveTurns) {
  int outer = 0;
  int inner = 0;
  std::vector<std::pair<int, int>> seen;
  loop_.post([&] {
    for (int i = 0; i < 20; ++i) {
      loop_.deferDelete(std::make_unique<DefersOnDeletion>(loop_, outer, std::make_unique<Counted>(inner)));
    }
    loop_.post([&] {
      seen.emplace_back(outer, inner);
      for (int i = 0; i < 3; ++i) {
        loop_.deferDelete(std::make_unique<DefersOnDeletion>(loop_, outer, std::make_unique<Counted>(inner)));
      }
      loop_.post([&] {
        seen.emplace_back(outer, inner);
        loop_.stop();
      });
    });
  });
  loop_.run();
  EXPECT_EQ(seen, (std::vector<std::pair<int, int>>{{20, 20}, {23, 23}}));
}

TEST_F(LoopTest, AChainOfDestructorDeferralsIsFreedInOneTurn) {
  int deletions = 0;
  int seen = -1;
  loop_.post([&] {
    auto last = std::make_unique<Counted>(deletions);
    auto middle = std::make_unique<DefersOnDeletion>(loop_, deletions, std::move(last));
    loop_.deferDelete(std::make_unique<DefersOnDeletion>(loop_, deletions, std::move(middle)));
    loop_.post([&] {
      seen = deletions;
      loop_.stop();
    });
  });
  loop_.run();
  EXPECT_EQ(seen, 3);
}

TEST_F(LoopTest, ObjectsDeferredInOneTurnAreNotFreedTwiceInTheNext) {
  int first = 0;
  int second = 0;
  std::vector<std::pair<int, int>> seen;
  loop_.post([&] {
    loop_.deferDelete(std::make_unique<Counted>(first));
    loop_.deferDelete(std::make_unique<Counted>(first));
    loop_.post([&] {
      loop_.deferDelete(std::make_unique<Counted>(second));
      loop_.post([&] {
        seen.emplace_back(first, second);
        loop_.stop();
      });
    });
  });
  loop_.run();
  EXPECT_EQ(seen, (std::vector<std::pair<int, int>>{{2, 1}}));
}

TEST(LoopLifetimeTest, DeletionsDeferredByDestructorsOfPendingObjectsAreFreedWithTheLoop) {
  int outer = 0;
  int inner = 0;
  {
    Loop loop;
    loop.deferDelete(std::make_unique<DefersOnDeletion>(loop, outer, std::make_unique<Counted>(inner)));
  }
  EXPECT_EQ(outer, 1);
  EXPECT_EQ(inner, 1);
}

}  // namespace
}  // namespace pier::event
