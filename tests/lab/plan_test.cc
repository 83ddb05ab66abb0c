// The lab's naming and addressing plan: names stay in the pier-lab- prefix,
// addresses and MACs follow the documented scheme, and MACs and pod labels
// map back to their node.
#include "src/lab/plan.h"

#include <set>

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

LabOptions valid() {
  LabOptions o;
  o.binary = "/usr/bin/pier";
  return o;
}

TEST(LabPlanTest, EveryNamespaceCarriesThePrefix) {
  LabOptions o = valid();
  std::set<std::string> names = {clientNs(), switchNs()};
  for (const auto& p : labProcesses(o)) names.insert(p.ns);
  for (const auto& n : names) EXPECT_TRUE(isLabNs(n)) << n;
  EXPECT_EQ(names.size(), 2u + 3u + 6u);  // unique
}

TEST(LabPlanTest, PrefixAloneOrForeignNamesAreNotLabNamespaces) {
  EXPECT_FALSE(isLabNs("pier-lab-"));
  EXPECT_FALSE(isLabNs("cni-1234"));
  EXPECT_FALSE(isLabNs("xpier-lab-node1"));
  EXPECT_TRUE(isLabNs("pier-lab-node1-pod2"));
}

TEST(LabPlanTest, NodeAddressesFollowTheScheme) {
  EXPECT_EQ(nodeIpv4(2), "10.77.0.12");
  EXPECT_EQ(nodeIpv6(3), "fd77::13");
  EXPECT_EQ(cniGateway(2), "10.78.2.1");
  EXPECT_EQ(podIpv4(2, 1), "10.78.2.2");
  EXPECT_EQ(podIpv4(2, 2), "10.78.2.3");
  EXPECT_EQ(clientIpv4(), "10.77.0.1");
}

TEST(LabPlanTest, NodeMacMapsBackToItsNodeInAnySpelling) {
  for (int n = kMinNodes; n <= kMaxNodes; ++n) EXPECT_EQ(nodeOfMac(nodeMac(n)), n);
  EXPECT_EQ(nodeOfMac("02:77:00:00:00:12"), 2);
  EXPECT_EQ(nodeOfMac("02-77-00-00-00-13"), 3);
  EXPECT_EQ(nodeOfMac("02:77:00:00:00:1A"), std::nullopt);
  EXPECT_EQ(nodeOfMac(clientMac()), std::nullopt);
  EXPECT_EQ(nodeOfMac(""), std::nullopt);
}

TEST(LabPlanTest, MacsAreLocallyAdministeredUnicast) {
  // First octet 0x02: the locally administered bit set, the group bit clear.
  EXPECT_EQ(nodeMac(1).substr(0, 3), "02:");
  EXPECT_EQ(clientMac().substr(0, 3), "02:");
}

TEST(LabPlanTest, PodLabelNamesItsNode) {
  EXPECT_EQ(podLabel(2, 1), "node2-pod1");
  EXPECT_EQ(nodeOfLabel("node2-pod1"), 2);
  EXPECT_EQ(nodeOfLabel("pod node3-pod2\n"), 3);
  EXPECT_EQ(nodeOfLabel("node12-pod1"), std::nullopt);
  EXPECT_EQ(nodeOfLabel("hello"), std::nullopt);
  EXPECT_EQ(nodeOfLabel("node"), std::nullopt);
}

TEST(LabPlanTest, ProcessesListPodsBeforeNodes) {
  LabOptions o = valid();
  o.nodes = 2;
  auto ps = labProcesses(o);
  ASSERT_EQ(ps.size(), 6u);
  for (size_t i = 0; i < 4; ++i) EXPECT_FALSE(ps[i].node) << ps[i].name;
  EXPECT_EQ(ps[4].name, "node1");
  EXPECT_EQ(ps[4].ns, "pier-lab-node1");
  EXPECT_EQ(ps[0].ns, "pier-lab-node1-pod1");
}

TEST(LabPlanTest, FilesLiveInTheRunDirectory) {
  EXPECT_EQ(keyPath(), "/run/pier-lab/cluster.key");
  EXPECT_EQ(runPath("node1.pid"), "/run/pier-lab/node1.pid");
}

TEST(LabPlanTest, ValidateRejectsOutOfRangeOptions) {
  EXPECT_EQ(validate(valid()), "");
  LabOptions o = valid();
  o.nodes = 0;
  EXPECT_NE(validate(o), "");
  o = valid();
  o.nodes = 10;
  EXPECT_NE(validate(o), "");
  o = valid();
  o.binary = "pier";
  EXPECT_NE(validate(o), "");
  o = valid();
  o.heartbeat = std::chrono::milliseconds(0);
  EXPECT_NE(validate(o), "");
}

}  // namespace
}  // namespace pier::lab
