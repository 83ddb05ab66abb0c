#pragma once
// ARP for IPv4 over Ethernet (RFC 826): parsing the frames an AF_PACKET
// socket delivers, and building the replies and gratuitous announcements
// the announcer sends. Only Ethernet II carrying IPv4 ARP is accepted;
// everything else is dropped with a typed reason so the responder can count
// it.
//
// Frame layout (42 bytes; shorter frames are rejected, trailing padding up
// to the 60-byte Ethernet minimum is ignored):
//    0  6  Ethernet destination      22  6  sender hardware address (SHA)
//    6  6  Ethernet source           28  4  sender protocol address (SPA)
//   12  2  ethertype 0x0806          32  6  target hardware address (THA)
//   14  2  hardware type 1           38  4  target protocol address (TPA)
//   16  2  protocol type 0x0800
//   18  1  hardware length 6
//   19  1  protocol length 4
//   20  2  operation (1 request, 2 reply)
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "src/vip/address.h"
#include "src/vip/parse_result.h"

namespace pier::vip {

inline constexpr size_t kArpFrameSize = 42;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
using ArpFrame = std::array<uint8_t, kArpFrameSize>;

enum class ArpOp : uint16_t { kRequest = 1, kReply = 2 };

enum class ArpKind : uint8_t {
  kRequest,            // who has TPA? tell SPA
  kProbe,              // request with SPA 0.0.0.0: duplicate address detection (RFC 5227)
  kGratuitousRequest,  // request with SPA == TPA: an announcement
  kReply,
  kGratuitousReply,  // reply with SPA == TPA: an announcement
};

enum class ArpReject : uint8_t {
  kTruncated,         // shorter than 42 bytes
  kNotEthernetII,     // ethertype field is an 802.3 length
  kVlanTagged,        // 802.1Q/802.1ad tag still in the frame
  kNotArp,            // another ethertype
  kHardwareType,      // not Ethernet (1)
  kProtocolType,      // not IPv4 (0x0800)
  kAddressLengths,    // not 6 and 4
  kOpcode,            // neither request nor reply (RARP, InARP, ...)
  kSourceMacInvalid,  // Ethernet source is a group address
  kSenderMacInvalid,  // SHA is zero or a group address
  kSenderIpInvalid,   // SPA multicast/broadcast, or 0.0.0.0 in a reply
  kTargetIpInvalid,   // TPA multicast/broadcast, or 0.0.0.0 in a request
};
std::string_view describe(ArpReject reason);

struct ArpPacket {
  MacAddress eth_destination{};
  MacAddress eth_source{};
  ArpOp op = ArpOp::kRequest;
  ArpKind kind = ArpKind::kRequest;
  MacAddress sender_mac{};
  Ipv4Address sender_ip{};
  MacAddress target_mac{};
  Ipv4Address target_ip{};

  bool isRequest() const { return op == ArpOp::kRequest; }
  // Requests a responder may answer (not announcements: a gratuitous request
  // for an IP we own is another node claiming it, i.e. a conflict).
  bool wantsAnswer() const { return kind == ArpKind::kRequest || kind == ArpKind::kProbe; }
};

ParseResult<ArpPacket, ArpReject> parseArpFrame(std::span<const uint8_t> frame);

// Whether a frame was sent to us at L2: broadcast or our own MAC. Unicast
// requests to someone else reach us only in promiscuous mode and are not ours
// to answer.
bool addressedTo(const ArpPacket& packet, const MacAddress& our_mac);

// The reply to `request` claiming its target IP for `our_mac`: unicast to the
// requester (Ethernet destination = THA = its SHA, TPA = its SPA). The caller
// has already decided that it owns request.target_ip on this interface.
// nullopt when the packet is not one to answer (see wantsAnswer()).
std::optional<ArpFrame> buildArpReply(const ArpPacket& request, const MacAddress& our_mac);

// Gratuitous ARP announcing `ip` at `our_mac`, Ethernet broadcast, SPA = TPA
// = ip. Request form (RFC 5227 announcement): THA zero. Reply form (RFC 5944
// section 4.6): THA = our_mac. Send both: different stacks update their caches
// from different forms.
enum class GratuitousForm : uint8_t { kRequest, kReply };
ArpFrame buildGratuitousArp(const MacAddress& our_mac, const Ipv4Address& ip, GratuitousForm form);

}  // namespace pier::vip
