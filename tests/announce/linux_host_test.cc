// The Linux announce::Host against the real kernel, each test in its own pair
// of network namespaces (see linux_lab.h); skipped without root.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "src/announce/host.h"
#include "src/announce/linux_routes.h"
#include "src/vip/arp.h"
#include "src/vip/ndp.h"
#include "tests/announce/linux_lab.h"

namespace pier::announce {
namespace {

using testing::kIpA;
using testing::kIpB;
using testing::kLinkLocalA;
using testing::kLinkLocalB;
using testing::Lab;
using testing::readable;
using testing::ready;
using testing::runInLab;
using testing::waitForInterface;
using Bytes = std::vector<uint8_t>;

vip::MacAddress mac(const char* text) { return *vip::parseMac(text); }
vip::Ipv4Address v4(const char* text) { return vip::IpAddress::parse(text)->asV4(); }
vip::Ipv6Address v6(const char* text) { return vip::IpAddress::parse(text)->asV6(); }

class LinuxHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::namespacesAvailable()) {
      GTEST_SKIP() << "needs root and network namespaces";
    }
  }
};

// Both lab hosts with their interfaces up and addressed; `host` acts in A.
struct Ends {
  InterfaceInfo a;
  InterfaceInfo b;
};
std::optional<Ends> readyEnds(Lab& lab, Host& host_a, Host& host_b) {
  lab.enterB();
  std::optional<InterfaceInfo> b = waitForInterface(host_b, "vb", ready);
  lab.enterA();
  std::optional<InterfaceInfo> a = waitForInterface(host_a, "va", ready);
  if (!a || !b) {
    ADD_FAILURE() << "the lab links did not come up";
    return std::nullopt;
  }
  return Ends{*a, *b};
}

// errno of binding a TCP socket to `ip` (port chosen by the kernel), 0 on success.
int bindError(const char* ip) {
  const auto address = *vip::IpAddress::parse(ip);
  sockaddr_storage storage{};
  socklen_t size;
  if (address.isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, address.bytes().data(), 4);
    size = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, address.bytes().data(), 16);
    size = sizeof *in6;
  }
  const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int result = ::bind(fd, reinterpret_cast<const sockaddr*>(&storage), size) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- interface() and link events ---

TEST_F(LinuxHostTest, InterfaceReportsIndexMacAddressesAndRunning) {
  runInLab([](Lab&) {
    auto host = makeLinuxHost();
    std::optional<InterfaceInfo> info = waitForInterface(*host, "va", ready);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->name, "va");
    EXPECT_EQ(info->index, static_cast<int>(::if_nametoindex("va")));
    EXPECT_EQ(info->mac, mac(testing::kMacA));
    EXPECT_EQ(info->ipv4, v4(kIpA));
    EXPECT_EQ(info->link_local, v6(kLinkLocalA));
    EXPECT_TRUE(info->running);
  });
}

TEST_F(LinuxHostTest, InterfaceReportsPrimaryIpv4BeforeSecondary) {
  runInLab([](Lab& lab) {
    ASSERT_TRUE(lab.run("ip addr add 10.77.0.9/24 dev va"));  // same subnet: a secondary address
    auto host = makeLinuxHost();
    Result<InterfaceInfo> info = host->interface("va");
    ASSERT_TRUE(info) << info.error();
    EXPECT_EQ(info->ipv4, v4(kIpA));
  });
}

TEST_F(LinuxHostTest, UnknownInterfaceIsAnError) {
  runInLab([](Lab&) {
    Result<InterfaceInfo> info = makeLinuxHost()->interface("nosuch0");
    ASSERT_FALSE(info);
    EXPECT_NE(info.error().find("nosuch0"), std::string::npos) << info.error();
  });
}

