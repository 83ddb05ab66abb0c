#include "src/announce/plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

namespace pier::announce {
namespace {

// Keeps the first occurrence, in order; `seen` makes it O(log n) per value
// (pools may be written as thousands of small ranges).
void addUnique(std::vector<std::string>& list, std::set<std::string>& seen, const std::string& value) {
  if (seen.insert(value).second) list.push_back(value);
}

}  // namespace

Result<Plan> makePlan(const config::VirtualIps& cfg) {
  Plan plan;
  std::set<std::string> seen_interfaces;
  std::set<std::string> seen_cidrs;
  for (const auto& itf : cfg.interfaces) addUnique(plan.interfaces, seen_interfaces, itf);
  std::map<std::string, const config::VipPool*> pools;
  for (const auto& pool : cfg.pools) {
    pools[pool.name] = &pool;
    for (const auto& itf : pool.interfaces) addUnique(plan.interfaces, seen_interfaces, itf);
    for (const auto& cidr : pool.cidrs) addUnique(plan.cidrs, seen_cidrs, cidr);
  }
  if (plan.interfaces.size() > kMaxInterfaces) {
    return Error{fmt::format("virtual_ips: {} interfaces, at most {} are supported", plan.interfaces.size(),
                             kMaxInterfaces)};
  }

  // Address (canonical text) -> the services using it and the pool a service named.
  struct Use {
    vip::IpAddress ip;
    std::vector<std::string> services;
    std::string pool;
  };
  std::unordered_map<std::string, Use> uses;
  for (const auto& svc : cfg.services) {
    const std::string& text = svc.assigned.empty() ? svc.address : svc.assigned;
    if (text.empty()) continue;  // the pool had no free address: nothing to announce
    auto ip = vip::IpAddress::parse(text);
    if (!ip) {
      return Error{fmt::format("virtual_ips: service '{}': '{}' is not an IP address", svc.name, text)};
    }
    Use& use = uses[ip->toString()];
    use.ip = *ip;
    use.services.push_back(svc.name);
    if (use.pool.empty() && !svc.pool.empty() && pools.count(svc.pool) != 0) use.pool = svc.pool;
  }
  // Addresses named directly: find their pool with one pass over the pools'
  // addresses (hash lookups only; pools can hold 65536 addresses each).
  for (const auto& pool : cfg.pools) {
    for (const auto& addr : pool.addresses) {
      auto it = uses.find(addr);
      if (it != uses.end() && it->second.pool.empty()) it->second.pool = pool.name;
    }
  }

  plan.ips.reserve(uses.size());
  for (auto& [text, use] : uses) {
    if (use.pool.empty()) {
      return Error{fmt::format("virtual_ips: {} (service '{}') is in no pool", text, use.services.front())};
    }
    const config::VipPool& pool = *pools[use.pool];
    PlannedIp entry;
    entry.ip = use.ip;
    entry.text = text;
    entry.pool = use.pool;
    entry.interfaces = pool.interfaces.empty() ? cfg.interfaces : pool.interfaces;
    std::sort(use.services.begin(), use.services.end());
    entry.services = std::move(use.services);
    plan.ips.push_back(std::move(entry));
  }
  std::sort(plan.ips.begin(), plan.ips.end(),
            [](const PlannedIp& a, const PlannedIp& b) { return a.ip < b.ip; });
  return plan;
}

}  // namespace pier::announce
