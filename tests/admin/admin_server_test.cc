// The admin endpoints through handleAdminRequest() with a fake source, and
// the listener end to end over loopback.
#include "src/admin/admin_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/config/loader.h"
#include "src/stats/metrics.h"

namespace pier::admin {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A name no earlier test (or --gtest_repeat round) used: the metrics store
// lives as long as the process.
std::string fresh(std::string_view base) {
  static std::atomic<int> generation{0};
  return std::string(base) + "_g" + std::to_string(generation++);
}

class FakeSource final : public AdminSource {
 public:
  std::shared_ptr<const proxy::Snapshot> currentSnapshot() const override { return snapshot; }
  bool ready() const override { return is_ready; }

  std::shared_ptr<const proxy::Snapshot> snapshot;
  bool is_ready = true;
};

// A snapshot of a small config whose cluster is called `cluster` (the metrics
// store is process-wide, so tests that read endpoint counters use their own).
std::shared_ptr<const proxy::Snapshot> makeSnapshot(const std::string& cluster) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:18080
    routes:
      - match: { prefix: / }
        cluster: CLUSTER
clusters:
  - name: CLUSTER
    lb: least_request
    endpoints:
      - { address: 127.0.0.1:18081, weight: 3 }
      - { address: "[::1]:18082", weight: 1 }
)";
  for (size_t at; (at = yaml.find("CLUSTER")) != std::string::npos;) {
    yaml.replace(at, 7, cluster);
  }
  auto cfg = config::loadString(yaml, "<admin test>");
  EXPECT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error());
  if (!cfg.ok()) return nullptr;
  auto snap = proxy::Snapshot::build(std::make_unique<config::Config>(std::move(cfg.value())));
  EXPECT_TRUE(snap.ok()) << (snap.ok() ? "" : snap.error());
  return snap.ok() ? snap.value() : nullptr;
}

TEST(AdminRequestTest, ReadyWhenTheSourceIsReady) {
  FakeSource src;
  auto r = handleAdminRequest("GET", "/ready", src);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
}

TEST(AdminRequestTest, NotReadyIs503) {
  FakeSource src;
  src.is_ready = false;
  auto r = handleAdminRequest("GET", "/ready", src);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready\n");
}

TEST(AdminRequestTest, ReadyNeedsNoSnapshot) {
  FakeSource src;
  src.snapshot = nullptr;
  EXPECT_EQ(handleAdminRequest("GET", "/ready", src).status, 200);
}

TEST(AdminRequestTest, UnknownPathIs404) {
  FakeSource src;
  src.snapshot = makeSnapshot("app_404");
  for (const char* path : {"/nope", "/ready/", "/READY", "/config/x", ""}) {
    EXPECT_EQ(handleAdminRequest("GET", path, src).status, 404) << path;
  }
}

TEST(AdminRequestTest, MethodsOtherThanGetAndHeadAre405) {
  FakeSource src;
  src.snapshot = makeSnapshot("app_405");
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"}) {
    for (const char* path : {"/ready", "/config", "/nope"}) {
      auto r = handleAdminRequest(method, path, src);
      EXPECT_EQ(r.status, 405) << method << " " << path;
    }
  }
}

TEST(AdminRequestTest, HeadIsAllowed) {
  FakeSource src;
  EXPECT_EQ(handleAdminRequest("HEAD", "/ready", src).status, 200);
}

TEST(AdminRequestTest, IndexListsTheEndpoints) {
  FakeSource src;
  auto r = handleAdminRequest("GET", "/", src);
  EXPECT_EQ(r.status, 200);
  for (const char* path : {"/ready", "/stats/prometheus", "/config", "/clusters"}) {
    EXPECT_THAT(r.body, HasSubstr(path));
  }
}

TEST(AdminRequestTest, PrometheusServesTheMetricsStore) {
  const std::string name = fresh("t_admin_probe_total");
  stats::Store::instance().counter(name, {{"k", "v"}}, "Admin test probe.").add(3);
  FakeSource src;
  auto r = handleAdminRequest("GET", "/stats/prometheus", src);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("# TYPE " + name + " counter\n"));
  EXPECT_THAT(r.body, HasSubstr(name + "{k=\"v\"} 3\n"));
  EXPECT_EQ(handleAdminRequest("GET", "/metrics", src).body, r.body);
}

TEST(AdminRequestTest, ConfigIsTheRunningConfigAsJson) {
  FakeSource src;
  src.snapshot = makeSnapshot("app_config");
  ASSERT_NE(src.snapshot, nullptr);
  auto r = handleAdminRequest("GET", "/config", src);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  json j = json::parse(r.body);
  EXPECT_EQ(j, config::toJson(src.snapshot->config()));
  EXPECT_EQ(j["listeners"][0]["name"], "web");
  EXPECT_EQ(j["listeners"][0]["address"], "127.0.0.1:18080");
  EXPECT_EQ(j["clusters"][0]["name"], "app_config");
  EXPECT_EQ(j["clusters"][0]["endpoints"][1]["address"], "[::1]:18082");
}

TEST(AdminRequestTest, ConfigFollowsTheCurrentSnapshot) {
  FakeSource src;
  src.snapshot = makeSnapshot("app_before");
  EXPECT_EQ(json::parse(handleAdminRequest("GET", "/config", src).body)["clusters"][0]["name"], "app_before");
  src.snapshot = makeSnapshot("app_after");
  EXPECT_EQ(json::parse(handleAdminRequest("GET", "/config", src).body)["clusters"][0]["name"], "app_after");
}