TEST_F(LinuxHostTest, InterfaceWithoutMacIsAnError) {
  runInLab([](Lab&) {
    Result<InterfaceInfo> info = makeLinuxHost()->interface("lo");
    ASSERT_FALSE(info);
    EXPECT_NE(info.error().find("not an Ethernet interface"), std::string::npos) << info.error();
  });
}

TEST_F(LinuxHostTest, PeerLinkDownRaisesLinkEventAndClearsRunning) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    ASSERT_TRUE(waitForInterface(*host, "va", ready));
    const int fd = host->linkEventsFd();
    ASSERT_GE(fd, 0);
    host->drainLinkEvents();
    ASSERT_FALSE(readable(fd, 0));

    lab.enterB();
    ASSERT_TRUE(lab.run("ip link set vb down"));  // va loses its carrier
    lab.enterA();

    EXPECT_TRUE(readable(fd));
    std::optional<InterfaceInfo> info =
        waitForInterface(*host, "va", [](const InterfaceInfo& i) { return !i.running; });
    ASSERT_TRUE(info) << "va still running";
    EXPECT_FALSE(info->running);
  });
}

TEST_F(LinuxHostTest, AdministrativelyDownInterfaceIsNotRunning) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    ASSERT_TRUE(waitForInterface(*host, "va", ready));
    ASSERT_TRUE(lab.run("ip link set va down"));
    std::optional<InterfaceInfo> info =
        waitForInterface(*host, "va", [](const InterfaceInfo& i) { return !i.running; });
    ASSERT_TRUE(info) << "va still running";
  });
}

// --- local routes ---

TEST_F(LinuxHostTest, LocalRouteMakesPoolAddressesBindable) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    ASSERT_EQ(bindError("10.99.0.7"), EADDRNOTAVAIL);

    Status added = host->addLocalRoute("10.99.0.0/24");
    ASSERT_TRUE(added) << added.error();
    EXPECT_TRUE(contains(lab.output("ip route show table local"), "local 10.99.0.0/24 dev lo"));
    EXPECT_EQ(bindError("10.99.0.7"), 0);
    // The address is routed locally, not assigned: the kernel does not own
    // it on any interface (so it never answers ARP for it).
    EXPECT_FALSE(contains(lab.output("ip addr"), "10.99.0."));

    Status removed = host->removeLocalRoute("10.99.0.0/24");
    ASSERT_TRUE(removed) << removed.error();
    EXPECT_FALSE(contains(lab.output("ip route show table local"), "10.99.0.0/24"));
    EXPECT_EQ(bindError("10.99.0.7"), EADDRNOTAVAIL);
  });
}

TEST_F(LinuxHostTest, AddingALocalRouteTwiceReplacesIt) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    ASSERT_TRUE(host->addLocalRoute("10.99.0.0/24"));
    Status again = host->addLocalRoute("10.99.0.0/24");
    EXPECT_TRUE(again) << again.error();
    const std::string routes = lab.output("ip route show table local");
    EXPECT_EQ(routes.find("10.99.0.0/24"), routes.rfind("10.99.0.0/24")) << routes;
  });
}

TEST_F(LinuxHostTest, Ipv6LocalRouteIsAddedAndRemoved) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    Status added = host->addLocalRoute("fd00:99::/64");
    ASSERT_TRUE(added) << added.error();
    EXPECT_TRUE(contains(lab.output("ip -6 route show table local"), "local fd00:99::/64 dev lo"));
    Status removed = host->removeLocalRoute("fd00:99::/64");
    ASSERT_TRUE(removed) << removed.error();
    EXPECT_FALSE(contains(lab.output("ip -6 route show table local"), "fd00:99::"));
  });
}

TEST_F(LinuxHostTest, HostRouteForASingleAddress) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    Status added = host->addLocalRoute("10.99.1.5");
    ASSERT_TRUE(added) << added.error();
    EXPECT_TRUE(contains(lab.output("ip route show table local"), "local 10.99.1.5 dev lo"));
    EXPECT_EQ(bindError("10.99.1.5"), 0);
  });
}

