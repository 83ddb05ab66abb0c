// One test per validation rule: each config below has exactly one mistake,
// and the test pins the whole message, "<file>:<line>:<column>: <path>: <what>".
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/config/loader.h"
#include "src/config/parse.h"

namespace pier::config {
namespace {

using ::testing::HasSubstr;

std::string errorOf(const std::string& yaml) {
  auto result = loadString(yaml, "t.yaml");
  if (result.ok()) return "<loaded without error>";
  return result.error();
}

// A valid cluster section appended to configs that test listeners.
const std::string kClusters = R"(
clusters:
  - name: app
    endpoints: [127.0.0.1:18081]
)";

// A valid listener section appended to configs that test clusters.
const std::string kListeners = R"(
listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
)";

// --- YAML itself ---

TEST(ValidationTest, YamlSyntaxErrorHasPositionAndPrefix) {
  EXPECT_EQ(errorOf("workers: 2\nlisteners: [a, b\n"),
            "t.yaml:3:1: YAML syntax error: end of sequence flow not found");
}

TEST(ValidationTest, DeepNestingIsRejectedBeforeParsing) {
  std::string yaml = "workers: " + std::string(100, '[') + std::string(100, ']') + "\n";
  EXPECT_EQ(errorOf(yaml), "t.yaml:1:73: YAML syntax error: collections are nested more than 64 levels deep");
}

TEST(ValidationTest, MoreThanOneDocumentIsAnError) {
  EXPECT_EQ(errorOf("workers: 1\n---\nworkers: 2\n"),
            "t.yaml:2:1: YAML syntax error: more than one document; a config file holds exactly one");
}

TEST(ValidationTest, TrailingTextAfterFlowCollectionIsAnError) {
  // yaml-cpp's LoadAll never returns on this input; the loader must.
  EXPECT_EQ(errorOf("{ workers: 1 },\n"),
            "t.yaml:1:15: YAML syntax error: unexpected text after the end of the document");
}

TEST(ValidationTest, TopLevelMustBeAMapping) {
  EXPECT_EQ(errorOf("- a\n- b\n"), "t.yaml:1:1: (top level): expected a mapping, got a list");
}

TEST(ValidationTest, UnknownKeyGetsDidYouMean) {
  EXPECT_EQ(errorOf("workers: 1\nlistener: []\n"),
            "t.yaml:2:1: listener: unknown field; did you mean \"listeners\"?");
}

TEST(ValidationTest, UnknownKeyWithoutCloseMatchListsFields) {
  EXPECT_EQ(
      errorOf("frobnicate: 1\n"),
      "t.yaml:1:1: frobnicate: unknown field; expected one of admin, workers, drain_timeout, log_level, "
      "listeners, clusters, virtual_ips");
}

TEST(ValidationTest, DuplicateKeyIsAnError) {
  EXPECT_EQ(errorOf("workers: 1\nlog_level: info\nworkers: 2\n"),
            "t.yaml:3:1: workers: duplicate key (first set at line 1)");
}

TEST(ValidationTest, NonStringKeyIsAnError) {
  EXPECT_EQ(errorOf("? [a, b]\n: 1\n"), "t.yaml:1:3: (top level): mapping keys must be strings");
}

TEST(ValidationTest, EveryErrorIsReportedInDocumentOrder) {
  EXPECT_EQ(
      errorOf("log_level: loud\nworkers: -3\n"),
      "t.yaml:1:12: log_level: must be one of trace, debug, info, warn, error, critical, off; got \"loud\"\n"
      "t.yaml:2:10: workers: must not be negative, got -3");
}

// --- scalar types ---

TEST(ValidationTest, WrongTypeNamesExpectedAndActual) {
  EXPECT_EQ(errorOf("workers: [1]\n"), "t.yaml:1:10: workers: expected an integer, got a list");
}

TEST(ValidationTest, NonNumericIntegerIsAnError) {
  EXPECT_EQ(errorOf("workers: two\n"), "t.yaml:1:10: workers: expected an integer, got \"two\"");
}

