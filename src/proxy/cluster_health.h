#pragma once
// Active health of one cluster's endpoints as the control thread's health
// checker last saw it. Written by the control thread, read by every worker
// without locks: a worker compares `generation` with the one it last saw and
// re-reads the flags only when it changed.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace pier::proxy {

class ClusterHealth {
 public:
  explicit ClusterHealth(size_t endpoints) : healthy_(std::make_unique<std::atomic<bool>[]>(endpoints)), size_(endpoints) {
    for (size_t i = 0; i < endpoints; ++i) {
      healthy_[i].store(true, std::memory_order_relaxed);
    }
  }
  size_t size() const { return size_; }
  bool healthy(size_t endpoint) const { return healthy_[endpoint].load(std::memory_order_relaxed); }
  void set(size_t endpoint, bool healthy) {
    healthy_[endpoint].store(healthy, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::unique_ptr<std::atomic<bool>[]> healthy_;
  size_t size_;
  std::atomic<uint64_t> generation_{0};
};

// Process-wide counters for circuit breakers and the retry budget of one
// cluster (shared by workers; only touched when a limit is configured).
struct ClusterLoad {
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> pending{0};
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> retries{0};
};

}  // namespace pier::proxy
