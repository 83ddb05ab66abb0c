#pragma once
// A worker thread: its own event loop, its own accept sockets for every
// listener (SO_REUSEPORT, opened by the control thread), its own upstream
// connection pools and load-balancer state. Nothing here is shared with other
// workers, so the request path takes no locks.
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "src/event/loop.h"
#include "src/l4/tcp_session.h"
#include "src/l4/udp_proxy.h"
#include "src/proxy/cluster_state.h"
#include "src/proxy/snapshot.h"
#include "src/proxy/upstream_connection.h"
#include "src/upstream/load_balancer.h"

namespace pier::proxy {

class HttpConnection;

// The listening sockets of one listener for one worker (fd owned by the server).
struct ListenerSocket {
  std::string name;
  std::string address;  // canonical text, the key across reloads
  int fd = -1;
  config::Protocol protocol = config::Protocol::kHttp;
};

class Worker {
 public:
  explicit Worker(size_t index);
  ~Worker();

  // Starts the thread with the first snapshot.
  void start(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> sockets);
  // Swaps in a new snapshot (from any thread). `done` is called on the worker
  // thread once the new listeners are active and the old ones removed.
  void apply(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> sockets,
             std::function<void()> done);
  // Stops accepting, lets in-flight requests finish, then exits the loop once
  // no connection is left or the deadline passes (from any thread).
  void drain(Duration timeout, std::function<void()> stopped_accepting);
  void join();

  // --- used by connections, on the worker thread ---
  event::Loop& loop() { return loop_; }
  size_t index() const { return index_; }
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  const std::shared_ptr<ClusterState>& cluster(int index) const { return clusters_[static_cast<size_t>(index)]; }
  ClusterState* clusterByName(const std::string& name) const;
  uint64_t random() { return rng_(); }
  // Filter resources shared across streams (Lua states), for the current snapshot.
  filters::WorkerCache& filterCache() { return filter_cache_; }
  bool draining() const { return draining_; }
  void onConnectionClosed(HttpConnection& connection);
  void onAccepted(const std::string& listener_name, net::Fd fd, const net::Address& peer);

 private:
  class Acceptor;
  void applyOnLoop(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSocket> sockets);
  void buildClusters();
  void maybeFinishDrain();
  void retireAcceptors();
  void applyUdpListeners(const std::vector<ListenerSocket>& sockets);
  std::shared_ptr<l4::UpstreamPicker> picker(const std::string& cluster);
  void startTcpSession(const ListenerInfo& listener, net::Fd fd, const net::Address& peer);

  size_t index_;
  event::Loop loop_;
  std::thread thread_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<std::shared_ptr<ClusterState>> clusters_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::unordered_map<std::string, std::unique_ptr<EndpointPool>> pools_;  // by endpoint address
  std::unordered_set<HttpConnection*> connections_;
  std::unordered_set<l4::TcpSession*> tcp_sessions_;
  std::unordered_map<int, std::unique_ptr<l4::UdpProxy>> udp_proxies_;  // by the server's socket fd
  std::unordered_map<std::string, std::shared_ptr<l4::UpstreamPicker>> pickers_;  // by cluster name
  std::mt19937_64 rng_;
  filters::WorkerCache filter_cache_;
  bool draining_ = false;
  std::unique_ptr<event::Timer> drain_timer_;
};

}  // namespace pier::proxy