TEST_F(LinuxHostTest, RemovingAMissingRouteSucceeds) {
  runInLab([](Lab&) {
    auto host = makeLinuxHost();
    Status v4_removed = host->removeLocalRoute("10.98.0.0/24");
    EXPECT_TRUE(v4_removed) << v4_removed.error();
    Status v6_removed = host->removeLocalRoute("fd00:98::/64");
    EXPECT_TRUE(v6_removed) << v6_removed.error();
  });
}

TEST_F(LinuxHostTest, RemovingNeverDeletesTheKernelsOwnLocalRoutes) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    // Made by the kernel for lo's and va's addresses: the first is a local
    // route on lo just like pier's, told apart only by its protocol.
    const std::string loopback = "local 127.0.0.1 dev lo proto kernel";
    const std::string interface = std::string("local ") + kIpA + " dev va proto kernel";
    ASSERT_TRUE(contains(lab.output("ip route show table local"), loopback));
    ASSERT_TRUE(contains(lab.output("ip route show table local"), interface));
    for (const std::string& cidr : {std::string("127.0.0.1/32"), std::string(kIpA) + "/32"}) {
      Status removed = host->removeLocalRoute(cidr);
      EXPECT_TRUE(removed) << removed.error();
    }
    EXPECT_TRUE(contains(lab.output("ip route show table local"), loopback));
    EXPECT_TRUE(contains(lab.output("ip route show table local"), interface));
  });
}

TEST_F(LinuxHostTest, KernelRefusalsCarryTheKernelsReason) {
  runInLab([](Lab&) {
    // Host bits set: parseRouteCidr() refuses this, the kernel too.
    Status added = sys::addLocalRoute(sys::RouteCidr{*vip::IpAddress::parse("10.99.0.1"), 24});
    ASSERT_FALSE(added);
    EXPECT_TRUE(contains(added.error(), "10.99.0.1/24")) << added.error();
    EXPECT_TRUE(contains(added.error(), std::strerror(EINVAL))) << added.error();
    EXPECT_TRUE(contains(added.error(), "prefix")) << added.error();  // the extended ack
  });
}

TEST(LinuxHostRouteCidr, ParsesCidrsAndBareAddresses) {
  Result<sys::RouteCidr> v4net = sys::parseRouteCidr("192.0.2.0/28");
  ASSERT_TRUE(v4net) << v4net.error();
  EXPECT_EQ(v4net->network.toString(), "192.0.2.0");
  EXPECT_EQ(v4net->prefix_length, 28);
  Result<sys::RouteCidr> v6net = sys::parseRouteCidr("2001:db8::/124");
  ASSERT_TRUE(v6net) << v6net.error();
  EXPECT_EQ(v6net->prefix_length, 124);
  Result<sys::RouteCidr> host4 = sys::parseRouteCidr("192.0.2.7");
  ASSERT_TRUE(host4);
  EXPECT_EQ(host4->prefix_length, 32);
  Result<sys::RouteCidr> host6 = sys::parseRouteCidr("2001:db8::7");
  ASSERT_TRUE(host6);
  EXPECT_EQ(host6->prefix_length, 128);
}

TEST(LinuxHostRouteCidr, RejectsMalformedCidrs) {
  for (const char* bad : {"192.0.2.1/24", "2001:db8::1/64", "192.0.2.0/33", "2001:db8::/129", "192.0.2.0/",
                          "192.0.2.0/x", "192.0.2.0/-1", "nonsense", "", "192.0.2.0/24/1"}) {
    EXPECT_FALSE(sys::parseRouteCidr(bad)) << bad;
  }
}

// --- sysctls ---

