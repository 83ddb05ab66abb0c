#include "src/config/config.h"

#include <array>

namespace pier::config {

std::string SocketAddress::text() const {
  std::string port_text = std::to_string(port);
  if (ipv6) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

const Cluster* Config::findCluster(const std::string& name) const {
  for (const Cluster& cluster : clusters) {
    if (cluster.name == name) return &cluster;
  }
  return nullptr;
}

const char* toString(LbPolicy p) {
  switch (p) {
    case LbPolicy::kRoundRobin:
      return "round_robin";
    case LbPolicy::kLeastRequest:
      return "least_request";
    case LbPolicy::kRandom:
      return "random";
    case LbPolicy::kRingHash:
      return "ring_hash";
    case LbPolicy::kMaglev:
      return "maglev";
  }
  return "unknown";
}

const char* toString(Protocol p) {
  switch (p) {
    case Protocol::kHttp:
      return "http";
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
  }
  return "unknown";
}

std::span<const std::string_view> accessLogFields() {
  static constexpr std::array<std::string_view, 14> kFields = {
      "start_time", "method",      "path",          "protocol",   "status", "bytes_received",
      "bytes_sent", "duration_ms", "upstream_host", "request_id", "route",  "downstream_remote",
      "host",       "listener"};
  return kFields;
}

}  // namespace pier::config
