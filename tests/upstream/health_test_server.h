#pragma once
// A loopback server for health-check tests, driven by the same event loop as
// the checker so that every step is ordered and nothing sleeps.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/event/loop.h"
#include "src/net/socket.h"

namespace pier::upstream::testing {

using SteadyTime = std::chrono::steady_clock::time_point;

// 127.0.0.1 on `port`.
inline net::Address loopback(uint16_t port) {
  net::Address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.length = sizeof(sockaddr_in);
  return a;
}

inline uint16_t boundPort(int fd) {
  sockaddr_in in{};
  socklen_t len = sizeof in;
  getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len);
  return ntohs(in.sin_port);
}

// A port nobody listens on: bound (so no one else gets it) but not listening,
// so connecting is refused.
class ClosedPort {
 public:
  ClosedPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    auto a = loopback(0);
    EXPECT_EQ(::bind(fd_.get(), a.sa(), a.length), 0);
    port_ = boundPort(fd_.get());
  }
  uint16_t port() const { return port_; }
  net::Address address() const { return loopback(port_); }

 private:
  net::Fd fd_;
  uint16_t port_ = 0;
};

class TestServer final : public event::IoHandler {
 public:
  enum class Mode {
    kHttp,    // read a request head, answer `http_response`, close
    kSilent,  // accept, never answer, keep open (detects the checker closing)
    kReply,   // read until `await` arrived (if set), write `reply_parts` (spaced by `part_gap`), then
              // close if `close_after_reply`
  };

  TestServer(event::Loop& loop, Mode mode) : loop_(loop), mode_(mode) {
    auto listener = net::listenTcp(loopback(0));
    EXPECT_TRUE(listener.ok());
    listener_ = std::move(listener.value());
    port_ = boundPort(listener_.get());
    loop_.add(listener_.get(), *this, EPOLLIN);
  }
  ~TestServer() override { loop_.remove(listener_.get()); }

  uint16_t port() const { return port_; }
  net::Address address() const { return loopback(port_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  // Settings; change them any time (they apply to the next connection).
  std::string http_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  std::string await;
  std::vector<std::string> reply_parts;
  std::chrono::milliseconds part_gap{0};
  bool close_after_reply = true;

  // Observations.
  size_t accepted() const { return accept_times_.size(); }
  const std::vector<SteadyTime>& acceptTimes() const { return accept_times_; }
  const std::vector<std::string>& requests() const { return requests_; }  // http heads / tcp payloads
  size_t peerClosed() const { return peer_closed_; }
  size_t openConnections() const {
    size_t n = 0;
    for (auto& c : conns_) n += c->fd.valid() ? 1 : 0;
    return n;
  }
  // Called after each http request is answered (with the request count).
  std::function<void(size_t)> on_request;

  void onIoEvent(uint32_t) override {
    while (true) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      accept_times_.push_back(std::chrono::steady_clock::now());
      conns_.push_back(std::make_unique<Conn>(*this, fd));
      conns_.back()->begin();
    }
  }

 private:
  struct Conn final : public event::IoHandler {
    Conn(TestServer& s, int raw) : server(s), fd(raw), timer(s.loop_, [this] { writeNextPart(); }) {}
    ~Conn() override { close(); }

    void begin() {
      server.loop_.add(fd.get(), *this, EPOLLIN | EPOLLRDHUP);
      if (server.mode_ == Mode::kReply && server.await.empty()) startReply();
    }
    void close() {
      if (fd.valid()) {
        server.loop_.remove(fd.get());
        fd.reset();
      }
      timer.cancel();
    }
    void onIoEvent(uint32_t) override {
      while (fd.valid()) {
        char buf[4096];
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) {
          in.append(buf, static_cast<size_t>(n));
          onData();
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          ++server.peer_closed_;
          close();
        }
        return;
      }
    }
    void onData() {
      if (server.mode_ == Mode::kHttp && !answered) {
        auto end = in.find("\r\n\r\n");
        if (end == std::string::npos) return;
        answered = true;
        server.requests_.push_back(in.substr(0, end + 4));
        writeAll(server.http_response);
        close();
        if (server.on_request) server.on_request(server.requests_.size());
      } else if (server.mode_ == Mode::kReply && !replying && !server.await.empty() &&
                 in.find(server.await) != std::string::npos) {
        server.requests_.push_back(in);
        startReply();
      }
    }
    void startReply() {
      replying = true;
      parts = server.reply_parts;
      writeNextPart();
    }
    void writeNextPart() {
      if (!fd.valid()) return;
      if (next_part < parts.size()) {
        writeAll(parts[next_part++]);
        if (next_part < parts.size()) {
          timer.armAfter(server.part_gap);
          return;
        }
      }
      if (server.close_after_reply) close();
    }
    void writeAll(const std::string& s) {
      size_t off = 0;
      while (off < s.size()) {
        ssize_t n = ::send(fd.get(), s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;  // the tests' replies fit in the socket buffer
        off += static_cast<size_t>(n);
      }
    }

    TestServer& server;
    net::Fd fd;
    event::Timer timer;
    std::string in;
    bool answered = false;
    bool replying = false;
    std::vector<std::string> parts;
    size_t next_part = 0;
  };

  event::Loop& loop_;
  Mode mode_;
  net::Fd listener_;
  uint16_t port_ = 0;
  std::vector<SteadyTime> accept_times_;
  std::vector<std::string> requests_;
  size_t peer_closed_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// Runs `loop` through `steps` in order: each step's condition is polled every
// millisecond; when it holds its action runs and the next step starts. Stops
// when all steps are done (true) or `limit` passed (false). A Loop runs only
// once, so call this once per test.
struct Step {
  std::function<bool()> condition;
  std::function<void()> action = [] {};
};

inline bool runSteps(event::Loop& loop, std::vector<Step> steps, std::chrono::milliseconds limit) {
  size_t current = 0;
  bool finished = steps.empty();
  event::Timer deadline(loop, [&] { loop.stop(); });
  std::function<void()> poll;
  event::Timer poller(loop, [&] { poll(); });
  poll = [&] {
    while (current < steps.size() && steps[current].condition()) {
      steps[current++].action();
    }
    if (current == steps.size()) {
      finished = true;
      deadline.cancel();
      loop.stop();
      return;
    }
    poller.armAfter(std::chrono::milliseconds(1));
  };
  loop.updateNow();
  deadline.armAfter(limit);
  poller.armAfter(std::chrono::milliseconds(0));
  if (!finished) loop.run();
  return finished;
}

inline bool runUntil(event::Loop& loop, std::function<bool()> condition, std::chrono::milliseconds limit) {
  return runSteps(loop, {Step{std::move(condition)}}, limit);
}

}  // namespace pier::upstream::testing