TEST_F(LinuxHostTest, SetSysctlWritesAndReturnsTheOldValue) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    Result<std::string> old = host->setSysctl("net/ipv4/conf/va/arp_ignore", "1");
    ASSERT_TRUE(old) << old.error();
    EXPECT_EQ(*old, "0");
    EXPECT_EQ(lab.output("cat /proc/sys/net/ipv4/conf/va/arp_ignore"), "1\n");
    Result<std::string> again = host->setSysctl("net/ipv4/conf/va/arp_ignore", "2");
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ(*again, "1");
  });
}

TEST_F(LinuxHostTest, SetSysctlRejectsPathsLeavingProcSys) {
  runInLab([](Lab& lab) {
    auto host = makeLinuxHost();
    EXPECT_FALSE(host->setSysctl("net/../net/ipv4/conf/va/arp_ignore", "1"));
    EXPECT_FALSE(host->setSysctl("/net/ipv4/conf/va/arp_ignore", "1"));
    EXPECT_FALSE(host->setSysctl("", "1"));
    EXPECT_EQ(lab.output("cat /proc/sys/net/ipv4/conf/va/arp_ignore"), "0\n");
  });
}

TEST_F(LinuxHostTest, SetSysctlOnAMissingPathIsAnError) {
  runInLab([](Lab&) {
    Result<std::string> old = makeLinuxHost()->setSysctl("net/ipv4/conf/nosuch0/arp_ignore", "1");
    ASSERT_FALSE(old);
    EXPECT_NE(old.error().find("nosuch0"), std::string::npos) << old.error();
  });
}

// --- ARP ---

Bytes arpFrame(const vip::MacAddress& from, const vip::Ipv4Address& sender, const vip::Ipv4Address& target,
               uint16_t ptype = 0x0800) {
  Bytes f(vip::kBroadcastMac.begin(), vip::kBroadcastMac.end());
  f.insert(f.end(), from.begin(), from.end());
  for (int b : {0x08, 0x06, 0x00, 0x01, ptype >> 8, ptype & 0xff, 6, 4, 0x00, 0x01}) {
    f.push_back(static_cast<uint8_t>(b));
  }
  f.insert(f.end(), from.begin(), from.end());
  f.insert(f.end(), sender.begin(), sender.end());
  f.insert(f.end(), 6, 0);
  f.insert(f.end(), target.begin(), target.end());
  return f;
}

// Reads frames until `wanted` arrives (true) or kWaitMs passes; every frame
// read before it goes to `before`.
bool receiveUntil(ArpSocket& socket, const Bytes& wanted, std::vector<Bytes>& before) {
  std::array<uint8_t, 2048> buf;
  while (readable(socket.fd())) {
    for (int n; (n = socket.receive(buf)) > 0;) {
      Bytes got(buf.begin(), buf.begin() + n);
      // A driver may pad short frames to the Ethernet minimum.
      if (got.size() >= wanted.size() && std::equal(wanted.begin(), wanted.end(), got.begin())) {
        return true;
      }
      before.push_back(std::move(got));
    }
  }
  return false;
}

TEST_F(LinuxHostTest, ArpSocketReceivesAPeersRequestWithItsEthernetHeader) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    Result<std::unique_ptr<ArpSocket>> arp_a = host_a->openArp(ends->a);
    ASSERT_TRUE(arp_a) << arp_a.error();
    lab.enterB();
    Result<std::unique_ptr<ArpSocket>> arp_b = host_b->openArp(ends->b);
    lab.enterA();
    ASSERT_TRUE(arp_b) << arp_b.error();

    const Bytes request = arpFrame(ends->b.mac, v4(kIpB), v4("10.77.0.100"));
    ASSERT_TRUE((*arp_b)->send(request));
    std::vector<Bytes> before;
    EXPECT_TRUE(receiveUntil(**arp_a, request, before));
    EXPECT_TRUE(before.empty());
    std::array<uint8_t, 64> buf;
    EXPECT_EQ((*arp_a)->receive(buf), 0);  // nothing else waiting
  });
}

