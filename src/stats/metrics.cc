#include "src/stats/metrics.h"

#include <fmt/format.h>

#include <stdexcept>

namespace pier::stats {

namespace detail {
thread_local size_t t_shard = 0;
}

void setThreadShard(size_t shard) { detail::t_shard = shard < kMaxShards ? shard : kMaxShards - 1; }

Store::Store()
    : bounds_nanos_{500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,
                    25'000'000,  50'000'000,  100'000'000,   250'000'000,   500'000'000,
                    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000},
      chunks_(std::make_unique<std::array<std::atomic<std::atomic<int64_t>*>, kMaxChunks>[]>(kMaxShards)) {}

static std::string escapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

static std::string renderLabels(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) {
      out += ',';
    }
    out += fmt::format("{}=\"{}\"", k, escapeLabelValue(v));
  }
  return out;
}

uint32_t Store::registerSeries(const std::string& name, const Labels& labels, const std::string& help, Type type,
                               uint32_t slots) {
  std::lock_guard lock(mutex_);
  auto& family = families_[name];
  if (family.series.empty()) {
    family.help = help;
    family.type = type;
  }
  std::string key = renderLabels(labels);
  auto it = family.series.find(key);
  if (it != family.series.end()) {
    return it->second;
  }
  // Keep a series' slots inside one chunk so histogram slots are contiguous.
  if (next_slot_ / kSlotsPerChunk != (next_slot_ + slots - 1) / kSlotsPerChunk) {
    next_slot_ = (next_slot_ / kSlotsPerChunk + 1) * static_cast<uint32_t>(kSlotsPerChunk);
  }
  uint32_t first = next_slot_;
  next_slot_ += slots;
  size_t chunk = (next_slot_ - 1) / kSlotsPerChunk;
  if (chunk >= kMaxChunks) {
    throw std::runtime_error("metrics store full");
  }
  for (size_t c = 0; c <= chunk; ++c) {
    if (chunks_[0][c].load(std::memory_order_relaxed) == nullptr) {
      for (size_t shard = 0; shard < kMaxShards; ++shard) {
        auto* cells = new std::atomic<int64_t>[kSlotsPerChunk]();  // NOLINT: lives as long as the process
        chunks_[shard][c].store(cells, std::memory_order_release);
      }
    }
  }
  family.series.emplace(key, first);
  return first;
}

Counter Store::counter(const std::string& name, const Labels& labels, const std::string& help) {
  return Counter(registerSeries(name, labels, help, Type::kCounter, 1));
}

Gauge Store::gauge(const std::string& name, const Labels& labels, const std::string& help) {
  return Gauge(registerSeries(name, labels, help, Type::kGauge, 1));
}

Histogram Store::histogram(const std::string& name, const Labels& labels, const std::string& help) {
  uint32_t slots = static_cast<uint32_t>(bounds_nanos_.size()) + 3;
  return Histogram(registerSeries(name, labels, help, Type::kHistogram, slots), &bounds_nanos_);
}

std::atomic<int64_t>* Store::slotPtr(size_t shard, uint32_t slot) const { return slotOf(&chunks_[shard], slot); }

int64_t Store::sumSlot(uint32_t slot) const {
  int64_t sum = 0;
  for (size_t shard = 0; shard < kMaxShards; ++shard) {
    sum += slotPtr(shard, slot)->load(std::memory_order_relaxed);
  }
  return sum;
}

int64_t Store::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  auto f = families_.find(name);
  if (f == families_.end()) {
    return 0;
  }
  auto s = f->second.series.find(renderLabels(labels));
  if (s == f->second.series.end()) {
    return 0;
  }
  if (f->second.type == Type::kHistogram) {
    return sumSlot(s->second + static_cast<uint32_t>(bounds_nanos_.size()) + 2);  // the count
  }
  return sumSlot(s->second);
}

static std::string withLabel(const std::string& labels, const std::string& extra) {
  if (labels.empty()) {
    return "{" + extra + "}";
  }
  return "{" + labels + "," + extra + "}";
}

std::string Store::renderPrometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(64 * 1024);
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::kCounter ? "counter" : family.type == Type::kGauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, family.help, name, type);
    for (const auto& [labels, slot] : family.series) {
      if (family.type != Type::kHistogram) {
        out += fmt::format("{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", sumSlot(slot));
        continue;
      }
      int64_t cumulative = 0;
      for (size_t b = 0; b < bounds_nanos_.size(); ++b) {
        cumulative += sumSlot(slot + static_cast<uint32_t>(b));
        out += fmt::format("{}_bucket{} {}\n", name,
                           withLabel(labels, fmt::format("le=\"{}\"", static_cast<double>(bounds_nanos_[b]) / 1e9)),
                           cumulative);
      }
      uint32_t n = static_cast<uint32_t>(bounds_nanos_.size());
      cumulative += sumSlot(slot + n);
      out += fmt::format("{}_bucket{} {}\n", name, withLabel(labels, "le=\"+Inf\""), cumulative);
      std::string braces = labels.empty() ? "" : "{" + labels + "}";
      out += fmt::format("{}_sum{} {}\n", name, braces, static_cast<double>(sumSlot(slot + n + 1)) / 1e9);
      out += fmt::format("{}_count{} {}\n", name, braces, sumSlot(slot + n + 2));
    }
  }
  return out;
}

uint32_t StatusCounters::registerStatus(int status) const {
  Labels labels = labels_;
  bool known = status >= 100 && status <= 599;
  labels.emplace_back("status", known ? std::to_string(status) : std::string("other"));
  Counter c = Store::instance().counter(name_, labels, help_);
  size_t i = known ? static_cast<size_t>(status - 100) : kOtherIndex;
  // Two threads may race here; both get the same slot from the registry.
  slots_[i].store(c.slot_ + 1, std::memory_order_release);
  return c.slot_;
}

}  // namespace pier::stats
