#include "src/router/router.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace pier::router {
namespace {

using config::KeyValueMatch;
using config::Listener;
using config::Route;
using config::RouteMatch;
using config::StringMatch;
using config::VirtualHost;
using PathKind = config::RouteMatch::PathKind;
using Kind = config::StringMatch::Kind;

Route namedRoute(std::string name, PathKind kind = PathKind::kPrefix, std::string path = "/") {
  Route route;
  route.name = std::move(name);
  route.match.path_kind = kind;
  route.match.path = std::move(path);
  route.cluster = "c";
  return route;
}

VirtualHost vhost(std::string name, std::initializer_list<std::string> domains,
                  std::vector<Route> routes = {}) {
  VirtualHost host;
  host.name = name;
  host.domains = domains;
  if (routes.empty()) routes.push_back(namedRoute(name));
  host.routes = std::move(routes);
  return host;
}

// A router together with the Listener it points into.
struct BuiltRouter {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Router> router;
  Router* operator->() const { return router.get(); }
  Router& operator*() const { return *router; }
  bool operator==(std::nullptr_t) const { return router == nullptr; }
};

BuiltRouter build(std::vector<VirtualHost> vhosts) {
  auto listener = std::make_unique<Listener>();
  listener->name = "l";
  listener->virtual_hosts = std::move(vhosts);
  auto router = Router::build(*listener);
  EXPECT_TRUE(router.ok()) << (router.ok() ? "" : router.error());
  return {std::move(listener), router.ok() ? std::move(router).value() : nullptr};
}

// A router with one "*" host holding `routes`.
BuiltRouter buildRoutes(std::vector<Route> routes) {
  return build({vhost("any", {"*"}, routes)});
}

struct Req {
  std::string host = "example.com";
  std::string method = "GET";
  std::string path = "/";
  std::string query;
  std::vector<http::Header> headers;

  RouteRequest view() const { return RouteRequest{host, method, path, query, headers}; }
};

// The name of the route chosen for `req`, or "<none>".
std::string routed(const Router& router, const Req& req) {
  const Route* route = router.route(req.view());
  return route ? route->name : "<none>";
}

std::string routedHost(const Router& router, std::string host) {
  Req req;
  req.host = std::move(host);
  return routed(router, req);
}

// --- virtual hosts -----------------------------------------------------------

class VhostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = build({vhost("default", {"*"}), vhost("prefix-short", {"api.*"}),
                     vhost("prefix-long", {"api.example.*"}), vhost("suffix-short", {"*.com"}),
                     vhost("suffix-long", {"*.example.com"}), vhost("exact", {"www.example.com", "[::1]"})});
    ASSERT_NE(router_, nullptr);
  }
  BuiltRouter router_;
};

TEST_F(VhostTest, ExactBeatsWildcards) { EXPECT_EQ(routedHost(*router_, "www.example.com"), "exact"); }

TEST_F(VhostTest, LongestSuffixWildcardWins) {
  EXPECT_EQ(routedHost(*router_, "img.example.com"), "suffix-long");
  EXPECT_EQ(routedHost(*router_, "other.com"), "suffix-short");
}

TEST_F(VhostTest, SuffixWildcardBeatsPrefixWildcard) {
  EXPECT_EQ(routedHost(*router_, "api.example.com"), "suffix-long");
}

TEST_F(VhostTest, LongestPrefixWildcardWins) {
  EXPECT_EQ(routedHost(*router_, "api.example.org"), "prefix-long");
  EXPECT_EQ(routedHost(*router_, "api.other.org"), "prefix-short");
}

TEST_F(VhostTest, StarIsTheFallback) { EXPECT_EQ(routedHost(*router_, "unknown.org"), "default"); }

TEST_F(VhostTest, WildcardNeedsAtLeastOneCharacter) {
  // "*.example.com" does not match "example.com" itself; "*.com" does.
  EXPECT_EQ(routedHost(*router_, "example.com"), "suffix-short");
}

TEST_F(VhostTest, PortIsIgnored) {
  EXPECT_EQ(routedHost(*router_, "www.example.com:8080"), "exact");
  EXPECT_EQ(routedHost(*router_, "img.example.com:443"), "suffix-long");
}

