// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a 65537-entry
// lookup table filled by letting hosts take turns claiming the next free slot
// of their own permutation. Lookups are one array read; each host owns a share
// of slots proportional to its weight. The table is built once: an unhealthy
// host's keys are rehashed onto other hosts while every other key stays put.
#include <algorithm>
#include <limits>

#include "src/upstream/load_balancer_internal.h"

namespace pier::upstream::internal {

namespace {

constexpr uint64_t kTableSize = 65537;      // prime, so every skip walks all slots
constexpr uint64_t kOffsetSeed = 0x4f4646;  // "OFF"
constexpr uint64_t kSkipSeed = 0x534b4950;  // "SKIP"
constexpr int kRehashes = 8;
constexpr size_t kQuickSteps = 32;

// Entry is uint16_t for clusters under 65535 hosts, halving the table.
template <typename Entry>
class Maglev final : public LoadBalancer {
 public:
  Maglev(const std::vector<Host>& hosts, uint64_t seed) : hosts_(hosts), fallback_(hosts, seed) { build(); }

  int pick(const PickContext& context) override {
    if (!context.has_hash) return fallback_.pick(context.avoid);
    if (table_.empty()) return -1;
    const int avoid = context.avoid;
    Entry host = table_[context.hash % kTableSize];
    if (eligible(hosts_, host, avoid)) return host;
    // Independent rehashes spread the lost host's keys over all the others
    // instead of piling them onto its table neighbours.
    for (uint64_t k = 1; k <= kRehashes; ++k) {
      host = table_[mix64(context.hash + k * 0x9e3779b97f4a7c15ULL) % kTableSize];
      if (eligible(hosts_, host, avoid)) return host;
    }
    size_t slot = context.hash % kTableSize;
    for (size_t step = 0; step < kTableSize; ++step) {
      if (step == kQuickSteps && !anyEligible(hosts_, avoid)) break;
      if (++slot == kTableSize) slot = 0;
      host = table_[slot];
      if (eligible(hosts_, host, avoid)) return host;
    }
    return lastResort(hosts_, avoid);
  }

 private:
  void build() {
    const size_t n = hosts_.size();
    if (n == 0) return;
    constexpr Entry kEmpty = std::numeric_limits<Entry>::max();
    table_.assign(kTableSize, kEmpty);
    std::vector<uint64_t> position(n), skip(n), credit(n, 0);
    uint64_t max_weight = 0;
    for (size_t i = 0; i < n; ++i) {
      // Permutations depend only on addresses, so every node builds the same table.
      position[i] = hostHash(hosts_[i].address, kOffsetSeed) % kTableSize;
      skip[i] = hostHash(hosts_[i].address, kSkipSeed) % (kTableSize - 1) + 1;
      max_weight = std::max<uint64_t>(max_weight, hosts_[i].weight);
    }
    // Hosts take turns in address order, not list order, so that every node
    // and worker builds the same table whatever order discovery listed them in.
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const config::SocketAddress& x = hosts_[a].address;
      const config::SocketAddress& y = hosts_[b].address;
      return x.host != y.host ? x.host < y.host : x.port < y.port;
    });
    // Each round a host earns its weight in credit and claims one slot per
    // max_weight of credit: the heaviest host claims every round.
    uint64_t filled = 0;
    while (filled < kTableSize) {
      for (size_t i : order) {
        if (filled == kTableSize) break;
        credit[i] += hosts_[i].weight;
        if (credit[i] < max_weight) continue;
        credit[i] -= max_weight;
        while (table_[position[i]] != kEmpty) position[i] = (position[i] + skip[i]) % kTableSize;
        table_[position[i]] = static_cast<Entry>(i);
        ++filled;
      }
    }
  }

  const std::vector<Host>& hosts_;
  std::vector<Entry> table_;
  WeightedRandom fallback_;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeMaglev(const std::vector<Host>& hosts, uint64_t seed) {
  if (hosts.size() < std::numeric_limits<uint16_t>::max())
    return std::make_unique<Maglev<uint16_t>>(hosts, seed);
  return std::make_unique<Maglev<uint32_t>>(hosts, seed);
}

}  // namespace pier::upstream::internal
