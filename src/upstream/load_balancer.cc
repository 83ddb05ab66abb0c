#include "src/upstream/load_balancer.h"

#include <cassert>

#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream {

namespace internal {

bool anyEligible(const std::vector<Host>& hosts, int avoid) {
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (eligible(hosts, i, avoid)) return true;
  }
  return false;
}

void checkWeights([[maybe_unused]] const std::vector<Host>& hosts) {
  for ([[maybe_unused]] const Host& host : hosts) assert(host.weight > 0 && "config rejects zero weights");
}

}  // namespace internal

std::unique_ptr<LoadBalancer> makeLoadBalancer(config::LbPolicy policy, const std::vector<Host>& hosts,
                                               uint64_t seed) {
  internal::checkWeights(hosts);
  switch (policy) {
    case config::LbPolicy::kRoundRobin:
      return internal::makeRoundRobin(hosts, seed);
    case config::LbPolicy::kLeastRequest:
      return internal::makeLeastRequest(hosts, seed);
    case config::LbPolicy::kRandom:
      return internal::makeRandom(hosts, seed);
    case config::LbPolicy::kRingHash:
      return internal::makeRingHash(hosts, seed);
    case config::LbPolicy::kMaglev:
      return internal::makeMaglev(hosts, seed);
  }
  return internal::makeRoundRobin(hosts, seed);
}

}  // namespace pier::upstream
