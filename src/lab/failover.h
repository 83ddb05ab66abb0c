#pragma once
// What the prober's results say about one fault: how long until a request
// succeeded through another node, how many failed, and the longest time with
// no success at all. Used by the demo; bench/lib/vip_trials.py applies the
// same definitions to `pier lab probe` output.
#include <cstdint>
#include <optional>
#include <span>

#include "src/lab/probe.h"

namespace pier::lab {

struct FaultOutcome {
  // First request that ended ok via a node other than `old_node`, at or after
  // the fault: its end minus the fault time. nullopt: none in the window.
  std::optional<int64_t> to_new_owner_ns;
  std::optional<int> new_node;
  // Requests that ended in failure within [fault, window_end].
  uint64_t failed = 0;
  uint64_t ok = 0;
  // The longest stretch without a successful request ending, measured from
  // the last success before the fault until window_end (or the last success).
  int64_t longest_gap_ns = 0;
};

// `results` in any order. old_node: the owner before the fault.
FaultOutcome analyzeFault(std::span<const ProbeResult> results, int64_t fault_ns, int64_t window_end_ns,
                          int old_node);

}  // namespace pier::lab
