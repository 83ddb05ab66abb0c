#include "src/server/vip_controller.h"

#include <fmt/format.h>

#include "src/common/log.h"

namespace pier::server {
namespace {

// The clusters a service's health is judged by: its own list, or those of the
// listeners that serve its ports.
std::set<std::string> watchedClusters(const config::VipService& service, const config::Config& config) {
  std::set<std::string> out(service.clusters.begin(), service.clusters.end());
  if (!out.empty()) {
    return out;
  }
  for (const auto& port : service.ports) {
    for (const auto& l : config.listeners) {
      if (l.name != port.listener) continue;
      if (!l.cluster.empty()) out.insert(l.cluster);
      for (const auto& vh : l.virtual_hosts) {
        for (const auto& r : vh.routes) {
          if (!r.cluster.empty()) out.insert(r.cluster);
          for (const auto& w : r.weighted_clusters) out.insert(w.cluster);
        }
      }
    }
  }
  return out;
}

bool anyHealthy(const proxy::Snapshot& snapshot, const std::string& cluster) {
  int index = snapshot.clusterIndex(cluster);
  if (index < 0) return false;
  const auto& c = snapshot.clusters()[static_cast<size_t>(index)];
  for (size_t i = 0; i < c.endpoints.size(); ++i) {
    if (c.health->healthy(i)) return true;
  }
  return false;
}

}  // namespace

std::set<std::string> VipController::eligibleIps(const config::VirtualIps& vips, const proxy::Snapshot& snapshot) {
  std::set<std::string> out;
  for (const auto& service : vips.services) {
    auto clusters = watchedClusters(service, snapshot.config());
    bool healthy = clusters.empty();
    for (const auto& c : clusters) {
      healthy = healthy || anyHealthy(snapshot, c);
    }
    if (healthy) out.insert(service.assigned);
  }
  // Pool addresses no service uses are announced whenever the node is up.
  std::set<std::string> used;
  for (const auto& service : vips.services) used.insert(service.assigned);
  for (const auto& pool : vips.pools) {
    for (const auto& a : pool.addresses) {
      if (!used.count(a)) out.insert(a);
    }
  }
  return out;
}

Result<std::unique_ptr<VipController>> VipController::create(const config::Config& config) {
  const auto& vips = config.virtual_ips;
  if (!vips.enabled) {
    return std::unique_ptr<VipController>();
  }
  auto key = vip::ClusterKey::load(vips.key_file);
  if (!key) {
    return Error{fmt::format("virtual_ips.key_file: {}", key.error())};
  }
  auto host = announce::makeLinuxHost();
  auto announcer = announce::Announcer::create(*host, vips, std::move(key.value()));
  if (!announcer) {
    return Error{fmt::format("virtual_ips: {}", announcer.error())};
  }
  return std::unique_ptr<VipController>(new VipController(std::move(host), std::move(announcer.value())));
}

VipController::VipController(std::unique_ptr<announce::Host> host, std::unique_ptr<announce::Announcer> announcer)
    : host_(std::move(host)), announcer_(std::move(announcer)) {}

VipController::~VipController() {
  announcer_.reset();  // before the host it uses
}

Status VipController::start() { return announcer_->start(); }

void VipController::update(const proxy::Snapshot& snapshot) {
  announcer_->setEligibleIps(eligibleIps(snapshot.config().virtual_ips, snapshot));
}

Status VipController::reload(const config::Config& config) { return announcer_->reload(config.virtual_ips); }

void VipController::handOver() { announcer_->handOver(); }

void VipController::stop() { announcer_->stop(true); }

announce::AnnouncerStatus VipController::status() const { return announcer_->status(); }

}  // namespace pier::server
