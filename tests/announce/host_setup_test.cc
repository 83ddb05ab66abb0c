#include "src/announce/host_setup.h"

#include <gtest/gtest.h>

#include "tests/announce/fakes.h"

namespace pier::announce::testing {
namespace {

class HostSetupTest : public ::testing::Test {
 protected:
  HostSetupTest() {
    host_.setSysctlValue("net/ipv4/conf/eth0/arp_ignore", "0");
    host_.setSysctlValue("net/ipv4/conf/eth0/arp_announce", "0");
    host_.setSysctlValue("net/ipv4/conf/eth1/arp_ignore", "2");
  }
  FakeHost host_;
  HostSetup setup_{host_};
};

TEST_F(HostSetupTest, AddsLocalRoutesForThePools) {
  ASSERT_TRUE(setup_.apply({"192.0.2.0/28", "2001:db8::/124"}, {"eth0"}).ok());
  EXPECT_EQ(host_.routes(), (std::set<std::string>{"192.0.2.0/28", "2001:db8::/124"}));
}

TEST_F(HostSetupTest, StopsTheKernelAnsweringArpForTheAddresses) {
  ASSERT_TRUE(setup_.apply({}, {"eth0"}).ok());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "1");
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_announce"), "2");
}

TEST_F(HostSetupTest, RestoreUndoesEverything) {
  ASSERT_TRUE(setup_.apply({"192.0.2.0/28"}, {"eth0", "eth1"}).ok());
  setup_.restore();
  EXPECT_TRUE(host_.routes().empty());
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_announce"), "0");
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth1/arp_ignore"), "2");
}

TEST_F(HostSetupTest, ApplyAgainUndoesWhatIsNoLongerWanted) {
  ASSERT_TRUE(setup_.apply({"192.0.2.0/28", "198.51.100.0/30"}, {"eth0", "eth1"}).ok());
  ASSERT_TRUE(setup_.apply({"198.51.100.0/30"}, {"eth1"}).ok());
  EXPECT_EQ(host_.routes(), std::set<std::string>{"198.51.100.0/30"});
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth1/arp_ignore"), "1");
}

TEST_F(HostSetupTest, ReapplyingKeepsTheOriginalValuesToRestore) {
  ASSERT_TRUE(setup_.apply({}, {"eth0"}).ok());
  ASSERT_TRUE(setup_.apply({}, {"eth0"}).ok());
  setup_.restore();
  EXPECT_EQ(host_.sysctl("net/ipv4/conf/eth0/arp_ignore"), "0");
}

TEST_F(HostSetupTest, RouteFailureIsReportedAndRestorable) {
  host_.failRoute("198.51.100.0/30");
  Status s = setup_.apply({"192.0.2.0/28", "198.51.100.0/30"}, {"eth0"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("198.51.100.0/30"), std::string::npos);
  setup_.restore();
  EXPECT_TRUE(host_.routes().empty());
}

}  // namespace
}  // namespace pier::announce::testing
