// virtual_ips: one test per validation rule (each config has exactly one
// mistake, and the whole message is pinned), the expansion of pools into
// addresses and covering CIDR blocks, the assignment of addresses to
// services, and the section's JSON form.
#include <stdlib.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/config/ip_range.h"
#include "src/config/loader.h"

namespace pier::config {
namespace {

using ::testing::ElementsAre;

// Listeners and a cluster for services to name (lines 1-6); virtual_ips
// starts on line 7.
const std::string kBase = R"(listeners:
  - { name: web, address: 0.0.0.0:80, routes: [{ match: { prefix: / }, cluster: app }] }
  - { name: dns, address: 0.0.0.0:53, protocol: udp, cluster: app }
  - { name: local, address: 127.0.0.1:8080, routes: [{ match: { prefix: / }, cluster: app }] }
clusters:
  - { name: app, endpoints: [127.0.0.1:18081] }
)";

class VirtualIpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/pier-vip-key-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    key_ = path;
    std::ofstream(key_) << "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
  }
  void TearDown() override { std::filesystem::remove(key_); }

  // `body` is virtual_ips' content (from line 8 on); KEY stands for the key file.
  std::string yaml(std::string body) const {
    for (size_t at = body.find("KEY"); at != std::string::npos; at = body.find("KEY", at))
      body.replace(at, 3, key_);
    return kBase + "virtual_ips:\n" + body;
  }
  // The required fields (lines 8-10) and then `rest` (from line 11 on).
  std::string minimal(const std::string& rest = "") const {
    return yaml(
        "  key_file: KEY\n  interfaces: [eth0]\n  pools: [{ name: lan, addresses: [192.0.2.10/31] }]\n" +
        rest);
  }
  // A pool section (lines 10 on) after the other required fields.
  std::string withPools(const std::string& pools) const {
    return yaml("  key_file: KEY\n  interfaces: [eth0, eth1]\n  pools:\n" + pools);
  }

  static std::string errorOf(const std::string& text) {
    auto result = loadString(text, "t.yaml");
    if (result.ok()) return "<loaded without error>";
    return result.error();
  }
  static VirtualIps load(const std::string& text) {
    auto result = loadString(text, "t.yaml");
    EXPECT_TRUE(result.ok()) << result.error();
    return result.ok() ? result->virtual_ips : VirtualIps{};
  }

  std::string key_;
};

// --- a whole section ---