TEST(ValidationTest, WorkersAboveLimitIsAnError) {
  EXPECT_EQ(errorOf("workers: 300\n"), "t.yaml:1:10: workers: must be between 0 and 256, got 300");
}

TEST(ValidationTest, NegativeNumberIsAnError) {
  EXPECT_EQ(errorOf("workers: -1\n"), "t.yaml:1:10: workers: must not be negative, got -1");
}

TEST(ValidationTest, BadDurationIsAnError) {
  EXPECT_EQ(
      errorOf("drain_timeout: 10x\n"),
      "t.yaml:1:16: drain_timeout: invalid duration \"10x\": expected a number with a unit (ms, s, m, h) "
      "such as \"250ms\", \"10s\" or \"1m30s\", or an integer number of milliseconds");
}

TEST(ValidationTest, NegativeDurationIsAnError) {
  EXPECT_EQ(errorOf("drain_timeout: -5s\n"), "t.yaml:1:16: drain_timeout: must not be negative, got \"-5s\"");
}

TEST(ValidationTest, HugeDurationIsAnError) {
  EXPECT_EQ(errorOf("drain_timeout: 9999h\n"),
            "t.yaml:1:16: drain_timeout: duration \"9999h\" is too large (at most 2147483647ms)");
}

TEST(ValidationTest, BooleanMustBeTrueOrFalse) {
  EXPECT_EQ(errorOf("admin: { enabled: yes }\n"),
            "t.yaml:1:19: admin.enabled: expected true or false, got \"yes\"");
}

TEST(ValidationTest, UnknownEnumValueGetsDidYouMean) {
  EXPECT_EQ(errorOf("log_level: warning\n"),
            "t.yaml:1:12: log_level: must be one of trace, debug, info, warn, error, critical, off; got "
            "\"warning\" (did you mean \"warn\"?)");
}

TEST(ValidationTest, EmptyValuePointsAtItsKey) {
  EXPECT_EQ(
      errorOf(
          "listeners:\n  - name: web\n    address:\n    routes: [{ match: { prefix: / }, cluster: app }]\n" +
          kClusters),
      "t.yaml:3:5: listeners[0].address: expected an address such as \"127.0.0.1:8080\", got null");
}

// --- addresses ---

TEST(ValidationTest, HostNameIsNotAnAddress) {
  EXPECT_EQ(
      errorOf("admin: { address: localhost:9901 }\n"),
      "t.yaml:1:19: admin.address: invalid address \"localhost:9901\": \"localhost\" is not an IPv4 address "
      "(host names are not resolved)");
}

TEST(ValidationTest, PortZeroIsAnError) {
  EXPECT_EQ(
      errorOf("listeners:\n  - name: web\n    address: 127.0.0.1:0\n    routes: [{ match: { prefix: / }, "
              "cluster: app }]\n" +
              kClusters),
      "t.yaml:3:14: listeners[0].address: invalid address \"127.0.0.1:0\": port must be between 1 and 65535");
}

TEST(ValidationTest, PortAbove65535IsAnError) {
  EXPECT_EQ(
      errorOf("admin: { address: 127.0.0.1:65536 }\n"),
      "t.yaml:1:19: admin.address: invalid address \"127.0.0.1:65536\": port must be between 1 and 65535");
}

TEST(ValidationTest, MissingPortIsAnError) {
  EXPECT_EQ(errorOf("admin: { address: 127.0.0.1 }\n"),
            "t.yaml:1:19: admin.address: invalid address \"127.0.0.1\": missing \":PORT\"");
}

TEST(ValidationTest, Ipv6NeedsBrackets) {
  EXPECT_EQ(
      errorOf("admin: { address: \"::1:9901\" }\n"),
      "t.yaml:1:19: admin.address: invalid address \"::1:9901\": IPv6 addresses must be in brackets, as in "
      "\"[::1]:8080\"");
}

