#pragma once
// Local routes for virtual IPs: "ip route replace local <cidr> dev lo table
// local proto static" done over rtnetlink, so the kernel delivers traffic for
// the pool to local sockets without owning (and answering ARP for) any of its
// addresses.
#include <string_view>

#include "src/common/result.h"
#include "src/vip/address.h"

namespace pier::announce::sys {

struct RouteCidr {
  vip::IpAddress network;
  int prefix_length = 0;
};

// "192.0.2.0/28", "2001:db8::/124", or a bare address (a host route). Host
// bits must be zero, as the kernel requires of a route's destination.
Result<RouteCidr> parseRouteCidr(std::string_view text);

// Adds (or replaces) the route; routes pier adds carry protocol "static" and
// removal matches only those, never a route the kernel made for an
// interface address. Removing a route that is not there succeeds.
Status addLocalRoute(const RouteCidr& cidr);
Status removeLocalRoute(const RouteCidr& cidr);

}  // namespace pier::announce::sys
