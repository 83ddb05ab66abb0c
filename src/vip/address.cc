#include "src/vip/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace pier::vip {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string formatMac(const MacAddress& mac) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(17);
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kDigits[mac[i] >> 4]);
    out.push_back(kDigits[mac[i] & 0x0f]);
  }
  return out;
}

std::optional<MacAddress> parseMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < mac.size(); ++i) {
    const size_t at = i * 3;
    if (i > 0 && text[at - 1] != sep) return std::nullopt;
    const int hi = hexValue(text[at]);
    const int lo = hexValue(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

IpAddress IpAddress::v4(const Ipv4Address& a) {
  IpAddress ip;
  ip.family_ = Family::kV4;
  std::memcpy(ip.bytes_.data(), a.data(), a.size());
  return ip;
}

IpAddress IpAddress::v6(const Ipv6Address& a) {
  IpAddress ip;
  ip.family_ = Family::kV6;
  ip.bytes_ = a;
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a terminated string; anything longer than the longest
  // address text is not an address.
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  Ipv4Address v4addr{};
  if (inet_pton(AF_INET, buf, v4addr.data()) == 1) return v4(v4addr);
  Ipv6Address v6addr{};
  if (inet_pton(AF_INET6, buf, v6addr.data()) == 1) return v6(v6addr);
  return std::nullopt;
}

Ipv4Address IpAddress::asV4() const {
  Ipv4Address a{};
  std::memcpy(a.data(), bytes_.data(), a.size());
  return a;
}

Ipv6Address IpAddress::asV6() const { return bytes_; }

std::string IpAddress::toString() const { return isV4() ? formatIpv4(asV4()) : formatIpv6(bytes_); }

std::string formatIpv4(const Ipv4Address& a) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a.data(), buf, sizeof(buf));
  return buf;
}

std::string formatIpv6(const Ipv6Address& a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace pier::vip
