#include "src/vip/election.h"

#include <array>
#include <vector>

#include <openssl/sha.h>

namespace pier::vip {

uint64_t rendezvousWeight(std::string_view node, const IpAddress& ip) {
  // Name, separator and address: names never contain NUL, so no two
  // (name, ip) pairs hash the same bytes.
  std::vector<uint8_t> input;
  input.reserve(node.size() + 2 + 16);
  input.insert(input.end(), node.begin(), node.end());
  input.push_back(0);
  input.push_back(static_cast<uint8_t>(ip.family()));
  const auto b = ip.bytes();
  input.insert(input.end(), b.begin(), b.end());
  std::array<uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(input.data(), input.size(), digest.data());
  uint64_t w = 0;
  for (size_t i = 0; i < 8; ++i) w = w << 8 | digest[i];
  return w;
}

std::optional<size_t> pickHighest(std::span<const WeightedNode> nodes) {
  std::optional<size_t> best;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!best) {
      best = i;
      continue;
    }
    const WeightedNode& b = nodes[*best];
    if (nodes[i].weight > b.weight || (nodes[i].weight == b.weight && nodes[i].node < b.node)) best = i;
  }
  return best;
}

std::optional<size_t> electOwner(const IpAddress& ip, std::span<const std::string> nodes) {
  std::vector<WeightedNode> weighted;
  weighted.reserve(nodes.size());
  for (const std::string& n : nodes) weighted.push_back({n, rendezvousWeight(n, ip)});
  return pickHighest(weighted);
}

}  // namespace pier::vip
