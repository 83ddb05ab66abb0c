// The Announcer with its real thread and event loop over a fake host (fake
// sockets with eventfds). Waits are bounded and event-driven: the fakes
// notify on every frame the announcer sends (heartbeats go out every 10 ms).
#include "src/announce/announcer.h"

#include <gtest/gtest.h>

#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

uint64_t realWallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

class AnnouncerTest : public ::testing::Test {
 protected:
  AnnouncerTest() : host_(true) {
    InterfaceInfo eth0;
    eth0.name = "eth0";
    eth0.index = 2;
    eth0.mac = nodeMac(1, 0);
    eth0.running = true;
    eth0.link_local = ip("fe80::1").asV6();
    host_.addInterface(eth0);
    host_.setSysctlValue("net/ipv4/conf/eth0/arp_ignore", "0");
    cfg_ = vipConfig({"192.0.2.10", "2001:db8::10"});
    cfg_.heartbeat_interval = std::chrono::milliseconds(10);
  }

  std::unique_ptr<Announcer> make(const config::VirtualIps& cfg) {
    auto created = Announcer::create(host_, cfg, testKey());
    EXPECT_TRUE(created.ok()) << created.error();
    return created.ok() ? std::move(created).value() : nullptr;
  }

  template <typename Pred>
  bool waitFor(Pred pred) {
    return host_.sent().waitFor(pred);
  }

  static bool owns(const Announcer& a, const std::string& address) {
    for (const IpState& s : a.status().ips) {
      if (s.ip == address) return s.owned_here;
    }
    return false;
  }

  std::vector<vip::Heartbeat> heartbeatsSent() {
    std::vector<vip::Heartbeat> out;
    for (const Bytes& d : host_.opened("eth0").heartbeat->sent()) {
      if (auto hb = vip::decodeHeartbeat(d, testKey())) out.push_back(hb.value());
    }
    return out;
  }

  FakeHost host_;
  config::VirtualIps cfg_;
};

TEST_F(AnnouncerTest, CreateRefusesADisabledConfig) {
  cfg_.enabled = false;
  EXPECT_FALSE(Announcer::create(host_, cfg_, testKey()).ok());
}

TEST_F(AnnouncerTest, CreateRefusesAnInvalidNodeName) {
  cfg_.node_name = "no spaces allowed";
  EXPECT_FALSE(Announcer::create(host_, cfg_, testKey()).ok());
}

TEST_F(AnnouncerTest, CreateTouchesNothingOnTheHost) {
  auto a = make(cfg_);
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.opened("eth0").arp, nullptr);
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
}

TEST_F(AnnouncerTest, StartAddsRoutesAndSetsArpSysctls) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  EXPECT_EQ(host_.routes(), (std::set<std::string>{"192.0.2.10/32", "2001:db8::10/128"}));
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "1");
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_announce"), "2");
  EXPECT_EQ(host_.opened("eth0").port, cfg_.heartbeat_port);
  EXPECT_EQ(host_.opened("eth0").group, cfg_.heartbeat_group);
}

TEST_F(AnnouncerTest, ManageHostOffLeavesRoutesAndSysctlsAlone) {
  cfg_.manage_host = false;
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
}

TEST_F(AnnouncerTest, StopRestoresTheHostAndClosesSockets) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  a->stop(false);
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
  EXPECT_TRUE(host_.opened("eth0").arp->closed);
  EXPECT_TRUE(host_.opened("eth0").heartbeat->closed);
}

TEST_F(AnnouncerTest, HeartbeatsFlowFromItsOwnThread) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  EXPECT_TRUE(waitFor([&] { return host_.opened("eth0").heartbeat->sent().size() >= 5; }));
}

TEST_F(AnnouncerTest, ClaimsAfterTheHoldOffAndAnswersArp) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  host_.opened("eth0").arp->push(whoHas("192.0.2.10"));
  EXPECT_TRUE(waitFor([&] {
    for (const Bytes& f : host_.opened("eth0").arp->sent()) {
      auto p = vip::parseArpFrame(f);
      if (p && p->kind == vip::ArpKind::kReply && p->eth_destination == kClientMac) return true;
    }
    return false;
  }));
}

TEST_F(AnnouncerTest, GracefulStopSendsLeavingHeartbeats) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  a->stop(true);
  auto hbs = heartbeatsSent();
  ASSERT_GE(hbs.size(), 3u);
  for (size_t i = hbs.size() - 3; i < hbs.size(); ++i) EXPECT_TRUE(hbs[i].leaving);
  EXPECT_FALSE(owns(*a, "192.0.2.10"));
}

TEST_F(AnnouncerTest, HandOverLeavesButKeepsRoutesUntilStop) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  a->handOver();
  auto hbs = heartbeatsSent();
  ASSERT_GE(hbs.size(), 3u);
  EXPECT_TRUE(hbs.back().leaving);
  EXPECT_FALSE(owns(*a, "192.0.2.10"));
  EXPECT_EQ(host_.routes().count("192.0.2.10/32"), 1u);  // connections here still drain
  a->stop(true);
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
}

