// Several cores wired together through fake heartbeat sockets: election,
// failover, graceful handover, restarts and eligibility, checked as the
// cluster sees it (who announces each address).
#include <gtest/gtest.h>

#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

const std::vector<std::string> kNodes{"a", "b", "c"};

class ClusterTest : public ::testing::Test {
 protected:
  ClusterTest() : ips_(manyIps(48)), plan_(planFor(ips_)) {}

  void startThree() {
    for (const auto& n : kNodes) cluster_.add(n, plan_);
    cluster_.startAll();
    cluster_.runFor(1s);
  }

  // Every address announced by exactly the node election picks among `live`.
  void expectConverged(const std::vector<std::string>& live) {
    for (const auto& [address, announcers] : cluster_.announcers()) {
      ASSERT_EQ(announcers.size(), 1u) << address;
      EXPECT_EQ(announcers[0], expectedOwner(address, live)) << address;
    }
  }

  // Fails the test if any address ever has two announcers.
  std::function<void()> atMostOneAnnouncer() {
    return [this] {
      for (const auto& [address, announcers] : cluster_.announcers()) {
        ASSERT_LE(announcers.size(), 1u) << address << " at " << (cluster_.clock.now() - MonoTime{}).count();
      }
    };
  }

  std::vector<std::string> ipsOwnedBy(const std::string& node) {
    std::vector<std::string> out;
    for (const auto& [address, announcers] : cluster_.announcers()) {
      if (!announcers.empty() && announcers[0] == node) out.push_back(address);
    }
    return out;
  }

  std::vector<std::string> ips_;
  Plan plan_;
  Cluster cluster_;
};

TEST_F(ClusterTest, ThreeNodesConvergeToOneAnnouncerPerAddress) {
  startThree();
  expectConverged(kNodes);
  EXPECT_FALSE(ipsOwnedBy("a").empty());
  EXPECT_FALSE(ipsOwnedBy("b").empty());
  EXPECT_FALSE(ipsOwnedBy("c").empty());
}

TEST_F(ClusterTest, EveryNodeAgreesOnEveryOwner) {
  startThree();
  const auto reference = cluster_.node("a").core().status().ips;
  for (const auto& n : {"b", "c"}) {
    const auto other = cluster_.node(n).core().status().ips;
    ASSERT_EQ(other.size(), reference.size());
    for (size_t i = 0; i < other.size(); ++i) EXPECT_EQ(other[i].owner, reference[i].owner) << other[i].ip;
  }
}

TEST_F(ClusterTest, IndependentClustersFedTheSameInputsElectTheSame) {
  startThree();
  Cluster twin;
  for (const auto& n : kNodes) twin.add(n, plan_);
  twin.startAll();
  twin.runFor(1s);
  EXPECT_EQ(twin.announcers(), cluster_.announcers());
}

TEST_F(ClusterTest, NeverTwoAnnouncersOnceConverged) {
  startThree();
  cluster_.runFor(5s, atMostOneAnnouncer());
  expectConverged(kNodes);
}

TEST_F(ClusterTest, KilledOwnerFailsOverAfterThreeMissedHeartbeats) {
  startThree();
  const auto orphans = ipsOwnedBy("a");
  ASSERT_FALSE(orphans.empty());
  const MonoTime killed = cluster_.clock.now();
  cluster_.kill("a");
  std::optional<MonoTime> recovered;
  cluster_.runFor(1s, [&] {
    if (recovered) return;
    auto now = cluster_.announcers();
    for (const auto& address : orphans) {
      if (now[address].empty()) return;
    }
    recovered = cluster_.clock.now();
  });
  ASSERT_TRUE(recovered);
  // The last heartbeat went out at most one interval before the kill.
  EXPECT_LE(*recovered - killed, 325ms);
  EXPECT_GE(*recovered - killed, 225ms);
  expectConverged({"b", "c"});
}

TEST_F(ClusterTest, FailoverNeverProducesTwoAnnouncers) {
  startThree();
  cluster_.kill("b");
  cluster_.runFor(2s, atMostOneAnnouncer());
  expectConverged({"a", "c"});
}

