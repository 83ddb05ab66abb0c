// toJson: the config in the YAML schema's own shape (JSON is YAML), so that
// the admin /config output can be saved and loaded again as a config file.
#include <nlohmann/json.hpp>

#include "src/config/loader.h"
#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

using nlohmann::json;

json stringMatchJson(const KeyValueMatch& m) {
  json out = {{"name", m.name}, {"invert", m.invert}};
  switch (m.match.kind) {
    case StringMatch::Kind::kExact:
      out["exact"] = m.match.value;
      break;
    case StringMatch::Kind::kPrefix:
      out["prefix"] = m.match.value;
      break;
    case StringMatch::Kind::kSuffix:
      out["suffix"] = m.match.value;
      break;
    case StringMatch::Kind::kRegex:
      out["regex"] = m.match.value;
      break;
    case StringMatch::Kind::kPresent:
      out["present"] = true;
      break;
  }
  return out;
}

json matchJson(const RouteMatch& match) {
  json out = {{"case_sensitive", match.case_sensitive}, {"methods", match.methods}};
  const char* kind = match.path_kind == RouteMatch::PathKind::kPrefix  ? "prefix"
                     : match.path_kind == RouteMatch::PathKind::kExact ? "exact"
                                                                       : "regex";
  out[kind] = match.path;
  out["headers"] = json::array();
  for (const auto& h : match.headers) out["headers"].push_back(stringMatchJson(h));
  out["query_params"] = json::array();
  for (const auto& q : match.query_params) out["query_params"].push_back(stringMatchJson(q));
  return out;
}

json headersJson(const std::vector<HeaderToAdd>& headers) {
  json out = json::array();
  for (const auto& h : headers) out.push_back({{"name", h.name}, {"value", h.value}, {"append", h.append}});
  return out;
}

json retryPolicyJson(const RetryPolicy& policy) {
  json on = json::array();
  for (const RetryOnName& name : retryOnNames()) {
    if (policy.retry_on & name.bit) on.push_back(name.name);
  }
  json out = {{"retry_on", on},
              {"num_retries", policy.num_retries},
              {"max_buffered_body_bytes", policy.max_buffered_body_bytes}};
  // Only allowed (and then required) with the retriable-status-codes condition.
  if (policy.retry_on & RetryPolicy::kRetriableStatusCodes)
    out["retriable_status_codes"] = policy.retriable_status_codes;
  if (policy.per_try_timeout) out["per_try_timeout"] = formatDuration(*policy.per_try_timeout);
  return out;
}

// A script as it was configured: a file stays a file reference, so the JSON
// loads back into the same configuration.
json dataSourceJson(const DataSource& source) {
  if (!source.filename.empty()) return {{"filename", source.filename}};
  return {{"inline_string", source.code}};
}

json routeFiltersJson(const std::map<std::string, RouteFilterOverride>& filters) {
  json out = json::object();
  for (const auto& [name, o] : filters) {
    json entry = json::object();
    if (o.disabled) entry["disabled"] = true;
    if (!o.name.empty()) entry["name"] = o.name;
    if (o.source_code) entry["source_code"] = dataSourceJson(*o.source_code);
    if (o.filter_context) entry["filter_context"] = *o.filter_context;
    out[name] = entry;
  }
  return out;
}

json httpFilterJson(const HttpFilter& filter) {
  const LuaFilter& lua = filter.lua;
  json body = {{"fail_closed", lua.fail_closed},
               {"sandbox", lua.sandbox},
               {"metadata_namespace", lua.metadata_namespace},
               {"stat_prefix", lua.stat_prefix}};
  if (lua.default_source_code) body["default_source_code"] = dataSourceJson(*lua.default_source_code);
  json codes = json::object();
  for (const auto& [name, source] : lua.source_codes) codes[name] = dataSourceJson(source);
  body["source_codes"] = codes;
  return {{"name", filter.name}, {"lua", body}};
}

json routeJson(const Route& route) {
  json out = {{"name", route.name}, {"match", matchJson(route.match)}};
  if (route.redirect) {
    const Redirect& r = *route.redirect;
    json redirect = {{"strip_query", r.strip_query}, {"status", r.status}};
    if (r.scheme) redirect["scheme"] = *r.scheme;
    if (r.host) redirect["host"] = *r.host;
    if (r.port) redirect["port"] = *r.port;
    if (r.path) redirect["path"] = *r.path;
    if (r.prefix_rewrite) redirect["prefix_rewrite"] = *r.prefix_rewrite;
    out["redirect"] = redirect;
  } else if (route.direct_response) {
    const DirectResponse& d = *route.direct_response;
    out["direct_response"] = {{"status", d.status}, {"body", d.body}, {"content_type", d.content_type}};
  } else if (!route.weighted_clusters.empty()) {
    json weighted = json::array();
    for (const auto& w : route.weighted_clusters)
      weighted.push_back({{"cluster", w.cluster}, {"weight", w.weight}});
    out["weighted_clusters"] = weighted;
  } else {
    out["cluster"] = route.cluster;
  }
  if (route.prefix_rewrite) out["prefix_rewrite"] = *route.prefix_rewrite;
  if (route.host_rewrite) out["host_rewrite"] = *route.host_rewrite;
  if (route.timeout) out["timeout"] = formatDuration(*route.timeout);
  if (route.retry_policy) out["retry_policy"] = retryPolicyJson(*route.retry_policy);
  out["request_headers_to_add"] = headersJson(route.request_headers_to_add);
  out["request_headers_to_remove"] = route.request_headers_to_remove;
  out["response_headers_to_add"] = headersJson(route.response_headers_to_add);
  out["response_headers_to_remove"] = route.response_headers_to_remove;
  if (!route.filters.empty()) out["filters"] = routeFiltersJson(route.filters);
  if (route.metadata) out["metadata"] = {{"filter_metadata", *route.metadata}};
  return out;
}

