#include "src/router/host_table.h"

#include <algorithm>
#include <array>

#include "src/router/ascii.h"

namespace pier::router {

std::string_view hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.find(':');
  if (colon == std::string_view::npos || host.find(':', colon + 1) != std::string_view::npos) return host;
  return host.substr(0, colon);
}

Status HostTable::insert(Map& map, std::string key, int index, std::string_view domain) {
  auto [it, inserted] = map.emplace(std::move(key), index);
  if (!inserted && it->second != index) {
    return Error{"domain \"" + std::string(domain) + "\" is claimed by more than one virtual host"};
  }
  return {};
}

HostTable::Map& HostTable::tierFor(std::vector<Tier>& tiers, size_t length) {
  for (Tier& tier : tiers) {
    if (tier.length == length) return tier.domains;
  }
  tiers.push_back(Tier{length, {}});
  return tiers.back().domains;
}

Status HostTable::add(std::string_view domain, int index) {
  std::string lowered = asciiLowered(hostWithoutPort(domain));
  if (lowered.empty()) return Error{"empty domain"};
  if (lowered == "*") {
    if (any_ >= 0 && any_ != index) return Error{"domain \"*\" is claimed by more than one virtual host"};
    any_ = index;
    return {};
  }
  size_t star = lowered.find('*');
  if (star == std::string::npos) {
    // A bare IPv6 literal in config ("::1") matches the bracketed Host form.
    if (lowered.front() != '[' && lowered.find(':') != std::string::npos) lowered = "[" + lowered + "]";
    return insert(exact_, std::move(lowered), index, domain);
  }
  if (lowered.find('*', star + 1) != std::string::npos || (star != 0 && star != lowered.size() - 1)) {
    return Error{"domain \"" + std::string(domain) +
                 "\": a wildcard must be the first or the last character"};
  }
  if (star == 0) {
    std::string suffix = lowered.substr(1);
    Map& tier = tierFor(suffixes_, suffix.size());
    return insert(tier, std::move(suffix), index, domain);
  }
  std::string prefix = lowered.substr(0, star);
  Map& tier = tierFor(prefixes_, prefix.size());
  return insert(tier, std::move(prefix), index, domain);
}

void HostTable::finish() {
  auto longer = [](const Tier& a, const Tier& b) { return a.length > b.length; };
  std::sort(suffixes_.begin(), suffixes_.end(), longer);
  std::sort(prefixes_.begin(), prefixes_.end(), longer);
}

int HostTable::find(std::string_view host) const {
  host = hostWithoutPort(host);
  // DNS names are at most 253 characters; longer Hosts take the slow path.
  std::array<char, 256> buffer;
  if (host.size() > buffer.size()) return findLowered(asciiLowered(host));
  for (size_t i = 0; i < host.size(); ++i) buffer[i] = asciiLower(host[i]);
  return findLowered(std::string_view(buffer.data(), host.size()));
}

int HostTable::findLowered(std::string_view host) const {
  if (auto it = exact_.find(host); it != exact_.end()) return it->second;
  // A wildcard stands for at least one character, so the fixed part must be
  // strictly shorter than the host.
  for (const Tier& tier : suffixes_) {
    if (tier.length >= host.size()) continue;
    if (auto it = tier.domains.find(host.substr(host.size() - tier.length)); it != tier.domains.end()) {
      return it->second;
    }
  }
  for (const Tier& tier : prefixes_) {
    if (tier.length >= host.size()) continue;
    if (auto it = tier.domains.find(host.substr(0, tier.length)); it != tier.domains.end()) return it->second;
  }
  return any_;
}

}  // namespace pier::router