TEST_F(VirtualIpsTest, FullExampleLoads) {
  VirtualIps v = load(yaml(R"(  node_name: node-a
  key_file: KEY
  interfaces: [eth0, eth1]
  heartbeat: { interval: 50ms, dead_after_missed: 4, port: 7000, group: 239.1.2.3, peers: [10.0.0.2, "fd00::3"] }
  announce: { repeats: 3, spacing: 1500ms, refresh_interval: 30s }
  manage_host: false
  pools:
    - name: lan
      addresses: [192.0.2.10/31, 192.0.2.20-192.0.2.22, "2001:db8::10/127"]
      interfaces: [eth0]
  services:
    - name: web
      pool: lan
      ports:
        - { port: 80, protocol: tcp, listener: web }
        - { port: 53, protocol: udp }
      clusters: [app]
    - name: dns
      address: 192.0.2.20
      ports: [{ port: 53, protocol: udp, listener: dns }]
)"));
  EXPECT_TRUE(v.enabled);
  EXPECT_EQ(v.node_name, "node-a");
  EXPECT_EQ(v.key_file, key_);
  EXPECT_THAT(v.interfaces, ElementsAre("eth0", "eth1"));
  EXPECT_EQ(v.heartbeat_interval, Millis(50));
  EXPECT_EQ(v.dead_after_missed, 4u);
  EXPECT_EQ(v.heartbeat_port, 7000);
  EXPECT_EQ(v.heartbeat_group, "239.1.2.3");
  EXPECT_THAT(v.peers, ElementsAre("10.0.0.2", "fd00::3"));
  EXPECT_EQ(v.announce_repeats, 3u);
  EXPECT_EQ(v.announce_spacing, Millis(1500));
  EXPECT_EQ(v.refresh_interval, Millis(30'000));
  EXPECT_FALSE(v.manage_host);
  ASSERT_EQ(v.pools.size(), 1u);
  EXPECT_EQ(v.pools[0].name, "lan");
  EXPECT_THAT(v.pools[0].addresses, ElementsAre("192.0.2.10", "192.0.2.11", "192.0.2.20", "192.0.2.21",
                                                "192.0.2.22", "2001:db8::10", "2001:db8::11"));
  EXPECT_THAT(v.pools[0].cidrs,
              ElementsAre("192.0.2.10/31", "192.0.2.20/31", "192.0.2.22/32", "2001:db8::10/127"));
  EXPECT_THAT(v.pools[0].interfaces, ElementsAre("eth0"));
  ASSERT_EQ(v.services.size(), 2u);
  const VipService& web = v.services[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.pool, "lan");
  EXPECT_EQ(web.address, "");
  EXPECT_EQ(web.assigned, "192.0.2.10");
  ASSERT_EQ(web.ports.size(), 2u);
  EXPECT_EQ(web.ports[0].port, 80);
  EXPECT_EQ(web.ports[0].protocol, Protocol::kTcp);
  EXPECT_EQ(web.ports[0].listener, "web");
  EXPECT_EQ(web.ports[1].port, 53);
  EXPECT_EQ(web.ports[1].protocol, Protocol::kUdp);
  EXPECT_EQ(web.ports[1].listener, "");
  EXPECT_THAT(web.clusters, ElementsAre("app"));
  EXPECT_EQ(web.origin, "t.yaml:19:7: virtual_ips.services[0]");
  EXPECT_EQ(v.services[1].assigned, "192.0.2.20");
  EXPECT_EQ(v.services[1].address, "192.0.2.20");
}

TEST_F(VirtualIpsTest, DefaultsApplyWhenOnlyRequiredFieldsAreSet) {
  VirtualIps v = load(minimal());
  char host[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(v.node_name, host);
  EXPECT_EQ(v.heartbeat_interval, Millis(100));
  EXPECT_EQ(v.dead_after_missed, 3u);
  EXPECT_EQ(v.heartbeat_port, 7946);
  EXPECT_EQ(v.heartbeat_group, "239.255.80.80");
  EXPECT_TRUE(v.peers.empty());
  EXPECT_EQ(v.announce_repeats, 5u);
  EXPECT_EQ(v.announce_spacing, Millis(1100));
  EXPECT_EQ(v.refresh_interval, Millis(0));
  EXPECT_TRUE(v.manage_host);
  EXPECT_TRUE(v.pools[0].interfaces.empty());
  EXPECT_TRUE(v.services.empty());
}

TEST_F(VirtualIpsTest, AbsentSectionLeavesVirtualIpsOff) {
  auto config = loadString(kBase, "t.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_FALSE(config->virtual_ips.enabled);
}

TEST_F(VirtualIpsTest, EmptySectionNamesEveryRequiredField) {
  EXPECT_EQ(errorOf(kBase + "virtual_ips:\n"),
            "t.yaml:7:1: virtual_ips.key_file: required field is missing\n"
            "t.yaml:7:1: virtual_ips.interfaces: required field is missing\n"
            "t.yaml:7:1: virtual_ips.pools: required field is missing");
}

TEST_F(VirtualIpsTest, UnknownFieldGetsDidYouMean) {
  EXPECT_EQ(errorOf(minimal("  nodename: a\n")),
            "t.yaml:11:3: virtual_ips.nodename: unknown field; did you mean \"node_name\"?");
}

TEST_F(VirtualIpsTest, NodeNameIsNotAtTheTopLevel) {
  EXPECT_EQ(errorOf("node_name: a\n"),
            "t.yaml:1:1: node_name: unknown field; expected one of admin, workers, drain_timeout, log_level, "
            "listeners, clusters, virtual_ips");
}

// --- node name and key file ---

TEST_F(VirtualIpsTest, NodeNameMustFitHeartbeats) {
  EXPECT_EQ(errorOf(minimal("  node_name: node/a\n")),
            "t.yaml:11:14: virtual_ips.node_name: invalid node name \"node/a\": may only contain letters, "
            "digits, '.', '_' and '-'");
}

TEST_F(VirtualIpsTest, NodeNameAtMost253Characters) {
  EXPECT_EQ(errorOf(minimal("  node_name: " + std::string(254, 'a') + "\n")),
            "t.yaml:11:14: virtual_ips.node_name: invalid node name \"" + std::string(254, 'a') +
                "\": must be at most 253 characters long");
}

TEST_F(VirtualIpsTest, KeyFileIsRequired) {
  EXPECT_EQ(errorOf(yaml("  interfaces: [eth0]\n  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
            "t.yaml:8:3: virtual_ips.key_file: required field is missing");
}

TEST_F(VirtualIpsTest, KeyFileMustExist) {
  EXPECT_EQ(
      errorOf(yaml("  key_file: /nonexistent/pier.key\n  interfaces: [eth0]\n"
                   "  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
      "t.yaml:8:13: virtual_ips.key_file: cannot read \"/nonexistent/pier.key\": No such file or directory; "
      "create one with: openssl rand -hex 32 > /nonexistent/pier.key");
}

TEST_F(VirtualIpsTest, KeyFileMustBeAFile) {
  EXPECT_EQ(errorOf(yaml("  key_file: /tmp\n  interfaces: [eth0]\n"
                         "  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
            "t.yaml:8:13: virtual_ips.key_file: cannot read \"/tmp\": not a regular file");
}

TEST_F(VirtualIpsTest, KeyFileMustNotBeEmpty) {
  std::ofstream(key_, std::ios::trunc).close();
  EXPECT_EQ(errorOf(minimal()), "t.yaml:8:13: virtual_ips.key_file: the cluster key file \"" + key_ +
                                    "\" is empty; create one with: openssl rand -hex 32 > " + key_);
}

// --- interfaces ---

TEST_F(VirtualIpsTest, InterfacesAreRequired) {
  EXPECT_EQ(errorOf(yaml("  key_file: KEY\n  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
            "t.yaml:8:3: virtual_ips.interfaces: required field is missing");
}

TEST_F(VirtualIpsTest, InterfacesMustNotBeEmpty) {
  EXPECT_EQ(
      errorOf(yaml("  key_file: KEY\n  interfaces: []\n  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
      "t.yaml:9:15: virtual_ips.interfaces: must not be empty");
}

TEST_F(VirtualIpsTest, InterfaceNameAtMost15Characters) {
  EXPECT_EQ(
      errorOf(yaml("  key_file: KEY\n  interfaces: [eth0, enp0s31f6verylong]\n"
                   "  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
      "t.yaml:9:22: virtual_ips.interfaces[1]: invalid interface name \"enp0s31f6verylong\": must be at "
      "most 15 characters long");
}

TEST_F(VirtualIpsTest, InterfaceNameHasNoSlashOrColon) {
  EXPECT_EQ(
      errorOf(yaml("  key_file: KEY\n  interfaces: [\"eth0:1\"]\n"
                   "  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
      "t.yaml:9:16: virtual_ips.interfaces[0]: invalid interface name \"eth0:1\": must not contain '/', "
      "':', spaces or control characters");
}

TEST_F(VirtualIpsTest, InterfaceNameIsNotDot) {
  EXPECT_EQ(errorOf(yaml("  key_file: KEY\n  interfaces: [..]\n"
                         "  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
            "t.yaml:9:16: virtual_ips.interfaces[0]: invalid interface name \"..\": must not be \".\" or "
            "\"..\"");
}

TEST_F(VirtualIpsTest, InterfaceListedTwice) {
  EXPECT_EQ(errorOf(yaml("  key_file: KEY\n  interfaces: [eth0, eth0]\n"
                         "  pools: [{ name: lan, addresses: [192.0.2.10] }]\n")),
            "t.yaml:9:22: virtual_ips.interfaces[1]: interface \"eth0\" is listed twice (also "
            "virtual_ips.interfaces[0])");
}

// --- heartbeat ---

TEST_F(VirtualIpsTest, HeartbeatIntervalAtLeast10ms) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { interval: 5ms }\n")),
            "t.yaml:11:26: virtual_ips.heartbeat.interval: must be at least 10ms, got \"5ms\"");
}

TEST_F(VirtualIpsTest, HeartbeatIntervalAtMost10s) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { interval: 11s }\n")),
            "t.yaml:11:26: virtual_ips.heartbeat.interval: must be at most 10s, got \"11s\"");
}

TEST_F(VirtualIpsTest, HeartbeatIntervalUsesTheDurationSyntax) {
  EXPECT_EQ(
      errorOf(minimal("  heartbeat: { interval: 0.1s }\n")),
      "t.yaml:11:26: virtual_ips.heartbeat.interval: invalid duration \"0.1s\": expected a number with a "
      "unit (ms, s, m, h) such as \"250ms\", \"10s\" or \"1m30s\", or an integer number of milliseconds");
}

TEST_F(VirtualIpsTest, DeadAfterMissedAtLeast2) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { dead_after_missed: 1 }\n")),
            "t.yaml:11:35: virtual_ips.heartbeat.dead_after_missed: must be between 2 and 20, got 1");
}

TEST_F(VirtualIpsTest, DeadAfterMissedAtMost20) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { dead_after_missed: 21 }\n")),
            "t.yaml:11:35: virtual_ips.heartbeat.dead_after_missed: must be between 2 and 20, got 21");
}

TEST_F(VirtualIpsTest, HeartbeatPortIsNotZero) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { port: 0 }\n")),
            "t.yaml:11:22: virtual_ips.heartbeat.port: must be between 1 and 65535, got 0");
}

TEST_F(VirtualIpsTest, HeartbeatGroupMustBeMulticast) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { group: 10.0.0.1 }\n")),
            "t.yaml:11:23: virtual_ips.heartbeat.group: must be an IPv4 multicast address (224.0.0.0/4), or "
            "empty to send to the peers only; got \"10.0.0.1\"");
}

TEST_F(VirtualIpsTest, HeartbeatGroupIsIpv4) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { group: \"ff02::1\" }\n")),
            "t.yaml:11:23: virtual_ips.heartbeat.group: must be an IPv4 multicast address (224.0.0.0/4), or "
            "empty to send to the peers only; got \"ff02::1\"");
}

TEST_F(VirtualIpsTest, EmptyHeartbeatGroupNeedsPeers) {
  EXPECT_EQ(
      errorOf(minimal("  heartbeat: { group: \"\" }\n")),
      "t.yaml:11:23: virtual_ips.heartbeat.group: is empty, which sends heartbeats to the peers only, but "
      "heartbeat.peers lists none");
}

TEST_F(VirtualIpsTest, EmptyHeartbeatGroupWithPeersIsUnicast) {
  VirtualIps v = load(minimal("  heartbeat: { group: \"\", peers: [10.0.0.2, \"FD00:0::3\"] }\n"));
  EXPECT_EQ(v.heartbeat_group, "");
  EXPECT_THAT(v.peers, ElementsAre("10.0.0.2", "fd00::3"));
}

TEST_F(VirtualIpsTest, PeersAreIpLiterals) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { peers: [node-b] }\n")),
            "t.yaml:11:24: virtual_ips.heartbeat.peers[0]: \"node-b\" is not an IP address");
}

TEST_F(VirtualIpsTest, PeerListedTwice) {
  EXPECT_EQ(errorOf(minimal("  heartbeat: { peers: [10.0.0.2, 10.0.0.2] }\n")),
            "t.yaml:11:34: virtual_ips.heartbeat.peers[1]: peer 10.0.0.2 is listed twice (also "
            "virtual_ips.heartbeat.peers[0])");
}

// --- announce and manage_host ---

TEST_F(VirtualIpsTest, AnnounceRepeatsAtLeast1) {
  EXPECT_EQ(errorOf(minimal("  announce: { repeats: 0 }\n")),
            "t.yaml:11:24: virtual_ips.announce.repeats: must be between 1 and 20, got 0");
}

TEST_F(VirtualIpsTest, AnnounceRepeatsAtMost20) {
  EXPECT_EQ(errorOf(minimal("  announce: { repeats: 21 }\n")),
            "t.yaml:11:24: virtual_ips.announce.repeats: must be between 1 and 20, got 21");
}

TEST_F(VirtualIpsTest, AnnounceSpacingMayBeZeroButNotNegative) {
  EXPECT_EQ(load(minimal("  announce: { spacing: 0s }\n")).announce_spacing, Millis(0));
  EXPECT_EQ(errorOf(minimal("  announce: { spacing: -1s }\n")),
            "t.yaml:11:24: virtual_ips.announce.spacing: must not be negative, got \"-1s\"");
}

TEST_F(VirtualIpsTest, RefreshIntervalIsOffOrAtLeastOneSecond) {
  EXPECT_EQ(errorOf(minimal("  announce: { refresh_interval: 500ms }\n")),
            "t.yaml:11:33: virtual_ips.announce.refresh_interval: must be 0s (off) or at least 1s, got "
            "\"500ms\"");
}

TEST_F(VirtualIpsTest, ManageHostIsABoolean) {
  EXPECT_EQ(errorOf(minimal("  manage_host: yes\n")),
            "t.yaml:11:16: virtual_ips.manage_host: expected true or false, got \"yes\"");
}

// --- pools ---

TEST_F(VirtualIpsTest, PoolsAreRequired) {
  EXPECT_EQ(errorOf(yaml("  key_file: KEY\n  interfaces: [eth0]\n")),
            "t.yaml:8:3: virtual_ips.pools: required field is missing");
}

TEST_F(VirtualIpsTest, PoolsMustNotBeEmpty) {
  EXPECT_EQ(errorOf(yaml("  key_file: KEY\n  interfaces: [eth0]\n  pools: []\n")),
            "t.yaml:10:10: virtual_ips.pools: must not be empty: services take their addresses from pools");
}

TEST_F(VirtualIpsTest, PoolNeedsAName) {
  EXPECT_EQ(errorOf(withPools("    - addresses: [192.0.2.10]\n")),
            "t.yaml:11:7: virtual_ips.pools[0].name: required field is missing");
}

TEST_F(VirtualIpsTest, PoolNamesAreUnique) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [192.0.2.10] }\n"
                        "    - { name: lan, addresses: [192.0.2.11] }\n")),
      "t.yaml:12:15: virtual_ips.pools[1].name: duplicate pool name \"lan\" (also virtual_ips.pools[0])");
}