TEST(ValidationTest, DuplicateListenerAddressIsAnError) {
  std::string yaml = R"(listeners:
  - name: a
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
  - name: b
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:14: listeners[1].address: address 127.0.0.1:8080 conflicts with 127.0.0.1:8080 of "
            "listeners[0]");
}

TEST(ValidationTest, WildcardListenerAddressConflictsWithSpecificOne) {
  std::string yaml = R"(listeners:
  - name: a
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
  - name: b
    address: 0.0.0.0:8080
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:14: listeners[1].address: address 0.0.0.0:8080 conflicts with 127.0.0.1:8080 of "
            "listeners[0]");
}

TEST(ValidationTest, ListenerMayNotTakeTheAdminAddress) {
  std::string yaml = R"(listeners:
  - name: a
    address: 127.0.0.1:9901
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:3:14: listeners[0].address: address 127.0.0.1:9901 conflicts with the admin "
            "address 127.0.0.1:9901");
}

TEST(ValidationTest, DisabledAdminFreesItsAddress) {
  std::string yaml = R"(admin: { enabled: false }
listeners:
  - name: a
    address: 127.0.0.1:9901
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "<loaded without error>");
}

// --- names ---

TEST(ValidationTest, ListenerNameIsRequired) {
  std::string yaml = R"(listeners:
  - address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:2:5: listeners[0].name: required field is missing");
}

TEST(ValidationTest, DuplicateListenerNameIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
  - name: web
    address: 127.0.0.1:8081
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:11: listeners[1].name: duplicate listener name \"web\" (also listeners[0])");
}

TEST(ValidationTest, NameWithSpaceIsAnError) {
  std::string yaml = R"(listeners:
  - name: my web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:2:11: listeners[0].name: invalid name \"my web\": must not contain spaces or control "
            "characters");
}

TEST(ValidationTest, DuplicateClusterNameIsAnError) {
  std::string yaml = R"(clusters:
  - name: app
    endpoints: [127.0.0.1:1]
  - name: app
    endpoints: [127.0.0.1:2]
)";
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:4:11: clusters[1].name: duplicate cluster name \"app\" (also clusters[0])");
}

TEST(ValidationTest, DuplicateVirtualHostNameIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    virtual_hosts:
      - name: v
        domains: [a.example]
        routes: [{ match: { prefix: / }, cluster: app }]
      - name: v
        domains: [b.example]
        routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:8:15: listeners[0].virtual_hosts[1].name: duplicate virtual host name \"v\" "
            "(also listeners[0].virtual_hosts[0])");
}

TEST(ValidationTest, VirtualHostNameIsRequired) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    virtual_hosts:
      - domains: [a.example]
        routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:5:9: listeners[0].virtual_hosts[0].name: required field is missing");
}

TEST(ValidationTest, DuplicateRouteNameIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - { name: r, match: { prefix: /a }, cluster: app }
      - { name: r, match: { prefix: /b }, cluster: app }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:9: listeners[0].routes[1]: duplicate route name \"r\" (also listeners[0].routes[0])");
}

// --- cluster references ---

TEST(ValidationTest, UnknownClusterPointsAtTheRouteClusterValue) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: ap
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:18: listeners[0].routes[0].cluster: unknown cluster \"ap\"; did you mean \"app\"?");
}

TEST(ValidationTest, UnknownClusterWithNoClustersSaysSo) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
)";
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:18: listeners[0].routes[0].cluster: unknown cluster \"app\" (no clusters are defined)");
}

TEST(ValidationTest, UnknownClusterInWeightedClusters) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        weighted_clusters: [{ cluster: app, weight: 1 }, { cluster: nope, weight: 1 }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:69: listeners[0].routes[0].weighted_clusters[1].cluster: unknown cluster \"nope\"");
}

TEST(ValidationTest, UnknownClusterOfTcpListener) {
  std::string yaml = R"(listeners:
  - name: pg
    address: 127.0.0.1:5432
    protocol: tcp
    cluster: db
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:5:14: listeners[0].cluster: unknown cluster \"db\"");
}

// --- routes ---

