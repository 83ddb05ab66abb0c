#include "src/announce/plan.h"

#include <gtest/gtest.h>

#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

TEST(PlanTest, ServicesSharingAnAddressShareOneEntry) {
  auto cfg = vipConfig({"192.0.2.10"});
  config::VipService other;
  other.name = "another";
  other.address = "192.0.2.10";
  other.assigned = "192.0.2.10";
  cfg.services.push_back(other);
  auto plan = makePlan(cfg);
  ASSERT_TRUE(plan.ok()) << plan.error();
  ASSERT_EQ(plan->ips.size(), 1u);
  EXPECT_EQ(plan->ips[0].services, (std::vector<std::string>{"another", "svc-0"}));
}

TEST(PlanTest, EntriesAreSortedByAddressV4First) {
  auto plan = makePlan(vipConfig({"2001:db8::1", "192.0.2.20", "192.0.2.3"}));
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->ips.size(), 3u);
  EXPECT_EQ(plan->ips[0].text, "192.0.2.3");
  EXPECT_EQ(plan->ips[1].text, "192.0.2.20");
  EXPECT_EQ(plan->ips[2].text, "2001:db8::1");
}

TEST(PlanTest, AddressesTakeThePoolsInterfacesElseTheGlobalOnes) {
  auto cfg = vipConfig({"192.0.2.10"}, {"eth0", "eth1"});
  config::VipPool narrow;
  narrow.name = "narrow";
  narrow.addresses = {"198.51.100.1"};
  narrow.interfaces = {"eth2"};
  narrow.cidrs = {"198.51.100.0/30"};
  cfg.pools.push_back(narrow);
  config::VipService svc;
  svc.name = "narrow-svc";
  svc.pool = "narrow";
  svc.assigned = "198.51.100.1";
  cfg.services.push_back(svc);
  auto plan = makePlan(cfg);
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->ips[0].interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(plan->ips[1].pool, "narrow");
  EXPECT_EQ(plan->ips[1].interfaces, std::vector<std::string>{"eth2"});
  EXPECT_EQ(plan->interfaces, (std::vector<std::string>{"eth0", "eth1", "eth2"}));
  EXPECT_EQ(plan->cidrs, (std::vector<std::string>{"192.0.2.10/32", "198.51.100.0/30"}));
}

TEST(PlanTest, UnusedPoolAddressesAreNotAnnounced) {
  auto cfg = vipConfig({"192.0.2.10"});
  cfg.pools[0].addresses.push_back("192.0.2.11");
  auto plan = makePlan(cfg);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ips.size(), 1u);
}

TEST(PlanTest, ServiceWithoutAnAddressIsSkipped) {
  auto cfg = vipConfig({"192.0.2.10"});
  config::VipService pending;
  pending.name = "pending";
  pending.pool = "pool";
  cfg.services.push_back(pending);
  auto plan = makePlan(cfg);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ips.size(), 1u);
}

TEST(PlanTest, AddressInNoPoolIsAnError) {
  auto cfg = vipConfig({"192.0.2.10"});
  cfg.services[0].address = cfg.services[0].assigned = "203.0.113.5";
  auto plan = makePlan(cfg);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().find("203.0.113.5"), std::string::npos);
}

TEST(PlanTest, NonCanonicalServiceAddressIsCanonicalised) {
  auto cfg = vipConfig({"2001:db8::a"});
  cfg.services[0].assigned = "2001:DB8:0::A";
  auto plan = makePlan(cfg);
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->ips[0].text, "2001:db8::a");
}

}  // namespace
}  // namespace pier::announce::testing
