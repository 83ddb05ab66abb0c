#pragma once
// An immutable, validated view of one configuration, with everything the
// workers need precomputed: routers, resolved endpoint addresses and metric
// handles. Built on the control thread; shared read-only by all workers.
// In-flight requests keep the snapshot they started with alive.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/common/result.h"
#include "src/config/config.h"
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
};

class Snapshot {
 public:
  static Result<std::shared_ptr<const Snapshot>> build(std::unique_ptr<config::Config> config);
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
