#pragma once
// The announcer: makes the virtual IPs of `virtual_ips` reachable on the LAN
// from exactly one healthy node each (docs/virtual-ips.md). It runs on its own
// thread with its own event loop, at real-time priority when allowed, so that
// heartbeats keep flowing when the machine is starved of CPU (a late heartbeat
// is a false failover). The logic lives in AnnounceCore; this class owns the
// thread, the sockets and the host changes (HostSetup).
//
// Threads: create() and the destructor on the control thread; every other
// method is safe from any thread (they post to the announcer's loop).
#include <memory>
#include <set>
#include <string>

#include "src/announce/host.h"
#include "src/announce/status.h"
#include "src/common/result.h"
#include "src/config/config.h"
#include "src/vip/cluster_key.h"

namespace pier::announce {

class Announcer {
 public:
  // Everything from `cfg` (cfg.enabled must be true) and the cluster key;
  // touches nothing on the host until start(). An empty node_name means the
  // host name.
  static Result<std::unique_ptr<Announcer>> create(Host& host, const config::VirtualIps& cfg,
                                                   vip::ClusterKey key);

  // Local routes for the pools, arp_ignore=1/arp_announce=2 on the
  // interfaces (when manage_host), opens the sockets, starts the thread.
  // Claims nothing for dead_after_missed heartbeat intervals (listening to
  // the cluster first). Once only: a stopped announcer is not restarted.
  Status start();

  // The addresses this node may own (health). Until the first call, all
  // configured addresses. Addresses not configured are ignored.
  void setEligibleIps(std::set<std::string> ips);

  // Addresses, pools, services, interfaces, timing and heartbeat transport may
  // change; node_name may not. A new key_file path is loaded here. Ownership
  // of addresses that stay is kept.
  Status reload(const config::VirtualIps& cfg);

  // graceful: stop answering, send "leaving" heartbeats (the peers take over
  // at once), then exit. Either way: the thread ends, sysctls are restored and
  // routes removed. Idempotent.
  void stop(bool graceful);
  // A graceful stop that keeps the local routes and sysctls, so connections
  // already on this node finish while the process drains; a later stop()
  // restores them.
  void handOver();

  AnnouncerStatus status() const;

  ~Announcer();  // stop(false) if running

  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  class Impl;

 private:
  explicit Announcer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pier::announce