TEST_F(VhostTest, HostIsCaseInsensitive) {
  EXPECT_EQ(routedHost(*router_, "WWW.Example.COM"), "exact");
  EXPECT_EQ(routedHost(*router_, "IMG.EXAMPLE.COM"), "suffix-long");
  EXPECT_EQ(routedHost(*router_, "API.Example.ORG"), "prefix-long");
}

TEST_F(VhostTest, Ipv6LiteralWithAndWithoutPort) {
  EXPECT_EQ(routedHost(*router_, "[::1]"), "exact");
  EXPECT_EQ(routedHost(*router_, "[::1]:8080"), "exact");
  EXPECT_EQ(routedHost(*router_, "[::2]:8080"), "default");
}

TEST(Vhost, NoMatchingHostAndNoStarGivesNull) {
  auto router = build({vhost("exact", {"a.example"})});
  EXPECT_EQ(routedHost(*router, "b.example"), "<none>");
}

TEST(Vhost, ConfiguredDomainIsCaseInsensitiveAndMayCarryPort) {
  auto router = build({vhost("upper", {"Shop.Example"}), vhost("ported", {"ported.example:8080"})});
  EXPECT_EQ(routedHost(*router, "shop.example"), "upper");
  EXPECT_EQ(routedHost(*router, "ported.example"), "ported");
}

TEST(Vhost, BareIpv6DomainMatchesBracketedHost) {
  auto router = build({vhost("v6", {"2001:db8::1"})});
  EXPECT_EQ(routedHost(*router, "[2001:db8::1]:80"), "v6");
}

TEST(Vhost, EmptyHostFallsBackToStar) {
  auto router = build({vhost("exact", {"a.example"}), vhost("default", {"*"})});
  EXPECT_EQ(routedHost(*router, ""), "default");
}

TEST(Vhost, VeryLongHostStillMatches) {
  std::string long_host(300, 'a');
  auto router = build({vhost("suffix", {"*.example"})});
  EXPECT_EQ(routedHost(*router, long_host + ".EXAMPLE"), "suffix");
}

TEST(Vhost, MisplacedWildcardIsRejected) {
  Listener listener;
  listener.virtual_hosts = {vhost("bad", {"a.*.example"})};
  auto router = Router::build(listener);
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.error().find("a.*.example"), std::string::npos);
}

TEST(Vhost, DomainInTwoVirtualHostsIsRejected) {
  Listener listener;
  listener.virtual_hosts = {vhost("one", {"a.example"}), vhost("two", {"A.example"})};
  EXPECT_FALSE(Router::build(listener).ok());
}

// --- paths -------------------------------------------------------------------

TEST(Path, PrefixMatchesStartOfPath) {
  auto router = buildRoutes({namedRoute("api", PathKind::kPrefix, "/api")});
  Req req;
  req.path = "/api/v1";
  EXPECT_EQ(routed(*router, req), "api");
  req.path = "/ap";
  EXPECT_EQ(routed(*router, req), "<none>");
}

TEST(Path, ExactMatchesWholePathOnly) {
  auto router = buildRoutes({namedRoute("exact", PathKind::kExact, "/health")});
  Req req;
  req.path = "/health";
  EXPECT_EQ(routed(*router, req), "exact");
  req.path = "/health/deep";
  EXPECT_EQ(routed(*router, req), "<none>");
}

TEST(Path, RegexMustMatchWholePath) {
  auto router = buildRoutes({namedRoute("regex", PathKind::kRegex, "/users/[0-9]+")});
  Req req;
  req.path = "/users/42";
  EXPECT_EQ(routed(*router, req), "regex");
  req.path = "/users/42/posts";
  EXPECT_EQ(routed(*router, req), "<none>");
  req.path = "/v2/users/42";
  EXPECT_EQ(routed(*router, req), "<none>");
}

TEST(Path, CaseInsensitivePrefixExactAndRegex) {
  Route prefix = namedRoute("prefix", PathKind::kPrefix, "/Api");
  Route exact = namedRoute("exact", PathKind::kExact, "/Health");
  Route regex = namedRoute("regex", PathKind::kRegex, "/item/[a-z]+");
  for (Route* r : {&prefix, &exact, &regex}) r->match.case_sensitive = false;
  auto router = buildRoutes({prefix, exact, regex});
  Req req;
  req.path = "/aPI/x";
  EXPECT_EQ(routed(*router, req), "prefix");
  req.path = "/HEALTH";
  EXPECT_EQ(routed(*router, req), "exact");
  req.path = "/ITEM/ABC";
  EXPECT_EQ(routed(*router, req), "regex");
}

