// The upstream half of HttpConnection: choosing an endpoint, connecting,
// sending the request, reading the response, and deciding what a failure
// means (retry elsewhere, eject the endpoint, or answer 502/503/504).
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "src/common/log.h"
#include "src/l4/address.h"
#include "src/l4/proxy_protocol.h"
#include "src/proxy/body_writer.h"
#include "src/proxy/chain_body_sink.h"
#include "src/proxy/http_connection.h"
#include "src/proxy/message_writer.h"
#include "src/proxy/worker.h"

namespace pier::proxy {
namespace {

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" || method == "DELETE" ||
         method == "TRACE";
}

UpstreamOutcome outcomeOf(int status) {
  if (status == 502 || status == 503 || status == 504) return UpstreamOutcome::kGatewayError;
  if (status >= 500) return UpstreamOutcome::kServerError;
  return UpstreamOutcome::kSuccess;
}

bool retriableStatus(const config::RetryPolicy& p, int status) {
  using P = config::RetryPolicy;
  if ((p.retry_on & P::k5xx) && status >= 500) return true;
  if ((p.retry_on & P::kGatewayError) && (status == 502 || status == 503 || status == 504)) return true;
  if (p.retry_on & P::kRetriableStatusCodes) {
    for (int code : p.retriable_status_codes) {
      if (code == status) return true;
    }
  }
  return false;
}

bool limited(uint32_t limit, const std::atomic<int64_t>& value) {
  return limit != 0 && value.load(std::memory_order_relaxed) >= static_cast<int64_t>(limit);
}

}  // namespace

void HttpConnection::startUpstream() {
  const auto& c = cluster_->config();
  auto& load = *cluster_->info().load;
  if (limited(c.circuit_breakers.max_requests, load.requests) ||
      limited(c.circuit_breakers.max_pending_requests, load.pending)) {
    cluster_->info().overflow.add();
    upstreamFailed(503, "circuit breaker open: too many requests");
    return;
  }
  if (c.circuit_breakers.max_requests != 0) {
    load.requests.fetch_add(1, std::memory_order_relaxed);
    counted_request_ = true;
  }
  retries_ = 0;
  stale_retries_ = 0;
  previous_host_ = -1;
  pickAndConnect();
}

void HttpConnection::pickAndConnect() {
  resp_head_done_ = false;
  resp_parser_.reset();
  up_written_ = false;
  while (true) {
    pick_context_.avoid = previous_host_;
    host_ = cluster_->pick(pick_context_, worker_.loop().now());
    if (host_ < 0) {
      upstreamFailed(503, "no healthy upstream");
      return;
    }
    ++attempts_;
    cluster_->onRequestStart(host_);
    EndpointPool& pool = cluster_->pool(host_);
    // A PROXY header describes one client, so such connections are never shared.
    bool proxy_protocol = cluster_->config().send_proxy_protocol != config::Cluster::ProxyProtocol::kNone;
    if (auto idle = proxy_protocol ? nullptr : pool.takeIdle()) {
      attach(std::move(idle));
      upstream_->setConnected();
      onUpstreamConnected();
      return;
    }
    const auto& c = cluster_->config();
    auto& load = *cluster_->info().load;
    if (limited(c.circuit_breakers.max_connections, load.connections)) {
      cluster_->onRequestEnd(host_);
      cluster_->info().overflow.add();
      upstreamFailed(503, "circuit breaker open: too many connections");
      return;
    }
    auto conn = pool.connect();
    if (conn) {
      if (c.circuit_breakers.max_connections != 0) {
        conn.value()->trackIn(cluster_->info().load);
      }
      attach(std::move(conn.value()));
      if (proxy_protocol) {
        prependProxyHeader();
      }
      cluster_->info().connections.add();
      cluster_->endpoint(host_).connections.add();
      if (c.circuit_breakers.max_pending_requests != 0) {
        load.pending.fetch_add(1, std::memory_order_relaxed);
        counted_pending_ = true;
      }
      up_timer_.armAfter(c.connect_timeout);
      return;
    }
    // Synchronous failure (no socket, unroutable): count it and move on.
    cluster_->onRequestEnd(host_);  // no connection was attached to release it
    onConnectFailure(conn.error().c_str());
    return;
  }
}

void HttpConnection::prependProxyHeader() {
  std::string header;
  auto local = l4::localAddressOf(fd_.get()).value_or(peer_);
  if (cluster_->config().send_proxy_protocol == config::Cluster::ProxyProtocol::kV1) {
    l4::appendProxyHeaderV1(header, peer_, local);
  } else {
    l4::appendProxyHeaderV2(header, peer_, local);
  }
  std::string rest(up_out_.readable());
  up_out_.clear();
  up_out_.append(header);
  up_out_.append(rest);
}

