#include "src/vip/replay_guard.h"

namespace pier::vip {

std::string_view ReplayGuard::describe(Verdict v) {
  switch (v) {
    case Verdict::kFirstContact:
      return "first heartbeat from this node";
    case Verdict::kNewer:
      return "newer heartbeat";
    case Verdict::kRestarted:
      return "node restarted (new incarnation)";
    case Verdict::kReplay:
      return "replayed or reordered heartbeat";
    case Verdict::kStale:
      return "heartbeat timestamp too far in the past (clock skew or replay)";
    case Verdict::kFuture:
      return "heartbeat timestamp too far in the future (clock skew)";
  }
  return "unknown verdict";
}

ReplayGuard::Verdict ReplayGuard::check(const Heartbeat& hb, MonoTime now, uint64_t wall_now_ms) {
  const auto skew = static_cast<uint64_t>(options_.max_clock_skew.count());
  if (hb.timestamp_ms < wall_now_ms && wall_now_ms - hb.timestamp_ms > skew) return Verdict::kStale;
  if (hb.timestamp_ms > wall_now_ms && hb.timestamp_ms - wall_now_ms > skew) return Verdict::kFuture;

  auto it = records_.find(hb.node);
  Verdict verdict = Verdict::kFirstContact;
  if (it != records_.end() && now - it->second.accepted_at <= forgetAfter()) {
    const Record& r = it->second;
    if (hb.incarnation > r.incarnation) {
      verdict = Verdict::kRestarted;
    } else if (hb.incarnation == r.incarnation && hb.sequence > r.sequence) {
      verdict = Verdict::kNewer;
    } else {
      return Verdict::kReplay;
    }
  }
  Record& r = it != records_.end() ? it->second : records_[hb.node];
  r.incarnation = hb.incarnation;
  r.sequence = hb.sequence;
  r.accepted_at = now;
  return verdict;
}

void ReplayGuard::prune(MonoTime now) {
  std::erase_if(records_, [&](const auto& entry) { return now - entry.second.accepted_at > forgetAfter(); });
}

}  // namespace pier::vip
