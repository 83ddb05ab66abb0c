// Active health checking against real loopback servers run on the checker's
// own loop: probe requests, pass/fail rules, thresholds, timeouts, update()
// semantics and socket hygiene.
#include "src/upstream/health_checker.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/upstream/health_test_server.h"

namespace pier::upstream {
namespace {

using std::chrono::milliseconds;
using testing::ClosedPort;
using ::testing::HasSubstr;
using testing::runSteps;
using testing::runUntil;
using ::testing::StartsWith;
using testing::Step;
using testing::TestServer;
using Mode = TestServer::Mode;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kLimit{5000};  // generous: only a broken checker gets near it

std::string httpResponse(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
}

config::HealthCheck httpCheck() {
  config::HealthCheck c;
  c.kind = config::HealthCheck::Kind::kHttp;
  c.interval = milliseconds(20);
  c.timeout = milliseconds(500);
  c.healthy_threshold = 1;
  c.unhealthy_threshold = 1;
  return c;
}

config::HealthCheck tcpCheck() {
  config::HealthCheck c = httpCheck();
  c.kind = config::HealthCheck::Kind::kTcp;
  return c;
}

class HealthCheckerTest : public ::testing::Test {
 protected:
  HealthCheckTarget target(const TestServer& server, const std::string& cluster = "web") {
    return {cluster, server.endpoint(), server.address()};
  }
  void watch(const config::HealthCheck& check, std::vector<HealthCheckTarget> targets) {
    loop_.updateNow();  // the loop is not running yet: don't schedule from a stale time
    checker_->update({{check, std::move(targets)}});
  }
  HealthStatus statusOf(const std::string& endpoint) const {
    for (auto& s : checker_->status()) {
      if (s.endpoint == endpoint) return s;
    }
    ADD_FAILURE() << "no status for " << endpoint;
    return {};
  }
  uint64_t probes(const TestServer& server) const { return statusOf(server.endpoint()).probes; }

  event::Loop loop_;
  std::vector<HealthTransition> transitions_;
  std::function<void(const HealthTransition&)> on_transition_;  // a test's extra hook
  std::unique_ptr<HealthChecker> checker_ = std::make_unique<HealthChecker>(
      loop_,
      [this](const HealthTransition& t) {
        transitions_.push_back(t);
        if (on_transition_) on_transition_(t);
      },
      1234);
};

// --- HTTP -------------------------------------------------------------------

TEST_F(HealthCheckerTest, HttpProbeSendsGetWithEndpointAsHostAndClosesConnection) {
  TestServer server(loop_, Mode::kHttp);
  auto check = httpCheck();
  check.path = "/healthz?full=1";
  watch(check, {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !server.requests().empty(); }, kLimit));
  EXPECT_EQ(server.requests()[0], "GET /healthz?full=1 HTTP/1.1\r\nHost: " + server.endpoint() +
                                      "\r\nUser-Agent: pier-health/1\r\nConnection: close\r\n\r\n");
}

TEST_F(HealthCheckerTest, HttpProbeUsesConfiguredHost) {
  TestServer server(loop_, Mode::kHttp);
  auto check = httpCheck();
  check.host = "health.example";
  watch(check, {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !server.requests().empty(); }, kLimit));
  EXPECT_THAT(server.requests()[0], HasSubstr("\r\nHost: health.example\r\n"));
}

TEST_F(HealthCheckerTest, HttpPassesKeepTargetHealthyWithoutTransitions) {
  TestServer server(loop_, Mode::kHttp);
  watch(httpCheck(), {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 3; }, kLimit));
  auto s = statusOf(server.endpoint());
  EXPECT_TRUE(s.healthy);
  EXPECT_EQ(s.consecutive_passes, s.probes);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_EQ(s.last_reason, "http status 200");
  EXPECT_TRUE(checker_->healthy("web", server.endpoint()));
  EXPECT_TRUE(transitions_.empty());
}

