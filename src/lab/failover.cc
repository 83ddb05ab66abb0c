#include "src/lab/failover.h"

#include <algorithm>
#include <vector>

#include "src/lab/plan.h"

namespace pier::lab {

FaultOutcome analyzeFault(std::span<const ProbeResult> results, int64_t fault_ns, int64_t window_end_ns,
                          int old_node) {
  FaultOutcome out;
  std::vector<const ProbeResult*> sorted;
  for (const auto& r : results) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const ProbeResult* a, const ProbeResult* b) { return a->end_ns < b->end_ns; });
  std::optional<int64_t> last_ok;  // end of the latest success seen so far
  for (const ProbeResult* r : sorted) {
    if (r->end_ns > window_end_ns) break;
    if (r->end_ns < fault_ns) {
      if (r->ok) last_ok = r->end_ns;
      continue;
    }
    if (!r->ok) {
      ++out.failed;
      continue;
    }
    ++out.ok;
    out.longest_gap_ns = std::max(out.longest_gap_ns, r->end_ns - last_ok.value_or(fault_ns));
    last_ok = r->end_ns;
    auto node = nodeOfLabel(r->detail);
    if (!out.to_new_owner_ns && node && *node != old_node) {
      out.to_new_owner_ns = r->end_ns - fault_ns;
      out.new_node = node;
    }
  }
  // No success at all after the fault: the gap runs to the end of the window.
  if (out.ok == 0) out.longest_gap_ns = window_end_ns - (last_ok ? *last_ok : fault_ns);
  return out;
}

}  // namespace pier::lab
