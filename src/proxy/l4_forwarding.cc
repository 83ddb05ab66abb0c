#include "src/proxy/l4_forwarding.h"

#include "src/proxy/cluster_state.h"
#include "src/proxy/worker.h"

namespace pier::proxy {

std::optional<l4::PickedEndpoint> ClusterPicker::pick(int attempt, int previous, const net::Address& client) {
  auto* state = worker_.clusterByName(cluster_);
  if (state == nullptr || attempt >= static_cast<int>(state->size())) {
    return std::nullopt;
  }
  upstream::PickContext context;
  context.avoid = previous;
  if (state->config().lb == config::LbPolicy::kRingHash || state->config().lb == config::LbPolicy::kMaglev) {
    context.hash = upstream::hashKey(client.ipText());
    context.has_hash = true;
  }
  int host = state->pick(context, worker_.loop().now());
  if (host < 0) {
    return std::nullopt;
  }
  const auto& ep = state->endpoint(host);
  ep.requests.add();
  return l4::PickedEndpoint{host, ep.address};
}

void ClusterPicker::onConnectResult(int endpoint, bool ok) {
  auto* state = worker_.clusterByName(cluster_);
  if (state == nullptr || endpoint < 0 || endpoint >= static_cast<int>(state->size())) {
    return;
  }
  if (!ok) {
    state->info().connect_failures.add();
    state->endpoint(endpoint).connect_failures.add();
  } else {
    state->info().connections.add();
    state->endpoint(endpoint).connections.add();
  }
  state->recordOutcome(endpoint, ok ? UpstreamOutcome::kSuccess : UpstreamOutcome::kConnectFailure,
                       worker_.loop().now());
}

void ClusterPicker::onSessionDone(int) {}

l4::TcpSessionOptions tcpSessionOptions(const ListenerInfo& listener, const ClusterInfo& cluster) {
  const auto& l = *listener.config;
  const auto& c = *cluster.config;
  l4::TcpSessionOptions o;
  o.connect_timeout = c.connect_timeout;
  o.idle_timeout = l.tcp_idle_timeout;
  o.max_connect_attempts = static_cast<int>(std::max<size_t>(1, c.endpoints.size()));
  o.accept_proxy_header = l.accept_proxy_protocol;
  switch (c.send_proxy_protocol) {
    case config::Cluster::ProxyProtocol::kNone:
      o.send_proxy_header = l4::SendProxyHeader::kNone;
      break;
    case config::Cluster::ProxyProtocol::kV1:
      o.send_proxy_header = l4::SendProxyHeader::kV1;
      break;
    case config::Cluster::ProxyProtocol::kV2:
      o.send_proxy_header = l4::SendProxyHeader::kV2;
      break;
  }
  o.bytes_to_upstream_counter = listener.bytes_received;
  o.bytes_to_downstream_counter = listener.bytes_sent;
  return o;
}

l4::UdpProxyOptions udpProxyOptions(const ListenerInfo& listener) {
  l4::UdpProxyOptions o;
  o.idle_timeout = listener.config->tcp_idle_timeout;
  o.bytes_to_upstream_counter = listener.bytes_received;
  o.bytes_to_downstream_counter = listener.bytes_sent;
  o.sessions_created_counter = listener.connections;
  o.active_sessions_gauge = listener.active_connections;
  return o;
}

}  // namespace pier::proxy
