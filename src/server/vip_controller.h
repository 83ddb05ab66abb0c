#pragma once
// Connects the announcer (src/announce) to the rest of the process: starts it
// before the listeners bind (its local routes make the virtual IPs bindable),
// tells it which addresses this node may own from the clusters' health, and
// hands the addresses over on a graceful stop.
#include <memory>
#include <set>
#include <string>

#include "src/announce/announcer.h"
#include "src/common/result.h"
#include "src/config/config.h"
#include "src/proxy/snapshot.h"

namespace pier::server {

class VipController {
 public:
  // nullptr when the config has no virtual_ips.
  static Result<std::unique_ptr<VipController>> create(const config::Config& config);
  ~VipController();

  Status start();
  // The snapshot's health changed, or a new snapshot: recompute eligibility.
  void update(const proxy::Snapshot& snapshot);
  Status reload(const config::Config& config);
  // SIGTERM: stop answering and let the peers take over now; traffic already
  // here is still served until the drain ends.
  void handOver();
  // At exit: routes and sysctls are restored.
  void stop();
  announce::AnnouncerStatus status() const;

  // The addresses whose services have a healthy endpoint (or no clusters to
  // watch), as the announcer's eligibility input. Exposed for tests.
  static std::set<std::string> eligibleIps(const config::VirtualIps& vips, const proxy::Snapshot& snapshot);

 private:
  VipController(std::unique_ptr<announce::Host> host, std::unique_ptr<announce::Announcer> announcer);
  std::unique_ptr<announce::Host> host_;
  std::unique_ptr<announce::Announcer> announcer_;
};

}  // namespace pier::server
