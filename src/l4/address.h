#pragma once
// Small helpers on net::Address that the L4 code needs in several places:
// building addresses from raw bytes (PROXY protocol), asking the kernel for a
// socket's own and peer address, and a compact map key for UDP clients.
#include <cstdint>
#include <optional>
#include <string>

#include "src/net/socket.h"

namespace pier::l4 {

// From network-order address bytes (4 or 16) and a host-order port.
net::Address ipv4Address(const uint8_t bytes[4], uint16_t port);
net::Address ipv6Address(const uint8_t bytes[16], uint16_t port);

uint16_t portOf(const net::Address& address);
bool isIpv4(const net::Address& address);
bool isIpv6(const net::Address& address);
// The 16 bytes of an IPv6 address, or the IPv4-mapped form (::ffff:a.b.c.d)
// of an IPv4 one; used when a header must carry two addresses of one family.
void ipv6Bytes(const net::Address& address, uint8_t out[16]);

std::optional<net::Address> localAddressOf(int fd);
std::optional<net::Address> peerAddressOf(int fd);

// Family, port and IP bytes: equal for equal endpoints, cheap to hash.
std::string addressKey(const net::Address& address);

bool sameEndpoint(const net::Address& a, const net::Address& b);

}  // namespace pier::l4