struct StatusCase {
  std::vector<std::pair<int, int>> ranges;  // empty: the default 200-399
  int status;
  bool pass;
};

class HttpStatusTest : public HealthCheckerTest, public ::testing::WithParamInterface<StatusCase> {};

TEST_P(HttpStatusTest, PassesIffStatusIsInAnExpectedRange) {
  TestServer server(loop_, Mode::kHttp);
  server.http_response = httpResponse(GetParam().status);
  auto check = httpCheck();
  if (!GetParam().ranges.empty()) check.expected_statuses = GetParam().ranges;
  watch(check, {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 1; }, kLimit));
  auto s = statusOf(server.endpoint());
  EXPECT_EQ(s.consecutive_passes, GetParam().pass ? s.probes : 0u);
  EXPECT_EQ(s.consecutive_failures, GetParam().pass ? 0u : s.probes);
  EXPECT_EQ(s.last_reason, "http status " + std::to_string(GetParam().status));
}

INSTANTIATE_TEST_SUITE_P(Ranges, HttpStatusTest,
                         ::testing::Values(StatusCase{{}, 200, true}, StatusCase{{}, 399, true},
                                           StatusCase{{}, 400, false}, StatusCase{{}, 500, false},
                                           StatusCase{{{200, 200}, {404, 404}}, 404, true},
                                           StatusCase{{{200, 200}, {404, 404}}, 201, false},
                                           StatusCase{{{500, 503}}, 503, true},
                                           StatusCase{{{500, 503}}, 200, false}));

TEST_F(HealthCheckerTest, FlipsUnhealthyOnNthFailureAndBackOnMthPass) {
  TestServer server(loop_, Mode::kHttp);
  server.http_response = httpResponse(500);
  auto check = httpCheck();
  check.unhealthy_threshold = 3;
  check.healthy_threshold = 2;
  std::vector<size_t> requests_at_transition;
  on_transition_ = [&](const HealthTransition& t) {
    requests_at_transition.push_back(server.requests().size());
    if (!t.healthy) server.http_response = httpResponse(200);
  };
  watch(check, {target(server)});
  // Run past the second flip to see that no further transitions follow.
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 8; }, kLimit));
  ASSERT_EQ(transitions_.size(), 2u);
  EXPECT_FALSE(transitions_[0].healthy);
  EXPECT_EQ(transitions_[0].cluster, "web");
  EXPECT_EQ(transitions_[0].endpoint, server.endpoint());
  EXPECT_EQ(transitions_[0].reason, "http status 500");
  EXPECT_TRUE(transitions_[1].healthy);
  EXPECT_EQ(transitions_[1].reason, "http status 200");
  EXPECT_EQ(requests_at_transition, (std::vector<size_t>{3, 5}));
  EXPECT_TRUE(checker_->healthy("web", server.endpoint()));
}

TEST_F(HealthCheckerTest, PassBeforeThresholdResetsFailureCount) {
  TestServer server(loop_, Mode::kHttp);
  auto check = httpCheck();
  check.unhealthy_threshold = 2;
  // fail, pass, fail, fail: only the fourth probe flips the target.
  const std::vector<int> statuses = {500, 200, 500, 500, 500, 500};
  server.http_response = httpResponse(statuses[0]);
  server.on_request = [&](size_t n) {
    server.http_response = httpResponse(statuses[std::min(n, statuses.size() - 1)]);
  };
  std::vector<size_t> requests_at_transition;
  on_transition_ = [&](const HealthTransition&) {
    requests_at_transition.push_back(server.requests().size());
  };
  watch(check, {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 5; }, kLimit));
  EXPECT_EQ(requests_at_transition, (std::vector<size_t>{4}));
}

