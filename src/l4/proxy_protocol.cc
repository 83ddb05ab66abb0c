#include "src/l4/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "src/l4/address.h"

namespace pier::l4 {
namespace {

constexpr uint8_t kV2VersionProxy = 0x21;
constexpr uint8_t kV2VersionLocal = 0x20;
constexpr size_t kV2FixedBytes = 16;
constexpr size_t kV2Inet4Bytes = 12;  // 2 addresses + 2 ports
constexpr size_t kV2Inet6Bytes = 36;
constexpr size_t kV2UnixBytes = 216;  // 2 x 108-byte paths
constexpr size_t kV2TlvHeaderBytes = 3;

// The spec asks for IPv6 as colon-separated hex groups with at most one
// "::", so we format it ourselves: inet_ntop writes IPv4-mapped addresses
// with a dotted tail. RFC 5952 form: lower case, longest zero run shortened.
std::string ipv6Text(const uint8_t bytes[16]) {
  uint16_t groups[8];
  for (int i = 0; i < 8; ++i) {
    groups[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  }
  int best_start = -1;
  int best_len = 1;  // a single zero group is not shortened
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    fmt::format_to(std::back_inserter(out), "{:x}", groups[i]);
  }
  return out;
}

void appendBe16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

uint16_t be16(std::string_view data, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(data[at]) << 8 | static_cast<uint8_t>(data[at + 1]));
}

bool inetPair(const net::Address& a, const net::Address& b) {
  return (isIpv4(a) || isIpv6(a)) && (isIpv4(b) || isIpv6(b));
}

const uint8_t* ipv4BytesOf(const net::Address& a) {
  return reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr);
}

// Dotted decimal, exactly four numbers 0..255 without leading zeros (the
// spec forbids them: some stacks read them as octal). With !complete, says
// whether `s` can still grow into such an address.
bool scanIpv4(std::string_view s, bool complete, uint8_t out[4]) {
  int seg = 0;
  int digits = 0;
  int value = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0 || seg == 3) return false;
      out[seg++] = static_cast<uint8_t>(value);
      digits = 0;
      value = 0;
      continue;
    }
    if (c < '0' || c > '9') return false;
    if (digits == 1 && value == 0) return false;  // leading zero
    value = value * 10 + (c - '0');
    ++digits;
    if (value > 255) return false;
  }
  if (!complete) return true;
  if (seg != 3 || digits == 0) return false;
  out[3] = static_cast<uint8_t>(value);
  return true;
}

// Hex groups and colons; a dotted IPv4 tail is accepted because HAProxy
// itself sends IPv4-mapped addresses that way (it uses inet_ntop).
bool scanIpv6(std::string_view s, bool complete, uint8_t out[16]) {
  if (s.size() >= INET6_ADDRSTRLEN) return false;
  for (char c : s) {
    bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    if (!ok) return false;
  }
  if (!complete) return true;
  char text[INET6_ADDRSTRLEN] = {};
  std::memcpy(text, s.data(), s.size());
  return inet_pton(AF_INET6, text, out) == 1;
}

// Decimal 0..65535 without leading zeros.
bool scanPort(std::string_view s, bool complete, uint16_t* out) {
  uint32_t value = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    if (i == 1 && s[0] == '0') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
    if (value > 65535) return false;
  }
  if (complete && s.empty()) return false;
  *out = static_cast<uint16_t>(value);
  return true;
}

// Type, 16-bit length, value; the chain must exactly fill the space left.
bool tlvsWellFormed(std::string_view tlvs) {
  size_t at = 0;
  while (at < tlvs.size()) {
    if (tlvs.size() - at < kV2TlvHeaderBytes) return false;
    size_t len = be16(tlvs, at + 1);
    at += kV2TlvHeaderBytes + len;
    if (at > tlvs.size()) return false;
  }
  return true;
}

}  // namespace

void appendProxyHeaderV1(std::string& out, const net::Address& src, const net::Address& dst) {
  if (isIpv4(src) && isIpv4(dst)) {
    out += fmt::format("PROXY TCP4 {} {} {} {}\r\n", src.ipText(), dst.ipText(), portOf(src), portOf(dst));
    return;
  }
  if (inetPair(src, dst)) {
    uint8_t s[16];
    uint8_t d[16];
    ipv6Bytes(src, s);
    ipv6Bytes(dst, d);
    out += fmt::format("PROXY TCP6 {} {} {} {}\r\n", ipv6Text(s), ipv6Text(d), portOf(src), portOf(dst));
    return;
  }
  out += "PROXY UNKNOWN\r\n";
}

