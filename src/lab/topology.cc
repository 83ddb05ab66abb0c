#include "src/lab/topology.h"

#include <algorithm>
#include <initializer_list>

namespace pier::lab {
namespace {

class Builder {
 public:
  void ip(const std::string& ns, std::initializer_list<std::string> args) {
    Step s{ns, {"ip", "-n", ns}};
    s.argv.insert(s.argv.end(), args);
    steps_.push_back(std::move(s));
  }
  void addNs(const std::string& ns) { steps_.push_back({ns, {"ip", "netns", "add", ns}}); }
  void sysctl(const std::string& ns, std::initializer_list<std::string> settings) {
    Step s{ns, {"ip", "netns", "exec", ns, "sysctl", "-q", "-w"}};
    s.argv.insert(s.argv.end(), settings);
    steps_.push_back(std::move(s));
  }

  // A host on the LAN: eth0 with a fixed MAC, its peer a port of the switch.
  void lanHost(const std::string& ns, const std::string& mac, const std::string& port, const std::string& v4,
               const std::string& v6) {
    ip(ns,
       {"link", "add", "eth0", "address", mac, "type", "veth", "peer", "name", port, "netns", switchNs()});
    ip(switchNs(), {"link", "set", port, "master", "br0", "up"});
    ip(ns, {"addr", "add", v4 + std::string(kLanPrefix4), "dev", "eth0"});
    ip(ns, {"addr", "add", v6 + std::string(kLanPrefix6), "dev", "eth0", "nodad"});
    ip(ns, {"link", "set", "eth0", "up"});
  }

  std::vector<Step> take() { return std::move(steps_); }

 private:
  std::vector<Step> steps_;
};

// Each new namespace: loopback up, and no IPv6 duplicate address detection,
// so addresses (link-local ones too) are usable at once instead of ~1 s later.
void baseHost(Builder& b, const std::string& ns) {
  b.addNs(ns);
  b.sysctl(ns, {"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"});
  b.ip(ns, {"link", "set", "lo", "up"});
}

}  // namespace

std::vector<Step> setupSteps(const LabOptions& options) {
  Builder b;
  baseHost(b, switchNs());
  // A dumb switch: no STP, no multicast snooping (heartbeats and VRRP flood
  // to every port, as on an unmanaged switch).
  b.ip(switchNs(), {"link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"});
  b.ip(switchNs(), {"link", "set", "br0", "up"});

  baseHost(b, clientNs());
  b.lanHost(clientNs(), clientMac(), clientPort(), clientIpv4(), clientIpv6());

  for (int n = 1; n <= options.nodes; ++n) {
    const std::string node = nodeNs(n);
    baseHost(b, node);
    b.sysctl(node, {"net.ipv4.ip_forward=1"});
    b.lanHost(node, nodeMac(n), nodePort(n), nodeIpv4(n), nodeIpv6(n));
    // The pod network, as the CNI bridge plugin makes it: a bridge on the
    // node holding the pods' gateway address, one veth pair per pod sandbox.
    b.ip(node, {"link", "add", "cni0", "type", "bridge"});
    b.ip(node, {"addr", "add", cniGateway(n) + std::string(kPodPrefix4), "dev", "cni0"});
    b.ip(node, {"link", "set", "cni0", "up"});
    for (int p = 1; p <= kPodsPerNode; ++p) {
      const std::string pod = podNs(n, p);
      const std::string host_end = "veth" + std::to_string(p);
      baseHost(b, pod);
      b.ip(pod, {"link", "add", "eth0", "type", "veth", "peer", "name", host_end, "netns", node});
      b.ip(node, {"link", "set", host_end, "master", "cni0", "up"});
      b.ip(pod, {"addr", "add", podIpv4(n, p) + std::string(kPodPrefix4), "dev", "eth0"});
      b.ip(pod, {"link", "set", "eth0", "up"});
      b.ip(pod, {"route", "add", "default", "via", cniGateway(n)});
    }
  }
  return b.take();
}

std::vector<Step> teardownSteps(const std::vector<std::string>& existing_namespaces) {
  std::vector<std::string> names;
  for (const auto& n : existing_namespaces) {
    if (isLabNs(n)) names.push_back(n);
  }
  // Longest first: pods ("pier-lab-node1-pod1") before their nodes; the order
  // is cosmetic (deleting either end of a veth removes both) but keeps the
  // log readable.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  std::vector<Step> out;
  for (const auto& n : names) out.push_back({n, {"ip", "netns", "del", n}});
  return out;
}

}  // namespace pier::lab