json accessLogJson(const AccessLog& log) {
  return {{"enabled", log.enabled},
          {"path", log.path},
          {"format", log.format == AccessLog::Format::kJson ? "json" : "text"},
          {"text_format", log.text_format},
          {"json_fields", log.json_fields}};
}

json listenerJson(const Listener& listener) {
  json out = {{"name", listener.name},
              {"address", listener.address.text()},
              {"protocol", toString(listener.protocol)}};
  // Each protocol's own fields only: the others are errors when loaded back.
  if (listener.protocol != Protocol::kUdp) {
    out["access_log"] = accessLogJson(listener.access_log);
    out["accept_proxy_protocol"] = listener.accept_proxy_protocol;
  }
  if (listener.protocol != Protocol::kHttp) {
    out["cluster"] = listener.cluster;
    out["tcp_idle_timeout"] = formatDuration(listener.tcp_idle_timeout);
    return out;
  }
  json vhosts = json::array();
  for (const VirtualHost& vhost : listener.virtual_hosts) {
    json routes = json::array();
    for (const Route& route : vhost.routes) routes.push_back(routeJson(route));
    vhosts.push_back({{"name", vhost.name}, {"domains", vhost.domains}, {"routes", routes}});
  }
  out["virtual_hosts"] = vhosts;
  const HttpLimits& l = listener.limits;
  out["limits"] = {{"max_request_headers_bytes", l.max_request_headers_bytes},
                   {"max_headers", l.max_headers},
                   {"max_request_body_bytes", l.max_request_body_bytes},
                   {"max_chunk_extension_bytes", l.max_chunk_extension_bytes},
                   {"request_headers_timeout", formatDuration(l.request_headers_timeout)},
                   {"idle_timeout", formatDuration(l.idle_timeout)},
                   {"max_requests_per_connection", l.max_requests_per_connection},
                   {"request_timeout", formatDuration(l.request_timeout)},
                   {"filter_buffer_bytes", l.filter_buffer_bytes}};
  json filters = json::array();
  for (const HttpFilter& f : listener.filters) filters.push_back(httpFilterJson(f));
  out["filters"] = filters;
  const ForwardingHeaders& f = listener.forwarding;
  out["forwarding"] = {{"x_forwarded_for", f.x_forwarded_for},
                       {"x_forwarded_proto", f.x_forwarded_proto},
                       {"request_id_header", f.request_id_header},
                       {"via", f.via}};
  return out;
}

json hashOnJson(const HashOn& hash_on) {
  switch (hash_on.kind) {
    case HashOn::Kind::kHeader:
      return {{"header", hash_on.name}};
    case HashOn::Kind::kCookie:
      return {{"cookie", hash_on.name}};
    case HashOn::Kind::kSourceIp:
      break;
  }
  return "source_ip";
}

// A single code as a number, a range as "low-high", as the YAML accepts them.
json statusRangeJson(const std::pair<int, int>& range) {
  if (range.first == range.second) return range.first;
  return std::to_string(range.first) + "-" + std::to_string(range.second);
}

json healthCheckJson(const HealthCheck& check) {
  json out = {{"interval", formatDuration(check.interval)},
              {"timeout", formatDuration(check.timeout)},
              {"jitter", formatDuration(check.jitter)},
              {"healthy_threshold", check.healthy_threshold},
              {"unhealthy_threshold", check.unhealthy_threshold}};
  if (check.kind == HealthCheck::Kind::kTcp) {
    out["type"] = "tcp";
    out["send"] = check.send;
    out["expect"] = check.expect;
    return out;
  }
  out["type"] = "http";
  out["path"] = check.path;
  if (!check.host.empty()) out["host"] = check.host;  // empty: the endpoint's address
  json statuses = json::array();
  for (const auto& range : check.expected_statuses) statuses.push_back(statusRangeJson(range));
  out["expected_statuses"] = statuses;
  return out;
}

