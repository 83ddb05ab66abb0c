#pragma once
// What pier changes on the host so that the kernel accepts traffic for the
// virtual IPs without ever answering ARP for them itself (the announcer is
// the only responder, so exactly one node answers):
//  - a local route per pool CIDR ("local <cidr> dev lo"): listeners can bind
//    the addresses and the kernel delivers their traffic locally;
//  - net.ipv4.conf.<interface>.arp_ignore = 1: the kernel answers ARP only
//    for addresses configured on the receiving interface, which the virtual
//    IPs never are (with 0 the local route would make it answer for them);
//  - net.ipv4.conf.<interface>.arp_announce = 2: the kernel's own ARP
//    requests never carry a virtual IP as their source.
// Everything is undone by restore() (a crash leaves it; it is harmless and
// the next start takes it over).
#include <map>
#include <string>
#include <vector>

#include "src/announce/host.h"
#include "src/common/result.h"

namespace pier::announce {

class HostSetup {
 public:
  explicit HostSetup(Host& host) : host_(host) {}
  HostSetup(const HostSetup&) = delete;
  HostSetup& operator=(const HostSetup&) = delete;

  // Makes the host match: routes for exactly `cidrs`, sysctls on exactly
  // `interfaces` (what is no longer wanted is undone). Stops at the first
  // failure; restore() still undoes everything done so far.
  Status apply(const std::vector<std::string>& cidrs, const std::vector<std::string>& interfaces);
  void restore();

  const std::vector<std::string>& routes() const { return routes_; }

 private:
  static std::vector<std::string> sysctlPaths(const std::string& interface);
  Status setInterface(const std::string& interface);
  void restoreInterface(const std::string& interface);

  Host& host_;
  std::vector<std::string> routes_;           // added by us, in order
  std::vector<std::string> interfaces_;       // whose sysctls we set
  std::map<std::string, std::string> saved_;  // sysctl path -> its value before us
};

}  // namespace pier::announce
