#pragma once
// A fast, seeded 64-bit hash of bytes. The same bytes give the same value on
// every run, build and host (consistent hashing relies on it: nodes must
// agree on key placement). Not for anything an attacker must not collide.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pier {

// Final avalanche of a 64-bit value (SplitMix64's finalizer: every input bit
// flips each output bit with probability ~1/2).
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Different seeds give independent hashes of the same bytes.
uint64_t hashBytes(const void* data, size_t size, uint64_t seed);
inline uint64_t hashBytes(std::string_view text, uint64_t seed) {
  return hashBytes(text.data(), text.size(), seed);
}

}  // namespace pier
