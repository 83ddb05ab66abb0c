#pragma once
// Fakes of host.h for the announcer tests: sockets that record what is sent
// and hand out what a test queued, and a host with settable interfaces,
// sysctls and routes. Thread-safe (the Announcer tests drive them from its
// own thread); each socket may have an eventfd that becomes readable when
// something is queued, so a real event loop can watch it.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "src/announce/host.h"

namespace pier::announce::testing {

using Bytes = std::vector<uint8_t>;

// An eventfd to wake an epoll loop, or none (-1) for tests without a loop.
class WakeFd {
 public:
  explicit WakeFd(bool enabled) : fd_(enabled ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1) {}
  ~WakeFd() {
    if (fd_ >= 0) close(fd_);
  }
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const { return fd_; }
  void signal() const {
    if (fd_ < 0) return;
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(fd_, &one, sizeof one);
  }
  void clear() const {
    if (fd_ < 0) return;
    uint64_t v;
    [[maybe_unused]] auto n = read(fd_, &v, sizeof v);
  }

 private:
  int fd_;
};

// Waits (bounded) for a condition another thread makes true.
class Signal {
 public:
  void notify() {
    std::lock_guard lock(mutex_);
    ++generation_;
    cv_.notify_all();
  }
  template <typename Pred>
  bool waitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      lock.unlock();
      const bool ok = pred();
      lock.lock();
      return ok;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
};

class FakeArpSocket final : public ArpSocket {
 public:
  std::atomic<bool> closed{false};  // set by the Shared wrapper
  explicit FakeArpSocket(bool with_fd = false, Signal* signal = nullptr) : wake_(with_fd), signal_(signal) {}
  int fd() const override { return wake_.fd(); }
  int receive(std::span<uint8_t> buf) override {
    std::lock_guard lock(mutex_);
    if (inbox_.empty()) {
      wake_.clear();
      return 0;
    }
    Bytes f = std::move(inbox_.front());
    inbox_.pop_front();
    const size_t n = std::min(f.size(), buf.size());
    std::memcpy(buf.data(), f.data(), n);
    return static_cast<int>(n);
  }
  bool send(std::span<const uint8_t> frame) override {
    {
      std::lock_guard lock(mutex_);
      sent_.emplace_back(frame.begin(), frame.end());
    }
    if (signal_) signal_->notify();
    return true;
  }
  void push(Bytes frame) {
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(frame));
    }
    wake_.signal();
  }
  std::vector<Bytes> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<Bytes> takeSent() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }

 private:
  WakeFd wake_;
  Signal* signal_;
  mutable std::mutex mutex_;
  std::deque<Bytes> inbox_;
  std::vector<Bytes> sent_;
};

class FakeNdpSocket final : public NdpSocket {
 public:
  std::optional<vip::Ipv6Address> last_source;  // of the latest send()
  std::atomic<bool> closed{false};
  struct Sent {
    Bytes icmp;
    vip::Ipv6Address destination;
  };
  struct Queued {
    Bytes icmp;
    vip::Ipv6Address source;
    vip::Ipv6Address destination;
    int hop_limit;
  };
  explicit FakeNdpSocket(bool with_fd = false) : wake_(with_fd) {}
  int fd() const override { return wake_.fd(); }
  std::optional<Received> receive(std::span<uint8_t> buf) override {
    std::lock_guard lock(mutex_);
    if (inbox_.empty()) {
      wake_.clear();
      return Received{};
    }
    Queued q = std::move(inbox_.front());
    inbox_.pop_front();
    const size_t n = std::min(q.icmp.size(), buf.size());
    std::memcpy(buf.data(), q.icmp.data(), n);
    return Received{n, q.source, q.destination, q.hop_limit};
  }
  bool send(std::span<const uint8_t> icmp, const vip::Ipv6Address& destination,
            const std::optional<vip::Ipv6Address>& source) override {
    std::lock_guard lock(mutex_);
    last_source = source;
    sent_.push_back({Bytes(icmp.begin(), icmp.end()), destination});
    return true;
  }
  bool joinGroup(const vip::Ipv6Address& group) override {
    std::lock_guard lock(mutex_);
    ++joins_;
    return groups_.insert(group).second;  // a second join of the same group is the caller's bug
  }
  bool leaveGroup(const vip::Ipv6Address& group) override {
    std::lock_guard lock(mutex_);
    ++leaves_;
    return groups_.erase(group) == 1;
  }
  void push(Queued q) {
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(q));
    }
    wake_.signal();
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<Sent> takeSent() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }
  std::set<vip::Ipv6Address> groups() const {
    std::lock_guard lock(mutex_);
    return groups_;
  }
  int joins() const {
    std::lock_guard lock(mutex_);
    return joins_;
  }
  int leaves() const {
    std::lock_guard lock(mutex_);
    return leaves_;
  }

 private:
  WakeFd wake_;
  mutable std::mutex mutex_;
  std::deque<Queued> inbox_;
  std::vector<Sent> sent_;
  std::set<vip::Ipv6Address> groups_;
  int joins_ = 0;
  int leaves_ = 0;
};

