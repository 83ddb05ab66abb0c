#include "src/proxy/http_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "src/common/log.h"
#include "src/proxy/access_log.h"
#include "src/proxy/body_writer.h"
#include "src/proxy/chain_body_sink.h"
#include "src/proxy/message_writer.h"
#include "src/proxy/worker.h"
#include "src/router/router.h"

namespace pier::proxy {
namespace {


uint64_t hashForRequest(const config::HashOn& on, std::span<const http::Header> headers,
                        std::string_view client_ip, bool& has_hash) {
  has_hash = true;
  switch (on.kind) {
    case config::HashOn::Kind::kSourceIp:
      return upstream::hashKey(client_ip);
    case config::HashOn::Kind::kHeader:
      if (const auto* h = http::findHeader(headers, on.name)) {
        return upstream::hashKey(h->value);
      }
      break;
    case config::HashOn::Kind::kCookie:
      for (const auto& h : headers) {
        if (!http::equalsLower(h.name, "cookie")) {
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

HttpConnection::HttpConnection(Worker& worker, net::Fd fd, const net::Address& peer,
                               std::shared_ptr<const Snapshot> snapshot, const ListenerInfo& listener)
    : worker_(worker),
      fd_(std::move(fd)),
      peer_(peer),
      peer_ip_(peer.ipText()),
      direct_peer_(peer.text()),
      snapshot_(std::move(snapshot)),
      listener_(&listener),
      parser_(limitsFor(*listener.config)),
      timer_(worker.loop(), [this] { onDownstreamTimer(); }),
      up_timer_(worker.loop(), [this] { onUpstreamTimer(); }),
      request_timer_(worker.loop(),
                     [this] {
                       if (status_ == 0 && state_ == State::kProxy) {
                         close_after_response_ = true;
                         upstreamFailed(req_body_done_ ? 504 : 408, "request timeout");
                       } else {
                         closeConnection();
                       }
                     }),
      resp_parser_(http::ParseLimits{}) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::onDownstreamTimer() {
  if (state_ == State::kTunnel) {
    // Checked lazily: re-arming on every byte would cost a heap update per read.
    auto deadline = tunnel_activity_ + listener_->config->limits.idle_timeout;
    if (worker_.loop().now() >= deadline) {
      closeConnection();  // an idle upgraded connection (nginx: proxy_read_timeout)
    } else {
      timer_.armAt(deadline);
    }
    return;
  }
  if (close_after_flush_) {
    closeConnection();  // the client stopped reading what we owe it
  } else if (state_ == State::kHead && in_.empty()) {
    closeConnection();  // idle keep-alive connection
  } else if (state_ == State::kHead) {
    stats::Store::instance()
        .counter("pier_listener_rejected_requests_total",
                 {{"listener", listener_->config->name}, {"reason", "request_timeout"}},
                 "Requests rejected before routing.")
        .add();
    // Nothing of the unfinished request is known: answer as HTTP/1.1 GET.
    start_ = worker_.loop().now();
    method_.clear();
    path_.clear();
    version_ = http::Version::kHttp11;
    close_after_response_ = true;
    localReply(408, "request timeout\n");
  } else if (status_ == 0) {
    // The client stalled mid-body.
    close_after_response_ = true;
    releaseUpstream(false);
    localReply(408, "request body timeout\n");
  } else {
    closeConnection();
  }
}

void HttpConnection::start() {
  if (listener_->config->accept_proxy_protocol) {
    proxy_header_ = std::make_unique<l4::ProxyHeaderParser>();
  }
  listener_->connections.add();
  listener_->active_connections.add(1);
  worker_.loop().add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
  timer_.armAfter(listener_->config->limits.request_headers_timeout);
  head_timer_armed_ = true;
  readDownstream();
}

void HttpConnection::drain() {
  if (state_ == State::kHead && in_.empty() && out_.empty()) {
    closeConnection();  // idle between requests
  } else if (state_ == State::kHead && in_.empty()) {
    close_after_flush_ = true;  // a response is still being written: finish it, then close
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
  while (state_ != State::kClosed && !read_paused_ && !peer_closed_ && !close_after_flush_) {
    if (in_.size() >= kHighWater || (state_ == State::kTunnel && up_out_.size() >= kHighWater)) {
      read_paused_ = true;  // resumed when the buffered input (or the tunnel) drains
      return;
    }
    // The stream's request headers may view the head still in `in_`
    // (HeaderMap::borrowHead): they copy it before the read may overwrite it.
    if (chain_) chain_->requestHeaderMap().ownBytes();
    auto r = net::readSome(fd_.get(), in_, kReadChunk);
    if (r.status == net::IoStatus::kOk) {
      bytes_in_ += r.bytes;
      listener_->bytes_received.add(static_cast<int64_t>(r.bytes));
      // A short read means the socket is empty, unless the peer's FIN came
      // with the data: edge triggering won't report it again, so read on.
      bool drained = r.short_read && !down_hup_seen_;
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
  if (close_after_flush_) {
    return;  // the connection ends after what it owes; nothing more is read
  }
  switch (state_) {
    case State::kHead: {
      if (proxy_header_ && !readProxyHeader()) {
        return;
      }
      if (in_.empty()) {
        return;
      }
      auto status = parser_.parse(in_.readable(), head_);
      if (status == http::ParseStatus::kIncomplete) {
        if (!head_timer_armed_) {
          // The first bytes of a head after an idle keep-alive wait: from
          // now on the (shorter) header timeout applies, against slowloris.
          timer_.armAfter(listener_->config->limits.request_headers_timeout);
          head_timer_armed_ = true;
        }
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
      tunnel_activity_ = worker_.loop().now();
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

bool HttpConnection::readProxyHeader() {
  auto status = proxy_header_->parse(in_.readable());
  if (status == l4::ProxyHeaderParser::Status::kIncomplete) {
    return false;
  }
  if (status == l4::ProxyHeaderParser::Status::kError) {
    stats::Store::instance()
        .counter("pier_listener_rejected_requests_total",
                 {{"listener", listener_->config->name}, {"reason", "proxy_protocol"}},
                 "Requests rejected before routing.")
        .add();
    PIER_LOG_DEBUG("{}: bad PROXY header from {}: {}", listener_->config->name, peer_ip_, proxy_header_->error());
    closeConnection();
    return false;
  }
  const auto& header = proxy_header_->header();
  if (!header.local) {
    peer_ = header.source;  // the client behind the load balancer in front of us
    peer_ip_ = peer_.ipText();
  }
  in_.consume(proxy_header_->consumed());
  proxy_header_.reset();
  return true;
}

void HttpConnection::onHeadParsed() {
  timer_.cancel();
  head_timer_armed_ = false;
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
  head_consumed_ = false;
  upstream_method_.clear();
  down_no_body_ = false;
  route_cache_cleared_ = false;
  chain_request_done_ = false;
  upstream_response_done_ = false;
  response_started_ = false;
  up_declared_length_.reset();
  up_body_sent_ = 0;
  down_declared_length_.reset();
  down_body_sent_ = 0;
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
  if (lc.limits.request_timeout.count() > 0) {
    request_timer_.armAfter(lc.limits.request_timeout);
  }
  if (head_.body == http::BodyKind::kContentLength && lc.limits.max_request_body_bytes != 0 &&
      head_.content_length > lc.limits.max_request_body_bytes) {
    close_after_response_ = true;
    consumeHead();
    localReply(413, "request body too large\n");
    return;
  }
  routeRequest();
}

void HttpConnection::consumeHead() {
  if (!head_consumed_) {
    in_.consume(head_.head_bytes);
    head_consumed_ = true;
  }
}

void HttpConnection::routeRequest() {
  router::RouteRequest rr{head_.host, head_.method, head_.path(), head_.query(), head_.headers};
  route_ = listener_->router->route(rr);
  if (!listener_->filter_factories.empty() && startFilters()) {
    return;
  }
  dispatchRoute(head_, head_.headers);
}

void HttpConnection::dispatchRoute(const http::RequestHead& head, std::span<const http::Header> headers) {
  const auto& lc = *listener_->config;
  if (route_ == nullptr) {
    consumeHead();
    if (req_has_body_) close_after_response_ = true;
    localReply(404, "no route\n");
    return;
  }
  if (route_->direct_response) {
    consumeHead();
    if (req_has_body_) close_after_response_ = true;
    const auto& d = *route_->direct_response;
    localReply(d.status, d.body, d.content_type);
    return;
  }
  if (route_->redirect) {
    redirect(*route_, head);
    return;
  }
  const std::string& cluster_name = router::pickCluster(*route_, worker_.random());
  // Clusters are looked up in the worker's newest config, the one its cluster
  // states belong to (a connection on a removed listener keeps an older one).
  int index = worker_.snapshot()->clusterIndex(cluster_name);
  if (index < 0) {
    consumeHead();
    close_after_response_ = close_after_response_ || req_has_body_;
    localReply(503, "unknown cluster\n");
    return;
  }
  cluster_ = worker_.cluster(index);
  if (cluster_->config().name != cluster_name) {
    consumeHead();
    close_after_response_ = true;
    localReply(503, "cluster changed\n");
    return;
  }

  // Build the upstream head now: head's views die once in_ is consumed.
  std::string path = router::rewritePath(*route_, head.path());
  if (!head.query().empty()) {
    path.push_back('?');
    path.append(head.query());
  }
  std::string host = route_->host_rewrite ? *route_->host_rewrite : std::string(head.host);
  UpstreamRequest ur{&head, &lc.forwarding, route_, path, host, peer_ip_, request_id_, headers};
  writeUpstreamRequestHead(upstream_head_, ur);
  pick_context_ = upstream::PickContext{};
  pick_context_.hash = hashForRequest(cluster_->config().hash_on, headers, peer_ip_, pick_context_.has_hash);
  const bool filtered = chain_ != nullptr;
  if (!filtered) {
    bool expect_continue = head.expect_continue && req_has_body_ && version_ == http::Version::kHttp11;
    req_decoder_.start(head.body, head.content_length, limitsFor(lc));
    consumeHead();
    state_ = State::kProxy;
    if (expect_continue) {
      // pier answers 100 itself and streams the body as it comes (as nginx does).
      out_.append("HTTP/1.1 100 Continue\r\n\r\n");
      flushDownstream();
      if (state_ == State::kClosed) {
        return;
      }
    }
  } else {
    sendPendingContinue();  // the request goes upstream: now the body is wanted
    if (state_ == State::kClosed) {
      return;
    }
  }
  cluster_->info().requests.add();
  up_out_.clear();
  up_out_.append(upstream_head_);
  up_written_ = false;
  resp_head_done_ = false;
  resp_parser_.reset();
  upstream_start_ = worker_.loop().now();
  retry_policy_ = route_->retry_policy ? &*route_->retry_policy : &cluster_->config().default_retry_policy;
  replay_.assign(upstream_head_);
  replayable_ = true;
  if (!filtered) {
    // With filters the body reaches up_out_ through the chain instead.
    pumpRequestBody();
    if (state_ != State::kProxy) {
      return;
    }
  }
  startUpstream();
}

void HttpConnection::redirect(const config::Route& route, const http::RequestHead& head) {
  std::string location = router::redirectLocation(*route.redirect, route.match, "http", head.host, head.path(),
                                                   head.query());
  consumeHead();
  if (req_has_body_) {
    close_after_response_ = true;
  }
  localReply(route.redirect->status, "", "text/plain", fmt::format("location: {}\r\n", location));
}

void HttpConnection::pumpRequestBody() {
  if (req_body_done_) {
    return;
  }
  if (pumping_) {
    repump_ = true;  // flushUpstream() made room while we were flushing: go round again
    return;
  }
  // flushUpstream() calls back here when the upstream drains; iterate rather
  // than recurse while this call is still flushing.
  pumping_ = true;
  do {
    repump_ = false;
    pumpRequestBodyOnce();
  } while (repump_ && !req_body_done_ && state_ == State::kProxy);
  pumping_ = false;
}

void HttpConnection::pumpRequestBodyOnce() {
  if (chain_) {
    // The chain holds (or passes on) the body; up_out_ grows only with what
    // leaves it. A filter waiting with the body at its limit (watermark) stops
    // the reading here: in_ fills and readDownstream() pauses.
    while (up_out_.size() < kHighWater && !in_.empty() && !req_body_done_ && !chain_->requestOverWatermark()) {
      ChainBodySink sink(req_piece_);
      auto r = req_decoder_.decode(in_.readable(), sink);
      in_.consume(r.consumed);
      if (r.error) {
        close_after_response_ = true;
        releaseUpstream(false);
        if (!response_started_) {
          localReply(req_decoder_.failure().status, fmt::format("{}\n", req_decoder_.failure().reason));
        } else {
          closeConnection();
        }
        return;
      }
      if (r.done) {
        req_body_done_ = true;
        timer_.cancel();
      }
      const auto& limits = listener_->config->limits;
      if (limits.max_request_body_bytes != 0 && req_decoder_.bodyBytes() > limits.max_request_body_bytes) {
        close_after_response_ = true;
        releaseUpstream(false);
        if (!response_started_) {
          localReply(413, "request body too large\n");
        } else {
          closeConnection();
        }
        return;
      }
      if (!sink.data().empty() || r.done) {
        uint64_t request = requests_;
        feedRequestBody(sink.data(), r.done, sink.takeTrailers());
        if (request != requests_ || state_ != State::kProxy || !chain_) {
          return;  // the request ended inside the chain (a local reply)
        }
      }
      if (r.consumed == 0) {
        break;
      }
    }
    if (!req_body_done_) {
      timer_.armAfter(listener_->config->limits.idle_timeout);
    }
    if (read_paused_ && in_.size() < kHighWater / 2 && state_ != State::kClosed) {
      read_paused_ = false;
      readDownstream();
    }
    return;
  }
  BodyWriter writer(up_out_, req_decoder_.kind() == http::BodyKind::kChunked, true,
                    replayable_ ? &replay_ : nullptr);
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
  if (replayable_ && retry_policy_ != nullptr && replay_.size() > upstream_head_.size() + retry_policy_->max_buffered_body_bytes) {
    replayable_ = false;  // too big to keep: this request won't be retried
    replay_.clear();
    replay_.shrink_to_fit();
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
    if (upstream_ && upstream_->connected() && !resp_head_done_) {
      armResponseTimer();  // the response clock starts once the request is complete
    }
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
  resumeUpstreamReading();
}

void HttpConnection::resumeUpstreamReading() {
  if (!upstream_read_paused_ || out_.size() >= kHighWater / 2) {
    return;
  }
  upstream_read_paused_ = false;
  if (chain_ && upstream_ && !reading_upstream_ && !upstream_->in().empty()) {
    // Input left unread while a filter held the response at its watermark.
    processUpstreamInput();
    if (state_ == State::kClosed || upstream_read_paused_) return;
  }
  readUpstream();
}

void HttpConnection::resumeReading(bool response) {
  if (state_ != State::kProxy) return;
  if (response) {
    resumeUpstreamReading();
    return;
  }
  sendPendingContinue();  // a filter that waited for a call now wants the body
  if (state_ == State::kProxy) pumpRequestBody();
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
  if (filteredLocalReply(status, body, content_type, extra_headers)) {
    return;
  }
  status_ = status;
  response_started_ = true;
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

void HttpConnection::finishRequest() {
  request_timer_.cancel();
  continue_pending_ = false;
  if (stream_info_ && stream_info_->drain_connection) {
    close_after_response_ = true;
  }
  endFilters();
  if (cluster_) {
    releaseUpstream(false);  // still attached when a local reply ends the request
    endUpstreamRequest();
  }
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
    in_.clear();  // never parsed: the connection ends with this response
    // A client that stops reading must not pin the connection forever.
    timer_.armAfter(listener_->config->limits.idle_timeout);
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
    head_timer_armed_ = true;
    // Pipelined requests answered locally finish inside processInput(); loop
    // here rather than recursing once per request.
    if (processing_pipeline_) {
      more_pipelined_ = true;
      return;
    }
    processing_pipeline_ = true;
    do {
      more_pipelined_ = false;
      processInput();
    } while (more_pipelined_ && state_ == State::kHead && !in_.empty());
    processing_pipeline_ = false;
  } else {
    in_.shrinkIfEmpty();
    timer_.armAfter(listener_->config->limits.idle_timeout);
    head_timer_armed_ = false;
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
  e.upstream_host = host_ >= 0 && cluster_ ? std::string_view(cluster_->info().endpoints[static_cast<size_t>(host_)].name)
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
  endFilters();
  request_timer_.cancel();
  if (cluster_) {
    endUpstreamRequest();
  }
  timer_.cancel();
  up_timer_.cancel();
  worker_.loop().remove(fd_.get());
  fd_.reset();
  listener_->active_connections.add(-1);
  worker_.onConnectionClosed(*this);
}

}  // namespace pier::proxy
