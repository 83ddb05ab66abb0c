#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <unordered_set>
#include <vector>

#include "src/upstream/load_balancer.h"

namespace pier::upstream {
namespace {

TEST(HashKey, IsStableAcrossRunsAndBuilds) {
  // Pinned values: nodes must agree on key placement, so a change here is a
  // breaking change for every consistent-hashing deployment.
  EXPECT_EQ(hashKey(""), 15436002875099958032ull);
  EXPECT_EQ(hashKey("a"), 11845114693307466059ull);
  EXPECT_EQ(hashKey("session=3f2a9c"), 384508471188428110ull);
  EXPECT_EQ(hashKey("a fairly long key that spans several words"), 6880730246369996782ull);
}

TEST(HashKey, DistinguishesTrailingZeroBytes) {
  using namespace std::string_literals;
  EXPECT_NE(hashKey("ab"s), hashKey("ab\0"s));
  EXPECT_NE(hashKey(""s), hashKey("\0"s));
  EXPECT_NE(hashKey("12345678"s), hashKey("12345678\0"s));
}

TEST(HashKey, NoCollisionsOnSimilarKeys) {
  std::unordered_set<uint64_t> seen;
  for (int i = 0; i < 50000; ++i)
    seen.insert(hashKey("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
  EXPECT_EQ(seen.size(), 50000u);
}

TEST(HashKey, SpreadsEvenlyOverBuckets) {
  constexpr int kBuckets = 64;
  constexpr int kKeys = 64000;
  std::vector<int> counts(kBuckets);
  for (int i = 0; i < kKeys; ++i) ++counts[hashKey("key-" + std::to_string(i)) % kBuckets];
  for (int count : counts) EXPECT_NEAR(count, kKeys / kBuckets, 150);
}

TEST(HashKey, OneBitChangeFlipsAboutHalfTheOutput) {
  std::string key = "user-12345-session";
  int total = 0, samples = 0;
  for (size_t byte = 0; byte < key.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = key;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      int changed = std::popcount(hashKey(key) ^ hashKey(flipped));
      EXPECT_GE(changed, 12);
      total += changed;
      ++samples;
    }
  }
  EXPECT_NEAR(static_cast<double>(total) / samples, 32.0, 2.0);
}

}  // namespace
}  // namespace pier::upstream