TEST_F(VirtualIpsTest, PoolNeedsAddresses) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan }\n")),
            "t.yaml:11:7: virtual_ips.pools[0].addresses: required field is missing");
}

TEST_F(VirtualIpsTest, PoolAddressesMustNotBeEmpty) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [] }\n")),
            "t.yaml:11:31: virtual_ips.pools[0].addresses: must not be empty");
}

TEST_F(VirtualIpsTest, CidrExpandsToEveryAddress) {
  VirtualIps v =
      load(withPools("    - { name: lan, addresses: [192.0.2.8/30, \"2001:DB8:0::fffe/127\"] }\n"));
  EXPECT_THAT(v.pools[0].addresses, ElementsAre("192.0.2.8", "192.0.2.9", "192.0.2.10", "192.0.2.11",
                                                "2001:db8::fffe", "2001:db8::ffff"));
  EXPECT_THAT(v.pools[0].cidrs, ElementsAre("192.0.2.8/30", "2001:db8::fffe/127"));
}

TEST_F(VirtualIpsTest, RangeExpandsInclusively) {
  VirtualIps v = load(withPools("    - { name: lan, addresses: [192.0.2.254 - 192.0.3.1] }\n"));
  EXPECT_THAT(v.pools[0].addresses, ElementsAre("192.0.2.254", "192.0.2.255", "192.0.3.0", "192.0.3.1"));
  EXPECT_THAT(v.pools[0].cidrs, ElementsAre("192.0.2.254/31", "192.0.3.0/31"));
}

