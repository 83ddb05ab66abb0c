// The ARP and NDP responders of one node and its conflict detection.
#include <gtest/gtest.h>

#include "src/stats/metrics.h"
#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

int64_t conflictsMetric() { return stats::Store::instance().value("pier_vip_conflicts_total", {}); }

// Node "a" alone, past its hold-off, owning everything configured.
class ResponderTest : public ::testing::Test {
 protected:
  ResponderTest() : a_(clock_, "a", 1, planOf(defaultConfig())) {}

  static config::VirtualIps defaultConfig() {
    auto cfg = vipConfig({"192.0.2.10", "192.0.2.11", "2001:db8::10", "2001:db8:1::10"}, {"eth0", "eth1"});
    // 192.0.2.11 only on eth1.
    config::VipPool narrow;
    narrow.name = "narrow";
    narrow.addresses = {"192.0.2.11"};
    narrow.interfaces = {"eth1"};
    cfg.pools[0].addresses = {"192.0.2.10", "2001:db8::10", "2001:db8:1::10"};
    cfg.pools.push_back(narrow);
    return cfg;
  }

  void settle() {
    a_.core().start();
    runCores(clock_, {&a_.core()}, 400ms);
    for (auto& [name, t] : a_.itfs()) {
      t->arp.takeSent();
      t->ndp.takeSent();
    }
  }

  std::vector<vip::ArpPacket> arpAnswers(const std::string& itf = "eth0") {
    std::vector<vip::ArpPacket> out;
    for (const Bytes& f : a_.itf(itf).arp.takeSent()) out.push_back(vip::parseArpFrame(f).value());
    return out;
  }

  void ask(const Bytes& frame, const std::string& itf = "eth0") {
    a_.core().onArpFrame(a_.itf(itf).slot, frame);
  }

  FakeClock clock_;
  TestNode a_;
};

TEST_F(ResponderTest, AnswersArpForAnOwnedAddressWithTheInterfaceMac) {
  settle();
  ask(whoHas("192.0.2.10"));
  auto answers = arpAnswers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].op, vip::ArpOp::kReply);
  EXPECT_EQ(answers[0].sender_mac, nodeMac(1, 0));
  EXPECT_EQ(answers[0].eth_source, nodeMac(1, 0));
  EXPECT_EQ(answers[0].sender_ip, ip("192.0.2.10").asV4());
  EXPECT_EQ(answers[0].eth_destination, kClientMac);
  EXPECT_EQ(answers[0].target_ip, ip("192.0.2.100").asV4());
}

TEST_F(ResponderTest, AnswersOnEachAllowedInterfaceWithThatInterfacesMac) {
  settle();
  ask(whoHas("192.0.2.10"), "eth1");
  auto answers = arpAnswers("eth1");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].sender_mac, nodeMac(1, 1));
}

TEST_F(ResponderTest, DoesNotAnswerOnAnInterfaceTheAddressIsNotAllowedOn) {
  settle();
  ask(whoHas("192.0.2.11"), "eth0");
  EXPECT_TRUE(arpAnswers("eth0").empty());
  ask(whoHas("192.0.2.11"), "eth1");
  EXPECT_EQ(arpAnswers("eth1").size(), 1u);
}

TEST_F(ResponderTest, DoesNotAnswerForAnAddressNotConfigured) {
  settle();
  ask(whoHas("192.0.2.99"));
  EXPECT_TRUE(arpAnswers().empty());
}

TEST_F(ResponderTest, DoesNotAnswerForAnAddressAnotherNodeOwns) {
  settle();
  PeerHeartbeat b;
  b.timestamp_ms = a_.wallMs();
  b.node = "zzz";
  // Find a peer name that wins 192.0.2.10 against "a".
  for (int i = 0; i < 100 && expectedOwner("192.0.2.10", {"a", b.node}) != b.node; ++i) {
    b.node = "peer" + std::to_string(i);
  }
  ASSERT_EQ(expectedOwner("192.0.2.10", {"a", b.node}), b.node);
  a_.core().onHeartbeat(a_.itf().slot, b.encode());
  ask(whoHas("192.0.2.10"));
  EXPECT_TRUE(arpAnswers().empty());
}

TEST_F(ResponderTest, DoesNotAnswerDuringTheHoldOff) {
  a_.core().start();
  ask(whoHas("192.0.2.10"));
  EXPECT_TRUE(arpAnswers().empty());
}

TEST_F(ResponderTest, IgnoresUnicastRequestsForAnotherStation) {
  settle();
  ask(whoHas("192.0.2.10", "192.0.2.100", kStrangerMac));
  EXPECT_TRUE(arpAnswers().empty());
}

TEST_F(ResponderTest, AnswersUnicastRequestsToItsOwnMac) {
  settle();
  ask(whoHas("192.0.2.10", "192.0.2.100", nodeMac(1, 0)));
  EXPECT_EQ(arpAnswers().size(), 1u);
}

TEST_F(ResponderTest, AnswersProbesToDefendTheAddress) {
  settle();
  ask(whoHas("192.0.2.10", "0.0.0.0"));
  auto answers = arpAnswers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].sender_ip, ip("192.0.2.10").asV4());
}

TEST_F(ResponderTest, IgnoresMalformedFrames) {
  settle();
  Bytes f = whoHas("192.0.2.10");
  f.resize(30);
  ask(f);
  EXPECT_TRUE(arpAnswers().empty());
}

TEST_F(ResponderTest, StopsAnsweringTheMomentItLosesTheAddress) {
  settle();
  a_.core().setEligibleIps({"192.0.2.11"});
  ask(whoHas("192.0.2.10"));
  EXPECT_TRUE(arpAnswers().empty());
}