class FakeHeartbeatSocket final : public HeartbeatSocket {
 public:
  std::atomic<bool> closed{false};
  explicit FakeHeartbeatSocket(bool with_fd = false, Signal* signal = nullptr)
      : wake_(with_fd), signal_(signal) {}
  int fd() const override { return wake_.fd(); }
  std::optional<Received> receive(std::span<uint8_t> buf) override {
    std::lock_guard lock(mutex_);
    if (inbox_.empty()) {
      wake_.clear();
      return Received{};
    }
    Bytes d = std::move(inbox_.front());
    inbox_.pop_front();
    const size_t n = std::min(d.size(), buf.size());
    std::memcpy(buf.data(), d.data(), n);
    return Received{n, "192.0.2.200"};
  }
  bool send(std::span<const uint8_t> datagram) override {
    {
      std::lock_guard lock(mutex_);
      sent_.emplace_back(datagram.begin(), datagram.end());
    }
    if (signal_) signal_->notify();
    return true;
  }
  void push(Bytes datagram) {
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(datagram));
    }
    wake_.signal();
  }
  std::vector<Bytes> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<Bytes> takeSent() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }

 private:
  WakeFd wake_;
  Signal* signal_;
  mutable std::mutex mutex_;
  std::deque<Bytes> inbox_;
  std::vector<Bytes> sent_;
};

// What FakeHost hands out: a socket forwarding to a fake the host keeps, so
// a test can still read what was sent after the announcer closed it.
template <typename Base, typename Fake>
class Shared;

template <typename Fake>
class Shared<ArpSocket, Fake> final : public ArpSocket {
 public:
  explicit Shared(std::shared_ptr<Fake> f) : f_(std::move(f)) {}
  ~Shared() override { f_->closed = true; }
  int fd() const override { return f_->fd(); }
  int receive(std::span<uint8_t> buf) override { return f_->receive(buf); }
  bool send(std::span<const uint8_t> frame) override { return f_->send(frame); }

 private:
  std::shared_ptr<Fake> f_;
};

template <typename Fake>
class Shared<NdpSocket, Fake> final : public NdpSocket {
 public:
  explicit Shared(std::shared_ptr<Fake> f) : f_(std::move(f)) {}
  ~Shared() override { f_->closed = true; }
  int fd() const override { return f_->fd(); }
  std::optional<Received> receive(std::span<uint8_t> buf) override { return f_->receive(buf); }
  bool send(std::span<const uint8_t> icmp, const vip::Ipv6Address& d,
            const std::optional<vip::Ipv6Address>& source) override {
    return f_->send(icmp, d, source);
  }
  bool joinGroup(const vip::Ipv6Address& g) override { return f_->joinGroup(g); }
  bool leaveGroup(const vip::Ipv6Address& g) override { return f_->leaveGroup(g); }

 private:
  std::shared_ptr<Fake> f_;
};

template <typename Fake>
class Shared<HeartbeatSocket, Fake> final : public HeartbeatSocket {
 public:
  explicit Shared(std::shared_ptr<Fake> f) : f_(std::move(f)) {}
  ~Shared() override { f_->closed = true; }
  int fd() const override { return f_->fd(); }
  std::optional<Received> receive(std::span<uint8_t> buf) override { return f_->receive(buf); }
  bool send(std::span<const uint8_t> datagram) override { return f_->send(datagram); }

 private:
  std::shared_ptr<Fake> f_;
};

// The sockets a FakeHost opened for one interface (the latest of each).
struct OpenedSockets {
  std::shared_ptr<FakeArpSocket> arp;
  std::shared_ptr<FakeNdpSocket> ndp;
  std::shared_ptr<FakeHeartbeatSocket> heartbeat;
  uint16_t port = 0;
  std::string group;
  std::vector<std::string> peers;
};

