#include "src/upstream/health_probe.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>

#include <fmt/format.h>

namespace pier::upstream {
namespace {

using config::HealthCheck;

// Config strings end up in logs and the admin API: keep them printable and short.
std::string quoted(std::string_view s) {
  constexpr size_t kMaxShown = 64;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

std::string connectReason(int err) {
  if (err == ECONNREFUSED) return "connect refused";
  return fmt::format("connect failed: {}", std::strerror(err));
}

bool statusExpected(const HealthCheck& check, int status) {
  if (check.expected_statuses.empty()) return status >= 200 && status <= 399;
  return std::any_of(check.expected_statuses.begin(), check.expected_statuses.end(),
                     [status](const auto& range) { return status >= range.first && status <= range.second; });
}

// CR, LF or NUL in the request line or Host would let config text forge headers.
bool safeForRequest(std::string_view s, bool allow_space) {
  return std::none_of(s.begin(), s.end(), [allow_space](char c) {
    return c == '\r' || c == '\n' || c == '\0' || (!allow_space && c == ' ');
  });
}

}  // namespace

HealthProbe::HealthProbe(event::Loop& loop, std::shared_ptr<const config::HealthCheck> check,
                         const net::Address& address, std::string host, Done done)
    : loop_(loop),
      check_(std::move(check)),
      address_(address),
      host_(std::move(host)),
      done_(std::move(done)),
      timer_(loop, [this] { onTimer(); }),
      parser_(http::ParseLimits{}) {}

HealthProbe::~HealthProbe() { cancel(); }

void HealthProbe::start() {
  if (state_ != State::kIdle) return;
  state_ = State::kConnecting;
  timer_.armAfter(check_->timeout);
  if (check_->kind == HealthCheck::Kind::kHttp &&
      (!safeForRequest(check_->path, false) || !safeForRequest(host_, true) || check_->path.empty())) {
    failSoon("invalid health check request: path or host has forbidden characters");
    return;
  }
  fd_.reset(::socket(address_.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) {
    failSoon(fmt::format("socket failed: {}", std::strerror(errno)));
    return;
  }
  int one = 1;
  setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_.get(), address_.sa(), address_.length) != 0 && errno != EINPROGRESS) {
    int err = errno;
    fd_.reset();
    failSoon(connectReason(err));
    return;
  }
  try {
    loop_.add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    registered_ = true;
  } catch (const std::exception& e) {
    fd_.reset();
    failSoon(fmt::format("register failed: {}", e.what()));
  }
}

void HealthProbe::cancel() {
  closeSocket();
  timer_.cancel();
  pending_.reset();
  done_ = nullptr;
  state_ = State::kDone;
}

void HealthProbe::closeSocket() {
  if (registered_) {
    loop_.remove(fd_.get());
    registered_ = false;
  }
  fd_.reset();
}

void HealthProbe::failSoon(std::string reason) {
  closeSocket();
  pending_ = std::make_unique<ProbeOutcome>(ProbeOutcome{false, std::move(reason)});
  timer_.armAt(loop_.now());
}

void HealthProbe::onTimer() {
  if (!running()) return;
  if (pending_) {
    auto outcome = std::move(*pending_);
    pending_.reset();
    finish(outcome.pass, std::move(outcome.reason));
    return;
  }
  finish(false, fmt::format("timeout after {}ms", check_->timeout.count()));
}

void HealthProbe::finish(bool pass, std::string reason) {
  closeSocket();
  timer_.cancel();
  state_ = State::kDone;
  in_.clear();
  out_.clear();
  // Moved out first: `done` may release this probe (deferred) or its owner.
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(ProbeOutcome{pass, std::move(reason)});
}

void HealthProbe::onIoEvent(uint32_t events) {
  // An event may already be queued for a probe that finished or was
  // cancelled earlier in the same loop iteration.
  if (!running() || !fd_.valid()) return;
  if (state_ == State::kConnecting) {
    if (int err = net::socketError(fd_.get()); err != 0) {
      finish(false, connectReason(err));
      return;
    }
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    state_ = State::kExchanging;
    onConnected();
    if (!running()) return;
  }
  if (!out_.empty()) {
    flushOutput();
    if (!running()) return;
  }
  readInput();
}

void HealthProbe::onConnected() {
  const HealthCheck& check = *check_;
  if (check.kind == HealthCheck::Kind::kHttp) {
    out_.append(
        fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pier-health/1\r\nConnection: close\r\n\r\n",
                    check.path, host_));
  } else if (!check.send.empty()) {
    out_.append(check.send);
  } else if (check.expect.empty()) {
    finish(true, "tcp connect ok");
  }
}

