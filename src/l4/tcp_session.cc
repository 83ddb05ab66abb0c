#include "src/l4/tcp_session.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "src/l4/address.h"

namespace pier::l4 {
namespace {

constexpr size_t kCopyChunk = 64 * 1024;

// Closing with a zero linger time sends RST instead of FIN: how a reset on
// one side is passed on to the other.
void resetOnClose(const net::Fd& fd) {
  if (fd.valid()) {
    linger l{1, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
}

bool isResetReason(TcpCloseReason reason) {
  return reason != TcpCloseReason::kFinished && reason != TcpCloseReason::kIdleTimeout;
}

}  // namespace

const char* toString(TcpCloseReason reason) {
  switch (reason) {
    case TcpCloseReason::kOpen:
      return "open";
    case TcpCloseReason::kFinished:
      return "finished";
    case TcpCloseReason::kIdleTimeout:
      return "idle_timeout";
    case TcpCloseReason::kDownstreamError:
      return "downstream_error";
    case TcpCloseReason::kUpstreamError:
      return "upstream_error";
    case TcpCloseReason::kDownstreamClosed:
      return "downstream_closed";
    case TcpCloseReason::kNoEndpoint:
      return "no_endpoint";
    case TcpCloseReason::kConnectFailed:
      return "connect_failed";
    case TcpCloseReason::kProxyHeaderInvalid:
      return "proxy_header_invalid";
    case TcpCloseReason::kProxyHeaderTimeout:
      return "proxy_header_timeout";
    case TcpCloseReason::kAborted:
      return "aborted";
  }
  return "unknown";
}

TcpSession::TcpSession(event::Loop& loop, net::Fd downstream, const net::Address& peer,
                       std::shared_ptr<UpstreamPicker> picker, TcpSessionOptions options,
                       CloseCallback on_close)
    : loop_(loop),
      picker_(std::move(picker)),
      options_(std::move(options)),
      on_close_(std::move(on_close)),
      down_(*this, false),
      up_(*this, true),
      timer_(loop, [this] { onTimer(); }),
      resume_(loop, [this] { pumpAll(); }),
      header_parser_(options_.proxy_header_limits) {
  down_.fd = std::move(downstream);
  stats_.peer = peer;
  stats_.client = peer;
  to_up_.from = &down_;
  to_up_.to = &up_;
  to_up_.to_upstream = true;
  to_down_.from = &up_;
  to_down_.to = &down_;
}

TcpSession::~TcpSession() {
  if (down_.fd.valid()) loop_.remove(down_.fd.get());
  if (up_.fd.valid()) loop_.remove(up_.fd.get());
  releaseUpstream();
}

void TcpSession::start() {
  stats_.started = loop_.now();
  loop_.add(down_.fd.get(), down_, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
  // Edge-triggered: data that arrived before registration may not raise an
  // event we can rely on, so assume readable and let EAGAIN say otherwise.
  down_.readable = true;
  if (options_.accept_proxy_header) {
    state_ = State::kReadingHeader;
    timer_.armAfter(options_.proxy_header_timeout);
    readHeader();
  } else {
    connectNext();
  }
}

void TcpSession::close() {
  if (state_ != State::kClosed) {
    finish(TcpCloseReason::kAborted);
  }
}

void TcpSession::onEvent(bool upstream, uint32_t events) {
  if (state_ == State::kClosed) {
    return;  // a stale event from this iteration's batch
  }
  if (upstream && state_ == State::kConnecting) {
    onConnectEvent(events);
    return;
  }
  Side& side = upstream ? up_ : down_;
  if (events & EPOLLERR) {
    fail(upstream, net::socketError(side.fd.get()));
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) side.readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP)) side.hup_seen = true;
  if (events & EPOLLOUT) side.writable = true;
  if (state_ == State::kReadingHeader) {
    readHeader();
  } else if (state_ == State::kForwarding) {
    pumpAll();
  }
  // kConnecting: downstream readiness is remembered until forwarding starts.
}

// --- accept mode: the client's PROXY header --------------------------------

void TcpSession::readHeader() {
  while (state_ == State::kReadingHeader && down_.readable) {
    // Never read past the longest header, so no payload piles up here.
    const size_t room = header_parser_.maxHeaderBytes() - header_bytes_.size();
    if (room == 0) {
      finish(TcpCloseReason::kProxyHeaderInvalid);
      return;
    }
    char chunk[512];
    ssize_t n = ::read(down_.fd.get(), chunk, std::min(room, sizeof chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        down_.readable = false;
        return;
      }
      fail(false, errno);
      return;
    }
    if (n == 0) {
      finish(TcpCloseReason::kDownstreamClosed);
      return;
    }
    header_bytes_.append(chunk, static_cast<size_t>(n));
    switch (header_parser_.parse(header_bytes_)) {
      case ProxyHeaderParser::Status::kIncomplete:
        break;
      case ProxyHeaderParser::Status::kError:
        finish(TcpCloseReason::kProxyHeaderInvalid);
        return;
      case ProxyHeaderParser::Status::kComplete:
        onHeaderComplete(header_parser_.header(),
                         std::string_view(header_bytes_).substr(header_parser_.consumed()));
        return;
    }
  }
}

void TcpSession::onHeaderComplete(const ProxyHeader& header, std::string_view rest) {
  if (header.udp) {
    // A datagram client cannot have made this stream; the sender is confused.
    finish(TcpCloseReason::kProxyHeaderInvalid);
    return;
  }
  if (!header.local) {
    client_header_ = header;
    have_client_header_ = true;
    stats_.client = header.source;
  }
  early_payload_.assign(rest);
  header_bytes_.clear();
  header_bytes_.shrink_to_fit();
  timer_.cancel();
  connectNext();
}

// --- connecting, with failover ----------------------------------------------

void TcpSession::connectNext() {
  state_ = State::kConnecting;
  while (true) {
    if (stats_.connect_attempts >= options_.max_connect_attempts) {
      finish(TcpCloseReason::kConnectFailed);
      return;
    }
    auto picked = picker_->pick(stats_.connect_attempts, previous_endpoint_, stats_.client);
    if (!picked) {
      finish(stats_.connect_attempts == 0 ? TcpCloseReason::kNoEndpoint : TcpCloseReason::kConnectFailed);
      return;
    }
    ++stats_.connect_attempts;
    candidate_endpoint_ = picked->index;
    stats_.upstream = picked->address;
    auto fd = net::connectTcp(picked->address);
    if (!fd.ok()) {
      picker_->onConnectResult(picked->index, false);
      previous_endpoint_ = picked->index;
      stats_.error = errno;
      continue;
    }
    up_.fd = std::move(fd.value());
    up_.readable = false;
    up_.writable = false;
    loop_.add(up_.fd.get(), up_, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    timer_.armAfter(options_.connect_timeout);
    return;
  }
}

void TcpSession::onConnectEvent(uint32_t events) {
  const int error = net::socketError(up_.fd.get());
  if (error != 0 || (events & EPOLLERR)) {
    connectFailed(error != 0 ? error : ECONNREFUSED);
    return;
  }
  if (!(events & EPOLLOUT)) {
    return;
  }
  up_.writable = true;
  up_.readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0;
  // A FIN already here came with this event, and no later edge reports it:
  // pump() must read on to the EOF (see its short-read case).
  up_.hup_seen = (events & (EPOLLRDHUP | EPOLLHUP)) != 0;
  stats_.endpoint = candidate_endpoint_;
  session_reported_ = false;
  picker_->onConnectResult(candidate_endpoint_, true);
  startForwarding();
}

void TcpSession::connectFailed(int error) {
  // Nothing has been sent upstream yet, so another endpoint is always safe.
  picker_->onConnectResult(candidate_endpoint_, false);
  previous_endpoint_ = candidate_endpoint_;
  stats_.error = error;
  loop_.remove(up_.fd.get());
  up_.fd.reset();
  timer_.cancel();
  connectNext();
}

// --- forwarding ---------------------------------------------------------------

void TcpSession::setUpFlow(Flow& flow) {
  // Every flow starts by copying: for small messages read+write is cheaper
  // than two splices through a pipe, and most sessions never need a pipe
  // (HAProxy's splice-auto makes the same bet). A read that fills the whole
  // buffer marks bulk transfer, and the flow switches to splice then.
  flow.copy = true;
  flow.may_splice = options_.use_splice;
  if (!options_.use_splice) {
    stats_.copied = true;
  }
}

void TcpSession::startSplicing(Flow& flow) {
  flow.may_splice = false;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    // Out of descriptors: keep copying.
    stats_.copied = true;
    return;
  }
  flow.copy = false;
  flow.pipe_read.reset(fds[0]);
  flow.pipe_write.reset(fds[1]);
  // A larger pipe means fewer wakeups per megabyte; the system may refuse.
  fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(options_.pipe_size));
  int capacity = fcntl(fds[1], F_GETPIPE_SZ);
  flow.pipe_capacity = capacity > 0 ? static_cast<size_t>(capacity) : 65536;
}

void TcpSession::startForwarding() {
  state_ = State::kForwarding;
  setUpFlow(to_up_);
  setUpFlow(to_down_);
  if (options_.send_proxy_header != SendProxyHeader::kNone) {
    net::Address src = stats_.peer;
    net::Address dst;
    if (have_client_header_) {
      src = client_header_.source;
      dst = client_header_.destination;
    } else if (auto local = localAddressOf(down_.fd.get())) {
      dst = *local;
    }
    std::string header;
    if (options_.send_proxy_header == SendProxyHeader::kV1) {
      appendProxyHeaderV1(header, src, dst);
    } else {
      appendProxyHeaderV2(header, src, dst);
    }
    to_up_.buffer.append(header);
    to_up_.uncounted = header.size();
  }
  if (!early_payload_.empty()) {
    to_up_.buffer.append(early_payload_);
    early_payload_.clear();
    early_payload_.shrink_to_fit();
  }
  last_activity_ = loop_.now();
  timer_.armAfter(options_.idle_timeout);
  pumpAll();
}

void TcpSession::pumpAll() {
  if (state_ != State::kForwarding) {
    return;
  }
  bool more = pump(to_up_);
  if (state_ != State::kForwarding) return;
  more = pump(to_down_) || more;
  if (state_ != State::kForwarding) return;
  if (to_up_.shut && to_down_.shut) {
    finish(TcpCloseReason::kFinished);
    return;
  }
  if (more) {
    resume_.schedule();
  }
}

void TcpSession::account(Flow& flow, size_t bytes) {
  size_t skip = std::min(bytes, flow.uncounted);
  flow.uncounted -= skip;
  bytes -= skip;
  last_activity_ = loop_.now();
  if (flow.to_upstream) {
    stats_.bytes_to_upstream += bytes;
    options_.bytes_to_upstream_counter.add(static_cast<int64_t>(bytes));
  } else {
    stats_.bytes_to_downstream += bytes;
    options_.bytes_to_downstream_counter.add(static_cast<int64_t>(bytes));
  }
}

// True when the buffer is empty; false when blocked or failed.
bool TcpSession::flushBuffer(Flow& flow) {
  while (!flow.buffer.empty()) {
    if (!flow.to->writable) return false;
    net::IoResult r = net::writeSome(flow.to->fd.get(), flow.buffer);
    account(flow, r.bytes);
    if (r.status == net::IoStatus::kError) {
      fail(flow.to_upstream, errno);
      return false;
    }
    if (r.status == net::IoStatus::kWouldBlock) {
      flow.to->writable = false;
      return false;
    }
  }
  return true;
}

// True when the pipe is empty; false when blocked or failed.
bool TcpSession::flushPipe(Flow& flow) {
  while (flow.in_pipe > 0) {
    if (!flow.to->writable) return false;
    ssize_t n = splice(flow.pipe_read.get(), nullptr, flow.to->fd.get(), nullptr, flow.in_pipe,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      flow.in_pipe -= static_cast<size_t>(n);
      account(flow, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      flow.to->writable = false;
      return false;
    }
    if (n < 0 && errno == EINVAL) {
      // This socket takes no splice: move what the pipe holds into the
      // buffer and copy from now on.
      while (flow.in_pipe > 0) {
        char* dst = flow.buffer.prepare(flow.in_pipe);
        ssize_t got = ::read(flow.pipe_read.get(), dst, flow.in_pipe);
        if (got <= 0) {
          fail(flow.to_upstream, EIO);
          return false;
        }
        flow.buffer.commit(static_cast<size_t>(got));
        flow.in_pipe -= static_cast<size_t>(got);
      }
      flow.copy = true;
      stats_.copied = true;
      return flushBuffer(flow);
    }
    fail(flow.to_upstream, n < 0 ? errno : EIO);
    return false;
  }
  return true;
}

bool TcpSession::pump(Flow& flow) {
  size_t moved = 0;
  while (state_ == State::kForwarding) {
    if (!flushBuffer(flow) || !flushPipe(flow)) {
      return false;
    }
    // Everything read so far has been written.
    if (flow.eof) {
      if (!flow.shut) {
        flow.shut = true;
        ::shutdown(flow.to->fd.get(), SHUT_WR);
      }
      return false;
    }
    if (!flow.from->readable) return false;
    if (moved >= options_.fairness_budget) return true;

    if (!flow.copy) {
      ssize_t n = splice(flow.from->fd.get(), nullptr, flow.pipe_write.get(), nullptr, flow.pipe_capacity,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        flow.in_pipe = static_cast<size_t>(n);
        moved += static_cast<size_t>(n);
      } else if (n == 0) {
        flow.eof = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        flow.from->readable = false;  // the pipe is empty, so this is the socket
      } else if (errno == EINVAL) {
        flow.copy = true;
        stats_.copied = true;
      } else {
        fail(!flow.to_upstream, errno);
      }
      continue;
    }
    net::IoResult r = net::readSome(flow.from->fd.get(), flow.buffer, kCopyChunk);
    switch (r.status) {
      case net::IoStatus::kOk:
        moved += r.bytes;
        // A short read drained the socket: edge triggering reports new data,
        // so the read that would only say EAGAIN is saved (unless a FIN came
        // with this data, which no later edge would report).
        if (r.short_read && !flow.from->hup_seen) {
          flow.from->readable = false;
        }
        if (flow.may_splice && !r.short_read) {
          // Switched only after this buffer is flushed (the loop's top), so
          // bytes stay in order: buffer first, then the pipe.
          if (flushBuffer(flow) && flow.buffer.empty()) {
            startSplicing(flow);
          }
        }
        break;
      case net::IoStatus::kClosed:
        flow.eof = true;
        break;
      case net::IoStatus::kWouldBlock:
        flow.from->readable = false;
        break;
      case net::IoStatus::kError:
        fail(!flow.to_upstream, errno);
        break;
    }
  }
  return false;
}

// --- timers and closing ---------------------------------------------------------

void TcpSession::onTimer() {
  switch (state_) {
    case State::kReadingHeader:
      finish(TcpCloseReason::kProxyHeaderTimeout);
      return;
    case State::kConnecting:
      connectFailed(ETIMEDOUT);
      return;
    case State::kForwarding: {
      // The deadline moves with activity; re-arming on every byte would cost
      // a heap update per read, so it is checked lazily here instead.
      MonoTime deadline = last_activity_ + options_.idle_timeout;
      if (loop_.now() >= deadline) {
        finish(TcpCloseReason::kIdleTimeout);
      } else {
        timer_.armAt(deadline);
      }
      return;
    }
    case State::kIdle:
    case State::kClosed:
      return;
  }
}

void TcpSession::fail(bool upstream_side, int error) {
  finish(upstream_side ? TcpCloseReason::kUpstreamError : TcpCloseReason::kDownstreamError, error);
}

void TcpSession::releaseUpstream() {
  if (!session_reported_) {
    session_reported_ = true;
    picker_->onSessionDone(stats_.endpoint);
  }
}

void TcpSession::finish(TcpCloseReason reason, int error) {
  state_ = State::kClosed;
  stats_.reason = reason;
  if (error != 0) stats_.error = error;
  timer_.cancel();
  resume_.cancel();
  const bool reset = isResetReason(reason);
  for (Side* side : {&down_, &up_}) {
    if (side->fd.valid()) {
      loop_.remove(side->fd.get());
      if (reset) resetOnClose(side->fd);
      side->fd.reset();
    }
  }
  for (Flow* flow : {&to_up_, &to_down_}) {
    flow->pipe_read.reset();
    flow->pipe_write.reset();
    flow->buffer.clear();
    flow->buffer.shrinkIfEmpty();
  }
  releaseUpstream();
  if (on_close_) {
    on_close_(*this);
  }
}

}  // namespace pier::l4