TEST_F(VirtualIpsTest, SingleAddressesBecomeHostRoutes) {
  VirtualIps v = load(withPools("    - { name: lan, addresses: [192.0.2.7, \"2001:db8::0:1\"] }\n"));
  EXPECT_THAT(v.pools[0].addresses, ElementsAre("192.0.2.7", "2001:db8::1"));
  EXPECT_THAT(v.pools[0].cidrs, ElementsAre("192.0.2.7/32", "2001:db8::1/128"));
}

TEST_F(VirtualIpsTest, RangeIsCoveredByTheFewestCidrs) {
  VirtualIps v = load(withPools("    - { name: lan, addresses: [192.0.2.1-192.0.2.14] }\n"));
  EXPECT_THAT(v.pools[0].cidrs, ElementsAre("192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/30", "192.0.2.8/30",
                                            "192.0.2.12/31", "192.0.2.14/32"));
  EXPECT_EQ(v.pools[0].addresses.size(), 14u);
}

TEST_F(VirtualIpsTest, AlignedRangeIsOneCidr) {
  VirtualIps v = load(withPools("    - { name: lan, addresses: [\"2001:db8::100-2001:db8::1ff\"] }\n"));
  EXPECT_THAT(v.pools[0].cidrs, ElementsAre("2001:db8::100/120"));
}

