#include "src/proxy/worker.h"

#include <sys/epoll.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "src/common/log.h"
#include "src/proxy/http_connection.h"
#include "src/proxy/l4_forwarding.h"
#include "src/stats/metrics.h"

namespace pier::proxy {

// Accepts connections on one listener's socket for this worker.
class Worker::Acceptor final : public event::IoHandler, public event::Deletable {
 public:
  Acceptor(Worker& worker, ListenerSocket socket) : worker_(worker), socket_(std::move(socket)) {
    worker_.loop_.add(socket_.fd, *this, EPOLLIN);
  }
  ~Acceptor() override { kill(); }
  const ListenerSocket& socket() const { return socket_; }

  void onIoEvent(uint32_t) override {
    // Bounded so one busy listener can't starve the rest of the loop; with
    // edge triggering we must then come back on our own.
    for (int i = 0; i < 64; ++i) {
      net::Address peer;
      peer.length = sizeof peer.storage;
      int fd = accept4(socket_.fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          PIER_LOG_WARN("accept on {}: {}", socket_.address, std::strerror(errno));
        }
        return;
      }
      // Without it the last small segment of a response can wait ~40ms for
      // the client's delayed ACK (Nagle); nginx and HAProxy set it too.
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      worker_.onAccepted(socket_.name, net::Fd(fd), peer);
    }
    worker_.loop_.post([this, alive = alive_] {
      if (*alive) onIoEvent(EPOLLIN);
    });
  }

 private:
  Worker& worker_;
  ListenerSocket socket_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 public:
  // Stops accepting now: the server may close (and the kernel reuse) the fd
  // before this object's deferred deletion.
  void kill() {
    if (*alive_) {
      *alive_ = false;
      worker_.loop_.remove(socket_.fd);
    }
  }
};

// Seeded from the OS: request ids (and LB choices) must differ between processes.
Worker::Worker(size_t index) : index_(index), rng_(std::random_device{}() ^ (0x9e3779b97f4a7c15ULL * (index + 1))) {}

Worker::~Worker() {
  join();
  for (auto* c : connections_) {
    delete c;  // NOLINT: only reached after the loop has stopped
  }
  for (auto* t : tcp_sessions_) {
    delete t;  // NOLINT: only reached after the loop has stopped
  }
}

void Worker::start(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> sockets) {
  thread_ = std::thread([this, snapshot = std::move(snapshot), sockets = std::move(sockets)]() mutable {
    stats::setThreadShard(index_ + 1);
    applyOnLoop(std::move(snapshot), std::move(sockets));
    loop_.run();
  });
}

void Worker::apply(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> sockets,
                   std::function<void()> done) {
  loop_.post([this, snapshot = std::move(snapshot), sockets = std::move(sockets), done = std::move(done)]() mutable {
    applyOnLoop(std::move(snapshot), std::move(sockets));
    done();
  });
}

void Worker::applyOnLoop(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> sockets) {
  snapshot_ = std::move(snapshot);
  filter_cache_.clear();  // streams in flight keep what they use
  buildClusters();
  if (draining_) {
    return;
  }
  applyUdpListeners(sockets);
  // Keep acceptors whose socket survives; drop the rest; add new ones.
  std::vector<std::unique_ptr<Acceptor>> next;
  for (auto& s : sockets) {
    if (s.protocol == config::Protocol::kUdp) {
      continue;
    }
    bool kept = false;
    for (auto& a : acceptors_) {
      if (a && a->socket().fd == s.fd) {
        next.push_back(std::move(a));
        kept = true;
        break;
      }
    }
    if (!kept) {
      next.push_back(std::make_unique<Acceptor>(*this, s));
    }
  }
  retireAcceptors();
  acceptors_ = std::move(next);
}

void Worker::buildClusters() {
  std::vector<std::shared_ptr<ClusterState>> clusters;
  for (const auto& info : snapshot_->clusters()) {
    std::vector<EndpointPool*> pools;
    for (const auto& ep : info.endpoints) {
      auto& pool = pools_[ep.name];
      if (!pool) {
        pool = std::make_unique<EndpointPool>(loop_, ep.address);
      }
      pools.push_back(pool.get());
    }
    auto state = std::make_shared<ClusterState>(snapshot_, info, std::move(pools), rng_());
    for (const auto& old : clusters_) {
      if (old->config().name == info.config->name) {
        state->inheritOutliers(*old);
      }
    }
    clusters.push_back(std::move(state));
  }
  clusters_ = std::move(clusters);
}

