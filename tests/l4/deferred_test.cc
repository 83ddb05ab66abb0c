// Deferred: the resume mechanism behind the fairness budget.
#include "src/l4/deferred.h"

#include <memory>

#include <gtest/gtest.h>

#include "tests/l4/l4_test_support.h"

namespace pier::l4::testing {
namespace {

using DeferredTest = LoopFixture;

TEST_F(DeferredTest, RescheduledFromItsOwnCallbackLetsTimersRun) {
  // A zero-delay timer re-armed from its callback would spin forever inside
  // one pass over the timers; a Deferred must yield to the loop each time.
  int runs = 0;
  std::unique_ptr<Deferred> d;
  d = std::make_unique<Deferred>(loop_, [&] {
    ++runs;
    d->schedule();
  });
  d->schedule();
  bool timer_ran = false;
  event::Timer t(loop_, [&] { timer_ran = true; });
  t.armAfter(std::chrono::milliseconds(2));
  runUntil([&] { return timer_ran; });
  EXPECT_TRUE(timer_ran);
  EXPECT_GT(runs, 0);
  d.reset();
}

TEST_F(DeferredTest, SchedulingTwiceRunsOnce) {
  int runs = 0;
  Deferred d(loop_, [&] { ++runs; });
  d.schedule();
  d.schedule();
  EXPECT_TRUE(d.pending());
  runUntil([&] { return !d.pending(); });
  EXPECT_EQ(runs, 1);
}

TEST_F(DeferredTest, CancelledOrDestroyedDoesNotRun) {
  int runs = 0;
  Deferred kept(loop_, [&] { ++runs; });
  kept.schedule();
  kept.cancel();
  auto gone = std::make_unique<Deferred>(loop_, [&] { ++runs; });
  gone->schedule();
  gone.reset();
  bool marker = false;
  loop_.post([&] { marker = true; });  // posted last, so it runs after both
  runUntil([&] { return marker; });
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace pier::l4::testing
