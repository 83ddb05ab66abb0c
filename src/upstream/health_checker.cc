#include "src/upstream/health_checker.h"

#include <algorithm>
#include <cstring>

#include "src/upstream/health_probe.h"

namespace pier::upstream {
namespace {

// Field by field: config::HealthCheck has no operator== (a defaulted one there
// would replace this).
bool sameCheck(const config::HealthCheck& a, const config::HealthCheck& b) {
  return a.kind == b.kind && a.interval == b.interval && a.timeout == b.timeout && a.jitter == b.jitter &&
         a.healthy_threshold == b.healthy_threshold && a.unhealthy_threshold == b.unhealthy_threshold &&
         a.path == b.path && a.host == b.host && a.expected_statuses == b.expected_statuses &&
         a.send == b.send && a.expect == b.expect;
}

bool sameAddress(const net::Address& a, const net::Address& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

}  // namespace

struct HealthChecker::Target {
  Target(HealthChecker& checker, HealthCheckTarget t, std::shared_ptr<const config::HealthCheck> c)
      : target(std::move(t)),
        check(std::move(c)),
        host(check->host.empty() ? target.endpoint : check->host),
        timer(checker.loop_, [&checker, this] { checker.startProbe(*this); }) {}

  HealthCheckTarget target;
  std::shared_ptr<const config::HealthCheck> check;
  std::string host;  // of http probes
  bool healthy = true;
  uint32_t passes = 0;    // consecutive
  uint32_t failures = 0;  // consecutive
  uint64_t probes = 0;
  std::string last_reason;
  MonoTime next_due{};  // start of the next probe, drawn when the current one started
  std::unique_ptr<HealthProbe> probe;
  event::Timer timer;  // armed only while no probe is in flight
};

HealthChecker::HealthChecker(event::Loop& loop, OnTransition on_transition, uint64_t seed)
    : loop_(loop), on_transition_(std::move(on_transition)), schedule_(seed) {}

HealthChecker::~HealthChecker() {
  for (auto& [name, endpoints] : clusters_) {
    for (auto& [endpoint, target] : endpoints) {
      retire(*target);
    }
  }
}

void HealthChecker::update(
    std::vector<std::pair<config::HealthCheck, std::vector<HealthCheckTarget>>> clusters) {
  std::map<std::string, EndpointMap, std::less<>> next;
  for (auto& [check_config, targets] : clusters) {
    auto check = std::make_shared<const config::HealthCheck>(std::move(check_config));
    for (auto& t : targets) {
      auto& slot = next[t.cluster][t.endpoint];
      if (slot) continue;  // listed twice: the first entry wins
      std::unique_ptr<Target> old;
      if (auto c = clusters_.find(t.cluster); c != clusters_.end()) {
        if (auto e = c->second.find(t.endpoint); e != c->second.end()) {
          old = std::move(e->second);
          c->second.erase(e);
        }
      }
      if (old && sameCheck(*old->check, *check) && sameAddress(old->target.address, t.address)) {
        slot = std::move(old);
        continue;
      }
      auto fresh = std::make_unique<Target>(*this, std::move(t), check);
      if (old) {
        fresh->healthy = old->healthy;
        retire(*old);
      }
      schedule(*fresh, loop_.now() + schedule_.initialDelay(check->interval));
      slot = std::move(fresh);
    }
  }
  for (auto& [name, endpoints] : clusters_) {
    for (auto& [endpoint, target] : endpoints) {
      retire(*target);
    }
  }
  clusters_ = std::move(next);
}

void HealthChecker::retire(Target& target) {
  target.timer.cancel();
  if (target.probe) {
    target.probe->cancel();
    // An event for its socket may still be queued in this loop iteration.
    loop_.deferDelete(std::move(target.probe));
  }
}

void HealthChecker::schedule(Target& target, MonoTime at) { target.timer.armAt(at); }

void HealthChecker::startProbe(Target& target) {
  const config::HealthCheck& check = *target.check;
  target.next_due = loop_.now() + schedule_.period(check.interval, check.jitter);
  Target* t = &target;
  target.probe =
      std::make_unique<HealthProbe>(loop_, target.check, target.target.address, target.host,
                                    [this, t](ProbeOutcome outcome) { onProbeDone(*t, std::move(outcome)); });
  target.probe->start();
}

void HealthChecker::onProbeDone(Target& target, ProbeOutcome outcome) {
  loop_.deferDelete(std::move(target.probe));
  ++target.probes;
  const config::HealthCheck& check = *target.check;
  bool changed = false;
  if (outcome.pass) {
    ++target.passes;
    target.failures = 0;
    if (!target.healthy && target.passes >= std::max<uint32_t>(check.healthy_threshold, 1)) {
      target.healthy = true;
      changed = true;
    }
  } else {
    ++target.failures;
    target.passes = 0;
    if (target.healthy && target.failures >= std::max<uint32_t>(check.unhealthy_threshold, 1)) {
      target.healthy = false;
      changed = true;
    }
  }
  target.last_reason = outcome.reason;
  // A probe that outlasted its slot (timeout >= interval) skips it: the next
  // one starts a full period after this one ended, never back to back.
  const MonoTime now = loop_.now();
  schedule(target,
           target.next_due > now ? target.next_due : now + schedule_.period(check.interval, check.jitter));
  if (!changed || !on_transition_) return;
  HealthTransition transition{target.target.cluster, target.target.endpoint, target.healthy,
                              std::move(outcome.reason)};
  // Nothing below may touch `this` or `target`: the callback may update() or
  // destroy the checker, so it runs from a copy.
  OnTransition notify = on_transition_;
  notify(transition);
}

const HealthChecker::Target* HealthChecker::find(const std::string& cluster,
                                                 const std::string& endpoint) const {
  auto c = clusters_.find(cluster);
  if (c == clusters_.end()) return nullptr;
  auto e = c->second.find(endpoint);
  return e == c->second.end() ? nullptr : e->second.get();
}

bool HealthChecker::healthy(const std::string& cluster, const std::string& endpoint) const {
  const Target* t = find(cluster, endpoint);
  return t == nullptr || t->healthy;
}

size_t HealthChecker::activeProbes() const {
  size_t n = 0;
  for (const auto& [name, endpoints] : clusters_) {
    for (const auto& [endpoint, target] : endpoints) {
      n += target->probe && target->probe->running() ? 1 : 0;
    }
  }
  return n;
}

size_t HealthChecker::targetCount() const {
  size_t n = 0;
  for (const auto& [name, endpoints] : clusters_) n += endpoints.size();
  return n;
}

std::vector<HealthStatus> HealthChecker::status() const {
  std::vector<HealthStatus> out;
  for (const auto& [name, endpoints] : clusters_) {
    for (const auto& [endpoint, t] : endpoints) {
      out.push_back(HealthStatus{t->target.cluster, t->target.endpoint, t->healthy, t->passes, t->failures,
                                 t->probes, t->last_reason, t->probe != nullptr && t->probe->running()});
    }
  }
  return out;
}

}  // namespace pier::upstream
