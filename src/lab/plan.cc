#include "src/lab/plan.h"

#include <cctype>

#include <fmt/format.h>

namespace pier::lab {

std::string validate(const LabOptions& options) {
  if (options.nodes < kMinNodes || options.nodes > kMaxNodes) {
    return fmt::format("--nodes must be {}..{} (got {})", kMinNodes, kMaxNodes, options.nodes);
  }
  if (options.binary.empty() || options.binary.front() != '/') {
    return "the pier binary must be an absolute path";
  }
  if (options.heartbeat.count() < 1 || options.heartbeat.count() > 60'000) {
    return "--heartbeat must be 1ms..60s";
  }
  if (options.dead_after_missed < 1 || options.dead_after_missed > 100) {
    return "--dead-after must be 1..100";
  }
  return {};
}

std::string clientNs() { return fmt::format("{}client", kNetnsPrefix); }
std::string switchNs() { return fmt::format("{}switch", kNetnsPrefix); }
std::string nodeNs(int node) { return fmt::format("{}{}", kNetnsPrefix, nodeName(node)); }
std::string podNs(int node, int pod) { return fmt::format("{}{}", kNetnsPrefix, podName(node, pod)); }
bool isLabNs(std::string_view name) {
  return name.size() > kNetnsPrefix.size() && name.substr(0, kNetnsPrefix.size()) == kNetnsPrefix;
}

std::string clientIpv4() { return "10.77.0.1"; }
std::string clientIpv6() { return "fd77::1"; }
std::string nodeIpv4(int node) { return fmt::format("10.77.0.1{}", node); }
std::string nodeIpv6(int node) { return fmt::format("fd77::1{}", node); }
std::string cniGateway(int node) { return fmt::format("10.78.{}.1", node); }
std::string podIpv4(int node, int pod) { return fmt::format("10.78.{}.{}", node, pod + 1); }

std::string clientMac() { return "02:77:00:00:00:01"; }
std::string nodeMac(int node) { return fmt::format("02:77:00:00:00:1{}", node); }

std::optional<int> nodeOfMac(std::string_view mac) {
  if (mac.size() != 17) return std::nullopt;
  std::string norm;
  for (char c : mac) norm += c == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int n = kMinNodes; n <= kMaxNodes; ++n) {
    if (norm == nodeMac(n)) return n;
  }
  return std::nullopt;
}

std::string clientPort() { return "client"; }
std::string nodePort(int node) { return nodeName(node); }

std::string podLabel(int node, int pod) { return podName(node, pod); }

std::optional<int> nodeOfLabel(std::string_view label) {
  // "node<digit>-pod<digit>", possibly after "pod " and before a newline.
  auto at = label.find("node");
  if (at == std::string_view::npos || at + 4 >= label.size()) return std::nullopt;
  char d = label[at + 4];
  if (d < '0' + kMinNodes || d > '0' + kMaxNodes) return std::nullopt;
  if (at + 5 < label.size() && std::isdigit(static_cast<unsigned char>(label[at + 5]))) return std::nullopt;
  return d - '0';
}

std::string runPath(std::string_view file) { return fmt::format("{}/{}", kRunDir, file); }
std::string keyPath() { return runPath("cluster.key"); }
std::string statePath() { return runPath("lab.state"); }
std::string nodeName(int node) { return fmt::format("node{}", node); }
std::string podName(int node, int pod) { return fmt::format("node{}-pod{}", node, pod); }

std::vector<LabProcess> labProcesses(const LabOptions& options) {
  std::vector<LabProcess> out;
  for (int n = 1; n <= options.nodes; ++n) {
    for (int p = 1; p <= kPodsPerNode; ++p) out.push_back({podName(n, p), podNs(n, p), false, n});
  }
  for (int n = 1; n <= options.nodes; ++n) out.push_back({nodeName(n), nodeNs(n), true, n});
  return out;
}

}  // namespace pier::lab