class FakeHost final : public Host {
 public:
  explicit FakeHost(bool with_fds = false) : with_fds_(with_fds), link_wake_(with_fds) {}

  void addInterface(InterfaceInfo info) {
    std::lock_guard lock(mutex_);
    interfaces_[info.name] = std::move(info);
  }
  void setRunning(const std::string& name, bool running) {
    {
      std::lock_guard lock(mutex_);
      interfaces_[name].running = running;
    }
    link_wake_.signal();
  }
  void setSysctlValue(const std::string& path, const std::string& value) {
    std::lock_guard lock(mutex_);
    sysctls_[path] = value;
  }
  std::string sysctl(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = sysctls_.find(path);
    return it == sysctls_.end() ? "" : it->second;
  }
  std::set<std::string> routes() const {
    std::lock_guard lock(mutex_);
    return routes_;
  }
  OpenedSockets opened(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = opened_.find(name);
    return it == opened_.end() ? OpenedSockets{} : it->second;
  }
  void failRoute(const std::string& cidr) {
    std::lock_guard lock(mutex_);
    failing_routes_.insert(cidr);
  }
  void failNdp(bool fail) {
    std::lock_guard lock(mutex_);
    fail_ndp_ = fail;
  }
  Signal& sent() { return sent_signal_; }

  Result<InterfaceInfo> interface(const std::string& name) override {
    std::lock_guard lock(mutex_);
    auto it = interfaces_.find(name);
    if (it == interfaces_.end()) return Error{"no such interface"};
    return it->second;
  }
  int linkEventsFd() override { return link_wake_.fd(); }
  void drainLinkEvents() override { link_wake_.clear(); }
  Status addLocalRoute(const std::string& cidr) override {
    std::lock_guard lock(mutex_);
    if (failing_routes_.count(cidr) != 0) return Error{"route refused"};
    routes_.insert(cidr);
    return {};
  }
  Status removeLocalRoute(const std::string& cidr) override {
    std::lock_guard lock(mutex_);
    routes_.erase(cidr);
    return {};
  }
  Result<std::string> setSysctl(const std::string& path, const std::string& value) override {
    std::lock_guard lock(mutex_);
    std::string old = sysctls_.count(path) != 0 ? sysctls_[path] : "0";
    sysctls_[path] = value;
    return old;
  }
  Result<std::unique_ptr<ArpSocket>> openArp(const InterfaceInfo& itf) override {
    auto s = std::make_shared<FakeArpSocket>(with_fds_, &sent_signal_);
    std::lock_guard lock(mutex_);
    opened_[itf.name].arp = s;
    return std::unique_ptr<ArpSocket>(std::make_unique<Shared<ArpSocket, FakeArpSocket>>(s));
  }
  Result<std::unique_ptr<NdpSocket>> openNdp(const InterfaceInfo& itf) override {
    std::lock_guard lock(mutex_);
    if (fail_ndp_) return Error{"no link-local address yet"};
    auto s = std::make_shared<FakeNdpSocket>(with_fds_);
    opened_[itf.name].ndp = s;
    return std::unique_ptr<NdpSocket>(std::make_unique<Shared<NdpSocket, FakeNdpSocket>>(s));
  }
  Result<std::unique_ptr<HeartbeatSocket>> openHeartbeat(const InterfaceInfo& itf, uint16_t port,
                                                         const std::string& group,
                                                         const std::vector<std::string>& peers) override {
    auto s = std::make_shared<FakeHeartbeatSocket>(with_fds_, &sent_signal_);
    std::lock_guard lock(mutex_);
    OpenedSockets& o = opened_[itf.name];
    o.heartbeat = s;
    o.port = port;
    o.group = group;
    o.peers = peers;
    return std::unique_ptr<HeartbeatSocket>(
        std::make_unique<Shared<HeartbeatSocket, FakeHeartbeatSocket>>(s));
  }

 private:
  bool with_fds_;
  WakeFd link_wake_;
  Signal sent_signal_;
  mutable std::mutex mutex_;
  std::map<std::string, InterfaceInfo> interfaces_;
  std::map<std::string, std::string> sysctls_;
  std::set<std::string> routes_;
  std::set<std::string> failing_routes_;
  std::map<std::string, OpenedSockets> opened_;
  bool fail_ndp_ = false;
};

}  // namespace pier::announce::testing
