#include "src/announce/linux_routes.h"

#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "src/announce/linux_netlink.h"

namespace pier::announce::sys {
namespace {

std::string describe(const RouteCidr& cidr) {
  return fmt::format("local route {}/{}", cidr.network.toString(), cidr.prefix_length);
}

bool hostBitsZero(std::span<const uint8_t> bytes, int prefix_length) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int bits_in_prefix = std::clamp(prefix_length - static_cast<int>(i) * 8, 0, 8);
    const auto host_mask = static_cast<uint8_t>(0xff >> bits_in_prefix);
    if ((bytes[i] & host_mask) != 0) {
      return false;
    }
  }
  return true;
}

Status changeLocalRoute(const RouteCidr& cidr, bool add) {
  const unsigned loopback = ::if_nametoindex("lo");
  if (loopback == 0) {
    return errnoError(describe(cidr) + ": interface lo");
  }
  Result<RouteNetlink> netlink = RouteNetlink::open(0);
  if (!netlink) {
    return Error{describe(cidr) + ": " + netlink.error()};
  }
  NetlinkRequest request(add ? RTM_NEWROUTE : RTM_DELROUTE,
                         add ? static_cast<uint16_t>(NLM_F_CREATE | NLM_F_REPLACE) : uint16_t{0});
  rtmsg route{};
  route.rtm_family = static_cast<uint8_t>(cidr.network.isV4() ? AF_INET : AF_INET6);
  route.rtm_dst_len = static_cast<uint8_t>(cidr.prefix_length);
  route.rtm_table = RT_TABLE_LOCAL;
  route.rtm_protocol = RTPROT_STATIC;
  // RT_SCOPE_NOWHERE in a delete means "any scope".
  route.rtm_scope = add ? RT_SCOPE_HOST : RT_SCOPE_NOWHERE;
  route.rtm_type = RTN_LOCAL;
  request.appendFixed(route);
  request.addAttribute(RTA_DST, cidr.network.bytes());
  request.addU32(RTA_OIF, loopback);
  request.addU32(RTA_TABLE, RT_TABLE_LOCAL);
  Result<NetlinkAck> ack = netlink->command(request);
  if (!ack) {
    return Error{describe(cidr) + ": " + ack.error()};
  }
  if (ack->error == 0 || (!add && ack->error == ESRCH)) {
    return {};
  }
  std::string message = fmt::format("{}: {}", describe(cidr), std::strerror(ack->error));
  if (!ack->detail.empty()) {
    message += " (" + ack->detail + ")";
  }
  return Error{std::move(message)};
}

}  // namespace

Result<RouteCidr> parseRouteCidr(std::string_view text) {
  const size_t slash = text.find('/');
  const std::optional<vip::IpAddress> address = vip::IpAddress::parse(text.substr(0, slash));
  if (!address) {
    return Error{fmt::format("'{}' is not an IP address or CIDR", text)};
  }
  const int max_length = address->isV4() ? 32 : 128;
  int length = max_length;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || length < 0 ||
        length > max_length) {
      return Error{fmt::format("'{}': prefix length must be 0 to {}", text, max_length)};
    }
  }
  if (!hostBitsZero(address->bytes(), length)) {
    return Error{fmt::format("'{}': address has bits set beyond the prefix length", text)};
  }
  return RouteCidr{*address, length};
}

Status addLocalRoute(const RouteCidr& cidr) { return changeLocalRoute(cidr, true); }
Status removeLocalRoute(const RouteCidr& cidr) { return changeLocalRoute(cidr, false); }

}  // namespace pier::announce::sys
