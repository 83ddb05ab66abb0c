#pragma once
// Pieces shared by the load-balancing policies (one policy per .cc file).
// Not part of the module's API: include load_balancer.h instead.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "src/common/hash.h"
#include "src/upstream/load_balancer.h"

namespace pier::upstream::internal {

using pier::hashBytes;  // hashKey() with a seed (src/common/hash.h)
using pier::mix64;

// A stable identity for an endpoint: the same address hashes the same on
// every worker and every node, so consistent hashing agrees across them.
uint64_t hostHash(const config::SocketAddress& address, uint64_t seed);

// SplitMix64: tiny state, fast, good enough statistics for load balancing.
class Prng {
 public:
  explicit Prng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  // Uniform in [0, bound) by multiply-shift, which avoids a division.
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

 private:
  uint64_t state_;
};

// A host a pick may return: healthy and not the one to avoid.
inline bool eligible(const std::vector<Host>& hosts, size_t index, int avoid) {
  return hosts[index].healthy && static_cast<int>(index) != avoid;
}

// What a pick returns when no eligible host exists: the avoided host if it is
// healthy (a retry to the same host beats failing), else -1.
inline int lastResort(const std::vector<Host>& hosts, int avoid) {
  if (avoid >= 0 && static_cast<size_t>(avoid) < hosts.size() && hosts[avoid].healthy) return avoid;
  return -1;
}

// True if some host other than `avoid` is healthy.
bool anyEligible(const std::vector<Host>& hosts, int avoid);

// Weighted random choice among eligible hosts. Samples by weight from all
// hosts and rejects ineligible ones a few times before scanning, so a mostly
// healthy cluster costs O(log n) per pick and the result is still exactly
// weighted among the eligible hosts.
class WeightedRandom {
 public:
  WeightedRandom(const std::vector<Host>& hosts, uint64_t seed);
  int pick(int avoid);

 private:
  const std::vector<Host>& hosts_;
  std::vector<uint64_t> cumulative_;  // cumulative_[i] = sum of weights[0..i]
  Prng prng_;
};

// Asserts the configuration invariant that every weight is positive.
void checkWeights(const std::vector<Host>& hosts);

std::unique_ptr<LoadBalancer> makeRoundRobin(const std::vector<Host>& hosts, uint64_t seed);
std::unique_ptr<LoadBalancer> makeLeastRequest(const std::vector<Host>& hosts, uint64_t seed);
std::unique_ptr<LoadBalancer> makeRandom(const std::vector<Host>& hosts, uint64_t seed);
std::unique_ptr<LoadBalancer> makeRingHash(const std::vector<Host>& hosts, uint64_t seed);
std::unique_ptr<LoadBalancer> makeMaglev(const std::vector<Host>& hosts, uint64_t seed);

}  // namespace pier::upstream::internal
