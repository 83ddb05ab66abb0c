#pragma once
// Copies of a few bytes without a call: header names and values are mostly
// shorter than 16 bytes, and for those a call to memcpy costs more than the
// copy itself (every forwarded header line is two such copies).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pier {
namespace detail {
// n bytes, sizeof(Word) <= n <= 2 * sizeof(Word): a word from each end,
// overlapping in the middle.
template <typename Word>
inline void copyTwoWords(char* dst, const char* src, size_t n) {
  Word head = 0;
  Word tail = 0;
  std::memcpy(&head, src, sizeof head);
  std::memcpy(&tail, src + n - sizeof tail, sizeof tail);
  std::memcpy(dst, &head, sizeof head);
  std::memcpy(dst + n - sizeof tail, &tail, sizeof tail);
}
}  // namespace detail

// Copies `n` bytes from `src` to `dst`; the ranges must not overlap.
inline void copyShort(char* dst, const char* src, size_t n) {
  if (n > 16) {
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    detail::copyTwoWords<uint64_t>(dst, src, n);
  } else if (n >= 4) {
    detail::copyTwoWords<uint32_t>(dst, src, n);
  } else if (n != 0) {
    // 1..3 bytes: first, middle and last cover them all.
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

}  // namespace pier
