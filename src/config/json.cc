// toJson: the config in the YAML schema's own shape (JSON is YAML), so that
// the admin /config output can be saved and loaded again as a config file.
#include <nlohmann/json.hpp>

#include "src/config/loader.h"
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
  out["request_headers_to_add"] = headersJson(route.request_headers_to_add);
  out["request_headers_to_remove"] = route.request_headers_to_remove;
  out["response_headers_to_add"] = headersJson(route.response_headers_to_add);
  out["response_headers_to_remove"] = route.response_headers_to_remove;
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
              {"protocol", toString(listener.protocol)},
              {"access_log", accessLogJson(listener.access_log)}};
  if (listener.protocol == Protocol::kTcp) {
    out["cluster"] = listener.cluster;
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
                   {"max_requests_per_connection", l.max_requests_per_connection}};
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

json clusterJson(const Cluster& cluster) {
  json endpoints = json::array();
  for (const Endpoint& e : cluster.endpoints)
    endpoints.push_back({{"address", e.address.text()}, {"weight", e.weight}});
  return {{"name", cluster.name},
          {"lb", toString(cluster.lb)},
          {"hash_on", hashOnJson(cluster.hash_on)},
          {"endpoints", endpoints},
          {"connect_timeout", formatDuration(cluster.connect_timeout)},
          {"response_timeout", formatDuration(cluster.response_timeout)},
          {"idle_timeout", formatDuration(cluster.idle_timeout)},
          {"max_idle_per_endpoint", cluster.max_idle_per_endpoint}};
}

}  // namespace

nlohmann::json toJson(const Config& config) {
  json listeners = json::array();
  for (const Listener& l : config.listeners) listeners.push_back(listenerJson(l));
  json clusters = json::array();
  for (const Cluster& c : config.clusters) clusters.push_back(clusterJson(c));
  return {{"admin", {{"enabled", config.admin.enabled}, {"address", config.admin.address.text()}}},
          {"workers", config.workers},
          {"drain_timeout", formatDuration(config.drain_timeout)},
          {"log_level", config.log_level},
          {"listeners", listeners},
          {"clusters", clusters}};
}

}  // namespace pier::config
