#pragma once
// Helpers shared by the load balancer tests.
#include <map>
#include <string>
#include <vector>

#include "src/upstream/load_balancer.h"

namespace pier::upstream::testing {

// Hosts 10.0.0.1:80, 10.0.0.2:80, ... with the given weights.
inline std::vector<Host> makeHosts(const std::vector<uint32_t>& weights) {
  std::vector<Host> hosts;
  for (size_t i = 0; i < weights.size(); ++i) {
    Host host;
    host.address = config::SocketAddress{"10.0.0." + std::to_string(i + 1), 80, false};
    host.weight = weights[i];
    hosts.push_back(host);
  }
  return hosts;
}

inline std::vector<Host> equalHosts(size_t n) { return makeHosts(std::vector<uint32_t>(n, 1)); }

// How often each index (or -1) came out of `picks` picks.
inline std::map<int, int> countPicks(LoadBalancer& lb, int picks, const PickContext& context = {}) {
  std::map<int, int> counts;
  for (int i = 0; i < picks; ++i) ++counts[lb.pick(context)];
  return counts;
}

inline PickContext hashed(uint64_t hash, int avoid = -1) {
  PickContext context;
  context.hash = hash;
  context.has_hash = true;
  context.avoid = avoid;
  return context;
}

inline PickContext avoiding(int avoid) {
  PickContext context;
  context.avoid = avoid;
  return context;
}

}  // namespace pier::upstream::testing
