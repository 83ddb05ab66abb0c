// Ketama-style consistent hashing: every host owns ~100 points per unit of
// weight on a 64-bit ring; a key goes to the owner of the first point at or
// after its hash. An unhealthy host's keys walk on to the next points, so only
// that host's keys move, and they spread over the remaining hosts.
#include <algorithm>
#include <array>
#include <cmath>

#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream::internal {

namespace {

constexpr uint64_t kPointsPerWeight = 100;
constexpr uint64_t kMinRing = 1024;          // below this, small clusters balance poorly
constexpr uint64_t kMaxRing = 65536;         // above this, the ring costs more memory than it buys
constexpr uint64_t kPointSeed = 0x52494e47;  // "RING"
// Steps walked before checking whether any eligible host exists at all: with
// every host down the walk would otherwise cover the whole ring.
constexpr size_t kQuickSteps = 32;

class RingHash final : public LoadBalancer {
 public:
  RingHash(const std::vector<Host>& hosts, uint64_t seed) : hosts_(hosts), fallback_(hosts, seed) { build(); }

  int pick(const PickContext& context) override {
    if (!context.has_hash) return fallback_.pick(context.avoid);
    const size_t size = points_.size();
    if (size == 0) return -1;
    size_t i = std::lower_bound(points_.begin(), points_.end(), context.hash) - points_.begin();
    if (i == size) i = 0;
    for (size_t step = 0; step < size; ++step) {
      uint32_t host = owners_[i];
      if (eligible(hosts_, host, context.avoid)) return static_cast<int>(host);
      if (step == kQuickSteps && !anyEligible(hosts_, context.avoid)) break;
      if (++i == size) i = 0;
    }
    return lastResort(hosts_, context.avoid);
  }

 private:
  void build() {
    uint64_t total_weight = 0;
    for (const Host& host : hosts_) total_weight += host.weight;
    if (total_weight == 0) return;
    const uint64_t ring_size = std::clamp(total_weight * kPointsPerWeight, kMinRing, kMaxRing);

    std::vector<std::pair<uint64_t, uint32_t>> ring;
    ring.reserve(ring_size + hosts_.size());
    for (uint32_t h = 0; h < hosts_.size(); ++h) {
      // Every host keeps at least one point, so a walk always reaches it.
      const double share = static_cast<double>(ring_size) * hosts_[h].weight / total_weight;
      const uint64_t points = std::max<uint64_t>(1, std::llround(share));
      // Points depend only on the address, so every node builds the same ring.
      const uint64_t base = hostHash(hosts_[h].address, kPointSeed);
      for (uint64_t p = 0; p < points; ++p) {
        const std::array<uint64_t, 2> input{base, p};
        ring.emplace_back(hashBytes(input.data(), sizeof(input), kPointSeed), h);
      }
    }
    std::sort(ring.begin(), ring.end());
    points_.reserve(ring.size());
    owners_.reserve(ring.size());
    for (const auto& [point, owner] : ring) {
      points_.push_back(point);
      owners_.push_back(owner);
    }
  }

  const std::vector<Host>& hosts_;
  // Parallel arrays: the binary search touches only points_.
  std::vector<uint64_t> points_;
  std::vector<uint32_t> owners_;
  WeightedRandom fallback_;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeRingHash(const std::vector<Host>& hosts, uint64_t seed) {
  return std::make_unique<RingHash>(hosts, seed);
}

}  // namespace pier::upstream::internal
