#include "src/announce/eligibility.h"

#include <algorithm>

namespace pier::announce {
namespace {

size_t cost(const vip::IpAddress& ip) { return ip.isV4() ? 4 : 16; }

}  // namespace

Eligibility Eligibility::fromHeartbeat(const vip::Heartbeat& hb) {
  Eligibility e;
  e.except_listed = hb.except_listed;
  e.listed = hb.ips;
  std::sort(e.listed.begin(), e.listed.end());
  e.listed.erase(std::unique(e.listed.begin(), e.listed.end()), e.listed.end());
  return e;
}

bool Eligibility::contains(const vip::IpAddress& ip) const {
  return std::binary_search(listed.begin(), listed.end(), ip) != except_listed;
}

size_t heartbeatAddressRoom(std::string_view node) {
  const size_t fixed = vip::kHeartbeatFixedBytes + node.size() + vip::kHeartbeatMacBytes;
  return fixed >= vip::kHeartbeatMaxBytes ? 0 : vip::kHeartbeatMaxBytes - fixed;
}

AdvertisedList chooseAdvertisedList(std::span<const vip::IpAddress> all, const std::vector<bool>& eligible,
                                    std::string_view node) {
  size_t in_bytes = 0;
  size_t out_bytes = 0;
  for (size_t i = 0; i < all.size(); ++i) (eligible[i] ? in_bytes : out_bytes) += cost(all[i]);
  const size_t room = heartbeatAddressRoom(node);

  AdvertisedList out;
  // Ties go to the plain list: a peer whose configuration has an address this
  // node lacks must not take an except-list as eligibility for it.
  const bool use_except = out_bytes < in_bytes ? out_bytes <= room : in_bytes > room && out_bytes <= room;
  out.except_listed = use_except;
  size_t used = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (eligible[i] == use_except) continue;  // except-list names the ineligible, a list the eligible
    if (!use_except && used + cost(all[i]) > room) {
      out.dropped.push_back(i);
      continue;
    }
    used += cost(all[i]);
    out.ips.push_back(all[i]);
  }
  return out;
}

}  // namespace pier::announce