void HttpConnection::attach(std::unique_ptr<UpstreamConnection> connection) {
  upstream_ = std::move(connection);
  upstream_->setUser(this);
  up_hup_seen_ = false;
  upstream_read_paused_ = false;
}

void HttpConnection::clearPending() {
  if (counted_pending_) {
    cluster_->info().load->pending.fetch_sub(1, std::memory_order_relaxed);
    counted_pending_ = false;
  }
}

void HttpConnection::releaseUpstream(bool reusable) {
  up_timer_.cancel();
  clearPending();
  if (!upstream_) {
    return;
  }
  cluster_->onRequestEnd(host_);
  EndpointPool& pool = upstream_->pool();
  if (cluster_->config().send_proxy_protocol != config::Cluster::ProxyProtocol::kNone) {
    reusable = false;
  }
  if (reusable) {
    const auto& c = cluster_->config();
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
      int err = net::socketError(upstream_->fd());
      onConnectFailure(err != 0 ? std::strerror(err) : "connection refused");
      return;
    }
    if (events & EPOLLOUT) {
      int err = net::socketError(upstream_->fd());
      if (err != 0) {
        onConnectFailure(std::strerror(err));
        return;
      }
      upstream_->setConnected();
      clearPending();
      onUpstreamConnected();
      if (state_ == State::kClosed || !upstream_) {
        return;
      }
      // Edge triggered: a reply or FIN that came with the connect won't be reported again.
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        up_hup_seen_ = up_hup_seen_ || (events & (EPOLLRDHUP | EPOLLHUP)) != 0;
        readUpstream();
      }
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
  if (requestSent()) {
    armResponseTimer();
  } else {
    up_timer_.cancel();  // armed when the request is complete (pumpRequestBody)
  }
  flushUpstream();
}

void HttpConnection::armResponseTimer() {
  std::optional<config::Millis> timeout;
  if (retry_policy_ != nullptr && retry_policy_->per_try_timeout) {
    timeout = retry_policy_->per_try_timeout;
  } else if (route_ != nullptr && route_->timeout) {
    timeout = route_->timeout;
  } else {
    timeout = cluster_->config().response_timeout;
  }
  if (timeout->count() > 0) {
    up_timer_.armAfter(*timeout);
  } else {
    up_timer_.cancel();
  }
}

