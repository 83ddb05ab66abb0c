#pragma once
// Who owns a virtual IP: rendezvous (highest random weight) hashing over the
// live nodes eligible for it. Every node computes the same answer from the
// same membership, with no coordination and no API calls, and the answer
// moves as little as possible: adding a node moves only the IPs it now wins,
// removing one moves only the IPs it owned. Election is per IP, so services
// sharing an IP can never be announced from two nodes.
//
// weight(node, ip) = the first 8 bytes, big-endian, of
//   SHA-256(node name || 0x00 || family (4 or 6) || the 4 or 16 address bytes)
// The highest weight wins; equal weights (a 64-bit collision) go to the
// lexicographically smallest name, so the order of the candidates never
// matters.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "src/vip/address.h"

namespace pier::vip {

uint64_t rendezvousWeight(std::string_view node, const IpAddress& ip);

struct WeightedNode {
  std::string_view node;
  uint64_t weight = 0;
};
// Index of the winner among already weighted nodes (the tie rule lives here);
// nullopt when there are none.
std::optional<size_t> pickHighest(std::span<const WeightedNode> nodes);

// Index in `nodes` (live nodes eligible for `ip`) of the owner of `ip`;
// nullopt when there are none. Duplicated names are harmless.
std::optional<size_t> electOwner(const IpAddress& ip, std::span<const std::string> nodes);

}  // namespace pier::vip
