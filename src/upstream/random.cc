// Weighted random choice, also the fallback of the hashing policies when a
// request has nothing to hash.
#include <algorithm>

#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream::internal {

namespace {

// Rejection sampling gives up after this many ineligible draws: with half the
// hosts down, the scan is needed on 1 pick in 16.
constexpr int kDrawAttempts = 4;

class Random final : public LoadBalancer {
 public:
  Random(const std::vector<Host>& hosts, uint64_t seed) : random_(hosts, seed) {}
  int pick(const PickContext& context) override { return random_.pick(context.avoid); }

 private:
  WeightedRandom random_;
};

}  // namespace

WeightedRandom::WeightedRandom(const std::vector<Host>& hosts, uint64_t seed) : hosts_(hosts), prng_(seed) {
  cumulative_.reserve(hosts.size());
  uint64_t sum = 0;
  for (const Host& host : hosts) {
    sum += host.weight;
    cumulative_.push_back(sum);
  }
}

int WeightedRandom::pick(int avoid) {
  if (cumulative_.empty() || cumulative_.back() == 0) return -1;
  for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
    uint64_t point = prng_.below(cumulative_.back());
    size_t i = std::upper_bound(cumulative_.begin(), cumulative_.end(), point) - cumulative_.begin();
    if (eligible(hosts_, i, avoid)) return static_cast<int>(i);
  }
  auto weightOf = [&](size_t i) { return cumulative_[i] - (i > 0 ? cumulative_[i - 1] : 0); };
  uint64_t eligible_total = 0;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (eligible(hosts_, i, avoid)) eligible_total += weightOf(i);
  }
  if (eligible_total == 0) return lastResort(hosts_, avoid);
  uint64_t point = prng_.below(eligible_total);
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!eligible(hosts_, i, avoid)) continue;
    if (point < weightOf(i)) return static_cast<int>(i);
    point -= weightOf(i);
  }
  return lastResort(hosts_, avoid);  // not reached: point < eligible_total
}

std::unique_ptr<LoadBalancer> makeRandom(const std::vector<Host>& hosts, uint64_t seed) {
  return std::make_unique<Random>(hosts, seed);
}

}  // namespace pier::upstream::internal
