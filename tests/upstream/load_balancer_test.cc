#include "src/upstream/load_balancer.h"

#include <gtest/gtest.h>

#include "tests/upstream/lb_test_util.h"

namespace pier::upstream {
namespace {

using testing::makeHosts;

class EveryPolicy : public ::testing::TestWithParam<config::LbPolicy> {};

TEST_P(EveryPolicy, SingleHealthyHostIsAlwaysPicked) {
  auto hosts = makeHosts({1, 2, 3});
  hosts[0].healthy = false;
  hosts[2].healthy = false;
  auto lb = makeLoadBalancer(GetParam(), hosts, 3);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(lb->pick({}), 1);
    ASSERT_EQ(lb->pick(testing::hashed(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL)), 1);
  }
}

TEST_P(EveryPolicy, EmptyHostListGivesMinusOne) {
  std::vector<Host> hosts;
  auto lb = makeLoadBalancer(GetParam(), hosts, 3);
  EXPECT_EQ(lb->pick({}), -1);
  EXPECT_EQ(lb->pick(testing::hashed(5, 0)), -1);
}

TEST_P(EveryPolicy, OutOfRangeAvoidIsIgnored) {
  auto hosts = makeHosts({1});
  auto lb = makeLoadBalancer(GetParam(), hosts, 3);
  EXPECT_EQ(lb->pick(testing::avoiding(5)), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, EveryPolicy,
                         ::testing::Values(config::LbPolicy::kRoundRobin, config::LbPolicy::kLeastRequest,
                                           config::LbPolicy::kRandom, config::LbPolicy::kRingHash,
                                           config::LbPolicy::kMaglev),
                         [](const auto& info) {
                           switch (info.param) {
                             case config::LbPolicy::kRoundRobin:
                               return "RoundRobin";
                             case config::LbPolicy::kLeastRequest:
                               return "LeastRequest";
                             case config::LbPolicy::kRandom:
                               return "Random";
                             case config::LbPolicy::kRingHash:
                               return "RingHash";
                             case config::LbPolicy::kMaglev:
                               return "Maglev";
                           }
                           return "Unknown";
                         });

#ifndef NDEBUG
// The factory checks weights before choosing a policy, so one policy covers all.
TEST(LoadBalancerDeathTest, ZeroWeightIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto hosts = makeHosts({1, 0});
  EXPECT_DEATH(makeLoadBalancer(config::LbPolicy::kRoundRobin, hosts, 3), "zero weights");
}
#endif

}  // namespace
}  // namespace pier::upstream
