#pragma once
// Shared helpers of the vip tests: byte strings written as lists of numbers
// and addresses from text.
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <iterator>
#include <string_view>
#include <vector>

#include "src/vip/address.h"

namespace pier::vip::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

template <typename... Parts>
Bytes concat(const Parts&... parts) {
  Bytes out;
  (out.insert(out.end(), std::begin(parts), std::end(parts)), ...);
  return out;
}

// Aborts on a typo: also used to initialise constants, outside any test.
inline IpAddress ip(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  if (!parsed) std::abort();
  return *parsed;
}

inline Ipv4Address v4(std::string_view text) { return ip(text).asV4(); }
inline Ipv6Address v6(std::string_view text) { return ip(text).asV6(); }

}  // namespace pier::vip::testing
