#include "src/router/router.h"

#include <optional>

#include "src/router/ascii.h"
#include "src/router/host_table.h"
#include "src/router/matchers.h"

namespace pier::router {

namespace {

struct CompiledRoute {
  const config::Route* route = nullptr;
  std::unique_ptr<RE2> path_regex;  // only for PathKind::kRegex
  std::vector<KeyValueMatcher> headers;
  std::vector<KeyValueMatcher> query_params;
};

bool pathMatches(const CompiledRoute& compiled, std::string_view path) {
  const config::RouteMatch& match = compiled.route->match;
  switch (match.path_kind) {
    case config::RouteMatch::PathKind::kPrefix:
      return startsWith(path, match.path, match.case_sensitive);
    case config::RouteMatch::PathKind::kExact:
      return match.case_sensitive ? path == match.path : asciiIequals(path, match.path);
    case config::RouteMatch::PathKind::kRegex:
      return RE2::FullMatch(path, *compiled.path_regex);
  }
  return false;
}

bool methodMatches(const config::RouteMatch& match, std::string_view method) {
  if (match.methods.empty()) return true;
  for (const std::string& allowed : match.methods) {
    if (allowed == method) return true;
  }
  return false;
}

Result<CompiledRoute> compileRoute(const config::Route& route, const std::string& where) {
  CompiledRoute compiled;
  compiled.route = &route;
  const config::RouteMatch& match = route.match;
  if (match.path_kind == config::RouteMatch::PathKind::kRegex) {
    auto regex = compileRegex(match.path, match.case_sensitive, where + ": path");
    if (!regex) return Error{regex.error()};
    compiled.path_regex = std::move(regex).value();
  }
  for (const config::KeyValueMatch& header : match.headers) {
    auto matcher = KeyValueMatcher::compile(header, where + ": header \"" + header.name + "\"");
    if (!matcher) return Error{matcher.error()};
    compiled.headers.push_back(std::move(matcher).value());
  }
  for (const config::KeyValueMatch& param : match.query_params) {
    auto matcher = KeyValueMatcher::compile(param, where + ": query parameter \"" + param.name + "\"");
    if (!matcher) return Error{matcher.error()};
    compiled.query_params.push_back(std::move(matcher).value());
  }
  return compiled;
}

}  // namespace

struct Router::Impl {
  // Routes are not copied: route() returns pointers into the Listener the
  // router was built from, so callers can key per-route state by them. The
  // config snapshot owns both and keeps the Listener alive.
  const std::vector<config::VirtualHost>* virtual_hosts = nullptr;
  std::vector<std::vector<CompiledRoute>> routes;  // parallel to virtual_hosts
  HostTable hosts;
};

Router::Router() : impl_(std::make_unique<Impl>()) {}
Router::~Router() = default;

Result<std::unique_ptr<Router>> Router::build(const config::Listener& listener) {
  std::unique_ptr<Router> router(new Router());
  Impl& impl = *router->impl_;
  impl.virtual_hosts = &listener.virtual_hosts;
  impl.routes.resize(listener.virtual_hosts.size());
  for (size_t v = 0; v < listener.virtual_hosts.size(); ++v) {
    const config::VirtualHost& vhost = listener.virtual_hosts[v];
    std::string vhost_where = "listener \"" + listener.name + "\": virtual host \"" + vhost.name + "\"";
    for (const std::string& domain : vhost.domains) {
      Status added = impl.hosts.add(domain, static_cast<int>(v));
      if (!added) return Error{vhost_where + ": " + added.error()};
    }
    for (size_t r = 0; r < vhost.routes.size(); ++r) {
      const config::Route& route = vhost.routes[r];
      std::string where =
          vhost_where + ": route \"" + (route.name.empty() ? std::to_string(r) : route.name) + "\"";
      auto compiled = compileRoute(route, where);
      if (!compiled) return Error{compiled.error()};
      impl.routes[v].push_back(std::move(compiled).value());
    }
  }
  impl.hosts.finish();
  return router;
}

const config::Route* Router::route(const RouteRequest& request) const {
  int vhost = impl_->hosts.find(request.host);
  if (vhost < 0) return nullptr;
  // Decoded once, and only if some candidate route looks at the query.
  std::optional<QueryParams> params;
  for (const CompiledRoute& compiled : impl_->routes[vhost]) {
    if (!pathMatches(compiled, request.path)) continue;
    if (!methodMatches(compiled.route->match, request.method)) continue;
    bool accepted = true;
    for (const KeyValueMatcher& header : compiled.headers) {
      if (!header.matchesHeaders(request.headers)) {
        accepted = false;
        break;
      }
    }
    if (!accepted) continue;
    if (!compiled.query_params.empty() && !params) params = parseQuery(request.query);
    for (const KeyValueMatcher& param : compiled.query_params) {
      if (!param.matchesQuery(*params)) {
        accepted = false;
        break;
      }
    }
    if (accepted) return compiled.route;
  }
  return nullptr;
}

}  // namespace pier::router
