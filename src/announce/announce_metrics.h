#pragma once
// The announcer's metrics. Written only from the announcer's own thread (the
// store's slots are per-thread shards; no other thread writes these series).
#include <map>
#include <string>
#include <string_view>

#include "src/stats/metrics.h"

namespace pier::announce {

class AnnounceMetrics {
 public:
  AnnounceMetrics();

  // pier_vip_heartbeats_received_total{result}: "accepted", "duplicate", "own",
  // "replay", "stale", "future", or the decoder's reason ("bad_mac", ...).
  void heartbeatReceived(std::string_view result);
  stats::Gauge owned(const std::string& ip) const;  // pier_vip_owned{ip}

  stats::Counter heartbeats_sent;  // pier_vip_heartbeats_sent_total
  stats::Counter takeovers;        // pier_vip_takeovers_total
  stats::Counter conflicts;        // pier_vip_conflicts_total
  stats::Counter garp_sent;        // pier_vip_garp_sent_total (ARP frames and NAs)
  stats::Gauge members_alive;      // pier_vip_members_alive (this node included)

 private:
  std::map<std::string, stats::Counter, std::less<>> received_;
};

}  // namespace pier::announce
