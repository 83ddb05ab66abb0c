#pragma once
// Reading the client's neighbour table (`ip neigh show <ip>`): which MAC the
// client resolved the virtual IP to, and so which node it sends to.
#include <optional>
#include <string>
#include <string_view>

namespace pier::lab {

struct NeighEntry {
  std::string mac;    // lower case; empty when the entry has none (INCOMPLETE, FAILED)
  std::string state;  // REACHABLE, STALE, DELAY, PROBE, FAILED, INCOMPLETE, PERMANENT, ...
};

// The first entry of `ip neigh show` output for one address, e.g.
// "10.77.0.100 dev eth0 lladdr 02:77:00:00:00:12 REACHABLE"; nullopt if none.
std::optional<NeighEntry> parseNeigh(std::string_view ip_output);

}  // namespace pier::lab
