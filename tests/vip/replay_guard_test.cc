// Replay protection: newer heartbeats pass, recordings do not, restarts are
// accepted at once, and clocks bound both staleness and forgetting.
#include "src/vip/replay_guard.h"

#include <chrono>

#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

using namespace std::chrono_literals;
using Verdict = ReplayGuard::Verdict;

constexpr uint64_t kBootMs = 1'700'000'000'000;

class ReplayGuardTest : public ::testing::Test {
 protected:
  // A heartbeat sent "now" by the sender's (synchronised) clock.
  Heartbeat beat(std::string node, uint64_t incarnation, uint64_t sequence) const {
    Heartbeat hb;
    hb.node = std::move(node);
    hb.incarnation = incarnation;
    hb.sequence = sequence;
    hb.timestamp_ms = wall_ms_;
    return hb;
  }
  Verdict check(const Heartbeat& hb) { return guard_.check(hb, clock_.now(), wall_ms_); }
  // Advances both clocks together.
  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    wall_ms_ += static_cast<uint64_t>(d.count());
  }

  ReplayGuard guard_{ReplayGuard::Options{10s}};
  FakeClock clock_;
  uint64_t wall_ms_ = kBootMs + 60'000;
};

TEST_F(ReplayGuardTest, AcceptsFirstContact) {
  EXPECT_EQ(check(beat("a", kBootMs, 0)), Verdict::kFirstContact);
}

TEST_F(ReplayGuardTest, AcceptsHigherSequence) {
  check(beat("a", kBootMs, 5));
  advance(100ms);
  EXPECT_EQ(check(beat("a", kBootMs, 6)), Verdict::kNewer);
}

TEST_F(ReplayGuardTest, RejectsSameSequenceAgain) {
  const Heartbeat hb = beat("a", kBootMs, 5);
  ASSERT_TRUE(ReplayGuard::accepted(check(hb)));
  advance(100ms);
  EXPECT_EQ(check(hb), Verdict::kReplay);
}

TEST_F(ReplayGuardTest, RejectsLowerSequence) {
  const Heartbeat old = beat("a", kBootMs, 5);
  check(beat("a", kBootMs, 6));
  EXPECT_EQ(check(old), Verdict::kReplay);
}

TEST_F(ReplayGuardTest, AcceptsRestartAtSequenceZero) {
  check(beat("a", kBootMs, 1000));
  advance(2s);
  EXPECT_EQ(check(beat("a", kBootMs + 1500, 0)), Verdict::kRestarted);
}

TEST_F(ReplayGuardTest, RejectsEarlierIncarnationAfterRestart) {
  const Heartbeat before = beat("a", kBootMs, 1001);
  check(beat("a", kBootMs, 1000));
  check(beat("a", kBootMs + 1500, 0));
  EXPECT_EQ(check(before), Verdict::kReplay);
}

TEST_F(ReplayGuardTest, RejectedHeartbeatLeavesRecordUnchanged) {
  check(beat("a", kBootMs, 5));
  Heartbeat stale = beat("a", kBootMs, 100);
  stale.timestamp_ms -= 11'000;
  EXPECT_EQ(check(stale), Verdict::kStale);
  EXPECT_EQ(check(beat("a", kBootMs, 6)), Verdict::kNewer);
}

TEST_F(ReplayGuardTest, TracksNodesSeparately) {
  check(beat("a", kBootMs, 5));
  EXPECT_EQ(check(beat("b", kBootMs, 1)), Verdict::kFirstContact);
  EXPECT_EQ(check(beat("a", kBootMs, 6)), Verdict::kNewer);
}

TEST_F(ReplayGuardTest, RejectsTimestampBeyondSkewInThePast) {
  Heartbeat hb = beat("a", kBootMs, 0);
  hb.timestamp_ms = wall_ms_ - 10'001;
  EXPECT_EQ(check(hb), Verdict::kStale);
}

TEST_F(ReplayGuardTest, RejectsTimestampBeyondSkewInTheFuture) {
  Heartbeat hb = beat("a", kBootMs, 0);
  hb.timestamp_ms = wall_ms_ + 10'001;
  EXPECT_EQ(check(hb), Verdict::kFuture);
}

TEST_F(ReplayGuardTest, AcceptsTimestampsWithinSkew) {
  Heartbeat behind = beat("a", kBootMs, 0);
  behind.timestamp_ms = wall_ms_ - 10'000;
  EXPECT_TRUE(ReplayGuard::accepted(check(behind)));
  Heartbeat ahead = beat("b", kBootMs, 0);
  ahead.timestamp_ms = wall_ms_ + 10'000;
  EXPECT_TRUE(ReplayGuard::accepted(check(ahead)));
}

TEST_F(ReplayGuardTest, RestartWithClockBehindIsRefusedOnlyUntilForgotten) {
  check(beat("a", kBootMs, 1000));
  advance(1s);
  // The node came back with its clock 5 s behind: a smaller incarnation.
  Heartbeat restarted = beat("a", kBootMs - 5000, 0);
  EXPECT_EQ(check(restarted), Verdict::kReplay);
  advance(29s);
  restarted = beat("a", kBootMs - 5000, 300);
  EXPECT_EQ(check(restarted), Verdict::kReplay);
  advance(1001ms);  // 30 s (3 x skew) after the last accepted heartbeat
  restarted = beat("a", kBootMs - 5000, 310);
  EXPECT_EQ(check(restarted), Verdict::kFirstContact);
}

TEST_F(ReplayGuardTest, ForgettingDoesNotReopenReplays) {
  const Heartbeat recorded = beat("a", kBootMs, 7);
  check(recorded);
  advance(31s);
  EXPECT_EQ(check(recorded), Verdict::kStale);
}

TEST_F(ReplayGuardTest, PruneDropsForgottenRecordsOnly) {
  check(beat("a", kBootMs, 1));
  advance(20s);
  check(beat("b", kBootMs, 1));
  advance(11s);
  guard_.prune(clock_.now());
  EXPECT_EQ(guard_.size(), 1u);
  EXPECT_EQ(check(beat("b", kBootMs, 1)), Verdict::kReplay);
}

TEST_F(ReplayGuardTest, DescribesEveryVerdict) {
  for (int v = 0; v <= static_cast<int>(Verdict::kFuture); ++v) {
    EXPECT_NE(ReplayGuard::describe(static_cast<Verdict>(v)), "unknown verdict") << v;
  }
}

}  // namespace
}  // namespace pier::vip::testing