TEST_F(VirtualIpsTest, CidrWithHostBitsIsAnError) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [192.0.2.11/31] }\n")),
      "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid CIDR block \"192.0.2.11/31\": it has bits "
      "set past the prefix length; the block that holds it is \"192.0.2.10/31\"");
}

TEST_F(VirtualIpsTest, CidrPrefixLengthFitsTheFamily) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [192.0.2.0/33] }\n")),
      "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid CIDR block \"192.0.2.0/33\": the prefix "
      "length must be 0 to 32 for IPv4");
}

TEST_F(VirtualIpsTest, CidrNeedsAnIpAddress) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [lan.example/24] }\n")),
            "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid CIDR block \"lan.example/24\": "
            "\"lan.example\" is not an IP address");
}

TEST_F(VirtualIpsTest, PoolEntryMustBeAnAddress) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [192.0.2] }\n")),
            "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid address \"192.0.2\": expected an IP "
            "address, a CIDR block such as \"192.0.2.0/28\" or a range such as \"192.0.2.10-192.0.2.20\"");
}

TEST_F(VirtualIpsTest, RangeEndsAreAddresses) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [192.0.2.1-192.0.2.300] }\n")),
            "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid range \"192.0.2.1-192.0.2.300\": "
            "\"192.0.2.300\" is not an IP address");
}

TEST_F(VirtualIpsTest, RangeIsOneFamily) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [\"192.0.2.1-2001:db8::1\"] }\n")),
      "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid range \"192.0.2.1-2001:db8::1\": it mixes "
      "IPv4 and IPv6");
}

TEST_F(VirtualIpsTest, RangeMustNotBeReversed) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [192.0.2.9-192.0.2.8] }\n")),
      "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: invalid range \"192.0.2.9-192.0.2.8\": the first "
      "address is greater than the last");
}

TEST_F(VirtualIpsTest, MulticastCannotBeAVirtualIp) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [223.255.255.254-224.0.0.1] }\n")),
            "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: 224.0.0.0 cannot be a virtual IP: it is a "
            "multicast address");
}

TEST_F(VirtualIpsTest, LoopbackCannotBeAVirtualIp) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [\"::1\"] }\n")),
            "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: ::1 cannot be a virtual IP: it is the loopback "
            "address");
}

TEST_F(VirtualIpsTest, PoolHoldsAtMost65536Addresses) {
  EXPECT_EQ(load(withPools("    - { name: lan, addresses: [10.1.0.0/16] }\n")).pools[0].addresses.size(),
            65536u);
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [10.0.0.0/15] }\n")),
      "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: \"10.0.0.0/15\" holds more than 65536 addresses, "
      "the most a pool may hold");
}

TEST_F(VirtualIpsTest, Ipv6PoolHoldsAtMost65536Addresses) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: lan, addresses: [\"2001:db8::/64\"] }\n")),
      "t.yaml:11:32: virtual_ips.pools[0].addresses[0]: \"2001:db8::/64\" holds more than 65536 addresses, "
      "the most a pool may hold");
}

TEST_F(VirtualIpsTest, PoolEntriesTogetherHoldAtMost65536Addresses) {
  EXPECT_EQ(errorOf(withPools("    - { name: lan, addresses: [10.1.0.0/16, 10.2.0.0] }\n")),
            "t.yaml:11:45: virtual_ips.pools[0].addresses[1]: pool \"lan\" would hold more than 65536 "
            "addresses, the most a pool may hold");
}

TEST_F(VirtualIpsTest, AllPoolsHoldAtMost100000Addresses) {
  EXPECT_EQ(errorOf(withPools("    - { name: a, addresses: [10.1.0.0/16] }\n"
                              "    - { name: b, addresses: [10.2.0.0/16] }\n")),
            "t.yaml:12:30: virtual_ips.pools[1].addresses[0]: all pools together would hold more than 100000 "
            "addresses, the most pier announces");
}

TEST_F(VirtualIpsTest, AddressBelongsToOnePoolOnly) {
  EXPECT_EQ(errorOf(withPools("    - { name: a, addresses: [192.0.2.0/30] }\n"
                              "    - { name: b, addresses: [192.0.2.5, 192.0.2.2-192.0.2.9] }\n")),
            "t.yaml:12:41: virtual_ips.pools[1].addresses[1]: address 192.0.2.2 is already in pool \"a\" "
            "(virtual_ips.pools[0].addresses[0]); an address may belong to one pool only");
}

TEST_F(VirtualIpsTest, AddressListedTwiceInOnePool) {
  EXPECT_EQ(errorOf(withPools("    - { name: a, addresses: [192.0.2.0/30, 192.0.2.3] }\n")),
            "t.yaml:11:44: virtual_ips.pools[0].addresses[1]: address 192.0.2.3 is listed twice in this pool "
            "(also virtual_ips.pools[0].addresses[0])");
}

TEST_F(VirtualIpsTest, PoolInterfacesAreASubset) {
  EXPECT_EQ(errorOf(withPools("    - { name: a, addresses: [192.0.2.1], interfaces: [eth0, wlan0] }\n")),
            "t.yaml:11:61: virtual_ips.pools[0].interfaces[1]: interface \"wlan0\" is not one of "
            "virtual_ips.interfaces (eth0, eth1)");
}

