// clusters: upstream endpoints and how to balance and time out requests to them.
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

constexpr uint32_t kMaxEndpointWeight = 10'000;
constexpr uint32_t kMaxRetryConcurrency = 1'000'000;

std::optional<LbPolicy> lbPolicy(const Field& field) {
  auto v = field.oneOf({"round_robin", "least_request", "random", "ring_hash", "maglev"});
  if (!v) return std::nullopt;
  if (*v == "least_request") return LbPolicy::kLeastRequest;
  if (*v == "random") return LbPolicy::kRandom;
  if (*v == "ring_hash") return LbPolicy::kRingHash;
  if (*v == "maglev") return LbPolicy::kMaglev;
  return LbPolicy::kRoundRobin;
}

// `source_ip`, `{ header: NAME }` or `{ cookie: NAME }`.
void parseHashOn(const Field& field, HashOn& hash_on) {
  if (field.isScalar()) {
    if (field.node().Scalar() == "source_ip") {
      hash_on = HashOn{};
    } else {
      field.error("must be source_ip, { header: NAME } or { cookie: NAME }; got \"" + field.node().Scalar() +
                  "\"");
    }
    return;
  }
  if (!field.isMap()) {
    field.typeError("source_ip, { header: NAME } or { cookie: NAME }");
    return;
  }
  auto m = FieldMap::open(field, {"header", "cookie"});
  if (!m) return;
  auto kinds = m->present({"header", "cookie"});
  if (kinds.size() != 1) {
    if (kinds.size() == 2) {
      m->get("cookie")->error("conflicts with \"header\": hash on one header or one cookie");
    } else if (field.node().size() == 0) {
      field.error("needs header or cookie");
    }
    return;
  }
  if (kinds[0] == "header") {
    if (auto v = m->get("header")->token("header name")) hash_on = HashOn{HashOn::Kind::kHeader, *v};
  } else {
    if (auto v = m->get("cookie")->token("cookie name")) hash_on = HashOn{HashOn::Kind::kCookie, *v};
  }
}

void parseEndpoints(const Field& field, std::vector<Endpoint>& endpoints) {
  auto items = field.list();
  if (!items) return;
  if (items->empty()) {
    field.error("must not be empty: a cluster needs at least one endpoint");
    return;
  }
  Taken seen;
  for (const Field& item : *items) {
    Endpoint endpoint;
    std::optional<Field> address_field;
    if (item.isScalar()) {
      address_field = item;
    } else {
      auto m = FieldMap::open(item, {"address", "weight"});
      if (!m) continue;
      address_field = m->required("address");
      m->read("weight", endpoint.weight, 1, kMaxEndpointWeight);
    }
    if (!address_field) continue;
    auto address = address_field->address();
    if (!address) continue;
    if (address->host == "0.0.0.0" || address->host == "::") {
      address_field->error(address->host + " cannot be an endpoint: it means any local address");
      continue;
    }
    endpoint.address = *address;
    if (const std::string* other = seen.claim(address->text(), item.path())) {
      address_field->error("duplicate endpoint " + address->text() + " (also " + *other + ")");
      continue;
    }
    endpoints.push_back(endpoint);
  }
}

void parseCircuitBreakers(const Field& field, CircuitBreakers& breakers) {
  auto m = FieldMap::open(field, {"max_connections", "max_pending_requests", "max_requests"});
  if (!m) return;
  m->read("max_connections", breakers.max_connections, 0, UINT32_MAX);
  m->read("max_pending_requests", breakers.max_pending_requests, 0, UINT32_MAX);
  m->read("max_requests", breakers.max_requests, 0, UINT32_MAX);
}

void parseRetryBudget(const Field& field, RetryBudget& budget) {
  auto m = FieldMap::open(field, {"budget_percent", "min_retry_concurrency"});
  if (!m) return;
  m->read("budget_percent", budget.budget_percent, 0, 100);
  m->read("min_retry_concurrency", budget.min_retry_concurrency, 0, kMaxRetryConcurrency);
}

std::optional<Cluster::ProxyProtocol> proxyProtocol(const Field& field) {
  auto v = field.oneOf({"none", "v1", "v2"});
  if (!v) return std::nullopt;
  if (*v == "v1") return Cluster::ProxyProtocol::kV1;
  if (*v == "v2") return Cluster::ProxyProtocol::kV2;
  return Cluster::ProxyProtocol::kNone;
}

Cluster parseCluster(const Field& field, Taken& names) {
  Cluster cluster;
  auto m = FieldMap::open(
      field, {"name", "lb", "hash_on", "endpoints", "connect_timeout", "response_timeout", "idle_timeout",
              "max_idle_per_endpoint", "health_check", "outlier_detection", "circuit_breakers",
              "retry_budget", "panic_threshold_percent", "send_proxy_protocol", "retry_policy"});
  if (!m) return cluster;
  if (auto f = m->required("name")) {
    if (auto v = f->name()) {
      cluster.name = *v;
      if (const std::string* other = names.claim(cluster.name, field.path())) {
        f->error("duplicate cluster name \"" + cluster.name + "\" (also " + *other + ")");
      }
    }
  }
  if (auto f = m->get("lb")) {
    if (auto v = lbPolicy(*f)) cluster.lb = *v;
  }
  if (auto f = m->get("hash_on")) parseHashOn(*f, cluster.hash_on);
  if (auto f = m->required("endpoints")) parseEndpoints(*f, cluster.endpoints);
  m->readDuration("connect_timeout", cluster.connect_timeout, Millis(1));
  m->readDuration("response_timeout", cluster.response_timeout);
  m->readDuration("idle_timeout", cluster.idle_timeout, Millis(1));
  m->read("max_idle_per_endpoint", cluster.max_idle_per_endpoint, 0, 1'000'000);
  if (auto f = m->get("health_check")) cluster.health_check = parseHealthCheck(*f);
  if (auto f = m->get("outlier_detection")) parseOutlierDetection(*f, cluster.outlier_detection);
  if (auto f = m->get("circuit_breakers")) parseCircuitBreakers(*f, cluster.circuit_breakers);
  if (auto f = m->get("retry_budget")) parseRetryBudget(*f, cluster.retry_budget);
  m->read("panic_threshold_percent", cluster.panic_threshold_percent, 0, 100);
  if (auto f = m->get("send_proxy_protocol")) {
    if (auto v = proxyProtocol(*f)) cluster.send_proxy_protocol = *v;
  }
  if (auto f = m->get("retry_policy")) cluster.default_retry_policy = parseRetryPolicy(*f);
  return cluster;
}

}  // namespace

void parseClusters(const Field& field, std::vector<Cluster>& clusters, ParseContext& context) {
  auto items = field.list();
  if (!items) {
    context.clusters_known = false;
    return;
  }
  Taken names;
  for (const Field& item : *items) {
    clusters.push_back(parseCluster(item, names));
    const Cluster& cluster = clusters.back();
    const std::string& name = cluster.name;
    if (!name.empty() && context.cluster_set.insert(name).second) context.cluster_names.push_back(name);
    if (!name.empty() && cluster.send_proxy_protocol != Cluster::ProxyProtocol::kNone)
      context.proxy_protocol_clusters.insert(name);
  }
}

}  // namespace pier::config
