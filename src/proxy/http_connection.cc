#include "src/proxy/http_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "src/common/log.h"
#include "src/proxy/access_log.h"
#include "src/proxy/message_writer.h"
#include "src/proxy/worker.h"
#include "src/router/router.h"

namespace pier::proxy {
namespace {

// Above this much unsent data in a buffer, stop reading from the other side.
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

http::ParseLimits limitsFor(const config::Listener& l) {
  http::ParseLimits p;
  p.max_head_bytes = l.limits.max_request_headers_bytes;
  p.max_headers = l.limits.max_headers;
  p.max_chunk_extension_bytes = l.limits.max_chunk_extension_bytes;
  return p;
}

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" || method == "DELETE" ||
         method == "TRACE";
}

uint64_t hashForRequest(const config::HashOn& on, const http::RequestHead& head, std::string_view client_ip,
                        bool& has_hash) {
  has_hash = true;
  switch (on.kind) {
    case config::HashOn::Kind::kSourceIp:
      return upstream::hashKey(client_ip);
    case config::HashOn::Kind::kHeader:
      if (const auto* h = http::findHeader(head.headers, on.name)) {
        return upstream::hashKey(h->value);
      }
      break;
    case config::HashOn::Kind::kCookie:
      for (const auto& h : head.headers) {
        if (!http::iequals(h.name, "cookie")) {
          continue;
        }
        std::string_view v = h.value;
        while (!v.empty()) {
          size_t semi = v.find(';');
          std::string_view part = v.substr(0, semi);
          while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
          size_t eq = part.find('=');
          if (eq != std::string_view::npos && part.substr(0, eq) == on.name) {
            return upstream::hashKey(part.substr(eq + 1));
          }
          if (semi == std::string_view::npos) break;
          v.remove_prefix(semi + 1);
        }
      }
      break;
  }
  has_hash = false;
  return 0;
}

}  // namespace

// Copies a decoded body to a buffer, re-framing it as chunked when asked.
// Re-framing (rather than relaying the sender's bytes) is what makes the
// message we forward unambiguous whatever the sender wrote.
class HttpConnection::BodyWriter final : public http::BodySink {
 public:
  BodyWriter(Buffer& out, bool chunked, bool trailers_allowed)
      : out_(out), chunked_(chunked), trailers_allowed_(trailers_allowed) {}
  void onBodyData(std::string_view data) override {
    if (data.empty()) {
      return;
    }
    if (chunked_) {
      char size[24];
      auto* end = fmt::format_to_n(size, sizeof size, "{:x}\r\n", data.size()).out;
      out_.append(std::string_view(size, static_cast<size_t>(end - size)));
    }
    out_.append(data);
    if (chunked_) {
      out_.append("\r\n");
    }
  }
  void onTrailers(std::span<const http::Header> trailers) override {
    if (!chunked_) {
      return;
    }
    out_.append("0\r\n");
    if (trailers_allowed_) {
      for (const auto& t : trailers) {
        // Fields that frame or route a message have no business in trailers.
        if (http::isHopByHop(t.name) || http::iequals(t.name, "content-length") || http::iequals(t.name, "host")) {
          continue;
        }
        out_.append(t.name);
        out_.append(": ");
        out_.append(t.value);
        out_.append("\r\n");
      }
    }
    out_.append("\r\n");
  }

 private:
  Buffer& out_;
  bool chunked_;
  bool trailers_allowed_;
};

HttpConnection::HttpConnection(Worker& worker, net::Fd fd, const net::Address& peer,
                               std::shared_ptr<const Snapshot> snapshot, const ListenerInfo& listener)
    : worker_(worker),
      fd_(std::move(fd)),
      peer_(peer),
      peer_ip_(peer.ipText()),
      snapshot_(std::move(snapshot)),
      listener_(&listener),
      parser_(limitsFor(*listener.config)),
      timer_(worker.loop(), [this] {
        if (state_ == State::kHead && in_.empty()) {
          closeConnection();  // idle keep-alive connection
        } else if (state_ == State::kHead) {
          stats::Store::instance()
              .counter("pier_listener_rejected_requests_total",
                       {{"listener", listener_->config->name}, {"reason", "request_timeout"}},
                       "Requests rejected before routing.")
              .add();
          close_after_response_ = true;
          localReply(408, "request timeout\n");
        } else if (status_ == 0) {
          close_after_response_ = true;
          localReply(408, "request body timeout\n");
        } else {
          closeConnection();
        }
      }),
      up_timer_(worker.loop(), [this] {
        if (upstream_ && !upstream_->connected()) {
          onConnectFailure("connect timeout");
        } else {
          cluster_->info->timeouts.add();
          upstreamFailed(504, "upstream response timeout");
        }
      }),
      resp_parser_(http::ParseLimits{}) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::start() {
  listener_->connections.add();
  listener_->active_connections.add(1);
  worker_.loop().add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
  timer_.armAfter(listener_->config->limits.request_headers_timeout);
  readDownstream();
}

