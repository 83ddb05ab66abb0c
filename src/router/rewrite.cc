// What the router does with a matched route: path rewrite, redirect target,
// weighted cluster choice.
#include <optional>
#include <string>
#include <utility>

#include "src/router/ascii.h"
#include "src/router/host_table.h"
#include "src/router/router.h"

namespace pier::router {

namespace {

// Replaces the matched prefix with `replacement`; nullopt when `match` is not
// a prefix match or does not cover `path`.
std::optional<std::string> replacePrefix(const config::RouteMatch& match, std::string_view path,
                                         const std::string& replacement) {
  if (match.path_kind != config::RouteMatch::PathKind::kPrefix) return std::nullopt;
  if (!startsWith(path, match.path, match.case_sensitive)) return std::nullopt;
  std::string out = replacement;
  out.append(path.substr(match.path.size()));
  return out;
}

std::string nonEmptyPath(std::string path) { return path.empty() ? std::string("/") : path; }

// Splits "host:port" / "[v6]:port" into its parts; the port is "" if absent.
std::pair<std::string_view, std::string_view> splitHostPort(std::string_view authority) {
  std::string_view host = hostWithoutPort(authority);
  std::string_view rest = authority.substr(host.size());
  if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
  return {host, rest};
}

std::string_view defaultPort(std::string_view scheme) {
  if (asciiIequals(scheme, "http")) return "80";
  if (asciiIequals(scheme, "https")) return "443";
  return {};
}

}  // namespace

std::string rewritePath(const config::Route& route, std::string_view path) {
  if (route.prefix_rewrite) {
    if (auto rewritten = replacePrefix(route.match, path, *route.prefix_rewrite)) {
      return nonEmptyPath(std::move(*rewritten));
    }
  }
  return nonEmptyPath(std::string(path));
}

std::string redirectLocation(const config::Redirect& redirect, const config::RouteMatch& match,
                             std::string_view scheme, std::string_view host, std::string_view path,
                             std::string_view query) {
  std::string_view new_scheme = redirect.scheme ? std::string_view(*redirect.scheme) : scheme;

  auto [name, port] = splitHostPort(redirect.host ? std::string_view(*redirect.host) : host);
  std::string port_text(port);
  if (redirect.port) {
    port_text = std::to_string(*redirect.port);
    // A default port is left implicit so that "https://h:443/" reads "https://h/".
    if (port_text == defaultPort(new_scheme)) port_text.clear();
  } else if (!redirect.host && !asciiIequals(new_scheme, scheme) && port_text == defaultPort(scheme)) {
    // http://h:80 redirected to https must not keep :80.
    port_text.clear();
  }

  std::string new_path;
  std::string_view new_query = redirect.strip_query ? std::string_view() : query;
  if (redirect.path) {
    std::string_view configured = *redirect.path;
    size_t question = configured.find('?');
    if (question != std::string_view::npos) {
      // A query written in the redirect replaces the request's.
      new_query = configured.substr(question + 1);
      configured = configured.substr(0, question);
    }
    new_path = configured;
  } else if (redirect.prefix_rewrite) {
    new_path = replacePrefix(match, path, *redirect.prefix_rewrite).value_or(std::string(path));
  } else {
    new_path = path;
  }

  std::string location(new_scheme);
  location += "://";
  // An IPv6 literal written without brackets in the redirect gets them.
  bool bare_v6 = name.find(':') != std::string_view::npos && name.front() != '[';
  if (bare_v6) location += '[';
  location += name;
  if (bare_v6) location += ']';
  if (!port_text.empty()) {
    location += ':';
    location += port_text;
  }
  location += nonEmptyPath(std::move(new_path));
  if (!new_query.empty()) {
    location += '?';
    location += new_query;
  }
  return location;
}

const std::string& pickCluster(const config::Route& route, uint64_t random) {
  if (!route.cluster.empty()) return route.cluster;
  uint64_t total = 0;
  for (const config::WeightedCluster& weighted : route.weighted_clusters) total += weighted.weight;
  if (total == 0) return route.cluster;
  uint64_t point = random % total;
  for (const config::WeightedCluster& weighted : route.weighted_clusters) {
    if (point < weighted.weight) return weighted.cluster;
    point -= weighted.weight;
  }
  return route.weighted_clusters.back().cluster;  // not reached: point < total
}

}  // namespace pier::router
