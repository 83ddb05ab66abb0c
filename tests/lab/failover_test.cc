// What the prober's results say about a fault: time to the first success
// through a new node, failures in the window, the longest gap.
#include "src/lab/failover.h"

#include <vector>

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

constexpr int64_t kMs = 1'000'000;

ProbeResult ok(int64_t end_ms, const char* label) { return {end_ms * kMs - kMs, end_ms * kMs, true, label}; }
ProbeResult fail(int64_t end_ms) { return {end_ms * kMs - kMs, end_ms * kMs, false, "refused"}; }

TEST(LabFailoverTest, TimeToNewOwnerIsFromTheFaultToTheFirstSuccessElsewhere) {
  std::vector<ProbeResult> rs = {ok(90, "node2-pod1"),  ok(100, "node2-pod2"), fail(105), fail(110),
                                 ok(112, "node2-pod1"),  // still the old owner: not the failover
                                 ok(400, "node3-pod1"), ok(402, "node3-pod2")};
  auto out = analyzeFault(rs, 101 * kMs, 500 * kMs, 2);
  ASSERT_TRUE(out.to_new_owner_ns);
  EXPECT_EQ(*out.to_new_owner_ns, 299 * kMs);
  EXPECT_EQ(out.new_node, 3);
  EXPECT_EQ(out.failed, 2u);
  EXPECT_EQ(out.ok, 3u);
  EXPECT_EQ(out.longest_gap_ns, 288 * kMs);  // 112 -> 400
}

TEST(LabFailoverTest, ResultsOutsideTheWindowDoNotCount) {
  std::vector<ProbeResult> rs = {fail(50), ok(60, "node1-pod1"), fail(700), ok(800, "node2-pod1")};
  auto out = analyzeFault(rs, 100 * kMs, 600 * kMs, 1);
  EXPECT_FALSE(out.to_new_owner_ns);
  EXPECT_EQ(out.failed, 0u);
  EXPECT_EQ(out.ok, 0u);
}

TEST(LabFailoverTest, NoSuccessMeansTheGapRunsToTheWindowEnd) {
  std::vector<ProbeResult> rs = {ok(100, "node1-pod1"), fail(150), fail(200)};
  auto out = analyzeFault(rs, 120 * kMs, 1000 * kMs, 1);
  EXPECT_EQ(out.failed, 2u);
  EXPECT_EQ(out.longest_gap_ns, 900 * kMs);
}

TEST(LabFailoverTest, OrderOfResultsDoesNotMatter) {
  std::vector<ProbeResult> rs = {ok(400, "node3-pod1"), fail(110), ok(100, "node2-pod2"),
                                 ok(300, "node1-pod1")};
  auto out = analyzeFault(rs, 101 * kMs, 500 * kMs, 2);
  EXPECT_EQ(out.new_node, 1);
  EXPECT_EQ(*out.to_new_owner_ns, 199 * kMs);
  EXPECT_EQ(out.longest_gap_ns, 200 * kMs);
}

TEST(LabFailoverTest, SeamlessHandoverHasNoFailures) {
  std::vector<ProbeResult> rs;
  for (int t = 90; t < 200; t += 2) rs.push_back(ok(t, t < 104 ? "node1-pod1" : "node2-pod1"));
  auto out = analyzeFault(rs, 100 * kMs, 200 * kMs, 1);
  EXPECT_EQ(out.failed, 0u);
  EXPECT_EQ(*out.to_new_owner_ns, 4 * kMs);
  EXPECT_EQ(out.longest_gap_ns, 2 * kMs);
}

}  // namespace
}  // namespace pier::lab
