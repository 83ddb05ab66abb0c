#pragma once
// Link-layer and IP address values used by the announcer's packet codecs,
// heartbeats and election. Plain byte arrays in network order: they are
// copied straight to and from the wire and never touch a socket API.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pier::vip {

using MacAddress = std::array<uint8_t, 6>;
using Ipv4Address = std::array<uint8_t, 4>;
using Ipv6Address = std::array<uint8_t, 16>;

inline constexpr MacAddress kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr MacAddress kZeroMac{};

// The I/G bit: set for multicast and broadcast, which are never a station's
// own address.
inline bool isGroupMac(const MacAddress& mac) { return (mac[0] & 0x01) != 0; }

// "aa:bb:cc:dd:ee:ff" (lower case).
std::string formatMac(const MacAddress& mac);
// Accepts six colon- or dash-separated pairs of hex digits.
std::optional<MacAddress> parseMac(std::string_view text);

// An IPv4 or IPv6 address. Ordered (v4 before v6, then bytewise) so it can
// key maps and sort lists deterministically.
class IpAddress {
 public:
  enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(const Ipv4Address& a);
  static IpAddress v6(const Ipv6Address& a);
  // Dotted quad or RFC 4291 text; no zone index, no brackets, no prefix.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  bool isV6() const { return family_ == Family::kV6; }
  // The 4 or 16 address bytes.
  std::span<const uint8_t> bytes() const { return {bytes_.data(), isV4() ? 4u : 16u}; }
  Ipv4Address asV4() const;      // precondition: isV4()
  Ipv6Address asV6() const;      // precondition: isV6()
  std::string toString() const;  // inet_ntop form (RFC 5952 for v6)

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};  // v4 uses the first 4; the rest stay zero
};

std::string formatIpv4(const Ipv4Address& a);
std::string formatIpv6(const Ipv6Address& a);

// Address classes the codecs need to reject or recognise.
inline bool isIpv4Multicast(const Ipv4Address& a) { return (a[0] & 0xf0) == 0xe0; }
inline bool isIpv4LimitedBroadcast(const Ipv4Address& a) { return a == Ipv4Address{0xff, 0xff, 0xff, 0xff}; }
inline bool isIpv6Multicast(const Ipv6Address& a) { return a[0] == 0xff; }
inline bool isIpv6Unspecified(const Ipv6Address& a) { return a == Ipv6Address{}; }

}  // namespace pier::vip