TEST_F(LinuxHostTest, ArpSocketDoesNotReceiveItsOwnFrames) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    auto arp_a = std::move(host_a->openArp(ends->a).value());
    lab.enterB();
    auto arp_b = std::move(host_b->openArp(ends->b).value());
    lab.enterA();

    const vip::ArpFrame own =
        vip::buildGratuitousArp(ends->a.mac, v4("10.77.0.50"), vip::GratuitousForm::kRequest);
    ASSERT_TRUE(arp_a->send(own));
    // B sees it on the wire...
    std::vector<Bytes> before;
    EXPECT_TRUE(receiveUntil(*arp_b, Bytes(own.begin(), own.end()), before));
    // ...and A, reading up to a later frame from B, never does.
    const Bytes marker = arpFrame(ends->b.mac, v4(kIpB), v4("10.77.0.101"));
    ASSERT_TRUE(arp_b->send(marker));
    before.clear();
    EXPECT_TRUE(receiveUntil(*arp_a, marker, before));
    for (const Bytes& frame : before) {
      EXPECT_FALSE(std::equal(own.begin(), own.end(), frame.begin())) << "own frame received";
    }
  });
}

TEST_F(LinuxHostTest, ArpSocketFiltersArpThatIsNotEthernetIpv4) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    auto arp_a = std::move(host_a->openArp(ends->a).value());
    lab.enterB();
    auto arp_b = std::move(host_b->openArp(ends->b).value());
    lab.enterA();

    Bytes odd = arpFrame(ends->b.mac, v4(kIpB), v4("10.77.0.102"), 0x86dd);
    ASSERT_TRUE(arp_b->send(odd));
    Bytes long_addresses = arpFrame(ends->b.mac, v4(kIpB), v4("10.77.0.103"));
    long_addresses[18] = 8;  // hardware address length
    ASSERT_TRUE(arp_b->send(long_addresses));
    const Bytes marker = arpFrame(ends->b.mac, v4(kIpB), v4("10.77.0.104"));
    ASSERT_TRUE(arp_b->send(marker));
    std::vector<Bytes> before;
    EXPECT_TRUE(receiveUntil(*arp_a, marker, before));
    EXPECT_TRUE(before.empty()) << before.size() << " filtered frame(s) received";
  });
}

// --- NDP ---

Bytes neighborSolicitation(const vip::Ipv6Address& target, const vip::MacAddress& source_mac) {
  Bytes m{vip::kIcmpv6NeighborSolicitation, 0, 0, 0, 0, 0, 0, 0};
  m.insert(m.end(), target.begin(), target.end());
  m.insert(m.end(), {1, 1});
  m.insert(m.end(), source_mac.begin(), source_mac.end());
  return m;
}

struct NdpMessage {
  Bytes bytes;
  NdpSocket::Received meta;
};

// Reads messages until one satisfies `wanted` (returned) or kWaitMs passes;
// every message read before it goes to `before`.
std::optional<NdpMessage> receiveUntil(NdpSocket& socket,
                                       const std::function<bool(const NdpMessage&)>& wanted,
                                       std::vector<NdpMessage>* before = nullptr) {
  std::array<uint8_t, 2048> buf;
  while (readable(socket.fd())) {
    for (;;) {
      std::optional<NdpSocket::Received> received = socket.receive(buf);
      if (!received) {
        ADD_FAILURE() << "receive failed: " << std::strerror(errno);
        return std::nullopt;
      }
      if (received->size == 0) break;
      NdpMessage message{Bytes(buf.begin(), buf.begin() + static_cast<long>(received->size)), *received};
      if (wanted(message)) return message;
      if (before) before->push_back(std::move(message));
    }
  }
  return std::nullopt;
}

// The kernel fills in the checksum (bytes 2-3) on the way.
bool sameApartFromChecksum(const Bytes& a, const Bytes& b) {
  return a.size() == b.size() && a.size() >= 4 && std::equal(a.begin(), a.begin() + 2, b.begin()) &&
         std::equal(a.begin() + 4, a.end(), b.begin() + 4);
}