TEST_F(VirtualIpsTest, PoolInterfacesMustNotBeEmpty) {
  EXPECT_EQ(errorOf(withPools("    - { name: a, addresses: [192.0.2.1], interfaces: [] }\n")),
            "t.yaml:11:54: virtual_ips.pools[0].interfaces: must not be empty");
}

// --- services ---

// A service list (from line 11 on) over one pool of four addresses.
std::string services(const std::string& list) { return "  services:\n" + list; }

TEST_F(VirtualIpsTest, ServiceNeedsAName) {
  EXPECT_EQ(errorOf(minimal(services("    - { pool: lan, ports: [{ port: 80 }] }\n"))),
            "t.yaml:12:7: virtual_ips.services[0].name: required field is missing");
}

TEST_F(VirtualIpsTest, ServiceNamesAreUnique) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 80 }] }\n"
                                     "    - { name: web, pool: lan, ports: [{ port: 81 }] }\n"))),
            "t.yaml:13:15: virtual_ips.services[1].name: duplicate service name \"web\" (also "
            "virtual_ips.services[0])");
}

TEST_F(VirtualIpsTest, ServiceNeedsPoolOrAddress) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, ports: [{ port: 80 }] }\n"))),
            "t.yaml:12:7: virtual_ips.services[0]: needs pool (take a free address from it) or address (use "
            "this one)");
}

TEST_F(VirtualIpsTest, ServiceTakesPoolOrAddressNotBoth) {
  EXPECT_EQ(
      errorOf(
          minimal(services("    - { name: web, pool: lan, address: 192.0.2.10, ports: [{ port: 80 }] }\n"))),
      "t.yaml:12:40: virtual_ips.services[0].address: conflicts with \"pool\": a service takes an address "
      "from a pool or names one, not both");
}

TEST_F(VirtualIpsTest, ServicePoolMustExist) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, pool: lab, ports: [{ port: 80 }] }\n"))),
            "t.yaml:12:26: virtual_ips.services[0].pool: unknown pool \"lab\"; did you mean \"lan\"?");
}

TEST_F(VirtualIpsTest, ServiceAddressMustBeInAPool) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, address: 192.0.2.12, ports: [{ port: 80 }] }\n"))),
            "t.yaml:12:29: virtual_ips.services[0].address: 192.0.2.12 is not in any pool; add it to one of "
            "virtual_ips.pools");
}

TEST_F(VirtualIpsTest, ServiceAddressIsAnIpAddress) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: web, address: 192.0.2.10/32, ports: [{ port: 80 }] }\n"))),
      "t.yaml:12:29: virtual_ips.services[0].address: \"192.0.2.10/32\" is not an IP address");
}

TEST_F(VirtualIpsTest, ExplicitAddressesFirstThenPoolServicesInNameOrder) {
  VirtualIps v = load(withPools("    - { name: lan, addresses: [192.0.2.10-192.0.2.13] }\n" + services(R"(
    - { name: zeta, pool: lan, ports: [{ port: 80 }] }
    - { name: alpha, pool: lan, ports: [{ port: 80 }] }
    - { name: pinned, address: 192.0.2.10, ports: [{ port: 80 }] }
    - { name: shared, address: 192.0.2.10, ports: [{ port: 443 }] }
)")));
  ASSERT_EQ(v.services.size(), 4u);
  EXPECT_EQ(v.services[0].assigned, "192.0.2.12");  // zeta: after alpha
  EXPECT_EQ(v.services[1].assigned, "192.0.2.11");  // alpha: .10 is pinned
  EXPECT_EQ(v.services[2].assigned, "192.0.2.10");
  EXPECT_EQ(v.services[3].assigned, "192.0.2.10");  // shared only by naming it
}

TEST_F(VirtualIpsTest, ExhaustedPoolNamesTheService) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: a, pool: lan, ports: [{ port: 80 }] }\n"
                                     "    - { name: b, pool: lan, ports: [{ port: 80 }] }\n"
                                     "    - { name: c, pool: lan, ports: [{ port: 80 }] }\n"))),
            "t.yaml:14:24: virtual_ips.services[2].pool: pool \"lan\" has no free address left for service "
            "\"c\": its 2 addresses are all taken by other services");
}

TEST_F(VirtualIpsTest, ServicesSharingAnAddressUseDifferentPorts) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, address: 192.0.2.10, ports: [{ port: 80 }] }\n"
                                     "    - { name: api, address: 192.0.2.10, ports: [{ port: 80 }] }\n"))),
            "t.yaml:13:49: virtual_ips.services[1].ports[0]: service \"api\" and service \"web\" "
            "(virtual_ips.services[0]) both serve 80/tcp on 192.0.2.10; services sharing an address need "
            "different ports");
}

TEST_F(VirtualIpsTest, SharedAddressMayRepeatAPortWithTheOtherProtocol) {
  VirtualIps v = load(
      minimal(services("    - { name: web, address: 192.0.2.10, ports: [{ port: 53 }] }\n"
                       "    - { name: dns, address: 192.0.2.10, ports: [{ port: 53, protocol: udp }] }\n")));
  EXPECT_EQ(v.services.size(), 2u);
}

TEST_F(VirtualIpsTest, ServicePortListedTwice) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 80 }, { port: 80 }] }\n"))),
      "t.yaml:12:53: virtual_ips.services[0].ports[1]: port 80/tcp is listed twice (also "
      "virtual_ips.services[0].ports[0])");
}

