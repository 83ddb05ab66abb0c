#include "src/vip/arp.h"

#include <algorithm>

#include "src/vip/bytes.h"

namespace pier::vip {
namespace {

constexpr uint16_t kHardwareEthernet = 1;
constexpr uint16_t kProtocolIpv4 = 0x0800;

template <size_t N>
std::array<uint8_t, N> take(std::span<const uint8_t> frame, size_t at) {
  std::array<uint8_t, N> out{};
  std::copy_n(frame.begin() + static_cast<ptrdiff_t>(at), N, out.begin());
  return out;
}

template <size_t N>
void put(ArpFrame& frame, size_t at, const std::array<uint8_t, N>& value) {
  std::copy(value.begin(), value.end(), frame.begin() + static_cast<ptrdiff_t>(at));
}

ArpFrame frame(const MacAddress& eth_dst, const MacAddress& eth_src, ArpOp op, const MacAddress& sha,
               const Ipv4Address& spa, const MacAddress& tha, const Ipv4Address& tpa) {
  ArpFrame f{};
  put(f, 0, eth_dst);
  put(f, 6, eth_src);
  wire::writeU16(f, 12, kEtherTypeArp);
  wire::writeU16(f, 14, kHardwareEthernet);
  wire::writeU16(f, 16, kProtocolIpv4);
  f[18] = 6;
  f[19] = 4;
  wire::writeU16(f, 20, static_cast<uint16_t>(op));
  put(f, 22, sha);
  put(f, 28, spa);
  put(f, 32, tha);
  put(f, 38, tpa);
  return f;
}

bool unusableIp(const Ipv4Address& ip) { return isIpv4Multicast(ip) || isIpv4LimitedBroadcast(ip); }

ArpKind classify(ArpOp op, const Ipv4Address& spa, const Ipv4Address& tpa) {
  if (op == ArpOp::kRequest) {
    if (spa == Ipv4Address{}) return ArpKind::kProbe;
    return spa == tpa ? ArpKind::kGratuitousRequest : ArpKind::kRequest;
  }
  return spa == tpa ? ArpKind::kGratuitousReply : ArpKind::kReply;
}

}  // namespace

std::string_view describe(ArpReject reason) {
  switch (reason) {
    case ArpReject::kTruncated:
      return "frame shorter than an Ethernet ARP packet (42 bytes)";
    case ArpReject::kNotEthernetII:
      return "not an Ethernet II frame (802.3 length field)";
    case ArpReject::kVlanTagged:
      return "VLAN-tagged frame";
    case ArpReject::kNotArp:
      return "ethertype is not ARP";
    case ArpReject::kHardwareType:
      return "ARP hardware type is not Ethernet";
    case ArpReject::kProtocolType:
      return "ARP protocol type is not IPv4";
    case ArpReject::kAddressLengths:
      return "ARP address lengths are not 6 and 4";
    case ArpReject::kOpcode:
      return "ARP operation is neither request nor reply";
    case ArpReject::kSourceMacInvalid:
      return "Ethernet source is a group address";
    case ArpReject::kSenderMacInvalid:
      return "ARP sender hardware address is zero or a group address";
    case ArpReject::kSenderIpInvalid:
      return "ARP sender IP is multicast, broadcast, or unspecified in a reply";
    case ArpReject::kTargetIpInvalid:
      return "ARP target IP is multicast, broadcast, or unspecified in a request";
  }
  return "unknown ARP rejection";
}

ParseResult<ArpPacket, ArpReject> parseArpFrame(std::span<const uint8_t> f) {
  if (f.size() < kArpFrameSize) return ArpReject::kTruncated;
  const uint16_t ethertype = wire::readU16(f, 12);
  if (ethertype < 0x0600) return ArpReject::kNotEthernetII;
  if (ethertype == 0x8100 || ethertype == 0x88a8) return ArpReject::kVlanTagged;
  if (ethertype != kEtherTypeArp) return ArpReject::kNotArp;
  if (wire::readU16(f, 14) != kHardwareEthernet) return ArpReject::kHardwareType;
  if (wire::readU16(f, 16) != kProtocolIpv4) return ArpReject::kProtocolType;
  if (f[18] != 6 || f[19] != 4) return ArpReject::kAddressLengths;
  const uint16_t op = wire::readU16(f, 20);
  if (op != static_cast<uint16_t>(ArpOp::kRequest) && op != static_cast<uint16_t>(ArpOp::kReply)) {
    return ArpReject::kOpcode;
  }

  ArpPacket p;
  p.eth_destination = take<6>(f, 0);
  p.eth_source = take<6>(f, 6);
  p.op = static_cast<ArpOp>(op);
  p.sender_mac = take<6>(f, 22);
  p.sender_ip = take<4>(f, 28);
  p.target_mac = take<6>(f, 32);
  p.target_ip = take<4>(f, 38);

  // An answer goes to the sender's addresses: a group address there would
  // turn our unicast reply into a broadcast someone else asked for.
  if (isGroupMac(p.eth_source)) return ArpReject::kSourceMacInvalid;
  if (isGroupMac(p.sender_mac) || p.sender_mac == kZeroMac) return ArpReject::kSenderMacInvalid;
  const bool request = p.op == ArpOp::kRequest;
  if (unusableIp(p.sender_ip) || (!request && p.sender_ip == Ipv4Address{})) {
    return ArpReject::kSenderIpInvalid;
  }
  // A reply to a probe carries TPA 0.0.0.0 (the prober has no address yet).
  if (unusableIp(p.target_ip) || (request && p.target_ip == Ipv4Address{})) {
    return ArpReject::kTargetIpInvalid;
  }
  p.kind = classify(p.op, p.sender_ip, p.target_ip);
  return p;
}

bool addressedTo(const ArpPacket& packet, const MacAddress& our_mac) {
  return packet.eth_destination == kBroadcastMac || packet.eth_destination == our_mac;
}

std::optional<ArpFrame> buildArpReply(const ArpPacket& request, const MacAddress& our_mac) {
  if (!request.wantsAnswer()) return std::nullopt;
  return frame(request.sender_mac, our_mac, ArpOp::kReply, our_mac, request.target_ip, request.sender_mac,
               request.sender_ip);
}

ArpFrame buildGratuitousArp(const MacAddress& our_mac, const Ipv4Address& ip, GratuitousForm form) {
  if (form == GratuitousForm::kRequest) {
    return frame(kBroadcastMac, our_mac, ArpOp::kRequest, our_mac, ip, kZeroMac, ip);
  }
  return frame(kBroadcastMac, our_mac, ArpOp::kReply, our_mac, ip, our_mac, ip);
}

}  // namespace pier::vip
