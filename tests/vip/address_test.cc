// MAC and IP address values: text round trips, rejection of malformed text,
// and the ordering maps and election rely on.
#include "src/vip/address.h"

#include <gtest/gtest.h>

#include "tests/vip/vip_test_support.h"

namespace pier::vip::testing {
namespace {

TEST(MacAddressTest, FormatsLowerCaseWithColons) {
  EXPECT_EQ(formatMac({0x02, 0xAB, 0x00, 0x10, 0xff, 0x01}), "02:ab:00:10:ff:01");
}

TEST(MacAddressTest, ParsesColonAndDashForms) {
  const MacAddress want{0x02, 0xab, 0x00, 0x10, 0xff, 0x01};
  EXPECT_EQ(parseMac("02:ab:00:10:FF:01"), want);
  EXPECT_EQ(parseMac("02-ab-00-10-ff-01"), want);
}

TEST(MacAddressTest, RejectsMalformedText) {
  for (std::string_view bad : {"", "02:ab:00:10:ff", "02:ab:00:10:ff:01:", "02:ab:00-10:ff:01",
                               "02:ab:00:10:ff:0g", "02ab0010ff01", "02:ab:00:10:ff:1 "}) {
    EXPECT_FALSE(parseMac(bad).has_value()) << bad;
  }
}

TEST(MacAddressTest, GroupBitMarksMulticastAndBroadcast) {
  EXPECT_TRUE(isGroupMac(kBroadcastMac));
  EXPECT_TRUE(isGroupMac({0x33, 0x33, 0, 0, 0, 1}));
  EXPECT_FALSE(isGroupMac({0x02, 0, 0, 0, 0, 1}));
}

TEST(IpAddressTest, ParsesIpv4) {
  auto a = IpAddress::parse("192.0.2.10");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV4());
  EXPECT_EQ(a->asV4(), (Ipv4Address{192, 0, 2, 10}));
  EXPECT_EQ(a->bytes().size(), 4u);
  EXPECT_EQ(a->toString(), "192.0.2.10");
}

TEST(IpAddressTest, ParsesIpv6AndPrintsCanonically) {
  auto a = IpAddress::parse("2001:DB8:0:0::10");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV6());
  EXPECT_EQ(a->bytes().size(), 16u);
  EXPECT_EQ(a->toString(), "2001:db8::10");
}

TEST(IpAddressTest, RejectsNonAddresses) {
  for (std::string_view bad : {"", "192.0.2", "192.0.2.256", "fe80::1%eth0", "[::1]", "10.0.0.0/8",
                               "2001:db8::1::2", "host.example", "192.0.2.1 "}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(IpAddressTest, OrdersIpv4BeforeIpv6ThenBytewise) {
  EXPECT_LT(ip("255.255.255.255"), ip("::"));
  EXPECT_LT(ip("192.0.2.9"), ip("192.0.2.10"));
  EXPECT_LT(ip("2001:db8::1"), ip("2001:db8::2"));
  EXPECT_NE(ip("0.0.0.0"), ip("::"));
}

}  // namespace
}  // namespace pier::vip::testing
