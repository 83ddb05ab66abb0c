// Eligibility from link state: a node whose announcing link is down gives its
// addresses up at once and tells its peers over the links it still has.
#include <gtest/gtest.h>

#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

// eth0 carries the addresses; eth1 only heartbeats (a pool limited to eth0).
config::VirtualIps twoLinkConfig(const std::vector<std::string>& ips) {
  auto cfg = vipConfig(ips, {"eth0", "eth1"});
  cfg.pools[0].interfaces = {"eth0"};
  return cfg;
}

class LinkTest : public ::testing::Test {
 protected:
  LinkTest() : ips_(manyIps(24)) {}

  void startTwo(const Plan& plan) {
    cluster_.add("a", plan);
    cluster_.add("b", plan);
    cluster_.startAll();
    cluster_.runFor(1s);
  }
  std::vector<std::string> ownedBy(const std::string& node) {
    std::vector<std::string> out;
    for (const auto& [address, announcers] : cluster_.announcers()) {
      if (announcers == std::vector<std::string>{node}) out.push_back(address);
    }
    return out;
  }

  std::vector<std::string> ips_;
  Cluster cluster_;
};

TEST_F(LinkTest, LinkDownReleasesTheAddressesAtOnce) {
  startTwo(planFor(ips_));
  ASSERT_FALSE(ownedBy("a").empty());
  cluster_.node("a").setRunning("eth0", false);
  for (const IpState& s : cluster_.node("a").core().status().ips) {
    EXPECT_FALSE(s.owned_here) << s.ip;
    EXPECT_FALSE(s.eligible_here) << s.ip;
  }
}

TEST_F(LinkTest, LinkDownIsToldToPeersOverTheRemainingLink) {
  startTwo(planOf(twoLinkConfig(ips_)));
  ASSERT_FALSE(ownedBy("a").empty());
  cluster_.node("a").setRunning("eth0", false);
  cluster_.deliver();  // the heartbeat a sent at once, over eth1; no time passes
  EXPECT_EQ(ownedBy("b").size(), ips_.size());
}

TEST_F(LinkTest, PeersTimeOutANodeWhoseOnlyLinkWentDown) {
  startTwo(planFor(ips_));
  const auto orphans = ownedBy("a");
  ASSERT_FALSE(orphans.empty());
  cluster_.node("a").setRunning("eth0", false);
  cluster_.runFor(330ms);
  EXPECT_EQ(ownedBy("b").size(), ips_.size());
}

TEST_F(LinkTest, LinkDownOnAnInterfaceNotUsedForTheAddressChangesNothing) {
  startTwo(planOf(twoLinkConfig(ips_)));
  const auto owned = ownedBy("a");
  cluster_.node("a").setRunning("eth1", false);
  cluster_.deliver();
  EXPECT_EQ(ownedBy("a"), owned);
}

TEST_F(LinkTest, LinkBackAfterAllLinksWereDownWaitsForTheHoldOff) {
  startTwo(planFor(ips_));
  cluster_.node("a").setRunning("eth0", false);
  cluster_.runFor(1s);
  cluster_.node("a").setRunning("eth0", true);
  cluster_.deliver();
  cluster_.runFor(290ms, [&] { ASSERT_TRUE(ownedBy("a").empty()); });
  cluster_.runFor(100ms);
  EXPECT_FALSE(ownedBy("a").empty());
  for (const auto& [address, announcers] : cluster_.announcers()) EXPECT_EQ(announcers.size(), 1u) << address;
}

TEST_F(LinkTest, NoAnswersOnADownLink) {
  startTwo(planFor(ips_));
  const auto owned = ownedBy("a");
  ASSERT_FALSE(owned.empty());
  TestNode& a = cluster_.node("a");
  a.setRunning("eth0", false);
  a.itf().arp.takeSent();
  a.core().onArpFrame(a.itf().slot, whoHas(owned[0]));
  EXPECT_TRUE(a.itf().arp.sent().empty());
}

TEST_F(LinkTest, DetachedInterfaceIsNoLongerUsed) {
  startTwo(planFor(ips_));
  TestNode& a = cluster_.node("a");
  a.core().detachInterface("eth0");
  for (const IpState& s : a.core().status().ips) EXPECT_FALSE(s.owned_here);
  EXPECT_EQ(a.core().status().members[0].interfaces, std::vector<std::string>{});
}

}  // namespace
}  // namespace pier::announce::testing