void appendProxyHeaderV2(std::string& out, const net::Address& src, const net::Address& dst, bool udp) {
  if (!inetPair(src, dst)) {
    appendProxyHeaderV2Local(out);
    return;
  }
  out.append(kProxyV2Signature);
  out.push_back(static_cast<char>(kV2VersionProxy));
  const uint8_t transport = udp ? 0x2 : 0x1;
  if (isIpv4(src) && isIpv4(dst)) {
    out.push_back(static_cast<char>(0x10 | transport));
    appendBe16(out, kV2Inet4Bytes);
    out.append(reinterpret_cast<const char*>(ipv4BytesOf(src)), 4);
    out.append(reinterpret_cast<const char*>(ipv4BytesOf(dst)), 4);
  } else {
    out.push_back(static_cast<char>(0x20 | transport));
    appendBe16(out, kV2Inet6Bytes);
    uint8_t bytes[16];
    ipv6Bytes(src, bytes);
    out.append(reinterpret_cast<const char*>(bytes), 16);
    ipv6Bytes(dst, bytes);
    out.append(reinterpret_cast<const char*>(bytes), 16);
  }
  appendBe16(out, portOf(src));
  appendBe16(out, portOf(dst));
}

void appendProxyHeaderV2Local(std::string& out) {
  out.append(kProxyV2Signature);
  out.push_back(static_cast<char>(kV2VersionLocal));
  out.push_back('\0');  // UNSPEC
  appendBe16(out, 0);
}

ProxyHeaderParser::Status ProxyHeaderParser::fail(const char* why) {
  header_ = ProxyHeader{};
  consumed_ = 0;
  error_ = why;
  return Status::kError;
}

ProxyHeaderParser::Status ProxyHeaderParser::parse(std::string_view data) {
  header_ = ProxyHeader{};
  consumed_ = 0;
  error_ = "";
  if (data.empty()) {
    return Status::kIncomplete;
  }
  // The two signatures differ in their first byte.
  if (data[0] == 'P') {
    return parseV1(data);
  }
  if (data[0] == '\r') {
    return parseV2(data);
  }
  return fail("not a PROXY protocol header");
}

ProxyHeaderParser::Status ProxyHeaderParser::parseV1(std::string_view data) {
  constexpr size_t kMaxLine = kProxyV1MaxBytes - 2;  // before CRLF
  const size_t window = std::min(data.size(), kMaxLine + 1);
  const size_t cr = data.substr(0, window).find('\r');
  if (cr == std::string_view::npos) {
    if (data.size() > kMaxLine) {
      return fail("v1 header longer than 107 bytes");
    }
    return parseV1Line(data, false);
  }
  if (cr + 1 == data.size()) {
    return parseV1Line(data.substr(0, cr), false);
  }
  if (data[cr + 1] != '\n') {
    return fail("v1 header: CR not followed by LF");
  }
  Status s = parseV1Line(data.substr(0, cr), true);
  if (s == Status::kComplete) {
    consumed_ = cr + 2;
  }
  return s;
}

