#include "src/proxy/snapshot.h"

#include "src/proxy/filter_registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace pier::proxy {

Snapshot::~Snapshot() {
  for (auto& l : listeners_) {
    if (l.access_log_fd > 2) {
      close(l.access_log_fd);
    }
  }
}

int Snapshot::clusterIndex(const std::string& name) const {
  auto it = cluster_index_.find(name);
  return it == cluster_index_.end() ? -1 : it->second;
}

static Result<int> openAccessLog(const config::AccessLog& log) {
  if (!log.enabled) {
    return -1;
  }
  if (log.path == "stdout") {
    return 1;
  }
  if (log.path == "stderr") {
    return 2;
  }
  int fd = open(log.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{fmt::format("access log {}: {}", log.path, std::strerror(errno))};
  }
  return fd;
}

Result<std::shared_ptr<const Snapshot>> Snapshot::build(std::unique_ptr<config::Config> config,
                                                        const HealthLookup& initially_healthy) {
  auto& store = stats::Store::instance();
  std::shared_ptr<Snapshot> snap(new Snapshot());
  snap->config_ = std::move(config);
  const auto& cfg = *snap->config_;

  snap->clusters_.reserve(cfg.clusters.size());
  for (const auto& c : cfg.clusters) {
    ClusterInfo info;
    info.config = &c;
    stats::Labels labels{{"cluster", c.name}};
    info.requests = store.counter("pier_cluster_requests_total", labels, "Requests sent to the cluster.");
    info.connect_failures = store.counter("pier_cluster_upstream_connect_failures_total", labels,
                                          "Failed connection attempts to the cluster's endpoints.");
    info.connections =
        store.counter("pier_cluster_upstream_connections_total", labels, "New upstream connections opened.");
    info.timeouts = store.counter("pier_cluster_upstream_timeouts_total", labels,
                                  "Requests that timed out waiting for response headers.");
    info.bad_responses = store.counter("pier_cluster_upstream_bad_responses_total", labels,
                                       "Malformed or truncated upstream responses.");
    info.response_duration = store.histogram("pier_cluster_response_duration_seconds", labels,
                                             "Time from sending a request upstream to the end of its response.");
    info.retries = store.counter("pier_cluster_retries_total", labels, "Requests tried again on another endpoint.");
    info.retries_budget_exhausted = store.counter("pier_cluster_retry_budget_exhausted_total", labels,
                                                  "Retries not made because the retry budget was used up.");
    info.overflow = store.counter("pier_cluster_circuit_breaker_overflow_total", labels,
                                  "Requests answered 503 because a circuit breaker limit was reached.");
    info.panic = store.counter("pier_cluster_panic_picks_total", labels,
                               "Endpoint choices made over all endpoints because too few were healthy.");
    info.health = std::make_unique<ClusterHealth>(c.endpoints.size());
    info.load = std::make_shared<ClusterLoad>();
    for (const auto& e : c.endpoints) {
      EndpointInfo ep;
      ep.config = e.address;
      auto addr = net::resolve(e.address);
      if (!addr) {
        return Error{fmt::format("cluster {}: endpoint {}: {}", c.name, e.address.text(), addr.error())};
      }
      ep.address = addr.value();
      ep.name = e.address.text();
      stats::Labels el{{"cluster", c.name}, {"endpoint", ep.name}};
      ep.requests = store.counter("pier_endpoint_requests_total", el, "Requests sent to the endpoint.");
      ep.active_requests = store.gauge("pier_endpoint_active_requests", el, "Requests in flight to the endpoint.");
      ep.connect_failures =
          store.counter("pier_endpoint_connect_failures_total", el, "Failed connection attempts to the endpoint.");
      ep.connections = store.counter("pier_endpoint_connections_total", el, "New connections to the endpoint.");
      ep.ejections = store.counter("pier_endpoint_ejections_total", el,
                                   "Times a worker ejected the endpoint after failures of live traffic.");
      ep.ejected = store.gauge("pier_endpoint_ejected", el, "Workers currently ejecting the endpoint.");
      ep.healthy = store.gauge("pier_endpoint_healthy", el, "Active health check state (1 healthy, 0 unhealthy).");
      info.endpoints.push_back(std::move(ep));
    }
    if (initially_healthy) {
      for (size_t i = 0; i < info.endpoints.size(); ++i) {
        info.health->set(i, initially_healthy(c.name, info.endpoints[i].name));
      }
    }
    snap->cluster_index_[c.name] = static_cast<int>(snap->clusters_.size());
    snap->clusters_.push_back(std::move(info));
  }

  snap->listeners_.reserve(cfg.listeners.size());
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const auto& l = cfg.listeners[i];
    ListenerInfo info;
    info.config = &l;
    info.index = i;
    auto addr = net::resolve(l.address);
    if (!addr) {
      return Error{fmt::format("listener {}: {}", l.name, addr.error())};
    }
    info.address = addr.value();
    if (l.protocol == config::Protocol::kHttp) {
      auto router = router::Router::build(l);
      if (!router) {
        return Error{fmt::format("listener {}: {}", l.name, router.error())};
      }
      info.router = std::move(router.value());
      auto factories = buildFilterFactories(l);
      if (!factories) {
        return Error{factories.error()};
      }
      info.filter_factories = std::move(factories.value());
      for (const auto& vh : l.virtual_hosts) {
        for (const auto& r : vh.routes) {
          info.routes[&r].requests = std::make_unique<stats::StatusCounters>(
              "pier_route_requests_total", stats::Labels{{"listener", l.name}, {"route", r.name}},
              "Requests answered, by route and status.");
        }
      }
    }
    stats::Labels labels{{"listener", l.name}};
    info.connections = store.counter("pier_listener_connections_total", labels, "Accepted downstream connections.");
    info.active_connections =
        store.gauge("pier_listener_active_connections", labels, "Open downstream connections.");
    info.bytes_received =
        store.counter("pier_listener_bytes_received_total", labels, "Bytes received from downstream clients.");
    info.bytes_sent = store.counter("pier_listener_bytes_sent_total", labels, "Bytes sent to downstream clients.");
    info.request_duration = store.histogram("pier_listener_request_duration_seconds", labels,
                                            "Time from a request's first byte to the end of its response.");
    info.requests = std::make_unique<stats::StatusCounters>("pier_listener_requests_total", labels,
                                                            "Requests answered, by status.");
    auto log_fd = openAccessLog(l.access_log);
    if (!log_fd) {
      return Error{fmt::format("listener {}: {}", l.name, log_fd.error())};
    }
    info.access_log_fd = log_fd.value();
    snap->listeners_.push_back(std::move(info));
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace pier::proxy
