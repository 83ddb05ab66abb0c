// Smooth weighted round robin (as nginx does it): each pick adds every
// eligible host's weight to its running score, takes the highest score and
// charges it the round's total. Weights {5,1,1} give a a b a c a a: heavy
// hosts are interleaved rather than picked in bursts.
#include <algorithm>

#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream::internal {

namespace {

class RoundRobin final : public LoadBalancer {
 public:
  RoundRobin(const std::vector<Host>& hosts, uint64_t seed) : hosts_(hosts), score_(hosts.size(), 0) {
    weights_.reserve(hosts.size());
    for (const Host& host : hosts) weights_.push_back(host.weight);
    uniform_ =
        std::all_of(weights_.begin(), weights_.end(), [&](int64_t w) { return w == weights_.front(); });
    // Equal weights reduce to plain rotation; starting at a seeded offset
    // keeps workers from all sending their first request to host 0.
    next_ = hosts.empty() ? 0 : seed % hosts.size();
  }

  int pick(const PickContext& context) override {
    return uniform_ ? pickUniform(context.avoid) : pickWeighted(context.avoid);
  }

 private:
  int pickUniform(int avoid) {
    const size_t n = hosts_.size();
    for (size_t k = 0; k < n; ++k) {
      size_t i = next_ + k < n ? next_ + k : next_ + k - n;
      if (eligible(hosts_, i, avoid)) {
        next_ = i + 1 < n ? i + 1 : 0;
        return static_cast<int>(i);
      }
    }
    return lastResort(hosts_, avoid);
  }

  int pickWeighted(int avoid) {
    int best = -1;
    int64_t total = 0;
    for (size_t i = 0; i < hosts_.size(); ++i) {
      if (!eligible(hosts_, i, avoid)) continue;
      score_[i] += weights_[i];
      total += weights_[i];
      if (best < 0 || score_[i] > score_[best]) best = static_cast<int>(i);
    }
    if (best < 0) return lastResort(hosts_, avoid);
    score_[best] -= total;
    return best;
  }

  const std::vector<Host>& hosts_;
  std::vector<int64_t> weights_;
  std::vector<int64_t> score_;
  bool uniform_ = true;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeRoundRobin(const std::vector<Host>& hosts, uint64_t seed) {
  return std::make_unique<RoundRobin>(hosts, seed);
}

}  // namespace pier::upstream::internal