TEST(ValidationTest, RouteWithoutActionIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:9: listeners[0].routes[0]: needs exactly one action: cluster, "
            "weighted_clusters, redirect or direct_response");
}

TEST(ValidationTest, RouteWithTwoActionsPointsAtTheSecond) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
        direct_response: { status: 200 }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:26: listeners[0].routes[0].direct_response: conflicts with \"cluster\": "
            "exactly one action: cluster, weighted_clusters, redirect or direct_response");
}

TEST(ValidationTest, RouteNeedsMatch) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:5:9: listeners[0].routes[0].match: required field is missing");
}

TEST(ValidationTest, MatchNeedsAPathMatcher) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { methods: [GET] }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:16: listeners[0].routes[0].match: needs exactly one of prefix, exact or regex");
}

TEST(ValidationTest, MatchWithTwoPathMatchersIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: /a, exact: /b }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:37: listeners[0].routes[0].match.exact: conflicts with \"prefix\": exactly one "
            "of prefix, exact or regex");
}

TEST(ValidationTest, PrefixMustStartWithSlash) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: api }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:26: listeners[0].routes[0].match.prefix: must start with '/', got \"api\"");
}

TEST(ValidationTest, PathMayNotHoldAQuery) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { exact: "/a?b=1" }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:25: listeners[0].routes[0].match.exact: must not contain '?', '#' or "
            "whitespace (match query parameters with query_params)");
}

TEST(ValidationTest, InvalidPathRegexIncludesRe2Error) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { regex: "^/(a" }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:5:25: listeners[0].routes[0].match.regex: invalid regex: missing ): ^/(a");
}

TEST(ValidationTest, InvalidHeaderRegexIncludesRe2Error) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: /, headers: [{ name: x-a, regex: "a[" }] }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:59: listeners[0].routes[0].match.headers[0].regex: invalid regex: missing ]: [");
}

TEST(ValidationTest, HeaderMatchNeedsExactlyOneKind) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: /, headers: [{ name: x-a }] }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:39: listeners[0].routes[0].match.headers[0]: needs exactly one of exact, "
            "prefix, suffix, regex or present");
}

TEST(ValidationTest, HeaderMatchNameMustBeAToken) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: /, headers: [{ name: "x a", present: true }] }
        cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:47: listeners[0].routes[0].match.headers[0].name: invalid header name \"x a\": "
            "only letters, digits and !#$%&'*+-.^_`|~ are allowed");
}

TEST(ValidationTest, MethodsAreUpperCase) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: /, methods: [GET, post] }
        cluster: app
)" + kClusters;
  EXPECT_EQ(
      errorOf(yaml),
      "t.yaml:5:44: listeners[0].routes[0].match.methods[1]: methods are case-sensitive; write \"POST\"");
}

TEST(ValidationTest, RedirectStatusMustBeARedirect) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        redirect: { scheme: https, status: 300 }
)" + kClusters;
  EXPECT_EQ(
      errorOf(yaml),
      "t.yaml:6:44: listeners[0].routes[0].redirect.status: must be one of 301, 302, 303, 307, 308; got 300");
}

TEST(ValidationTest, RedirectMustChangeSomething) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        redirect: { status: 302 }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:19: listeners[0].routes[0].redirect: needs at least one of scheme, host, port, "
            "path, prefix_rewrite or strip_query");
}

TEST(ValidationTest, RedirectPathAndPrefixRewriteConflict) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        redirect: { path: /a, prefix_rewrite: /b }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:47: listeners[0].routes[0].redirect.prefix_rewrite: conflicts with \"path\": a "
            "redirect replaces either the whole path or the matched prefix");
}

TEST(ValidationTest, RedirectSchemeMustBeHttpOrHttps) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        redirect: { scheme: htps }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:29: listeners[0].routes[0].redirect.scheme: must be one of http, https; got "
            "\"htps\" (did you mean \"https\"?)");
}

TEST(ValidationTest, DirectResponseStatusOutOfRange) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        direct_response: { status: 100 }
)" + kClusters;
  EXPECT_EQ(
      errorOf(yaml),
      "t.yaml:6:36: listeners[0].routes[0].direct_response.status: must be between 200 and 599, got 100");
}

