#pragma once
// One active health probe: a single connection to one endpoint that ends in a
// pass or a failure with a reason an operator can act on ("connect refused",
// "http status 503", "timeout after 500ms"). Runs on the loop, never blocks,
// owns exactly one socket, and closes it on every path.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/common/buffer.h"
#include "src/config/config.h"
#include "src/event/loop.h"
#include "src/http/codec.h"
#include "src/net/socket.h"

namespace pier::upstream {

struct ProbeOutcome {
  bool pass = false;
  std::string reason;
};

class HealthProbe final : public event::IoHandler, public event::Deletable {
 public:
  using Done = std::function<void(ProbeOutcome)>;

  // A TCP `expect` reply is searched for in at most this many bytes.
  static constexpr size_t kMaxReplyBytes = 64 * 1024;

  // `host` is the Host header of an http probe. `done` is called exactly once,
  // always from the loop (never from start()), unless the probe is cancelled
  // first. When `done` runs the socket is already closed; the owner must then
  // release the probe with Loop::deferDelete (its handler is still on the stack).
  HealthProbe(event::Loop& loop, std::shared_ptr<const config::HealthCheck> check,
              const net::Address& address, std::string host, Done done);
  ~HealthProbe() override;
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  void start();
  // Closes the socket; `done` is not called. Safe to call more than once.
  void cancel();
  bool running() const { return state_ == State::kConnecting || state_ == State::kExchanging; }

  void onIoEvent(uint32_t events) override;

 private:
  enum class State : uint8_t { kIdle, kConnecting, kExchanging, kDone };

  void onConnected();
  void flushOutput();
  void readInput();
  // Each returns after finishing the probe or when it needs more bytes.
  void onHttpBytes(bool eof);
  void onTcpBytes(bool eof);
  void onTimer();
  // Fails from start() without calling `done` re-entrantly: delivered by the timer.
  void failSoon(std::string reason);
  void finish(bool pass, std::string reason);
  void closeSocket();

  event::Loop& loop_;
  std::shared_ptr<const config::HealthCheck> check_;
  net::Address address_;
  std::string host_;
  Done done_;
  State state_ = State::kIdle;
  net::Fd fd_;
  bool registered_ = false;
  event::Timer timer_;  // the overall timeout, or delivery of failSoon()
  std::unique_ptr<ProbeOutcome> pending_;
  Buffer out_;
  Buffer in_;
  size_t searched_ = 0;  // bytes of in_ already searched for `expect` without a match
  http::ResponseParser parser_;
};

}  // namespace pier::upstream
