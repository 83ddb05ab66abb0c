// Behaviour shared by the consistent-hashing policies (ring_hash, maglev).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "src/upstream/load_balancer.h"
#include "tests/upstream/lb_test_util.h"

namespace pier::upstream {
namespace {

using testing::countPicks;
using testing::equalHosts;
using testing::hashed;
using testing::makeHosts;

constexpr int kKeys = 20000;

uint64_t keyHash(int i) { return hashKey("user-" + std::to_string(i)); }

class ConsistentHash : public ::testing::TestWithParam<config::LbPolicy> {
 protected:
  std::unique_ptr<LoadBalancer> make(const std::vector<Host>& hosts, uint64_t seed = 1) {
    return makeLoadBalancer(GetParam(), hosts, seed);
  }
  // Where each of kKeys keys goes.
  std::vector<int> placement(LoadBalancer& lb) {
    std::vector<int> out(kKeys);
    for (int i = 0; i < kKeys; ++i) out[i] = lb.pick(hashed(keyHash(i)));
    return out;
  }
  // Allowed relative error of a host's share: the ring has ~100 points per
  // unit of weight, maglev's table is far finer.
  double tolerance() const { return GetParam() == config::LbPolicy::kRingHash ? 0.25 : 0.08; }
};

TEST_P(ConsistentHash, SameKeySameHost) {
  auto hosts = equalHosts(7);
  auto lb = make(hosts);
  for (int i = 0; i < 100; ++i) {
    int first = lb->pick(hashed(keyHash(i)));
    ASSERT_GE(first, 0);
    EXPECT_EQ(lb->pick(hashed(keyHash(i))), first);
  }
}

TEST_P(ConsistentHash, WorkersWithDifferentSeedsAgree) {
  auto hosts = equalHosts(7);
  auto a = make(hosts, 1);
  auto b = make(hosts, 999);
  EXPECT_EQ(placement(*a), placement(*b));
}

TEST_P(ConsistentHash, PlacementDependsOnAddressesNotListOrder) {
  auto hosts = equalHosts(5);
  std::vector<Host> reversed(hosts.rbegin(), hosts.rend());
  auto a = make(hosts);
  auto b = make(reversed);
  for (int i = 0; i < 2000; ++i) {
    int pa = a->pick(hashed(keyHash(i)));
    int pb = b->pick(hashed(keyHash(i)));
    ASSERT_EQ(hosts[pa].address.host, reversed[pb].address.host) << i;
  }
}

TEST_P(ConsistentHash, SharesFollowWeights) {
  std::vector<uint32_t> weights = {1, 2, 3, 4};
  auto hosts = makeHosts(weights);
  auto lb = make(hosts);
  std::vector<int> counts(hosts.size());
  for (int host : placement(*lb)) ++counts[host];
  for (size_t i = 0; i < hosts.size(); ++i) {
    double expected = kKeys * weights[i] / 10.0;
    EXPECT_NEAR(counts[i], expected, expected * tolerance()) << "host " << i;
  }
}

TEST_P(ConsistentHash, EqualHostsShareEvenly) {
  auto hosts = equalHosts(10);
  auto lb = make(hosts);
  std::vector<int> counts(hosts.size());
  for (int host : placement(*lb)) ++counts[host];
  for (size_t i = 0; i < hosts.size(); ++i) EXPECT_NEAR(counts[i], kKeys / 10, kKeys / 10 * tolerance()) << i;
}

TEST_P(ConsistentHash, UnhealthyHostMovesOnlyItsOwnKeys) {
  auto hosts = equalHosts(8);
  auto lb = make(hosts);
  std::vector<int> before = placement(*lb);
  hosts[3].healthy = false;
  std::vector<int> after = placement(*lb);
  int moved_elsewhere = 0;
  std::vector<int> receivers(hosts.size());
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] != 3) {
      moved_elsewhere += after[i] != before[i];
    } else {
      ASSERT_NE(after[i], 3);
      ++receivers[after[i]];
    }
  }
  EXPECT_EQ(moved_elsewhere, 0);
  // The lost host's keys spread out rather than all landing on one neighbour.
  EXPECT_GE(std::count_if(receivers.begin(), receivers.end(), [](int n) { return n > 0; }), 4);
}

TEST_P(ConsistentHash, HostComingBackGetsItsKeysBack) {
  auto hosts = equalHosts(4);
  auto lb = make(hosts);
  std::vector<int> before = placement(*lb);
  hosts[2].healthy = false;
  placement(*lb);
  hosts[2].healthy = true;
  EXPECT_EQ(placement(*lb), before);
}

TEST_P(ConsistentHash, AvoidGivesAnotherStableHost) {
  auto hosts = equalHosts(5);
  auto lb = make(hosts);
  for (int i = 0; i < 200; ++i) {
    int first = lb->pick(hashed(keyHash(i)));
    int retry = lb->pick(hashed(keyHash(i), first));
    ASSERT_NE(retry, first);
    ASSERT_GE(retry, 0);
    EXPECT_EQ(lb->pick(hashed(keyHash(i), first)), retry);
  }
}

TEST_P(ConsistentHash, AvoidedHostIsUsedWhenItIsTheOnlyHealthyOne) {
  auto hosts = equalHosts(3);
  hosts[0].healthy = false;
  hosts[2].healthy = false;
  auto lb = make(hosts);
  EXPECT_EQ(lb->pick(hashed(12345, 1)), 1);
}

TEST_P(ConsistentHash, FindsTheOnlyHealthyHostAmongMany) {
  auto hosts = equalHosts(40);
  for (Host& host : hosts) host.healthy = false;
  hosts[17].healthy = true;
  auto lb = make(hosts);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(lb->pick(hashed(keyHash(i))), 17);
}

TEST_P(ConsistentHash, AllUnhealthyGivesMinusOne) {
  auto hosts = equalHosts(4);
  for (Host& host : hosts) host.healthy = false;
  auto lb = make(hosts);
  EXPECT_EQ(lb->pick(hashed(1)), -1);
  EXPECT_EQ(lb->pick({}), -1);
}

TEST_P(ConsistentHash, NoHostsGivesMinusOne) {
  std::vector<Host> hosts;
  auto lb = make(hosts);
  EXPECT_EQ(lb->pick(hashed(1)), -1);
  EXPECT_EQ(lb->pick({}), -1);
}

TEST_P(ConsistentHash, WithoutHashFallsBackToWeightedRandom) {
  auto hosts = makeHosts({1, 3});
  auto lb = make(hosts);
  auto counts = countPicks(*lb, 20000);
  EXPECT_NEAR(counts[0], 5000, 400);
  EXPECT_NEAR(counts[1], 15000, 400);
}

INSTANTIATE_TEST_SUITE_P(Policies, ConsistentHash,
                         ::testing::Values(config::LbPolicy::kRingHash, config::LbPolicy::kMaglev),
                         [](const auto& info) {
                           return info.param == config::LbPolicy::kRingHash ? "RingHash" : "Maglev";
                         });

}  // namespace
}  // namespace pier::upstream