void Worker::applyUdpListeners(const std::vector<ListenerSocket>& sockets) {
  std::unordered_map<int, std::unique_ptr<l4::UdpProxy>> next;
  for (const auto& s : sockets) {
    if (s.protocol != config::Protocol::kUdp) {
      continue;
    }
    auto it = udp_proxies_.find(s.fd);
    if (it != udp_proxies_.end()) {
      next.emplace(s.fd, std::move(it->second));  // sessions survive the reload
      udp_proxies_.erase(it);
      continue;
    }
    for (const auto& l : snapshot_->listeners()) {
      if (l.config->name != s.name) {
        continue;
      }
      // The proxy owns a duplicate: the server keeps the original to hand
      // the same socket to the next config.
      net::Fd own(fcntl(s.fd, F_DUPFD_CLOEXEC, 0));
      auto proxy = std::make_unique<l4::UdpProxy>(loop_, std::move(own), picker(l.config->cluster), udpProxyOptions(l));
      proxy->start();
      next.emplace(s.fd, std::move(proxy));
    }
  }
  for (auto& [fd, proxy] : udp_proxies_) {
    loop_.deferDelete(std::move(proxy));
  }
  udp_proxies_ = std::move(next);
}

std::shared_ptr<l4::UpstreamPicker> Worker::picker(const std::string& cluster) {
  auto& p = pickers_[cluster];
  if (!p) {
    p = std::make_shared<ClusterPicker>(*this, cluster);
  }
  return p;
}

ClusterState* Worker::clusterByName(const std::string& name) const {
  int index = snapshot_->clusterIndex(name);
  return index < 0 ? nullptr : clusters_[static_cast<size_t>(index)].get();
}

void Worker::startTcpSession(const ListenerInfo& listener, net::Fd fd, const net::Address& peer) {
  int index = snapshot_->clusterIndex(listener.config->cluster);
  if (index < 0) {
    return;
  }
  const auto& cluster = snapshot_->clusters()[static_cast<size_t>(index)];
  listener.connections.add();
  listener.active_connections.add(1);
  auto session = std::make_unique<l4::TcpSession>(
      loop_, std::move(fd), peer, picker(listener.config->cluster), tcpSessionOptions(listener, cluster),
      [this, gauge = listener.active_connections](l4::TcpSession& done) {
        gauge.add(-1);
        tcp_sessions_.erase(&done);
        loop_.deferDelete(std::unique_ptr<event::Deletable>(&done));
        if (draining_) {
          maybeFinishDrain();
        }
      });
  l4::TcpSession* raw = session.release();  // owned through tcp_sessions_ until its close callback
  tcp_sessions_.insert(raw);
  raw->start();
}

void Worker::onAccepted(const std::string& listener_name, net::Fd fd, const net::Address& peer) {
  const ListenerInfo* listener = nullptr;
  for (const auto& l : snapshot_->listeners()) {
    if (l.config->name == listener_name) {
      listener = &l;
    }
  }
  if (listener == nullptr) {
    return;  // fd closes
  }
  if (listener->config->protocol == config::Protocol::kTcp) {
    startTcpSession(*listener, std::move(fd), peer);
    return;
  }
  auto* conn = new HttpConnection(*this, std::move(fd), peer, snapshot_, *listener);  // NOLINT: owned by connections_
  connections_.insert(conn);
  conn->start();
}

void Worker::onConnectionClosed(HttpConnection& connection) {
  connections_.erase(&connection);
  loop_.deferDelete(std::unique_ptr<event::Deletable>(&connection));
  if (draining_) {
    maybeFinishDrain();
  }
}

void Worker::drain(Duration timeout, std::function<void()> stopped_accepting) {
  loop_.post([this, timeout, stopped_accepting = std::move(stopped_accepting)] {
    draining_ = true;
    retireAcceptors();
    stopped_accepting();
    for (auto& [fd, proxy] : udp_proxies_) {
      loop_.deferDelete(std::move(proxy));
    }
    udp_proxies_.clear();
    drain_timer_ = std::make_unique<event::Timer>(loop_, [this] {
      PIER_LOG_WARN("worker {}: drain timeout with {} connections open", index_,
                    connections_.size() + tcp_sessions_.size());
      loop_.stop();
    });
    drain_timer_->armAfter(timeout);
    std::vector<HttpConnection*> open(connections_.begin(), connections_.end());
    for (auto* c : open) {
      c->drain();
    }
    maybeFinishDrain();
  });
}

void Worker::retireAcceptors() {
  // Deferred: an accept event for one of them may still be queued this iteration.
  for (auto& a : acceptors_) {
    if (a) {
      a->kill();
      loop_.deferDelete(std::move(a));
    }
  }
  acceptors_.clear();
}

void Worker::maybeFinishDrain() {
  if (connections_.empty() && tcp_sessions_.empty()) {
    loop_.stop();
  }
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace pier::proxy
