#pragma once
// Chooses a route for a request: virtual host by Host (exact, then the longest
// suffix wildcard "*.example.com", then the longest prefix wildcard "api.*",
// then "*"), then the first route of that host whose match accepts the request.
// Built once per config snapshot (regexes compiled with RE2), read-only after.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/result.h"
#include "src/config/config.h"
#include "src/http/codec.h"

namespace pier::router {

struct RouteRequest {
  std::string_view host;  // Host header; a port suffix is ignored
  std::string_view method;
  std::string_view path;   // without query
  std::string_view query;  // without '?'
  std::span<const http::Header> headers;
};

class Router {
 public:
  // `listener` must outlive the router: returned routes point into it.
  static Result<std::unique_ptr<Router>> build(const config::Listener& listener);
  ~Router();

  // The matched route, or nullptr (the proxy answers 404).
  const config::Route* route(const RouteRequest& request) const;

 private:
  Router();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The path to send upstream after the route's prefix_rewrite (only for
// prefix matches: the matched prefix is replaced).
std::string rewritePath(const config::Route& route, std::string_view path);

// The Location for a redirect action. `scheme` is "http" for now.
std::string redirectLocation(const config::Redirect& redirect, const config::RouteMatch& match,
                             std::string_view scheme, std::string_view host, std::string_view path,
                             std::string_view query);

// Weighted cluster choice; `random` is any uniformly distributed number.
const std::string& pickCluster(const config::Route& route, uint64_t random);

}  // namespace pier::router