void HttpConnection::drain() {
  if (state_ == State::kHead && in_.empty()) {
    closeConnection();
  } else {
    close_after_response_ = true;
  }
}

void HttpConnection::onIoEvent(uint32_t events) {
  if (state_ == State::kClosed) {
    return;
  }
  if (events & EPOLLERR) {
    closeConnection();
    return;
  }
  if (events & EPOLLOUT) {
    flushDownstream();
    if (state_ == State::kClosed) {
      return;
    }
  }
  if (events & (EPOLLRDHUP | EPOLLHUP)) {
    down_hup_seen_ = true;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
    readDownstream();
  }
}

void HttpConnection::readDownstream() {
  while (state_ != State::kClosed && !read_paused_ && !peer_closed_) {
    if (in_.size() >= kHighWater) {
      read_paused_ = true;  // resumed when the buffered input is consumed
      return;
    }
    auto r = net::readSome(fd_.get(), in_, kReadChunk);
    if (r.status == net::IoStatus::kOk) {
      bytes_in_ += r.bytes;
      listener_->bytes_received.add(static_cast<int64_t>(r.bytes));
      // A short read means the socket is empty, unless the peer's FIN came
      // with the data: edge triggering won't report it again, so read on.
      bool drained = in_.writable() > 0 && !down_hup_seen_;
      processInput();
      if (drained) {
        return;
      }
    } else if (r.status == net::IoStatus::kWouldBlock) {
      return;
    } else if (r.status == net::IoStatus::kClosed) {
      peer_closed_ = true;
      onDownstreamEof();
      return;
    } else {
      closeConnection();
      return;
    }
  }
}

void HttpConnection::processInput() {
  switch (state_) {
    case State::kHead: {
      if (in_.empty()) {
        return;
      }
      auto status = parser_.parse(in_.readable(), head_);
      if (status == http::ParseStatus::kIncomplete) {
        return;
      }
      if (status == http::ParseStatus::kError) {
        const auto& f = parser_.failure();
        stats::Store::instance()
            .counter("pier_listener_rejected_requests_total",
                     {{"listener", listener_->config->name}, {"reason", std::to_string(f.status)}},
                     "Requests rejected before routing.")
            .add();
        PIER_LOG_DEBUG("{}: rejected request from {}: {} ({})", listener_->config->name, peer_ip_, f.status,
                       f.reason);
        start_ = worker_.loop().now();
        method_.clear();
        path_.clear();
        close_after_response_ = true;
        req_body_done_ = true;
        localReply(f.status, fmt::format("{}\n", f.reason));
        return;
      }
      onHeadParsed();
      return;
    }
    case State::kProxy:
      pumpRequestBody();
      return;
    case State::kTunnel:
      if (!in_.empty()) {
        up_out_.append(in_.readable());
        in_.consume(in_.size());
        flushUpstream();
      }
      return;
    case State::kClosed:
      return;
  }
}

