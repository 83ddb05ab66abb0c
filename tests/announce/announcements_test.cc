// Gratuitous ARP / unsolicited NA on takeover: forms, count, spacing,
// refresh, and pacing of large takeovers.
#include <gtest/gtest.h>

#include "src/stats/metrics.h"
#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

struct Sent {
  MonoTime at;
  vip::ArpPacket packet;
};

class AnnouncementTest : public ::testing::Test {
 protected:
  void run(TestNode& n, Duration d) {
    runCores(clock_, {&n.core()}, d, [&] { collect(n); });
  }
  void collect(TestNode& n) {
    for (const Bytes& f : n.itf().arp.takeSent()) {
      sent_.push_back({clock_.now(), vip::parseArpFrame(f).value()});
    }
  }

  FakeClock clock_;
  std::vector<Sent> sent_;
};

TEST_F(AnnouncementTest, TakeoverSendsBothGratuitousFormsRepeatedAtTheSpacing) {
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10"}));
  a.core().start();
  run(a, 10s);
  ASSERT_EQ(sent_.size(), 10u);  // 5 announcements x (request + reply)
  for (size_t i = 0; i < sent_.size(); i += 2) {
    EXPECT_EQ(sent_[i].packet.kind, vip::ArpKind::kGratuitousRequest);
    EXPECT_EQ(sent_[i + 1].packet.kind, vip::ArpKind::kGratuitousReply);
    EXPECT_EQ(sent_[i].at, sent_[i + 1].at);
    EXPECT_EQ(sent_[i].packet.eth_destination, vip::kBroadcastMac);
    EXPECT_EQ(sent_[i].packet.sender_mac, nodeMac(1, 0));
    EXPECT_EQ(sent_[i].packet.sender_ip, ip("192.0.2.10").asV4());
    if (i >= 2) {
      EXPECT_EQ(sent_[i].at - sent_[i - 2].at, 1100ms);
    }
  }
}

TEST_F(AnnouncementTest, FirstAnnouncementGoesOutTheMomentOfTakeover) {
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10"}));
  a.core().start();
  run(a, 1s);
  ASSERT_FALSE(sent_.empty());
  EXPECT_EQ(sent_[0].at - MonoTime{}, 300ms);  // the end of the hold-off
}

TEST_F(AnnouncementTest, RepeatsFollowTheConfiguredCountAndSpacing) {
  CoreOptions o;
  o.announce_repeats = 3;
  o.announce_spacing = 2s;
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10"}), o);
  a.core().start();
  run(a, 20s);
  ASSERT_EQ(sent_.size(), 6u);
  EXPECT_EQ(sent_[2].at - sent_[0].at, 2s);
  EXPECT_EQ(sent_[4].at - sent_[2].at, 2s);
}

TEST_F(AnnouncementTest, RefreshKeepsAnnouncingAfterTheRepeats) {
  CoreOptions o;
  o.refresh_interval = 30s;
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10"}), o);
  a.core().start();
  run(a, 100s);
  // 5 repeats over ~4.4 s, then one every 30 s: at +34.4, +64.4, +94.4.
  ASSERT_EQ(sent_.size(), 16u);
  EXPECT_EQ(sent_[10].at - sent_[8].at, 30s);
  EXPECT_EQ(sent_[14].at - sent_[12].at, 30s);
}

TEST_F(AnnouncementTest, NoRefreshByDefault) {
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10"}));
  a.core().start();
  run(a, 100s);
  EXPECT_EQ(sent_.size(), 10u);
}

TEST_F(AnnouncementTest, Ipv6TakeoverSendsUnsolicitedAdvertisementsToAllNodes) {
  TestNode a(clock_, "a", 1, planFor({"2001:db8::10"}));
  a.core().start();
  run(a, 10s);
  auto sent = a.itf().ndp.takeSent();
  ASSERT_EQ(sent.size(), 5u);
  for (const auto& s : sent) {
    EXPECT_EQ(s.destination, vip::kAllNodesMulticast);
    auto na = vip::parseNeighborAdvertisement(s.icmp, {ip("fe80::1").asV6(), s.destination, 255});
    ASSERT_TRUE(na.ok());
    EXPECT_TRUE(na->override_flag);
    EXPECT_FALSE(na->solicited);
    EXPECT_EQ(na->target_mac, nodeMac(1, 0));
  }
}

TEST_F(AnnouncementTest, AnnouncesOnEveryAllowedInterface) {
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10"}, {"eth0", "eth1"}));
  a.core().start();
  runCores(clock_, {&a.core()}, 400ms);
  EXPECT_EQ(a.itf("eth0").arp.sent().size(), 2u);
  auto eth1 = a.itf("eth1").arp.sent();
  ASSERT_EQ(eth1.size(), 2u);
  EXPECT_EQ(vip::parseArpFrame(eth1[0]).value().sender_mac, nodeMac(1, 1));
}

TEST_F(AnnouncementTest, LosingTheAddressStopsItsAnnouncements) {
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10", "192.0.2.11"}));
  a.core().start();
  runCores(clock_, {&a.core()}, 400ms);
  a.core().setEligibleIps({"192.0.2.11"});
  a.itf().arp.takeSent();
  run(a, 10s);
  for (const Sent& s : sent_) EXPECT_EQ(s.packet.sender_ip, ip("192.0.2.11").asV4());
}