const vip::Ipv6Address kVip6 = v6("fd00::12:3456");

TEST_F(LinuxHostTest, NdpSocketReceivesSolicitationsForJoinedGroupsWithHopLimit) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    Result<std::unique_ptr<NdpSocket>> ndp_a = host_a->openNdp(ends->a);
    ASSERT_TRUE(ndp_a) << ndp_a.error();
    const vip::Ipv6Address group = vip::solicitedNodeMulticast(kVip6);
    ASSERT_TRUE((*ndp_a)->joinGroup(group));
    lab.enterB();
    Result<std::unique_ptr<NdpSocket>> ndp_b = host_b->openNdp(ends->b);
    lab.enterA();
    ASSERT_TRUE(ndp_b) << ndp_b.error();

    const Bytes ns = neighborSolicitation(kVip6, ends->b.mac);
    ASSERT_TRUE((*ndp_b)->send(ns, group, std::nullopt));
    std::optional<NdpMessage> got =
        receiveUntil(**ndp_a, [&](const NdpMessage& m) { return m.meta.destination == group; });
    ASSERT_TRUE(got) << "solicitation not received";
    EXPECT_TRUE(sameApartFromChecksum(got->bytes, ns));
    EXPECT_EQ(got->meta.source, v6(kLinkLocalB));
    EXPECT_EQ(got->meta.hop_limit, vip::kNdpHopLimit);
    // What the responder does with it.
    vip::ParseResult<vip::NeighborSolicitation, vip::NdpReject> parsed = vip::parseNeighborSolicitation(
        got->bytes, vip::Ipv6Header{got->meta.source, got->meta.destination, got->meta.hop_limit});
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->target, kVip6);
  });
}

TEST_F(LinuxHostTest, NdpSocketStopsHearingALeftGroup) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    auto ndp_a = std::move(host_a->openNdp(ends->a).value());
    lab.enterB();
    auto ndp_b = std::move(host_b->openNdp(ends->b).value());
    lab.enterA();
    const vip::Ipv6Address group = vip::solicitedNodeMulticast(kVip6);
    ASSERT_TRUE(ndp_a->joinGroup(group));
    ASSERT_TRUE(ndp_a->leaveGroup(group));

    ASSERT_TRUE(ndp_b->send(neighborSolicitation(kVip6, ends->b.mac), group, std::nullopt));
    // All-nodes is always joined: once its message is read, the one before
    // it would have been too.
    ASSERT_TRUE(ndp_b->send(neighborSolicitation(v6("fd00::99"), ends->b.mac), vip::kAllNodesMulticast, std::nullopt));
    std::vector<NdpMessage> before;
    EXPECT_TRUE(receiveUntil(
        *ndp_a, [](const NdpMessage& m) { return m.meta.destination == vip::kAllNodesMulticast; }, &before));
    for (const NdpMessage& m : before) {
      EXPECT_NE(m.meta.destination, group) << "solicitation for a left group received";
    }
  });
}

