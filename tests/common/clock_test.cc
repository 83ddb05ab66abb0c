// The clock boundary: a fake clock moves only when told, the system clock never goes back.
#include "src/common/clock.h"

#include <chrono>

#include <gtest/gtest.h>

namespace pier {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTest, StandsStillUntilAdvanced) {
  FakeClock clock;
  MonoTime t0 = clock.now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(milliseconds(250));
  EXPECT_EQ(clock.now() - t0, milliseconds(250));
  clock.advance(seconds(2));
  EXPECT_EQ(clock.now() - t0, milliseconds(2250));
}

TEST(FakeClockTest, UsableThroughTheInterface) {
  FakeClock fake;
  const Clock& clock = fake;
  MonoTime before = clock.now();
  fake.advance(std::chrono::nanoseconds(1));
  EXPECT_EQ(clock.now() - before, std::chrono::nanoseconds(1));
}

TEST(SystemClockTest, IsMonotonicAndFollowsSteadyClock) {
  SystemClock sys;
  const Clock& clock = sys;
  MonoTime lower = std::chrono::steady_clock::now();
  MonoTime a = clock.now();
  MonoTime b = clock.now();
  MonoTime upper = std::chrono::steady_clock::now();
  EXPECT_LE(lower, a);
  EXPECT_LE(a, b);
  EXPECT_LE(b, upper);
}

}  // namespace
}  // namespace pier
