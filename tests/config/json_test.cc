// toJson: its shape, and that its output loads back to the same config.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/config/loader.h"

namespace pier::config {
namespace {

const std::filesystem::path kDir = std::filesystem::path(__FILE__).parent_path();

nlohmann::json jsonOfFile(const std::filesystem::path& path) {
  auto config = loadFile(path.string());
  EXPECT_TRUE(config.ok()) << config.error();
  return config.ok() ? toJson(*config) : nlohmann::json();
}

// JSON is YAML: the dump must load again and produce the same JSON.
void expectRoundTrip(const nlohmann::json& json) {
  auto again = loadString(json.dump(2), "dump.json");
  ASSERT_TRUE(again.ok()) << again.error() << "\n" << json.dump(2);
  EXPECT_EQ(toJson(*again), json);
}

TEST(JsonTest, EveryFeatureRoundTrips) { expectRoundTrip(jsonOfFile(kDir / "testdata/every_feature.yaml")); }

TEST(JsonTest, ExamplesRoundTrip) {
  for (const auto& entry : std::filesystem::directory_iterator(kDir / "../../examples")) {
    if (entry.path().extension() == ".yaml") expectRoundTrip(jsonOfFile(entry.path()));
  }
}

TEST(JsonTest, DefaultsRoundTrip) {
  auto config = loadString("", "empty");
  ASSERT_TRUE(config.ok());
  expectRoundTrip(toJson(*config));
}

TEST(JsonTest, DurationsAreStrings) {
  nlohmann::json j = jsonOfFile(kDir / "testdata/every_feature.yaml");
  EXPECT_EQ(j["drain_timeout"], "90s");
  EXPECT_EQ(j["listeners"][0]["limits"]["idle_timeout"], "250ms");
  EXPECT_EQ(j["listeners"][0]["virtual_hosts"][0]["routes"][0]["timeout"], "5s");
  EXPECT_EQ(j["clusters"][0]["idle_timeout"], "2m");
  EXPECT_EQ(j["clusters"][0]["response_timeout"], "0s");
}

TEST(JsonTest, ShapeFollowsTheYamlSchema) {
  nlohmann::json j = jsonOfFile(kDir / "testdata/every_feature.yaml");
  EXPECT_EQ(j["admin"]["address"], "[::1]:9902");
  EXPECT_EQ(j["workers"], 3);
  const auto& web = j["listeners"][0];
  EXPECT_EQ(web["protocol"], "http");
  EXPECT_EQ(web["address"], "0.0.0.0:8080");
  const auto& r1 = web["virtual_hosts"][0]["routes"][0];
  EXPECT_EQ(r1["name"], "r1");
  EXPECT_EQ(r1["cluster"], "app");
  EXPECT_EQ(r1["match"]["prefix"], "/v1");
  EXPECT_EQ(r1["match"]["headers"][5],
            (nlohmann::json{{"name", "x-gone"}, {"present", true}, {"invert", true}}));
  EXPECT_FALSE(r1.contains("redirect"));
  EXPECT_EQ(web["virtual_hosts"][0]["routes"][2]["redirect"]["status"], 308);
  EXPECT_EQ(j["listeners"][2]["cluster"], "app");
  EXPECT_FALSE(j["listeners"][2].contains("virtual_hosts"));
  EXPECT_EQ(j["clusters"][0]["lb"], "ring_hash");
  EXPECT_EQ(j["clusters"][0]["hash_on"], (nlohmann::json{{"header", "x-user"}}));
  EXPECT_EQ(j["clusters"][0]["endpoints"][0],
            (nlohmann::json{{"address", "127.0.0.1:18081"}, {"weight", 3}}));
  EXPECT_FALSE(j.contains("source"));
}

TEST(JsonTest, ListenersShowOnlyTheirProtocolsFields) {
  nlohmann::json j = jsonOfFile(kDir / "testdata/every_feature.yaml");
  const auto& web = j["listeners"][0];
  EXPECT_EQ(web["accept_proxy_protocol"], true);
  EXPECT_EQ(web["limits"]["request_timeout"], "30s");
  EXPECT_FALSE(web.contains("tcp_idle_timeout"));
  const auto& pg = j["listeners"][2];
  EXPECT_EQ(pg["tcp_idle_timeout"], "30m");
  EXPECT_EQ(pg["accept_proxy_protocol"], true);
  EXPECT_TRUE(pg.contains("access_log"));
  const auto& dns = j["listeners"][3];
  EXPECT_EQ(dns["protocol"], "udp");
  EXPECT_EQ(dns["cluster"], "other");
  EXPECT_EQ(dns["tcp_idle_timeout"], "45s");
  EXPECT_FALSE(dns.contains("access_log"));
  EXPECT_FALSE(dns.contains("accept_proxy_protocol"));
  EXPECT_FALSE(dns.contains("limits"));
}

TEST(JsonTest, RetryPolicyShape) {
  nlohmann::json j = jsonOfFile(kDir / "testdata/every_feature.yaml");
  EXPECT_EQ(j["listeners"][0]["virtual_hosts"][0]["routes"][0]["retry_policy"],
            (nlohmann::json{{"retry_on", {"connect-failure", "5xx", "retriable-status-codes"}},
                            {"num_retries", 3},
                            {"retriable_status_codes", {409, 429}},
                            {"per_try_timeout", "2s"},
                            {"max_buffered_body_bytes", 1024}}));
  EXPECT_FALSE(j["listeners"][0]["virtual_hosts"][0]["routes"][1].contains("retry_policy"));
  // Without the retriable-status-codes condition the codes are left out (they would not load).
  EXPECT_EQ(j["clusters"][0]["retry_policy"], (nlohmann::json{{"retry_on", {"gateway-error"}},
                                                              {"num_retries", 0},
                                                              {"max_buffered_body_bytes", 1024 * 64}}));
}

TEST(JsonTest, HealthCheckShape) {
  nlohmann::json j = jsonOfFile(kDir / "testdata/every_feature.yaml");
  const auto& http = j["clusters"][0]["health_check"];
  EXPECT_EQ(http["type"], "http");
  EXPECT_EQ(http["interval"], "2s");
  EXPECT_EQ(http["timeout"], "500ms");
  EXPECT_EQ(http["host"], "app.internal");
  // Single codes as numbers, ranges as "low-high".
  EXPECT_EQ(http["expected_statuses"], (nlohmann::json{204, "200-299", "300-302"}));
  EXPECT_FALSE(http.contains("send"));
  const auto& tcp = j["clusters"][1]["health_check"];
  EXPECT_EQ(tcp["type"], "tcp");
  EXPECT_EQ(tcp["send"], "PING\r\n");
  EXPECT_EQ(tcp["expect"], "PONG");
  EXPECT_FALSE(tcp.contains("path"));
  EXPECT_FALSE(tcp.contains("expected_statuses"));
}

TEST(JsonTest, ClusterResilienceShape) {
  nlohmann::json j = jsonOfFile(kDir / "testdata/every_feature.yaml");
  const auto& app = j["clusters"][0];
  EXPECT_EQ(app["outlier_detection"], (nlohmann::json{{"enabled", false},
                                                      {"consecutive_5xx", 7},
                                                      {"consecutive_gateway_failure", 0},
                                                      {"base_ejection_time", "10s"},
                                                      {"max_ejection_time", "1m"},
                                                      {"max_ejection_percent", 100}}));
  EXPECT_EQ(app["circuit_breakers"],
            (nlohmann::json{{"max_connections", 100}, {"max_pending_requests", 10}, {"max_requests", 50}}));
  EXPECT_EQ(app["retry_budget"], (nlohmann::json{{"budget_percent", 10}, {"min_retry_concurrency", 1}}));
  EXPECT_EQ(app["panic_threshold_percent"], 0);
  EXPECT_EQ(app["send_proxy_protocol"], "v1");
  EXPECT_EQ(j["clusters"][1]["send_proxy_protocol"], "none");
}

TEST(JsonTest, DefaultHealthCheckIsLeftOutAndDefaultStatusesAreARange) {
  auto config = loadString(
      "clusters:\n"
      "  - { name: a, endpoints: [127.0.0.1:1] }\n"
      "  - { name: b, endpoints: [127.0.0.1:2], health_check: {} }\n",
      "t");
  ASSERT_TRUE(config.ok()) << config.error();
  nlohmann::json j = toJson(*config);
  EXPECT_FALSE(j["clusters"][0].contains("health_check"));
  EXPECT_EQ(j["clusters"][1]["health_check"]["expected_statuses"], (nlohmann::json{"200-399"}));
  // No host: the checker sends the endpoint's address.
  EXPECT_FALSE(j["clusters"][1]["health_check"].contains("host"));
  expectRoundTrip(j);
}

TEST(JsonTest, SourceIpHashIsAString) {
  auto config = loadString("clusters: [{ name: a, endpoints: [127.0.0.1:1] }]\n", "t");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(toJson(*config)["clusters"][0]["hash_on"], "source_ip");
}

}  // namespace
}  // namespace pier::config
