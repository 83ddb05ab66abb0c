// The probe schedule: jitter and the first-probe stagger stay within their
// bounds, use the whole range, and are reproducible from the seed.
#include "src/upstream/health_schedule.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <gtest/gtest.h>

namespace pier::upstream {
namespace {

using std::chrono::milliseconds;

TEST(HealthScheduleTest, PeriodStaysWithinIntervalPlusJitter) {
  HealthSchedule schedule(42);
  Duration lo = Duration::max(), hi = Duration::min();
  for (int i = 0; i < 2000; ++i) {
    Duration p = schedule.period(milliseconds(50), milliseconds(20));
    ASSERT_GE(p, milliseconds(50));
    ASSERT_LE(p, milliseconds(70));
    lo = std::min(lo, p);
    hi = std::max(hi, p);
  }
  // The jitter is actually applied across its range, not stuck at one end.
  EXPECT_LT(lo, milliseconds(51));
  EXPECT_GT(hi, milliseconds(69));
}

TEST(HealthScheduleTest, NoJitterMeansExactlyTheInterval) {
  HealthSchedule schedule(7);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(schedule.period(milliseconds(30), milliseconds(0)), milliseconds(30));
  }
}

TEST(HealthScheduleTest, InitialDelayIsBelowTheInterval) {
  HealthSchedule schedule(3);
  Duration lo = Duration::max(), hi = Duration::min();
  for (int i = 0; i < 2000; ++i) {
    Duration d = schedule.initialDelay(milliseconds(100));
    ASSERT_GE(d, Duration::zero());
    ASSERT_LT(d, milliseconds(100));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, milliseconds(2));
  EXPECT_GT(hi, milliseconds(98));
}

TEST(HealthScheduleTest, SameSeedGivesTheSameSchedule) {
  HealthSchedule a(99), b(99), c(100);
  std::vector<Duration> sa, sb, sc;
  for (int i = 0; i < 20; ++i) {
    sa.push_back(a.period(milliseconds(10), milliseconds(1000)));
    sb.push_back(b.period(milliseconds(10), milliseconds(1000)));
    sc.push_back(c.period(milliseconds(10), milliseconds(1000)));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(HealthScheduleTest, ZeroIntervalIsRaisedSoTheLoopCannotSpin) {
  HealthSchedule schedule(1);
  EXPECT_EQ(schedule.period(milliseconds(0), milliseconds(0)), HealthSchedule::kMinInterval);
  EXPECT_LT(schedule.initialDelay(milliseconds(0)), HealthSchedule::kMinInterval);
}

}  // namespace
}  // namespace pier::upstream
