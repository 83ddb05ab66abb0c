// Rendezvous election: the documented weight formula, determinism whatever
// the candidate order, the tie rule, and that membership changes move only
// the IPs they must.
#include "src/vip/election.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

std::vector<IpAddress> manyIps(int n) {
  std::vector<IpAddress> ips;
  for (int i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      ips.push_back(IpAddress::v4(
          {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}));
    } else {
      Ipv6Address a = v6("2001:db8::");
      a[14] = static_cast<uint8_t>(i >> 8);
      a[15] = static_cast<uint8_t>(i);
      ips.push_back(IpAddress::v6(a));
    }
  }
  return ips;
}

std::map<IpAddress, std::string> assign(const std::vector<IpAddress>& ips,
                                        const std::vector<std::string>& nodes) {
  std::map<IpAddress, std::string> owners;
  for (const IpAddress& ip : ips) {
    auto winner = electOwner(ip, nodes);
    if (winner) owners[ip] = nodes[*winner];
  }
  return owners;
}

TEST(ElectionTest, WeightFollowsTheDocumentedFormula) {
  // First 8 bytes of SHA-256("node-a" 00 04 c0 00 02 0a) etc., computed with Python's hashlib.
  EXPECT_EQ(rendezvousWeight("node-a", ip("192.0.2.10")), 0x4e37effaca4e56c4u);
  EXPECT_EQ(rendezvousWeight("node-b", ip("192.0.2.10")), 0x752287b9ea9bcde3u);
  EXPECT_EQ(rendezvousWeight("node-a", ip("2001:db8::10")), 0xc8e2a2066e73d49fu);
}

TEST(ElectionTest, FamilyIsPartOfTheWeight) {
  EXPECT_NE(rendezvousWeight("n", ip("0.0.0.1")), rendezvousWeight("n", ip("::1")));
}

TEST(ElectionTest, HighestWeightWins) {
  const std::vector<std::string> nodes{"node-a", "node-b"};
  EXPECT_EQ(electOwner(ip("192.0.2.10"), nodes), 1u);  // node-b's weight is higher, above
}

TEST(ElectionTest, NoCandidatesNoOwner) { EXPECT_FALSE(electOwner(ip("192.0.2.10"), {})); }

TEST(ElectionTest, SingleCandidateOwnsEverything) {
  const std::vector<std::string> nodes{"only"};
  for (const IpAddress& ip : manyIps(50)) EXPECT_EQ(electOwner(ip, nodes), 0u);
}

TEST(ElectionTest, CandidateOrderDoesNotMatter) {
  std::vector<std::string> nodes{"a", "b", "c", "d"};
  const auto ips = manyIps(200);
  const auto reference = assign(ips, nodes);
  std::sort(nodes.begin(), nodes.end());
  do {
    EXPECT_EQ(assign(ips, nodes), reference);
  } while (std::next_permutation(nodes.begin(), nodes.end()));
}

TEST(ElectionTest, DuplicateCandidatesChangeNothing) {
  const auto ips = manyIps(200);
  EXPECT_EQ(assign(ips, {"a", "b", "c"}), assign(ips, {"a", "b", "b", "c", "a"}));
}

TEST(ElectionTest, TiesGoToTheSmallestName) {
  const std::vector<WeightedNode> forward{{"b", 7}, {"a", 7}, {"c", 3}};
  const std::vector<WeightedNode> backward{{"c", 3}, {"a", 7}, {"b", 7}};
  EXPECT_EQ(forward[*pickHighest(forward)].node, "a");
  EXPECT_EQ(backward[*pickHighest(backward)].node, "a");
}

TEST(ElectionTest, SpreadsIpsOverNodes) {
  const std::vector<std::string> nodes{"node-1", "node-2", "node-3", "node-4"};
  std::map<std::string, int> counts;
  for (const auto& [ip, owner] : assign(manyIps(1000), nodes)) ++counts[owner];
  for (const auto& n : nodes) {
    EXPECT_GT(counts[n], 150) << n;
    EXPECT_LT(counts[n], 350) << n;
  }
}

TEST(ElectionTest, AddingANodeMovesOnlyWhatItWins) {
  const auto ips = manyIps(1000);
  const auto before = assign(ips, {"node-1", "node-2", "node-3", "node-4"});
  const auto after = assign(ips, {"node-1", "node-2", "node-3", "node-4", "node-5"});
  int moved = 0;
  for (const IpAddress& ip : ips) {
    if (before.at(ip) != after.at(ip)) {
      ++moved;
      EXPECT_EQ(after.at(ip), "node-5") << ip.toString();
    }
  }
  // About a fifth: the new node's fair share.
  EXPECT_GT(moved, 120);
  EXPECT_LT(moved, 280);
}

TEST(ElectionTest, RemovingANodeMovesOnlyWhatItOwned) {
  const auto ips = manyIps(1000);
  const auto before = assign(ips, {"node-1", "node-2", "node-3", "node-4"});
  const auto after = assign(ips, {"node-1", "node-2", "node-4"});
  for (const IpAddress& ip : ips) {
    if (before.at(ip) != "node-3") {
      EXPECT_EQ(after.at(ip), before.at(ip)) << ip.toString();
    } else {
      EXPECT_NE(after.at(ip), "node-3");
    }
  }
}

}  // namespace
}  // namespace pier::vip::testing
