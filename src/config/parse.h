#pragma once
// The schema: turns a YAML tree into a Config, recording every problem in
// Diagnostics. One function per section; internal to src/config.
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "src/config/config.h"
#include "src/config/yaml_reader.h"

namespace pier::config {

// What later sections need to know about earlier ones.
struct ParseContext {
  // False when the clusters section itself is broken: then references are
  // not checked, as every one would fail.
  bool clusters_known = true;
  std::vector<std::string> cluster_names;  // in declaration order, for hints
  std::unordered_set<std::string> cluster_set;
  // The admin server's address when it is enabled; listeners may not reuse it.
  std::optional<SocketAddress> admin_address;
  // Clusters that send a PROXY protocol header, which udp listeners cannot use.
  std::unordered_set<std::string> proxy_protocol_clusters;
  // The config's file name, for the origins of filter code ("pier.yaml:12:9: <path>").
  std::string source;
};

// The filter chain of the listener whose routes are being read, against which
// the routes' per-filter overrides are checked.
struct FilterChainScope {
  const std::vector<HttpFilter>* filters = nullptr;  // the listener's, same indexes as in the YAML
  std::string path;                                  // "listeners[0].filters", for messages
  // False when an entry's name is unknown (it had errors): then overrides
  // naming missing entries are not reported, as they may name that one.
  bool names_known = true;
  // Per entry: false when its source_codes section had errors.
  std::vector<bool> source_codes_known;
};

void parseConfig(const YAML::Node& root, Config& config, Diagnostics& diagnostics);

void parseClusters(const Field& field, std::vector<Cluster>& clusters, ParseContext& context);
void parseListeners(const Field& field, std::vector<Listener>& listeners, const ParseContext& context);
// `default_name` is used when the route has no `name`.
Route parseRoute(const Field& field, std::string default_name, const ParseContext& context,
                 const FilterChainScope& chain);

// An http listener's `filters` (its chain, in order) into `filters`.
FilterChainScope parseHttpFilters(const Field& field, std::vector<HttpFilter>& filters,
                                  const ParseContext& context);
// A route's `filters`: overrides of the chain's entries by entry name.
std::map<std::string, RouteFilterOverride> parseRouteFilters(const Field& field,
                                                             const FilterChainScope& chain,
                                                             const ParseContext& context);
// A route's `metadata`: its filter_metadata object (namespace -> value).
std::shared_ptr<const nlohmann::json> parseRouteMetadata(const Field& field);

// The retry_policy of a route, or of a cluster (its default_retry_policy).
RetryPolicy parseRetryPolicy(const Field& field);
// A cluster's health_check and outlier_detection sections.
HealthCheck parseHealthCheck(const Field& field);
void parseOutlierDetection(const Field& field, OutlierDetection& outlier);

// The names of RetryPolicy::On conditions as written in retry_on, in bit order.
struct RetryOnName {
  std::string_view name;
  uint32_t bit;
};
std::span<const RetryOnName> retryOnNames();

// A host name for redirects, host_rewrite and health checks: printable, no
// spaces, '/', '?', '#' or '@'.
std::optional<std::string> hostName(const Field& field);

// Names (or addresses) already taken in some scope, with the path of the
// entry that took each, for "duplicate ... (also <path>)" messages.
class Taken {
 public:
  // The path that took `name` earlier, or nullptr after taking it for `path`.
  const std::string* claim(const std::string& name, const std::string& path) {
    auto [it, inserted] = paths_.emplace(name, path);
    return inserted ? nullptr : &it->second;
  }

 private:
  std::unordered_map<std::string, std::string> paths_;
};

// virtual_ips, read after clusters and listeners, which its services name.
// `listeners_known` is false when the listeners section had errors that may
// hide a listener's name: then references to unknown listeners are not reported.
void parseVirtualIps(const Field& field, VirtualIps& vips, const std::vector<Listener>& listeners,
                     bool listeners_known, const ParseContext& context);

// What the services of virtual_ips need to know about its pools.
struct VipPoolScope {
  // False when the pools had errors: then a service naming a missing pool or
  // address is not reported, as it may be in a broken entry.
  bool complete = true;
  std::unordered_map<std::string, size_t> by_name;     // pool name -> index
  std::unordered_map<std::string, size_t> by_address;  // canonical address -> pool index
};
// virtual_ips.pools. `interfaces` are virtual_ips.interfaces (nullptr when
// they had errors: then pools' interfaces are not checked against them).
VipPoolScope parseVipPools(const Field& field, std::vector<VipPool>& pools,
                           const std::vector<std::string>* interfaces);
// virtual_ips.services, with their addresses assigned (VipService::assigned).
void parseVipServices(const Field& field, std::vector<VipService>& services,
                      const std::vector<VipPool>& pools, const VipPoolScope& scope,
                      const std::vector<Listener>& listeners, bool listeners_known,
                      const ParseContext& context);
// A non-empty list of network interface names, each once. Names follow
// Linux's rule (1 to 15 bytes, not "." or "..", no '/', ':', spaces or control
// characters); whether they exist is only known at start. False when the list
// had errors; the valid names are in `out` either way.
bool parseInterfaceNames(const Field& field, std::vector<std::string>& out);

// Records an error at `field` if `name` is not a declared cluster.
void checkClusterReference(const Field& field, const std::string& name, const ParseContext& context);
// True if binding both addresses would collide: the same port on the same
// host, or on a wildcard host ("0.0.0.0", "::") of the same family.
bool addressesConflict(const SocketAddress& a, const SocketAddress& b);

}  // namespace pier::config
