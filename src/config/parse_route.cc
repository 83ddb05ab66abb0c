// routes: what a request must look like (match) and what to do with it (action).
#include <re2/re2.h>

#include <algorithm>
#include <cctype>

#include "src/config/parse.h"
#include "src/config/values.h"

namespace pier::config {
namespace {

constexpr uint32_t kMaxRouteWeight = 10'000;

bool compiles(const Field& field, const std::string& pattern, bool case_sensitive) {
  RE2::Options options;
  options.set_log_errors(false);  // the error goes into our message instead of stderr
  options.set_case_sensitive(case_sensitive);
  RE2 re(pattern, options);
  if (!re.ok()) {
    field.error("invalid regex: " + re.error());
    return false;
  }
  return true;
}

// A path to match or produce: starts with '/', and holds no query.
std::optional<std::string> path(const Field& field) {
  auto v = field.string();
  if (!v) return std::nullopt;
  if (!v->starts_with('/')) {
    field.error("must start with '/', got \"" + *v + "\"");
    return std::nullopt;
  }
  if (v->find_first_of("?# \t\r\n") != std::string::npos) {
    field.error("must not contain '?', '#' or whitespace (match query parameters with query_params)");
    return std::nullopt;
  }
  return v;
}

// Reports the second of several mutually exclusive keys; returns the single
// present key, or nullopt when none or several are.
std::optional<std::string_view> exactlyOne(const FieldMap& m, std::initializer_list<std::string_view> keys,
                                           std::string_view what) {
  auto found = m.present(keys);
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    m.self().error("needs " + std::string(what));
  } else {
    m.get(found[1])->error("conflicts with \"" + std::string(found[0]) + "\": " + std::string(what));
  }
  return std::nullopt;
}

// headers and query_params entries. Header names must be tokens; query
// parameter names may be any non-empty string.
KeyValueMatch parseKeyValueMatch(const Field& field, bool header) {
  KeyValueMatch match;
  auto m = FieldMap::open(field, {"name", "exact", "prefix", "suffix", "regex", "present", "invert"});
  if (!m) return match;
  if (auto f = m->required("name")) {
    if (auto v = header ? f->token("header name") : f->nonEmptyString()) match.name = *v;
  }
  m->read("invert", match.invert);
  auto kind = exactlyOne(*m, {"exact", "prefix", "suffix", "regex", "present"},
                         "exactly one of exact, prefix, suffix, regex or present");
  if (!kind) return match;
  Field f = *m->get(*kind);
  if (*kind == "present") {
    // present: false matches when the key is absent.
    if (auto v = f.boolean()) {
      match.match.kind = StringMatch::Kind::kPresent;
      if (!*v) match.invert = !match.invert;
    }
    return match;
  }
  auto value = f.string();
  if (!value) return match;
  match.match.value = *value;
  if (*kind == "exact") match.match.kind = StringMatch::Kind::kExact;
  if (*kind == "prefix") match.match.kind = StringMatch::Kind::kPrefix;
  if (*kind == "suffix") match.match.kind = StringMatch::Kind::kSuffix;
  if (*kind == "regex") {
    match.match.kind = StringMatch::Kind::kRegex;
    compiles(f, *value, true);
  }
  return match;
}

// Returns false if the path matcher is missing or invalid, so that checks
// depending on its kind are skipped.
bool parseMatch(const Field& field, RouteMatch& match) {
  auto m = FieldMap::open(
      field, {"prefix", "exact", "regex", "case_sensitive", "methods", "headers", "query_params"});
  if (!m) return false;
  m->read("case_sensitive", match.case_sensitive);
  if (auto f = m->get("methods")) {
    if (auto items = f->list()) {
      for (const Field& item : *items) {
        auto v = item.token("method");
        if (!v) continue;
        if (std::any_of(v->begin(), v->end(), [](unsigned char c) { return std::islower(c); })) {
          std::string upper = *v;
          std::transform(upper.begin(), upper.end(), upper.begin(),
                         [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
          item.error("methods are case-sensitive; write \"" + upper + "\"");
          continue;
        }
        match.methods.push_back(*v);
      }
    }
  }
  for (auto [key, header] : {std::pair{"headers", true}, std::pair{"query_params", false}}) {
    auto f = m->get(key);
    if (!f) continue;
    auto items = f->list();
    if (!items) continue;
    auto& out = header ? match.headers : match.query_params;
    for (const Field& item : *items) out.push_back(parseKeyValueMatch(item, header));
  }
  auto kind = exactlyOne(*m, {"prefix", "exact", "regex"}, "exactly one of prefix, exact or regex");
  if (!kind) return false;
  Field f = *m->get(*kind);
  if (*kind == "regex") {
    auto v = f.string();
    if (!v || !compiles(f, *v, match.case_sensitive)) return false;
    match.path_kind = RouteMatch::PathKind::kRegex;
    match.path = *v;
    return true;
  }
  auto v = path(f);
  if (!v) return false;
  match.path_kind = *kind == "prefix" ? RouteMatch::PathKind::kPrefix : RouteMatch::PathKind::kExact;
  match.path = *v;
  return true;
}

std::vector<HeaderToAdd> parseHeadersToAdd(const Field& field) {
  std::vector<HeaderToAdd> out;
  auto items = field.list();
  if (!items) return out;
  for (const Field& item : *items) {
    auto m = FieldMap::open(item, {"name", "value", "append"});
    if (!m) continue;
    HeaderToAdd header;
    if (auto f = m->required("name")) {
      if (auto v = f->token("header name")) {
        if (isManagedHeader(*v)) {
          f->error("\"" + *v + "\" is managed by pier and cannot be set by a route");
        } else {
          header.name = *v;
        }
      }
    }
    if (auto f = m->required("value")) {
      if (auto v = f->string()) {
        if (isValidHeaderValue(*v)) {
          header.value = *v;
        } else {
          f->error("header values may not contain CR, LF or NUL");
        }
      }
    }
    m->read("append", header.append);
    out.push_back(std::move(header));
  }
  return out;
}

std::vector<std::string> parseHeadersToRemove(const Field& field) {
  std::vector<std::string> out;
  auto items = field.list();
  if (!items) return out;
  for (const Field& item : *items) {
    auto v = item.token("header name");
    if (!v) continue;
    if (isManagedHeader(*v)) {
      item.error("\"" + *v + "\" is managed by pier and cannot be removed by a route");
      continue;
    }
    out.push_back(*v);
  }
  return out;
}

std::vector<WeightedCluster> parseWeightedClusters(const Field& field, const ParseContext& context) {
  std::vector<WeightedCluster> out;
  auto items = field.list();
  if (!items) return out;
  if (items->empty()) {
    field.error("must not be empty");
    return out;
  }
  Taken seen;
  for (const Field& item : *items) {
    auto m = FieldMap::open(item, {"cluster", "weight"});
    if (!m) continue;
    WeightedCluster entry;
    if (auto f = m->required("cluster")) {
      if (auto v = f->name()) {
        entry.cluster = *v;
        checkClusterReference(*f, *v, context);
        if (const std::string* other = seen.claim(entry.cluster, item.path())) {
          f->error("cluster \"" + entry.cluster + "\" is listed twice (also " + *other + ")");
        }
      }
    }
    if (auto f = m->required("weight")) {
      if (auto v = f->unsignedInt(1, kMaxRouteWeight)) entry.weight = static_cast<uint32_t>(*v);
    }
    out.push_back(entry);
  }
  return out;
}

Redirect parseRedirect(const Field& field, std::optional<RouteMatch::PathKind> path_kind) {
  Redirect redirect;
  auto m =
      FieldMap::open(field, {"scheme", "host", "port", "path", "prefix_rewrite", "strip_query", "status"});
  if (!m) return redirect;
  if (auto f = m->get("scheme")) redirect.scheme = f->oneOf({"http", "https"});
  if (auto f = m->get("host")) redirect.host = hostName(*f);
  if (auto f = m->get("port")) {
    if (auto v = f->unsignedInt(1, 65535)) redirect.port = static_cast<uint16_t>(*v);
  }
  if (auto f = m->get("path")) redirect.path = path(*f);
  if (auto f = m->get("prefix_rewrite")) {
    if (m->has("path")) {
      f->error("conflicts with \"path\": a redirect replaces either the whole path or the matched prefix");
    } else if (path_kind && *path_kind != RouteMatch::PathKind::kPrefix) {
      f->error("needs a route that matches by prefix");
    } else {
      redirect.prefix_rewrite = path(*f);
    }
  }
  m->read("strip_query", redirect.strip_query);
  if (auto f = m->get("status")) {
    if (auto v = f->unsignedInt(0, 999)) {
      if (*v == 301 || *v == 302 || *v == 303 || *v == 307 || *v == 308) {
        redirect.status = static_cast<int>(*v);
      } else {
        f->error("must be one of 301, 302, 303, 307, 308; got " + std::to_string(*v));
      }
    }
  }
  if (m->present({"scheme", "host", "port", "path", "prefix_rewrite", "strip_query"}).empty()) {
    field.error("needs at least one of scheme, host, port, path, prefix_rewrite or strip_query");
  }
  return redirect;
}

DirectResponse parseDirectResponse(const Field& field) {
  DirectResponse response;
  auto m = FieldMap::open(field, {"status", "body", "content_type"});
  if (!m) return response;
  if (auto f = m->get("status")) {
    if (auto v = f->unsignedInt(200, 599)) response.status = static_cast<int>(*v);
  }
  m->read("body", response.body);
  if (auto f = m->get("content_type")) {
    if (auto v = f->string()) {
      if (isValidHeaderValue(*v)) {
        response.content_type = *v;
      } else {
        f->error("may not contain CR, LF or NUL");
      }
    }
  }
  return response;
}

}  // namespace

std::optional<std::string> hostName(const Field& field) {
  auto v = field.nonEmptyString();
  if (!v) return std::nullopt;
  for (char c : *v) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '/' || c == '?' || c == '#' || c == '@') {
      field.error("invalid host \"" + *v + "\"");
      return std::nullopt;
    }
  }
  return v;
}

