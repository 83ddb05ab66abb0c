#include "src/common/hash.h"

#include <string>

#include <gtest/gtest.h>

namespace pier {
namespace {

TEST(HashBytes, SameBytesAndSeedGiveTheSameValue) {
  const std::string a = "the same key";
  const std::string b = "the same key";
  EXPECT_EQ(hashBytes(a, 7), hashBytes(b, 7));
}

TEST(HashBytes, SeedsGiveDifferentHashes) { EXPECT_NE(hashBytes("key", 1), hashBytes("key", 2)); }

TEST(HashBytes, TrailingZeroBytesAndLengthsMatter) {
  EXPECT_NE(hashBytes(std::string_view("ab"), 0), hashBytes(std::string_view("ab\0", 3), 0));
  EXPECT_NE(hashBytes(std::string_view("12345678"), 0), hashBytes(std::string_view("123456789"), 0));
}

// Consistent hashing needs the same value on every host and build: pinned
// (the values tests/upstream/hash_test.cc pins for hashKey, seed 0).
TEST(HashBytes, ValuesAreStable) {
  EXPECT_EQ(hashBytes(nullptr, 0, 0), 15436002875099958032ull);
  EXPECT_EQ(hashBytes(std::string_view("a"), 0), 11845114693307466059ull);
  EXPECT_EQ(hashBytes(std::string_view("session=3f2a9c"), 0), 384508471188428110ull);
}

}  // namespace
}  // namespace pier