void HttpConnection::onHeadParsed() {
  timer_.cancel();
  start_ = worker_.loop().now();
  ++requests_;
  // A new request uses the newest config; the connection keeps its listener if
  // the listener still exists under the same name.
  const auto& current = worker_.snapshot();
  if (current != snapshot_) {
    for (const auto& l : current->listeners()) {
      if (l.config->name == listener_->config->name) {
        snapshot_ = current;
        listener_ = &l;
        break;
      }
    }
  }
  const auto& lc = *listener_->config;
  method_.assign(head_.method);
  path_.assign(head_.target);
  host_header_.assign(head_.host);
  version_ = head_.version;
  keep_alive_ = head_.keep_alive;
  upgrade_ = head_.upgrade;
  status_ = 0;
  bytes_in_ = head_.head_bytes;
  bytes_out_ = 0;
  route_ = nullptr;
  attempts_ = 0;
  req_has_body_ = head_.body != http::BodyKind::kNone;
  req_body_done_ = !req_has_body_;
  close_after_response_ = close_after_response_ || !keep_alive_ || worker_.draining() ||
                          (lc.limits.max_requests_per_connection != 0 &&
                           requests_ >= lc.limits.max_requests_per_connection);
  request_id_.clear();
  if (!lc.forwarding.request_id_header.empty()) {
    if (const auto* h = http::findHeader(head_.headers, lc.forwarding.request_id_header)) {
      request_id_.assign(h->value);
    } else {
      request_id_ = makeRequestId(worker_.random(), worker_.random());
    }
  }
  if (head_.body == http::BodyKind::kContentLength && lc.limits.max_request_body_bytes != 0 &&
      head_.content_length > lc.limits.max_request_body_bytes) {
    close_after_response_ = true;
    in_.consume(head_.head_bytes);
    localReply(413, "request body too large\n");
    return;
  }
  routeRequest();
}

void HttpConnection::routeRequest() {
  const auto& lc = *listener_->config;
  router::RouteRequest rr{head_.host, head_.method, head_.path(), head_.query(), head_.headers};
  route_ = listener_->router->route(rr);
  if (route_ == nullptr) {
    in_.consume(head_.head_bytes);
    if (req_has_body_) close_after_response_ = true;
    localReply(404, "no route\n");
    return;
  }
  if (route_->direct_response) {
    in_.consume(head_.head_bytes);
    if (req_has_body_) close_after_response_ = true;
    const auto& d = *route_->direct_response;
    localReply(d.status, d.body, d.content_type);
    return;
  }
  if (route_->redirect) {
    redirect(*route_);
    return;
  }
  const std::string& cluster_name = router::pickCluster(*route_, worker_.random());
  int index = snapshot_->clusterIndex(cluster_name);
  if (index < 0) {
    in_.consume(head_.head_bytes);
    close_after_response_ = close_after_response_ || req_has_body_;
    localReply(503, "unknown cluster\n");
    return;
  }
  // The worker's cluster state belongs to its newest snapshot; an older
  // connection snapshot (listener removed) still finds clusters by name there.
  cluster_ = worker_.cluster(index);
  if (cluster_->info->config->name != cluster_name) {
    in_.consume(head_.head_bytes);
    close_after_response_ = true;
    localReply(503, "cluster changed\n");
    return;
  }

  // Build the upstream head now: head_'s views die once in_ is consumed.
  std::string path = router::rewritePath(*route_, head_.path());
  if (!head_.query().empty()) {
    path.push_back('?');
    path.append(head_.query());
  }
  std::string host = route_->host_rewrite ? *route_->host_rewrite : std::string(head_.host);
  UpstreamRequest ur{&head_, &lc.forwarding, route_, path, host, peer_ip_, request_id_};
  writeUpstreamRequestHead(upstream_head_, ur);
  pick_context_ = upstream::PickContext{};
  pick_context_.hash = hashForRequest(cluster_->info->config->hash_on, head_, peer_ip_, pick_context_.has_hash);
  bool expect_continue = head_.expect_continue && req_has_body_ && version_ == http::Version::kHttp11;
  req_decoder_.start(head_.body, head_.content_length, limitsFor(lc));
  in_.consume(head_.head_bytes);

  state_ = State::kProxy;
  cluster_->info->requests.add();
  if (expect_continue) {
    // pier answers 100 itself and streams the body as it comes (as nginx does).
    out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    flushDownstream();
    if (state_ == State::kClosed) {
      return;
    }
  }
  up_out_.clear();
  up_out_.append(upstream_head_);
  up_written_ = false;
  resp_head_done_ = false;
  resp_parser_.reset();
  upstream_start_ = worker_.loop().now();
  pumpRequestBody();
  if (state_ != State::kProxy) {
    return;
  }
  pickAndConnect();
}

void HttpConnection::redirect(const config::Route& route) {
  std::string location = router::redirectLocation(*route.redirect, route.match, "http", head_.host, head_.path(),
                                                   head_.query());
  in_.consume(head_.head_bytes);
  if (req_has_body_) {
    close_after_response_ = true;
  }
  localReply(route.redirect->status, "", "text/plain", fmt::format("location: {}\r\n", location));
}

