#include "src/admin/admin_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/config/loader.h"
#include "src/http/codec.h"
#include "src/stats/metrics.h"

namespace pier::admin {
namespace {

AdminResponse clustersJson(const proxy::Snapshot& snap) {
  auto& store = stats::Store::instance();
  nlohmann::json clusters = nlohmann::json::array();
  for (const auto& c : snap.clusters()) {
    nlohmann::json endpoints = nlohmann::json::array();
    for (size_t i = 0; i < c.endpoints.size(); ++i) {
      const auto& ep = c.endpoints[i];
      stats::Labels labels{{"cluster", c.config->name}, {"endpoint", ep.name}};
      bool healthy = c.health->healthy(i);
      int64_t ejected = store.value("pier_endpoint_ejected", labels);
      const char* state = !healthy ? "unhealthy" : ejected > 0 ? "ejected" : "healthy";
      endpoints.push_back({{"address", ep.name},
                           {"weight", c.config->endpoints[i].weight},
                           {"healthy", healthy},
                           {"ejected_by_workers", ejected},
                           {"ejections_total", store.value("pier_endpoint_ejections_total", labels)},
                           {"state", state},
                           {"active_requests", store.value("pier_endpoint_active_requests", labels)},
                           {"requests_total", store.value("pier_endpoint_requests_total", labels)},
                           {"connect_failures_total", store.value("pier_endpoint_connect_failures_total", labels)},
                           {"connections_total", store.value("pier_endpoint_connections_total", labels)}});
    }
    clusters.push_back({{"name", c.config->name}, {"lb", config::toString(c.config->lb)}, {"endpoints", endpoints}});
  }
  nlohmann::json out = {{"clusters", clusters}};
  return {200, "application/json", out.dump(2) + "\n"};
}

constexpr std::string_view kIndex =
    "pier admin\n"
    "  /ready              200 when serving, 503 while starting or draining\n"
    "  /stats/prometheus   metrics in Prometheus text format\n"
    "  /config             the running configuration as JSON\n"
    "  /clusters           clusters, endpoints and their state as JSON\n"
    "  /vips               virtual IPs: owner of each address, cluster members (with virtual_ips)\n";

}  // namespace

AdminResponse handleAdminRequest(std::string_view method, std::string_view path, const AdminSource& source) {
  if (method != "GET" && method != "HEAD") {
    return {405, "text/plain; charset=utf-8", "only GET\n"};
  }
  auto snap = source.currentSnapshot();
  if (path == "/ready") {
    if (source.ready()) {
      return {200, "text/plain; charset=utf-8", "ready\n"};
    }
    return {503, "text/plain; charset=utf-8", "not ready\n"};
  }
  if (path == "/stats/prometheus" || path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", stats::Store::instance().renderPrometheus()};
  }
  if (path == "/config" && snap) {
    return {200, "application/json", config::toJson(snap->config()).dump(2) + "\n"};
  }
  if (path == "/clusters" && snap) {
    return clustersJson(*snap);
  }
  if (path == "/vips") {
    auto vips = source.virtualIps();
    if (vips.is_null()) {
      return {404, "text/plain; charset=utf-8", "no virtual_ips configured\n"};
    }
    return {200, "application/json", vips.dump(2) + "\n"};
  }
  if (path == "/") {
    return {200, "text/plain; charset=utf-8", std::string(kIndex)};
  }
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

class AdminServer::Connection final : public event::IoHandler, public event::Deletable {
 public:
  Connection(AdminServer& server, net::Fd fd) : server_(server), fd_(std::move(fd)), parser_(http::ParseLimits{}),
        timer_(server.loop_, [this] { server_.closeConnection(*this); }) {
    server_.loop_.add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    timer_.armAfter(std::chrono::seconds(10));
  }
  ~Connection() override = default;
  int fd() const { return fd_.get(); }

  void onIoEvent(uint32_t events) override {
    if (closed_) {
      return;
    }
    if (events & EPOLLERR) {
      server_.closeConnection(*this);
      return;
    }
    if (responded_) {
      flush();
      return;
    }
    while (true) {
      auto r = net::readSome(fd_.get(), in_, 16 * 1024);
      if (r.status == net::IoStatus::kWouldBlock) {
        break;
      }
      if (r.status != net::IoStatus::kOk) {
        server_.closeConnection(*this);
        return;
      }
      http::RequestHead head;
      auto s = parser_.parse(in_.readable(), head);
      if (s == http::ParseStatus::kIncomplete) {
        continue;
      }
      AdminResponse resp = s == http::ParseStatus::kError
                               ? AdminResponse{parser_.failure().status, "text/plain", "bad request\n"}
                               : handleAdminRequest(head.method, head.path(), server_.source_);
      bool head_only = s == http::ParseStatus::kComplete && head.method == "HEAD";
      out_.append(fmt::format("HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                              resp.status, http::reasonPhrase(resp.status), resp.content_type, resp.body.size()));
      if (!head_only) {
        out_.append(resp.body);
      }
      responded_ = true;
      flush();
      return;
    }
  }

 private:
  void flush() {
    auto r = net::writeSome(fd_.get(), out_);
    if (r.status == net::IoStatus::kError || out_.empty()) {
      server_.closeConnection(*this);
    }
  }

  AdminServer& server_;
  net::Fd fd_;
  Buffer in_;
  Buffer out_;
  http::RequestParser parser_;
  event::Timer timer_;
  bool responded_ = false;

 public:
  bool closed_ = false;
};

AdminServer::AdminServer(event::Loop& loop, net::Fd listen_fd, const AdminSource& source)
    : loop_(loop), fd_(std::move(listen_fd)), source_(source) {
  loop_.add(fd_.get(), *this, EPOLLIN);
}

AdminServer::~AdminServer() {
  loop_.remove(fd_.get());
  for (auto* c : connections_) {
    delete c;  // NOLINT: owned through connections_
  }
}

void AdminServer::onIoEvent(uint32_t) {
  while (true) {
    int fd = accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    auto* c = new Connection(*this, net::Fd(fd));  // NOLINT: owned through connections_
    connections_.insert(c);
    c->onIoEvent(EPOLLIN);
  }
}

void AdminServer::closeConnection(Connection& connection) {
  if (connections_.erase(&connection) == 0) {
    return;
  }
  connection.closed_ = true;
  loop_.remove(connection.fd());
  // Deleting later: this may run inside the connection's own handler.
  loop_.deferDelete(std::unique_ptr<event::Deletable>(&connection));
}

}  // namespace pier::admin