Route parseRoute(const Field& field, std::string default_name, const ParseContext& context,
                 const FilterChainScope& chain) {
  Route route;
  route.name = std::move(default_name);
  auto m =
      FieldMap::open(field, {"name", "match", "cluster", "weighted_clusters", "redirect", "direct_response",
                             "prefix_rewrite", "host_rewrite", "request_headers_to_add",
                             "request_headers_to_remove", "response_headers_to_add",
                             "response_headers_to_remove", "timeout", "retry_policy", "filters", "metadata"});
  if (!m) return route;
  if (auto f = m->get("name")) {
    if (auto v = f->name()) route.name = *v;
  }
  std::optional<RouteMatch::PathKind> path_kind;
  if (auto f = m->required("match")) {
    if (parseMatch(*f, route.match)) path_kind = route.match.path_kind;
  }

  auto action = exactlyOne(*m, {"cluster", "weighted_clusters", "redirect", "direct_response"},
                           "exactly one action: cluster, weighted_clusters, redirect or direct_response");
  if (auto f = m->get("cluster")) {
    if (auto v = f->name()) {
      route.cluster = *v;
      checkClusterReference(*f, *v, context);
    }
  }
  if (auto f = m->get("weighted_clusters")) route.weighted_clusters = parseWeightedClusters(*f, context);
  if (auto f = m->get("redirect")) route.redirect = parseRedirect(*f, path_kind);
  if (auto f = m->get("direct_response")) route.direct_response = parseDirectResponse(*f);

  // Rewrites, the timeout and retries shape the request sent upstream, so
  // they only make sense when the route forwards to a cluster.
  bool forwards = !action || *action == "cluster" || *action == "weighted_clusters";
  auto forwardingOnly = [&](const Field& f) {
    if (forwards) return true;
    f.error("only applies to routes that forward to a cluster, not with \"" + std::string(*action) + "\"");
    return false;
  };
  if (auto f = m->get("prefix_rewrite"); f && forwardingOnly(*f)) {
    if (path_kind && *path_kind != RouteMatch::PathKind::kPrefix) {
      f->error("needs a route that matches by prefix");
    } else {
      route.prefix_rewrite = path(*f);
    }
  }
  if (auto f = m->get("host_rewrite"); f && forwardingOnly(*f)) route.host_rewrite = hostName(*f);
  if (auto f = m->get("timeout"); f && forwardingOnly(*f)) route.timeout = f->duration(Millis(0));
  if (auto f = m->get("retry_policy"); f && forwardingOnly(*f)) route.retry_policy = parseRetryPolicy(*f);

  if (auto f = m->get("request_headers_to_add")) route.request_headers_to_add = parseHeadersToAdd(*f);
  if (auto f = m->get("request_headers_to_remove"))
    route.request_headers_to_remove = parseHeadersToRemove(*f);
  if (auto f = m->get("response_headers_to_add")) route.response_headers_to_add = parseHeadersToAdd(*f);
  if (auto f = m->get("response_headers_to_remove"))
    route.response_headers_to_remove = parseHeadersToRemove(*f);
  if (auto f = m->get("filters")) route.filters = parseRouteFilters(*f, chain, context);
  if (auto f = m->get("metadata")) route.metadata = parseRouteMetadata(*f);
  return route;
}

}  // namespace pier::config
