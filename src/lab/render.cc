#include "src/lab/render.h"

#include <charconv>
#include <map>

#include <fmt/format.h>

namespace pier::lab {
namespace {

std::string podEndpoints(int node) {
  std::string out;
  for (int p = 1; p <= kPodsPerNode; ++p) {
    if (p > 1) out += ", ";
    out += fmt::format("\"{}:{}\"", podIpv4(node, p), kPodPort);
  }
  return out;
}

std::string httpListener(std::string_view name, std::string_view address) {
  return fmt::format(
      "  - name: {}\n"
      "    address: \"{}\"\n"
      "    protocol: http\n"
      "    routes:\n"
      "      - match: {{ prefix: / }}\n"
      "        cluster: pods\n",
      name, address);
}

std::optional<int> toInt(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string formatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

std::optional<std::chrono::microseconds> parseDuration(std::string_view text) {
  double scale = 0;
  if (text.ends_with("us")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("ms")) {
    scale = 1e3;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    scale = 1e6;
    text.remove_suffix(1);
  } else {
    return std::nullopt;
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(v > 0) ||
      v * scale > 3.6e9) {
    return std::nullopt;
  }
  auto us = static_cast<int64_t>(v * scale + 0.5);
  if (us <= 0) return std::nullopt;
  return std::chrono::microseconds(us);
}

std::string renderNodeConfig(const LabOptions& options, int node) {
  std::string out = fmt::format(
      "# {} of pier's lab (written by `pier lab up`; `pier lab down` removes it).\n"
      "workers: 1\n"
      "drain_timeout: 2s\n"
      "admin: {{ address: \"127.0.0.1:{}\" }}\n",
      nodeName(node), kAdminPort);
  if (options.vip) {
    out += fmt::format(
        "virtual_ips:\n"
        "  node_name: {}\n"
        "  key_file: {}\n"
        "  interfaces: [eth0]\n"
        "  heartbeat: {{ interval: {}, dead_after_missed: {} }}\n"
        "  pools:\n"
        "    - {{ name: lab, addresses: [\"{}/32\", \"{}/128\"] }}\n"
        "  services:\n"
        "    - {{ name: web, address: \"{}\", ports: [ {{ port: {}, protocol: tcp, listener: web }} ] }}\n"
        "    - {{ name: web6, address: \"{}\", ports: [ {{ port: {}, protocol: tcp, listener: web6 }} ] }}\n",
        nodeName(node), keyPath(), formatDuration(options.heartbeat), options.dead_after_missed, kVip4, kVip6,
        kVip4, kServicePort, kVip6, kServicePort);
  }
  out += "listeners:\n";
  if (options.vip) {
    out += httpListener("web", fmt::format("{}:{}", kVip4, kServicePort));
    out += httpListener("web6", fmt::format("[{}]:{}", kVip6, kServicePort));
    // The node's own address too, so a node can be reached (and its pods
    // checked) whoever owns the VIP.
    out += httpListener("node", fmt::format("{}:{}", nodeIpv4(node), kServicePort));
  } else {
    out += httpListener("web", fmt::format("0.0.0.0:{}", kServicePort));
  }
  out += fmt::format(
      "clusters:\n"
      "  - name: pods\n"
      "    endpoints: [{}]\n"
      "    connect_timeout: 200ms\n"
      "    health_check: {{ type: http, path: /, interval: 200ms, timeout: 100ms, "
      "healthy_threshold: 1, unhealthy_threshold: 2 }}\n",
      podEndpoints(node));
  return out;
}

std::string renderPodConfig(int node, int pod) {
  return fmt::format(
      "# {} of pier's lab: a pod-like backend (written by `pier lab up`).\n"
      "workers: 1\n"
      "drain_timeout: 1s\n"
      "admin: {{ address: \"127.0.0.1:{}\" }}\n"
      "listeners:\n"
      "  - name: pod\n"
      "    address: \"0.0.0.0:{}\"\n"
      "    protocol: http\n"
      "    routes:\n"
      "      - match: {{ prefix: / }}\n"
      "        direct_response: {{ status: 200, body: \"pod {}\\n\" }}\n",
      podName(node, pod), kAdminPort, kPodPort, podLabel(node, pod));
}

std::string renderState(const LabOptions& options) {
  return fmt::format("nodes={}\nbinary={}\nheartbeat_ms={}\ndead_after_missed={}\nvip={}\n", options.nodes,
                     options.binary, options.heartbeat.count(), options.dead_after_missed,
                     options.vip ? 1 : 0);
}

Result<LabOptions> parseState(std::string_view text) {
  std::map<std::string, std::string, std::less<>> kv;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return Error{fmt::format("lab state: bad line '{}'", line)};
    kv.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  static constexpr std::string_view kKeys[] = {"nodes", "binary", "heartbeat_ms", "dead_after_missed", "vip"};
  for (auto key : kKeys) {
    if (!kv.contains(key)) return Error{fmt::format("lab state: missing {}", key)};
  }
  if (kv.size() != std::size(kKeys)) return Error{"lab state: unknown keys"};
  LabOptions o;
  auto nodes = toInt(kv["nodes"]);
  auto hb = toInt(kv["heartbeat_ms"]);
  auto dead = toInt(kv["dead_after_missed"]);
  auto vip = toInt(kv["vip"]);
  if (!nodes || !hb || !dead || !vip || (*vip != 0 && *vip != 1)) return Error{"lab state: bad number"};
  o.nodes = *nodes;
  o.binary = kv["binary"];
  o.heartbeat = std::chrono::milliseconds(*hb);
  o.dead_after_missed = *dead;
  o.vip = *vip == 1;
  if (auto err = validate(o); !err.empty()) return Error{"lab state: " + err};
  return o;
}

std::string hexKey(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{:02x}", b);
  out += '\n';
  return out;
}

}  // namespace pier::lab
