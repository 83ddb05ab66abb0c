#pragma once
// The clock boundary: code that measures time takes a Clock& so that tests can
// drive time by hand.
#include <chrono>
#include <cstdint>

namespace pier {

using MonoTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
};

class SystemClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
};

class FakeClock final : public Clock {
 public:
  MonoTime now() const override { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  MonoTime now_{};
};

}  // namespace pier
