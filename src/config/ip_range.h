#pragma once
// IPv4 and IPv6 addresses as numbers, for the address pools of virtual_ips:
// pool entries (a CIDR block, an inclusive range or one address), their
// expansion, and the fewest CIDR blocks that cover a range exactly (what the
// host's local routes are made of). Internal to src/config.
#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/result.h"

namespace pier::config {

using Uint128 = unsigned __int128;

struct IpNumber {
  bool v6 = false;
  Uint128 value = 0;  // IPv4: the low 32 bits

  int bits() const { return v6 ? 128 : 32; }
  auto operator<=>(const IpNumber&) const = default;
};

// A literal address, strictly as inet_pton reads it (no prefix, no zone).
std::optional<IpNumber> parseIp(std::string_view text);
// inet_ntop's form: "192.0.2.1", "2001:db8::1".
std::string formatIp(const IpNumber& ip);

// A CIDR block: `first` has no bits set past `prefix`.
struct IpBlock {
  IpNumber first;
  int prefix = 0;
};
std::string formatBlock(const IpBlock& block);  // "192.0.2.0/28"

// An inclusive range of one family, first <= last.
struct IpSpan {
  IpNumber first;
  IpNumber last;
  // Addresses in the span minus one, so that a whole family still fits.
  Uint128 sizeMinusOne() const { return last.value - first.value; }
};

// A pool entry: "192.0.2.0/28", "2001:db8::/124", "192.0.2.10-192.0.2.20"
// (spaces allowed around '-') or "192.0.2.7". The error says what is wrong
// with `text`, quoting it.
Result<IpSpan> parseIpSpan(std::string_view text);

// The fewest CIDR blocks whose union is exactly `span`, in address order.
std::vector<IpBlock> coverSpan(const IpSpan& span);

// Why the span cannot hold virtual IPs (it reaches into loopback, multicast,
// unspecified, broadcast or IPv4-mapped addresses), naming the first such
// address; nullopt when every address is fine.
std::optional<std::string> reservedAddressIn(const IpSpan& span);

}  // namespace pier::config
