#include "src/filters/header_map.h"

#include <gtest/gtest.h>

namespace pier::filters {
namespace {

TEST(HeaderMap, NamesAreStoredLowerCase) {
  HeaderMap h;
  h.add("X-Foo", "1");
  EXPECT_EQ(h.entries()[0].name, "x-foo");
  EXPECT_EQ(*h.getFirst("x-FOO"), "1");
}

TEST(HeaderMap, GetJoinsRepeatedValuesWithComma) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "x");
  h.add("A", "2");
  EXPECT_EQ(h.get("a"), "1,2");
  EXPECT_FALSE(h.get("missing").has_value());
}

TEST(HeaderMap, GetAtIndexIsZeroBased) {
  HeaderMap h;
  h.add("a", "1");
  h.add("a", "2");
  EXPECT_EQ(*h.getAtIndex("a", 0), "1");
  EXPECT_EQ(*h.getAtIndex("a", 1), "2");
  EXPECT_EQ(h.getAtIndex("a", 2), nullptr);
  EXPECT_EQ(h.count("a"), 2U);
}

TEST(HeaderMap, PseudoHeadersStayFirst) {
  HeaderMap h;
  h.add("host", "x");
  h.add(":method", "GET");
  h.add(":path", "/");
  ASSERT_EQ(h.size(), 3U);
  EXPECT_EQ(h.entries()[0].name, ":method");
  EXPECT_EQ(h.entries()[1].name, ":path");
  EXPECT_EQ(h.entries()[2].name, "host");
}

TEST(HeaderMap, ReplaceKeepsFirstPositionAndDropsOthers) {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "x");
  h.add("a", "2");
  h.replace("A", "3");
  ASSERT_EQ(h.size(), 2U);
  EXPECT_EQ(h.entries()[0].name, "a");
  EXPECT_EQ(h.entries()[0].value, "3");
}

TEST(HeaderMap, ReplaceAddsWhenMissing) {
  HeaderMap h;
  h.replace("a", "1");
  EXPECT_EQ(h.get("a"), "1");
}

TEST(HeaderMap, RemoveDropsEveryValue) {
  HeaderMap h;
  h.add("a", "1");
  h.add("a", "2");
  h.add("b", "3");
  h.remove("A");
  EXPECT_EQ(h.count("a"), 0U);
  EXPECT_EQ(h.size(), 1U);
}

TEST(HeaderMap, VersionChangesOnEveryEdit) {
  HeaderMap h;
  auto v0 = h.version();
  h.add("a", "1");
  auto v1 = h.version();
  h.replace("a", "2");
  auto v2 = h.version();
  h.remove("a");
  EXPECT_LT(v0, v1);
  EXPECT_LT(v1, v2);
  EXPECT_LT(v2, h.version());
}

}  // namespace
}  // namespace pier::filters