TEST_F(LinuxHostTest, NdpAdvertisementsGoOutFromTheLinkLocalAddressWithHopLimit255) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    // A global address A's kernel would otherwise prefer for a global destination.
    ASSERT_TRUE(lab.run("ip -6 addr add fd00:77::1/64 dev va nodad"));
    auto ndp_a = std::move(host_a->openNdp(ends->a).value());
    lab.enterB();
    ASSERT_TRUE(lab.run("ip -6 addr add fd00:77::2/64 dev vb nodad"));
    auto ndp_b = std::move(host_b->openNdp(ends->b).value());
    lab.enterA();

    const auto isOurAdvertisement = [](const NdpMessage& m) {
      return m.bytes.size() >= 24 && m.bytes[0] == vip::kIcmpv6NeighborAdvertisement &&
             std::equal(kVip6.begin(), kVip6.end(), m.bytes.begin() + 8);
    };
    const vip::NdpAnswer unsolicited = vip::buildUnsolicitedAdvertisement(kVip6, ends->a.mac);
    ASSERT_TRUE(ndp_a->send(unsolicited.message, unsolicited.destination, std::nullopt));
    std::optional<NdpMessage> multicast = receiveUntil(*ndp_b, isOurAdvertisement);
    ASSERT_TRUE(multicast) << "advertisement to all-nodes not received";
    EXPECT_EQ(multicast->meta.source, v6(kLinkLocalA));
    EXPECT_EQ(multicast->meta.destination, vip::kAllNodesMulticast);
    EXPECT_EQ(multicast->meta.hop_limit, vip::kNdpHopLimit);

    const vip::NdpMessage solicited =
        vip::buildNeighborAdvertisement(kVip6, ends->a.mac, {.solicited = true});
    ASSERT_TRUE(ndp_a->send(solicited, v6("fd00:77::2"), std::nullopt));
    std::optional<NdpMessage> unicast = receiveUntil(*ndp_b, isOurAdvertisement);
    ASSERT_TRUE(unicast) << "advertisement to a global address not received";
    EXPECT_EQ(unicast->meta.source, v6(kLinkLocalA));
    EXPECT_EQ(unicast->meta.destination, v6("fd00:77::2"));
    EXPECT_EQ(unicast->meta.hop_limit, vip::kNdpHopLimit);

    // From the virtual IP itself (not an address of the interface): what
    // strict clients (ndisc6) require of an answer.
    ASSERT_TRUE(ndp_a->send(solicited, v6("fd00:77::2"), kVip6));
    std::optional<NdpMessage> from_vip = receiveUntil(*ndp_b, isOurAdvertisement);
    ASSERT_TRUE(from_vip) << "advertisement from the virtual IP not received";
    EXPECT_EQ(from_vip->meta.source, kVip6);
  });
}

TEST_F(LinuxHostTest, NdpSocketDoesNotHearItsOwnMulticast) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    auto ndp_a = std::move(host_a->openNdp(ends->a).value());
    lab.enterB();
    auto ndp_b = std::move(host_b->openNdp(ends->b).value());
    lab.enterA();

    const vip::NdpAnswer own = vip::buildUnsolicitedAdvertisement(kVip6, ends->a.mac);
    ASSERT_TRUE(ndp_a->send(own.message, own.destination, std::nullopt));
    ASSERT_TRUE(ndp_b->send(neighborSolicitation(v6("fd00::98"), ends->b.mac), vip::kAllNodesMulticast, std::nullopt));
    std::vector<NdpMessage> before;
    EXPECT_TRUE(receiveUntil(
        *ndp_a, [](const NdpMessage& m) { return m.bytes[0] == vip::kIcmpv6NeighborSolicitation; }, &before));
    for (const NdpMessage& m : before) {
      EXPECT_NE(m.meta.source, v6(kLinkLocalA)) << "own advertisement received";
    }
  });
}

// --- heartbeats ---

constexpr uint16_t kPort = 7946;
constexpr char kGroup[] = "239.255.80.80";

// The next datagram's text and source, or nullopt after kWaitMs.
std::optional<std::pair<std::string, std::string>> receiveDatagram(HeartbeatSocket& socket) {
  std::array<uint8_t, 1500> buf;
  while (readable(socket.fd())) {
    std::optional<HeartbeatSocket::Received> got = socket.receive(buf);
    if (!got) {
      ADD_FAILURE() << "receive failed: " << std::strerror(errno);
      return std::nullopt;
    }
    if (got->size > 0) {
      return std::pair{std::string(buf.begin(), buf.begin() + static_cast<long>(got->size)), got->from};
    }
  }
  return std::nullopt;
}

