#pragma once
// A one-shot HTTP/1.1 request from a filter to one endpoint (Envoy's async
// client behind the Lua filter's httpCall): connect, send the request with
// `connection: close`, read one response into memory, close. Transport
// failures and malformed or oversized responses come back as a synthetic
// 503 "upstream failure", an elapsed timeout as 504 "upstream request
// timeout", which is what scripts written for Envoy expect.
#include <cstddef>
#include <memory>

#include "src/event/loop.h"
#include "src/filters/filter.h"
#include "src/net/socket.h"

namespace pier::proxy {

class HttpCall final : public filters::HttpCallHandle {
 public:
  // Connects to `endpoint` (non-blocking) and sends `request`. `done` runs
  // exactly once on the loop's thread, never from inside start(), unless the
  // HttpCall is destroyed first (then never). `max_response_bytes` bounds the
  // response body.
  static std::unique_ptr<HttpCall> start(event::Loop& loop, const net::Address& endpoint,
                                         filters::HttpCallRequest request, filters::HttpCallDone done,
                                         size_t max_response_bytes = 16 << 20);
  // Closes the socket and cancels the timers. Must run on the loop's thread;
  // safe from inside `done` and from any other handler of the loop.
  ~HttpCall() override;
  HttpCall(const HttpCall&) = delete;
  HttpCall& operator=(const HttpCall&) = delete;

 private:
  // The socket's state and its epoll handler. It is a separate object so that
  // the handle can be destroyed while an event for the socket is still queued
  // in the loop's current batch: the exchange then outlives the handle until
  // the end of that iteration (Loop::deferDelete).
  class Exchange;
  HttpCall(event::Loop& loop, std::unique_ptr<Exchange> exchange);

  event::Loop& loop_;
  std::unique_ptr<Exchange> exchange_;
};

}  // namespace pier::proxy
