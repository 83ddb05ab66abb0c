#include "src/proxy/http_call.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "src/common/buffer.h"
#include "src/common/log.h"
#include "src/http/chars.h"
#include "src/http/codec.h"

namespace pier::proxy {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

bool allOf(std::string_view s, uint8_t cls) {
  return std::all_of(s.begin(), s.end(), [cls](char c) { return http::chars::has(c, cls); });
}

// Headers the request's own framing and connection handling decide; a
// script's copy of them would contradict what we send (or smuggle a second
// request), so they never pass.
bool managedHeader(std::string_view name) {
  return http::isHopByHop(name) || http::equalsLower(name, "content-length") ||
         http::equalsLower(name, "host");
}

bool methodHasBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

filters::HttpCallResponse synthetic(int status, std::string_view body) {
  filters::HttpCallResponse response;
  response.headers.add(":status", std::to_string(status));
  response.body.assign(body);
  return response;
}

void appendLine(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// Writes the request into `out`; returns why it can't be sent, or nullptr.
// Every byte that goes on the wire is checked, so a script can't split the
// request with CR/LF in a header or the path.
const char* serializeRequest(const filters::HttpCallRequest& request, Buffer& out) {
  const std::string_view* method = request.headers.getFirst(":method");
  const std::string_view* path = request.headers.getFirst(":path");
  const std::string_view* authority = request.headers.getFirst(":authority");
  if (method == nullptr || path == nullptr || authority == nullptr) {
    return "missing :method, :path or :authority";
  }
  if (method->empty() || !allOf(*method, http::chars::kToken)) {
    return "invalid :method";
  }
  if (path->empty() || !allOf(*path, http::chars::kTarget)) {
    return "invalid :path";
  }
  if (authority->empty() || !allOf(*authority, http::chars::kHost)) {
    return "invalid :authority";
  }
  std::string head;
  head.reserve(256);
  head.append(*method).append(" ").append(*path).append(" HTTP/1.1\r\n");
  appendLine(head, "host", *authority);
  for (const auto& entry : request.headers.entries()) {
    if (!entry.name.empty() && entry.name.front() == ':') {
      continue;
    }
    if (managedHeader(entry.name)) {
      continue;
    }
    if (entry.name.empty() || !allOf(entry.name, http::chars::kToken) ||
        !allOf(entry.value, http::chars::kFieldValue)) {
      return "invalid header";
    }
    appendLine(head, entry.name, entry.value);
  }
  if (!request.body.empty() || methodHasBody(*method)) {
    appendLine(head, "content-length", std::to_string(request.body.size()));
  }
  // One request per connection: nothing to pool, nothing to go stale.
  appendLine(head, "connection", "close");
  head.append("\r\n");
  out.append(head);
  out.append(request.body);
  return nullptr;
}

}  // namespace

class HttpCall::Exchange final : public event::IoHandler, public event::Deletable, public http::BodySink {
 public:
  Exchange(event::Loop& loop, const net::Address& endpoint, filters::HttpCallDone done, size_t max_body)
      : loop_(loop),
        endpoint_(endpoint),
        done_(std::move(done)),
        max_body_(max_body),
        parser_(limits_),
        timer_(loop, [this] { onTimer(); }) {}
  ~Exchange() override { closeSocket(); }

  void begin(const filters::HttpCallRequest& request);
  // The handle is going away: nothing may run any more.
  void cancel() {
    finished_ = true;
    done_ = nullptr;
    timer_.cancel();
    closeSocket();
  }

  void onIoEvent(uint32_t events) override;
  void onBodyData(std::string_view data) override;
  void onTrailers(std::span<const http::Header>) override {}

 private:
  void failLater(const char* why);
  void onTimer();
  void flush();
  void readResponse();
  void processInput();
  bool takeHead();
  void onEof();
  void fail(std::string_view why);
  void finish(filters::HttpCallResponse response);
  void closeSocket();

  event::Loop& loop_;
  net::Address endpoint_;
  filters::HttpCallDone done_;
  size_t max_body_;
  std::string method_;
  net::Fd fd_;
  Buffer out_;
  Buffer in_;
  http::ParseLimits limits_;
  http::ResponseParser parser_;
  http::ResponseHead head_;
  http::BodyDecoder decoder_;
  filters::HttpCallResponse response_;
  event::Timer timer_;  // the call's timeout, or the posted early failure
  bool failure_pending_ = false;
  bool connected_ = false;
  bool hup_seen_ = false;
  bool head_done_ = false;
  bool too_large_ = false;
  bool finished_ = false;  // done ran (or never will): stop everything
};

void HttpCall::Exchange::begin(const filters::HttpCallRequest& request) {
  if (const std::string_view* method = request.headers.getFirst(":method")) {
    method_ = *method;
  }
  if (const char* why = serializeRequest(request, out_)) {
    failLater(why);
    return;
  }
  auto fd = net::connectTcp(endpoint_);
  if (!fd) {
    failLater(fd.error().c_str());
    return;
  }
  fd_ = std::move(fd.value());
  loop_.add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
  if (request.timeout.count() > 0) {
    timer_.armAfter(request.timeout);
  }
}

// start() must not call back, so an immediate failure waits for the loop;
// a timer (rather than post()) dies with us, so it can't outlive a cancel.
void HttpCall::Exchange::failLater(const char* why) {
  PIER_LOG_DEBUG("httpCall to {}: {}", endpoint_.text(), why);
  failure_pending_ = true;
  timer_.armAfter(Duration::zero());
}

void HttpCall::Exchange::onTimer() {
  if (failure_pending_) {
    finish(synthetic(503, "upstream failure"));
    return;
  }
  PIER_LOG_DEBUG("httpCall to {}: timed out", endpoint_.text());
  finish(synthetic(504, "upstream request timeout"));
}

void HttpCall::Exchange::onIoEvent(uint32_t events) {
  if (finished_ || !fd_.valid()) {
    return;  // closed earlier in this epoll batch
  }
  if (!connected_) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      int err = net::socketError(fd_.get());
      fail(err != 0 ? std::strerror(err) : "connection refused");
      return;
    }
    if (!(events & EPOLLOUT)) {
      return;
    }
    if (int err = net::socketError(fd_.get()); err != 0) {
      fail(std::strerror(err));
      return;
    }
    connected_ = true;
  }
  if (events & EPOLLOUT) {
    flush();
    if (finished_) {
      return;
    }
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    hup_seen_ = true;
  }
  // Edge triggered: a reply or FIN that came with the connect's EPOLLOUT
  // won't be reported again, so it is read now.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readResponse();
  }
}