std::span<const uint8_t> text(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_F(LinuxHostTest, HeartbeatsCrossTheLinkByMulticastButNeverComeBack) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    Result<std::unique_ptr<HeartbeatSocket>> hb_a = host_a->openHeartbeat(ends->a, kPort, kGroup, {});
    ASSERT_TRUE(hb_a) << hb_a.error();
    lab.enterB();
    Result<std::unique_ptr<HeartbeatSocket>> hb_b = host_b->openHeartbeat(ends->b, kPort, kGroup, {});
    lab.enterA();
    ASSERT_TRUE(hb_b) << hb_b.error();

    ASSERT_TRUE((*hb_a)->send(text("from a")));
    EXPECT_EQ(receiveDatagram(**hb_b), std::pair(std::string("from a"), std::string(kIpA)));
    ASSERT_TRUE((*hb_b)->send(text("from b")));
    // The first thing A reads is B's: its own heartbeat did not loop back.
    EXPECT_EQ(receiveDatagram(**hb_a), std::pair(std::string("from b"), std::string(kIpB)));
  });
}

TEST_F(LinuxHostTest, HeartbeatsGoToUnicastPeers) {
  runInLab([](Lab& lab) {
    auto host_a = makeLinuxHost();
    auto host_b = makeLinuxHost();
    std::optional<Ends> ends = readyEnds(lab, *host_a, *host_b);
    ASSERT_TRUE(ends);
    // The same peer list on both nodes; each skips itself.
    const std::vector<std::string> peers{kIpA, kIpB};
    Result<std::unique_ptr<HeartbeatSocket>> hb_a = host_a->openHeartbeat(ends->a, kPort, "", peers);
    ASSERT_TRUE(hb_a) << hb_a.error();
    lab.enterB();
    Result<std::unique_ptr<HeartbeatSocket>> hb_b = host_b->openHeartbeat(ends->b, kPort, "", peers);
    lab.enterA();
    ASSERT_TRUE(hb_b) << hb_b.error();

    ASSERT_TRUE((*hb_a)->send(text("unicast a")));
    EXPECT_EQ(receiveDatagram(**hb_b), std::pair(std::string("unicast a"), std::string(kIpA)));
    ASSERT_TRUE((*hb_b)->send(text("unicast b")));
    EXPECT_EQ(receiveDatagram(**hb_a), std::pair(std::string("unicast b"), std::string(kIpB)));
  });
}

TEST_F(LinuxHostTest, HeartbeatsAreMarkedAsNetworkControl) {
  runInLab([](Lab&) {
    auto host = makeLinuxHost();
    std::optional<InterfaceInfo> itf = waitForInterface(*host, "va", ready);
    ASSERT_TRUE(itf);
    auto hb = std::move(host->openHeartbeat(*itf, kPort, kGroup, {}).value());
    int value = 0;
    socklen_t size = sizeof value;
    ASSERT_EQ(::getsockopt(hb->fd(), IPPROTO_IP, IP_TOS, &value, &size), 0);
    EXPECT_EQ(value, 0xc0);
    ASSERT_EQ(::getsockopt(hb->fd(), SOL_SOCKET, SO_PRIORITY, &value, &size), 0);
    EXPECT_EQ(value, 6);
  });
}

TEST_F(LinuxHostTest, HeartbeatRejectsGroupsAndPeersItCannotUse) {
  runInLab([](Lab&) {
    auto host = makeLinuxHost();
    Result<InterfaceInfo> itf = host->interface("va");
    ASSERT_TRUE(itf);
    EXPECT_FALSE(host->openHeartbeat(*itf, kPort, "10.0.0.1", {}));  // not multicast
    EXPECT_FALSE(host->openHeartbeat(*itf, kPort, "ff02::1", {}));   // not IPv4
    EXPECT_FALSE(host->openHeartbeat(*itf, kPort, "", {"peer.example"}));
  });
}

}  // namespace
}  // namespace pier::announce
