#pragma once
// How an L4 session (TCP or UDP) chooses its upstream endpoint. The worker
// implements it over a cluster's load balancer and health state; keeping it
// an interface lets the sessions be tested with a fixed list of addresses.
//
// Sessions hold the picker by shared_ptr so that a config reload can replace
// the worker's picker while older sessions finish with the one they started on.
#include <optional>

#include "src/net/socket.h"

namespace pier::l4 {

struct PickedEndpoint {
  int index = -1;  // the picker's own endpoint id, handed back in the callbacks
  net::Address address;
};

class UpstreamPicker {
 public:
  virtual ~UpstreamPicker() = default;
  // The endpoint for try number `attempt` (0-based); `previous` is the one
  // that just failed (-1 on the first try), so a picker can avoid it.
  // `client` is the real client (after a PROXY header), for hashing.
  // nullopt: nothing (left) to try.
  virtual std::optional<PickedEndpoint> pick(int attempt, int previous, const net::Address& client) = 0;
  // TCP: whether the connect succeeded. UDP: true on the session's first
  // reply, false when the endpoint answered with an ICMP error. For passive
  // health checks and stats.
  virtual void onConnectResult(int endpoint, bool ok) = 0;
  // The session that used `endpoint` (after a successful connect) ended;
  // pairs with a successful pick for least-connection balancing.
  virtual void onSessionDone(int endpoint) = 0;
};

}  // namespace pier::l4