TEST_F(AnnouncementTest, GarpCounterCountsFrames) {
  auto garps = [] { return stats::Store::instance().value("pier_vip_garp_sent_total", {}); };
  const int64_t before = garps();
  TestNode a(clock_, "a", 1, planFor({"192.0.2.10", "2001:db8::10"}));
  a.core().start();
  runCores(clock_, {&a.core()}, 400ms);
  EXPECT_EQ(garps(), before + 3);  // two ARP forms and one NA
}

TEST_F(AnnouncementTest, TakeoversAndOwnedGaugeAreCounted) {
  auto& store = stats::Store::instance();
  const int64_t takeovers = store.value("pier_vip_takeovers_total", {});
  const int64_t owned = store.value("pier_vip_owned", {{"ip", "192.0.2.77"}});
  TestNode a(clock_, "a", 1, planFor({"192.0.2.77"}));
  a.core().start();
  runCores(clock_, {&a.core()}, 400ms);
  EXPECT_EQ(store.value("pier_vip_takeovers_total", {}), takeovers + 1);
  EXPECT_EQ(store.value("pier_vip_owned", {{"ip", "192.0.2.77"}}), owned + 1);
  a.core().setEligibleIps({});
  EXPECT_EQ(store.value("pier_vip_owned", {{"ip", "192.0.2.77"}}), owned);
}

// Ten thousand addresses on one node: a takeover is paced, the heartbeat
// stays one small datagram, and lookups still find every address.
class ScaleTest : public AnnouncementTest {
 protected:
  static constexpr size_t kAddresses = 10'000;
  ScaleTest() : ips_(manyIps(kAddresses)) {}
  std::vector<std::string> ips_;
};

TEST_F(ScaleTest, TakeoverOfTenThousandAddressesIsPaced) {
  CoreOptions o;  // 20 frames per ms, bursts of 256
  TestNode a(clock_, "a", 1, planFor(ips_), o);
  a.core().start();
  std::vector<std::pair<MonoTime, size_t>> frames;  // time, frames sent at that tick
  // The hold-off ends at 300 ms; the first repeats would start at 1400 ms.
  runCores(clock_, {&a.core()}, 1350ms, [&] {
    const size_t n = a.itf().arp.takeSent().size();
    if (n > 0) frames.push_back({clock_.now(), n});
  });
  ASSERT_FALSE(frames.empty());
  const MonoTime start = frames.front().first;
  size_t total = 0;
  for (const auto& [at, n] : frames) {
    total += n;
    const double ms = std::chrono::duration<double, std::milli>(at - start).count();
    ASSERT_LE(static_cast<double>(total), o.garp_burst + o.garp_frames_per_ms * ms + 2)
        << "at " << ms << " ms";
  }
  EXPECT_EQ(total, 2 * kAddresses);               // every address announced once, in about a second
  EXPECT_GT(frames.back().first - start, 900ms);  // spread out, not one burst
  EXPECT_EQ(a.core().status().ips.size(), kAddresses);
}

TEST_F(ScaleTest, HeartbeatOfANodeEligibleForAllStaysSmall) {
  TestNode a(clock_, "a", 1, planFor(ips_));
  a.core().start();
  runCores(clock_, {&a.core()}, 400ms);
  auto sent = a.itf().heartbeat.takeSent();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back().size(), vip::kHeartbeatMinBytes);
}

TEST_F(ScaleTest, NodeEligibleForHalfClaimsOnlyWhatItsHeartbeatCanList) {
  // Neither form fits: the node claims only the addresses its heartbeat
  // lists, so that peers and itself agree on its eligibility.
  TestNode a(clock_, "a", 1, planFor(ips_));
  a.core().start();
  std::set<std::string> half(ips_.begin(), ips_.begin() + kAddresses / 2);
  a.core().setEligibleIps(half);
  runCores(clock_, {&a.core()}, 400ms);
  auto hbs = a.takeHeartbeats();
  ASSERT_FALSE(hbs.empty());
  const auto& hb = hbs.back();
  EXPECT_FALSE(hb.except_listed);
  EXPECT_GT(hb.ips.size(), 250u);
  size_t owned = 0;
  for (const IpState& s : a.core().status().ips) owned += s.owned_here ? 1 : 0;
  EXPECT_EQ(owned, hb.ips.size());
}

TEST_F(ScaleTest, AnswersArpForTheLastOfTenThousand) {
  TestNode a(clock_, "a", 1, planFor(ips_));
  a.core().start();
  runCores(clock_, {&a.core()}, 400ms);
  a.itf().arp.takeSent();
  a.core().onArpFrame(a.itf().slot, whoHas(ips_.back()));
  a.core().onArpFrame(a.itf().slot, whoHas("10.200.0.1"));
  auto sent = a.itf().arp.takeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(vip::parseArpFrame(sent[0]).value().sender_ip, ip(ips_.back()).asV4());
}

}  // namespace
}  // namespace pier::announce::testing
