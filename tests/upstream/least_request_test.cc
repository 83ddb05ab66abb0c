#include <gtest/gtest.h>

#include "src/upstream/load_balancer.h"
#include "tests/upstream/lb_test_util.h"

namespace pier::upstream {
namespace {

using testing::avoiding;
using testing::countPicks;
using testing::equalHosts;
using testing::makeHosts;

std::unique_ptr<LoadBalancer> leastRequest(const std::vector<Host>& hosts, uint64_t seed = 1) {
  return makeLoadBalancer(config::LbPolicy::kLeastRequest, hosts, seed);
}

TEST(LeastRequest, OfTwoHostsPicksTheLessLoaded) {
  auto hosts = equalHosts(2);
  hosts[0].active_requests = 3;
  auto lb = leastRequest(hosts);
  auto counts = countPicks(*lb, 100);
  EXPECT_EQ(counts[1], 100);
}

TEST(LeastRequest, PrefersLessLoadedHosts) {
  // Loads 0..9: with two random distinct candidates, the k-th lightest wins
  // with probability 2(n-1-k)/(n(n-1)); the heaviest never wins.
  auto hosts = equalHosts(10);
  for (size_t i = 0; i < hosts.size(); ++i) hosts[i].active_requests = static_cast<uint32_t>(i);
  auto lb = leastRequest(hosts);
  auto counts = countPicks(*lb, 9000);
  EXPECT_NEAR(counts[0], 1800, 200);  // 20%
  EXPECT_NEAR(counts[5], 800, 150);   // 8.9%
  EXPECT_EQ(counts[9], 0);
  EXPECT_GT(counts[0], counts[3]);
  EXPECT_GT(counts[3], counts[6]);
}

TEST(LeastRequest, EqualLoadSpreadsEvenly) {
  auto hosts = equalHosts(4);
  auto lb = leastRequest(hosts);
  auto counts = countPicks(*lb, 8000);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i], 2000, 200) << i;
}

TEST(LeastRequest, WeightDividesLoad) {
  // Host 0: (3+1)/4 = 1; host 1: (1+1)/1 = 2. Host 0 is less loaded.
  auto hosts = makeHosts({4, 1});
  hosts[0].active_requests = 3;
  hosts[1].active_requests = 1;
  auto lb = leastRequest(hosts);
  EXPECT_EQ(countPicks(*lb, 50)[0], 50);
}

TEST(LeastRequest, LoadIsReadAtPickTime) {
  auto hosts = equalHosts(2);
  auto lb = leastRequest(hosts);
  hosts[0].active_requests = 5;
  EXPECT_EQ(lb->pick({}), 1);
  hosts[1].active_requests = 10;
  EXPECT_EQ(lb->pick({}), 0);
}

TEST(LeastRequest, SkipsUnhealthy) {
  auto hosts = equalHosts(5);
  hosts[0].healthy = false;
  hosts[2].healthy = false;
  auto lb = leastRequest(hosts);
  auto counts = countPicks(*lb, 1000);
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[2], 0);
  EXPECT_EQ(counts[1] + counts[3] + counts[4], 1000);
}

TEST(LeastRequest, FindsTheOnlyHealthyHostAmongMany) {
  auto hosts = equalHosts(50);
  for (Host& host : hosts) host.healthy = false;
  hosts[37].healthy = true;
  auto lb = leastRequest(hosts);
  EXPECT_EQ(countPicks(*lb, 20)[37], 20);
}

TEST(LeastRequest, AllUnhealthyGivesMinusOne) {
  auto hosts = equalHosts(3);
  for (Host& host : hosts) host.healthy = false;
  EXPECT_EQ(leastRequest(hosts)->pick({}), -1);
}

TEST(LeastRequest, AvoidsHostWhenAnotherIsHealthy) {
  auto hosts = equalHosts(3);
  hosts[1].active_requests = 100;
  auto lb = leastRequest(hosts);
  auto counts = countPicks(*lb, 300, avoiding(0));
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[2], 300);  // 1 is loaded, 0 avoided
}

TEST(LeastRequest, AvoidedHostIsUsedWhenItIsTheOnlyHealthyOne) {
  auto hosts = equalHosts(2);
  hosts[1].healthy = false;
  EXPECT_EQ(leastRequest(hosts)->pick(avoiding(0)), 0);
}

TEST(LeastRequest, SameSeedSameChoices) {
  auto hosts = equalHosts(8);
  auto a = leastRequest(hosts, 42);
  auto b = leastRequest(hosts, 42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a->pick({}), b->pick({}));
}

}  // namespace
}  // namespace pier::upstream