TEST_F(ResponderTest, AnswersNeighborSolicitationsForOwnedAddresses) {
  settle();
  a_.itf().ndp.push(neighborSolicitation("2001:db8::10"));
  a_.pump();
  auto sent = a_.itf().ndp.takeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].destination, ip("2001:db8::100").asV6());
  const vip::Ipv6Header header{ip("fe80::1").asV6(), sent[0].destination, 255};
  auto na = vip::parseNeighborAdvertisement(sent[0].icmp, header);
  ASSERT_TRUE(na.ok()) << na.error();
  EXPECT_EQ(na->target, ip("2001:db8::10").asV6());
  EXPECT_TRUE(na->solicited);
  EXPECT_EQ(na->target_mac, nodeMac(1, 0));
}

TEST_F(ResponderTest, IgnoresSolicitationsThatCrossedARouter) {
  settle();
  a_.itf().ndp.push(neighborSolicitation("2001:db8::10", 254));
  a_.pump();
  EXPECT_TRUE(a_.itf().ndp.takeSent().empty());
}

TEST_F(ResponderTest, IgnoresSolicitationsForAddressesNotOwned) {
  settle();
  a_.itf().ndp.push(neighborSolicitation("2001:db8::99"));
  a_.pump();
  EXPECT_TRUE(a_.itf().ndp.takeSent().empty());
}

TEST_F(ResponderTest, JoinsTheSolicitedNodeGroupOfOwnedAddresses) {
  settle();
  const auto groups = a_.itf().ndp.groups();
  EXPECT_EQ(groups.count(vip::solicitedNodeMulticast(ip("2001:db8::10").asV6())), 1u);
}

TEST_F(ResponderTest, AddressesSharingAGroupJoinItOnceAndLeaveItWithTheLast) {
  // 2001:db8::10 and 2001:db8:1::10 share ff02::1:ff00:10.
  settle();
  EXPECT_EQ(a_.itf().ndp.joins(), 1);
  a_.core().setEligibleIps({"192.0.2.10", "2001:db8:1::10"});
  EXPECT_EQ(a_.itf().ndp.groups().size(), 1u);
  a_.core().setEligibleIps({"192.0.2.10"});
  EXPECT_TRUE(a_.itf().ndp.groups().empty());
  EXPECT_EQ(a_.itf().ndp.leaves(), 1);
}

TEST_F(ResponderTest, GratuitousArpFromAnotherMacIsAConflict) {
  settle();
  const int64_t before = conflictsMetric();
  ask(arpFrame(vip::ArpOp::kRequest, vip::kBroadcastMac, kStrangerMac, "192.0.2.10", vip::kZeroMac,
               "192.0.2.10"));
  EXPECT_EQ(conflictsMetric(), before + 1);
  EXPECT_EQ(a_.core().status().conflicts, 1u);
}

TEST_F(ResponderTest, ConflictStillElectedHereReannouncesOnce) {
  settle();
  ask(arpFrame(vip::ArpOp::kReply, vip::kBroadcastMac, kStrangerMac, "192.0.2.10", kStrangerMac,
               "192.0.2.10"));
  auto sent = arpAnswers();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].kind, vip::ArpKind::kGratuitousRequest);
  EXPECT_EQ(sent[1].kind, vip::ArpKind::kGratuitousReply);
  EXPECT_TRUE(a_.core().owns("192.0.2.10"));
}

TEST_F(ResponderTest, ConflictReannouncementsAreRateLimited) {
  settle();
  const Bytes claim = arpFrame(vip::ArpOp::kReply, vip::kBroadcastMac, kStrangerMac, "192.0.2.10",
                               kStrangerMac, "192.0.2.10");
  for (int i = 0; i < 50; ++i) ask(claim);
  EXPECT_EQ(arpAnswers().size(), 2u);  // one announcement for fifty claims
  EXPECT_EQ(a_.core().status().conflicts, 50u);
  clock_.advance(1s);
  ask(claim);
  EXPECT_EQ(arpAnswers().size(), 2u);
}

TEST_F(ResponderTest, RequestFromTheOwnedAddressIsAConflict) {
  settle();
  ask(whoHas("192.0.2.1", "192.0.2.10"));
  EXPECT_EQ(a_.core().status().conflicts, 1u);
}

TEST_F(ResponderTest, OwnFramesSeenOnAnotherInterfaceAreNoConflict) {
  settle();
  ask(arpFrame(vip::ArpOp::kRequest, vip::kBroadcastMac, nodeMac(1, 0), "192.0.2.10", vip::kZeroMac,
               "192.0.2.10"),
      "eth1");
  EXPECT_EQ(a_.core().status().conflicts, 0u);
}

TEST_F(ResponderTest, ClaimsForAddressesNotOwnedAreNoConflict) {
  settle();
  ask(arpFrame(vip::ArpOp::kReply, vip::kBroadcastMac, kStrangerMac, "192.0.2.99", kStrangerMac,
               "192.0.2.99"));
  EXPECT_EQ(a_.core().status().conflicts, 0u);
}

TEST_F(ResponderTest, NeighborAdvertisementFromAnotherMacIsAConflict) {
  settle();
  const auto na = vip::buildNeighborAdvertisement(ip("2001:db8::10").asV6(), kStrangerMac, vip::NaFlags{});
  a_.itf().ndp.push({Bytes(na.begin(), na.end()), ip("fe80::99").asV6(), vip::kAllNodesMulticast, 255});
  a_.pump();
  EXPECT_EQ(a_.core().status().conflicts, 1u);
  auto sent = a_.itf().ndp.takeSent();
  ASSERT_EQ(sent.size(), 1u);  // re-announced with an unsolicited advertisement
  EXPECT_EQ(sent[0].destination, vip::kAllNodesMulticast);
}

}  // namespace
}  // namespace pier::announce::testing