TEST_F(HealthCheckerTest, InterimResponseIsSkippedForTheFinalStatus) {
  TestServer server(loop_, Mode::kHttp);
  server.http_response = "HTTP/1.1 100 Continue\r\n\r\n" + httpResponse(503);
  watch(httpCheck(), {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "http status 503");
}

TEST_F(HealthCheckerTest, MalformedResponseFails) {
  TestServer server(loop_, Mode::kHttp);
  server.http_response = "HTTP/1.1 2x0 OK\r\n\r\n";
  watch(httpCheck(), {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_FALSE(transitions_[0].healthy);
  EXPECT_THAT(transitions_[0].reason, StartsWith("bad http response: "));
}

TEST_F(HealthCheckerTest, CloseWithoutResponseFails) {
  TestServer server(loop_, Mode::kReply);
  server.await = "\r\n\r\n";
  watch(httpCheck(), {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "connection closed before response");
}

TEST_F(HealthCheckerTest, CloseInsideResponseHeadFails) {
  TestServer server(loop_, Mode::kReply);
  server.await = "\r\n\r\n";
  server.reply_parts = {"HTTP/1.1 200 OK\r\nContent-"};
  watch(httpCheck(), {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "connection closed before end of response head");
}

TEST_F(HealthCheckerTest, HeadArrivingInPiecesIsReassembled) {
  TestServer server(loop_, Mode::kReply);
  server.await = "\r\n\r\n";
  server.reply_parts = {"HTTP/1.1 50", "3 Busy\r\nContent-Len", "gth: 0\r\n\r", "\n"};
  server.part_gap = milliseconds(3);
  watch(httpCheck(), {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "http status 503");
}

// --- timeouts and connect failures --------------------------------------------

TEST_F(HealthCheckerTest, SilentServerFailsWithTimeoutAndProbesNeverOverlap) {
  TestServer server(loop_, Mode::kSilent);
  auto check = httpCheck();
  check.interval = milliseconds(30);  // shorter than the timeout: the next probe must wait
  check.timeout = milliseconds(100);
  Clock::time_point failed_at;
  size_t accepted_at_failure = 0, active_at_failure = 99;
  on_transition_ = [&](const HealthTransition&) {
    failed_at = Clock::now();
    accepted_at_failure = server.accepted();
    active_at_failure = checker_->activeProbes();
  };
  watch(check, {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty() && server.accepted() >= 2; }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "timeout after 100ms");
  auto elapsed = failed_at - server.acceptTimes()[0];
  EXPECT_GE(elapsed, milliseconds(90));
  EXPECT_LE(elapsed, milliseconds(100 + 60));
  EXPECT_EQ(accepted_at_failure, 1u);
  EXPECT_EQ(active_at_failure, 0u);
  // The timed-out probe closed its socket, and the next probe waited a full interval.
  EXPECT_GE(server.peerClosed(), 1u);
  EXPECT_GE(server.acceptTimes()[1] - failed_at, milliseconds(25));
}

TEST_F(HealthCheckerTest, ClosedPortFailsWithConnectRefused) {
  ClosedPort port;
  watch(httpCheck(), {{"web", "127.0.0.1:" + std::to_string(port.port()), port.address()}});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_FALSE(transitions_[0].healthy);
  EXPECT_EQ(transitions_[0].reason, "connect refused");
  EXPECT_FALSE(checker_->healthy("web", "127.0.0.1:" + std::to_string(port.port())));
}

TEST_F(HealthCheckerTest, TcpCheckToClosedPortFailsWithConnectRefused) {
  ClosedPort port;
  watch(tcpCheck(), {{"db", "closed", port.address()}});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "connect refused");
}

// --- TCP ----------------------------------------------------------------------

TEST_F(HealthCheckerTest, TcpConnectOnlyPassesAndClosesTheSocket) {
  TestServer server(loop_, Mode::kSilent);
  watch(tcpCheck(), {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 2 && server.peerClosed() >= 2; }, kLimit));
  auto s = statusOf(server.endpoint());
  EXPECT_EQ(s.consecutive_passes, s.probes);
  EXPECT_EQ(s.last_reason, "tcp connect ok");
  EXPECT_TRUE(transitions_.empty());
}

TEST_F(HealthCheckerTest, TcpSendWithoutExpectPassesOnceSent) {
  TestServer server(loop_, Mode::kReply);
  server.await = "HELLO";
  auto check = tcpCheck();
  check.send = "HELLO";
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 1 && !server.requests().empty(); }, kLimit));
  EXPECT_EQ(statusOf(server.endpoint()).last_reason, "tcp sent 5 bytes");
  EXPECT_EQ(server.requests()[0], "HELLO");
}

TEST_F(HealthCheckerTest, TcpSendExpectPassesWhenReplyContainsExpected) {
  TestServer server(loop_, Mode::kReply);
  server.await = "PING\r\n";
  server.reply_parts = {"+PONG\r\n"};
  server.close_after_reply = false;  // pass on the match, not on the close
  auto check = tcpCheck();
  check.send = "PING\r\n";
  check.expect = "PONG";
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 2; }, kLimit));
  auto s = statusOf(server.endpoint());
  EXPECT_EQ(s.consecutive_passes, s.probes);
  EXPECT_EQ(s.last_reason, "found expected 'PONG'");
  EXPECT_EQ(server.requests()[0], "PING\r\n");
}

