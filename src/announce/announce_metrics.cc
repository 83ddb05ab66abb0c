#include "src/announce/announce_metrics.h"

namespace pier::announce {

AnnounceMetrics::AnnounceMetrics() {
  auto& store = stats::Store::instance();
  heartbeats_sent = store.counter("pier_vip_heartbeats_sent_total", {}, "Heartbeat datagrams sent");
  takeovers = store.counter("pier_vip_takeovers_total", {}, "Virtual IPs this node took ownership of");
  conflicts = store.counter("pier_vip_conflicts_total", {},
                            "ARP/NDP packets from another MAC claiming a virtual IP this node owns");
  garp_sent = store.counter("pier_vip_garp_sent_total", {},
                            "Gratuitous ARP frames and unsolicited neighbor advertisements sent");
  members_alive = store.gauge("pier_vip_members_alive", {}, "Live cluster members, this node included");
}

void AnnounceMetrics::heartbeatReceived(std::string_view result) {
  auto it = received_.find(result);
  if (it == received_.end()) {
    it = received_
             .emplace(std::string(result),
                      stats::Store::instance().counter("pier_vip_heartbeats_received_total",
                                                       {{"result", std::string(result)}},
                                                       "Heartbeats received, by outcome"))
             .first;
  }
  it->second.add();
}

stats::Gauge AnnounceMetrics::owned(const std::string& ip) const {
  return stats::Store::instance().gauge("pier_vip_owned", {{"ip", ip}},
                                        "1 while this node owns (announces) the virtual IP");
}

}  // namespace pier::announce
