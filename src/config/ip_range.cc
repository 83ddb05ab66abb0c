#include "src/config/ip_range.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "src/config/values.h"

namespace pier::config {
namespace {

// Ones in the low `host_bits` bits.
Uint128 lowMask(int host_bits) {
  if (host_bits <= 0) return 0;
  if (host_bits >= 128) return ~Uint128(0);
  return (Uint128(1) << host_bits) - 1;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

Result<IpSpan> parseBlock(std::string_view text, size_t slash) {
  const std::string what = "invalid CIDR block " + quote(text) + ": ";
  std::string_view host = text.substr(0, slash);
  std::string_view length = text.substr(slash + 1);
  auto first = parseIp(host);
  if (!first) return Error{what + quote(host) + " is not an IP address"};
  auto prefix = parseUnsigned(length, static_cast<uint64_t>(first->bits()));
  if (!prefix.ok()) {
    return Error{what + "the prefix length must be 0 to " + std::to_string(first->bits()) +
                 (first->v6 ? " for IPv6" : " for IPv4")};
  }
  int host_bits = first->bits() - static_cast<int>(*prefix);
  Uint128 mask = lowMask(host_bits);
  if ((first->value & mask) != 0) {
    IpBlock holder{{first->v6, first->value & ~mask}, static_cast<int>(*prefix)};
    return Error{what + "it has bits set past the prefix length; the block that holds it is " +
                 quote(formatBlock(holder))};
  }
  return IpSpan{*first, {first->v6, first->value | mask}};
}

Result<IpSpan> parseRange(std::string_view text, size_t dash) {
  const std::string what = "invalid range " + quote(text) + ": ";
  std::string_view ends[2] = {trimmed(text.substr(0, dash)), trimmed(text.substr(dash + 1))};
  IpNumber ips[2];
  for (int i = 0; i < 2; ++i) {
    auto ip = parseIp(ends[i]);
    if (!ip) return Error{what + quote(ends[i]) + " is not an IP address"};
    ips[i] = *ip;
  }
  if (ips[0].v6 != ips[1].v6) return Error{what + "it mixes IPv4 and IPv6"};
  if (ips[0].value > ips[1].value) return Error{what + "the first address is greater than the last"};
  return IpSpan{ips[0], ips[1]};
}

struct Reserved {
  IpBlock block;
  std::string_view what;
};

}  // namespace

std::optional<IpNumber> parseIp(std::string_view text) {
  std::string s(text);
  IpNumber ip;
  ip.v6 = s.find(':') != std::string::npos;
  std::array<uint8_t, 16> bytes{};
  if (inet_pton(ip.v6 ? AF_INET6 : AF_INET, s.c_str(), bytes.data()) != 1) return std::nullopt;
  for (size_t i = 0; i < (ip.v6 ? 16u : 4u); ++i) ip.value = (ip.value << 8) | bytes[i];
  return ip;
}

std::string formatIp(const IpNumber& ip) {
  std::array<uint8_t, 16> bytes{};
  size_t n = ip.v6 ? 16 : 4;
  Uint128 v = ip.value;
  for (size_t i = n; i-- > 0;) {
    bytes[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

std::string formatBlock(const IpBlock& block) {
  return formatIp(block.first) + "/" + std::to_string(block.prefix);
}

Result<IpSpan> parseIpSpan(std::string_view text) {
  if (size_t slash = text.find('/'); slash != std::string_view::npos) return parseBlock(text, slash);
  // IPv6 text has no '-', so a dash always separates the ends of a range.
  if (size_t dash = text.find('-'); dash != std::string_view::npos) return parseRange(text, dash);
  if (auto ip = parseIp(text)) return IpSpan{*ip, *ip};
  return Error{"invalid address " + quote(text) +
               ": expected an IP address, a CIDR block such as \"192.0.2.0/28\" or a range such as "
               "\"192.0.2.10-192.0.2.20\""};
}

std::vector<IpBlock> coverSpan(const IpSpan& span) {
  std::vector<IpBlock> blocks;
  const int bits = span.first.bits();
  Uint128 at = span.first.value;
  const Uint128 end = span.last.value;
  while (true) {
    // The largest block that starts at `at` (is aligned there) and ends by `end`.
    int host_bits = 0;
    while (host_bits < bits && (at & lowMask(host_bits + 1)) == 0 && end - at >= lowMask(host_bits + 1)) {
      ++host_bits;
    }
    blocks.push_back({{span.first.v6, at}, bits - host_bits});
    // Compared before stepping, since the step past the family's last address wraps.
    if (end - at == lowMask(host_bits)) break;
    at += lowMask(host_bits) + 1;
  }
  return blocks;
}

std::optional<std::string> reservedAddressIn(const IpSpan& span) {
  auto v4 = [](uint32_t a) { return IpNumber{false, a}; };
  auto v6 = [](Uint128 a) { return IpNumber{true, a}; };
  static const std::array<Reserved, 8> kReserved = {{
      {{v4(0x00000000), 8}, "a \"this network\" address (0.0.0.0/8)"},
      {{v4(0x7f000000), 8}, "a loopback address"},
      {{v4(0xe0000000), 4}, "a multicast address"},
      {{v4(0xffffffff), 32}, "the broadcast address"},
      {{v6(0), 128}, "the unspecified address"},
      {{v6(1), 128}, "the loopback address"},
      {{v6(Uint128(0xff) << 120), 8}, "a multicast address"},
      {{v6(Uint128(0xffff) << 32), 96}, "an IPv4-mapped address"},
  }};
  const Reserved* found = nullptr;
  IpNumber first_found;
  for (const Reserved& r : kReserved) {
    if (r.block.first.v6 != span.first.v6) continue;
    IpNumber last{r.block.first.v6, r.block.first.value | lowMask(r.block.first.bits() - r.block.prefix)};
    if (span.first > last || r.block.first > span.last) continue;
    IpNumber overlap = std::max(span.first, r.block.first);
    if (!found || overlap < first_found) {
      found = &r;
      first_found = overlap;
    }
  }
  if (!found) return std::nullopt;
  return formatIp(first_found) + " cannot be a virtual IP: it is " + std::string(found->what);
}

}  // namespace pier::config
