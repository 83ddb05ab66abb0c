// Loading whole configs: every field of a full example, the defaults, the
// shipped examples, and file handling.
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/config/loader.h"

namespace pier::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::filesystem::path kTestdata = std::filesystem::path(__FILE__).parent_path() / "testdata";
const std::filesystem::path kExamples = std::filesystem::path(__FILE__).parent_path() / "../../examples";

Config loadOk(const std::string& yaml) {
  auto result = loadString(yaml, "t.yaml");
  EXPECT_TRUE(result.ok()) << result.error();
  return result.ok() ? std::move(result).value() : Config{};
}

class EveryFeatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto result = loadFile((kTestdata / "every_feature.yaml").string());
    ASSERT_TRUE(result.ok()) << result.error();
    config_ = std::move(result).value();
    ASSERT_EQ(config_.listeners.size(), 4u);
    ASSERT_EQ(config_.clusters.size(), 2u);
  }
  const Listener& web() const { return config_.listeners[0]; }
  const std::vector<Route>& apiRoutes() const { return web().virtual_hosts.at(0).routes; }

  Config config_;
};

TEST_F(EveryFeatureTest, TopLevel) {
  EXPECT_EQ(config_.source, (kTestdata / "every_feature.yaml").string());
  EXPECT_TRUE(config_.admin.enabled);
  EXPECT_EQ(config_.admin.address.host, "::1");
  EXPECT_EQ(config_.admin.address.port, 9902);
  EXPECT_TRUE(config_.admin.address.ipv6);
  EXPECT_EQ(config_.workers, 3u);
  EXPECT_EQ(config_.drain_timeout, Millis(90'000));
  EXPECT_EQ(config_.log_level, "debug");
}

TEST_F(EveryFeatureTest, ListenerAndVirtualHost) {
  EXPECT_EQ(web().name, "web");
  EXPECT_EQ(web().address.text(), "0.0.0.0:8080");
  EXPECT_EQ(web().protocol, Protocol::kHttp);
  ASSERT_EQ(web().virtual_hosts.size(), 1u);
  EXPECT_EQ(web().virtual_hosts[0].name, "api");
  // Domains are stored lower-case.
  EXPECT_THAT(web().virtual_hosts[0].domains, ElementsAre("api.example.com", "*.example.org", "api.*"));
  ASSERT_EQ(apiRoutes().size(), 7u);
}

TEST_F(EveryFeatureTest, FiltersAndTheirRouteOverrides) {
  ASSERT_EQ(web().filters.size(), 2u);
  EXPECT_EQ(web().filters[0].name, "lua");
  EXPECT_TRUE(web().filters[0].lua.fail_closed);
  EXPECT_TRUE(web().filters[0].lua.sandbox);
  EXPECT_EQ(web().filters[0].lua.source_codes.count("other.lua"), 1u);
  EXPECT_EQ(web().filters[1].name, "auth");
  EXPECT_EQ(web().limits.filter_buffer_bytes, 65536u);
  const Route& off = apiRoutes()[5];
  EXPECT_TRUE(off.filters.at("lua").disabled);
  ASSERT_TRUE(off.filters.at("auth").source_code.has_value());
  ASSERT_NE(off.metadata, nullptr);
  EXPECT_EQ(apiRoutes()[6].filters.at("lua").name, "other.lua");
}

TEST_F(EveryFeatureTest, RouteMatch) {
  const RouteMatch& m = apiRoutes()[0].match;
  EXPECT_EQ(m.path_kind, RouteMatch::PathKind::kPrefix);
  EXPECT_EQ(m.path, "/v1");
  EXPECT_FALSE(m.case_sensitive);
  EXPECT_THAT(m.methods, ElementsAre("GET", "POST"));
  ASSERT_EQ(m.headers.size(), 6u);
  EXPECT_EQ(m.headers[0].name, "x-env");
  EXPECT_EQ(m.headers[0].match.kind, StringMatch::Kind::kExact);
  EXPECT_EQ(m.headers[0].match.value, "prod");
  EXPECT_FALSE(m.headers[0].invert);
  EXPECT_EQ(m.headers[1].match.kind, StringMatch::Kind::kPresent);
  EXPECT_FALSE(m.headers[1].invert);
  EXPECT_EQ(m.headers[2].match.kind, StringMatch::Kind::kRegex);
  EXPECT_EQ(m.headers[2].match.value, "^a.*");
  EXPECT_TRUE(m.headers[2].invert);
  EXPECT_EQ(m.headers[3].match.kind, StringMatch::Kind::kPrefix);
  EXPECT_EQ(m.headers[3].match.value, "ab");
  EXPECT_EQ(m.headers[4].match.kind, StringMatch::Kind::kSuffix);
  EXPECT_EQ(m.headers[4].match.value, "yz");
  // present: false is "present, inverted".
  EXPECT_EQ(m.headers[5].match.kind, StringMatch::Kind::kPresent);
  EXPECT_TRUE(m.headers[5].invert);
  ASSERT_EQ(m.query_params.size(), 1u);
  EXPECT_EQ(m.query_params[0].name, "v");
  EXPECT_EQ(m.query_params[0].match.kind, StringMatch::Kind::kExact);
  EXPECT_EQ(m.query_params[0].match.value, "2");
}

TEST_F(EveryFeatureTest, ClusterRouteWithRewritesAndHeaders) {
  const Route& r = apiRoutes()[0];
  EXPECT_EQ(r.name, "r1");
  EXPECT_EQ(r.cluster, "app");
  EXPECT_THAT(r.weighted_clusters, IsEmpty());
  EXPECT_FALSE(r.redirect);
  EXPECT_FALSE(r.direct_response);
  EXPECT_EQ(r.prefix_rewrite, "/v2");
  EXPECT_EQ(r.host_rewrite, "backend.internal");
  ASSERT_EQ(r.request_headers_to_add.size(), 2u);
  EXPECT_EQ(r.request_headers_to_add[0].name, "x-a");
  EXPECT_EQ(r.request_headers_to_add[0].value, "b");
  EXPECT_TRUE(r.request_headers_to_add[0].append);
  EXPECT_EQ(r.request_headers_to_add[1].value, "42");
  EXPECT_FALSE(r.request_headers_to_add[1].append);
  EXPECT_THAT(r.request_headers_to_remove, ElementsAre("x-secret"));
  ASSERT_EQ(r.response_headers_to_add.size(), 1u);
  EXPECT_EQ(r.response_headers_to_add[0].name, "x-served-by");
  EXPECT_THAT(r.response_headers_to_remove, ElementsAre("server"));
  EXPECT_EQ(r.timeout, Millis(5000));
}

TEST_F(EveryFeatureTest, RouteRetryPolicy) {
  ASSERT_TRUE(apiRoutes()[0].retry_policy);
  const RetryPolicy& p = *apiRoutes()[0].retry_policy;
  EXPECT_EQ(p.retry_on,
            RetryPolicy::kConnectFailure | RetryPolicy::k5xx | RetryPolicy::kRetriableStatusCodes);
  EXPECT_EQ(p.num_retries, 3u);
  EXPECT_THAT(p.retriable_status_codes, ElementsAre(409, 429));
  EXPECT_EQ(p.per_try_timeout, Millis(2000));
  EXPECT_EQ(p.max_buffered_body_bytes, 1024u);
  EXPECT_FALSE(apiRoutes()[1].retry_policy);
}

TEST_F(EveryFeatureTest, WeightedClustersRoute) {
  const Route& r = apiRoutes()[1];
  EXPECT_EQ(r.name, "web/api/1");
  EXPECT_EQ(r.match.path_kind, RouteMatch::PathKind::kExact);
  EXPECT_EQ(r.match.path, "/split");
  ASSERT_EQ(r.weighted_clusters.size(), 2u);
  EXPECT_EQ(r.weighted_clusters[0].cluster, "app");
  EXPECT_EQ(r.weighted_clusters[0].weight, 80u);
  EXPECT_EQ(r.weighted_clusters[1].cluster, "other");
  EXPECT_EQ(r.weighted_clusters[1].weight, 20u);
  EXPECT_TRUE(r.cluster.empty());
  EXPECT_EQ(r.timeout, Millis(0));  // set to 0: no timeout, unlike unset (the cluster's)
}

TEST_F(EveryFeatureTest, RedirectRoutes) {
  const Route& r = apiRoutes()[2];
  EXPECT_EQ(r.match.path_kind, RouteMatch::PathKind::kRegex);
  EXPECT_EQ(r.match.path, "^/u/[0-9]+$");
  ASSERT_TRUE(r.redirect);
  EXPECT_EQ(r.redirect->scheme, "https");
  EXPECT_EQ(r.redirect->host, "x.example.com");
  EXPECT_EQ(r.redirect->port, 8443);
  EXPECT_EQ(r.redirect->path, "/new");
  EXPECT_FALSE(r.redirect->prefix_rewrite);
  EXPECT_TRUE(r.redirect->strip_query);
  EXPECT_EQ(r.redirect->status, 308);

  const Redirect& p = *apiRoutes()[3].redirect;
  EXPECT_EQ(p.prefix_rewrite, "/new");
  EXPECT_FALSE(p.scheme);
  EXPECT_FALSE(p.host);
  EXPECT_FALSE(p.port);
  EXPECT_FALSE(p.path);
  EXPECT_FALSE(p.strip_query);
  EXPECT_EQ(p.status, 301);
}

TEST_F(EveryFeatureTest, DirectResponseRoute) {
  const Route& r = apiRoutes()[4];
  ASSERT_TRUE(r.direct_response);
  EXPECT_EQ(r.direct_response->status, 503);
  EXPECT_EQ(r.direct_response->body, "down\n");
  EXPECT_EQ(r.direct_response->content_type, "application/json");
}

TEST_F(EveryFeatureTest, LimitsForwardingAccessLog) {
  const HttpLimits& l = web().limits;
  EXPECT_EQ(l.max_request_headers_bytes, 1000u);
  EXPECT_EQ(l.max_headers, 10u);
  EXPECT_EQ(l.max_request_body_bytes, 10485760u);
  EXPECT_EQ(l.max_chunk_extension_bytes, 16u);
  EXPECT_EQ(l.request_headers_timeout, Millis(3000));
  EXPECT_EQ(l.idle_timeout, Millis(250));
  EXPECT_EQ(l.max_requests_per_connection, 7u);
  EXPECT_EQ(l.request_timeout, Millis(30'000));
  EXPECT_TRUE(web().accept_proxy_protocol);
  const ForwardingHeaders& f = web().forwarding;
  EXPECT_FALSE(f.x_forwarded_for);
  EXPECT_FALSE(f.x_forwarded_proto);
  EXPECT_EQ(f.request_id_header, "x-trace");
  EXPECT_TRUE(f.via);
  const AccessLog& a = web().access_log;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.path, "/tmp/pier.log");
  EXPECT_EQ(a.format, AccessLog::Format::kJson);
  EXPECT_THAT(a.json_fields, ElementsAre("status", "route"));
}

TEST_F(EveryFeatureTest, RoutesShorthandIsOneCatchAllVirtualHost) {
  const Listener& s = config_.listeners[1];
  EXPECT_EQ(s.address.text(), "[::1]:8081");
  ASSERT_EQ(s.virtual_hosts.size(), 1u);
  EXPECT_EQ(s.virtual_hosts[0].name, "default");
  EXPECT_THAT(s.virtual_hosts[0].domains, ElementsAre("*"));
  ASSERT_EQ(s.virtual_hosts[0].routes.size(), 1u);
  EXPECT_EQ(s.virtual_hosts[0].routes[0].name, "short/0");
  EXPECT_FALSE(s.access_log.enabled);
  EXPECT_EQ(s.access_log.text_format, "%METHOD% %PATH%");
}

TEST_F(EveryFeatureTest, TcpListener) {
  const Listener& pg = config_.listeners[2];
  EXPECT_EQ(pg.protocol, Protocol::kTcp);
  EXPECT_EQ(pg.cluster, "app");
  EXPECT_THAT(pg.virtual_hosts, IsEmpty());
  EXPECT_TRUE(pg.accept_proxy_protocol);
  EXPECT_EQ(pg.tcp_idle_timeout, Millis(1'800'000));
}

TEST_F(EveryFeatureTest, UdpListener) {
  const Listener& dns = config_.listeners[3];
  EXPECT_EQ(dns.protocol, Protocol::kUdp);
  // The same address as the tcp listener: UDP ports are a separate space.
  EXPECT_EQ(dns.address.text(), config_.listeners[2].address.text());
  EXPECT_EQ(dns.cluster, "other");
  EXPECT_EQ(dns.tcp_idle_timeout, Millis(45'000));
  EXPECT_FALSE(dns.accept_proxy_protocol);
  EXPECT_FALSE(dns.access_log.enabled);
}

TEST_F(EveryFeatureTest, Clusters) {
  const Cluster* app = config_.findCluster("app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->lb, LbPolicy::kRingHash);
  EXPECT_EQ(app->hash_on.kind, HashOn::Kind::kHeader);
  EXPECT_EQ(app->hash_on.name, "x-user");
  ASSERT_EQ(app->endpoints.size(), 2u);
  EXPECT_EQ(app->endpoints[0].address.text(), "127.0.0.1:18081");
  EXPECT_EQ(app->endpoints[0].weight, 3u);
  EXPECT_EQ(app->endpoints[1].address.text(), "127.0.0.1:18082");
  EXPECT_EQ(app->endpoints[1].weight, 1u);
  EXPECT_EQ(app->connect_timeout, Millis(250));
  EXPECT_EQ(app->response_timeout, Millis(0));
  EXPECT_EQ(app->idle_timeout, Millis(120'000));
  EXPECT_EQ(app->max_idle_per_endpoint, 8u);

  const Cluster* other = config_.findCluster("other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->lb, LbPolicy::kMaglev);
  EXPECT_EQ(other->hash_on.kind, HashOn::Kind::kCookie);
  EXPECT_EQ(other->hash_on.name, "sid");
  EXPECT_EQ(other->endpoints[0].address.host, "::1");
  EXPECT_TRUE(other->endpoints[0].address.ipv6);
  EXPECT_EQ(config_.findCluster("missing"), nullptr);
}

TEST_F(EveryFeatureTest, HttpHealthCheck) {
  const Cluster* app = config_.findCluster("app");
  ASSERT_NE(app, nullptr);
  ASSERT_TRUE(app->health_check);
  const HealthCheck& h = *app->health_check;
  EXPECT_EQ(h.kind, HealthCheck::Kind::kHttp);
  EXPECT_EQ(h.interval, Millis(2'000));
  EXPECT_EQ(h.timeout, Millis(500));
  EXPECT_EQ(h.jitter, Millis(100));
  EXPECT_EQ(h.healthy_threshold, 1u);
  EXPECT_EQ(h.unhealthy_threshold, 4u);
  EXPECT_EQ(h.path, "/healthz");
  EXPECT_EQ(h.host, "app.internal");
  using Range = std::pair<int, int>;
  EXPECT_THAT(h.expected_statuses, ElementsAre(Range(204, 204), Range(200, 299), Range(300, 302)));
}

TEST_F(EveryFeatureTest, TcpHealthCheck) {
  const Cluster* other = config_.findCluster("other");
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->health_check);
  const HealthCheck& h = *other->health_check;
  EXPECT_EQ(h.kind, HealthCheck::Kind::kTcp);
  EXPECT_EQ(h.interval, Millis(10'000));
  EXPECT_EQ(h.timeout, Millis(3'000));
  EXPECT_EQ(h.send, "PING\r\n");
  EXPECT_EQ(h.expect, "PONG");
}

TEST_F(EveryFeatureTest, OutlierDetectionAndLimits) {
  const Cluster* app = config_.findCluster("app");
  ASSERT_NE(app, nullptr);
  const OutlierDetection& o = app->outlier_detection;
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.consecutive_5xx, 7u);
  EXPECT_EQ(o.consecutive_gateway_failure, 0u);
  EXPECT_EQ(o.base_ejection_time, Millis(10'000));
  EXPECT_EQ(o.max_ejection_time, Millis(60'000));
  EXPECT_EQ(o.max_ejection_percent, 100u);
  EXPECT_EQ(app->circuit_breakers.max_connections, 100u);
  EXPECT_EQ(app->circuit_breakers.max_pending_requests, 10u);
  EXPECT_EQ(app->circuit_breakers.max_requests, 50u);
  EXPECT_EQ(app->retry_budget.budget_percent, 10u);
  EXPECT_EQ(app->retry_budget.min_retry_concurrency, 1u);
  EXPECT_EQ(app->panic_threshold_percent, 0u);
  EXPECT_EQ(app->send_proxy_protocol, Cluster::ProxyProtocol::kV1);
  EXPECT_EQ(config_.findCluster("other")->send_proxy_protocol, Cluster::ProxyProtocol::kNone);
}

TEST_F(EveryFeatureTest, ClusterRetryPolicyIsTheRoutesDefault) {
  const RetryPolicy& p = config_.findCluster("app")->default_retry_policy;
  EXPECT_EQ(p.retry_on, RetryPolicy::kGatewayError);
  EXPECT_EQ(p.num_retries, 0u);
  EXPECT_FALSE(p.per_try_timeout);
}

TEST(LoaderTest, DefaultsMatchTheDocumentation) {
  Config c = loadOk(R"(
listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app }]
clusters:
  - name: app
    endpoints: [127.0.0.1:18081]
)");
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.address.text(), "127.0.0.1:9901");
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.drain_timeout, Millis(10'000));
  EXPECT_EQ(c.log_level, "info");

  const Listener& l = c.listeners.at(0);
  EXPECT_EQ(l.protocol, Protocol::kHttp);
  EXPECT_EQ(l.limits.max_request_headers_bytes, 65536u);
  EXPECT_EQ(l.limits.max_headers, 100u);
  EXPECT_EQ(l.limits.max_request_body_bytes, 0u);
  EXPECT_EQ(l.limits.max_chunk_extension_bytes, 256u);
  EXPECT_EQ(l.limits.request_headers_timeout, Millis(10'000));
  EXPECT_EQ(l.limits.idle_timeout, Millis(60'000));
  EXPECT_EQ(l.limits.max_requests_per_connection, 0u);
  EXPECT_EQ(l.limits.request_timeout, Millis(0));
  EXPECT_FALSE(l.accept_proxy_protocol);
  EXPECT_EQ(l.tcp_idle_timeout, Millis(3'600'000));
  EXPECT_TRUE(l.forwarding.x_forwarded_for);
  EXPECT_TRUE(l.forwarding.x_forwarded_proto);
  EXPECT_EQ(l.forwarding.request_id_header, "x-request-id");
  EXPECT_FALSE(l.forwarding.via);
  EXPECT_FALSE(l.access_log.enabled);

  const Route& r = l.virtual_hosts.at(0).routes.at(0);
  EXPECT_EQ(r.name, "web/0");
  EXPECT_TRUE(r.match.case_sensitive);
  EXPECT_THAT(r.match.methods, IsEmpty());
  EXPECT_FALSE(r.timeout);
  EXPECT_FALSE(r.prefix_rewrite);
  EXPECT_FALSE(r.retry_policy);

  const Cluster& k = c.clusters.at(0);
  EXPECT_EQ(k.lb, LbPolicy::kRoundRobin);
  EXPECT_EQ(k.hash_on.kind, HashOn::Kind::kSourceIp);
  EXPECT_EQ(k.endpoints.at(0).weight, 1u);
  EXPECT_EQ(k.connect_timeout, Millis(2'000));
  EXPECT_EQ(k.response_timeout, Millis(15'000));
  EXPECT_EQ(k.idle_timeout, Millis(60'000));
  EXPECT_EQ(k.max_idle_per_endpoint, 1024u);
  EXPECT_FALSE(k.health_check);
  EXPECT_TRUE(k.outlier_detection.enabled);
  EXPECT_EQ(k.outlier_detection.consecutive_5xx, 5u);
  EXPECT_EQ(k.outlier_detection.consecutive_gateway_failure, 3u);
  EXPECT_EQ(k.outlier_detection.base_ejection_time, Millis(5'000));
  EXPECT_EQ(k.outlier_detection.max_ejection_time, Millis(300'000));
  EXPECT_EQ(k.outlier_detection.max_ejection_percent, 50u);
  EXPECT_EQ(k.circuit_breakers.max_connections, 0u);
  EXPECT_EQ(k.circuit_breakers.max_pending_requests, 0u);
  EXPECT_EQ(k.circuit_breakers.max_requests, 0u);
  EXPECT_EQ(k.retry_budget.budget_percent, 20u);
  EXPECT_EQ(k.retry_budget.min_retry_concurrency, 3u);
  EXPECT_EQ(k.panic_threshold_percent, 50u);
  EXPECT_EQ(k.send_proxy_protocol, Cluster::ProxyProtocol::kNone);
  EXPECT_EQ(k.default_retry_policy.retry_on, RetryPolicy::kConnectFailure | RetryPolicy::kReset);
  EXPECT_EQ(k.default_retry_policy.num_retries, 1u);
  EXPECT_THAT(k.default_retry_policy.retriable_status_codes, IsEmpty());
  EXPECT_FALSE(k.default_retry_policy.per_try_timeout);
  EXPECT_EQ(k.default_retry_policy.max_buffered_body_bytes, 65536u);
}

TEST(LoaderTest, EmptyHealthCheckIsAnHttpCheckWithDefaults) {
  Config c = loadOk("clusters: [{ name: app, endpoints: [127.0.0.1:1], health_check: }]\n");
  ASSERT_TRUE(c.clusters.at(0).health_check);
  const HealthCheck& h = *c.clusters[0].health_check;
  EXPECT_EQ(h.kind, HealthCheck::Kind::kHttp);
  EXPECT_EQ(h.interval, Millis(5'000));
  EXPECT_EQ(h.timeout, Millis(1'000));
  EXPECT_EQ(h.jitter, Millis(0));
  EXPECT_EQ(h.healthy_threshold, 2u);
  EXPECT_EQ(h.unhealthy_threshold, 3u);
  EXPECT_EQ(h.path, "/");
  EXPECT_EQ(h.host, "");
  EXPECT_THAT(h.expected_statuses, ElementsAre(std::pair(200, 399)));
}

TEST(LoaderTest, RouteRetryPolicyStartsFromTheDefaultsNotTheClusters) {
  Config c = loadOk(R"(
listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, cluster: app, retry_policy: { num_retries: 4 } }]
clusters:
  - name: app
    endpoints: [127.0.0.1:18081]
    retry_policy: { retry_on: [5xx], per_try_timeout: 1s }
)");
  const RetryPolicy& p = c.listeners.at(0).virtual_hosts.at(0).routes.at(0).retry_policy.value();
  EXPECT_EQ(p.num_retries, 4u);
  EXPECT_EQ(p.retry_on, RetryPolicy::kConnectFailure | RetryPolicy::kReset);
  EXPECT_FALSE(p.per_try_timeout);
}

TEST(LoaderTest, EmptyDocumentIsAllDefaults) {
  Config c = loadOk("# nothing but a comment\n");
  EXPECT_THAT(c.listeners, IsEmpty());
  EXPECT_THAT(c.clusters, IsEmpty());
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.source, "t.yaml");
}

TEST(LoaderTest, AccessLogSectionEnablesTheLogWithDefaults) {
  Config c = loadOk(R"(
listeners:
  - name: web
    address: 127.0.0.1:8080
    routes: [{ match: { prefix: / }, direct_response: { status: 204 } }]
    access_log:
)");
  const AccessLog& a = c.listeners.at(0).access_log;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.path, "stdout");
  EXPECT_EQ(a.format, AccessLog::Format::kText);
  EXPECT_EQ(a.text_format, AccessLog{}.text_format);
}

TEST(LoaderTest, DurationsAcceptUnitsAndPlainMilliseconds) {
  EXPECT_EQ(loadOk("drain_timeout: 250ms\n").drain_timeout, Millis(250));
  EXPECT_EQ(loadOk("drain_timeout: 10s\n").drain_timeout, Millis(10'000));
  EXPECT_EQ(loadOk("drain_timeout: 1m\n").drain_timeout, Millis(60'000));
  EXPECT_EQ(loadOk("drain_timeout: 1500\n").drain_timeout, Millis(1'500));
}

TEST(LoaderTest, AdminCanBeDisabled) { EXPECT_FALSE(loadOk("admin: { enabled: false }\n").admin.enabled); }

TEST(LoaderTest, Ipv6AddressesAreCanonical) {
  Config c = loadOk("admin: { address: \"[0:0::1]:9901\" }\n");
  EXPECT_EQ(c.admin.address.host, "::1");
  EXPECT_EQ(c.admin.address.text(), "[::1]:9901");
}

TEST(LoaderTest, MissingFileSaysWhy) {
  auto result = loadFile("/nonexistent/pier.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "/nonexistent/pier.yaml: cannot read: No such file or directory");
}

TEST(LoaderTest, DirectoryIsNotAConfigFile) {
  auto result = loadFile(kTestdata.string());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), kTestdata.string() + ": cannot read: Is a directory");
}

TEST(LoaderTest, FileErrorsNameTheFile) {
  std::string path = (kTestdata / "unknown_cluster.yaml").string();
  auto result = loadFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(),
            path + ":6:18: listeners[0].routes[0].cluster: unknown cluster \"ap\"; did you mean \"app\"?");
}

TEST(LoaderTest, FileSyntaxErrorsNameTheFile) {
  std::string path = (kTestdata / "syntax_error.yaml").string();
  auto result = loadFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), ::testing::StartsWith(path + ":"));
  EXPECT_THAT(result.error(), HasSubstr(": YAML syntax error: "));
}

TEST(LoaderTest, ShippedExamplesLoad) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kExamples)) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    auto result = loadFile(entry.path().string());
    EXPECT_TRUE(result.ok()) << result.error();
  }
  EXPECT_GE(count, 2);
}

TEST(LoaderTest, MinimalExampleIsWhatTheDocsSay) {
  auto result = loadFile((kExamples / "minimal.yaml").string());
  ASSERT_TRUE(result.ok()) << result.error();
  ASSERT_EQ(result->listeners.size(), 1u);
  EXPECT_EQ(result->listeners[0].address.text(), "0.0.0.0:8080");
  ASSERT_EQ(result->clusters.size(), 1u);
  EXPECT_EQ(result->clusters[0].endpoints.size(), 2u);
}

TEST(LoaderTest, ControlCharactersInMessagesAreEscaped) {
  auto result = loadString("\"bad\\nkey\": 1\n", "t.yaml");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(),
            "t.yaml:1:1: bad\\x0akey: unknown field; expected one of admin, workers, drain_timeout, "
            "log_level, listeners, clusters, virtual_ips");
}

}  // namespace
}  // namespace pier::config