TEST(ValidationTest, WeightZeroIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        weighted_clusters: [{ cluster: app, weight: 0 }]
)" + kClusters;
  EXPECT_EQ(
      errorOf(yaml),
      "t.yaml:6:53: listeners[0].routes[0].weighted_clusters[0].weight: must be between 1 and 10000, got 0");
}

TEST(ValidationTest, WeightedClustersMayNotBeEmpty) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        weighted_clusters: []
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:6:28: listeners[0].routes[0].weighted_clusters: must not be empty");
}

TEST(ValidationTest, PrefixRewriteNeedsAPrefixMatch) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { exact: /a }
        cluster: app
        prefix_rewrite: /b
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:25: listeners[0].routes[0].prefix_rewrite: needs a route that matches by prefix");
}

TEST(ValidationTest, RewritesOnlyApplyToForwardingRoutes) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        direct_response: { status: 200 }
        host_rewrite: example.com
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:23: listeners[0].routes[0].host_rewrite: only applies to routes that forward to "
            "a cluster, not with \"direct_response\"");
}

TEST(ValidationTest, HeaderToAddNameMustBeAToken) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
        request_headers_to_add: [{ name: "x:y", value: b }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:42: listeners[0].routes[0].request_headers_to_add[0].name: invalid header name "
            "\"x:y\": only letters, digits and !#$%&'*+-.^_`|~ are allowed");
}

TEST(ValidationTest, HeaderValueMayNotContainNewline) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
        response_headers_to_add: [{ name: x-a, value: "a\r\nset-cookie: x=1" }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:55: listeners[0].routes[0].response_headers_to_add[0].value: header values may "
            "not contain CR, LF or NUL");
}

TEST(ValidationTest, ManagedHeadersCannotBeRemoved) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
        request_headers_to_remove: [x-a, Content-Length]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:42: listeners[0].routes[0].request_headers_to_remove[1]: \"Content-Length\" is "
            "managed by pier and cannot be removed by a route");
}

// --- listeners ---

TEST(ValidationTest, UnknownProtocolIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    protocol: sctp
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:4:15: listeners[0].protocol: must be one of http, tcp, udp; got \"sctp\"");
}

TEST(ValidationTest, TcpListenerNeedsCluster) {
  std::string yaml = R"(listeners:
  - name: pg
    address: 127.0.0.1:5432
    protocol: tcp
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:2:5: listeners[0].cluster: required field is missing");
}

TEST(ValidationTest, TcpListenerMayNotHaveRoutes) {
  std::string yaml = R"(listeners:
  - name: pg
    address: 127.0.0.1:5432
    protocol: tcp
    cluster: app
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:13: listeners[0].routes: only applies to http listeners; a tcp listener "
            "forwards to its \"cluster\"");
}

TEST(ValidationTest, HttpListenerNeedsRoutesOrVirtualHosts) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:2:5: listeners[0]: an http listener needs routes or virtual_hosts");
}

TEST(ValidationTest, HttpListenerMayNotHaveCluster) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    cluster: app
    routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:4:14: listeners[0].cluster: only applies to tcp and udp listeners; an http listener "
            "picks clusters in its routes");
}

TEST(ValidationTest, RoutesAndVirtualHostsAreExclusive) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: app }] }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:20: listeners[0].virtual_hosts: conflicts with \"routes\": use routes (one "
            "virtual host for every domain) or virtual_hosts, not both");
}

TEST(ValidationTest, RoutesMayNotBeEmpty) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: []
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:4:13: listeners[0].routes: must not be empty");
}

TEST(ValidationTest, DomainDuplicatedAcrossVirtualHosts) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    virtual_hosts:
      - name: a
        domains: [example.com, "*"]
        routes: [{ match: { prefix: / }, cluster: app }]
      - name: b
        domains: [Example.COM]
        routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:9:19: listeners[0].virtual_hosts[1].domains[0]: domain \"example.com\" is already "
            "used by listeners[0].virtual_hosts[0]");
}

