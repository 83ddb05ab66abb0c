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

TEST(JsonTest, SourceIpHashIsAString) {
  auto config = loadString("clusters: [{ name: a, endpoints: [127.0.0.1:1] }]\n", "t");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(toJson(*config)["clusters"][0]["hash_on"], "source_ip");
}

}  // namespace
}  // namespace pier::config
