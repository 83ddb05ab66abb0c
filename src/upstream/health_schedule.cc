#include "src/upstream/health_schedule.h"

#include <algorithm>

namespace pier::upstream {

Duration HealthSchedule::initialDelay(std::chrono::milliseconds interval) {
  const Duration span = std::max<Duration>(interval, kMinInterval);
  std::uniform_int_distribution<int64_t> pick(0, span.count() - 1);
  return Duration(pick(rng_));
}

Duration HealthSchedule::period(std::chrono::milliseconds interval, std::chrono::milliseconds jitter) {
  const Duration base = std::max<Duration>(interval, kMinInterval);
  if (jitter <= std::chrono::milliseconds::zero()) {
    return base;
  }
  std::uniform_int_distribution<int64_t> pick(0, Duration(jitter).count());
  return base + Duration(pick(rng_));
}

}  // namespace pier::upstream