TEST(ValidationTest, WildcardOnlyAtStartOrEnd) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    virtual_hosts:
      - name: a
        domains: ["api.*.example.com"]
        routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:19: listeners[0].virtual_hosts[0].domains[0]: a wildcard '*' may only appear "
            "once, at the start or at the end");
}

TEST(ValidationTest, WildcardAtBothEndsIsAnError) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    virtual_hosts:
      - name: a
        domains: ["*.example.*"]
        routes: [{ match: { prefix: / }, cluster: app }]
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:19: listeners[0].virtual_hosts[0].domains[0]: a wildcard '*' may only appear "
            "once, at the start or at the end");
}

TEST(ValidationTest, LimitsMustBePositive) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    limits: { max_headers: 0 }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:28: listeners[0].limits.max_headers: must be between 1 and 4294967295, got 0");
}

TEST(ValidationTest, LimitsOnlyApplyToHttp) {
  std::string yaml = R"(listeners:
  - name: pg
    address: 127.0.0.1:5432
    protocol: tcp
    cluster: app
    limits: { max_headers: 10 }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:13: listeners[0].limits: only applies to http listeners; a tcp listener "
            "forwards to its \"cluster\"");
}

TEST(ValidationTest, RequestTimeoutMustBeADuration) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    limits: { request_timeout: 30 seconds }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:32: listeners[0].limits.request_timeout: invalid duration \"30 seconds\": expected a "
            "number with a unit (ms, s, m, h) such as \"250ms\", \"10s\" or \"1m30s\", or an integer number "
            "of milliseconds");
}

TEST(ValidationTest, UdpListenerNeedsCluster) {
  std::string yaml = R"(listeners:
  - name: dns
    address: 127.0.0.1:5353
    protocol: udp
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:2:5: listeners[0].cluster: required field is missing");
}

TEST(ValidationTest, UdpListenerMayNotHaveRoutes) {
  std::string yaml = R"(listeners:
  - name: dns
    address: 127.0.0.1:5353
    protocol: udp
    cluster: app
    virtual_hosts: []
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:20: listeners[0].virtual_hosts: only applies to http listeners; a udp listener "
            "forwards to its \"cluster\"");
}

TEST(ValidationTest, UdpListenerHasNoAccessLog) {
  std::string yaml = R"(listeners:
  - name: dns
    address: 127.0.0.1:5353
    protocol: udp
    cluster: app
    access_log: { path: stdout }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:17: listeners[0].access_log: only applies to http and tcp listeners; a udp "
            "listener writes no access log");
}

TEST(ValidationTest, UdpListenerDoesNotAcceptProxyProtocol) {
  std::string yaml = R"(listeners:
  - name: dns
    address: 127.0.0.1:5353
    protocol: udp
    cluster: app
    accept_proxy_protocol: true
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:28: listeners[0].accept_proxy_protocol: only applies to http and tcp listeners");
}

TEST(ValidationTest, AcceptProxyProtocolIsABoolean) {
  std::string yaml = R"(listeners:
  - name: pg
    address: 127.0.0.1:5432
    protocol: tcp
    cluster: app
    accept_proxy_protocol: v2
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:6:28: listeners[0].accept_proxy_protocol: expected true or false, got \"v2\"");
}

TEST(ValidationTest, UdpListenerClusterMayNotSendProxyProtocol) {
  std::string yaml = R"(listeners:
  - name: dns
    address: 127.0.0.1:5353
    protocol: udp
    cluster: app
clusters:
  - name: app
    endpoints: [127.0.0.1:18081]
    send_proxy_protocol: v2
)";
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:14: listeners[0].cluster: cluster \"app\" sends a PROXY protocol header "
            "(send_proxy_protocol), which udp listeners do not support");
}

TEST(ValidationTest, TcpIdleTimeoutOnlyAppliesToTcpAndUdp) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    tcp_idle_timeout: 1h
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:23: listeners[0].tcp_idle_timeout: only applies to tcp and udp listeners; an http "
            "listener has limits.idle_timeout");
}

