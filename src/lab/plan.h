#pragma once
// The lab's naming and addressing plan: which network namespaces exist, which
// addresses and MACs their interfaces get, and where the lab keeps its files.
// Pure data and arithmetic, so it is unit-tested and every other lab part
// (topology, configs, demo, down) derives names from here, never by hand.
//
//   client (pier-lab-client)  eth0 10.77.0.1/24  fd77::1/64   02:77:00:00:00:01
//   switch (pier-lab-switch)  bridge br0, one port per host ("client", "node1", ...)
//   node N (pier-lab-nodeN)   eth0 10.77.0.1N/24 fd77::1N/64  02:77:00:00:00:1N
//                             cni0 10.78.N.1/24 (a CNI-style bridge for its pods)
//   pod M of node N (pier-lab-nodeN-podM)  eth0 10.78.N.(M+1)/24, default via 10.78.N.1
//   virtual IPs               10.77.0.100, fd77::100
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pier::lab {

inline constexpr std::string_view kNetnsPrefix = "pier-lab-";
inline constexpr std::string_view kRunDir = "/run/pier-lab";
inline constexpr std::string_view kVip4 = "10.77.0.100";
inline constexpr std::string_view kVip6 = "fd77::100";
inline constexpr int kMinNodes = 1;
inline constexpr int kMaxNodes = 9;  // the node number is one digit of its address and MAC
inline constexpr int kPodsPerNode = 2;
inline constexpr int kServicePort = 80;  // on the VIP and on each node's own address
inline constexpr int kPodPort = 8080;
inline constexpr int kAdminPort = 9901;  // every pier of the lab, each in its own namespace

// What `pier lab up` builds; also saved in the run directory so that later
// commands (demo, start-node) act on the same lab.
struct LabOptions {
  int nodes = 3;
  std::string binary;  // the pier binary every lab process runs (absolute path)
  std::chrono::milliseconds heartbeat{100};
  int dead_after_missed = 3;
  // false: nodes run pier without virtual_ips and listen on 0.0.0.0:80, so
  // that something else (keepalived, in the benchmark) places the VIP.
  bool vip = true;
};

// Empty when valid, else what is wrong.
std::string validate(const LabOptions& options);

// Namespace names.
std::string clientNs();
std::string switchNs();
std::string nodeNs(int node);
std::string podNs(int node, int pod);
bool isLabNs(std::string_view name);  // starts with the prefix

// Addresses without prefix length ("10.77.0.12"), and with it ("10.77.0.12/24").
std::string clientIpv4();
std::string clientIpv6();
std::string nodeIpv4(int node);
std::string nodeIpv6(int node);
std::string cniGateway(int node);  // the node's address on its pod bridge
std::string podIpv4(int node, int pod);
inline constexpr std::string_view kLanPrefix4 = "/24";
inline constexpr std::string_view kLanPrefix6 = "/64";
inline constexpr std::string_view kPodPrefix4 = "/24";

// Locally administered MACs, fixed so a neighbour entry names its node.
std::string clientMac();
std::string nodeMac(int node);
// The node whose eth0 has this MAC (any case, ':' or '-'); nullopt if none.
std::optional<int> nodeOfMac(std::string_view mac);

// The switch's port (the veth end in the switch namespace) for each host.
std::string clientPort();
std::string nodePort(int node);

// Labels the pods answer with ("node2-pod1") and the node a label names.
std::string podLabel(int node, int pod);
std::optional<int> nodeOfLabel(std::string_view label);

// Files, all under kRunDir.
std::string runPath(std::string_view file);
std::string keyPath();
std::string statePath();
std::string nodeName(int node);          // "node2": also the stem of its .yaml, .log and .pid
std::string podName(int node, int pod);  // "node2-pod1"

// Every process the lab runs, with its namespace: pods first, then nodes.
struct LabProcess {
  std::string name;  // stem of its files
  std::string ns;
  bool node = false;
  int node_index = 0;
};
std::vector<LabProcess> labProcesses(const LabOptions& options);

}  // namespace pier::lab
