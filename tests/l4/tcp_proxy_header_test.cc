// TcpSession and the PROXY protocol: headers sent to the upstream byte for
// byte, and headers accepted from the client (valid, split, invalid, late).
#include <netinet/tcp.h>

#include <atomic>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/l4/tcp_session.h"
#include "tests/l4/tcp_test_support.h"

namespace pier::l4::testing {
namespace {

using std::chrono::milliseconds;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

class TcpProxyHeaderTest : public TcpProxyFixture {
 protected:
  // Client sends `request` and closes its side; the backend records all it
  // got. Returns what the backend received; `client_port` is the client's.
  std::string relay(const std::string& request, TcpSessionOptions options, uint16_t* client_port = nullptr,
                    std::string* response = nullptr) {
    net::Fd backend = backendListener();
    startProxy({boundAddress(backend.get())}, std::move(options));
    std::string backend_got;
    spawn([&, listener = std::move(backend)] {
      net::Fd conn = acceptBlocking(listener.get());
      backend_got = readAll(conn.get()).data;
      writeAll(conn.get(), "response");
    });
    spawn([&] {
      net::Fd client = connectBlocking(proxy_address_);
      if (client_port) *client_port = portOf(boundAddress(client.get()));
      writeAll(client.get(), request);
      shutdown(client.get(), SHUT_WR);
      std::string got = readAll(client.get()).data;
      if (response) *response = got;
      client_done_ = true;
    });
    runUntil([&] { return client_done_ && closed_.size() == 1; });
    joinThreads();
    return backend_got;
  }

  std::atomic<bool> client_done_{false};
};

TEST_F(TcpProxyHeaderTest, SendsV1HeaderBeforeThePayload) {
  TcpSessionOptions o;
  o.send_proxy_header = SendProxyHeader::kV1;
  uint16_t client_port = 0;
  std::string response;
  std::string got = relay("hello", o, &client_port, &response);
  EXPECT_EQ(got, "PROXY TCP4 127.0.0.1 127.0.0.1 " + std::to_string(client_port) + " " +
                     std::to_string(portOf(proxy_address_)) + "\r\nhello");
  EXPECT_EQ(response, "response");
  EXPECT_EQ(closed_[0].bytes_to_upstream, 5u);  // the header is not payload
}

TEST_F(TcpProxyHeaderTest, SendsV2HeaderBeforeThePayload) {
  TcpSessionOptions o;
  o.send_proxy_header = SendProxyHeader::kV2;
  uint16_t client_port = 0;
  std::string got = relay("hello", o, &client_port);
  const uint16_t proxy_port = portOf(proxy_address_);
  EXPECT_EQ(got, kSig +
                     bytes({0x21, 0x11, 0x00, 0x0c, 127, 0, 0, 1, 127, 0, 0, 1, client_port >> 8,
                            client_port & 0xff, proxy_port >> 8, proxy_port & 0xff}) +
                     "hello");
}

TEST_F(TcpProxyHeaderTest, SendsTheHeaderEvenWhenTheClientSendsNothing) {
  TcpSessionOptions o;
  o.send_proxy_header = SendProxyHeader::kV1;
  std::string got = relay("", o);
  EXPECT_TRUE(got.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 ")) << got;
  EXPECT_TRUE(got.ends_with("\r\n"));
}

TEST_F(TcpProxyHeaderTest, AcceptsV1HeaderAndForwardsOnlyThePayload) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  std::string response;
  std::string got = relay("PROXY TCP4 192.0.2.1 198.51.100.2 5555 80\r\nhello", o, nullptr, &response);
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(response, "response");
  EXPECT_EQ(closed_[0].client.text(), "192.0.2.1:5555");
  EXPECT_EQ(closed_[0].peer.ipText(), "127.0.0.1");
  ASSERT_EQ(picker_->clients.size(), 1u);
  EXPECT_EQ(picker_->clients[0].text(), "192.0.2.1:5555");  // hashing sees the real client
  EXPECT_EQ(closed_[0].bytes_to_upstream, 5u);
}

TEST_F(TcpProxyHeaderTest, AcceptsV2HeaderAndRelaysTheRealClientAsV1) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  o.send_proxy_header = SendProxyHeader::kV1;
  std::string v2 = kSig + bytes({0x21, 0x21, 0x00, 0x24}) +
                   bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}) +
                   bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}) +
                   bytes({0x15, 0xb3, 0x01, 0xbb});
  std::string got = relay(v2 + "payload", o);
  EXPECT_EQ(got, "PROXY TCP6 2001:db8::1 2001:db8::2 5555 443\r\npayload");
}

