#pragma once
// One proxied TCP connection: the downstream socket a worker accepted and the
// upstream connection made for it, with bytes moved both ways on the loop.
//
// Data moves with splice() through one pipe per direction, so payload never
// enters user space; if a socket cannot be spliced (EINVAL) that direction
// falls back to read/write through a Buffer. A side is read only when its
// pipe is empty, which is both the back-pressure rule and what keeps splice's
// EAGAIN unambiguous (with data in the pipe EAGAIN could mean "pipe full").
//
// Half-close is relayed: EOF on one side, once everything read from it has
// been written, becomes shutdown(SHUT_WR) on the other, and the session ends
// when both directions have finished. Errors and resets end it at once and
// are passed on as a reset, so a cut stream never looks like a complete one.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/common/buffer.h"
#include "src/common/clock.h"
#include "src/event/loop.h"
#include "src/l4/deferred.h"
#include "src/l4/proxy_protocol.h"
#include "src/l4/upstream_picker.h"
#include "src/net/socket.h"
#include "src/stats/metrics.h"

namespace pier::l4 {

enum class TcpCloseReason {
  kOpen,                // not closed yet
  kFinished,            // both directions reached EOF and were flushed
  kIdleTimeout,         // no byte either way for idle_timeout
  kDownstreamError,     // reset or socket error on the client side
  kUpstreamError,       // reset or socket error on the upstream side
  kDownstreamClosed,    // client closed before its PROXY header was complete
  kNoEndpoint,          // the picker had nothing to try
  kConnectFailed,       // every endpoint tried failed or timed out
  kProxyHeaderInvalid,  // accept mode: bytes that are not a valid PROXY header
  kProxyHeaderTimeout,  // accept mode: header not complete in time
  kAborted,             // the owner called close()
};
const char* toString(TcpCloseReason reason);

enum class SendProxyHeader { kNone, kV1, kV2 };

struct TcpSessionOptions {
  Duration connect_timeout = std::chrono::seconds(5);
  Duration idle_timeout = std::chrono::minutes(10);
  int max_connect_attempts = 3;  // across endpoints; the picker may stop earlier

  // Expect a PROXY header (v1 or v2) from the client before anything else.
  bool accept_proxy_header = false;
  Duration proxy_header_timeout = std::chrono::seconds(5);
  ProxyHeaderParser::Limits proxy_header_limits;
  // Announce the client to the upstream with a PROXY header.
  SendProxyHeader send_proxy_header = SendProxyHeader::kNone;

  size_t pipe_size = 256 * 1024;  // best effort (F_SETPIPE_SZ)
  bool use_splice = true;         // false: always copy through user space
  // Bytes one direction moves per loop iteration before letting other
  // connections run; the session resumes itself on the next iteration.
  size_t fairness_budget = 1024 * 1024;

  // Live byte counters (optional: default handles do nothing).
  stats::Counter bytes_to_upstream_counter;
  stats::Counter bytes_to_downstream_counter;
};

struct TcpSessionStats {
  MonoTime started{};
  net::Address peer;      // the socket peer
  net::Address client;    // the real client: the PROXY header's source, else `peer`
  net::Address upstream;  // the connected endpoint (or the last one tried)
  int endpoint = -1;      // picker index of the connected endpoint
  int connect_attempts = 0;
  uint64_t bytes_to_upstream = 0;    // payload written upstream (PROXY header excluded)
  uint64_t bytes_to_downstream = 0;  // payload written to the client
  bool copied = false;               // some direction used the read/write fallback
  TcpCloseReason reason = TcpCloseReason::kOpen;
  int error = 0;  // errno behind an error close, when there was one
};

class TcpSession final : public event::Deletable {
 public:
  // Called once, on the loop thread, when the session has closed both
  // sockets. The owner must not delete the session inside the callback but
  // hand it to Loop::deferDelete(). May be called from start().
  using CloseCallback = std::function<void(TcpSession&)>;

  // `downstream` is an accepted non-blocking socket, `peer` its remote
  // address; `picker` must not be null.
  TcpSession(event::Loop& loop, net::Fd downstream, const net::Address& peer,
             std::shared_ptr<UpstreamPicker> picker, TcpSessionOptions options, CloseCallback on_close);
  ~TcpSession() override;
  TcpSession(const TcpSession&) = delete;
  TcpSession& operator=(const TcpSession&) = delete;

  void start();
  // Ends the session now (drain deadline, shutdown): both sides are reset.
  void close();

  bool closed() const { return state_ == State::kClosed; }
  const TcpSessionStats& stats() const { return stats_; }

 private:
  enum class State { kIdle, kReadingHeader, kConnecting, kForwarding, kClosed };

  // One socket and its readiness, as learnt from edge-triggered events.
  struct Side final : event::IoHandler {
    Side(TcpSession& s, bool up) : session(s), is_upstream(up) {}
    void onIoEvent(uint32_t events) override { session.onEvent(is_upstream, events); }
    TcpSession& session;
    bool is_upstream;
    net::Fd fd;
    bool readable = false;
    bool writable = false;
    bool hup_seen = false;  // EPOLLRDHUP: read to EOF, a short read doesn't mean "empty"
  };

  // One direction of the byte stream.
  struct Flow {
    Side* from = nullptr;
    Side* to = nullptr;
    bool to_upstream = false;
    net::Fd pipe_read;
    net::Fd pipe_write;
    size_t pipe_capacity = 0;
    size_t in_pipe = 0;
    bool copy = false;     // read/write through `buffer` instead of splice
    bool may_splice = false;  // switch to splice once the flow looks like bulk transfer
    Buffer buffer;         // written before the pipe: fallback data, PROXY header
    size_t uncounted = 0;  // leading bytes of `buffer` that are not payload
    bool eof = false;      // `from` sent FIN
    bool shut = false;     // FIN passed on to `to`
  };

  void onEvent(bool upstream, uint32_t events);
  void readHeader();
  void onHeaderComplete(const ProxyHeader& header, std::string_view rest);
  void connectNext();
  void onConnectEvent(uint32_t events);
  void connectFailed(int error);
  void startForwarding();
  void setUpFlow(Flow& flow);
  void startSplicing(Flow& flow);
  void pumpAll();
  // Moves bytes until blocked; true when stopped by the fairness budget.
  bool pump(Flow& flow);
  bool flushBuffer(Flow& flow);
  bool flushPipe(Flow& flow);
  void account(Flow& flow, size_t bytes);
  void onTimer();
  void fail(bool upstream_side, int error);
  void finish(TcpCloseReason reason, int error = 0);
  void releaseUpstream();

  event::Loop& loop_;
  std::shared_ptr<UpstreamPicker> picker_;
  TcpSessionOptions options_;
  CloseCallback on_close_;
  State state_ = State::kIdle;
  Side down_;
  Side up_;
  Flow to_up_;
  Flow to_down_;
  event::Timer timer_;  // header, connect or idle timeout
  Deferred resume_;     // continues a pump stopped by the fairness budget
  MonoTime last_activity_{};
  ProxyHeaderParser header_parser_;
  std::string header_bytes_;   // accept mode: what arrived before the header completed
  std::string early_payload_;  // bytes after the PROXY header, sent first once connected
  ProxyHeader client_header_;  // accept mode, when it carried addresses
  bool have_client_header_ = false;
  int previous_endpoint_ = -1;
  int candidate_endpoint_ = -1;
  bool session_reported_ = true;  // onSessionDone owed (false once connected)
  TcpSessionStats stats_;
};

}  // namespace pier::l4