TEST_F(ClusterTest, SurvivorsKeepTheirAddressesWhenAnotherNodeDies) {
  startThree();
  const auto kept = ipsOwnedBy("b");
  cluster_.kill("a");
  cluster_.runFor(1s);
  for (const auto& address : kept) EXPECT_EQ(cluster_.announcers()[address], std::vector<std::string>{"b"});
}

TEST_F(ClusterTest, GracefulLeaveHandsOverWithoutWaiting) {
  startThree();
  const auto handed = ipsOwnedBy("a");
  cluster_.node("a").core().beginLeave();
  cluster_.deliver();  // the leaving heartbeat; no time passes
  auto now = cluster_.announcers();
  for (const auto& address : handed) {
    ASSERT_EQ(now[address].size(), 1u) << address;
    EXPECT_EQ(now[address][0], expectedOwner(address, {"b", "c"}));
  }
}

TEST_F(ClusterTest, GracefulLeaveNewOwnersAnnounceAtOnce) {
  startThree();
  const auto handed = ipsOwnedBy("a");
  ASSERT_FALSE(handed.empty());
  for (const auto& n : {"b", "c"}) cluster_.node(n).itf().arp.takeSent();
  cluster_.node("a").core().beginLeave();
  cluster_.deliver();  // no time passes
  const size_t garps =
      cluster_.node("b").itf().arp.sent().size() + cluster_.node("c").itf().arp.sent().size();
  EXPECT_EQ(garps, 2 * handed.size());  // a gratuitous request and reply each
}

TEST_F(ClusterTest, RestartedNodeClaimsNothingDuringHoldOff) {
  startThree();
  cluster_.kill("a");
  cluster_.runFor(1s);
  cluster_.restart("a", plan_);
  cluster_.start("a");
  cluster_.runFor(290ms, [&] { ASSERT_TRUE(ipsOwnedBy("a").empty()); });
  expectConverged({"b", "c"});
}

TEST_F(ClusterTest, RestartedNodeTakesBackItsAddressesWithoutTwoAnnouncers) {
  startThree();
  cluster_.kill("a");
  cluster_.runFor(1s);
  cluster_.restart("a", plan_);
  cluster_.start("a");
  cluster_.runFor(2s, atMostOneAnnouncer());
  expectConverged(kNodes);
}

TEST_F(ClusterTest, AddingANodeMovesOnlyTheAddressesItWins) {
  cluster_.add("a", plan_);
  cluster_.add("b", plan_);
  cluster_.startAll();
  cluster_.runFor(1s);
  const auto before = cluster_.announcers();
  cluster_.add("c", plan_);
  cluster_.start("c");
  cluster_.runFor(1s, atMostOneAnnouncer());
  for (const auto& [address, announcers] : cluster_.announcers()) {
    if (announcers != before.at(address)) {
      EXPECT_EQ(announcers, std::vector<std::string>{"c"}) << address;
    }
  }
  expectConverged(kNodes);
}

TEST_F(ClusterTest, IneligibleNodeHandsItsAddressesOverWithoutOverlap) {
  startThree();
  const auto moved = ipsOwnedBy("a");
  std::set<std::string> keep(ips_.begin(), ips_.end());
  for (const auto& address : moved) keep.erase(address);
  cluster_.node("a").core().setEligibleIps(keep);
  // Released before anyone else claims: no instant with two announcers.
  for (const auto& address : moved) EXPECT_TRUE(cluster_.announcers()[address].empty()) << address;
  cluster_.deliver();
  for (const auto& address : moved) {
    EXPECT_EQ(cluster_.announcers()[address], std::vector<std::string>{expectedOwner(address, {"b", "c"})});
  }
}

TEST_F(ClusterTest, AddressNobodyIsEligibleForIsNotAnnounced) {
  startThree();
  const std::string orphan = ips_[0];
  std::set<std::string> rest(ips_.begin() + 1, ips_.end());
  for (const auto& n : kNodes) cluster_.node(n).core().setEligibleIps(rest);
  cluster_.deliver();
  EXPECT_TRUE(cluster_.announcers()[orphan].empty());
  EXPECT_EQ(cluster_.node("a").core().status().ips[0].owner, "");
}

}  // namespace
}  // namespace pier::announce::testing
