#pragma once
// Which virtual IPs a node is eligible for, as carried in its heartbeats:
// listed, or "all but" listed (except-listed). A heartbeat has room for about
// 290 IPv4 or 72 IPv6 addresses; a node eligible for all of 10,000 addresses
// sends an empty except-list, so the heartbeat stays small whatever the pool.
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "src/vip/address.h"
#include "src/vip/heartbeat.h"

namespace pier::announce {

// A peer's eligibility, kept sorted for O(log n) lookups.
struct Eligibility {
  bool except_listed = false;
  std::vector<vip::IpAddress> listed;  // sorted

  static Eligibility fromHeartbeat(const vip::Heartbeat& hb);
  bool contains(const vip::IpAddress& ip) const;
  bool operator==(const Eligibility&) const = default;
};

// What this node puts in its heartbeat, from its eligibility over all
// configured addresses (`eligible[i]` for `all[i]`).
struct AdvertisedList {
  bool except_listed = false;
  std::vector<vip::IpAddress> ips;
  // Eligible addresses left out because neither form fits one datagram: the
  // node must then treat itself as not eligible for them, or it would claim
  // addresses its peers do not know it may own (two owners).
  std::vector<size_t> dropped;  // indices into `all`
};

// Bytes left for addresses in a heartbeat from `node`.
size_t heartbeatAddressRoom(std::string_view node);

// Picks the shorter form that fits; when neither fits, lists the eligible
// addresses in address order up to the room left and reports the rest as
// dropped (a list may be cut short safely, an except-list may not).
AdvertisedList chooseAdvertisedList(std::span<const vip::IpAddress> all, const std::vector<bool>& eligible,
                                    std::string_view node);

}  // namespace pier::announce
