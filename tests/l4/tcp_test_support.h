#pragma once
// A TcpSession test bench: a proxy listener on the loop that wraps each
// accepted connection in a TcpSession, and a record of how sessions ended.
#include <sys/epoll.h>

#include <memory>
#include <thread>
#include <vector>

#include "src/l4/tcp_session.h"
#include "tests/l4/l4_test_support.h"

namespace pier::l4::testing {

class TcpProxyFixture : public LoopFixture, public event::IoHandler {
 protected:
  ~TcpProxyFixture() override {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    if (listen_fd_.valid()) loop_.remove(listen_fd_.get());
  }

  // Starts the proxy listener; sessions go to `endpoints` in order.
  void startProxy(std::vector<net::Address> endpoints, TcpSessionOptions options = {}) {
    picker_ = std::make_shared<ListPicker>(std::move(endpoints));
    options_ = std::move(options);
    auto fd = net::listenTcp(ipAddress("127.0.0.1", 0));
    ASSERT_TRUE(fd.ok()) << fd.error();
    listen_fd_ = std::move(fd.value());
    proxy_address_ = boundAddress(listen_fd_.get());
    loop_.add(listen_fd_.get(), *this, EPOLLIN);
  }

  // A loopback listener for a backend thread.
  net::Fd backendListener(int backlog = 128) {
    auto fd = net::listenTcp(ipAddress("127.0.0.1", 0), backlog);
    EXPECT_TRUE(fd.ok());
    return fd.ok() ? std::move(fd.value()) : net::Fd();
  }

  template <typename Fn>
  void spawn(Fn fn) {
    threads_.emplace_back(std::move(fn));
  }
  void joinThreads() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void onIoEvent(uint32_t) override {
    while (true) {
      net::Address peer;
      peer.length = sizeof peer.storage;
      int fd = accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      if (append_on_downstream_) {
        // splice() into an O_APPEND file fails with EINVAL: a real socket
        // that exercises the copy fallback.
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
      }
      auto session =
          std::make_unique<TcpSession>(loop_, net::Fd(fd), peer, picker_, options_, [this](TcpSession& s) {
            closed_.push_back(s.stats());
            for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
              if (it->get() == &s) {
                loop_.deferDelete(std::move(*it));
                sessions_.erase(it);
                break;
              }
            }
          });
      TcpSession* raw = session.get();
      sessions_.push_back(std::move(session));
      raw->start();
    }
  }

  std::shared_ptr<ListPicker> picker_;
  TcpSessionOptions options_;
  net::Fd listen_fd_;
  net::Address proxy_address_;
  std::vector<std::unique_ptr<TcpSession>> sessions_;
  std::vector<TcpSessionStats> closed_;  // in closing order
  std::vector<std::thread> threads_;
  bool append_on_downstream_ = false;
};

}  // namespace pier::l4::testing