void HttpConnection::pumpRequestBody() {
  if (req_body_done_) {
    return;
  }
  BodyWriter writer(up_out_, req_decoder_.kind() == http::BodyKind::kChunked, true);
  while (up_out_.size() < kHighWater && !in_.empty()) {
    auto r = req_decoder_.decode(in_.readable(), writer);
    in_.consume(r.consumed);
    if (r.error) {
      close_after_response_ = true;
      if (upstream_) {
        releaseUpstream(false);
      }
      localReply(req_decoder_.failure().status, fmt::format("{}\n", req_decoder_.failure().reason));
      return;
    }
    if (r.done) {
      req_body_done_ = true;
      break;
    }
    if (r.consumed == 0) {
      break;
    }
  }
  const auto& limits = listener_->config->limits;
  if (limits.max_request_body_bytes != 0 && req_decoder_.bodyBytes() > limits.max_request_body_bytes) {
    close_after_response_ = true;
    if (upstream_) {
      releaseUpstream(false);
    }
    if (status_ == 0) {
      localReply(413, "request body too large\n");
    } else {
      closeConnection();
    }
    return;
  }
  if (!req_body_done_) {
    // A client that stops sending mid-body would otherwise hold the upstream forever.
    timer_.armAfter(listener_->config->limits.idle_timeout);
  } else {
    timer_.cancel();
  }
  if (upstream_ && upstream_->connected()) {
    flushUpstream();
  }
  if (read_paused_ && in_.size() < kHighWater / 2 && state_ != State::kClosed) {
    read_paused_ = false;
    readDownstream();
  }
}

void HttpConnection::flushDownstream() {
  if (state_ == State::kClosed) {
    return;
  }
  if (!out_.empty()) {
    auto r = net::writeSome(fd_.get(), out_);
    bytes_out_ += r.bytes;
    listener_->bytes_sent.add(static_cast<int64_t>(r.bytes));
    if (r.status == net::IoStatus::kError) {
      closeConnection();
      return;
    }
  }
  if (out_.empty() && close_after_flush_) {
    closeConnection();
    return;
  }
  if (upstream_read_paused_ && out_.size() < kHighWater / 2) {
    upstream_read_paused_ = false;
    readUpstream();
  }
}

void HttpConnection::onDownstreamEof() {
  switch (state_) {
    case State::kHead:
      if (out_.empty()) {
        closeConnection();
      } else {
        close_after_flush_ = true;
      }
      return;
    case State::kProxy:
      if (!req_body_done_) {
        // The client gave up mid-request: nothing can be answered.
        closeConnection();
        return;
      }
      // A client may half-close after its request(s): answer what it sent,
      // then close (finishRequest checks peer_closed_).
      return;
    case State::kTunnel:
      if (upstream_) {
        flushUpstream();
        if (upstream_ && up_out_.empty()) {
          shutdown(upstream_->fd(), SHUT_WR);
        }
      }
      return;
    case State::kClosed:
      return;
  }
}

void HttpConnection::localReply(int status, std::string_view body, std::string_view content_type,
                                std::string_view extra_headers) {
  status_ = status;
  bool close = close_after_response_ || status == 408;
  out_.append(fmt::format("HTTP/1.1 {} {}\r\ncontent-length: {}\r\ncontent-type: {}\r\n", status,
                          http::reasonPhrase(status), body.size(), content_type));
  if (!request_id_.empty() && !listener_->config->forwarding.request_id_header.empty()) {
    out_.append(fmt::format("{}: {}\r\n", listener_->config->forwarding.request_id_header, request_id_));
  }
  if (route_ != nullptr) {
    for (const auto& a : route_->response_headers_to_add) {
      out_.append(fmt::format("{}: {}\r\n", a.name, a.value));
    }
  }
  out_.append(extra_headers);
  if (close) {
    out_.append("connection: close\r\n");
  } else if (version_ == http::Version::kHttp10) {
    out_.append("connection: keep-alive\r\n");
  }
  out_.append("\r\n");
  if (method_ != "HEAD") {
    out_.append(body);
  }
  close_after_response_ = close;
  finishRequest();
}