void HttpConnection::onUpstreamTimer() {
  if (upstream_ && !upstream_->connected()) {
    onConnectFailure("connect timeout");
    return;
  }
  if (resp_head_done_ && upstream_read_paused_) {
    // We stopped reading because the client doesn't read: the client, not
    // the upstream, stalled for idle_timeout.
    releaseUpstream(false);
    closeConnection();
    return;
  }
  if (resp_head_done_ && !response_started_) {
    // Filters still hold the response: the client can still get an answer.
    cluster_->recordOutcome(host_, UpstreamOutcome::kTimeout, worker_.loop().now());
    upstreamFailed(504, "upstream stalled mid-response");
    return;
  }
  if (resp_head_done_) {
    // The upstream stalled mid-body: the response can't be completed.
    PIER_LOG_WARN("cluster {}: endpoint {} stalled mid-response", cluster_->config().name,
                  cluster_->endpoint(host_).name);
    cluster_->recordOutcome(host_, UpstreamOutcome::kTimeout, worker_.loop().now());
    releaseUpstream(false);
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  cluster_->info().timeouts.add();
  cluster_->recordOutcome(host_, UpstreamOutcome::kTimeout, worker_.loop().now());
  using P = config::RetryPolicy;
  if (retryAllowed(P::k5xx | P::kGatewayError | P::kReset, false)) {
    retry("per-try timeout");
    return;
  }
  upstreamFailed(504, "upstream response timeout");
}

void HttpConnection::onConnectFailure(const char* why) {
  const auto& ep = cluster_->endpoint(host_);
  PIER_LOG_WARN("cluster {}: connect to {} failed: {}", cluster_->config().name, ep.name, why);
  cluster_->info().connect_failures.add();
  ep.connect_failures.add();
  cluster_->recordOutcome(host_, UpstreamOutcome::kConnectFailure, worker_.loop().now());
  releaseUpstream(false);
  // Nothing reached the endpoint, so another one may always take the request;
  // every other endpoint gets one chance even without a retry policy (as
  // nginx does). Hammering the same refused endpoint again helps nobody.
  auto budget = std::max<size_t>(retry_policy_->num_retries, cluster_->size() - 1);
  bool wanted = (retry_policy_->retry_on & config::RetryPolicy::kConnectFailure) != 0;
  if (wanted && replayable_ && !up_written_ && cluster_->size() > 1 && retries_ < budget && retryBudgetAllows()) {
    retry("connect failure");
    return;
  }
  upstreamFailed(503, "upstream connect failed");
}

bool HttpConnection::retryBudgetAllows() {
  const auto& rb = cluster_->config().retry_budget;
  if (cluster_->retryAllowed(rb.budget_percent, rb.min_retry_concurrency)) {
    return true;
  }
  cluster_->info().retries_budget_exhausted.add();
  return false;
}

bool HttpConnection::retryAllowed(uint32_t reasons, bool stale_connection) {
  if (status_ != 0 || retry_policy_ == nullptr) {
    return false;  // something already went downstream
  }
  if (!replayable_ || !idempotent(upstream_method_.empty() ? method_ : upstream_method_)) {
    return false;
  }
  if (stale_connection) {
    return stale_retries_++ < 3;  // the request never reached the endpoint
  }
  if ((retry_policy_->retry_on & reasons) == 0 || retries_ >= retry_policy_->num_retries) {
    return false;
  }
  return retryBudgetAllows();
}

void HttpConnection::retry(const char* why) {
  PIER_LOG_DEBUG("{} {}: retrying on another endpoint ({})", method_, path_, why);
  releaseUpstream(false);
  ++retries_;
  cluster_->info().retries.add();
  if (!retrying_) {
    cluster_->onRetryStart();  // one budget slot per retrying request, released in endUpstreamRequest()
    retrying_ = true;
  }
  previous_host_ = host_;
  up_out_.clear();
  up_out_.append(replay_);
  pickAndConnect();
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
    up_hup_seen_ = true;
    readUpstream();
    return;
  }
  if (r.bytes > 0 && up_out_.size() < kHighWater / 2 && state_ == State::kProxy) {
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
    if (out_.size() >= kHighWater || (chain_ && chain_->responseOverWatermark())) {
      upstream_read_paused_ = true;
      return;
    }
    auto r = net::readSome(upstream_->fd(), upstream_->in(), kReadChunk);
    if (r.status == net::IoStatus::kOk) {
      bool drained = r.short_read && !up_hup_seen_;
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

void HttpConnection::processUpstreamInput() {
  // What the filter chain writes downstream from here is flushed once, at the
  // end, not piece by piece (one send per response, as without filters).
  reading_upstream_ = true;
  struct ClearFlag {
    bool& flag;
    ~ClearFlag() { flag = false; }
  } clear_flag{reading_upstream_};
  Buffer& in = upstream_->in();
  if (state_ == State::kTunnel) {
    tunnel_activity_ = worker_.loop().now();
    out_.append(in.readable());
    in.consume(in.size());
    flushDownstream();
    return;
  }
  while (!resp_head_done_) {
    auto status = resp_parser_.parse(in.readable(), upstream_method_.empty() ? method_ : upstream_method_, resp_head_);
    if (status == http::ParseStatus::kIncomplete) {
      return;
    }
    if (status == http::ParseStatus::kError) {
      cluster_->info().bad_responses.add();
      cluster_->recordOutcome(host_, UpstreamOutcome::kGatewayError, worker_.loop().now());
      upstreamFailed(502, "malformed upstream response");
      return;
    }
    if (resp_head_.status == 101) {
      if (!upgrade_) {
        cluster_->info().bad_responses.add();
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
    cluster_->recordOutcome(host_, outcomeOf(resp_head_.status), worker_.loop().now());
    if (retriableStatus(*retry_policy_, resp_head_.status) && retryAllowed(~0u, false)) {
      retry("retriable status");
      return;
    }
    resp_head_done_ = true;
    // From here the timer watches for an upstream that stalls mid-body.
    up_timer_.armAfter(cluster_->config().idle_timeout);
    if (chain_) {
      uint64_t request = requests_;
      startFilteredResponse();  // consumes the head
      if (request != requests_ || state_ != State::kProxy || !upstream_) {
        return;
      }
      break;
    }
    writeResponseHead();
    in.consume(resp_head_.head_bytes);
    resp_decoder_.start(resp_head_.body, resp_head_.content_length, http::ParseLimits{});
  }
  if (chain_ && !responseBodyBypass()) {
    while (!upstream_response_done_ && upstream_ && !in.empty() && !chain_->responseOverWatermark()) {
      ChainBodySink sink(resp_piece_);
      auto r = resp_decoder_.decode(in.readable(), sink);
      in.consume(r.consumed);
      if (r.error) {
        cluster_->info().bad_responses.add();
        releaseUpstream(false);
        if (response_started_) {
          close_after_flush_ = true;
          flushDownstream();
        } else {
          close_after_response_ = true;
          localReply(502, "malformed upstream response body\n");
        }
        return;
      }
      if (r.consumed > 0) {
        up_timer_.armAfter(cluster_->config().idle_timeout);
      }
      if (r.done) {
        upstreamResponseDone(resp_head_.keep_alive);
      }
      if (!sink.data().empty() || r.done) {
        uint64_t request = requests_;
        feedResponseBody(sink.data(), r.done, sink.takeTrailers());
        if (request != requests_ || state_ != State::kProxy) {
          return;
        }
      }
      if (r.consumed == 0) {
        break;
      }
    }
    if (chain_ && upstream_ && chain_->responseOverWatermark()) {
      upstream_read_paused_ = true;  // resumeUpstreamReading() once the filter lets go
    }
    flushDownstream();
    return;
  }
  BodyWriter writer(out_, resp_chunked_out_, version_ == http::Version::kHttp11);
  auto r = resp_decoder_.decode(in.readable(), writer);
  in.consume(r.consumed);
  if (r.error) {
    cluster_->info().bad_responses.add();
    releaseUpstream(false);
    close_after_flush_ = true;
    flushDownstream();
    return;
  }
  if (r.done) {
    finishResponse(resp_head_.keep_alive);
    return;
  }
  if (r.consumed > 0) {
    up_timer_.armAfter(cluster_->config().idle_timeout);
  }
  flushDownstream();
}

void HttpConnection::writeResponseHead() {
  status_ = resp_head_.status;
  response_started_ = true;
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
  DownstreamResponse dr{&resp_head_,  route_,      framing,
                        close_after_response_, http10, request_id_,
                        listener_->config->forwarding.request_id_header};
  writeDownstreamResponseHead(out_, dr);
}

void HttpConnection::startTunnel() {
  Buffer& in = upstream_->in();
  up_timer_.cancel();
  request_timer_.cancel();
  tunnel_activity_ = worker_.loop().now();
  timer_.armAfter(listener_->config->limits.idle_timeout);
  status_ = 101;
  resp_head_done_ = true;
  response_started_ = true;
  endFilters();  // an upgraded connection is a byte stream: filters stop at the 101
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
    // A kept-alive connection the upstream closed just as we reused it: the
    // request never reached it, so a fresh connection can carry it.
    bool stale = upstream_->reused() && upstream_->in().empty();
    if (!stale) {
      cluster_->recordOutcome(host_, UpstreamOutcome::kReset, worker_.loop().now());
    }
    if (retryAllowed(config::RetryPolicy::kReset, stale)) {
      retry(stale ? "stale keep-alive connection" : "upstream reset");
      return;
    }
    cluster_->info().bad_responses.add();
    upstreamFailed(502, "upstream closed before responding");
    return;
  }
  if (resp_decoder_.finishOnClose()) {
    if (chain_) {
      upstreamResponseDone(false);
      std::string none;
      feedResponseBody(none, true, nullptr);
      return;
    }
    if (resp_chunked_out_) {
      out_.append("0\r\n\r\n");
    }
    finishResponse(false);
    return;
  }
  // Truncated body: the only honest signal left is to close the connection
  // (or, while filters still hold the response, a 502).
  cluster_->info().bad_responses.add();
  cluster_->recordOutcome(host_, UpstreamOutcome::kReset, worker_.loop().now());
  if (!response_started_) {
    upstreamFailed(502, "upstream closed mid-response");
    return;
  }
  releaseUpstream(false);
  close_after_flush_ = true;
  flushDownstream();
}

void HttpConnection::upstreamFailed(int status, const char* why) {
  PIER_LOG_DEBUG("{} {}: {} ({})", method_, path_, status, why);
  releaseUpstream(false);
  if (response_started_) {
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
  upstreamResponseDone(upstream_reusable);
  finishRequest();
}

void HttpConnection::upstreamResponseDone(bool upstream_reusable) {
  upstream_response_done_ = true;
  if (!upstream_) {
    return;
  }
  cluster_->info().response_duration.observeNanos((worker_.loop().updateNow() - upstream_start_).count());
  // Reusable only if both directions ended cleanly: nothing of the request
  // left unsent, nothing extra received, and no FIN from the upstream.
  bool reusable = upstream_reusable && requestSent() && upstream_->in().empty() && up_out_.empty() && !up_hup_seen_;
  releaseUpstream(reusable);
}

void HttpConnection::endUpstreamRequest() {
  if (counted_request_) {
    cluster_->info().load->requests.fetch_sub(1, std::memory_order_relaxed);
    counted_request_ = false;
  }
  if (retrying_) {
    cluster_->onRetryEnd();
    retrying_ = false;
  }
}

}  // namespace pier::proxy