void HealthProbe::flushOutput() {
  auto result = net::writeSome(fd_.get(), out_);
  if (result.status == net::IoStatus::kError) {
    finish(false, fmt::format("write failed: {}", std::strerror(errno)));
    return;
  }
  if (result.status == net::IoStatus::kWouldBlock) return;  // EPOLLOUT follows
  if (check_->kind == HealthCheck::Kind::kTcp && check_->expect.empty()) {
    finish(true, fmt::format("tcp sent {} bytes", check_->send.size()));
  }
}

void HealthProbe::readInput() {
  const bool http = check_->kind == HealthCheck::Kind::kHttp;
  // Edge-triggered: read until the socket has nothing more to give.
  while (running()) {
    size_t max = 16 * 1024;
    if (!http) {
      if (in_.size() >= kMaxReplyBytes) return;  // onTcpBytes already failed the probe
      max = std::min(max, kMaxReplyBytes - in_.size());
    }
    auto result = net::readSome(fd_.get(), in_, max);
    switch (result.status) {
      case net::IoStatus::kOk:
        http ? onHttpBytes(false) : onTcpBytes(false);
        break;
      case net::IoStatus::kWouldBlock:
        return;
      case net::IoStatus::kClosed:
        http ? onHttpBytes(true) : onTcpBytes(true);
        return;
      case net::IoStatus::kError:
        finish(false, fmt::format("read failed: {}", std::strerror(errno)));
        return;
    }
  }
}

void HealthProbe::onHttpBytes(bool eof) {
  while (true) {
    http::ResponseHead head;
    switch (parser_.parse(in_.readable(), "GET", head)) {
      case http::ParseStatus::kIncomplete:
        if (eof) {
          finish(false, in_.empty() ? "connection closed before response"
                                    : "connection closed before end of response head");
        }
        return;
      case http::ParseStatus::kError:
        finish(false, fmt::format("bad http response: {}", parser_.failure().reason));
        return;
      case http::ParseStatus::kComplete:
        break;
    }
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (head.status >= 100 && head.status < 200 && head.status != 101) {
      in_.consume(head.head_bytes);
      parser_.reset();
      continue;
    }
    finish(statusExpected(*check_, head.status), fmt::format("http status {}", head.status));
    return;
  }
}

void HealthProbe::onTcpBytes(bool eof) {
  const std::string& expect = check_->expect;
  if (expect.empty()) {
    // Nothing to wait for: the reply (if any) doesn't matter; a pass comes from connect or send.
    in_.clear();
    if (eof) finish(false, "connection closed before send completed");
    return;
  }
  std::string_view seen = in_.readable().substr(0, kMaxReplyBytes);
  // Resume the search where a match could still start.
  size_t from = searched_ > expect.size() ? searched_ - expect.size() + 1 : 0;
  if (seen.find(expect, from) != std::string_view::npos) {
    finish(true, fmt::format("found expected {}", quoted(expect)));
    return;
  }
  searched_ = seen.size();
  if (seen.size() >= kMaxReplyBytes) {
    finish(false, fmt::format("expected {} not found in the first {} bytes", quoted(expect), kMaxReplyBytes));
  } else if (eof) {
    finish(false, fmt::format("expected {} not found (connection closed after {} bytes)", quoted(expect),
                              seen.size()));
  }
}

}  // namespace pier::upstream
