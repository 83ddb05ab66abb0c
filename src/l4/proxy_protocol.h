#pragma once
// The HAProxy PROXY protocol (versions 1 and 2): how a proxy in front of us
// tells us the real client address, and how we tell an upstream the same.
//
// The parser is strict on purpose: the header decides which address a
// connection is attributed to (logs, ACLs, hashing), so anything the spec does
// not allow is rejected instead of being guessed at.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/net/socket.h"

namespace pier::l4 {

// Version 1 (text). Two IPv4 addresses give "PROXY TCP4 ..."; two addresses
// of which one is IPv6 give "PROXY TCP6 ..." with the IPv4 one written
// IPv4-mapped; anything else gives "PROXY UNKNOWN\r\n".
void appendProxyHeaderV1(std::string& out, const net::Address& src, const net::Address& dst);

// Version 2 (binary), command PROXY, no TLVs. Families are chosen as for v1
// (TCP4/TCP6, or UDP4/UDP6 when `udp`); unusable addresses give a LOCAL header.
void appendProxyHeaderV2(std::string& out, const net::Address& src, const net::Address& dst,
                         bool udp = false);
// Version 2, command LOCAL: the connection is the proxy's own (health checks).
void appendProxyHeaderV2Local(std::string& out);

// The 12-byte version 2 signature.
inline constexpr std::string_view kProxyV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
// Longest valid version 1 header, CRLF included (spec section 2.1).
inline constexpr size_t kProxyV1MaxBytes = 107;

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // No usable addresses: v1 UNKNOWN, v2 LOCAL, v2 UNSPEC or AF_UNIX. The
  // receiver then uses the connection's own endpoints, as the spec says.
  bool local = true;
  bool udp = false;  // v2 DGRAM
  net::Address source;
  net::Address destination;
};

// Parses a PROXY header at the start of a connection.
//
// parse() is given everything received so far, from the first byte of the
// connection (the caller keeps appending and calls again on kIncomplete). It
// answers kError as soon as the bytes can no longer become a valid header,
// so a client that does not speak the protocol is turned away at once
// rather than at the header timeout.
class ProxyHeaderParser {
 public:
  enum class Status { kIncomplete, kComplete, kError };

  struct Limits {
    // Whole v2 header: 16 fixed bytes, addresses and TLVs.
    size_t max_v2_bytes = 4096;
  };

  ProxyHeaderParser() = default;
  explicit ProxyHeaderParser(Limits limits) : limits_(limits) {}

  Status parse(std::string_view data);

  // Valid after kComplete: the header's length; payload starts there.
  size_t consumed() const { return consumed_; }
  const ProxyHeader& header() const { return header_; }
  // Valid after kError: why, for logs.
  std::string_view error() const { return error_; }
  // Bytes a caller must be ready to hold before the header can complete.
  size_t maxHeaderBytes() const {
    return limits_.max_v2_bytes > kProxyV1MaxBytes ? limits_.max_v2_bytes : kProxyV1MaxBytes;
  }

 private:
  Status parseV1(std::string_view data);
  Status parseV1Line(std::string_view line, bool complete);
  Status parseV2(std::string_view data);
  Status fail(const char* why);

  Limits limits_;
  ProxyHeader header_;
  size_t consumed_ = 0;
  const char* error_ = "";
};

}  // namespace pier::l4
