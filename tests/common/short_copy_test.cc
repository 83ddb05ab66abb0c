#include "src/common/short_copy.h"

#include <gtest/gtest.h>

#include <string>

namespace pier {
namespace {

// Every length around the word sizes, at every alignment: exactly the bytes
// asked for are copied, and nothing around them is touched.
TEST(CopyShortTest, CopiesExactlyTheBytesAtEveryLengthAndAlignment) {
  std::string src(64, '\0');
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<char>('A' + i % 50);
  for (size_t n = 0; n <= 40; ++n) {
    for (size_t src_at = 0; src_at < 8; ++src_at) {
      for (size_t dst_at = 0; dst_at < 8; ++dst_at) {
        std::string dst(64, '.');
        copyShort(dst.data() + dst_at, src.data() + src_at, n);
        std::string want(64, '.');
        want.replace(dst_at, n, src, src_at, n);
        ASSERT_EQ(dst, want) << "n=" << n << " src_at=" << src_at << " dst_at=" << dst_at;
      }
    }
  }
}

TEST(CopyShortTest, ZeroBytesTouchNothingEvenFromNull) {
  char dst[4] = {'a', 'b', 'c', 'd'};
  copyShort(dst, nullptr, 0);
  EXPECT_EQ(std::string(dst, 4), "abcd");
}

}  // namespace
}  // namespace pier
