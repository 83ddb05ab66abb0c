#pragma once
// IPv6 Neighbor Discovery (RFC 4861) for announced addresses: validating the
// Neighbor Solicitations a raw ICMPv6 socket delivers, building the Neighbor
// Advertisements that answer them or announce a takeover, the ICMPv6
// checksum, and solicited-node multicast groups.
//
// A raw ICMPv6 socket hands over only the ICMPv6 message; the IPv6 header
// fields validation needs (hop limit, addresses) come from recvmsg() and its
// ancillary data (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO), passed in as an
// Ipv6Header. The kernel verifies the checksum of everything a raw ICMPv6
// socket receives and computes it for everything it sends, so the parsers do
// not check it and builders leave it zero; icmpv6ChecksumValid() and
// fillIcmpv6Checksum() are for paths that bypass the kernel (AF_PACKET).
//
// Message layouts (offsets into the ICMPv6 message):
//   NS: 0 type 135 | 1 code 0 | 2 checksum | 4 reserved (4) | 8 target (16) | 24 options
//   NA: 0 type 136 | 1 code 0 | 2 checksum | 4 flags R=0x80 S=0x40 O=0x20, reserved (4 with flags)
//       | 8 target (16) | 24 options
//   option: type (1) | length in units of 8 bytes (1) | data; on Ethernet the
//   source (type 1) and target (type 2) link-layer address options are
//   8 bytes: type, length 1, MAC.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "src/vip/address.h"
#include "src/vip/parse_result.h"

namespace pier::vip {

inline constexpr uint8_t kIcmpv6NeighborSolicitation = 135;
inline constexpr uint8_t kIcmpv6NeighborAdvertisement = 136;
// Neighbor Discovery packets are only valid when they cannot have crossed a
// router: senders use hop limit 255 and receivers require it.
inline constexpr int kNdpHopLimit = 255;

// ff02::1, where unsolicited advertisements and answers to DAD go.
inline constexpr Ipv6Address kAllNodesMulticast{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

// The IPv6 header fields of a received message.
struct Ipv6Header {
  Ipv6Address source{};
  Ipv6Address destination{};
  int hop_limit = -1;  // -1: the socket did not report it (a missing IPV6_RECVHOPLIMIT)
};

enum class NdpReject : uint8_t {
  kHopLimit,                // not 255 (or unknown): may have been forwarded by a router
  kTruncated,               // shorter than the 24-byte fixed part
  kWrongType,               // not the expected ICMPv6 type
  kCode,                    // ICMPv6 code is not 0
  kSourceMulticast,         // IPv6 source is a multicast address
  kTargetInvalid,           // target is multicast or unspecified
  kOptionZeroLength,        // an option with length 0 (would loop forever)
  kOptionTruncated,         // an option runs past the end of the message
  kLinkLayerOptionLength,   // a link-layer address option that is not 8 bytes (Ethernet)
  kDuplicateLinkLayer,      // more than one link-layer address option
  kDadDestination,          // unspecified source but destination is not a solicited-node group
  kDadWithSourceLinkLayer,  // unspecified source carries a source link-layer address option
  kSolicitedToMulticast,    // NA to a multicast destination with the solicited flag set
};
std::string_view describe(NdpReject reason);

struct NeighborSolicitation {
  Ipv6Address source{};
  Ipv6Address destination{};
  Ipv6Address target{};
  std::optional<MacAddress> source_mac;  // source link-layer address option

  // Duplicate address detection: the sender has no address yet.
  bool isDad() const { return isIpv6Unspecified(source); }
};

struct NeighborAdvertisement {
  Ipv6Address source{};
  Ipv6Address destination{};
  Ipv6Address target{};
  bool router = false;
  bool solicited = false;
  bool override_flag = false;
  std::optional<MacAddress> target_mac;  // target link-layer address option
};

ParseResult<NeighborSolicitation, NdpReject> parseNeighborSolicitation(std::span<const uint8_t> icmp,
                                                                       const Ipv6Header& header);
// Advertisements from other nodes reveal conflicts: someone else claiming an
// address we announce.
ParseResult<NeighborAdvertisement, NdpReject> parseNeighborAdvertisement(std::span<const uint8_t> icmp,
                                                                         const Ipv6Header& header);

// A Neighbor Advertisement with a target link-layer address option: the
// fixed 24 bytes plus one 8-byte option. The checksum field is zero.
inline constexpr size_t kNeighborAdvertisementSize = 32;
using NdpMessage = std::array<uint8_t, kNeighborAdvertisementSize>;

struct NaFlags {
  bool router = false;
  bool solicited = false;
  // Set: receivers replace a cached MAC with ours, which is what a takeover needs.
  bool override_flag = true;
};
NdpMessage buildNeighborAdvertisement(const Ipv6Address& target, const MacAddress& our_mac, NaFlags flags);

// A message and the IPv6 destination to send it to (hop limit 255).
struct NdpAnswer {
  Ipv6Address destination{};
  NdpMessage message{};
};

// The advertisement answering `ns` for its target at `our_mac`: to the
// solicitation's source with S=1 and O=1; for duplicate address detection
// (unspecified source) to all-nodes with S=0, which defends the address.
// The caller has already decided it owns ns.target on this interface.
NdpAnswer answerSolicitation(const NeighborSolicitation& ns, const MacAddress& our_mac);

// An unsolicited advertisement announcing a takeover of `target`: to
// all-nodes, S=0, O=1.
NdpAnswer buildUnsolicitedAdvertisement(const Ipv6Address& target, const MacAddress& our_mac);

// The ICMPv6 checksum of `message` over the IPv6 pseudo-header (RFC 8200
// section 8.1), computed as if the checksum field (bytes 2-3) were zero.
uint16_t icmpv6Checksum(const Ipv6Address& source, const Ipv6Address& destination,
                        std::span<const uint8_t> message);
// Writes the checksum into bytes 2-3 (nothing when shorter than 4 bytes).
void fillIcmpv6Checksum(const Ipv6Address& source, const Ipv6Address& destination,
                        std::span<uint8_t> message);
bool icmpv6ChecksumValid(const Ipv6Address& source, const Ipv6Address& destination,
                         std::span<const uint8_t> message);

// ff02::1:ffXX:XXXX, the group a node joins to hear solicitations for `address`.
Ipv6Address solicitedNodeMulticast(const Ipv6Address& address);
bool isSolicitedNodeMulticast(const Ipv6Address& address);
// 33:33 followed by the group's low 32 bits (RFC 2464 section 7).
MacAddress ipv6MulticastMac(const Ipv6Address& group);

}  // namespace pier::vip
