#pragma once
// The metrics store: the one piece of process-wide mutable state pier allows.
//
// Series are registered on the control thread (when a config snapshot is
// built) and return a small handle. Every thread that updates metrics has its
// own shard of slots, so an update is a plain relaxed load and store on memory
// only that thread writes: no locks, no atomic read-modify-write, no shared
// cache lines. A scrape sums the shards.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pier::stats {

using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kMaxShards = 65;         // control thread + up to 64 workers
constexpr size_t kSlotsPerChunk = 1024;
constexpr size_t kMaxChunks = 4096;       // up to ~4M slots

// Sets the shard the calling thread writes to (0: control thread; workers 1..N).
void setThreadShard(size_t shard);

class Store;

namespace detail {
// Adds to a cell only the calling thread writes: a relaxed load and store,
// no read-modify-write.
inline void addToOwnCell(std::atomic<int64_t>* cell, int64_t v) {
  cell->store(cell->load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}
}  // namespace detail

// A counter's cell in the shard of the thread that asked for it
// (Counter::cellOfThisThread): adds without finding the cell again, for an
// object that counts on every request and never leaves its thread. Only
// that thread may add through it.
class CounterCell {
 public:
  CounterCell() = default;
  void add(int64_t v = 1) const {
    if (cell_ != nullptr) detail::addToOwnCell(cell_, v);
  }

 private:
  friend class Counter;
  explicit CounterCell(std::atomic<int64_t>* cell) : cell_(cell) {}
  std::atomic<int64_t>* cell_ = nullptr;
};

class Counter {
 public:
  Counter() = default;
  inline void add(int64_t v = 1) const;
  bool valid() const { return slot_ != kInvalid; }
  inline CounterCell cellOfThisThread() const;

 private:
  friend class Store;
  friend class Histogram;
  friend class StatusCounters;
  static constexpr uint32_t kInvalid = UINT32_MAX;
  explicit Counter(uint32_t slot) : slot_(slot) {}
  uint32_t slot_ = kInvalid;
};

// Gauges are per-shard deltas too (increments and decrements happen on one thread).
using Gauge = Counter;

class Histogram {
 public:
  Histogram() = default;
  // Records a duration in nanoseconds.
  inline void observeNanos(int64_t nanos) const;
  bool valid() const { return first_slot_ != Counter::kInvalid; }

 private:
  friend class Store;
  Histogram(uint32_t first_slot, const std::vector<int64_t>* bounds)
      : first_slot_(first_slot), bounds_(bounds) {}
  uint32_t first_slot_ = Counter::kInvalid;  // buckets..., then sum, then count
  const std::vector<int64_t>* bounds_ = nullptr;
};

class Store {
 public:
  // Inline: every counter add goes through it, and a call costs more than
  // the add itself.
  static Store& instance() {
    // Never destroyed: workers may still count while the process exits, and
    // the slot memory must outlive every handle.
    static Store* store = new Store();  // NOLINT(cppcoreguidelines-owning-memory)
    return *store;
  }

  Counter counter(const std::string& name, const Labels& labels, const std::string& help);
  Gauge gauge(const std::string& name, const Labels& labels, const std::string& help);
  // Latency histogram with bucket bounds in seconds (default: 0.5 ms .. 10 s).
  Histogram histogram(const std::string& name, const Labels& labels, const std::string& help);

  // Prometheus text exposition format, version 0.0.4.
  std::string renderPrometheus() const;
  // Sum over shards of one series (tests and the admin API).
  int64_t value(const std::string& name, const Labels& labels) const;

  inline void addToSlot(uint32_t slot, int64_t v);
  // The calling thread's cell of `slot` (it stays where it is: chunks are
  // never moved or freed).
  inline std::atomic<int64_t>* cellOf(uint32_t slot);

 private:
  Store();
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    std::string help;
    Type type;
    std::map<std::string, uint32_t> series;  // rendered labels -> first slot
  };
  uint32_t registerSeries(const std::string& name, const Labels& labels, const std::string& help, Type type,
                          uint32_t slots);
  int64_t sumSlot(uint32_t slot) const;
  std::atomic<int64_t>* slotPtr(size_t shard, uint32_t slot) const;

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  uint32_t next_slot_ = 0;
  std::vector<int64_t> bounds_nanos_;
  // chunks_[shard][chunk] -> kSlotsPerChunk slots, allocated at registration.
  std::unique_ptr<std::array<std::atomic<std::atomic<int64_t>*>, kMaxChunks>[]> chunks_;
};

namespace detail {
extern thread_local size_t t_shard;
}

inline std::atomic<int64_t>* slotOf(std::array<std::atomic<std::atomic<int64_t>*>, kMaxChunks>* shard,
                                    uint32_t slot) {
  return shard[0][slot / kSlotsPerChunk].load(std::memory_order_acquire) + slot % kSlotsPerChunk;
}

inline std::atomic<int64_t>* Store::cellOf(uint32_t slot) { return slotOf(&chunks_[detail::t_shard], slot); }

inline void Store::addToSlot(uint32_t slot, int64_t v) { detail::addToOwnCell(cellOf(slot), v); }

inline CounterCell Counter::cellOfThisThread() const {
  return slot_ == kInvalid ? CounterCell() : CounterCell(Store::instance().cellOf(slot_));
}

inline void Counter::add(int64_t v) const {
  if (slot_ != kInvalid) {
    Store::instance().addToSlot(slot_, v);
  }
}

inline void Histogram::observeNanos(int64_t nanos) const {
  if (first_slot_ == Counter::kInvalid) {
    return;
  }
  auto& store = Store::instance();
  size_t bucket = 0;
  while (bucket < bounds_->size() && nanos > (*bounds_)[bucket]) {
    ++bucket;
  }
  // Buckets are stored non-cumulative; rendering accumulates them.
  store.addToSlot(first_slot_ + static_cast<uint32_t>(bucket), 1);
  uint32_t n = static_cast<uint32_t>(bounds_->size()) + 1;
  store.addToSlot(first_slot_ + n, nanos);
  store.addToSlot(first_slot_ + n + 1, 1);
}

}  // namespace pier::stats

namespace pier::stats {

// Counters of one family split by HTTP status, registered the first time a
// status is seen (so scrapes show only statuses that happened) and then
// updated without touching the registry.
class StatusCounters {
 public:
  StatusCounters(std::string name, Labels labels, std::string help)
      : name_(std::move(name)), labels_(std::move(labels)), help_(std::move(help)) {}
  StatusCounters(const StatusCounters&) = delete;
  StatusCounters& operator=(const StatusCounters&) = delete;
  StatusCounters(StatusCounters&& other) noexcept
      : name_(std::move(other.name_)), labels_(std::move(other.labels_)), help_(std::move(other.help_)) {}

  void add(int status) const {
    size_t i = status >= 100 && status <= 599 ? static_cast<size_t>(status - 100) : kOtherIndex;
    uint32_t slot = slots_[i].load(std::memory_order_acquire);
    if (slot == 0) {
      slot = registerStatus(status) + 1;
    }
    Counter(slot - 1).add();
  }

 private:
  static constexpr size_t kOtherIndex = 500;  // statuses outside 100..599 count as status="other"
  uint32_t registerStatus(int status) const;
  std::string name_;
  Labels labels_;
  std::string help_;
  mutable std::array<std::atomic<uint32_t>, 501> slots_{};  // slot + 1; 0: not registered yet
};

}  // namespace pier::stats
