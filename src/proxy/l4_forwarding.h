#pragma once
// Glue between pier's L4 sessions (src/l4) and a worker's clusters: the
// endpoint picker, and the options each listener's sessions run with.
#include <memory>
#include <string>

#include "src/l4/tcp_session.h"
#include "src/l4/udp_proxy.h"
#include "src/l4/upstream_picker.h"
#include "src/proxy/snapshot.h"

namespace pier::proxy {

class Worker;

// Picks endpoints of one cluster, by name, from the worker's newest config:
// sessions that outlive a reload keep working with current health.
class ClusterPicker final : public l4::UpstreamPicker {
 public:
  ClusterPicker(Worker& worker, std::string cluster) : worker_(worker), cluster_(std::move(cluster)) {}

  std::optional<l4::PickedEndpoint> pick(int attempt, int previous, const net::Address& client) override;
  void onConnectResult(int endpoint, bool ok) override;
  void onSessionDone(int endpoint) override;

 private:
  Worker& worker_;
  std::string cluster_;
};

l4::TcpSessionOptions tcpSessionOptions(const ListenerInfo& listener, const ClusterInfo& cluster);
l4::UdpProxyOptions udpProxyOptions(const ListenerInfo& listener);

}  // namespace pier::proxy
