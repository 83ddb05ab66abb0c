#include "src/proxy/cluster_state.h"

#include <algorithm>

#include "src/common/log.h"

namespace pier::proxy {

ClusterState::ClusterState(std::shared_ptr<const Snapshot> snapshot, const ClusterInfo& info,
                           std::vector<EndpointPool*> pools, uint64_t seed)
    : snapshot_(std::move(snapshot)), info_(&info), outlier_(info.endpoints.size()), pools_(std::move(pools)) {
  hosts_.reserve(info.endpoints.size());
  for (size_t i = 0; i < info.endpoints.size(); ++i) {
    upstream::Host host;
    host.address = info.endpoints[i].config;
    host.weight = info.config->endpoints[i].weight;
    hosts_.push_back(host);
  }
  lb_ = upstream::makeLoadBalancer(info.config->lb, hosts_, seed);
}

ClusterState::~ClusterState() {
  for (size_t i = 0; i < outlier_.size(); ++i) {
    if (outlier_[i].ejected) {
      info_->endpoints[i].ejected.add(-1);
    }
  }
}

void ClusterState::inheritOutliers(const ClusterState& previous) {
  for (size_t i = 0; i < hosts_.size(); ++i) {
    for (size_t j = 0; j < previous.hosts_.size(); ++j) {
      if (previous.info_->endpoints[j].name != info_->endpoints[i].name) {
        continue;
      }
      outlier_[i] = previous.outlier_[j];
      if (outlier_[i].ejected) {
        ++ejected_count_;
        info_->endpoints[i].ejected.add(1);
        next_unejection_ = std::min(next_unejection_, outlier_[i].ejected_until);
      }
    }
  }
}

void ClusterState::refresh(MonoTime now) {
  uint64_t generation = info_->health->generation();
  bool unejection_due = now >= next_unejection_;
  if (generation == seen_generation_ && !unejection_due) {
    return;
  }
  seen_generation_ = generation;
  next_unejection_ = MonoTime::max();
  size_t usable = 0;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    auto& o = outlier_[i];
    if (o.ejected && now >= o.ejected_until) {
      o.ejected = false;
      o.consecutive_5xx = o.consecutive_gateway = 0;
      --ejected_count_;
      info_->endpoints[i].ejected.add(-1);
      PIER_LOG_INFO("cluster {}: endpoint {} back in rotation after ejection", info_->config->name,
                    info_->endpoints[i].name);
    }
    if (o.ejected) {
      next_unejection_ = std::min(next_unejection_, o.ejected_until);
    }
    bool ok = info_->health->healthy(i) && !o.ejected;
    hosts_[i].healthy = ok;
    usable += ok ? 1 : 0;
  }
  // Panic: with too few usable endpoints, spreading load over all of them
  // beats overloading the last few (Envoy's panic threshold).
  uint32_t threshold = info_->config->panic_threshold_percent;
  panic_ = hosts_.size() > 0 && usable * 100 < threshold * hosts_.size();
  if (panic_) {
    for (auto& h : hosts_) {
      h.healthy = true;
    }
  }
}

int ClusterState::pick(upstream::PickContext context, MonoTime now) {
  refresh(now);
  if (panic_) {
    info_->panic.add();
  }
  return lb_->pick(context);
}

void ClusterState::onRequestStart(int host) {
  ++active_requests_;
  ++hosts_[static_cast<size_t>(host)].active_requests;
  info_->endpoints[static_cast<size_t>(host)].active_requests.add(1);
  info_->endpoints[static_cast<size_t>(host)].requests.add();
}

void ClusterState::onRequestEnd(int host) {
  --active_requests_;
  --hosts_[static_cast<size_t>(host)].active_requests;
  info_->endpoints[static_cast<size_t>(host)].active_requests.add(-1);
}

void ClusterState::recordOutcome(int host, UpstreamOutcome outcome, MonoTime now) {
  const auto& od = info_->config->outlier_detection;
  if (!od.enabled) {
    return;
  }
  auto& o = outlier_[static_cast<size_t>(host)];
  switch (outcome) {
    case UpstreamOutcome::kSuccess:
      o.consecutive_5xx = 0;
      o.consecutive_gateway = 0;
      return;
    case UpstreamOutcome::kServerError:
      ++o.consecutive_5xx;
      o.consecutive_gateway = 0;
      break;
    case UpstreamOutcome::kGatewayError:
      ++o.consecutive_5xx;
      ++o.consecutive_gateway;
      break;
    case UpstreamOutcome::kConnectFailure:
    case UpstreamOutcome::kReset:
    case UpstreamOutcome::kTimeout:
      ++o.consecutive_gateway;
      break;
  }
  if (o.ejected) {
    return;
  }
  if (od.consecutive_5xx != 0 && o.consecutive_5xx >= od.consecutive_5xx) {
    eject(host, now, "consecutive 5xx");
  } else if (od.consecutive_gateway_failure != 0 && o.consecutive_gateway >= od.consecutive_gateway_failure) {
    eject(host, now, "consecutive gateway failures");
  }
}

void ClusterState::eject(int host, MonoTime now, const char* why) {
  const auto& od = info_->config->outlier_detection;
  size_t cap = std::max<size_t>(1, hosts_.size() * od.max_ejection_percent / 100);
  auto& o = outlier_[static_cast<size_t>(host)];
  if (ejected_count_ >= cap) {
    return;
  }
  ++o.ejections;
  auto duration = std::min<Duration>(od.base_ejection_time * o.ejections, od.max_ejection_time);
  o.ejected = true;
  o.ejected_until = now + duration;
  ++ejected_count_;
  const auto& ep = info_->endpoints[static_cast<size_t>(host)];
  ep.ejections.add();
  ep.ejected.add(1);
  PIER_LOG_WARN("cluster {}: endpoint {} ejected for {} ms ({}, ejection #{})", info_->config->name, ep.name,
                std::chrono::duration_cast<std::chrono::milliseconds>(duration).count(), why, o.ejections);
  seen_generation_ = UINT64_MAX;  // recompute on the next pick
  next_unejection_ = std::min(next_unejection_, o.ejected_until);
}

}  // namespace pier::proxy
