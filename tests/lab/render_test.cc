// The files `pier lab up` writes: node and pod configs carry the plan's
// addresses, the state file round-trips, durations and keys are spelt as
// pier's config and key file expect.
#include "src/lab/render.h"

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

using std::chrono::milliseconds;

LabOptions options() {
  LabOptions o;
  o.binary = "/opt/pier/bin/pier";
  return o;
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(LabRenderTest, NodeConfigAnnouncesBothVipsWithTheClusterKey) {
  auto text = renderNodeConfig(options(), 2);
  EXPECT_TRUE(has(text, "virtual_ips:\n  node_name: node2\n")) << text;
  EXPECT_TRUE(has(text, "key_file: /run/pier-lab/cluster.key")) << text;
  EXPECT_TRUE(has(text, "interfaces: [eth0]")) << text;
  EXPECT_TRUE(has(text, "heartbeat: { interval: 100ms, dead_after_missed: 3 }")) << text;
  EXPECT_TRUE(has(text, "addresses: [\"10.77.0.100/32\", \"fd77::100/128\"]")) << text;
  EXPECT_TRUE(has(text, "address: \"10.77.0.100:80\"")) << text;
  EXPECT_TRUE(has(text, "address: \"[fd77::100]:80\"")) << text;
}

TEST(LabRenderTest, NodeForwardsOnlyToItsOwnPods) {
  auto text = renderNodeConfig(options(), 3);
  EXPECT_TRUE(has(text, "endpoints: [\"10.78.3.2:8080\", \"10.78.3.3:8080\"]")) << text;
  EXPECT_FALSE(has(text, "10.78.1.")) << text;
  EXPECT_TRUE(has(text, "health_check:")) << text;
}

TEST(LabRenderTest, NodeServesItsOwnAddressToo) {
  EXPECT_TRUE(has(renderNodeConfig(options(), 1), "address: \"10.77.0.11:80\""));
}

TEST(LabRenderTest, HeartbeatIntervalIsRendered) {
  LabOptions o = options();
  o.heartbeat = milliseconds(10);
  o.dead_after_missed = 5;
  EXPECT_TRUE(has(renderNodeConfig(o, 1), "heartbeat: { interval: 10ms, dead_after_missed: 5 }"));
}

TEST(LabRenderTest, WithoutVipTheNodeListensOnEveryAddressAndAnnouncesNothing) {
  LabOptions o = options();
  o.vip = false;
  auto text = renderNodeConfig(o, 1);
  EXPECT_FALSE(has(text, "virtual_ips")) << text;
  EXPECT_TRUE(has(text, "address: \"0.0.0.0:80\"")) << text;
  EXPECT_FALSE(has(text, "10.77.0.100")) << text;
}

TEST(LabRenderTest, PodAnswersWithItsLabel) {
  auto text = renderPodConfig(2, 1);
  EXPECT_TRUE(has(text, "address: \"0.0.0.0:8080\"")) << text;
  EXPECT_TRUE(has(text, "direct_response: { status: 200, body: \"pod node2-pod1\\n\" }")) << text;
}

TEST(LabRenderTest, AdminStaysOnLoopbackOfEachNamespace) {
  EXPECT_TRUE(has(renderNodeConfig(options(), 1), "admin: { address: \"127.0.0.1:9901\" }"));
  EXPECT_TRUE(has(renderPodConfig(1, 1), "admin: { address: \"127.0.0.1:9901\" }"));
}

TEST(LabRenderTest, StateRoundTrips) {
  LabOptions o = options();
  o.nodes = 2;
  o.heartbeat = milliseconds(10);
  o.dead_after_missed = 4;
  o.vip = false;
  auto back = parseState(renderState(o));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->nodes, 2);
  EXPECT_EQ(back->binary, o.binary);
  EXPECT_EQ(back->heartbeat, milliseconds(10));
  EXPECT_EQ(back->dead_after_missed, 4);
  EXPECT_FALSE(back->vip);
}

TEST(LabRenderTest, StateRejectsMissingUnknownAndInvalidKeys) {
  auto good = renderState(options());
  EXPECT_FALSE(parseState(""));
  EXPECT_FALSE(parseState(good + "colour=blue\n"));
  EXPECT_FALSE(parseState("nodes=3\n"));
  std::string bad = good;
  bad.replace(bad.find("nodes=3"), 7, "nodes=x");
  EXPECT_FALSE(parseState(bad));
  bad = good;
  bad.replace(bad.find("nodes=3"), 7, "nodes=42");
  EXPECT_FALSE(parseState(bad));
}

TEST(LabRenderTest, KeyIsLowerCaseHexWithNewline) {
  const uint8_t bytes[] = {0x00, 0xab, 0x10, 0xff};
  EXPECT_EQ(hexKey(bytes), "00ab10ff\n");
}

TEST(LabRenderTest, DurationsFormatAsPierConfigSpellsThem) {
  EXPECT_EQ(formatDuration(milliseconds(100)), "100ms");
  EXPECT_EQ(formatDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(formatDuration(milliseconds(10)), "10ms");
}

TEST(LabRenderTest, DurationsParseWithUnits) {
  using std::chrono::microseconds;
  EXPECT_EQ(parseDuration("1ms"), microseconds(1000));
  EXPECT_EQ(parseDuration("1500us"), microseconds(1500));
  EXPECT_EQ(parseDuration("0.5s"), microseconds(500'000));
  EXPECT_EQ(parseDuration("2s"), microseconds(2'000'000));
  for (const char* bad : {"", "ms", "10", "-1ms", "0ms", "1 ms", "1h", "abcms"}) {
    EXPECT_EQ(parseDuration(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace pier::lab