ProxyHeaderParser::Status ProxyHeaderParser::parseV1Line(std::string_view line, bool complete) {
  constexpr std::string_view kPrefix = "PROXY ";
  const size_t n = std::min(line.size(), kPrefix.size());
  if (line.substr(0, n) != kPrefix.substr(0, n)) {
    return fail("not a PROXY protocol header");
  }
  if (line.size() < kPrefix.size()) {
    return complete ? fail("v1 header: no protocol") : Status::kIncomplete;
  }
  std::string_view rest = line.substr(kPrefix.size());
  const size_t sp = rest.find(' ');
  const std::string_view proto = rest.substr(0, sp);
  if (sp == std::string_view::npos && !complete) {
    for (std::string_view word : {"TCP4", "TCP6", "UNKNOWN"}) {
      if (word.starts_with(proto)) return Status::kIncomplete;
    }
    return fail("v1 header: unknown protocol");
  }
  if (proto == "UNKNOWN") {
    // The spec: the receiver ignores whatever follows, up to the CRLF.
    if (!complete) return Status::kIncomplete;
    header_.version = 1;
    header_.local = true;
    return Status::kComplete;
  }
  bool v6;
  if (proto == "TCP4") {
    v6 = false;
  } else if (proto == "TCP6") {
    v6 = true;
  } else {
    return fail("v1 header: unknown protocol");
  }
  if (sp == std::string_view::npos) {
    return fail("v1 header: no addresses");
  }

  // src dst sport dport, each separated by exactly one space.
  std::array<std::string_view, 4> fields;
  size_t count = 0;
  std::string_view list = rest.substr(sp + 1);
  for (size_t pos = 0;;) {
    const size_t end = list.find(' ', pos);
    if (count == fields.size()) {
      return fail("v1 header: too many fields");
    }
    fields[count++] = list.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }

  uint8_t ip[2][16] = {};
  uint16_t port[2] = {};
  for (size_t i = 0; i < count; ++i) {
    const bool whole = complete || i + 1 < count;  // only the last field can still grow
    if (whole && fields[i].empty()) {
      return fail("v1 header: empty field");
    }
    bool ok;
    if (i < 2) {
      ok = v6 ? scanIpv6(fields[i], whole, ip[i]) : scanIpv4(fields[i], whole, ip[i]);
      if (!ok) return fail(v6 ? "v1 header: bad IPv6 address" : "v1 header: bad IPv4 address");
    } else {
      ok = scanPort(fields[i], whole, &port[i - 2]);
      if (!ok) return fail("v1 header: bad port");
    }
  }
  if (!complete) {
    return Status::kIncomplete;
  }
  if (count < fields.size()) {
    return fail("v1 header: missing fields");
  }
  header_.version = 1;
  header_.local = false;
  header_.source = v6 ? ipv6Address(ip[0], port[0]) : ipv4Address(ip[0], port[0]);
  header_.destination = v6 ? ipv6Address(ip[1], port[1]) : ipv4Address(ip[1], port[1]);
  return Status::kComplete;
}

ProxyHeaderParser::Status ProxyHeaderParser::parseV2(std::string_view data) {
  const size_t n = std::min(data.size(), kProxyV2Signature.size());
  if (data.substr(0, n) != kProxyV2Signature.substr(0, n)) {
    return fail("not a PROXY protocol header");
  }
  // Check each fixed byte as soon as it is there, to fail early.
  bool local = false;
  if (data.size() > 12) {
    const auto ver_cmd = static_cast<uint8_t>(data[12]);
    if (ver_cmd >> 4 != 2) return fail("v2 header: unsupported version");
    if ((ver_cmd & 0xf) > 1) return fail("v2 header: unknown command");
    local = (ver_cmd & 0xf) == 0;
  }
  size_t address_bytes = 0;
  uint8_t fam = 0;
  if (data.size() > 13) {
    fam = static_cast<uint8_t>(data[13]);
    // LOCAL discards the whole block, family included (spec 2.2).
    if (!local) {
      switch (fam) {
        case 0x00:
          address_bytes = 0;
          break;
        case 0x11:
        case 0x12:
          address_bytes = kV2Inet4Bytes;
          break;
        case 0x21:
        case 0x22:
          address_bytes = kV2Inet6Bytes;
          break;
        case 0x31:
        case 0x32:
          address_bytes = kV2UnixBytes;
          break;
        default:
          return fail("v2 header: unknown address family or transport");
      }
    }
  }
  if (data.size() < kV2FixedBytes) {
    return Status::kIncomplete;
  }
  const size_t total = kV2FixedBytes + be16(data, 14);
  if (total > limits_.max_v2_bytes) {
    return fail("v2 header longer than the limit");
  }
  if (total - kV2FixedBytes < address_bytes) {
    return fail("v2 header: length too short for its address family");
  }
  if (data.size() < total) {
    return Status::kIncomplete;
  }

  header_.version = 2;
  header_.local = true;
  header_.udp = !local && (fam & 0xf) == 2;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data()) + kV2FixedBytes;
  // UNSPEC's block is to be ignored whole; for the others what follows the
  // addresses must be a TLV chain that fits.
  if (!local && fam != 0 &&
      !tlvsWellFormed(data.substr(kV2FixedBytes + address_bytes, total - kV2FixedBytes - address_bytes))) {
    return fail("v2 header: malformed TLV");
  }
  if (!local && (fam >> 4 == 1 || fam >> 4 == 2)) {
    const std::string_view ports = data.substr(kV2FixedBytes + address_bytes - 4, 4);
    header_.local = false;
    if (fam >> 4 == 1) {
      header_.source = ipv4Address(bytes, be16(ports, 0));
      header_.destination = ipv4Address(bytes + 4, be16(ports, 2));
    } else {
      header_.source = ipv6Address(bytes, be16(ports, 0));
      header_.destination = ipv6Address(bytes + 16, be16(ports, 2));
    }
  }
  consumed_ = total;
  return Status::kComplete;
}

}  // namespace pier::l4
