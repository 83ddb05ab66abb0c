#include <gtest/gtest.h>

#include <map>
#include <string>

#include "src/router/router.h"

namespace pier::router {
namespace {

using config::Redirect;
using config::Route;
using config::RouteMatch;
using PathKind = config::RouteMatch::PathKind;

Route prefixRoute(std::string prefix, std::string rewrite) {
  Route route;
  route.match.path_kind = PathKind::kPrefix;
  route.match.path = std::move(prefix);
  route.prefix_rewrite = std::move(rewrite);
  return route;
}

// --- rewritePath -------------------------------------------------------------

TEST(RewritePath, ReplacesMatchedPrefix) {
  EXPECT_EQ(rewritePath(prefixRoute("/api/", "/v2/"), "/api/users"), "/v2/users");
}

TEST(RewritePath, WithoutRewriteIsUnchanged) {
  Route route;
  route.match.path = "/api";
  EXPECT_EQ(rewritePath(route, "/api/users"), "/api/users");
}

TEST(RewritePath, OnlyPrefixMatchesRewrite) {
  Route route = prefixRoute("/api", "/v2");
  route.match.path_kind = PathKind::kExact;
  EXPECT_EQ(rewritePath(route, "/api"), "/api");
  route.match.path_kind = PathKind::kRegex;
  EXPECT_EQ(rewritePath(route, "/api"), "/api");
}

TEST(RewritePath, CaseInsensitivePrefixIsReplaced) {
  Route route = prefixRoute("/api", "/v2");
  route.match.case_sensitive = false;
  EXPECT_EQ(rewritePath(route, "/API/x"), "/v2/x");
}

TEST(RewritePath, CaseSensitivePrefixThatDoesNotCoverPathIsUnchanged) {
  EXPECT_EQ(rewritePath(prefixRoute("/api", "/v2"), "/API/x"), "/API/x");
}

TEST(RewritePath, NeverEmpty) {
  EXPECT_EQ(rewritePath(prefixRoute("/api", ""), "/api"), "/");
  Route plain;
  EXPECT_EQ(rewritePath(plain, ""), "/");
}

// --- redirectLocation --------------------------------------------------------

RouteMatch prefixMatch(std::string prefix) {
  RouteMatch match;
  match.path_kind = PathKind::kPrefix;
  match.path = std::move(prefix);
  return match;
}

std::string location(const Redirect& redirect, std::string host = "example.com", std::string path = "/a/b",
                     std::string query = "x=1", const RouteMatch& match = prefixMatch("/a")) {
  return redirectLocation(redirect, match, "http", host, path, query);
}

TEST(Redirect, DefaultsKeepEverything) { EXPECT_EQ(location(Redirect{}), "http://example.com/a/b?x=1"); }

TEST(Redirect, DefaultKeepsRequestPort) {
  EXPECT_EQ(location(Redirect{}, "example.com:8080"), "http://example.com:8080/a/b?x=1");
}

TEST(Redirect, Scheme) {
  Redirect redirect;
  redirect.scheme = "https";
  EXPECT_EQ(location(redirect), "https://example.com/a/b?x=1");
  EXPECT_EQ(location(redirect, "example.com:8080"), "https://example.com:8080/a/b?x=1");
}

TEST(Redirect, SchemeChangeDropsOldDefaultPort) {
  Redirect redirect;
  redirect.scheme = "https";
  EXPECT_EQ(location(redirect, "example.com:80"), "https://example.com/a/b?x=1");
}

TEST(Redirect, Host) {
  Redirect redirect;
  redirect.host = "other.example";
  EXPECT_EQ(location(redirect, "example.com:8080"), "http://other.example/a/b?x=1");
}

TEST(Redirect, PortReplacesRequestPort) {
  Redirect redirect;
  redirect.port = 8443;
  EXPECT_EQ(location(redirect, "example.com:8080"), "http://example.com:8443/a/b?x=1");
  EXPECT_EQ(location(redirect, "example.com"), "http://example.com:8443/a/b?x=1");
}

TEST(Redirect, DefaultPortOfNewSchemeIsImplicit) {
  Redirect redirect;
  redirect.scheme = "https";
  redirect.port = 443;
  EXPECT_EQ(location(redirect, "example.com:8080"), "https://example.com/a/b?x=1");
}

TEST(Redirect, HostAndPortTogether) {
  Redirect redirect;
  redirect.host = "other.example";
  redirect.port = 9000;
  EXPECT_EQ(location(redirect), "http://other.example:9000/a/b?x=1");
}

TEST(Redirect, Ipv6RequestHostKeepsBrackets) {
  Redirect redirect;
  redirect.port = 9000;
  EXPECT_EQ(location(redirect, "[::1]:8080"), "http://[::1]:9000/a/b?x=1");
  EXPECT_EQ(location(Redirect{}, "[::1]:8080"), "http://[::1]:8080/a/b?x=1");
}

TEST(Redirect, BareIpv6RedirectHostGetsBrackets) {
  Redirect redirect;
  redirect.host = "2001:db8::1";
  EXPECT_EQ(location(redirect), "http://[2001:db8::1]/a/b?x=1");
}

TEST(Redirect, PathReplacesWholePath) {
  Redirect redirect;
  redirect.path = "/new";
  EXPECT_EQ(location(redirect), "http://example.com/new?x=1");
}

TEST(Redirect, PathWithQueryReplacesQuery) {
  Redirect redirect;
  redirect.path = "/new?y=2";
  EXPECT_EQ(location(redirect), "http://example.com/new?y=2");
}

TEST(Redirect, PrefixRewriteReplacesMatchedPrefix) {
  Redirect redirect;
  redirect.prefix_rewrite = "/z";
  EXPECT_EQ(location(redirect), "http://example.com/z/b?x=1");
}

TEST(Redirect, PrefixRewriteIgnoredForNonPrefixMatch) {
  Redirect redirect;
  redirect.prefix_rewrite = "/z";
  RouteMatch exact = prefixMatch("/a/b");
  exact.path_kind = PathKind::kExact;
  EXPECT_EQ(location(redirect, "example.com", "/a/b", "x=1", exact), "http://example.com/a/b?x=1");
}

TEST(Redirect, PrefixRewriteToEmptyGivesSlash) {
  Redirect redirect;
  redirect.prefix_rewrite = "";
  EXPECT_EQ(location(redirect, "example.com", "/a", ""), "http://example.com/");
}

TEST(Redirect, StripQuery) {
  Redirect redirect;
  redirect.strip_query = true;
  EXPECT_EQ(location(redirect), "http://example.com/a/b");
}

TEST(Redirect, NoQueryNoQuestionMark) {
  EXPECT_EQ(location(Redirect{}, "example.com", "/a", ""), "http://example.com/a");
}

// --- pickCluster -------------------------------------------------------------

TEST(PickCluster, SingleClusterWins) {
  Route route;
  route.cluster = "only";
  route.weighted_clusters = {{"ignored", 1}};
  EXPECT_EQ(pickCluster(route, 12345), "only");
}

TEST(PickCluster, WeightedChoiceFollowsRandom) {
  Route route;
  route.weighted_clusters = {{"a", 1}, {"b", 3}};
  EXPECT_EQ(pickCluster(route, 0), "a");
  EXPECT_EQ(pickCluster(route, 1), "b");
  EXPECT_EQ(pickCluster(route, 3), "b");
  EXPECT_EQ(pickCluster(route, 4), "a");
}

TEST(PickCluster, DistributionFollowsWeights) {
  Route route;
  route.weighted_clusters = {{"a", 10}, {"b", 30}, {"c", 60}};
  std::map<std::string, int> counts;
  // A full cycle of residues is exact; the multiplier scatters the inputs.
  for (uint64_t i = 0; i < 10000; ++i) ++counts[pickCluster(route, i * 0x9e3779b97f4a7c15ULL)];
  EXPECT_NEAR(counts["a"], 1000, 100);
  EXPECT_NEAR(counts["b"], 3000, 150);
  EXPECT_NEAR(counts["c"], 6000, 150);
}

TEST(PickCluster, ZeroWeightClusterIsNeverPicked) {
  Route route;
  route.weighted_clusters = {{"never", 0}, {"always", 2}};
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(pickCluster(route, i), "always");
}

}  // namespace
}  // namespace pier::router
