#pragma once
// The prober: from inside the client namespace, starts a new HTTP request
// every interval (1-2 ms), each on its own connection with a short timeout,
// with many in flight, and reports each one's outcome and which pod answered.
// A request that hangs (sent to a dead node's MAC) does not delay the next
// one, so the first success after a failover is seen within one interval.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "src/common/result.h"
#include "src/lab/http_client.h"

namespace pier::lab {

struct ProbeOptions {
  Url url;
  std::chrono::microseconds interval{1000};
  std::chrono::milliseconds timeout{100};
  size_t max_in_flight = 512;
  uint64_t max_attempts = 0;  // 0: until stopped
};

struct ProbeResult {
  int64_t start_ns = 0;  // CLOCK_MONOTONIC, comparable across processes
  int64_t end_ns = 0;
  bool ok = false;
  // ok: what the pod said, without "pod " ("node2-pod1"); else the failure:
  // refused, reset, timeout, unreachable, eof, bad-response, status-NNN, or errno text.
  std::string detail;
};

int64_t monotonicNs();

// "pod node2-pod1\n" -> "node2-pod1"
std::string labelFromBody(std::string_view body);

// One line per result: "<start_ns> <end_ns> ok node2-pod1" / "... fail refused".
std::string formatRaw(const ProbeResult& r);

// What a transition is: success via another node, or failure vs success.
// "ok node2", "ok ?" (an unlabelled answer) or "fail".
std::string transitionKey(const ProbeResult& r);

class Prober {
 public:
  explicit Prober(ProbeOptions options) : options_(std::move(options)) {}

  // Runs in the calling thread (and its network namespace) until `stop_fd`
  // is readable, `until_ns` (CLOCK_MONOTONIC; 0: none) passes, or
  // max_attempts have finished. Requests still in flight at the end are
  // abandoned without a result. `sink` gets every result as it finishes.
  Status run(int stop_fd, int64_t until_ns, const std::function<void(const ProbeResult&)>& sink);

 private:
  ProbeOptions options_;
};

}  // namespace pier::lab
