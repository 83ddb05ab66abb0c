#pragma once
// Load balancers choose an endpoint of one cluster. Each worker owns its own
// instances (no locks): state such as round-robin position and active request
// counts is per worker.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/config/config.h"

namespace pier::upstream {

// One endpoint as a worker sees it.
struct Host {
  config::SocketAddress address;
  uint32_t weight = 1;
  bool healthy = true;
  uint32_t active_requests = 0;  // maintained by the proxy on this worker
};

struct PickContext {
  uint64_t hash = 0;       // for ring_hash / maglev: hash of the header, cookie or source IP
  bool has_hash = false;   // false: consistent-hash balancers fall back to random
  int avoid = -1;          // index to avoid if any other healthy host exists (retries)
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // Index into the host list, or -1 when no host is healthy.
  virtual int pick(const PickContext& context) = 0;
};

// `hosts` must outlive the balancer and keep its size and addresses. Weights
// (all > 0) are read once here, since hash tables and rings are built from
// them: a weight change means a new balancer. `healthy` and `active_requests`
// are read at pick time. `seed` drives the random choices (reproducible in
// tests) and staggers round robin's first host; give each worker its own.
// Consistent-hash placement depends only on addresses and weights, never on
// the seed or the order of `hosts`, so all workers and nodes agree.
std::unique_ptr<LoadBalancer> makeLoadBalancer(config::LbPolicy policy, const std::vector<Host>& hosts,
                                               uint64_t seed);

// A 64-bit hash used for consistent hashing keys (stable across runs).
uint64_t hashKey(std::string_view key);

}  // namespace pier::upstream
