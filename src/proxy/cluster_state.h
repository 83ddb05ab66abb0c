#pragma once
// A cluster as one worker sees it: the endpoints' effective health (active
// checks, passive outlier ejection, panic mode), the load balancer over them,
// and the connection pools. Owned by one worker; no locks.
#include <algorithm>
#include <memory>
#include <vector>

#include "src/common/clock.h"
#include "src/proxy/snapshot.h"
#include "src/proxy/upstream_connection.h"
#include "src/upstream/load_balancer.h"

namespace pier::proxy {

// What happened to one request sent to an endpoint, for outlier detection.
enum class UpstreamOutcome {
  kSuccess,         // a response below 500
  kServerError,     // 500, 501, 505..599
  kGatewayError,    // 502, 503, 504 responses
  kConnectFailure,  // refused, unreachable, connect timeout
  kReset,           // closed or reset before a complete response
  kTimeout,         // no response head in time
};

class ClusterState {
 public:
  ClusterState(std::shared_ptr<const Snapshot> snapshot, const ClusterInfo& info, std::vector<EndpointPool*> pools,
               uint64_t seed);
  ~ClusterState();
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;

  // Carries ejections over from the state this one replaces (config reload).
  void inheritOutliers(const ClusterState& previous);

  const ClusterInfo& info() const { return *info_; }
  const config::Cluster& config() const { return *info_->config; }
  size_t size() const { return hosts_.size(); }
  EndpointPool& pool(int host) { return *pools_[static_cast<size_t>(host)]; }
  const EndpointInfo& endpoint(int host) const { return info_->endpoints[static_cast<size_t>(host)]; }

  // Chooses an endpoint (refreshing health first), or -1 if none can be used.
  int pick(upstream::PickContext context, MonoTime now);
  void onRequestStart(int host);
  void onRequestEnd(int host);
  // Feeds outlier detection; may eject the endpoint on this worker.
  void recordOutcome(int host, UpstreamOutcome outcome, MonoTime now);

  // Retry budget (per worker): retries in flight may be at most `percent` of
  // the requests in flight, but `minimum` are always allowed.
  bool retryAllowed(uint32_t percent, uint32_t minimum) const {
    return active_retries_ < std::max<uint64_t>(minimum, active_requests_ * percent / 100);
  }
  void onRetryStart() { ++active_retries_; }
  void onRetryEnd() { --active_retries_; }

  bool ejected(int host) const { return outlier_[static_cast<size_t>(host)].ejected; }

 private:
  struct Outlier {
    uint32_t consecutive_5xx = 0;
    uint32_t consecutive_gateway = 0;
    uint32_t ejections = 0;
    bool ejected = false;
    MonoTime ejected_until{};
  };
  void refresh(MonoTime now);
  void eject(int host, MonoTime now, const char* why);

  std::shared_ptr<const Snapshot> snapshot_;  // keeps info_ alive
  const ClusterInfo* info_;
  std::vector<upstream::Host> hosts_;  // what the balancer reads
  std::vector<Outlier> outlier_;
  std::vector<EndpointPool*> pools_;
  std::unique_ptr<upstream::LoadBalancer> lb_;
  uint64_t seen_generation_ = UINT64_MAX;
  MonoTime next_unejection_ = MonoTime::max();
  size_t ejected_count_ = 0;
  uint64_t active_requests_ = 0;
  uint64_t active_retries_ = 0;
  bool panic_ = false;
};

}  // namespace pier::proxy
