#include <gtest/gtest.h>

#include <string>

#include "src/upstream/load_balancer.h"
#include "tests/upstream/lb_test_util.h"

namespace pier::upstream {
namespace {

using testing::avoiding;
using testing::countPicks;
using testing::equalHosts;
using testing::makeHosts;

std::unique_ptr<LoadBalancer> roundRobin(const std::vector<Host>& hosts, uint64_t seed = 0) {
  return makeLoadBalancer(config::LbPolicy::kRoundRobin, hosts, seed);
}

std::string sequence(LoadBalancer& lb, int picks, const PickContext& context = {}) {
  std::string out;
  for (int i = 0; i < picks; ++i) {
    int pick = lb.pick(context);
    out += pick < 0 ? '-' : static_cast<char>('a' + pick);
  }
  return out;
}

TEST(RoundRobin, SmoothWeightedSequence) {
  auto hosts = makeHosts({5, 1, 1});
  auto lb = roundRobin(hosts);
  EXPECT_EQ(sequence(*lb, 14), "aabacaaaabacaa");
}

TEST(RoundRobin, EqualWeightsRotate) {
  auto hosts = equalHosts(3);
  auto lb = roundRobin(hosts);
  EXPECT_EQ(sequence(*lb, 6), "abcabc");
}

TEST(RoundRobin, SeedStaggersStartForEqualWeights) {
  auto hosts = equalHosts(3);
  auto lb = roundRobin(hosts, 4);
  EXPECT_EQ(sequence(*lb, 4), "bcab");
}

TEST(RoundRobin, SkipsUnhealthyWithEqualWeights) {
  auto hosts = equalHosts(3);
  hosts[1].healthy = false;
  auto lb = roundRobin(hosts);
  EXPECT_EQ(sequence(*lb, 4), "acac");
}

TEST(RoundRobin, SkipsUnhealthyWithWeights) {
  auto hosts = makeHosts({5, 1, 1});
  hosts[1].healthy = false;
  auto lb = roundRobin(hosts);
  auto counts = countPicks(*lb, 60);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0], 50);
  EXPECT_EQ(counts[2], 10);
}

TEST(RoundRobin, HealthIsReadAtPickTime) {
  auto hosts = equalHosts(2);
  auto lb = roundRobin(hosts);
  hosts[0].healthy = false;
  EXPECT_EQ(sequence(*lb, 2), "bb");
  hosts[0].healthy = true;
  hosts[1].healthy = false;
  EXPECT_EQ(sequence(*lb, 2), "aa");
}

TEST(RoundRobin, AllUnhealthyGivesMinusOne) {
  for (auto weights : {std::vector<uint32_t>{1, 1}, std::vector<uint32_t>{2, 1}}) {
    auto hosts = makeHosts(weights);
    for (Host& host : hosts) host.healthy = false;
    auto lb = roundRobin(hosts);
    EXPECT_EQ(lb->pick({}), -1);
  }
}

TEST(RoundRobin, NoHostsGivesMinusOne) {
  std::vector<Host> hosts;
  EXPECT_EQ(roundRobin(hosts)->pick({}), -1);
}

TEST(RoundRobin, AvoidsHostWhenAnotherIsHealthy) {
  for (auto weights : {std::vector<uint32_t>{1, 1, 1}, std::vector<uint32_t>{5, 1, 1}}) {
    auto hosts = makeHosts(weights);
    auto lb = roundRobin(hosts);
    auto counts = countPicks(*lb, 30, avoiding(0));
    EXPECT_EQ(counts[0], 0);
    EXPECT_EQ(counts[1] + counts[2], 30);
  }
}

TEST(RoundRobin, AvoidedHostIsUsedWhenItIsTheOnlyHealthyOne) {
  for (auto weights : {std::vector<uint32_t>{1, 1}, std::vector<uint32_t>{2, 1}}) {
    auto hosts = makeHosts(weights);
    hosts[1].healthy = false;
    auto lb = roundRobin(hosts);
    EXPECT_EQ(lb->pick(avoiding(0)), 0);
  }
}

}  // namespace
}  // namespace pier::upstream
