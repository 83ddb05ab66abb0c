#pragma once
// A UDP listener that proxies datagrams: each client address gets a session
// with its own connected socket to one upstream endpoint, so replies come
// back on that socket and are sent to the right client from the listening
// socket (the address the client talked to).
//
// UDP has no connection to watch, so a session lives until it has been idle
// for idle_timeout, or until its endpoint answers with an ICMP error
// (ECONNREFUSED on the connected socket), which ends it at once so that the
// client's next datagram can pick another endpoint.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "src/common/clock.h"
#include "src/common/result.h"
#include "src/event/loop.h"
#include "src/l4/deferred.h"
#include "src/l4/upstream_picker.h"
#include "src/net/socket.h"
#include "src/stats/metrics.h"

namespace pier::l4 {

// A non-blocking UDP socket bound to `address` with SO_REUSEPORT, so that
// each worker can own one (the kernel spreads clients over them by hash).
Result<net::Fd> bindUdp(const net::Address& address);

struct UdpProxyOptions {
  Duration idle_timeout = std::chrono::seconds(60);
  size_t max_sessions = 16384;  // datagrams from further new clients are dropped
  size_t batch = 16;            // datagrams per recvmmsg/sendmmsg
  size_t max_datagram = 65535;  // larger ones (truncated on receipt) are dropped
  int max_pick_attempts = 3;    // endpoints tried when a session socket cannot be set up

  // Live counters (optional: default handles do nothing).
  stats::Counter bytes_to_upstream_counter;
  stats::Counter bytes_to_downstream_counter;
  stats::Counter sessions_created_counter;
  stats::Gauge active_sessions_gauge;
  stats::Counter dropped_counter;
};

struct UdpProxyStats {
  uint64_t sessions_created = 0;
  uint64_t sessions_expired = 0;   // idle timeout
  uint64_t sessions_failed = 0;    // the upstream answered with an ICMP error
  uint64_t sessions_rejected = 0;  // no endpoint, or at max_sessions
  uint64_t datagrams_to_upstream = 0;
  uint64_t datagrams_to_downstream = 0;
  uint64_t bytes_to_upstream = 0;
  uint64_t bytes_to_downstream = 0;
  uint64_t datagrams_dropped = 0;  // truncated, rejected, or a full socket buffer
};

class UdpProxy final : public event::IoHandler, public event::Deletable {
 public:
  // `socket` is a bound UDP socket (see bindUdp). Destroy on the loop thread
  // and not from inside one of its own callbacks (use Loop::deferDelete).
  UdpProxy(event::Loop& loop, net::Fd socket, std::shared_ptr<UpstreamPicker> picker,
           UdpProxyOptions options);
  ~UdpProxy() override;
  UdpProxy(const UdpProxy&) = delete;
  UdpProxy& operator=(const UdpProxy&) = delete;

  void start();

  size_t sessionCount() const { return sessions_.size(); }
  const UdpProxyStats& stats() const { return stats_; }
  int fd() const { return socket_.get(); }

  // event::IoHandler (the listening socket)
  void onIoEvent(uint32_t events) override;

 private:
  class Session;
  struct Batch;
  enum class End { kExpired, kFailed, kShutdown };

  void readListener();
  void forwardToUpstream(const net::Address& client, std::string_view payload);
  Session* sessionFor(const net::Address& client);
  void onSessionEvent(Session& session, uint32_t events);
  void readUpstream(Session& session);
  void onSessionTimer(Session& session);
  // Sends the first `count` datagrams of the batch to the session's client.
  void forwardToClient(Session& session, size_t count);
  void endSession(Session& session, End how);
  void drop(uint64_t n = 1);

  event::Loop& loop_;
  net::Fd socket_;
  std::shared_ptr<UpstreamPicker> picker_;
  UdpProxyOptions options_;
  Deferred resume_;  // continues reading the listener after a full budget
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions_;
  // Receive and send buffers shared by the listener and every session: each
  // batch is forwarded before the next is read, so one set is enough.
  std::unique_ptr<Batch> batch_;
  UdpProxyStats stats_;
};

}  // namespace pier::l4