TEST_F(VirtualIpsTest, ServiceNeedsPorts) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, pool: lan }\n"))),
            "t.yaml:12:7: virtual_ips.services[0].ports: required field is missing");
}

TEST_F(VirtualIpsTest, ServicePortsMustNotBeEmpty) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, pool: lan, ports: [] }\n"))),
            "t.yaml:12:38: virtual_ips.services[0].ports: must not be empty");
}

TEST_F(VirtualIpsTest, PortIsBetween1And65535) {
  EXPECT_EQ(errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 0 }] }\n"))),
            "t.yaml:12:47: virtual_ips.services[0].ports[0].port: must be between 1 and 65535, got 0");
}

TEST_F(VirtualIpsTest, PortProtocolIsTcpOrUdp) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 80, protocol: http }] }\n"))),
      "t.yaml:12:61: virtual_ips.services[0].ports[0].protocol: must be one of tcp, udp; got \"http\"");
}

TEST_F(VirtualIpsTest, PortListenerMustExist) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 80, listener: webb }] }\n"))),
      "t.yaml:12:61: virtual_ips.services[0].ports[0].listener: unknown listener \"webb\"; did you mean "
      "\"web\"?");
}

TEST_F(VirtualIpsTest, PortListenerListensOnThatPort) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 8080, listener: web }] }\n"))),
      "t.yaml:12:63: virtual_ips.services[0].ports[0].listener: listener \"web\" listens on 0.0.0.0:80, "
      "not on port 8080");
}

TEST_F(VirtualIpsTest, UdpPortNeedsAUdpListener) {
  EXPECT_EQ(
      errorOf(minimal(
          services("    - { name: web, pool: lan, ports: [{ port: 80, protocol: udp, listener: web }] }\n"))),
      "t.yaml:12:76: virtual_ips.services[0].ports[0].listener: listener \"web\" is an http listener, so "
      "it cannot serve 80/udp");
}

TEST_F(VirtualIpsTest, TcpPortNeedsAnHttpOrTcpListener) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: dns, pool: lan, ports: [{ port: 53, listener: dns }] }\n"))),
      "t.yaml:12:61: virtual_ips.services[0].ports[0].listener: listener \"dns\" is a udp listener, so it "
      "cannot serve 53/tcp");
}

TEST_F(VirtualIpsTest, PortListenerListensOnTheServiceAddress) {
  EXPECT_EQ(
      errorOf(
          minimal(services("    - { name: web, pool: lan, ports: [{ port: 8080, listener: local }] }\n"))),
      "t.yaml:12:63: virtual_ips.services[0].ports[0].listener: listener \"local\" listens on "
      "127.0.0.1:8080, "
      "which does not receive traffic for 192.0.2.10; it must listen on 192.0.2.10:8080 or 0.0.0.0:8080");
}

TEST_F(VirtualIpsTest, WildcardListenerMustBeOfTheServiceFamily) {
  EXPECT_EQ(
      errorOf(withPools("    - { name: v6, addresses: [\"2001:db8::10\"] }\n" +
                        services("    - { name: web, pool: v6, ports: [{ port: 80, listener: web }] }\n"))),
      "t.yaml:13:60: virtual_ips.services[0].ports[0].listener: listener \"web\" listens on 0.0.0.0:80, "
      "which does not receive traffic for 2001:db8::10; it must listen on [2001:db8::10]:80 or [::]:80");
}

TEST_F(VirtualIpsTest, ListenerOnTheVirtualIpItselfServesIt) {
  std::string text = R"(listeners:
  - { name: vip, address: "[2001:db8::10]:443", protocol: tcp, cluster: app }
clusters:
  - { name: app, endpoints: [127.0.0.1:18081] }
virtual_ips:
  key_file: )" + key_ +
                     R"(
  interfaces: [eth0]
  pools: [{ name: v6, addresses: ["2001:db8::10"] }]
  services: [{ name: tls, pool: v6, ports: [{ port: 443, listener: vip }] }]
)";
  EXPECT_EQ(load(text).services[0].ports[0].listener, "vip");
}

TEST_F(VirtualIpsTest, ServiceClustersMustExist) {
  EXPECT_EQ(
      errorOf(minimal(services("    - { name: web, pool: lan, ports: [{ port: 80 }], clusters: [ap] }\n"))),
      "t.yaml:12:65: virtual_ips.services[0].clusters[0]: unknown cluster \"ap\"; did you mean \"app\"?");
}

TEST_F(VirtualIpsTest, ServiceClusterListedTwice) {
  EXPECT_EQ(errorOf(minimal(
                services("    - { name: web, pool: lan, ports: [{ port: 80 }], clusters: [app, app] }\n"))),
            "t.yaml:12:70: virtual_ips.services[0].clusters[1]: cluster \"app\" is listed twice (also "
            "virtual_ips.services[0].clusters[0])");
}

TEST_F(VirtualIpsTest, BrokenListenersHideNoUnknownListenerErrors) {
  // The listener's name is wrong, so a service naming it is not reported again.
  std::string text = R"(listeners:
  - { name: "", address: 0.0.0.0:80, routes: [{ match: { prefix: / }, cluster: app }] }
clusters:
  - { name: app, endpoints: [127.0.0.1:18081] }
virtual_ips:
  key_file: )" + key_ +
                     R"(
  interfaces: [eth0]
  pools: [{ name: lan, addresses: [192.0.2.10] }]
  services: [{ name: web, pool: lan, ports: [{ port: 80, listener: web }] }]
)";
  EXPECT_EQ(errorOf(text), "t.yaml:2:13: listeners[0].name: invalid name \"\": must not be empty");
}

