// UdpProxy on the loop with loopback clients and an echo upstream, all as
// non-blocking sockets on the same loop, so every run is deterministic.
#include "src/l4/udp_proxy.h"

#include <sys/epoll.h>

#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/l4/l4_test_support.h"

namespace pier::l4::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::Pair;

// A UDP socket on the loop: records what it receives; as an upstream it
// answers every datagram with "echo:" + payload.
class UdpPeer final : public event::IoHandler {
 public:
  UdpPeer(event::Loop& loop, const std::string& ip, bool echo) : loop_(loop), echo_(echo) {
    auto fd = bindUdp(ipAddress(ip, 0));
    EXPECT_TRUE(fd.ok()) << (fd.ok() ? "" : fd.error());
    fd_ = std::move(fd.value());
    address = boundAddress(fd_.get());
    loop_.add(fd_.get(), *this, EPOLLIN);
  }
  ~UdpPeer() override { loop_.remove(fd_.get()); }

  void sendTo(const net::Address& to, std::string_view payload) {
    ASSERT_EQ(sendto(fd_.get(), payload.data(), payload.size(), 0, to.sa(), to.length),
              static_cast<ssize_t>(payload.size()));
  }

  void onIoEvent(uint32_t) override {
    char buf[65536];
    while (true) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      std::string payload(buf, static_cast<size_t>(n));
      received.push_back(payload);
      if (echo_) {
        std::string reply = "echo:" + payload;
        sendto(fd_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  }

  net::Address address;
  std::vector<std::string> received;

 private:
  event::Loop& loop_;
  bool echo_;
  net::Fd fd_;
};

class UdpProxyTest : public LoopFixture {
 protected:
  ~UdpProxyTest() override { proxy_.reset(); }

  void startProxy(std::vector<net::Address> endpoints, UdpProxyOptions options = {},
                  const std::string& ip = "127.0.0.1") {
    picker_ = std::make_shared<ListPicker>(std::move(endpoints));
    auto fd = bindUdp(ipAddress(ip, 0));
    ASSERT_TRUE(fd.ok()) << fd.error();
    proxy_address_ = boundAddress(fd.value().get());
    proxy_ = std::make_unique<UdpProxy>(loop_, std::move(fd.value()), picker_, std::move(options));
    proxy_->start();
  }

  std::shared_ptr<ListPicker> picker_;
  std::unique_ptr<UdpProxy> proxy_;
  net::Address proxy_address_;
};

TEST_F(UdpProxyTest, TwoClientsEachGetOnlyTheirOwnReplies) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  startProxy({upstream.address});
  UdpPeer a(loop_, "127.0.0.1", false);
  UdpPeer b(loop_, "127.0.0.1", false);
  for (int i = 0; i < 3; ++i) {
    a.sendTo(proxy_address_, "a" + std::to_string(i));
    b.sendTo(proxy_address_, "b" + std::to_string(i));
  }
  runUntil([&] { return a.received.size() == 3 && b.received.size() == 3; });
  EXPECT_THAT(a.received, ElementsAre("echo:a0", "echo:a1", "echo:a2"));
  EXPECT_THAT(b.received, ElementsAre("echo:b0", "echo:b1", "echo:b2"));
  EXPECT_EQ(proxy_->sessionCount(), 2u);
  EXPECT_EQ(proxy_->stats().sessions_created, 2u);
  EXPECT_EQ(proxy_->stats().datagrams_to_upstream, 6u);
  EXPECT_EQ(proxy_->stats().datagrams_to_downstream, 6u);
  EXPECT_EQ(proxy_->stats().bytes_to_downstream, 6u * 7);
  // The upstream saw two distinct sources: one connected socket per client.
  EXPECT_EQ(upstream.received.size(), 6u);
  EXPECT_THAT(picker_->results, ElementsAre(Pair(0, true), Pair(0, true)));
}

TEST_F(UdpProxyTest, WorksOverIpv6) {
  UdpPeer upstream(loop_, "::1", true);
  startProxy({upstream.address}, {}, "::1");
  UdpPeer client(loop_, "::1", false);
  client.sendTo(proxy_address_, "six");
  runUntil([&] { return client.received.size() == 1; });
  EXPECT_THAT(client.received, ElementsAre("echo:six"));
}

TEST_F(UdpProxyTest, CarriesALargeDatagramWhole) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  startProxy({upstream.address});
  UdpPeer client(loop_, "127.0.0.1", false);
  const std::string big = patternBytes(60000, 7);
  client.sendTo(proxy_address_, big);
  runUntil([&] { return client.received.size() == 1; });
  EXPECT_TRUE(client.received[0] == "echo:" + big);
}