void HttpConnection::pickAndConnect() {
  while (true) {
    int avoid = host_;
    pick_context_.avoid = avoid;
    host_ = cluster_->lb->pick(pick_context_);
    if (host_ < 0) {
      upstreamFailed(503, "no healthy upstream");
      return;
    }
    ++attempts_;
    EndpointPool& pool = *cluster_->pools[static_cast<size_t>(host_)];
    if (auto idle = pool.takeIdle()) {
      attach(std::move(idle));
      upstream_->setConnected();
      onUpstreamConnected();
      return;
    }
    auto conn = pool.connect();
    if (conn) {
      attach(std::move(conn.value()));
      cluster_->info->connections.add();
      cluster_->info->endpoints[static_cast<size_t>(host_)].connections.add();
      up_timer_.armAfter(cluster_->info->config->connect_timeout);
      return;
    }
    PIER_LOG_WARN("cluster {}: connect to {} failed: {}", cluster_->info->config->name,
                  cluster_->info->endpoints[static_cast<size_t>(host_)].name, conn.error());
    cluster_->info->connect_failures.add();
    cluster_->info->endpoints[static_cast<size_t>(host_)].connect_failures.add();
    if (attempts_ >= static_cast<int>(cluster_->hosts.size())) {
      upstreamFailed(503, "upstream connect failed");
      return;
    }
  }
}

void HttpConnection::attach(std::unique_ptr<UpstreamConnection> connection) {
  upstream_ = std::move(connection);
  upstream_->setUser(this);
  up_hup_seen_ = false;
  auto& host = cluster_->hosts[static_cast<size_t>(host_)];
  ++host.active_requests;
  const auto& ep = cluster_->info->endpoints[static_cast<size_t>(host_)];
  ep.active_requests.add(1);
  ep.requests.add();
}

void HttpConnection::releaseUpstream(bool reusable) {
  up_timer_.cancel();
  if (!upstream_) {
    return;
  }
  auto& host = cluster_->hosts[static_cast<size_t>(host_)];
  --host.active_requests;
  cluster_->info->endpoints[static_cast<size_t>(host_)].active_requests.add(-1);
  EndpointPool& pool = upstream_->pool();
  if (reusable) {
    const auto& c = *cluster_->info->config;
    pool.release(std::move(upstream_), c.max_idle_per_endpoint, c.idle_timeout);
  } else {
    pool.discard(std::move(upstream_));
  }
  upstream_read_paused_ = false;
}

void HttpConnection::onUpstreamEvent(uint32_t events) {
  if (state_ == State::kClosed || !upstream_) {
    return;
  }
  if (!upstream_->connected()) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      onConnectFailure("connection refused");
      return;
    }
    if (events & EPOLLOUT) {
      int err = net::socketError(upstream_->fd());
      if (err != 0) {
        onConnectFailure(std::strerror(err));
        return;
      }
      upstream_->setConnected();
      onUpstreamConnected();
    }
    return;
  }
  if (events & EPOLLOUT) {
    flushUpstream();
    if (state_ == State::kClosed || !upstream_) {
      return;
    }
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    up_hup_seen_ = true;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readUpstream();
  }
}

void HttpConnection::onUpstreamConnected() {
  upstream_->countRequest();
  auto timeout = route_ != nullptr && route_->timeout ? *route_->timeout : cluster_->info->config->response_timeout;
  if (timeout.count() > 0) {
    up_timer_.armAfter(timeout);
  } else {
    up_timer_.cancel();
  }
  flushUpstream();
}

void HttpConnection::onConnectFailure(const char* why) {
  const auto& ep = cluster_->info->endpoints[static_cast<size_t>(host_)];
  PIER_LOG_WARN("cluster {}: connect to {} failed: {}", cluster_->info->config->name, ep.name, why);
  cluster_->info->connect_failures.add();
  ep.connect_failures.add();
  releaseUpstream(false);
  // Nothing was sent, so trying another endpoint is always safe.
  if (attempts_ < static_cast<int>(cluster_->hosts.size()) && !up_written_) {
    pickAndConnect();
    return;
  }
  upstreamFailed(503, "upstream connect failed");
}

void HttpConnection::flushUpstream() {
  if (!upstream_ || !upstream_->connected() || up_out_.empty()) {
    return;
  }
  auto r = net::writeSome(upstream_->fd(), up_out_);
  if (r.bytes > 0) {
    up_written_ = true;
  }
  if (r.status == net::IoStatus::kError) {
    // The read side reports what happened (reset, close) with better detail.
    readUpstream();
    return;
  }
  if (up_out_.size() < kHighWater / 2 && state_ == State::kProxy) {
    pumpRequestBody();
  } else if (state_ == State::kTunnel && up_out_.empty() && peer_closed_) {
    shutdown(upstream_->fd(), SHUT_WR);
  }
  if (state_ == State::kTunnel && read_paused_ && up_out_.size() < kHighWater / 2) {
    read_paused_ = false;
    readDownstream();
  }
}

