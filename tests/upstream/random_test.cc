#include <gtest/gtest.h>

#include "src/upstream/load_balancer.h"
#include "tests/upstream/lb_test_util.h"

namespace pier::upstream {
namespace {

using testing::avoiding;
using testing::countPicks;
using testing::equalHosts;
using testing::makeHosts;

std::unique_ptr<LoadBalancer> random(const std::vector<Host>& hosts, uint64_t seed = 7) {
  return makeLoadBalancer(config::LbPolicy::kRandom, hosts, seed);
}

TEST(Random, FollowsWeights) {
  auto hosts = makeHosts({1, 2, 7});
  auto lb = random(hosts);
  auto counts = countPicks(*lb, 100000);
  EXPECT_NEAR(counts[0], 10000, 600);
  EXPECT_NEAR(counts[1], 20000, 800);
  EXPECT_NEAR(counts[2], 70000, 1000);
}

TEST(Random, FollowsWeightsAmongHealthyHosts) {
  auto hosts = makeHosts({1, 5, 3});
  hosts[1].healthy = false;
  auto lb = random(hosts);
  auto counts = countPicks(*lb, 40000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0], 10000, 600);
  EXPECT_NEAR(counts[2], 30000, 600);
}

TEST(Random, FindsTheOnlyHealthyHostAmongMany) {
  auto hosts = equalHosts(100);
  for (Host& host : hosts) host.healthy = false;
  hosts[63].healthy = true;
  auto lb = random(hosts);
  EXPECT_EQ(countPicks(*lb, 20)[63], 20);
}

TEST(Random, AllUnhealthyGivesMinusOne) {
  auto hosts = equalHosts(3);
  for (Host& host : hosts) host.healthy = false;
  EXPECT_EQ(random(hosts)->pick({}), -1);
}

TEST(Random, NoHostsGivesMinusOne) {
  std::vector<Host> hosts;
  EXPECT_EQ(random(hosts)->pick({}), -1);
}

TEST(Random, AvoidsHostWhenAnotherIsHealthy) {
  auto hosts = makeHosts({10, 1});
  auto lb = random(hosts);
  EXPECT_EQ(countPicks(*lb, 100, avoiding(0))[1], 100);
}

TEST(Random, AvoidedHostIsUsedWhenItIsTheOnlyHealthyOne) {
  auto hosts = equalHosts(2);
  hosts[1].healthy = false;
  EXPECT_EQ(random(hosts)->pick(avoiding(0)), 0);
}

TEST(Random, SameSeedSameChoicesDifferentSeedDifferentChoices) {
  auto hosts = equalHosts(16);
  auto a = random(hosts, 1);
  auto b = random(hosts, 1);
  auto c = random(hosts, 2);
  int same_as_c = 0;
  for (int i = 0; i < 100; ++i) {
    int pick = a->pick({});
    ASSERT_EQ(pick, b->pick({}));
    same_as_c += pick == c->pick({});
  }
  EXPECT_LT(same_as_c, 30);
}

}  // namespace
}  // namespace pier::upstream
