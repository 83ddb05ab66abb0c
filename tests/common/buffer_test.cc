// Buffer: the read/write positions, growth that keeps unread bytes, and
// reclaiming memory of idle buffers.
#include "src/common/buffer.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace pier {
namespace {

TEST(BufferTest, StartsEmptyWithoutMemory) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.readable(), "");
}

TEST(BufferTest, AppendedBytesAreReadableInOrder) {
  Buffer b;
  b.append("hello");
  b.append(' ');
  b.append("world");
  EXPECT_EQ(b.readable(), "hello world");
  EXPECT_EQ(b.size(), 11u);
  EXPECT_FALSE(b.empty());
}

// Regression (fixed): src/common/buffer.h:40 Buffer::append(std::string_view) calls
// memcpy(prepare(0), s.data(), 0) while the buffer has no memory yet, i.e.
// memcpy(nullptr, nullptr, 0): undefined behaviour, and the UBSan build aborts
// ("null pointer passed as argument 1"). The same happens when appending an
// empty buffer's readable() (data() is null). Fix: return early when s is empty.
TEST(BufferTest, AppendingNothingToAFreshBufferIsHarmless) {
  Buffer b;
  b.append(std::string_view());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.readable(), "");
  Buffer other;
  other.append(b.readable());
  EXPECT_TRUE(other.empty());
}

TEST(BufferTest, ConsumeDropsBytesFromTheFront) {
  Buffer b;
  b.append("abcdef");
  b.consume(2);
  EXPECT_EQ(b.readable(), "cdef");
  b.consume(3);
  EXPECT_EQ(b.readable(), "f");
}

TEST(BufferTest, ConsumingEverythingRewindsToTheStart) {
  Buffer b;
  b.append("abc");
  size_t full = b.writable() + 3;
  b.consume(3);
  EXPECT_TRUE(b.empty());
  // The whole capacity is writable again without a reallocation.
  EXPECT_EQ(b.writable(), full);
  EXPECT_EQ(b.capacity(), full);
}

TEST(BufferTest, ClearDiscardsUnreadBytes) {
  Buffer b;
  b.append("abc");
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.readable(), "");
  b.append("x");
  EXPECT_EQ(b.readable(), "x");
}

TEST(BufferTest, PrepareGivesAtLeastTheRequestedRoom) {
  Buffer b;
  for (size_t want : {1u, 100u, 20'000u, 100'000u}) {
    b.prepare(want);
    EXPECT_GE(b.writable(), want) << want;
  }
}

TEST(BufferTest, CommitMakesWrittenBytesReadable) {
  Buffer b;
  b.append("ab");
  char* p = b.prepare(3);
  std::memcpy(p, "cde", 3);
  EXPECT_EQ(b.readable(), "ab");  // not visible before commit
  b.commit(3);
  EXPECT_EQ(b.readable(), "abcde");
}

TEST(BufferTest, GrowingKeepsUnreadBytes) {
  Buffer b;
  b.append("head-");
  b.consume(1);
  std::string big(40'000, 'x');
  b.append(big);
  EXPECT_EQ(b.readable(), "ead-" + big);
  EXPECT_GE(b.capacity(), 40'004u);
}

TEST(BufferTest, SlidesUnreadBytesInsteadOfGrowingWhenThereIsRoom) {
  Buffer b;
  b.append(std::string(1000, 'a'));
  size_t cap = b.capacity();
  ASSERT_GT(cap, 1000u);
  // Fill to the end, then read most of it: the tail can only be reused by sliding.
  b.append(std::string(b.writable(), 'b'));
  b.consume(cap - 10);
  ASSERT_EQ(b.writable(), 0u);
  b.append("tail");
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.readable(), std::string(10, 'b') + "tail");
}

TEST(BufferTest, ShrinkReleasesALargeIdleBuffer) {
  Buffer b;
  b.append(std::string(200'000, 'x'));
  b.consume(200'000);
  b.shrinkIfEmpty();
  EXPECT_EQ(b.capacity(), 0u);
  b.append("again");
  EXPECT_EQ(b.readable(), "again");
}

TEST(BufferTest, ShrinkKeepsABufferWithUnreadBytes) {
  Buffer b;
  b.append(std::string(200'000, 'x'));
  b.consume(199'999);
  size_t cap = b.capacity();
  b.shrinkIfEmpty();
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.readable(), "x");
}

TEST(BufferTest, ShrinkKeepsASmallIdleBuffer) {
  Buffer b;
  b.append("small");
  b.consume(5);
  size_t cap = b.capacity();
  ASSERT_GT(cap, 0u);
  b.shrinkIfEmpty();
  EXPECT_EQ(b.capacity(), cap);
}

}  // namespace
}  // namespace pier