void HttpConnection::readUpstream() {
  while (state_ != State::kClosed && upstream_ && !upstream_read_paused_) {
    if (out_.size() >= kHighWater) {
      upstream_read_paused_ = true;
      return;
    }
    auto r = net::readSome(upstream_->fd(), upstream_->in(), kReadChunk);
    if (r.status == net::IoStatus::kOk) {
      bool drained = upstream_->in().writable() > 0 && !up_hup_seen_;
      processUpstreamInput();
      if (drained) {
        return;
      }
    } else if (r.status == net::IoStatus::kWouldBlock) {
      return;
    } else {
      onUpstreamEof();
      return;
    }
  }
}

bool HttpConnection::canRetryOnFreshConnection() const {
  // A kept-alive connection the upstream closed just as we reused it: the
  // request never reached it, so a fresh connection can carry it.
  return upstream_ && upstream_->reused() && !resp_head_done_ && upstream_->in().empty() && !req_has_body_ &&
         idempotent(method_) && attempts_ <= static_cast<int>(cluster_->hosts.size()) + 1;
}

void HttpConnection::processUpstreamInput() {
  Buffer& in = upstream_->in();
  if (state_ == State::kTunnel) {
    out_.append(in.readable());
    in.consume(in.size());
    flushDownstream();
    return;
  }
  while (!resp_head_done_) {
    auto status = resp_parser_.parse(in.readable(), method_, resp_head_);
    if (status == http::ParseStatus::kIncomplete) {
      return;
    }
    if (status == http::ParseStatus::kError) {
      cluster_->info->bad_responses.add();
      upstreamFailed(502, "malformed upstream response");
      return;
    }
    if (resp_head_.status == 101) {
      if (!upgrade_) {
        cluster_->info->bad_responses.add();
        upstreamFailed(502, "unexpected 101 from upstream");
        return;
      }
      startTunnel();
      return;
    }
    if (resp_head_.status < 200) {
      // 1xx interim responses: the client already got our own 100 if it asked.
      in.consume(resp_head_.head_bytes);
      resp_parser_.reset();
      continue;
    }
    up_timer_.cancel();
    resp_head_done_ = true;
    writeResponseHead();
    in.consume(resp_head_.head_bytes);
    resp_decoder_.start(resp_head_.body, resp_head_.content_length, http::ParseLimits{});
  }
  BodyWriter writer(out_, resp_chunked_out_, version_ == http::Version::kHttp11);
  auto r = resp_decoder_.decode(in.readable(), writer);
  in.consume(r.consumed);
  if (r.error) {
    cluster_->info->bad_responses.add();
    releaseUpstream(false);
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  if (r.done) {
    finishResponse(resp_head_.keep_alive);
    return;
  }
  flushDownstream();
}

void HttpConnection::writeResponseHead() {
  status_ = resp_head_.status;
  DownstreamFraming framing = DownstreamFraming::kAsIs;
  resp_chunked_out_ = false;
  bool http10 = version_ == http::Version::kHttp10;
  if (resp_head_.body == http::BodyKind::kChunked || resp_head_.body == http::BodyKind::kUntilClose) {
    if (http10) {
      framing = DownstreamFraming::kCloseDelimited;
      close_after_response_ = true;
    } else {
      framing = resp_head_.body == http::BodyKind::kChunked ? DownstreamFraming::kAsIs : DownstreamFraming::kChunked;
      resp_chunked_out_ = true;
    }
  }
  if (!req_body_done_) {
    // The upstream answered before reading the whole request: we can't find
    // the next request's start reliably, so this connection ends here.
    close_after_response_ = true;
  }
  DownstreamResponse dr{&resp_head_, route_, framing, close_after_response_, http10, request_id_};
  writeDownstreamResponseHead(out_, dr);
}

void HttpConnection::startTunnel() {
  Buffer& in = upstream_->in();
  up_timer_.cancel();
  timer_.cancel();
  status_ = 101;
  resp_head_done_ = true;
  DownstreamResponse dr{&resp_head_, route_, DownstreamFraming::kAsIs, false, false, {}};
  writeDownstreamResponseHead(out_, dr);
  in.consume(resp_head_.head_bytes);
  state_ = State::kTunnel;
  req_body_done_ = true;
  out_.append(in.readable());
  in.consume(in.size());
  flushDownstream();
  if (state_ == State::kClosed) {
    return;
  }
  processInput();
}

void HttpConnection::onUpstreamEof() {
  if (state_ == State::kTunnel) {
    releaseUpstream(false);
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  if (!resp_head_done_) {
    if (canRetryOnFreshConnection()) {
      releaseUpstream(false);
      up_out_.clear();
      up_out_.append(upstream_head_);
      up_written_ = false;
      host_ = -1;
      pickAndConnect();
      return;
    }
    cluster_->info->bad_responses.add();
    upstreamFailed(502, "upstream closed before responding");
    return;
  }
  if (resp_decoder_.finishOnClose()) {
    if (resp_chunked_out_) {
      out_.append("0\r\n\r\n");
    }
    finishResponse(false);
    return;
  }
  // Truncated body: the only honest signal left is to close the connection.
  cluster_->info->bad_responses.add();
  releaseUpstream(false);
  close_after_flush_ = true;
  flushDownstream();
}

void HttpConnection::upstreamFailed(int status, const char* why) {
  PIER_LOG_DEBUG("{} {}: {} ({})", method_, path_, status, why);
  releaseUpstream(false);
  if (resp_head_done_) {
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  if (!req_body_done_) {
    close_after_response_ = true;
  }
  localReply(status, fmt::format("{}\n", why));
}

void HttpConnection::finishResponse(bool upstream_reusable) {
  cluster_->info->response_duration.observeNanos((worker_.loop().updateNow() - upstream_start_).count());
  bool reusable = upstream_reusable && req_body_done_ && upstream_ && upstream_->in().empty();
  releaseUpstream(reusable);
  finishRequest();
}

void HttpConnection::finishRequest() {
  auto now = worker_.loop().updateNow();
  listener_->request_duration.observeNanos((now - start_).count());
  listener_->requests->add(status_);
  if (route_ != nullptr) {
    auto it = listener_->routes.find(route_);
    if (it != listener_->routes.end()) {
      it->second.requests->add(status_);
    }
  }
  if (listener_->access_log_fd >= 0) {
    writeAccessLog();
  }
  bool body_unread = !req_body_done_;
  state_ = State::kHead;
  parser_.reset();
  route_ = nullptr;
  cluster_.reset();
  host_ = -1;
  timer_.cancel();
  if (close_after_response_ || body_unread) {
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  flushDownstream();
  if (state_ == State::kClosed) {
    return;
  }
  status_ = 0;
  request_id_.clear();
  if (!in_.empty()) {
    timer_.armAfter(listener_->config->limits.request_headers_timeout);
    processInput();
  } else {
    in_.shrinkIfEmpty();
    timer_.armAfter(listener_->config->limits.idle_timeout);
  }
  if (state_ == State::kHead && peer_closed_) {
    // The client closed its side and no complete request is left.
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  if (state_ != State::kClosed && read_paused_ && in_.size() < kHighWater) {
    read_paused_ = false;
    readDownstream();
  }
}

void HttpConnection::writeAccessLog() {
  AccessLogEntry e;
  e.start = start_;
  e.duration = worker_.loop().now() - start_;
  e.method = method_;
  e.path = path_;
  e.protocol = version_ == http::Version::kHttp10 ? "HTTP/1.0" : "HTTP/1.1";
  e.status = status_;
  e.bytes_received = bytes_in_;
  e.bytes_sent = bytes_out_ + out_.size();
  e.upstream_host = host_ >= 0 && cluster_ ? std::string_view(cluster_->info->endpoints[static_cast<size_t>(host_)].name)
                                           : std::string_view("-");
  e.request_id = request_id_;
  e.route = route_ != nullptr ? std::string_view(route_->name) : std::string_view("-");
  e.downstream_remote = peer_.text();
  e.host = host_header_;
  e.listener = listener_->config->name;
  writeAccessLogLine(listener_->access_log_fd, listener_->config->access_log, e);
}

void HttpConnection::closeConnection() {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  releaseUpstream(false);
  timer_.cancel();
  up_timer_.cancel();
  worker_.loop().remove(fd_.get());
  fd_.reset();
  listener_->active_connections.add(-1);
  worker_.onConnectionClosed(*this);
}

}  // namespace pier::proxy
