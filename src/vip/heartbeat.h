#pragma once
// The node heartbeat: what each pier node multicasts (or unicasts to its
// peers) on an announcing interface's L2 segment every interval, so the
// others know it is alive and which virtual IPs it may own. Authenticated
// with HMAC-SHA256 under the cluster key, so that nobody on the LAN can take
// an IP over by forging heartbeats; replays are stopped by ReplayGuard.
//
// Wire format, version 1 (all integers big-endian):
//   off  len  field
//    0    4   magic "PIER"
//    4    1   version = 1
//    5    1   flags: 0x01 leaving (graceful stop: hand my IPs over now)
//                    0x02 except-listed (the list names the IPs the node is
//                         NOT eligible for; it is eligible for all others)
//                    other bits 0
//    6    1   node name length N, 1..253
//    7    1   reserved, 0
//    8    8   incarnation: the sender's wall clock at process start, ms since
//             the Unix epoch; grows across restarts
//   16    8   sequence: counts up within an incarnation
//   24    8   timestamp: the sender's wall clock at sending, ms since the epoch
//   32    4   interval: the sender's heartbeat interval in ms, 1..60000
//   36    2   IPv4 address count A
//   38    2   IPv6 address count B
//   40    N   node name: [A-Za-z0-9._-]
//   40+N 4A   IPv4 addresses
//   ..  16B   IPv6 addresses
//   ..   32   HMAC-SHA256(cluster key, every byte before it)
// Length is exactly 72 + N + 4A + 16B and at most 1232, so a heartbeat fits
// one unfragmented datagram even at the IPv6 minimum MTU (1280 - 40 - 8).
// A sender picks whichever list form is shorter; one eligible for every IP
// sends except-listed with an empty list.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/result.h"
#include "src/vip/address.h"
#include "src/vip/cluster_key.h"
#include "src/vip/parse_result.h"

namespace pier::vip {

inline constexpr uint8_t kHeartbeatVersion = 1;
inline constexpr size_t kHeartbeatFixedBytes = 40;
inline constexpr size_t kHeartbeatMacBytes = 32;
inline constexpr size_t kHeartbeatMinBytes = kHeartbeatFixedBytes + 1 + kHeartbeatMacBytes;
inline constexpr size_t kHeartbeatMaxBytes = 1232;
inline constexpr size_t kHeartbeatMaxNameBytes = 253;  // a Kubernetes node name (DNS subdomain)
inline constexpr uint32_t kHeartbeatMaxIntervalMs = 60000;

struct Heartbeat {
  std::string node;
  uint64_t incarnation = 0;
  uint64_t sequence = 0;
  uint64_t timestamp_ms = 0;
  uint32_t interval_ms = 100;
  bool leaving = false;
  bool except_listed = false;
  // Encoded IPv4 first, then IPv6, each in the order given; decoded the same.
  std::vector<IpAddress> ips;

  bool eligibleFor(const IpAddress& ip) const;
  bool operator==(const Heartbeat&) const = default;
};

enum class HeartbeatReject : uint8_t {
  kTruncated,           // shorter than the smallest heartbeat
  kTooLong,             // longer than kHeartbeatMaxBytes
  kBadMagic,            // not a pier heartbeat
  kUnsupportedVersion,  // a version this node does not speak
  kBadMac,              // not sent by a holder of the cluster key, or altered
  kReservedBits,        // unknown flags or a non-zero reserved byte
  kBadName,             // empty node name or a character outside [A-Za-z0-9._-]
  kLengthMismatch,      // length disagrees with the name length and address counts
  kBadInterval,         // interval 0 or above 60 s
};
std::string_view describe(HeartbeatReject reason);

// Whether `name` can be a node name on the wire.
bool validNodeName(std::string_view name);

// Errors: invalid name or interval, or too many addresses for one datagram.
Result<std::vector<uint8_t>> encodeHeartbeat(const Heartbeat& heartbeat, const ClusterKey& key);

// Checks length, magic and version, then the MAC (in constant time), and
// only then reads the authenticated fields. Replay is the caller's next
// check (ReplayGuard).
ParseResult<Heartbeat, HeartbeatReject> decodeHeartbeat(std::span<const uint8_t> datagram,
                                                        const ClusterKey& key);

}  // namespace pier::vip