TEST_F(AnnouncerTest, SetEligibleIpsFromAnotherThreadReleases) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  a->setEligibleIps({"2001:db8::10"});
  EXPECT_TRUE(waitFor([&] { return !owns(*a, "192.0.2.10"); }));
  EXPECT_TRUE(owns(*a, "2001:db8::10"));
}

TEST_F(AnnouncerTest, EligibilitySetBeforeStartApplies) {
  auto a = make(cfg_);
  a->setEligibleIps({"2001:db8::10"});
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "2001:db8::10"); }));
  EXPECT_FALSE(owns(*a, "192.0.2.10"));
}

TEST_F(AnnouncerTest, LinkDownEventReleasesEverything) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  host_.setRunning("eth0", false);
  EXPECT_TRUE(waitFor([&] { return !owns(*a, "192.0.2.10") && !owns(*a, "2001:db8::10"); }));
}

TEST_F(AnnouncerTest, PeerHeartbeatsMakeAMember) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  PeerHeartbeat b;
  b.timestamp_ms = realWallMs();
  b.incarnation = b.timestamp_ms;
  host_.opened("eth0").heartbeat->push(b.encode());
  EXPECT_TRUE(waitFor([&] {
    for (const MemberState& m : a->status().members) {
      if (m.node == "b") return m.alive;
    }
    return false;
  }));
}

TEST_F(AnnouncerTest, ReloadAddsAnAddressAndItsRoute) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  auto next = vipConfig({"192.0.2.10", "2001:db8::10", "192.0.2.20"});
  next.heartbeat_interval = std::chrono::milliseconds(10);
  ASSERT_TRUE(a->reload(next).ok());
  EXPECT_EQ(host_.routes().count("192.0.2.20/32"), 1u);
  EXPECT_TRUE(waitFor([&] { return owns(*a, "192.0.2.20"); }));
}

TEST_F(AnnouncerTest, ReloadKeepsOwnershipOfAddressesThatStay) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  auto next = vipConfig({"192.0.2.10"});
  next.heartbeat_interval = std::chrono::milliseconds(10);
  ASSERT_TRUE(a->reload(next).ok());
  EXPECT_TRUE(owns(*a, "192.0.2.10"));
  EXPECT_EQ(a->status().ips.size(), 1u);
  EXPECT_EQ(host_.routes(), std::set<std::string>{"192.0.2.10/32"});
}

TEST_F(AnnouncerTest, ReloadRefusesANewNodeName) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  auto next = cfg_;
  next.node_name = "someone-else";
  EXPECT_FALSE(a->reload(next).ok());
}

TEST_F(AnnouncerTest, ReloadWithNewPeersReopensHeartbeatSockets) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  auto old = host_.opened("eth0").heartbeat;
  auto next = cfg_;
  next.peers = {"192.0.2.2"};
  ASSERT_TRUE(a->reload(next).ok());
  EXPECT_TRUE(old->closed);
  EXPECT_EQ(host_.opened("eth0").peers, std::vector<std::string>{"192.0.2.2"});
  EXPECT_TRUE(owns(*a, "192.0.2.10"));
  EXPECT_TRUE(waitFor([&] { return !host_.opened("eth0").heartbeat->sent().empty(); }));
}

TEST_F(AnnouncerTest, StartFailsForAMissingInterfaceAndLeavesTheHostAlone) {
  cfg_.interfaces = {"eth9"};
  auto a = make(cfg_);
  Status s = a->start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("eth9"), std::string::npos);
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth9/arp_ignore"), "");  // never written
}

TEST_F(AnnouncerTest, NdpSocketThatFailedToOpenIsRetriedOnLinkEvents) {
  host_.failNdp(true);
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(waitFor([&] { return owns(*a, "192.0.2.10"); }));
  EXPECT_FALSE(owns(*a, "2001:db8::10"));
  host_.failNdp(false);
  host_.setRunning("eth0", true);  // e.g. the link-local address finished DAD
  EXPECT_TRUE(waitFor([&] { return owns(*a, "2001:db8::10"); }));
}

TEST_F(AnnouncerTest, CannotStartTwiceOrAfterStop) {
  auto a = make(cfg_);
  ASSERT_TRUE(a->start().ok());
  EXPECT_FALSE(a->start().ok());
  a->stop(false);
  EXPECT_FALSE(a->start().ok());
  a->stop(false);  // idempotent
}

TEST_F(AnnouncerTest, DestructorStopsAndRestores) {
  {
    auto a = make(cfg_);
    ASSERT_TRUE(a->start().ok());
  }
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
}

}  // namespace
}  // namespace pier::announce::testing
