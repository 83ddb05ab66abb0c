#pragma once
// An immutable, validated view of one configuration, with everything the
// workers need precomputed: routers, resolved endpoint addresses and metric
// handles. Built on the control thread; shared read-only by all workers.
// In-flight requests keep the snapshot they started with alive.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/common/result.h"
#include "src/config/config.h"
#include "src/filters/filter.h"
#include "src/proxy/cluster_health.h"
#include "src/net/socket.h"
#include "src/router/router.h"
#include "src/stats/metrics.h"

namespace pier::proxy {

struct EndpointInfo {
  config::SocketAddress config;
  net::Address address;
  std::string name;  // "127.0.0.1:18081"
  stats::Counter requests;
  stats::Gauge active_requests;
  stats::Counter connect_failures;
  stats::Counter connections;
  stats::Counter ejections;
  stats::Gauge ejected;  // summed over workers: how many workers eject it now
  stats::Gauge healthy;  // active health check: 1 healthy, 0 unhealthy
};

struct ClusterInfo {
  const config::Cluster* config = nullptr;
  std::vector<EndpointInfo> endpoints;
  stats::Counter requests;
  stats::Counter connect_failures;
  stats::Counter connections;
  stats::Counter timeouts;
  stats::Counter bad_responses;
  stats::Histogram response_duration;
  stats::Counter retries;
  stats::Counter retries_budget_exhausted;
  stats::Counter overflow;  // circuit breaker rejections
  stats::Counter panic;     // picks made in panic mode
  std::unique_ptr<ClusterHealth> health;
  std::shared_ptr<ClusterLoad> load;  // shared with upstream connections it counts
};

struct RouteInfo {
  std::unique_ptr<stats::StatusCounters> requests;  // by status
};

struct ListenerInfo {
  const config::Listener* config = nullptr;
  size_t index = 0;
  net::Address address;
  std::unique_ptr<router::Router> router;
  std::map<const config::Route*, RouteInfo> routes;
  stats::Counter connections;
  stats::Gauge active_connections;
  stats::Counter bytes_received;
  stats::Counter bytes_sent;
  stats::Histogram request_duration;
  std::unique_ptr<stats::StatusCounters> requests;  // by status
  int access_log_fd = -1;  // owned by the snapshot
  // The HTTP filter chain, in order; empty: no filters (and no cost).
  std::vector<std::unique_ptr<filters::FilterFactory>> filter_factories;
};

class Snapshot {
 public:
  // `initially_healthy(cluster, endpoint)` seeds the active health state
  // (from the health checker, so a reload doesn't forget a dead endpoint).
  using HealthLookup = std::function<bool(const std::string& cluster, const std::string& endpoint)>;
  static Result<std::shared_ptr<const Snapshot>> build(std::unique_ptr<config::Config> config,
                                                       const HealthLookup& initially_healthy = {});
  ~Snapshot();

  const config::Config& config() const { return *config_; }
  const std::vector<ListenerInfo>& listeners() const { return listeners_; }
  const std::vector<ClusterInfo>& clusters() const { return clusters_; }
  // Index into clusters(), or -1.
  int clusterIndex(const std::string& name) const;

 private:
  Snapshot() = default;
  std::unique_ptr<config::Config> config_;
  std::vector<ListenerInfo> listeners_;
  std::vector<ClusterInfo> clusters_;
  std::map<std::string, int> cluster_index_;
};

}  // namespace pier::proxy
