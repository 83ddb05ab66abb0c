// Power of two choices: draw two distinct eligible hosts at random and take
// the one with the lower load, load being (active_requests + 1) / weight.
// Nearly as good as scanning for the least loaded host, at O(1) per pick, and
// without every worker herding onto the same momentarily idle host.
#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream::internal {

namespace {

constexpr int kDrawAttempts = 4;

class LeastRequest final : public LoadBalancer {
 public:
  LeastRequest(const std::vector<Host>& hosts, uint64_t seed) : hosts_(hosts), prng_(seed) {
    weights_.reserve(hosts.size());
    for (const Host& host : hosts) weights_.push_back(host.weight);
  }

  int pick(const PickContext& context) override {
    int first = drawEligible(context.avoid, -1);
    if (first < 0) return lastResort(hosts_, context.avoid);
    int second = drawEligible(context.avoid, first);
    if (second < 0) return first;
    return lighter(first, second);
  }

 private:
  // Compares (active+1)/weight by cross-multiplying; ties keep `a`, which is
  // itself a random draw.
  int lighter(int a, int b) const {
    uint64_t load_a = (uint64_t{hosts_[a].active_requests} + 1) * weights_[b];
    uint64_t load_b = (uint64_t{hosts_[b].active_requests} + 1) * weights_[a];
    return load_b < load_a ? b : a;
  }

  // A uniformly random eligible host other than `other`, or -1.
  int drawEligible(int avoid, int other) {
    const size_t n = hosts_.size();
    if (n == 0) return -1;
    for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
      size_t i = prng_.below(n);
      if (eligible(hosts_, i, avoid) && static_cast<int>(i) != other) return static_cast<int>(i);
    }
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) count += eligible(hosts_, i, avoid) && static_cast<int>(i) != other;
    if (count == 0) return -1;
    size_t k = prng_.below(count);
    for (size_t i = 0; i < n; ++i) {
      if (!eligible(hosts_, i, avoid) || static_cast<int>(i) == other) continue;
      if (k-- == 0) return static_cast<int>(i);
    }
    return -1;  // not reached: k < count
  }

  const std::vector<Host>& hosts_;
  std::vector<uint32_t> weights_;
  Prng prng_;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeLeastRequest(const std::vector<Host>& hosts, uint64_t seed) {
  return std::make_unique<LeastRequest>(hosts, seed);
}

}  // namespace pier::upstream::internal