json outlierDetectionJson(const OutlierDetection& o) {
  return {{"enabled", o.enabled},
          {"consecutive_5xx", o.consecutive_5xx},
          {"consecutive_gateway_failure", o.consecutive_gateway_failure},
          {"base_ejection_time", formatDuration(o.base_ejection_time)},
          {"max_ejection_time", formatDuration(o.max_ejection_time)},
          {"max_ejection_percent", o.max_ejection_percent}};
}

const char* proxyProtocolName(Cluster::ProxyProtocol p) {
  switch (p) {
    case Cluster::ProxyProtocol::kV1:
      return "v1";
    case Cluster::ProxyProtocol::kV2:
      return "v2";
    case Cluster::ProxyProtocol::kNone:
      break;
  }
  return "none";
}

json clusterJson(const Cluster& cluster) {
  json endpoints = json::array();
  for (const Endpoint& e : cluster.endpoints)
    endpoints.push_back({{"address", e.address.text()}, {"weight", e.weight}});
  const CircuitBreakers& b = cluster.circuit_breakers;
  json out = {{"name", cluster.name},
              {"lb", toString(cluster.lb)},
              {"hash_on", hashOnJson(cluster.hash_on)},
              {"endpoints", endpoints},
              {"connect_timeout", formatDuration(cluster.connect_timeout)},
              {"response_timeout", formatDuration(cluster.response_timeout)},
              {"idle_timeout", formatDuration(cluster.idle_timeout)},
              {"max_idle_per_endpoint", cluster.max_idle_per_endpoint},
              {"outlier_detection", outlierDetectionJson(cluster.outlier_detection)},
              {"circuit_breakers",
               {{"max_connections", b.max_connections},
                {"max_pending_requests", b.max_pending_requests},
                {"max_requests", b.max_requests}}},
              {"retry_budget",
               {{"budget_percent", cluster.retry_budget.budget_percent},
                {"min_retry_concurrency", cluster.retry_budget.min_retry_concurrency}}},
              {"panic_threshold_percent", cluster.panic_threshold_percent},
              {"send_proxy_protocol", proxyProtocolName(cluster.send_proxy_protocol)},
              {"retry_policy", retryPolicyJson(cluster.default_retry_policy)}};
  if (cluster.health_check) out["health_check"] = healthCheckJson(*cluster.health_check);
  return out;
}

// Pools show their covering CIDR blocks, which load back to the same
// addresses in the same order. Services show what was written (pool or
// address), not the assigned address: that loads back to the same assignment.
json virtualIpsJson(const VirtualIps& v) {
  json pools = json::array();
  for (const VipPool& pool : v.pools) {
    json out = {{"name", pool.name}, {"addresses", pool.cidrs}};
    if (!pool.interfaces.empty()) out["interfaces"] = pool.interfaces;  // empty: all of virtual_ips'
    pools.push_back(out);
  }
  json services = json::array();
  for (const VipService& service : v.services) {
    json ports = json::array();
    for (const VipServicePort& port : service.ports) {
      json p = {{"port", port.port}, {"protocol", toString(port.protocol)}};
      if (!port.listener.empty()) p["listener"] = port.listener;  // none: announce only
      ports.push_back(p);
    }
    json out = {{"name", service.name}, {"ports", ports}, {"clusters", service.clusters}};
    if (service.pool.empty()) {
      out["address"] = service.address;
    } else {
      out["pool"] = service.pool;
    }
    services.push_back(out);
  }
  return {{"node_name", v.node_name},
          {"key_file", v.key_file},
          {"interfaces", v.interfaces},
          {"heartbeat",
           {{"interval", formatDuration(v.heartbeat_interval)},
            {"dead_after_missed", v.dead_after_missed},
            {"port", v.heartbeat_port},
            {"group", v.heartbeat_group},
            {"peers", v.peers}}},
          {"announce",
           {{"repeats", v.announce_repeats},
            {"spacing", formatDuration(v.announce_spacing)},
            {"refresh_interval", formatDuration(v.refresh_interval)}}},
          {"manage_host", v.manage_host},
          {"pools", pools},
          {"services", services}};
}

}  // namespace

nlohmann::json toJson(const Config& config) {
  json listeners = json::array();
  for (const Listener& l : config.listeners) listeners.push_back(listenerJson(l));
  json clusters = json::array();
  for (const Cluster& c : config.clusters) clusters.push_back(clusterJson(c));
  json out = {{"admin", {{"enabled", config.admin.enabled}, {"address", config.admin.address.text()}}},
              {"workers", config.workers},
              {"drain_timeout", formatDuration(config.drain_timeout)},
              {"log_level", config.log_level},
              {"listeners", listeners},
              {"clusters", clusters}};
  // Only when configured: the section's required fields have no defaults.
  if (config.virtual_ips.enabled) out["virtual_ips"] = virtualIpsJson(config.virtual_ips);
  return out;
}

}  // namespace pier::config
