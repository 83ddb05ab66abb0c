#pragma once
// The virtual IPs a configuration asks for, in the shape the announcer works
// with: one entry per distinct address (services sharing an address share the
// entry, so an address is elected once and never split), sorted by address so
// that every lookup is a binary search.
#include <string>
#include <vector>

#include "src/common/result.h"
#include "src/config/config.h"
#include "src/vip/address.h"

namespace pier::announce {

// A bitmask of interface slots fits one word: a host announcing on more
// interfaces than this is not a case worth the complexity.
inline constexpr size_t kMaxInterfaces = 64;

struct PlannedIp {
  vip::IpAddress ip;
  std::string text;  // canonical
  std::string pool;
  std::vector<std::string> interfaces;  // where it is announced (the pool's, else virtual_ips.interfaces)
  std::vector<std::string> services;    // sorted
};

struct Plan {
  std::vector<std::string> interfaces;  // every interface used, virtual_ips.interfaces first, no duplicates
  std::vector<std::string> cidrs;       // pool CIDRs for local routes, no duplicates
  std::vector<PlannedIp> ips;           // sorted by ip, unique
};

// Only addresses that some service uses are announced; the rest of a pool is
// address space for services to come. Errors: an unparsable address, an
// address in no pool, more than kMaxInterfaces interfaces.
Result<Plan> makePlan(const config::VirtualIps& cfg);

}  // namespace pier::announce
