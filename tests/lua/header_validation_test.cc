// The byte rules for header names and values scripts set (lua_bindings.h):
// checked a table lookup per byte, four bytes at a time and the last four
// overlapping (three single bytes below four), so each rule is tried at every
// position of the loop and of its tail.
#include <gtest/gtest.h>

#include <string>

#include "src/lua/lua_bindings.h"

namespace pier::lua {
namespace {

TEST(HeaderValidationTest, NamesAreTokensWithOptionalColonPrefix) {
  EXPECT_TRUE(validHeaderName("x-lua-req"));
  EXPECT_TRUE(validHeaderName(":path"));
  EXPECT_TRUE(validHeaderName("A0!#$%&'*+-.^_`|~z"));
  EXPECT_FALSE(validHeaderName(""));
  EXPECT_FALSE(validHeaderName(":"));
  EXPECT_FALSE(validHeaderName("::path"));
}

TEST(HeaderValidationTest, NameRejectsANonTokenByteAtAnyPosition) {
  for (char bad : std::string("\0 :\"(),/;<=>?@[\\]{}\x7f\x80\xff", 22)) {
    for (size_t len = 1; len <= 13; ++len) {
      for (size_t pos = 0; pos < len; ++pos) {
        std::string name(len, 'a');
        name[pos] = bad;
        if (pos == 0 && bad == ':') continue;  // a pseudo-header prefix
        EXPECT_FALSE(validHeaderName(name))
            << "byte " << int(static_cast<unsigned char>(bad)) << " at " << pos << " of " << len;
      }
    }
  }
  for (size_t len = 1; len <= 13; ++len) EXPECT_TRUE(validHeaderName(std::string(len, 'a'))) << len;
}

TEST(HeaderValidationTest, ValuesTakeAnythingButCrLfNul) {
  EXPECT_TRUE(validHeaderValue(""));
  EXPECT_TRUE(validHeaderValue("1"));
  EXPECT_TRUE(validHeaderValue("text/html; q=0.9, \t\x01\x7f\x80\xff"));
}

TEST(HeaderValidationTest, ValueRejectsCrLfNulAtAnyPosition) {
  for (char bad : {'\r', '\n', '\0'}) {
    for (size_t len = 1; len <= 9; ++len) {
      for (size_t pos = 0; pos < len; ++pos) {
        std::string value(len, 'v');
        value[pos] = bad;
        EXPECT_FALSE(validHeaderValue(value)) << int(bad) << " at " << pos << " of " << len;
      }
    }
  }
}

}  // namespace
}  // namespace pier::lua
