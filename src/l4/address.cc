#include "src/l4/address.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace pier::l4 {

net::Address ipv4Address(const uint8_t bytes[4], uint16_t port) {
  net::Address out;
  auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  std::memcpy(&in->sin_addr, bytes, 4);
  out.length = sizeof(sockaddr_in);
  return out;
}

net::Address ipv6Address(const uint8_t bytes[16], uint16_t port) {
  net::Address out;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, bytes, 16);
  out.length = sizeof(sockaddr_in6);
  return out;
}

bool isIpv4(const net::Address& address) { return address.storage.ss_family == AF_INET; }
bool isIpv6(const net::Address& address) { return address.storage.ss_family == AF_INET6; }

uint16_t portOf(const net::Address& address) {
  if (isIpv4(address)) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port);
  }
  if (isIpv6(address)) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_port);
  }
  return 0;
}

void ipv6Bytes(const net::Address& address, uint8_t out[16]) {
  std::memset(out, 0, 16);
  if (isIpv6(address)) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr, 16);
  } else if (isIpv4(address)) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out + 12, &reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr, 4);
  }
}

static std::optional<net::Address> query(int fd, bool peer) {
  net::Address out;
  out.length = sizeof out.storage;
  auto* sa = reinterpret_cast<sockaddr*>(&out.storage);
  int rc = peer ? getpeername(fd, sa, &out.length) : getsockname(fd, sa, &out.length);
  if (rc != 0) {
    return std::nullopt;
  }
  return out;
}

std::optional<net::Address> localAddressOf(int fd) { return query(fd, false); }
std::optional<net::Address> peerAddressOf(int fd) { return query(fd, true); }

std::string addressKey(const net::Address& address) {
  std::string key;
  key.push_back(static_cast<char>(address.storage.ss_family));
  uint16_t port = portOf(address);
  key.push_back(static_cast<char>(port >> 8));
  key.push_back(static_cast<char>(port & 0xff));
  if (isIpv4(address)) {
    key.append(
        reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr), 4);
  } else if (isIpv6(address)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    key.append(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
    // Link-local addresses are only unique together with their interface.
    key.append(reinterpret_cast<const char*>(&in6->sin6_scope_id), sizeof in6->sin6_scope_id);
  }
  return key;
}

bool sameEndpoint(const net::Address& a, const net::Address& b) { return addressKey(a) == addressKey(b); }

}  // namespace pier::l4