TEST_F(HealthCheckerTest, TcpExpectMatchesAcrossReads) {
  TestServer server(loop_, Mode::kReply);
  server.reply_parts = {"banner: P", "ON", "G ready"};
  server.part_gap = milliseconds(3);
  server.close_after_reply = false;
  auto check = tcpCheck();
  check.expect = "PONG";
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return probes(server) >= 1; }, kLimit));
  EXPECT_EQ(statusOf(server.endpoint()).last_reason, "found expected 'PONG'");
}

TEST_F(HealthCheckerTest, TcpExpectMismatchFailsWhenServerCloses) {
  TestServer server(loop_, Mode::kReply);
  server.await = "PING";
  server.reply_parts = {"-ERR\r\n"};
  auto check = tcpCheck();
  check.send = "PING";
  check.expect = "PONG";
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_FALSE(transitions_[0].healthy);
  EXPECT_EQ(transitions_[0].reason, "expected 'PONG' not found (connection closed after 6 bytes)");
}

TEST_F(HealthCheckerTest, TcpExpectMismatchOnOpenConnectionTimesOut) {
  TestServer server(loop_, Mode::kReply);
  server.reply_parts = {"-ERR\r\n"};
  server.close_after_reply = false;
  auto check = tcpCheck();
  check.expect = "PONG";
  check.timeout = milliseconds(60);
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "timeout after 60ms");
}

TEST_F(HealthCheckerTest, TcpExpectGivesUpAfter64KiB) {
  TestServer server(loop_, Mode::kReply);
  server.reply_parts.assign(10, std::string(8 * 1024, 'x'));  // 80 KiB, never "PONG"
  server.part_gap = milliseconds(1);
  server.close_after_reply = false;
  auto check = tcpCheck();
  check.expect = "PONG";
  check.timeout = milliseconds(3000);
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "expected 'PONG' not found in the first 65536 bytes");
}

TEST_F(HealthCheckerTest, ReasonsShowUnprintableExpectEscaped) {
  TestServer server(loop_, Mode::kReply);
  server.reply_parts = {"nope"};
  auto check = tcpCheck();
  check.expect = "+OK\r\n";
  watch(check, {target(server, "db")});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return !transitions_.empty(); }, kLimit));
  EXPECT_EQ(transitions_[0].reason, "expected '+OK\\x0d\\x0a' not found (connection closed after 4 bytes)");
}

// --- update() -----------------------------------------------------------------

