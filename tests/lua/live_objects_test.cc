#include "src/lua/live_objects.h"

#include <gtest/gtest.h>

namespace pier::lua {
namespace {

TEST(LiveObjectsTest, AClaimedSlotNamesItsTargetUntilRetired) {
  LiveObjects live;
  int a = 1;
  const uint32_t slot = live.reserve();
  const LiveObjects::Ref ref = live.claim(slot, &a);
  EXPECT_EQ(live.find(ref), &a);
  EXPECT_EQ(live.liveCount(), 1u);
  live.retire(ref);
  EXPECT_EQ(live.find(ref), nullptr);
  EXPECT_EQ(live.liveCount(), 0u);
}

// An owner's next run claims the same slot again: objects of the last run
// stay dead, the new ones resolve.
TEST(LiveObjectsTest, ClaimingTheSlotAgainLeavesEarlierRefsDead) {
  LiveObjects live;
  int a = 1;
  int b = 2;
  const uint32_t slot = live.reserve();
  const LiveObjects::Ref first = live.claim(slot, &a);
  live.retire(first);
  const LiveObjects::Ref second = live.claim(slot, &b);
  EXPECT_EQ(second.slot, first.slot);
  EXPECT_NE(second.generation, first.generation);
  EXPECT_EQ(live.find(first), nullptr);
  EXPECT_EQ(live.find(second), &b);
  // Claimed again without a retire (an owner that skipped it): the last run's refs die too.
  const LiveObjects::Ref third = live.claim(slot, &a);
  EXPECT_EQ(live.find(second), nullptr);
  EXPECT_EQ(live.find(third), &a);
}

TEST(LiveObjectsTest, AReleasedSlotKillsItsRefsAndIsReservedAgain) {
  LiveObjects live;
  int a = 1;
  const uint32_t slot = live.reserve();
  const LiveObjects::Ref ref = live.claim(slot, &a);
  const uint32_t other = live.reserve();
  EXPECT_NE(other, slot);
  live.release(slot);
  EXPECT_EQ(live.find(ref), nullptr);
  EXPECT_EQ(live.reserve(), slot);
  EXPECT_EQ(live.find(ref), nullptr);  // reserved is not claimed
}

TEST(LiveObjectsTest, RefsOutOfRangeOrNeverClaimedResolveToNothing) {
  LiveObjects live;
  int a = 1;
  EXPECT_EQ(live.find(LiveObjects::Ref{}), nullptr);
  EXPECT_EQ(live.find(LiveObjects::Ref{7, 1}), nullptr);
  const uint32_t slot = live.reserve();
  EXPECT_EQ(live.find(LiveObjects::Ref{slot, 0}), nullptr);
  live.retire(LiveObjects::Ref{slot, 5});  // a stale ref: nothing happens
  const LiveObjects::Ref ref = live.claim(slot, &a);
  live.retire(LiveObjects::Ref{slot, ref.generation + 1});
  EXPECT_EQ(live.find(ref), &a);
}

}  // namespace
}  // namespace pier::lua
