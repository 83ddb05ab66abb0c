// Each 8-byte word is folded through a 64x64->128 multiply; the state update
// is a bijection of the state for a fixed word, so no input can collapse it.
#include "src/common/hash.h"

namespace pier {

namespace {

constexpr uint64_t kWordKey = 0x2d358dccaa6c78a5ULL;
constexpr uint64_t kFoldMul = 0x8bb84b93962eacc9ULL;
constexpr uint64_t kStateMul = 0x9fb21c651e98df25ULL;
constexpr uint64_t kTailKey = 0x4b33a62ed433d4a3ULL;

// Little-endian load whatever the host order, so values match across machines.
inline uint64_t load64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline uint64_t loadTail(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i > 0; --i) v = (v << 8) | p[i - 1];
  return v;
}

inline uint64_t fold(uint64_t a, uint64_t b) {
  unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t absorb(uint64_t state, uint64_t word, uint64_t key) {
  state ^= fold(word ^ key, kFoldMul);
  return rotl(state, 29) * kStateMul;
}

}  // namespace

uint64_t hashBytes(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t state = mix64(seed ^ kTailKey);
  size_t left = size;
  for (; left >= 8; left -= 8, p += 8) state = absorb(state, load64(p), kWordKey);
  // The tail key differs from the word key so "ab" and "ab\0" differ even
  // before the length is mixed in.
  if (left > 0) state = absorb(state, loadTail(p, left), kTailKey);
  return mix64(state ^ static_cast<uint64_t>(size));
}

}  // namespace pier
