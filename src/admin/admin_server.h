#pragma once
// The admin HTTP listener, run on the control thread: /ready, /stats/prometheus,
// /config and /clusters. Small and strict: one request per connection, GET only.
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "src/event/loop.h"
#include "src/net/socket.h"
#include "src/proxy/snapshot.h"

namespace pier::admin {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// What the admin endpoints read; provided by the server.
class AdminSource {
 public:
  virtual ~AdminSource() = default;
  virtual std::shared_ptr<const proxy::Snapshot> currentSnapshot() const = 0;
  virtual bool ready() const = 0;
  // The virtual IPs' state (owner per address, members) as JSON, or null
  // when the config has no virtual_ips.
  virtual nlohmann::json virtualIps() const { return nullptr; }
};

// Routes one admin request (exposed for unit tests).
AdminResponse handleAdminRequest(std::string_view method, std::string_view path, const AdminSource& source);

class AdminServer final : public event::IoHandler {
 public:
  AdminServer(event::Loop& loop, net::Fd listen_fd, const AdminSource& source);
  ~AdminServer() override;

  void onIoEvent(uint32_t events) override;

 private:
  class Connection;
  void closeConnection(Connection& connection);

  event::Loop& loop_;
  net::Fd fd_;
  const AdminSource& source_;
  std::unordered_set<Connection*> connections_;
};

}  // namespace pier::admin
