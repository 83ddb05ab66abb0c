// The lab's wiring, as data: every command runs inside a lab namespace (the
// host's own network is never touched), and each host is wired as planned.
#include "src/lab/topology.h"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

LabOptions options(int nodes) {
  LabOptions o;
  o.binary = "/usr/bin/pier";
  o.nodes = nodes;
  return o;
}

std::string joined(const Step& s) {
  std::string out;
  for (const auto& a : s.argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

bool anyStep(const std::vector<Step>& steps, const std::string& text) {
  return std::any_of(steps.begin(), steps.end(), [&](const Step& s) { return joined(s) == text; });
}

// Each step either creates the lab namespace it names, or runs inside one
// (ip -n NS ..., ip netns exec NS ...). Anything else would act on the host.
TEST(LabTopologyTest, EveryStepActsInsideALabNamespace) {
  for (const auto& s : setupSteps(options(3))) {
    ASSERT_GE(s.argv.size(), 4u) << joined(s);
    EXPECT_EQ(s.argv[0], "ip") << joined(s);
    EXPECT_TRUE(isLabNs(s.ns)) << joined(s);
    bool inside = (s.argv[1] == "-n" && s.argv[2] == s.ns) ||
                  (s.argv[1] == "netns" && s.argv[2] == "exec" && s.argv[3] == s.ns) ||
                  (s.argv[1] == "netns" && s.argv[2] == "add" && s.argv[3] == s.ns);
    EXPECT_TRUE(inside) << joined(s);
  }
}

TEST(LabTopologyTest, VethPeersAreCreatedDirectlyInALabNamespace) {
  for (const auto& s : setupSteps(options(2))) {
    auto peer = std::find(s.argv.begin(), s.argv.end(), "peer");
    if (peer == s.argv.end()) continue;
    auto netns = std::find(peer, s.argv.end(), "netns");
    ASSERT_NE(netns, s.argv.end()) << joined(s);
    ASSERT_NE(netns + 1, s.argv.end()) << joined(s);
    EXPECT_TRUE(isLabNs(*(netns + 1))) << joined(s);
  }
}

TEST(LabTopologyTest, NamespacesAreCreatedBeforeUse) {
  std::vector<std::string> created;
  for (const auto& s : setupSteps(options(3))) {
    if (s.argv[1] == "netns" && s.argv[2] == "add") {
      created.push_back(s.ns);
      continue;
    }
    EXPECT_NE(std::find(created.begin(), created.end(), s.ns), created.end()) << joined(s);
  }
  EXPECT_EQ(created.size(), 2u + 3u + 6u);
}

TEST(LabTopologyTest, NodesGetFixedMacAddressesAndForwarding) {
  auto steps = setupSteps(options(2));
  EXPECT_TRUE(
      anyStep(steps,
              "ip -n pier-lab-node2 link add eth0 address 02:77:00:00:00:12 type veth peer name node2 "
              "netns pier-lab-switch"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node2 addr add 10.77.0.12/24 dev eth0"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node2 addr add fd77::12/64 dev eth0 nodad"));
  EXPECT_TRUE(anyStep(steps, "ip netns exec pier-lab-node2 sysctl -q -w net.ipv4.ip_forward=1"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-switch link set node2 master br0 up"));
}

TEST(LabTopologyTest, PodsHangOffTheNodeBridgeWithADefaultRoute) {
  auto steps = setupSteps(options(1));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node1 link add cni0 type bridge"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node1 addr add 10.78.1.1/24 dev cni0"));
  EXPECT_TRUE(anyStep(
      steps, "ip -n pier-lab-node1-pod2 link add eth0 type veth peer name veth2 netns pier-lab-node1"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node1 link set veth2 master cni0 up"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node1-pod2 addr add 10.78.1.3/24 dev eth0"));
  EXPECT_TRUE(anyStep(steps, "ip -n pier-lab-node1-pod2 route add default via 10.78.1.1"));
}

TEST(LabTopologyTest, SwitchIsADumbBridge) {
  EXPECT_TRUE(anyStep(setupSteps(options(1)),
                      "ip -n pier-lab-switch link add br0 type bridge stp_state 0 mcast_snooping 0"));
}

TEST(LabTopologyTest, NoStepsBeyondTheRequestedNodeCount) {
  for (const auto& s : setupSteps(options(2))) EXPECT_EQ(s.ns.find("node3"), std::string::npos) << joined(s);
}

TEST(LabTopologyTest, TeardownDeletesOnlyLabNamespacesPodsFirst) {
  auto steps =
      teardownSteps({"cni-1", "pier-lab-client", "pier-lab-node1", "pier-lab-node1-pod1", "pier-lab-"});
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(joined(steps[0]), "ip netns del pier-lab-node1-pod1");
  for (const auto& s : steps) EXPECT_TRUE(isLabNs(s.ns));
}

}  // namespace
}  // namespace pier::lab
