#include "src/announce/eligibility.h"

#include <gtest/gtest.h>

#include "src/announce/token_bucket.h"
#include "tests/announce/harness.h"

namespace pier::announce::testing {
namespace {

std::vector<vip::IpAddress> addresses(size_t n) {
  std::vector<vip::IpAddress> out;
  for (const auto& a : manyIps(n)) out.push_back(ip(a));
  return out;
}

TEST(AdvertisedListTest, EligibleForAllIsAnEmptyExceptList) {
  auto all = addresses(10);
  auto list = chooseAdvertisedList(all, std::vector<bool>(10, true), "a");
  EXPECT_TRUE(list.except_listed);
  EXPECT_TRUE(list.ips.empty());
}

TEST(AdvertisedListTest, EligibleForFewIsAPlainList) {
  auto all = addresses(10);
  std::vector<bool> eligible(10, false);
  eligible[3] = true;
  auto list = chooseAdvertisedList(all, eligible, "a");
  EXPECT_FALSE(list.except_listed);
  EXPECT_EQ(list.ips, std::vector<vip::IpAddress>{all[3]});
}

TEST(AdvertisedListTest, EqualLengthsPreferThePlainList) {
  auto all = addresses(2);
  auto list = chooseAdvertisedList(all, {true, false}, "a");
  EXPECT_FALSE(list.except_listed);
}

TEST(AdvertisedListTest, LongListsUseTheExceptFormWhenItFits) {
  auto all = addresses(10'000);
  std::vector<bool> eligible(all.size(), true);
  eligible[17] = false;
  auto list = chooseAdvertisedList(all, eligible, "a");
  EXPECT_TRUE(list.except_listed);
  EXPECT_EQ(list.ips, std::vector<vip::IpAddress>{all[17]});
  EXPECT_TRUE(list.dropped.empty());
}

TEST(AdvertisedListTest, WhenNeitherFitsTheListIsCutAndTheRestDropped) {
  auto all = addresses(2'000);
  std::vector<bool> eligible(all.size(), false);
  for (size_t i = 0; i < 1'000; ++i) eligible[i] = true;
  auto list = chooseAdvertisedList(all, eligible, "a");
  EXPECT_FALSE(list.except_listed);
  EXPECT_EQ(list.ips.size() * 4, heartbeatAddressRoom("a") / 4 * 4);
  EXPECT_EQ(list.ips.size() + list.dropped.size(), 1'000u);
}

TEST(AdvertisedListTest, EncodedListFitsOneHeartbeat) {
  auto all = addresses(2'000);
  std::vector<bool> eligible(all.size(), false);
  for (size_t i = 0; i < 1'000; ++i) eligible[i] = true;
  auto list = chooseAdvertisedList(all, eligible, "node-with-a-long-name.example");
  vip::Heartbeat hb;
  hb.node = "node-with-a-long-name.example";
  hb.ips = list.ips;
  EXPECT_TRUE(vip::encodeHeartbeat(hb, testKey()).ok());
}

TEST(EligibilityTest, ExceptListContainsEverythingNotListed) {
  vip::Heartbeat hb;
  hb.except_listed = true;
  hb.ips = {ip("192.0.2.2")};
  auto e = Eligibility::fromHeartbeat(hb);
  EXPECT_TRUE(e.contains(ip("192.0.2.1")));
  EXPECT_FALSE(e.contains(ip("192.0.2.2")));
}

TEST(EligibilityTest, PlainListContainsOnlyTheListed) {
  vip::Heartbeat hb;
  hb.ips = {ip("192.0.2.9"), ip("192.0.2.2")};
  auto e = Eligibility::fromHeartbeat(hb);
  EXPECT_TRUE(e.contains(ip("192.0.2.2")));
  EXPECT_TRUE(e.contains(ip("192.0.2.9")));
  EXPECT_FALSE(e.contains(ip("192.0.2.1")));
}

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket bucket(2, 4);  // 2 per ms, 4 at once
  const MonoTime t0{};
  EXPECT_TRUE(bucket.take(4, t0));
  EXPECT_FALSE(bucket.take(1, t0));
  const auto wait = bucket.readyAt(2, t0) - t0;
  EXPECT_GE(wait, std::chrono::nanoseconds(999'999));
  EXPECT_LE(wait, std::chrono::nanoseconds(1'000'002));
  EXPECT_TRUE(bucket.take(2, t0 + 1ms));
  EXPECT_FALSE(bucket.take(1, t0 + 1ms));
}

TEST(TokenBucketTest, MoreThanTheBurstTakesAFullBucket) {
  TokenBucket bucket(1, 4);
  EXPECT_TRUE(bucket.take(10, MonoTime{}));
  EXPECT_FALSE(bucket.take(1, MonoTime{}));
}

}  // namespace
}  // namespace pier::announce::testing
