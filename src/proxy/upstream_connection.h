#pragma once
// A connection to one upstream endpoint, and the per-worker pool of idle ones.
#include <list>
#include <memory>
#include <string>

#include "src/common/buffer.h"
#include "src/event/loop.h"
#include "src/net/socket.h"
#include "src/proxy/cluster_health.h"

namespace pier::proxy {

class EndpointPool;

// Whoever is using an upstream connection gets its events.
class UpstreamUser {
 public:
  virtual ~UpstreamUser() = default;
  virtual void onUpstreamEvent(uint32_t events) = 0;
};

class UpstreamConnection final : public event::IoHandler, public event::Deletable {
 public:
  UpstreamConnection(event::Loop& loop, net::Fd fd, EndpointPool& pool);
  ~UpstreamConnection() override;

  int fd() const { return fd_.get(); }
  Buffer& in() { return in_; }
  bool connected() const { return connected_; }
  void setConnected() { connected_ = true; }
  // True once the connection carries its second request (countRequest() is called as each one starts).
  bool reused() const { return requests_ > 1; }
  void countRequest() { ++requests_; }
  EndpointPool& pool() { return pool_; }
  void setUser(UpstreamUser* user) { user_ = user; }
  // Counts this connection in a cluster's circuit-breaker load until it closes.
  void trackIn(std::shared_ptr<ClusterLoad> load) {
    load->connections.fetch_add(1, std::memory_order_relaxed);
    load_ = std::move(load);
  }

  // event::IoHandler
  void onIoEvent(uint32_t events) override;

 private:
  friend class EndpointPool;
  event::Loop& loop_;
  net::Fd fd_;
  EndpointPool& pool_;
  Buffer in_;
  UpstreamUser* user_ = nullptr;
  bool connected_ = false;
  bool in_pool_ = false;  // idle in the pool (idle_pos_ valid)
  uint64_t requests_ = 0;
  std::list<std::unique_ptr<UpstreamConnection>>::iterator idle_pos_;
  event::Timer idle_timer_;
  std::shared_ptr<ClusterLoad> load_;
};

// Idle keep-alive connections to one endpoint, on one worker.
class EndpointPool {
 public:
  EndpointPool(event::Loop& loop, const net::Address& address) : loop_(loop), address_(address) {}
  ~EndpointPool();

  // An idle connection, or nullptr.
  std::unique_ptr<UpstreamConnection> takeIdle();
  // Starts a new connection; the caller waits for EPOLLOUT.
  Result<std::unique_ptr<UpstreamConnection>> connect();
  // Returns a finished connection for reuse (closes it when over the cap).
  void release(std::unique_ptr<UpstreamConnection> connection, size_t max_idle, Duration idle_timeout);
  // Closes a connection (deferred, so its handler may still be on the stack).
  void discard(std::unique_ptr<UpstreamConnection> connection);
  size_t idleCount() const { return idle_.size(); }

 private:
  friend class UpstreamConnection;
  void onIdleEvent(UpstreamConnection& connection);

  event::Loop& loop_;
  net::Address address_;
  std::list<std::unique_ptr<UpstreamConnection>> idle_;
  std::list<std::unique_ptr<UpstreamConnection>> spare_nodes_;  // empty nodes taken out of idle_
};

}  // namespace pier::proxy