TEST(Path, CaseSensitiveByDefault) {
  auto router = buildRoutes({namedRoute("api", PathKind::kPrefix, "/api")});
  Req req;
  req.path = "/API";
  EXPECT_EQ(routed(*router, req), "<none>");
}

TEST(Path, BadRegexFailsBuildWithMessage) {
  Listener listener;
  listener.virtual_hosts = {vhost("v", {"*"}, {namedRoute("broken", PathKind::kRegex, "/a(")})};
  auto router = Router::build(listener);
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.error().find("broken"), std::string::npos);
  EXPECT_NE(router.error().find("/a("), std::string::npos);
}

// --- methods, order ----------------------------------------------------------

TEST(Method, OnlyListedMethodsMatch) {
  Route route = namedRoute("write");
  route.match.methods = {"POST", "PUT"};
  auto router = buildRoutes({route});
  Req req;
  req.method = "PUT";
  EXPECT_EQ(routed(*router, req), "write");
  req.method = "GET";
  EXPECT_EQ(routed(*router, req), "<none>");
}

TEST(Order, FirstMatchingRouteWins) {
  auto router = buildRoutes(
      {namedRoute("first", PathKind::kPrefix, "/a"), namedRoute("second", PathKind::kPrefix, "/")});
  Req req;
  req.path = "/a/b";
  EXPECT_EQ(routed(*router, req), "first");
  req.path = "/b";
  EXPECT_EQ(routed(*router, req), "second");
}

TEST(Order, NoMatchingRouteGivesNull) {
  auto router = buildRoutes({namedRoute("a", PathKind::kExact, "/a")});
  Req req;
  req.path = "/b";
  EXPECT_EQ(router->route(req.view()), nullptr);
}

TEST(Order, ReturnedRoutePointsIntoTheListener) {
  Listener listener;
  listener.virtual_hosts = {vhost("v", {"*"}, {namedRoute("kept")})};
  auto router = std::move(Router::build(listener)).value();
  // Callers key per-route state (metrics) by these pointers.
  EXPECT_EQ(router->route(Req{}.view()), &listener.virtual_hosts[0].routes[0]);
}

// --- headers -----------------------------------------------------------------

Route headerRoute(Kind kind, std::string value, bool invert = false) {
  Route route = namedRoute("hdr");
  route.match.headers.push_back(KeyValueMatch{"X-Env", StringMatch{kind, std::move(value)}, invert});
  return route;
}

std::string routedWithHeaders(const Route& route, std::vector<http::Header> headers) {
  auto router = buildRoutes({route});
  Req req;
  req.headers = std::move(headers);
  return routed(*router, req);
}

TEST(Header, Exact) {
  Route route = headerRoute(Kind::kExact, "prod");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "prod"}}), "hdr");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "production"}}), "<none>");
}

TEST(Header, Prefix) {
  Route route = headerRoute(Kind::kPrefix, "pro");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "prod"}}), "hdr");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "dev"}}), "<none>");
}

TEST(Header, Suffix) {
  Route route = headerRoute(Kind::kSuffix, "od");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "prod"}}), "hdr");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "dev"}}), "<none>");
}

TEST(Header, RegexIsFullMatch) {
  Route route = headerRoute(Kind::kRegex, "v[0-9]+");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "v12"}}), "hdr");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "v12-beta"}}), "<none>");
}

TEST(Header, Present) {
  Route route = headerRoute(Kind::kPresent, "");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", ""}}), "hdr");
  EXPECT_EQ(routedWithHeaders(route, {{"x-other", "1"}}), "<none>");
}

TEST(Header, NameIsCaseInsensitive) {
  EXPECT_EQ(routedWithHeaders(headerRoute(Kind::kExact, "prod"), {{"X-ENV", "prod"}}), "hdr");
}

TEST(Header, ValueIsCaseSensitive) {
  EXPECT_EQ(routedWithHeaders(headerRoute(Kind::kExact, "prod"), {{"x-env", "PROD"}}), "<none>");
}

