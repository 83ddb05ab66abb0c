#pragma once
// Shared pieces of the L4 tests: loopback addresses, blocking sockets for
// client and server threads (with timeouts, so a bug shows as a failure and
// not a hang), a picker over a fixed list, and a fixture that runs the loop
// in the test thread until a condition holds or a watchdog fires.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "src/event/loop.h"
#include "src/l4/address.h"
#include "src/l4/upstream_picker.h"
#include "src/net/socket.h"

namespace pier::l4::testing {

inline net::Address ipAddress(const std::string& ip, uint16_t port) {
  net::Address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, ip.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  } else {
    ADD_FAILURE() << "bad test address " << ip;
  }
  return a;
}

inline net::Address boundAddress(int fd) {
  auto a = localAddressOf(fd);
  EXPECT_TRUE(a.has_value());
  return a.value_or(net::Address{});
}

constexpr int kIoTimeoutMs = 10000;

inline void setBlockingWithTimeouts(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{kIoTimeoutMs / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A blocking TCP connection to `to`; invalid on failure.
inline net::Fd connectBlocking(const net::Address& to) {
  net::Fd fd(socket(to.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  setBlockingWithTimeouts(fd.get());
  if (connect(fd.get(), to.sa(), to.length) != 0) {
    return net::Fd();
  }
  return fd;
}

// Waits (in the kernel) for a connection on a listening socket.
inline net::Fd acceptBlocking(int listen_fd) {
  pollfd p{listen_fd, POLLIN, 0};
  if (poll(&p, 1, kIoTimeoutMs) != 1) {
    return net::Fd();
  }
  net::Fd fd(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (fd.valid()) {
    setBlockingWithTimeouts(fd.get());
  }
  return fd;
}

inline bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct ReadResult {
  std::string data;
  int error = 0;  // errno of the read that ended it; 0 for a clean EOF
};

// Reads until EOF, an error, or `limit` bytes.
inline ReadResult readAll(int fd, size_t limit = SIZE_MAX) {
  ReadResult r;
  char buf[65536];
  while (r.data.size() < limit) {
    ssize_t n = recv(fd, buf, std::min(sizeof buf, limit - r.data.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = errno;
      break;
    }
    if (n == 0) break;
    r.data.append(buf, static_cast<size_t>(n));
  }
  return r;
}

inline void closeWithReset(net::Fd& fd) {
  linger l{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

// Deterministic bytes that make misordering or loss visible.
inline std::string patternBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

// A free loopback port with nothing listening (connects are refused).
inline net::Address refusingAddress(int type = SOCK_STREAM) {
  net::Fd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  net::Address a = ipAddress("127.0.0.1", 0);
  bind(fd.get(), a.sa(), a.length);
  return boundAddress(fd.get());  // closed on return: the port is free again
}

// Picks endpoints in list order, one per attempt; records every call.
class ListPicker final : public UpstreamPicker {
 public:
  explicit ListPicker(std::vector<net::Address> endpoints) : endpoints_(std::move(endpoints)) {}
  std::optional<PickedEndpoint> pick(int attempt, int previous, const net::Address& client) override {
    picks.push_back({attempt, previous});
    clients.push_back(client);
    // The attempt-th endpoint, not counting those that have failed before
    // (a new session avoids them, as passive health checking would).
    int skip = attempt;
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (failed_.count(static_cast<int>(i)) && avoid_failed) continue;
      if (skip-- == 0) return PickedEndpoint{static_cast<int>(i), endpoints_[i]};
    }
    return std::nullopt;
  }
  void onConnectResult(int endpoint, bool ok) override {
    results.emplace_back(endpoint, ok);
    if (!ok) failed_.insert(endpoint);
  }
  void onSessionDone(int endpoint) override { done.push_back(endpoint); }

  std::vector<std::pair<int, int>> picks;
  std::vector<net::Address> clients;
  std::vector<std::pair<int, bool>> results;
  std::vector<int> done;
  bool avoid_failed = false;

 private:
  std::vector<net::Address> endpoints_;
  std::set<int> failed_;
};

// Runs the loop on the test thread; a watchdog turns a hang into a failure.
class LoopFixture : public ::testing::Test {
 protected:
  LoopFixture()
      : watchdog_(loop_,
                  [this] {
                    ADD_FAILURE() << "watchdog: condition not reached in time";
                    timed_out_ = true;
                    loop_.stop();
                  }),
        poll_(loop_, [this] { checkCondition(); }) {}

  // Runs until `done()` is true (checked every millisecond on the loop).
  void runUntil(std::function<bool()> done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    done_ = std::move(done);
    timed_out_ = false;
    loop_.updateNow();
    watchdog_.armAfter(limit);
    poll_.armAfter(std::chrono::milliseconds(1));
    loop_.run();
    watchdog_.cancel();
    poll_.cancel();
  }

  event::Loop loop_;
  bool timed_out_ = false;

 private:
  void checkCondition() {
    if (done_ && done_()) {
      loop_.stop();
      return;
    }
    poll_.armAfter(std::chrono::milliseconds(1));
  }

  event::Timer watchdog_;
  event::Timer poll_;
  std::function<bool()> done_;
};

}  // namespace pier::l4::testing
