#include "src/vip/ndp.h"

#include <algorithm>

#include "src/vip/bytes.h"

namespace pier::vip {
namespace {

constexpr size_t kFixedSize = 24;
constexpr uint8_t kOptionSourceLinkLayer = 1;
constexpr uint8_t kOptionTargetLinkLayer = 2;
constexpr uint8_t kFlagRouter = 0x80;
constexpr uint8_t kFlagSolicited = 0x40;
constexpr uint8_t kFlagOverride = 0x20;

struct Common {
  Ipv6Address target{};
  std::optional<MacAddress> link_layer;  // the option named by `link_layer_option`
};

// The checks shared by solicitations and advertisements: RFC 4861 sections
// 7.1.1 and 7.1.2, minus the checksum (verified by the kernel). Unknown
// options are skipped, as the RFC requires.
ParseResult<Common, NdpReject> parseCommon(std::span<const uint8_t> m, const Ipv6Header& h, uint8_t type,
                                           uint8_t link_layer_option) {
  if (h.hop_limit != kNdpHopLimit) return NdpReject::kHopLimit;
  if (m.size() < kFixedSize) return NdpReject::kTruncated;
  if (m[0] != type) return NdpReject::kWrongType;
  if (m[1] != 0) return NdpReject::kCode;
  if (isIpv6Multicast(h.source)) return NdpReject::kSourceMulticast;

  Common c;
  std::copy_n(m.begin() + 8, c.target.size(), c.target.begin());
  if (isIpv6Multicast(c.target) || isIpv6Unspecified(c.target)) return NdpReject::kTargetInvalid;

  size_t at = kFixedSize;
  while (at < m.size()) {
    if (m.size() - at < 2) return NdpReject::kOptionTruncated;
    const size_t length = static_cast<size_t>(m[at + 1]) * 8;
    if (length == 0) return NdpReject::kOptionZeroLength;
    if (length > m.size() - at) return NdpReject::kOptionTruncated;
    if (m[at] == link_layer_option) {
      if (length != 8) return NdpReject::kLinkLayerOptionLength;
      if (c.link_layer) return NdpReject::kDuplicateLinkLayer;
      MacAddress mac{};
      std::copy_n(m.begin() + static_cast<ptrdiff_t>(at + 2), mac.size(), mac.begin());
      c.link_layer = mac;
    }
    at += length;
  }
  return c;
}

// The folded ones' complement sum (RFC 1071) of the pseudo-header and the
// message, its checksum field (bytes 2-3) included or read as zero. Odd
// lengths are padded with a zero byte.
uint16_t pseudoSum(const Ipv6Address& src, const Ipv6Address& dst, std::span<const uint8_t> m,
                   bool include_checksum_field) {
  uint64_t sum = 0;
  for (size_t i = 0; i < src.size(); i += 2) {
    sum += static_cast<uint32_t>(src[i] << 8 | src[i + 1]) + static_cast<uint32_t>(dst[i] << 8 | dst[i + 1]);
  }
  const uint64_t length = m.size();
  sum += (length >> 16) & 0xffff;
  sum += length & 0xffff;
  sum += 58;  // next header: ICMPv6
  for (size_t i = 0; i < m.size(); i += 2) {
    if (i == 2 && !include_checksum_field) continue;
    const uint32_t low = i + 1 < m.size() ? m[i + 1] : 0;
    sum += static_cast<uint32_t>(m[i]) << 8 | low;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace

std::string_view describe(NdpReject reason) {
  switch (reason) {
    case NdpReject::kHopLimit:
      return "hop limit is not 255";
    case NdpReject::kTruncated:
      return "message shorter than 24 bytes";
    case NdpReject::kWrongType:
      return "unexpected ICMPv6 type";
    case NdpReject::kCode:
      return "ICMPv6 code is not 0";
    case NdpReject::kSourceMulticast:
      return "source address is multicast";
    case NdpReject::kTargetInvalid:
      return "target address is multicast or unspecified";
    case NdpReject::kOptionZeroLength:
      return "option with length 0";
    case NdpReject::kOptionTruncated:
      return "option runs past the end of the message";
    case NdpReject::kLinkLayerOptionLength:
      return "link-layer address option is not 8 bytes";
    case NdpReject::kDuplicateLinkLayer:
      return "more than one link-layer address option";
    case NdpReject::kDadDestination:
      return "duplicate address detection not sent to a solicited-node group";
    case NdpReject::kDadWithSourceLinkLayer:
      return "duplicate address detection carries a source link-layer address";
    case NdpReject::kSolicitedToMulticast:
      return "solicited advertisement sent to a multicast address";
  }
  return "unknown NDP rejection";
}

ParseResult<NeighborSolicitation, NdpReject> parseNeighborSolicitation(std::span<const uint8_t> icmp,
                                                                       const Ipv6Header& header) {
  auto common = parseCommon(icmp, header, kIcmpv6NeighborSolicitation, kOptionSourceLinkLayer);
  if (!common) return common.reason();
  NeighborSolicitation ns;
  ns.source = header.source;
  ns.destination = header.destination;
  ns.target = common->target;
  ns.source_mac = common->link_layer;
  if (ns.isDad()) {
    if (!isSolicitedNodeMulticast(ns.destination)) return NdpReject::kDadDestination;
    if (ns.source_mac) return NdpReject::kDadWithSourceLinkLayer;
  }
  return ns;
}

ParseResult<NeighborAdvertisement, NdpReject> parseNeighborAdvertisement(std::span<const uint8_t> icmp,
                                                                         const Ipv6Header& header) {
  auto common = parseCommon(icmp, header, kIcmpv6NeighborAdvertisement, kOptionTargetLinkLayer);
  if (!common) return common.reason();
  NeighborAdvertisement na;
  na.source = header.source;
  na.destination = header.destination;
  na.target = common->target;
  na.target_mac = common->link_layer;
  const uint8_t flags = icmp[4];
  na.router = (flags & kFlagRouter) != 0;
  na.solicited = (flags & kFlagSolicited) != 0;
  na.override_flag = (flags & kFlagOverride) != 0;
  if (na.solicited && isIpv6Multicast(na.destination)) return NdpReject::kSolicitedToMulticast;
  return na;
}

NdpMessage buildNeighborAdvertisement(const Ipv6Address& target, const MacAddress& our_mac, NaFlags flags) {
  NdpMessage m{};
  m[0] = kIcmpv6NeighborAdvertisement;
  m[4] = static_cast<uint8_t>((flags.router ? kFlagRouter : 0) | (flags.solicited ? kFlagSolicited : 0) |
                              (flags.override_flag ? kFlagOverride : 0));
  std::copy(target.begin(), target.end(), m.begin() + 8);
  m[24] = kOptionTargetLinkLayer;
  m[25] = 1;
  std::copy(our_mac.begin(), our_mac.end(), m.begin() + 26);
  return m;
}

NdpAnswer answerSolicitation(const NeighborSolicitation& ns, const MacAddress& our_mac) {
  const bool dad = ns.isDad();
  NaFlags flags;
  flags.solicited = !dad;
  flags.override_flag = true;
  return {dad ? kAllNodesMulticast : ns.source, buildNeighborAdvertisement(ns.target, our_mac, flags)};
}

NdpAnswer buildUnsolicitedAdvertisement(const Ipv6Address& target, const MacAddress& our_mac) {
  NaFlags flags;
  flags.solicited = false;
  flags.override_flag = true;
  return {kAllNodesMulticast, buildNeighborAdvertisement(target, our_mac, flags)};
}

uint16_t icmpv6Checksum(const Ipv6Address& source, const Ipv6Address& destination,
                        std::span<const uint8_t> message) {
  return static_cast<uint16_t>(~pseudoSum(source, destination, message, false));
}

void fillIcmpv6Checksum(const Ipv6Address& source, const Ipv6Address& destination,
                        std::span<uint8_t> message) {
  if (message.size() < 4) return;
  wire::writeU16(message, 2, icmpv6Checksum(source, destination, message));
}

bool icmpv6ChecksumValid(const Ipv6Address& source, const Ipv6Address& destination,
                         std::span<const uint8_t> message) {
  if (message.size() < 4) return false;
  return pseudoSum(source, destination, message, true) == 0xffff;
}

Ipv6Address solicitedNodeMulticast(const Ipv6Address& address) {
  Ipv6Address group{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  std::copy(address.begin() + 13, address.end(), group.begin() + 13);
  return group;
}

bool isSolicitedNodeMulticast(const Ipv6Address& address) {
  static constexpr Ipv6Address kPrefix{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  return std::equal(kPrefix.begin(), kPrefix.begin() + 13, address.begin());
}

MacAddress ipv6MulticastMac(const Ipv6Address& group) {
  return {0x33, 0x33, group[12], group[13], group[14], group[15]};
}

}  // namespace pier::vip
