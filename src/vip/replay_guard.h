#pragma once
// Replay protection for authenticated heartbeats. The MAC proves a heartbeat
// was made by a key holder, not that it is new: someone on the LAN can record
// a node's heartbeats and send them again to keep a dead node "alive" (its
// IPs then have an owner that never answers). The guard accepts a heartbeat
// only if it is newer than everything accepted from that node and its
// timestamp is close to the receiver's clock.
//
// Ordering: per node name, (incarnation, sequence) must grow. The
// incarnation is the sender's boot time in ms, so a restarted node starts a
// new, larger incarnation at sequence 0 and is accepted at once, without the
// receivers having to forget anything; recorded traffic of an earlier
// incarnation, or of this one up to the last accepted sequence, is refused.
//
// Freshness: |timestamp - receiver's wall clock| <= max_clock_skew (clocks
// kept within that by NTP; the skew bound is a documented requirement).
// This closes the one gap of pure ordering: a receiver that has no record of
// a node (it just started, or it forgot the node) would accept any old
// recording of it.
//
// Forgetting: a node's record is dropped when nothing was accepted from it
// for forget_after = 3 x max_clock_skew. Any heartbeat the node sent before
// the receiver last heard from it is by then older than 2 x max_clock_skew
// and fails freshness even against a receiver clock max_clock_skew behind,
// so forgetting never re-opens a replay. It bounds the one case ordering
// gets wrong: a node whose wall clock went backwards across a restart (new
// incarnation smaller than the old) is refused as kReplay until then, and no
// longer.
//
// What remains: a receiver with no record (just started) accepts recordings
// younger than max_clock_skew, e.g. of a node that stopped moments ago, for
// at most max_clock_skew. Someone who can delay a node's packets in flight
// relays rather than replays; no scheme without a round trip stops that.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "src/common/clock.h"
#include "src/vip/heartbeat.h"

namespace pier::vip {

class ReplayGuard {
 public:
  struct Options {
    std::chrono::milliseconds max_clock_skew{std::chrono::seconds(10)};
  };

  enum class Verdict : uint8_t {
    kFirstContact,  // accepted: no record of this node
    kNewer,         // accepted: same incarnation, higher sequence
    kRestarted,     // accepted: higher incarnation
    kReplay,        // refused: not newer than the last accepted one
    kStale,         // refused: timestamp too far behind our clock
    kFuture,        // refused: timestamp too far ahead of our clock
  };
  static bool accepted(Verdict v) { return v <= Verdict::kRestarted; }
  static std::string_view describe(Verdict v);

  ReplayGuard() = default;
  explicit ReplayGuard(Options options) : options_(options) {}

  // Decides on an authenticated heartbeat and, when accepted, records it.
  // `now` drives forgetting; `wall_now_ms` (ms since the Unix epoch) is what
  // the timestamp is compared with. Callers drop their own node's name
  // before this: a node never needs its own heartbeats back.
  Verdict check(const Heartbeat& heartbeat, MonoTime now, uint64_t wall_now_ms);

  // Drops records due to be forgotten (check() also ignores them; this frees
  // the memory).
  void prune(MonoTime now);
  size_t size() const { return records_.size(); }

 private:
  struct Record {
    uint64_t incarnation = 0;
    uint64_t sequence = 0;
    MonoTime accepted_at{};
  };

  Duration forgetAfter() const { return 3 * options_.max_clock_skew; }

  Options options_;
  std::map<std::string, Record, std::less<>> records_;
};

}  // namespace pier::vip