TEST(AdminRequestTest, ConfigAndClustersFailWithoutASnapshot) {
  FakeSource src;
  for (const char* path : {"/config", "/clusters"}) {
    auto r = handleAdminRequest("GET", path, src);
    EXPECT_GE(r.status, 400) << path;
    EXPECT_NE(r.content_type, "application/json") << path;
  }
}

TEST(AdminRequestTest, ClustersListsEndpointsWithTheirState) {
  FakeSource src;
  const std::string cluster = fresh("app_clusters");
  src.snapshot = makeSnapshot(cluster);
  ASSERT_NE(src.snapshot, nullptr);
  const auto& ep0 = src.snapshot->clusters()[0].endpoints[0];
  ep0.requests.add(5);
  ep0.active_requests.add(2);
  ep0.connections.add(4);
  ep0.connect_failures.add(1);

  auto r = handleAdminRequest("GET", "/clusters", src);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  json j = json::parse(r.body);
  ASSERT_EQ(j["clusters"].size(), 1u);
  const json& c = j["clusters"][0];
  EXPECT_EQ(c["name"], cluster);
  EXPECT_EQ(c["lb"], "least_request");
  ASSERT_EQ(c["endpoints"].size(), 2u);
  const json& e0 = c["endpoints"][0];
  EXPECT_EQ(e0["address"], "127.0.0.1:18081");
  EXPECT_EQ(e0["weight"], 3);
  EXPECT_EQ(e0["healthy"], true);
  EXPECT_EQ(e0["requests_total"], 5);
  EXPECT_EQ(e0["active_requests"], 2);
  EXPECT_EQ(e0["connections_total"], 4);
  EXPECT_EQ(e0["connect_failures_total"], 1);
  const json& e1 = c["endpoints"][1];
  EXPECT_EQ(e1["address"], "[::1]:18082");
  EXPECT_EQ(e1["weight"], 1);
  EXPECT_EQ(e1["requests_total"], 0);
}

// --- the listener over loopback ------------------------------------------------

class AdminServerTest : public ::testing::Test {
 protected:
  AdminServerTest() {
    auto addr = net::resolve(config::SocketAddress{"127.0.0.1", 0, false});
    EXPECT_TRUE(addr.ok());
    auto fd = net::listenTcp(addr.value());
    EXPECT_TRUE(fd.ok());
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    getsockname(fd->get(), reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
    server_ = std::make_unique<AdminServer>(loop_, std::move(fd.value()), source_);
  }

  // Sends `request` from another thread with blocking calls, reads until the
  // server closes, then stops the loop that serves it.
  std::string exchange(const std::string& request) {
    std::string response;
    std::thread client([&] {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(port_);
      sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0) {
        size_t off = 0;
        while (off < request.size()) {
          ssize_t n = send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
          if (n <= 0) break;
          off += static_cast<size_t>(n);
        }
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
          response.append(buf, static_cast<size_t>(n));
        }
      }
      close(fd);
      loop_.stop();
    });
    loop_.run();
    client.join();
    return response;
  }

  event::Loop loop_;
  FakeSource source_;
  uint16_t port_ = 0;
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, AnswersOneRequestAndCloses) {
  std::string resp = exchange("GET /ready HTTP/1.1\r\nHost: admin\r\n\r\n");
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(resp, HasSubstr("\r\ncontent-length: 6\r\n"));
  EXPECT_THAT(resp, HasSubstr("\r\nconnection: close\r\n"));
  EXPECT_THAT(resp, HasSubstr("\r\n\r\nready\n"));
}

TEST_F(AdminServerTest, HeadHasTheLengthButNoBody) {
  std::string resp = exchange("HEAD /ready HTTP/1.1\r\nHost: admin\r\n\r\n");
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(resp, HasSubstr("\r\ncontent-length: 6\r\n"));
  ASSERT_GE(resp.size(), 4u);
  EXPECT_EQ(resp.substr(resp.size() - 4), "\r\n\r\n");
}

TEST_F(AdminServerTest, NotReadyIs503OnTheWire) {
  source_.is_ready = false;
  EXPECT_THAT(exchange("GET /ready HTTP/1.1\r\nHost: admin\r\n\r\n"), StartsWith("HTTP/1.1 503 "));
}

TEST_F(AdminServerTest, PostIs405OnTheWire) {
  EXPECT_THAT(exchange("POST /ready HTTP/1.1\r\nHost: admin\r\ncontent-length: 0\r\n\r\n"),
              StartsWith("HTTP/1.1 405 "));
}

TEST_F(AdminServerTest, MalformedRequestIsRejected) {
  EXPECT_THAT(exchange("GET /ready HTTP/1.1\r\nbad header line\r\n\r\n"), StartsWith("HTTP/1.1 400 "));
}

TEST_F(AdminServerTest, RequestSplitAcrossWritesIsAssembled) {
  // The whole request arrives eventually; the server must wait for the end of the head.
  EXPECT_THAT(
      exchange("GET /ready HTTP/1.1\r\nHost: admin\r\nX-Pad: " + std::string(20'000, 'p') + "\r\n\r\n"),
      StartsWith("HTTP/1.1 200 OK\r\n"));
}

}  // namespace
}  // namespace pier::admin
