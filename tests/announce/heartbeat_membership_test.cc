// Heartbeats out and in: schedule, content, authentication, replay, and
// member liveness.
#include <gtest/gtest.h>

#include "src/stats/metrics.h"
#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

int64_t received(const std::string& result) {
  return stats::Store::instance().value("pier_vip_heartbeats_received_total", {{"result", result}});
}

// An address of `candidates` that `winner` wins among `nodes`.
std::string addressWonBy(const std::string& winner, const std::vector<std::string>& nodes) {
  for (const std::string& a : manyIps(200)) {
    if (expectedOwner(a, nodes) == winner) return a;
  }
  return "";
}

const MemberState* member(const AnnouncerStatus& s, const std::string& name) {
  for (const MemberState& m : s.members) {
    if (m.node == name) return &m;
  }
  return nullptr;
}

class HeartbeatTest : public ::testing::Test {
 protected:
  // Node "a" alone with one address that "b" would win against it.
  HeartbeatTest() : address_(addressWonBy("b", {"a", "b"})), a_(clock_, "a", 1, planFor({address_})) {}

  void startAndSettle() {
    a_.core().start();
    runCores(clock_, {&a_.core()}, 400ms);
  }
  PeerHeartbeat fromB(uint64_t sequence) {
    PeerHeartbeat hb;
    hb.sequence = sequence;
    hb.timestamp_ms = a_.wallMs();
    return hb;
  }
  void deliver(const Bytes& datagram, const std::string& itf = "eth0") {
    a_.core().onHeartbeat(a_.itf(itf).slot, datagram);
  }

  FakeClock clock_;
  std::string address_;
  TestNode a_;
};

TEST_F(HeartbeatTest, SentEveryIntervalWithNodeNameAndRisingSequence) {
  a_.core().start();
  auto first = a_.takeHeartbeats();  // the one start() sent
  std::vector<MonoTime> sent_at;
  runCores(clock_, {&a_.core()}, 1s, [&] {
    for (size_t n = a_.itf().heartbeat.takeSent().size(); n > 0; --n) sent_at.push_back(clock_.now());
  });
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].node, "a");
  EXPECT_EQ(first[0].interval_ms, 100u);
  ASSERT_GE(sent_at.size(), 10u);
  EXPECT_LE(sent_at.front() - MonoTime{}, 100ms);
  for (size_t i = 1; i < sent_at.size(); ++i) EXPECT_LE(sent_at[i] - sent_at[i - 1], 100ms);
}

TEST_F(HeartbeatTest, SequenceGrowsAndIncarnationStays) {
  a_.core().start();
  runCores(clock_, {&a_.core()}, 500ms);
  auto hbs = a_.takeHeartbeats();
  ASSERT_GE(hbs.size(), 5u);
  for (size_t i = 1; i < hbs.size(); ++i) {
    EXPECT_GT(hbs[i].sequence, hbs[i - 1].sequence);
    EXPECT_EQ(hbs[i].incarnation, hbs[0].incarnation);
  }
}

TEST_F(HeartbeatTest, SentOnEveryInterface) {
  TestNode two(clock_, "t", 9, planFor({"192.0.2.10"}, {"eth0", "eth1"}));
  two.core().start();
  runCores(clock_, {&two.core()}, 250ms);
  auto eth0 = two.takeHeartbeats("eth0");
  auto eth1 = two.takeHeartbeats("eth1");
  EXPECT_GE(eth0.size(), 3u);
  EXPECT_EQ(eth0, eth1);
}

TEST_F(HeartbeatTest, HoldOffAdvertisesNoEligibility) {
  a_.core().start();
  runCores(clock_, {&a_.core()}, 250ms);
  for (const auto& hb : a_.takeHeartbeats()) {
    EXPECT_FALSE(hb.except_listed);
    EXPECT_TRUE(hb.ips.empty());
  }
}

TEST_F(HeartbeatTest, EligibleForAllSendsEmptyExceptList) {
  startAndSettle();
  auto hbs = a_.takeHeartbeats();
  ASSERT_FALSE(hbs.empty());
  EXPECT_TRUE(hbs.back().except_listed);
  EXPECT_TRUE(hbs.back().ips.empty());
}

TEST_F(HeartbeatTest, EligibleForFewSendsPlainList) {
  TestNode n(clock_, "n", 9, planFor({"192.0.2.10", "192.0.2.11", "192.0.2.12"}));
  n.core().start();
  runCores(clock_, {&n.core()}, 400ms);
  n.core().setEligibleIps({"192.0.2.11"});
  auto hbs = n.takeHeartbeats();
  ASSERT_FALSE(hbs.empty());
  EXPECT_FALSE(hbs.back().except_listed);
  EXPECT_EQ(hbs.back().ips, std::vector<vip::IpAddress>{ip("192.0.2.11")});
}

TEST_F(HeartbeatTest, EligibilityChangeIsSentAtOnce) {
  startAndSettle();
  a_.takeHeartbeats();
  a_.core().setEligibleIps({});
  auto hbs = a_.takeHeartbeats();  // no time has passed
  ASSERT_EQ(hbs.size(), 1u);
  EXPECT_FALSE(hbs[0].except_listed);
  EXPECT_TRUE(hbs[0].ips.empty());
}

TEST_F(HeartbeatTest, GenuinePeerTakesTheAddressItWins) {
  startAndSettle();
  ASSERT_TRUE(a_.core().owns(address_));
  deliver(fromB(1).encode());
  EXPECT_FALSE(a_.core().owns(address_));
  EXPECT_EQ(a_.core().status().ips[0].owner, "b");
}

