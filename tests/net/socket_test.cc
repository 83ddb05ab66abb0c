// Socket wrappers: address parsing and text, listening with SO_REUSEPORT,
// non-blocking connect, and the read/write helpers. Loopback only.
#include "src/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pier::net {
namespace {

using ::testing::HasSubstr;

Address mustResolve(const std::string& host, uint16_t port) {
  auto r = resolve(config::SocketAddress{host, port, host.find(':') != std::string::npos});
  EXPECT_TRUE(r.ok()) << host << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? r.value() : Address{};
}

uint16_t localPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return 0;
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

// Waits (in the kernel, not by sleeping) until `fd` reports `events`.
bool waitFor(int fd, short events, int timeout_ms = 5000) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

int intOption(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(fd, level, name, &v, &len);
  return v;
}

// --- addresses ---------------------------------------------------------------

TEST(ResolveTest, ParsesIpv4) {
  Address a = mustResolve("127.0.0.1", 8080);
  EXPECT_EQ(a.storage.ss_family, AF_INET);
  EXPECT_EQ(a.length, sizeof(sockaddr_in));
  EXPECT_EQ(a.ipText(), "127.0.0.1");
  EXPECT_EQ(a.text(), "127.0.0.1:8080");
}

TEST(ResolveTest, ParsesIpv6AndBracketsItInText) {
  Address a = mustResolve("::1", 443);
  EXPECT_EQ(a.storage.ss_family, AF_INET6);
  EXPECT_EQ(a.length, sizeof(sockaddr_in6));
  EXPECT_EQ(a.ipText(), "::1");
  EXPECT_EQ(a.text(), "[::1]:443");
}

TEST(ResolveTest, Ipv6TextIsCanonical) {
  EXPECT_EQ(mustResolve("0:0:0:0:0:0:0:1", 80).text(), "[::1]:80");
  EXPECT_EQ(mustResolve("2001:DB8:0:0:0:0:0:10", 80).text(), "[2001:db8::10]:80");
  EXPECT_EQ(mustResolve("::ffff:127.0.0.1", 1).text(), "[::ffff:127.0.0.1]:1");
}

TEST(ResolveTest, PortZeroAndHighestPort) {
  EXPECT_EQ(mustResolve("127.0.0.1", 0).text(), "127.0.0.1:0");
  EXPECT_EQ(mustResolve("::1", 65535).text(), "[::1]:65535");
}

TEST(ResolveTest, PortIsStoredInNetworkOrder) {
  Address a = mustResolve("127.0.0.1", 0x1234);
  EXPECT_EQ(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port, htons(0x1234));
}

TEST(ResolveTest, RejectsNamesAndMalformedAddresses) {
  for (const char* bad : {"localhost", "", "1.2.3", "256.0.0.1", "[::1]", "::1%lo", "127.0.0.1 "}) {
    auto r = resolve(config::SocketAddress{bad, 80, false});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.error(), HasSubstr("is not an IP address")) << bad;
    EXPECT_THAT(r.error(), HasSubstr(std::string("'") + bad + "'"));
  }
}

TEST(AddressTest, UnsetAddressHasNoIp) {
  Address a;
  EXPECT_EQ(a.ipText(), "");
}

// --- Fd ----------------------------------------------------------------------

bool isOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(FdTest, ClosesOnDestruction) {
  int raw = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(raw, 0);
  { Fd fd(raw); }
  EXPECT_FALSE(isOpen(raw));
}

TEST(FdTest, MoveTransfersOwnership) {
  int raw = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(raw, 0);
  Fd a(raw);
  Fd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(b.get(), raw);
  Fd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(isOpen(raw));
  c = Fd();
  EXPECT_FALSE(isOpen(raw));
}