void HttpCall::Exchange::flush() {
  if (out_.empty()) {
    return;
  }
  auto r = net::writeSome(fd_.get(), out_);
  if (r.status == net::IoStatus::kError) {
    // The endpoint may have answered (a 413, say) and closed before taking
    // the whole request: that answer is the response.
    hup_seen_ = true;
    readResponse();
    if (!finished_) {
      fail("write failed");
    }
    return;
  }
  if (out_.empty()) {
    out_.shrinkIfEmpty();
  }
}

void HttpCall::Exchange::readResponse() {
  while (!finished_) {
    auto r = net::readSome(fd_.get(), in_, kReadChunk);
    if (r.status == net::IoStatus::kOk) {
      bool drained = r.short_read && !hup_seen_;
      processInput();
      if (drained) {
        return;
      }
    } else if (r.status == net::IoStatus::kWouldBlock) {
      return;
    } else if (r.status == net::IoStatus::kClosed) {
      onEof();
      return;
    } else {
      fail("connection reset");
      return;
    }
  }
}

void HttpCall::Exchange::processInput() {
  if (!head_done_ && !takeHead()) {
    return;
  }
  auto r = decoder_.decode(in_.readable(), *this);
  in_.consume(r.consumed);
  if (too_large_) {
    fail("response body too large");
  } else if (r.error) {
    fail(decoder_.failure().reason);
  } else if (r.done) {
    finish(std::move(response_));
  }
}

// Parses heads until the final one; false while it is incomplete or when the
// call has failed.
bool HttpCall::Exchange::takeHead() {
  while (true) {
    auto status = parser_.parse(in_.readable(), method_, head_);
    if (status == http::ParseStatus::kIncomplete) {
      return false;
    }
    if (status == http::ParseStatus::kError) {
      fail(parser_.failure().reason);
      return false;
    }
    if (head_.status == 101) {
      fail("unexpected 101");  // we never asked to switch protocols
      return false;
    }
    if (head_.status >= 200) {
      break;
    }
    in_.consume(head_.head_bytes);  // 1xx interim response
    parser_.reset();
  }
  if (head_.body == http::BodyKind::kContentLength && head_.content_length > max_body_) {
    fail("response body too large");
    return false;
  }
  head_done_ = true;
  response_.headers.add(":status", std::to_string(head_.status));
  for (const auto& h : head_.headers) {
    // The body is handed over decoded, so its transfer coding no longer applies.
    if (http::equalsLower(h.name, "transfer-encoding")) {
      continue;
    }
    response_.headers.add(h.name, h.value);  // stored lower-cased
  }
  decoder_.start(head_.body, head_.content_length, limits_);
  in_.consume(head_.head_bytes);
  return true;
}

void HttpCall::Exchange::onBodyData(std::string_view data) {
  if (too_large_) {
    return;
  }
  if (data.size() > max_body_ - response_.body.size()) {
    too_large_ = true;
    return;
  }
  response_.body.append(data);
}

void HttpCall::Exchange::onEof() {
  if (head_done_ && decoder_.finishOnClose()) {
    finish(std::move(response_));
    return;
  }
  fail(head_done_ ? "connection closed mid-body" : "connection closed before a response");
}

void HttpCall::Exchange::fail(std::string_view why) {
  PIER_LOG_DEBUG("httpCall to {}: {}", endpoint_.text(), why);
  finish(synthetic(503, "upstream failure"));
}

// The caller commonly destroys the handle from `done`: nothing of this
// object may be touched by our callers afterwards except finished_ (the
// object itself lives until the end of the loop iteration).
void HttpCall::Exchange::finish(filters::HttpCallResponse response) {
  finished_ = true;
  timer_.cancel();
  closeSocket();
  filters::HttpCallDone done = std::move(done_);
  done_ = nullptr;
  if (done) {
    done(std::move(response));
  }
}

void HttpCall::Exchange::closeSocket() {
  if (fd_.valid()) {
    loop_.remove(fd_.get());
    fd_.reset();
  }
}

std::unique_ptr<HttpCall> HttpCall::start(event::Loop& loop, const net::Address& endpoint,
                                          filters::HttpCallRequest request, filters::HttpCallDone done,
                                          size_t max_response_bytes) {
  auto exchange = std::make_unique<Exchange>(loop, endpoint, std::move(done), max_response_bytes);
  exchange->begin(request);
  return std::unique_ptr<HttpCall>(new HttpCall(loop, std::move(exchange)));
}

HttpCall::HttpCall(event::Loop& loop, std::unique_ptr<Exchange> exchange)
    : loop_(loop), exchange_(std::move(exchange)) {}

HttpCall::~HttpCall() {
  exchange_->cancel();
  // An event for the socket may still be queued in this iteration's batch.
  loop_.deferDelete(std::move(exchange_));
}

}  // namespace pier::proxy
