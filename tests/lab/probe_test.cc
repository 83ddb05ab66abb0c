// The prober against real sockets on 127.0.0.1: answers are labelled by the
// pod that sent them; refused and silent servers are reported as such.
#include "src/lab/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace pier::lab {
namespace {

// A socket bound to 127.0.0.1 on a free port; listening if asked.
struct LocalSocket {
  explicit LocalSocket(bool listening) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (listening) listen(fd, 64);
  }
  ~LocalSocket() { close(fd); }
  Url url() const { return *parseUrl("http://127.0.0.1:" + std::to_string(port) + "/"); }
  int fd = -1;
  uint16_t port = 0;
};

std::vector<ProbeResult> runProbe(const Url& url, uint64_t attempts, std::chrono::milliseconds timeout) {
  ProbeOptions o;
  o.url = url;
  o.interval = std::chrono::microseconds(1000);
  o.timeout = timeout;
  o.max_attempts = attempts;
  std::vector<ProbeResult> out;
  auto st = Prober(o).run(-1, monotonicNs() + 5'000'000'000, [&](const ProbeResult& r) { out.push_back(r); });
  EXPECT_TRUE(st) << st.error();
  return out;
}

TEST(LabProbeTest, LabelsEachAnswerWithThePod) {
  LocalSocket server(true);
  std::thread t([&] {
    for (int i = 0; i < 3; ++i) {
      int c = accept(server.fd, nullptr, nullptr);
      std::string got;
      char buf[1024];
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\npod node2-pod1\n";
      (void)!write(c, resp.data(), resp.size());
      close(c);
    }
  });
  auto rs = runProbe(server.url(), 3, std::chrono::milliseconds(2000));
  t.join();
  ASSERT_EQ(rs.size(), 3u);
  for (const auto& r : rs) {
    EXPECT_TRUE(r.ok) << r.detail;
    EXPECT_EQ(r.detail, "node2-pod1");
    EXPECT_LE(r.start_ns, r.end_ns);
    EXPECT_EQ(transitionKey(r), "ok node2");
  }
}

TEST(LabProbeTest, NoListenerIsRefused) {
  LocalSocket closed(false);
  auto rs = runProbe(closed.url(), 3, std::chrono::milliseconds(1000));
  ASSERT_EQ(rs.size(), 3u);
  for (const auto& r : rs) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.detail, "refused");
    EXPECT_EQ(transitionKey(r), "fail");
  }
}

TEST(LabProbeTest, SilentServerTimesOut) {
  LocalSocket silent(true);  // accepts into its backlog, never answers
  auto rs = runProbe(silent.url(), 2, std::chrono::milliseconds(30));
  ASSERT_EQ(rs.size(), 2u);
  for (const auto& r : rs) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.detail, "timeout");
    EXPECT_GE(r.end_ns - r.start_ns, 30'000'000);
  }
}

TEST(LabProbeTest, RawLineHasTimesOutcomeAndDetail) {
  EXPECT_EQ(formatRaw({10, 25, true, "node1-pod2"}), "10 25 ok node1-pod2");
  EXPECT_EQ(formatRaw({10, 25, false, "timeout"}), "10 25 fail timeout");
}

TEST(LabProbeTest, BodyBecomesTheLabel) {
  EXPECT_EQ(labelFromBody("pod node3-pod1\n"), "node3-pod1");
  EXPECT_EQ(labelFromBody("hello\r\n"), "hello");
}

}  // namespace
}  // namespace pier::lab