TEST_F(HealthCheckerTest, UpdateKeepsStateOfUnchangedTargetsAndStopsRemovedOnes) {
  TestServer down(loop_, Mode::kHttp), up(loop_, Mode::kHttp);
  down.http_response = httpResponse(500);
  auto check = httpCheck();
  size_t up_requests_at_update = 0;
  uint64_t down_probes_at_update = 0;
  ASSERT_TRUE(runSteps(
      loop_,
      {Step{[] { return true; },
            [&] {
              checker_->update({{check, {target(down), target(up)}}});
            }},
       // Between probes, so no request to `up` is on the wire.
       Step{[&] { return !transitions_.empty() && !up.requests().empty() && checker_->activeProbes() == 0; },
            [&] {
              up_requests_at_update = up.requests().size();
              down_probes_at_update = probes(down);
              checker_->update({{check, {target(down)}}});
              EXPECT_EQ(probes(down), down_probes_at_update);  // kept, not restarted
            }},
       // Long enough for `up` to have been probed three more times.
       Step{[&] { return probes(down) >= down_probes_at_update + 3; }}},
      kLimit));
  EXPECT_EQ(transitions_.size(), 1u);  // no new transition for the kept target
  EXPECT_FALSE(checker_->healthy("web", down.endpoint()));
  auto s = statusOf(down.endpoint());
  EXPECT_GE(s.probes, down_probes_at_update + 3);
  EXPECT_EQ(s.consecutive_failures, s.probes);  // counting went on from before the update
  EXPECT_EQ(up.requests().size(), up_requests_at_update);
  EXPECT_TRUE(checker_->healthy("web", up.endpoint()));  // unknown again
  EXPECT_EQ(checker_->targetCount(), 1u);
}

TEST_F(HealthCheckerTest, ChangedCheckKeepsVerdictButRestartsProbing) {
  TestServer server(loop_, Mode::kHttp);
  server.http_response = httpResponse(500);
  auto check = httpCheck();
  auto changed = check;
  changed.path = "/v2";
  size_t requests_at_update = 0;
  ASSERT_TRUE(runSteps(loop_,
                       {Step{[] { return true; },
                             [&] {
                               checker_->update({{check, {target(server)}}});
                             }},
                        Step{[&] { return !transitions_.empty() && checker_->activeProbes() == 0; },
                             [&] {
                               requests_at_update = server.requests().size();
                               checker_->update({{changed, {target(server)}}});
                               EXPECT_EQ(statusOf(server.endpoint()).probes, 0u);
                             }},
                        Step{[&] { return server.requests().size() >= requests_at_update + 2; }}},
                       kLimit));
  EXPECT_EQ(transitions_.size(), 1u);
  EXPECT_FALSE(checker_->healthy("web", server.endpoint()));
  EXPECT_THAT(server.requests().back(), StartsWith("GET /v2 HTTP/1.1\r\n"));
}

TEST_F(HealthCheckerTest, RemovingTargetCancelsInFlightProbeAndClosesItsSocket) {
  TestServer server(loop_, Mode::kSilent);
  auto check = httpCheck();
  check.timeout = milliseconds(5000);
  watch(check, {target(server)});
  ASSERT_TRUE(runSteps(loop_,
                       {Step{[&] { return server.accepted() == 1 && checker_->activeProbes() == 1; },
                             [&] {
                               checker_->update({});
                               EXPECT_EQ(checker_->activeProbes(), 0u);
                             }},
                        Step{[&] { return server.peerClosed() == 1; }}},
                       kLimit));
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_TRUE(transitions_.empty());
}

TEST_F(HealthCheckerTest, DuplicateTargetIsProbedOnce) {
  TestServer server(loop_, Mode::kHttp);
  watch(httpCheck(), {target(server), target(server)});
  EXPECT_EQ(checker_->targetCount(), 1u);
}

TEST_F(HealthCheckerTest, UnknownTargetIsHealthy) { EXPECT_TRUE(checker_->healthy("web", "10.0.0.1:80")); }

// --- lifetime -----------------------------------------------------------------

