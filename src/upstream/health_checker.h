#pragma once
// Active health checking for the control thread: probes every endpoint of the
// clusters that configure a health_check, on one event loop, and reports each
// real change of an endpoint's verdict. Probes of one endpoint never overlap;
// each probe owns one socket for at most `timeout`. Not thread-safe: use it
// only on its loop's thread (other threads go through Loop::post).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/config/config.h"
#include "src/event/loop.h"
#include "src/net/socket.h"
#include "src/upstream/health_schedule.h"

namespace pier::upstream {

struct HealthCheckTarget {
  std::string cluster;
  std::string endpoint;  // "127.0.0.1:8080": the key, and the default Host of http checks
  net::Address address;
};

struct HealthTransition {
  std::string cluster;
  std::string endpoint;
  bool healthy = true;
  // The probe that tipped the balance: "http status 500", "connect refused",
  // "timeout after 500ms", "expected 'PONG' not found (...)", "http status 200", ...
  std::string reason;
};

// One endpoint's state, for the admin API and status page.
struct HealthStatus {
  std::string cluster;
  std::string endpoint;
  bool healthy = true;
  uint32_t consecutive_passes = 0;
  uint32_t consecutive_failures = 0;
  uint64_t probes = 0;      // completed probes since the target (with this check) appeared
  std::string last_reason;  // of the last completed probe; empty before the first
  bool probing = false;     // a probe is in flight
};

class HealthProbe;
struct ProbeOutcome;

class HealthChecker {
 public:
  using OnTransition = std::function<void(const HealthTransition&)>;

  // `on_transition` runs on the loop; it may call update() or destroy the checker.
  HealthChecker(event::Loop& loop, OnTransition on_transition, uint64_t seed);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Replaces the set of targets (initially and on every config reload); call on
  // the loop's thread. A (cluster, endpoint) pair that stays with the same check
  // and address keeps everything: verdict, counts, schedule, in-flight probe.
  // One whose check or address changed keeps only its verdict (so a reload never
  // sends traffic to an endpoint known to be down, and no transition is
  // reported) and is probed afresh. New pairs start healthy. Both are first
  // probed after a random delay in [0, interval) so many endpoints don't fire at
  // once. Removed pairs stop: in-flight probes are cancelled, their sockets closed,
  // and no transition is reported. A pair listed twice uses its first entry.
  void update(std::vector<std::pair<config::HealthCheck, std::vector<HealthCheckTarget>>> clusters);

  // True for unknown pairs (not health checked means not known to be down).
  bool healthy(const std::string& cluster, const std::string& endpoint) const;
  size_t activeProbes() const;
  size_t targetCount() const;
  std::vector<HealthStatus> status() const;  // sorted by cluster, then endpoint

 private:
  struct Target;
  using EndpointMap = std::map<std::string, std::unique_ptr<Target>, std::less<>>;

  void schedule(Target& target, MonoTime at);
  void startProbe(Target& target);
  void onProbeDone(Target& target, ProbeOutcome outcome);
  void retire(Target& target);
  const Target* find(const std::string& cluster, const std::string& endpoint) const;

  event::Loop& loop_;
  OnTransition on_transition_;
  HealthSchedule schedule_;
  std::map<std::string, EndpointMap, std::less<>> clusters_;
};

}  // namespace pier::upstream