TEST_F(UdpProxyTest, DropsDatagramsLargerThanTheLimit) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  UdpProxyOptions o;
  o.max_datagram = 100;
  startProxy({upstream.address}, o);
  UdpPeer client(loop_, "127.0.0.1", false);
  client.sendTo(proxy_address_, std::string(200, 'x'));
  client.sendTo(proxy_address_, "small");
  runUntil([&] { return client.received.size() == 1; });
  EXPECT_THAT(client.received, ElementsAre("echo:small"));
  EXPECT_EQ(proxy_->stats().datagrams_dropped, 1u);
  EXPECT_THAT(upstream.received, ElementsAre("small"));
}

TEST_F(UdpProxyTest, IdleSessionExpires) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  UdpProxyOptions o;
  o.idle_timeout = milliseconds(50);
  startProxy({upstream.address}, o);
  UdpPeer client(loop_, "127.0.0.1", false);
  client.sendTo(proxy_address_, "hi");
  auto started = std::chrono::steady_clock::now();
  bool had_session = false;
  runUntil([&] {
    had_session = had_session || proxy_->sessionCount() == 1;
    return client.received.size() == 1 && proxy_->stats().sessions_expired == 1;
  });
  EXPECT_TRUE(had_session);
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(50));
  EXPECT_EQ(proxy_->sessionCount(), 0u);
  EXPECT_THAT(picker_->done, ElementsAre(0));
}

TEST_F(UdpProxyTest, UnreachableUpstreamDropsTheSessionAndANewOneIsTried) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  // First pick refuses (ICMP port unreachable), the retry after it works.
  startProxy({refusingAddress(SOCK_DGRAM), upstream.address});
  picker_->avoid_failed = true;
  UdpPeer client(loop_, "127.0.0.1", false);
  client.sendTo(proxy_address_, "first");
  bool resent = false;
  runUntil([&] {
    if (proxy_->stats().sessions_failed == 1 && !resent) {
      resent = true;
      client.sendTo(proxy_address_, "second");
    }
    return client.received.size() == 1;
  });
  EXPECT_EQ(proxy_->stats().sessions_failed, 1u);
  EXPECT_EQ(proxy_->stats().sessions_created, 2u);
  EXPECT_THAT(client.received, ElementsAre("echo:second"));
  ASSERT_GE(picker_->results.size(), 1u);
  EXPECT_EQ(picker_->results[0], std::make_pair(0, false));
  EXPECT_THAT(picker_->done, ElementsAre(0));
}

TEST_F(UdpProxyTest, RejectsNewClientsAtTheSessionCap) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  UdpProxyOptions o;
  o.max_sessions = 1;
  startProxy({upstream.address}, o);
  UdpPeer a(loop_, "127.0.0.1", false);
  UdpPeer b(loop_, "127.0.0.1", false);
  a.sendTo(proxy_address_, "a");
  bool b_sent = false;
  runUntil([&] {
    if (a.received.size() == 1 && !b_sent) {
      b_sent = true;
      b.sendTo(proxy_address_, "b");
      a.sendTo(proxy_address_, "a again");
    }
    return a.received.size() == 2 && proxy_->stats().sessions_rejected == 1;
  });
  EXPECT_TRUE(b.received.empty());
  EXPECT_EQ(proxy_->stats().datagrams_dropped, 1u);
  EXPECT_EQ(proxy_->sessionCount(), 1u);
}

TEST_F(UdpProxyTest, DropsDatagramsWhenThereIsNoEndpoint) {
  startProxy({});
  UdpPeer client(loop_, "127.0.0.1", false);
  client.sendTo(proxy_address_, "x");
  runUntil([&] { return proxy_->stats().datagrams_dropped == 1; });
  EXPECT_EQ(proxy_->stats().sessions_rejected, 1u);
  EXPECT_EQ(proxy_->sessionCount(), 0u);
}

TEST_F(UdpProxyTest, DestroyingTheProxyEndsItsSessions) {
  UdpPeer upstream(loop_, "127.0.0.1", true);
  startProxy({upstream.address});
  UdpPeer client(loop_, "127.0.0.1", false);
  client.sendTo(proxy_address_, "x");
  runUntil([&] { return client.received.size() == 1; });
  proxy_.reset();
  EXPECT_THAT(picker_->done, ElementsAre(0));
}

TEST(BindUdpTest, TwoSocketsShareAnAddressWithReusePort) {
  auto first = bindUdp(ipAddress("127.0.0.1", 0));
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = bindUdp(boundAddress(first.value().get()));
  EXPECT_TRUE(second.ok()) << second.error();
  EXPECT_NE(fcntl(first.value().get(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(BindUdpTest, ReportsBindFailure) {
  auto r = bindUdp(ipAddress("192.0.2.123", 1));  // not a local address
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), ::testing::HasSubstr("bind"));
}

}  // namespace
}  // namespace pier::l4::testing
