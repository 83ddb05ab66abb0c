// Reading `ip neigh show <ip>`: the MAC and state of the client's entry.
#include "src/lab/neigh.h"

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

TEST(LabNeighTest, ReadsMacAndState) {
  auto e = parseNeigh("10.77.0.100 dev eth0 lladdr 02:77:00:00:00:12 REACHABLE\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->mac, "02:77:00:00:00:12");
  EXPECT_EQ(e->state, "REACHABLE");
}

TEST(LabNeighTest, LowerCasesTheMacAndSkipsFlags) {
  auto e = parseNeigh("fd77::100 dev eth0 lladdr 02:77:00:00:00:1A router STALE\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->mac, "02:77:00:00:00:1a");
  EXPECT_EQ(e->state, "STALE");
}

TEST(LabNeighTest, EntryWithoutMac) {
  auto e = parseNeigh("10.77.0.100 dev eth0  FAILED\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->mac, "");
  EXPECT_EQ(e->state, "FAILED");
}

TEST(LabNeighTest, NoEntry) {
  EXPECT_FALSE(parseNeigh(""));
  EXPECT_FALSE(parseNeigh("\n"));
}

}  // namespace
}  // namespace pier::lab