TEST_F(HeartbeatTest, ForgedHeartbeatWithoutTheKeyChangesNothing) {
  startAndSettle();
  const int64_t before = received("bad_mac");
  PeerHeartbeat forged = fromB(1);
  forged.key_fill = 0x11;
  deliver(forged.encode());
  EXPECT_TRUE(a_.core().owns(address_));
  EXPECT_EQ(member(a_.core().status(), "b"), nullptr);
  EXPECT_EQ(received("bad_mac"), before + 1);
}

TEST_F(HeartbeatTest, ReplayedHeartbeatDoesNotReviveALeftNode) {
  startAndSettle();
  const Bytes recorded = fromB(1).encode();
  deliver(recorded);
  PeerHeartbeat leaving = fromB(2);
  leaving.leaving = true;
  deliver(leaving.encode());
  ASSERT_TRUE(a_.core().owns(address_));
  const int64_t before = received("replay");
  deliver(recorded);
  EXPECT_TRUE(a_.core().owns(address_));
  EXPECT_FALSE(member(a_.core().status(), "b")->alive);
  EXPECT_EQ(received("replay"), before + 1);
}

TEST_F(HeartbeatTest, StaleHeartbeatIsRefused) {
  startAndSettle();
  PeerHeartbeat old = fromB(1);
  old.timestamp_ms = a_.wallMs() - 60'000;
  deliver(old.encode());
  EXPECT_TRUE(a_.core().owns(address_));
  EXPECT_EQ(member(a_.core().status(), "b"), nullptr);
}

TEST_F(HeartbeatTest, OwnNameIsIgnored) {
  startAndSettle();
  const int64_t before = received("own");
  PeerHeartbeat mine = fromB(1);
  mine.node = "a";
  mine.incarnation = 1;
  deliver(mine.encode());
  EXPECT_EQ(received("own"), before + 1);
  EXPECT_EQ(a_.core().status().members.size(), 1u);
}

TEST_F(HeartbeatTest, SameHeartbeatOnSecondInterfaceIsADuplicateNotAReplay) {
  TestNode two(clock_, "a", 9, planFor({address_}, {"eth0", "eth1"}));
  two.core().start();
  const Bytes hb = fromB(1).encode();
  const int64_t replays = received("replay");
  const int64_t duplicates = received("duplicate");
  two.core().onHeartbeat(two.itf("eth0").slot, hb);
  two.core().onHeartbeat(two.itf("eth1").slot, hb);
  EXPECT_EQ(received("replay"), replays);
  EXPECT_EQ(received("duplicate"), duplicates + 1);
  EXPECT_EQ(member(two.core().status(), "b")->interfaces, (std::vector<std::string>{"eth0", "eth1"}));
}

TEST_F(HeartbeatTest, MemberAliveUntilThreeMissedIntervalsPlusSlack) {
  startAndSettle();
  deliver(fromB(1).encode());
  runCores(clock_, {&a_.core()}, 324ms);
  EXPECT_TRUE(member(a_.core().status(), "b")->alive);
  EXPECT_FALSE(a_.core().owns(address_));
  runCores(clock_, {&a_.core()}, 1ms);
  EXPECT_FALSE(member(a_.core().status(), "b")->alive);
  EXPECT_TRUE(a_.core().owns(address_));
}

TEST_F(HeartbeatTest, HeartbeatsKeepAMemberAlive) {
  startAndSettle();
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    deliver(fromB(seq).encode());
    runCores(clock_, {&a_.core()}, 100ms);
  }
  EXPECT_TRUE(member(a_.core().status(), "b")->alive);
  EXPECT_FALSE(a_.core().owns(address_));
}

TEST_F(HeartbeatTest, DeathUsesTheMembersOwnInterval) {
  startAndSettle();
  PeerHeartbeat slow = fromB(1);
  slow.interval_ms = 1000;
  deliver(slow.encode());
  runCores(clock_, {&a_.core()}, 3s);
  EXPECT_TRUE(member(a_.core().status(), "b")->alive);
  runCores(clock_, {&a_.core()}, 250ms);
  EXPECT_FALSE(member(a_.core().status(), "b")->alive);
}

TEST_F(HeartbeatTest, LeavingHeartbeatMakesTheMemberDeadAtOnce) {
  startAndSettle();
  deliver(fromB(1).encode());
  ASSERT_FALSE(a_.core().owns(address_));
  a_.itf().arp.takeSent();
  PeerHeartbeat leaving = fromB(2);
  leaving.leaving = true;
  deliver(leaving.encode());  // no time passes
  EXPECT_TRUE(a_.core().owns(address_));
  EXPECT_FALSE(member(a_.core().status(), "b")->alive);
  EXPECT_EQ(a_.itf().arp.sent().size(), 2u);  // gratuitous request and reply, at once
}

TEST_F(HeartbeatTest, AliveMembersGaugeCountsThisNodeAndPeers) {
  auto gauge = [] { return stats::Store::instance().value("pier_vip_members_alive", {}); };
  const int64_t before = gauge();
  startAndSettle();
  EXPECT_EQ(gauge(), before + 1);
  deliver(fromB(1).encode());
  EXPECT_EQ(gauge(), before + 2);
  runCores(clock_, {&a_.core()}, 1s);
  EXPECT_EQ(gauge(), before + 1);
}

TEST_F(HeartbeatTest, GracefulLeaveSendsLeavingHeartbeatsAMillisecondApart) {
  startAndSettle();
  a_.takeHeartbeats();
  a_.core().beginLeave();
  EXPECT_FALSE(a_.core().owns(address_));
  runCores(clock_, {&a_.core()}, 10ms);
  auto hbs = a_.takeHeartbeats();
  ASSERT_EQ(hbs.size(), 3u);
  for (const auto& hb : hbs) EXPECT_TRUE(hb.leaving);
  EXPECT_TRUE(a_.core().leaveDone());
}

}  // namespace
}  // namespace pier::announce::testing