TEST_F(HealthCheckerTest, DestroyingCheckerClosesInFlightSockets) {
  TestServer server(loop_, Mode::kSilent);
  auto check = httpCheck();
  check.timeout = milliseconds(5000);
  watch(check, {target(server)});
  ASSERT_TRUE(runSteps(loop_,
                       {Step{[&] { return server.accepted() == 1; }, [&] { checker_.reset(); }},
                        Step{[&] { return server.peerClosed() == 1; }}},
                       kLimit));
}

TEST_F(HealthCheckerTest, TransitionCallbackMayDestroyTheChecker) {
  ClosedPort port;
  on_transition_ = [&](const HealthTransition&) { checker_.reset(); };
  watch(httpCheck(), {{"web", "a", port.address()}, {"web", "b", port.address()}});
  auto resumed = Clock::time_point::max();
  ASSERT_TRUE(runSteps(loop_,
                       {Step{[&] { return checker_ == nullptr; }, [&] { resumed = Clock::now(); }},
                        Step{[&] { return Clock::now() - resumed > milliseconds(60); }}},
                       kLimit));
  EXPECT_EQ(transitions_.size(), 1u);
}

TEST_F(HealthCheckerTest, TransitionCallbackMayRemoveTheTarget) {
  ClosedPort port;
  on_transition_ = [&](const HealthTransition&) { checker_->update({}); };
  watch(httpCheck(), {{"web", "a", port.address()}});
  auto resumed = Clock::time_point::max();
  ASSERT_TRUE(runSteps(loop_,
                       {Step{[&] { return !transitions_.empty(); }, [&] { resumed = Clock::now(); }},
                        Step{[&] { return Clock::now() - resumed > milliseconds(60); }}},
                       kLimit));
  EXPECT_EQ(transitions_.size(), 1u);
  EXPECT_EQ(checker_->targetCount(), 0u);
  EXPECT_EQ(checker_->activeProbes(), 0u);
}

// --- scheduling ---------------------------------------------------------------

TEST_F(HealthCheckerTest, ProbeSpacingStaysWithinIntervalPlusJitter) {
  TestServer server(loop_, Mode::kHttp);
  auto check = httpCheck();
  check.interval = milliseconds(20);
  check.jitter = milliseconds(20);
  watch(check, {target(server)});
  ASSERT_TRUE(runUntil(
      loop_, [&] { return server.accepted() >= 10; }, kLimit));
  const auto& at = server.acceptTimes();
  std::vector<Clock::duration> gaps;
  for (size_t i = 1; i < at.size(); ++i) gaps.push_back(at[i] - at[i - 1]);
  for (auto gap : gaps) {
    EXPECT_GE(gap, milliseconds(17));       // a timer never fires early; a little connect noise
    EXPECT_LE(gap, milliseconds(40 + 40));  // interval + jitter + scheduling slack
  }
  auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
  EXPECT_GT(*hi - *lo, milliseconds(3));  // jitter was applied
}

TEST_F(HealthCheckerTest, NewTargetsAreStaggeredWithinOneInterval) {
  TestServer server(loop_, Mode::kHttp);
  auto check = httpCheck();
  check.interval = milliseconds(200);
  std::vector<HealthCheckTarget> targets;
  for (int i = 0; i < 20; ++i) targets.push_back({"web", "e" + std::to_string(i), server.address()});
  auto start = Clock::now();
  watch(check, targets);
  ASSERT_TRUE(runUntil(
      loop_, [&] { return server.accepted() >= 20; }, kLimit));
  const auto& at = server.acceptTimes();
  std::set<std::string> hosts;
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_LT(at[i] - start, milliseconds(200 + 60));
    hosts.insert(server.requests()[i].substr(server.requests()[i].find("Host: ")));
  }
  EXPECT_EQ(hosts.size(), 20u);                  // each target's first probe, no repeats
  EXPECT_GT(at[19] - at[0], milliseconds(100));  // spread out, not a burst
}

}  // namespace
}  // namespace pier::upstream