TEST_F(TcpProxyHeaderTest, UnknownHeaderKeepsTheSocketPeerAsClient) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  std::string got = relay("PROXY UNKNOWN\r\nabc", o);
  EXPECT_EQ(got, "abc");
  EXPECT_EQ(closed_[0].client.ipText(), "127.0.0.1");
}

TEST_F(TcpProxyHeaderTest, AcceptsAHeaderThatArrivesInPieces) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  net::Fd backend = backendListener();
  startProxy({boundAddress(backend.get())}, o);
  std::string backend_got;
  spawn([&, listener = std::move(backend)] {
    net::Fd conn = acceptBlocking(listener.get());
    backend_got = readAll(conn.get()).data;
  });
  spawn([&] {
    net::Fd client = connectBlocking(proxy_address_);
    int one = 1;
    setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (std::string_view piece : {"PRO", "XY TCP4 192.0.2", ".1 198.51.100.2 5555 80\r", "\nhel", "lo"}) {
      writeAll(client.get(), piece);
    }
    shutdown(client.get(), SHUT_WR);
    readAll(client.get());
    client_done_ = true;
  });
  runUntil([&] { return client_done_ && closed_.size() == 1; });
  joinThreads();
  EXPECT_EQ(backend_got, "hello");
  EXPECT_EQ(closed_[0].client.text(), "192.0.2.1:5555");
}

TEST_F(TcpProxyHeaderTest, RejectsAConnectionWithoutAHeader) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  startProxy({ipAddress("127.0.0.1", 9)}, o);
  ReadResult client_got;
  spawn([&] {
    net::Fd client = connectBlocking(proxy_address_);
    writeAll(client.get(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    client_got = readAll(client.get());
    client_done_ = true;
  });
  runUntil([&] { return client_done_ && closed_.size() == 1; });
  joinThreads();
  EXPECT_EQ(closed_[0].reason, TcpCloseReason::kProxyHeaderInvalid);
  EXPECT_TRUE(picker_->picks.empty());  // no upstream was contacted
  EXPECT_TRUE(client_got.data.empty());
}

TEST_F(TcpProxyHeaderTest, RejectsAUdpHeaderOnATcpConnection) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  startProxy({ipAddress("127.0.0.1", 9)}, o);
  spawn([&] {
    net::Fd client = connectBlocking(proxy_address_);
    writeAll(client.get(), kSig + bytes({0x21, 0x12, 0x00, 0x0c, 192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2}));
    readAll(client.get());
    client_done_ = true;
  });
  runUntil([&] { return client_done_ && closed_.size() == 1; });
  joinThreads();
  EXPECT_EQ(closed_[0].reason, TcpCloseReason::kProxyHeaderInvalid);
}

TEST_F(TcpProxyHeaderTest, TimesOutAnIncompleteHeader) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  o.proxy_header_timeout = milliseconds(100);
  startProxy({ipAddress("127.0.0.1", 9)}, o);
  spawn([&] {
    net::Fd client = connectBlocking(proxy_address_);
    writeAll(client.get(), "PROXY TCP4 192.0.2.1");
    readAll(client.get());
    client_done_ = true;
  });
  runUntil([&] { return client_done_ && closed_.size() == 1; });
  joinThreads();
  EXPECT_EQ(closed_[0].reason, TcpCloseReason::kProxyHeaderTimeout);
  EXPECT_TRUE(picker_->picks.empty());
}

TEST_F(TcpProxyHeaderTest, ClientClosingBeforeTheHeaderEndsIsReported) {
  TcpSessionOptions o;
  o.accept_proxy_header = true;
  startProxy({ipAddress("127.0.0.1", 9)}, o);
  spawn([&] {
    net::Fd client = connectBlocking(proxy_address_);
    writeAll(client.get(), "PROXY TCP4");
    shutdown(client.get(), SHUT_WR);
    readAll(client.get());
    client_done_ = true;
  });
  runUntil([&] { return client_done_ && closed_.size() == 1; });
  joinThreads();
  EXPECT_EQ(closed_[0].reason, TcpCloseReason::kDownstreamClosed);
}

}  // namespace
}  // namespace pier::l4::testing