TEST(Header, AbsentFailsEveryKind) {
  for (Kind kind : {Kind::kExact, Kind::kPrefix, Kind::kSuffix, Kind::kRegex, Kind::kPresent}) {
    EXPECT_EQ(routedWithHeaders(headerRoute(kind, ""), {}), "<none>") << static_cast<int>(kind);
  }
}

TEST(Header, InvertNegates) {
  Route route = headerRoute(Kind::kExact, "prod", /*invert=*/true);
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "prod"}}), "<none>");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "dev"}}), "hdr");
}

TEST(Header, InvertedMatcherAcceptsAbsentHeader) {
  EXPECT_EQ(routedWithHeaders(headerRoute(Kind::kPresent, "", true), {}), "hdr");
  EXPECT_EQ(routedWithHeaders(headerRoute(Kind::kPresent, "", true), {{"x-env", "x"}}), "<none>");
}

TEST(Header, AnyOfRepeatedHeadersMayMatch) {
  EXPECT_EQ(routedWithHeaders(headerRoute(Kind::kExact, "prod"), {{"x-env", "dev"}, {"x-env", "prod"}}),
            "hdr");
}

TEST(Header, AllMatchersMustAccept) {
  Route route = headerRoute(Kind::kExact, "prod");
  route.match.headers.push_back(KeyValueMatch{"x-team", StringMatch{Kind::kExact, "a"}, false});
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "prod"}}), "<none>");
  EXPECT_EQ(routedWithHeaders(route, {{"x-env", "prod"}, {"x-team", "a"}}), "hdr");
}

TEST(Header, BadRegexFailsBuild) {
  Listener listener;
  listener.virtual_hosts = {vhost("v", {"*"}, {headerRoute(Kind::kRegex, "[")})};
  auto router = Router::build(listener);
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.error().find("X-Env"), std::string::npos);
}

// --- query parameters --------------------------------------------------------

Route queryRoute(std::string name, Kind kind, std::string value, bool invert = false) {
  Route route = namedRoute("q");
  route.match.query_params.push_back(
      KeyValueMatch{std::move(name), StringMatch{kind, std::move(value)}, invert});
  return route;
}

std::string routedWithQuery(const Route& route, std::string query) {
  auto router = buildRoutes({route});
  Req req;
  req.query = std::move(query);
  return routed(*router, req);
}

TEST(Query, ExactValue) {
  Route route = queryRoute("debug", Kind::kExact, "1");
  EXPECT_EQ(routedWithQuery(route, "a=2&debug=1"), "q");
  EXPECT_EQ(routedWithQuery(route, "debug=0"), "<none>");
}

TEST(Query, PresentWithoutValue) {
  Route route = queryRoute("flag", Kind::kPresent, "");
  EXPECT_EQ(routedWithQuery(route, "x=1&flag"), "q");
  EXPECT_EQ(routedWithQuery(route, "flags=1"), "<none>");
}

TEST(Query, ValueIsPercentDecoded) {
  Route route = queryRoute("q", Kind::kExact, "a b/c");
  EXPECT_EQ(routedWithQuery(route, "q=a%20b%2Fc"), "q");
  EXPECT_EQ(routedWithQuery(route, "q=a+b%2fc"), "q");
}

TEST(Query, NameIsPercentDecoded) {
  EXPECT_EQ(routedWithQuery(queryRoute("my key", Kind::kExact, "v"), "my%20key=v"), "q");
}

TEST(Query, MalformedEscapeIsKeptLiterally) {
  EXPECT_EQ(routedWithQuery(queryRoute("p", Kind::kExact, "100%zz%"), "p=100%zz%"), "q");
}

TEST(Query, AnyRepeatedParameterMayMatch) {
  EXPECT_EQ(routedWithQuery(queryRoute("v", Kind::kExact, "2"), "v=1&v=2"), "q");
}

TEST(Query, AbsentFailsUnlessInverted) {
  EXPECT_EQ(routedWithQuery(queryRoute("v", Kind::kPrefix, ""), ""), "<none>");
  EXPECT_EQ(routedWithQuery(queryRoute("v", Kind::kPresent, "", true), "w=1"), "q");
}

TEST(Query, RegexIsFullMatch) {
  Route route = queryRoute("id", Kind::kRegex, "[0-9]+");
  EXPECT_EQ(routedWithQuery(route, "id=123"), "q");
  EXPECT_EQ(routedWithQuery(route, "id=123x"), "<none>");
}

}  // namespace
}  // namespace pier::router