// --- the address arithmetic itself ---

TEST(IpRangeTest, CoverOfAWholeFamilyIsOneBlock) {
  auto v4 = parseIpSpan("0.0.0.0-255.255.255.255");
  ASSERT_TRUE(v4.ok());
  auto blocks = coverSpan(*v4);
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(formatBlock(blocks[0]), "0.0.0.0/0");
  auto v6 = parseIpSpan("::/0");
  ASSERT_TRUE(v6.ok());
  blocks = coverSpan(*v6);
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(formatBlock(blocks[0]), "::/0");
}

TEST(IpRangeTest, CoverReachesTheLastAddressOfTheFamily) {
  auto span = parseIpSpan("255.255.255.253-255.255.255.255");
  ASSERT_TRUE(span.ok());
  std::vector<std::string> texts;
  for (const IpBlock& b : coverSpan(*span)) texts.push_back(formatBlock(b));
  EXPECT_THAT(texts, ElementsAre("255.255.255.253/32", "255.255.255.254/31"));
}

TEST(IpRangeTest, CoverCrossesThe64BitBoundaryOfIpv6) {
  auto span = parseIpSpan("2001:db8::ffff:ffff:ffff:fffe-2001:db8:0:1::1");
  ASSERT_TRUE(span.ok());
  std::vector<std::string> texts;
  for (const IpBlock& b : coverSpan(*span)) texts.push_back(formatBlock(b));
  EXPECT_THAT(texts, ElementsAre("2001:db8::ffff:ffff:ffff:fffe/127", "2001:db8:0:1::/127"));
  EXPECT_EQ(static_cast<uint64_t>(span->sizeMinusOne()), 3u);
}

TEST(IpRangeTest, CoverIsExactAndMinimalForEveryRangeInASmallBlock) {
  // Every range inside 10.0.0.0/28: the blocks tile it exactly, in order,
  // and their number is the known minimum (each block is as large as its
  // alignment and the remaining length allow).
  for (uint32_t first = 0; first < 16; ++first) {
    for (uint32_t last = first; last < 16; ++last) {
      IpSpan span{{false, 0x0a000000u + first}, {false, 0x0a000000u + last}};
      uint32_t next = first;
      size_t expected = 0;
      for (uint32_t at = first; at <= last;) {
        uint32_t size = 1;
        while ((at % (size * 2)) == 0 && at + size * 2 - 1 <= last) size *= 2;
        at += size;
        ++expected;
      }
      auto blocks = coverSpan(span);
      EXPECT_EQ(blocks.size(), expected) << first << "-" << last;
      for (const IpBlock& b : blocks) {
        EXPECT_EQ(static_cast<uint32_t>(b.first.value) - 0x0a000000u, next);
        next += 1u << (32 - b.prefix);
      }
      EXPECT_EQ(next, last + 1) << first << "-" << last;
    }
  }
}

// --- JSON ---

TEST_F(VirtualIpsTest, JsonShowsTheSectionAndLoadsBack) {
  auto config = loadString(yaml(R"(  node_name: node-a
  key_file: KEY
  interfaces: [eth0]
  heartbeat: { group: "", peers: [10.0.0.2] }
  pools:
    - { name: lan, addresses: [192.0.2.1-192.0.2.6, "2001:db8::1"], interfaces: [eth0] }
  services:
    - { name: web, pool: lan, ports: [{ port: 80, listener: web }, { port: 53, protocol: udp }] }
    - { name: api, address: 192.0.2.1, ports: [{ port: 8443 }], clusters: [app] }
)"),
                           "t.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  nlohmann::json j = toJson(*config)["virtual_ips"];
  EXPECT_EQ(j["node_name"], "node-a");
  EXPECT_EQ(j["heartbeat"]["interval"], "100ms");
  EXPECT_EQ(j["heartbeat"]["group"], "");
  EXPECT_EQ(j["announce"]["spacing"], "1100ms");
  EXPECT_EQ(j["pools"][0]["addresses"], (nlohmann::json{"192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31",
                                                        "192.0.2.6/32", "2001:db8::1/128"}));
  EXPECT_EQ(j["services"][0]["pool"], "lan");
  EXPECT_FALSE(j["services"][0].contains("address"));
  EXPECT_EQ(j["services"][0]["ports"][1], (nlohmann::json{{"port", 53}, {"protocol", "udp"}}));
  EXPECT_EQ(j["services"][1]["address"], "192.0.2.1");

  nlohmann::json whole = toJson(*config);
  auto again = loadString(whole.dump(2), "dump.json");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(toJson(*again), whole);
  EXPECT_EQ(again->virtual_ips.pools[0].addresses, config->virtual_ips.pools[0].addresses);
  EXPECT_EQ(again->virtual_ips.services[0].assigned, "192.0.2.2");
}

TEST_F(VirtualIpsTest, JsonLeavesOutAnAbsentSection) {
  auto config = loadString(kBase, "t.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(toJson(*config).contains("virtual_ips"));
}

}  // namespace
}  // namespace pier::config
