#include "src/vip/heartbeat.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "src/vip/bytes.h"

namespace pier::vip {
namespace {

constexpr std::array<uint8_t, 4> kMagic{'P', 'I', 'E', 'R'};
constexpr uint8_t kFlagLeaving = 0x01;
constexpr uint8_t kFlagExceptListed = 0x02;
constexpr uint8_t kKnownFlags = kFlagLeaving | kFlagExceptListed;

using Mac = std::array<uint8_t, kHeartbeatMacBytes>;

bool computeMac(const ClusterKey& key, std::span<const uint8_t> data, Mac& out) {
  unsigned int length = 0;
  const auto k = key.bytes();
  if (HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), data.data(), data.size(), out.data(),
           &length) == nullptr) {
    return false;
  }
  return length == out.size();
}

bool validInterval(uint32_t ms) { return ms >= 1 && ms <= kHeartbeatMaxIntervalMs; }

}  // namespace

bool Heartbeat::eligibleFor(const IpAddress& ip) const {
  const bool listed = std::find(ips.begin(), ips.end(), ip) != ips.end();
  return listed != except_listed;
}

std::string_view describe(HeartbeatReject reason) {
  switch (reason) {
    case HeartbeatReject::kTruncated:
      return "heartbeat too short";
    case HeartbeatReject::kTooLong:
      return "heartbeat too long";
    case HeartbeatReject::kBadMagic:
      return "not a pier heartbeat";
    case HeartbeatReject::kUnsupportedVersion:
      return "unsupported heartbeat version";
    case HeartbeatReject::kBadMac:
      return "heartbeat authentication failed (wrong cluster key or altered)";
    case HeartbeatReject::kReservedBits:
      return "heartbeat has unknown flags or reserved bits set";
    case HeartbeatReject::kBadName:
      return "heartbeat node name is empty or has invalid characters";
    case HeartbeatReject::kLengthMismatch:
      return "heartbeat length disagrees with its name length and address counts";
    case HeartbeatReject::kBadInterval:
      return "heartbeat interval is 0 or above 60 s";
  }
  return "unknown heartbeat rejection";
}

bool validNodeName(std::string_view name) {
  if (name.empty() || name.size() > kHeartbeatMaxNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<std::vector<uint8_t>> encodeHeartbeat(const Heartbeat& hb, const ClusterKey& key) {
  if (!validNodeName(hb.node)) {
    return Error{fmt::format("node name '{}' must be 1-{} characters of [A-Za-z0-9._-]", hb.node,
                             kHeartbeatMaxNameBytes)};
  }
  if (!validInterval(hb.interval_ms)) {
    return Error{
        fmt::format("heartbeat interval {} ms is outside 1-{} ms", hb.interval_ms, kHeartbeatMaxIntervalMs)};
  }
  const size_t v4 = static_cast<size_t>(
      std::count_if(hb.ips.begin(), hb.ips.end(), [](const IpAddress& ip) { return ip.isV4(); }));
  const size_t v6 = hb.ips.size() - v4;
  const size_t total = kHeartbeatFixedBytes + hb.node.size() + 4 * v4 + 16 * v6 + kHeartbeatMacBytes;
  if (total > kHeartbeatMaxBytes) {
    return Error{fmt::format("{} IPv4 and {} IPv6 addresses make a {}-byte heartbeat, more than {}", v4, v6,
                             total, kHeartbeatMaxBytes)};
  }

  std::vector<uint8_t> out;
  out.reserve(total);
  out.insert(out.end(), kMagic.begin(), kMagic.end());
  out.push_back(kHeartbeatVersion);
  out.push_back(
      static_cast<uint8_t>((hb.leaving ? kFlagLeaving : 0) | (hb.except_listed ? kFlagExceptListed : 0)));
  out.push_back(static_cast<uint8_t>(hb.node.size()));
  out.push_back(0);
  wire::appendU64(out, hb.incarnation);
  wire::appendU64(out, hb.sequence);
  wire::appendU64(out, hb.timestamp_ms);
  wire::appendU32(out, hb.interval_ms);
  wire::appendU16(out, static_cast<uint16_t>(v4));
  wire::appendU16(out, static_cast<uint16_t>(v6));
  out.insert(out.end(), hb.node.begin(), hb.node.end());
  for (bool want_v4 : {true, false}) {
    for (const IpAddress& ip : hb.ips) {
      if (ip.isV4() == want_v4) {
        const auto b = ip.bytes();
        out.insert(out.end(), b.begin(), b.end());
      }
    }
  }
  Mac mac{};
  if (!computeMac(key, out, mac)) return Error{"HMAC-SHA256 failed"};
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

ParseResult<Heartbeat, HeartbeatReject> decodeHeartbeat(std::span<const uint8_t> d, const ClusterKey& key) {
  if (d.size() < kHeartbeatMinBytes) return HeartbeatReject::kTruncated;
  if (d.size() > kHeartbeatMaxBytes) return HeartbeatReject::kTooLong;
  if (!std::equal(kMagic.begin(), kMagic.end(), d.begin())) return HeartbeatReject::kBadMagic;
  if (d[4] != kHeartbeatVersion) return HeartbeatReject::kUnsupportedVersion;

  const auto body = d.first(d.size() - kHeartbeatMacBytes);
  Mac expected{};
  if (!computeMac(key, body, expected)) return HeartbeatReject::kBadMac;
  if (CRYPTO_memcmp(expected.data(), d.data() + body.size(), expected.size()) != 0) {
    return HeartbeatReject::kBadMac;
  }

  // Authenticated from here on; still checked, since a peer may be buggy or
  // of a newer minor behaviour this node must not guess at.
  const uint8_t flags = d[5];
  if ((flags & ~kKnownFlags) != 0 || d[7] != 0) return HeartbeatReject::kReservedBits;
  const size_t name_len = d[6];
  const size_t v4 = wire::readU16(d, 36);
  const size_t v6 = wire::readU16(d, 38);
  if (kHeartbeatFixedBytes + name_len + 4 * v4 + 16 * v6 + kHeartbeatMacBytes != d.size()) {
    return HeartbeatReject::kLengthMismatch;
  }
  Heartbeat hb;
  hb.node.assign(reinterpret_cast<const char*>(d.data() + kHeartbeatFixedBytes), name_len);
  if (!validNodeName(hb.node)) return HeartbeatReject::kBadName;
  hb.interval_ms = wire::readU32(d, 32);
  if (!validInterval(hb.interval_ms)) return HeartbeatReject::kBadInterval;
  hb.leaving = (flags & kFlagLeaving) != 0;
  hb.except_listed = (flags & kFlagExceptListed) != 0;
  hb.incarnation = wire::readU64(d, 8);
  hb.sequence = wire::readU64(d, 16);
  hb.timestamp_ms = wire::readU64(d, 24);

  hb.ips.reserve(v4 + v6);
  size_t at = kHeartbeatFixedBytes + name_len;
  for (size_t i = 0; i < v4; ++i, at += 4) {
    Ipv4Address a{};
    std::copy_n(d.begin() + static_cast<ptrdiff_t>(at), a.size(), a.begin());
    hb.ips.push_back(IpAddress::v4(a));
  }
  for (size_t i = 0; i < v6; ++i, at += 16) {
    Ipv6Address a{};
    std::copy_n(d.begin() + static_cast<ptrdiff_t>(at), a.size(), a.begin());
    hb.ips.push_back(IpAddress::v6(a));
  }
  return hb;
}

}  // namespace pier::vip