TEST(FdTest, ReleaseGivesUpOwnership) {
  int raw = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(raw, 0);
  {
    Fd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_TRUE(isOpen(raw));
  close(raw);
}

TEST(FdTest, ResetClosesTheOldDescriptor) {
  int first = socket(AF_INET, SOCK_STREAM, 0);
  int second = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  Fd fd(first);
  fd.reset(second);
  EXPECT_FALSE(isOpen(first));
  EXPECT_EQ(fd.get(), second);
}

// --- listen and connect ------------------------------------------------------

TEST(ListenTest, ListensOnAnEphemeralIpv4Port) {
  auto l = listenTcp(mustResolve("127.0.0.1", 0));
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_NE(localPort(l->get()), 0);
  EXPECT_TRUE(fcntl(l->get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(l->get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(intOption(l->get(), SOL_SOCKET, SO_ACCEPTCONN), 1);
}

TEST(ListenTest, SetsReusePortSoWorkersCanShareAPort) {
  auto first = listenTcp(mustResolve("127.0.0.1", 0));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(intOption(first->get(), SOL_SOCKET, SO_REUSEPORT), 1);
  uint16_t port = localPort(first->get());
  auto second = listenTcp(mustResolve("127.0.0.1", port));
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(localPort(second->get()), port);
}

TEST(ListenTest, Ipv6ListenerIsV6Only) {
  auto l = listenTcp(mustResolve("::1", 0));
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_NE(localPort(l->get()), 0);
  EXPECT_EQ(intOption(l->get(), IPPROTO_IPV6, IPV6_V6ONLY), 1);
}

TEST(ListenTest, PortHeldWithoutReusePortFailsWithTheAddress) {
  // A socket that did not opt in to SO_REUSEPORT keeps the port to itself.
  Fd holder(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Address any = mustResolve("127.0.0.1", 0);
  ASSERT_EQ(bind(holder.get(), any.sa(), any.length), 0);
  ASSERT_EQ(listen(holder.get(), 1), 0);
  uint16_t port = localPort(holder.get());
  auto l = listenTcp(mustResolve("127.0.0.1", port));
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.error(), HasSubstr("bind 127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(l.error(), HasSubstr("Address already in use"));
}

struct Connected {
  Fd listener;
  Fd client;
  Fd server;
};

Connected connectPair(const std::string& ip) {
  Connected c;
  auto l = listenTcp(mustResolve(ip, 0));
  EXPECT_TRUE(l.ok());
  if (!l.ok()) return c;
  c.listener = std::move(l.value());
  auto cl = connectTcp(mustResolve(ip, localPort(c.listener.get())));
  EXPECT_TRUE(cl.ok()) << cl.error();
  if (!cl.ok()) return c;
  c.client = std::move(cl.value());
  EXPECT_TRUE(waitFor(c.listener.get(), POLLIN));
  c.server = Fd(accept4(c.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  EXPECT_TRUE(waitFor(c.client.get(), POLLOUT));
  return c;
}

TEST(ConnectTest, ConnectsToAnIpv4Listener) {
  Connected c = connectPair("127.0.0.1");
  ASSERT_TRUE(c.server.valid());
  EXPECT_EQ(socketError(c.client.get()), 0);
  EXPECT_TRUE(fcntl(c.client.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(c.client.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(intOption(c.client.get(), IPPROTO_TCP, TCP_NODELAY), 1);
}

TEST(ConnectTest, ConnectsToAnIpv6Listener) {
  Connected c = connectPair("::1");
  ASSERT_TRUE(c.server.valid());
  EXPECT_EQ(socketError(c.client.get()), 0);
}

TEST(ConnectTest, RefusedConnectionIsReported) {
  uint16_t port;
  {
    auto l = listenTcp(mustResolve("127.0.0.1", 0));
    ASSERT_TRUE(l.ok());
    port = localPort(l->get());
  }  // closed: nothing listens there now
  auto c = connectTcp(mustResolve("127.0.0.1", port));
  if (!c.ok()) {
    EXPECT_THAT(c.error(), HasSubstr("connect 127.0.0.1:" + std::to_string(port)));
    return;
  }
  ASSERT_TRUE(waitFor(c->get(), POLLOUT));
  EXPECT_EQ(socketError(c->get()), ECONNREFUSED);
}

// --- readSome / writeSome ----------------------------------------------------

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a = Fd(fds[0]);
    b = Fd(fds[1]);
  }
  Fd a;
  Fd b;
};

void sendAll(int fd, std::string_view s) {
  ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

TEST(ReadSomeTest, NothingToReadWouldBlock) {
  Pair p;
  Buffer buf;
  auto r = readSome(p.a.get(), buf);
  EXPECT_EQ(r.status, IoStatus::kWouldBlock);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_TRUE(buf.empty());
}

TEST(ReadSomeTest, AppendsWhatArrived) {
  Pair p;
  Buffer buf;
  buf.append("old:");
  sendAll(p.b.get(), "hello");
  auto r = readSome(p.a.get(), buf);
  EXPECT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(buf.readable(), "old:hello");
}

TEST(ReadSomeTest, PeerCloseIsReportedAfterTheData) {
  Pair p;
  Buffer buf;
  sendAll(p.b.get(), "bye");
  p.b.reset();
  auto first = readSome(p.a.get(), buf);
  EXPECT_EQ(first.status, IoStatus::kOk);
  EXPECT_EQ(buf.readable(), "bye");
  auto second = readSome(p.a.get(), buf);
  EXPECT_EQ(second.status, IoStatus::kClosed);
  EXPECT_EQ(second.bytes, 0u);
}

TEST(ReadSomeTest, BadDescriptorIsAnError) {
  Buffer buf;
  EXPECT_EQ(readSome(-1, buf).status, IoStatus::kError);
}

// Regression (fixed): src/net/socket.cc:110 readSome() reads buffer.writable() bytes, not at
// most `max` as socket.h:65 promises ("Reads once into `buffer` (up to `max`
// bytes)"): prepare(max) only guarantees a minimum, and a fresh buffer already
// has 16 KiB of room. Callers that pass a small max (the admin server passes
// 16 KiB, with a buffer that may have grown larger) read more than they asked
// for. Fix: `size_t room = std::min(max, buffer.writable());`.
TEST(ReadSomeTest, ReadsAtMostMax) {
  Pair p;
  Buffer buf;
  sendAll(p.b.get(), std::string(100, 'x'));
  auto r = readSome(p.a.get(), buf, 10);
  EXPECT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(r.bytes, 10u);
  EXPECT_EQ(buf.size(), 10u);
}

TEST(WriteSomeTest, WritesEverythingAndConsumesIt) {
  Pair p;
  Buffer out;
  out.append("request bytes");
  auto r = writeSome(p.a.get(), out);
  EXPECT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(r.bytes, 13u);
  EXPECT_TRUE(out.empty());
  Buffer in;
  ASSERT_EQ(readSome(p.b.get(), in).status, IoStatus::kOk);
  EXPECT_EQ(in.readable(), "request bytes");
}

TEST(WriteSomeTest, EmptyBufferWritesNothing) {
  Pair p;
  Buffer out;
  auto r = writeSome(p.a.get(), out);
  EXPECT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(r.bytes, 0u);
}

TEST(WriteSomeTest, FullSocketWouldBlockAndKeepsTheRest) {
  Pair p;
  int small = 4096;
  setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Buffer out;
  const size_t total = 8 * 1024 * 1024;
  out.append(std::string(total, 'z'));
  auto r = writeSome(p.a.get(), out);
  EXPECT_EQ(r.status, IoStatus::kWouldBlock);
  EXPECT_GT(r.bytes, 0u);
  EXPECT_LT(r.bytes, total);
  EXPECT_EQ(out.size(), total - r.bytes);
}

TEST(WriteSomeTest, ClosedPeerIsAnErrorNotASignal) {
  Pair p;
  p.b.reset();
  Buffer out;
  out.append("into the void");
  auto r = writeSome(p.a.get(), out);  // would raise SIGPIPE without MSG_NOSIGNAL
  EXPECT_EQ(r.status, IoStatus::kError);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(out.size(), 13u);
}

TEST(IoTest, RoundTripOverLoopbackTcp) {
  Connected c = connectPair("127.0.0.1");
  ASSERT_TRUE(c.server.valid());
  Buffer out;
  out.append("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(writeSome(c.client.get(), out).status, IoStatus::kOk);
  Buffer in;
  ASSERT_TRUE(waitFor(c.server.get(), POLLIN));
  auto r = readSome(c.server.get(), in);
  EXPECT_EQ(r.status, IoStatus::kOk);
  EXPECT_EQ(in.readable(), "GET / HTTP/1.1\r\n\r\n");
}

TEST(SocketErrorTest, FreshSocketHasNoError) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(socketError(fd.get()), 0);
}

TEST(SocketErrorTest, BadDescriptorReportsEbadf) { EXPECT_EQ(socketError(-1), EBADF); }

}  // namespace
}  // namespace pier::net