TEST(ValidationTest, TcpIdleTimeoutMustBePositive) {
  std::string yaml = R"(listeners:
  - name: pg
    address: 127.0.0.1:5432
    protocol: tcp
    cluster: app
    tcp_idle_timeout: 0s
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "t.yaml:6:23: listeners[0].tcp_idle_timeout: must be greater than 0");
}

TEST(ValidationTest, UdpAndTcpListenersMayShareAnAddress) {
  // Separate port spaces; the admin API is TCP, so its port is free for udp too.
  std::string yaml = R"(listeners:
  - name: dns-tcp
    address: 127.0.0.1:5353
    protocol: tcp
    cluster: app
  - name: dns-udp
    address: 0.0.0.0:5353
    protocol: udp
    cluster: app
  - name: odd
    address: 127.0.0.1:9901
    protocol: udp
    cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "<loaded without error>");
}

TEST(ValidationTest, TwoUdpListenersOnOneAddressConflict) {
  std::string yaml = R"(listeners:
  - name: a
    address: 127.0.0.1:5353
    protocol: udp
    cluster: app
  - name: b
    address: 127.0.0.1:5353
    protocol: udp
    cluster: app
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:14: listeners[1].address: address 127.0.0.1:5353 conflicts with 127.0.0.1:5353 of "
            "listeners[0]");
}

TEST(ValidationTest, AccessLogFieldMustBeKnown) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    access_log: { format: json, json_fields: [status, methd] }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:55: listeners[0].access_log.json_fields[1]: unknown access log field \"methd\"; "
            "did you mean \"method\"?");
}

TEST(ValidationTest, AccessLogPlaceholderMustBeKnown) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    access_log: { text_format: "%STATUS% %DURATON_MS%" }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:32: listeners[0].access_log.text_format: unknown placeholder %DURATON_MS%; did "
            "you mean %DURATION_MS%? (every '%' starts a placeholder that the next '%' ends)");
}

TEST(ValidationTest, AccessLogPercentSignsPairUp) {
  // "100% " would swallow text up to the next '%' as a field name.
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    access_log: { text_format: "100% %STATUS%" }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:5:32: listeners[0].access_log.text_format: unknown placeholder % % (every '%' "
            "starts a placeholder that the next '%' ends)");
}

TEST(ValidationTest, AccessLogPlaceholdersAnyCaseAndTrailingPercent) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
    access_log: { text_format: "%status% %Listener% %HOST% 100%" }
)" + kClusters;
  EXPECT_EQ(errorOf(yaml), "<loaded without error>");
}

// --- clusters ---

TEST(ValidationTest, EndpointsAreRequired) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n"),
            "t.yaml:2:5: clusters[0].endpoints: required field is missing");
}

TEST(ValidationTest, EmptyEndpointsIsAnError) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n    endpoints: []\n"),
            "t.yaml:3:16: clusters[0].endpoints: must not be empty: a cluster needs at least one endpoint");
}

TEST(ValidationTest, EndpointWeightZeroIsAnError) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n    endpoints: [{ address: 127.0.0.1:1, weight: 0 }]\n"),
            "t.yaml:3:49: clusters[0].endpoints[0].weight: must be between 1 and 10000, got 0");
}

TEST(ValidationTest, WildcardEndpointIsAnError) {
  EXPECT_EQ(
      errorOf("clusters:\n  - name: app\n    endpoints: [0.0.0.0:80]\n"),
      "t.yaml:3:17: clusters[0].endpoints[0]: 0.0.0.0 cannot be an endpoint: it means any local address");
}

TEST(ValidationTest, DuplicateEndpointIsAnError) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n    endpoints: [127.0.0.1:1, { address: 127.0.0.1:1 }]\n"),
            "t.yaml:3:41: clusters[0].endpoints[1].address: duplicate endpoint 127.0.0.1:1 (also "
            "clusters[0].endpoints[0])");
}

