#pragma once
// Paces gratuitous ARP / unsolicited NA: a takeover of 10,000 addresses must
// not put 20,000 frames on the wire in one burst (switches and hosts drop or
// rate-limit such bursts, and the heartbeats share the link).
#include <algorithm>
#include <chrono>
#include <cstdint>

#include "src/common/clock.h"

namespace pier::announce {

class TokenBucket {
 public:
  // `per_ms` frames every millisecond on average, at most `burst` at once.
  TokenBucket(uint32_t per_ms, uint32_t burst)
      : per_ns_(static_cast<double>(std::max<uint32_t>(per_ms, 1)) / 1e6),
        burst_(std::max<uint32_t>(burst, 1)),
        tokens_(burst_) {}

  // Takes `n` tokens if that many have accumulated by `now`. More than the
  // burst size takes a full bucket (it could never accumulate otherwise).
  bool take(uint32_t n, MonoTime now) {
    refill(now);
    const double want = std::min<double>(n, burst_);
    if (tokens_ + 1e-9 < want) return false;
    tokens_ -= want;
    return true;
  }

  // When `n` tokens will be there (now or later). `n` above the burst size
  // waits for a full bucket.
  MonoTime readyAt(uint32_t n, MonoTime now) {
    refill(now);
    const double want = std::min<double>(n, burst_);
    if (tokens_ + 1e-9 >= want) return now;
    const auto wait_ns = static_cast<int64_t>((want - tokens_) / per_ns_) + 1;
    return now + std::chrono::nanoseconds(wait_ns);
  }

 private:
  void refill(MonoTime now) {
    if (now > last_) {
      tokens_ = std::min<double>(burst_, tokens_ + per_ns_ * static_cast<double>((now - last_).count()));
    }
    last_ = std::max(last_, now);
  }

  double per_ns_;
  uint32_t burst_;
  double tokens_;
  MonoTime last_{};
};

}  // namespace pier::announce
