#pragma once
// When health probes fire. Randomness is seeded so tests (and a rerun with the
// same seed) see the same schedule; the randomness exists to spread probes of
// many endpoints over time instead of firing them in bursts.
#include <chrono>
#include <cstdint>
#include <random>

#include "src/common/clock.h"

namespace pier::upstream {

class HealthSchedule {
 public:
  explicit HealthSchedule(uint64_t seed) : rng_(seed) {}

  // Delay before a new target's first probe: uniform in [0, interval), so a
  // config with many endpoints spreads its first round over one interval.
  Duration initialDelay(std::chrono::milliseconds interval);
  // Start-to-start distance of two probes: interval + uniform [0, jitter].
  Duration period(std::chrono::milliseconds interval, std::chrono::milliseconds jitter);

  // Intervals below this are raised to it, so a zero interval can't spin the loop.
  static constexpr std::chrono::milliseconds kMinInterval{1};

 private:
  std::mt19937_64 rng_;
};

}  // namespace pier::upstream
