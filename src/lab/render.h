#pragma once
// The files `pier lab up` writes: each pier's YAML, the lab state (so later
// commands act on the same lab) and the cluster key. Pure text in, text out.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "src/common/result.h"
#include "src/lab/plan.h"

namespace pier::lab {

// A node: listeners on the VIPs (announced with virtual_ips) and on its own
// address, all forwarding to its own pods, which it health-checks. Without
// options.vip it has no virtual_ips and listens on 0.0.0.0:80 instead.
std::string renderNodeConfig(const LabOptions& options, int node);

// A pod: one pier answering every request with "pod nodeN-podM\n".
std::string renderPodConfig(int node, int pod);

// "key=value" lines; parse rejects unknown keys and missing ones.
std::string renderState(const LabOptions& options);
Result<LabOptions> parseState(std::string_view text);

// Lower-case hex of the key bytes and a newline (the cluster key file format).
std::string hexKey(std::span<const uint8_t> bytes);

// "100ms", "1s": the duration as pier's config spells it.
std::string formatDuration(std::chrono::milliseconds d);
// "1500us", "100ms", "1s", "0.5s" (the lab's command-line durations); nullopt
// for anything else, negative or zero.
std::optional<std::chrono::microseconds> parseDuration(std::string_view text);

}  // namespace pier::lab
