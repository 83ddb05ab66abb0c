#include "src/announce/host_setup.h"

#include <algorithm>

#include <fmt/format.h>

#include "src/common/log.h"

namespace pier::announce {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::vector<std::string> HostSetup::sysctlPaths(const std::string& interface) {
  return {"net/ipv4/conf/" + interface + "/arp_ignore", "net/ipv4/conf/" + interface + "/arp_announce"};
}

Status HostSetup::apply(const std::vector<std::string>& cidrs, const std::vector<std::string>& interfaces) {
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (contains(cidrs, *it)) {
      ++it;
      continue;
    }
    if (Status s = host_.removeLocalRoute(*it); !s) {
      PIER_LOG_WARN("announcer: removing the local route for {}: {}", *it, s.error());
    }
    it = routes_.erase(it);
  }
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    if (contains(interfaces, *it)) {
      ++it;
      continue;
    }
    restoreInterface(*it);
    it = interfaces_.erase(it);
  }
  for (const std::string& cidr : cidrs) {
    if (contains(routes_, cidr)) continue;
    if (Status s = host_.addLocalRoute(cidr); !s) {
      return Error{fmt::format("adding the local route for {}: {}", cidr, s.error())};
    }
    routes_.push_back(cidr);
  }
  for (const std::string& itf : interfaces) {
    if (contains(interfaces_, itf)) continue;
    interfaces_.push_back(itf);
    if (Status s = setInterface(itf); !s) return s;
  }
  return {};
}

Status HostSetup::setInterface(const std::string& interface) {
  const auto paths = sysctlPaths(interface);
  const std::string values[] = {"1", "2"};
  for (size_t i = 0; i < paths.size(); ++i) {
    auto old = host_.setSysctl(paths[i], values[i]);
    if (!old) return Error{fmt::format("setting {} to {}: {}", paths[i], values[i], old.error())};
    saved_.emplace(paths[i], *old);  // keeps the first (pre-pier) value
  }
  return {};
}

void HostSetup::restoreInterface(const std::string& interface) {
  for (const std::string& path : sysctlPaths(interface)) {
    auto it = saved_.find(path);
    if (it == saved_.end()) continue;
    if (auto r = host_.setSysctl(path, it->second); !r) {
      PIER_LOG_WARN("announcer: restoring {}: {}", path, r.error());
    }
    saved_.erase(it);
  }
}

void HostSetup::restore() {
  for (auto it = routes_.rbegin(); it != routes_.rend(); ++it) {
    if (Status s = host_.removeLocalRoute(*it); !s) {
      PIER_LOG_WARN("announcer: removing the local route for {}: {}", *it, s.error());
    }
  }
  routes_.clear();
  for (const std::string& itf : interfaces_) restoreInterface(itf);
  interfaces_.clear();
}

}  // namespace pier::announce