TEST(ValidationTest, UnknownLbGetsDidYouMean) {
  EXPECT_EQ(
      errorOf("clusters:\n  - name: app\n    lb: roundrobin\n    endpoints: [127.0.0.1:1]\n"),
      "t.yaml:3:9: clusters[0].lb: must be one of round_robin, least_request, random, ring_hash, maglev; got "
      "\"roundrobin\" (did you mean \"round_robin\"?)");
}

TEST(ValidationTest, UnknownHashOnKindIsAnError) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n    lb: ring_hash\n    hash_on: { query: v }\n    endpoints: "
                    "[127.0.0.1:1]\n"),
            "t.yaml:4:16: clusters[0].hash_on.query: unknown field; expected one of header, cookie");
}

TEST(ValidationTest, UnknownHashOnScalarIsAnError) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n    hash_on: dest_ip\n    endpoints: [127.0.0.1:1]\n"),
            "t.yaml:3:14: clusters[0].hash_on: must be source_ip, { header: NAME } or { cookie: NAME }; got "
            "\"dest_ip\"");
}

TEST(ValidationTest, HashOnWithNonHashingLbIsAllowed) {
  EXPECT_EQ(
      errorOf(
          "clusters:\n  - name: app\n    lb: round_robin\n    hash_on: { header: x-user }\n    endpoints: "
          "[127.0.0.1:1]\n"),
      "<loaded without error>");
}

TEST(ValidationTest, ConnectTimeoutMustBePositive) {
  EXPECT_EQ(errorOf("clusters:\n  - name: app\n    endpoints: [127.0.0.1:1]\n    connect_timeout: 0s\n"),
            "t.yaml:4:22: clusters[0].connect_timeout: must be greater than 0");
}

// --- leniency ---

TEST(ValidationTest, StringsThatLookLikeNumbersAreStrings) {
  std::string yaml = R"(listeners:
  - name: 8080
    address: 127.0.0.1:8080
    routes:
      - name: 1
        match: { prefix: /, query_params: [{ name: 2, exact: 3 }] }
        cluster: 42
        request_headers_to_add: [{ name: x-n, value: 1.5 }]
clusters:
  - name: 42
    endpoints: [127.0.0.1:1]
)";
  auto config = loadString(yaml, "t.yaml");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->listeners[0].name, "8080");
  EXPECT_EQ(config->listeners[0].virtual_hosts[0].routes[0].cluster, "42");
  EXPECT_EQ(config->listeners[0].virtual_hosts[0].routes[0].request_headers_to_add[0].value, "1.5");
}

// --- robustness ---

TEST(ValidationTest, StringsMustBeUtf8) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, direct_response: { body: "\xff" } }]
)";
  yaml.replace(yaml.find("\\xff"), 4, "\xff");  // a raw 0xff byte in the file
  EXPECT_EQ(errorOf(yaml), "t.yaml:4:63: listeners[0].routes[0].direct_response.body: is not valid UTF-8");
}

TEST(ValidationTest, AliasExpansionIsBounded) {
  // 100 routes, each with the same 100 header matches: a 2 kB file that
  // expands to 10000 matches, over a budget of 5000 nodes. (The default
  // budget is 1000000; a test that big is slow under sanitizers.)
  std::string yaml =
      "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n    routes:\n"
      "      - &r { match: { prefix: /, headers: &hs [&h { name: x, present: true }";
  for (int i = 0; i < 99; ++i) yaml += ", *h";
  yaml += "] }, cluster: app }\n";
  for (int i = 0; i < 99; ++i) yaml += "      - *r\n";
  yaml += kClusters;
  Config config;
  Diagnostics diagnostics("t.yaml", 5000);
  parseConfig(YAML::Load(yaml), config, diagnostics);
  EXPECT_EQ(diagnostics.render(),
            "t.yaml:5:48: (top level): the configuration is too large (more than 5000 nodes, counting every "
            "use of a "
            "YAML alias)");
}

}  // namespace
}  // namespace pier::config
