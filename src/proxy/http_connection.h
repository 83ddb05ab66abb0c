#pragma once
// One downstream HTTP/1.1 connection and the request in flight on it.
//
// HTTP/1 allows one outstanding request per connection, so the connection
// object is also the stream: it parses a request, routes it, sends it to an
// upstream connection taken from the worker's pool, streams both bodies with
// back-pressure, and then parses the next (pipelined) request.
#include <memory>
#include <string>

#include "src/common/buffer.h"
#include "src/event/loop.h"
#include "src/filters/chain.h"
#include "src/http/codec.h"
#include "src/l4/proxy_protocol.h"
#include "src/net/socket.h"
#include "src/proxy/snapshot.h"
#include "src/proxy/upstream_connection.h"
#include "src/upstream/load_balancer.h"

namespace pier::proxy {

class Worker;
class ClusterState;

// The request parser's limits from a listener's config.
inline http::ParseLimits limitsFor(const config::Listener& l) {
  http::ParseLimits p;
  p.max_head_bytes = l.limits.max_request_headers_bytes;
  p.max_headers = l.limits.max_headers;
  p.max_chunk_extension_bytes = l.limits.max_chunk_extension_bytes;
  return p;
}



class HttpConnection final : public event::IoHandler,
                             public event::Deletable,
                             public UpstreamUser,
                             private filters::StreamCallbacks {
 public:
  HttpConnection(Worker& worker, net::Fd fd, const net::Address& peer, std::shared_ptr<const Snapshot> snapshot,
                 const ListenerInfo& listener);
  ~HttpConnection() override;

  void start();
  // Shutdown: close now if idle, otherwise after the current response.
  void drain();

  // event::IoHandler
  void onIoEvent(uint32_t events) override;
  // UpstreamUser
  void onUpstreamEvent(uint32_t events) override;

 private:
  // Above this much unsent data in a buffer, stop reading from the other side.
  static constexpr size_t kHighWater = 256 * 1024;
  static constexpr size_t kReadChunk = 64 * 1024;  // bytes asked of one read()

  enum class State { kHead, kProxy, kTunnel, kClosed };

  // downstream side
  void readDownstream();
  void processInput();
  bool readProxyHeader();  // false: not complete yet, or the connection closed
  void onHeadParsed();
  void pumpRequestBody();
  void pumpRequestBodyOnce();
  void onDownstreamTimer();
  void armResponseTimer();
  void flushDownstream();
  void onDownstreamEof();
  void armHeadTimer();

  // routing and local answers
  void routeRequest();
  // After routing (and the filters, if any): answer locally or forward `head`.
  // `headers`: the request's headers to send (head.headers, or a filter
  // chain's map, read without copying its entries into the head).
  void dispatchRoute(const http::RequestHead& head, std::span<const http::Header> headers);
  // stream_info_'s route name: route_'s.
  void setInfoRoute() {
    if (info_route_ != route_) assignInfoRoute();
  }
  void assignInfoRoute();
  void consumeHead();
  void localReply(int status, std::string_view body, std::string_view content_type = "text/plain",
                  std::string_view extra_headers = {});
  // A reply pier makes itself (no route, upstream failures, direct
  // responses) after the request left the filter chain goes back through the
  // chain's response side, as in Envoy: scripts see and edit it. Returns
  // false when the chain cannot take it (none, or its response side began).
  bool filteredLocalReply(int status, std::string_view body, std::string_view content_type,
                          std::string_view extra_headers);
  void redirect(const config::Route& route, const http::RequestHead& head);

  // the filter chain (http_filters.cc), used when the listener has filters
  bool startFilters();
  void feedRequestBody(std::string& data, bool done, std::unique_ptr<filters::HeaderMap> trailers);
  void startFilteredResponse();
  void feedResponseBody(std::string& data, bool done, std::unique_ptr<filters::HeaderMap> trailers);
  void endFilters();
  void sendPendingContinue();
  // An empty chain for a new stream: the last stream's when it may be
  // reused (startFilters() restarts it with its filters when it can).
  filters::FilterChain& acquireChain();
  // A chain of the listener's filters for route_ (spares of the last stream's
  // recycled, the rest made), or nullptr when the route disables them all.
  [[gnu::noinline]] filters::FilterChain* assembleChain(filters::WorkerCache& cache);
  // Recycles the ended spare chain's filters in place for route_, when it
  // holds exactly the listener's filters; false: they must be offered one
  // by one (some may already have been recycled, and are then refused).
  bool recycleInPlace(filters::FilterChain& chain, filters::WorkerCache& cache);
  // Views of a filter map's regular headers for the HTTP/1 writers, in a
  // vector reused by every message of the connection.
  std::vector<http::Header>& regularHeaderViews(const filters::HeaderMap& headers);
  bool requestSent() const { return chain_ ? chain_request_done_ : req_body_done_; }
  // The rest of the response may skip the chain (see FilterChain::responseBodyBypassable).
  bool responseBodyBypass() const;
  // filters::StreamCallbacks
  void onRequestHeadersOut(filters::HeaderMap& headers, bool end_stream) override;
  void onRequestDataOut(std::string_view data, bool end_stream) override;
  void onRequestTrailersOut(filters::HeaderMap& trailers) override;
  void onResponseHeadersOut(filters::HeaderMap& headers, bool end_stream) override;
  void onResponseDataOut(std::string_view data, bool end_stream) override;
  void onResponseTrailersOut(filters::HeaderMap& trailers) override;
  void sendLocalReply(int status, std::string_view body, const filters::HeaderMap& headers,
                      std::string_view details) override;
  void resetStream(std::string_view why) override;
  void resumeReading(bool response) override;
  bool responseStarted() const override { return response_started_; }
  filters::StreamInfo& streamInfo() override { return *stream_info_; }
  const config::Route* route() const override { return route_; }
  void clearRouteCache() override { route_cache_cleared_ = true; }
  Result<std::unique_ptr<filters::HttpCallHandle>> httpCall(filters::HttpCallRequest request,
                                                            filters::HttpCallDone done) override;

  // upstream side (http_upstream.cc)
  void startUpstream();
  void pickAndConnect();
  void attach(std::unique_ptr<UpstreamConnection> connection);
  void prependProxyHeader();
  void onUpstreamConnected();
  void onUpstreamTimer();
  void onConnectFailure(const char* why);
  bool retryBudgetAllows();
  // True if the request may be tried again for one of `reasons` (RetryPolicy::On bits).
  bool retryAllowed(uint32_t reasons, bool stale_connection);
  void retry(const char* why);
  void clearPending();
  void endUpstreamRequest();
  void flushUpstream();
  void readUpstream();
  // Reads the upstream again after out_ drained or a filter's watermark cleared.
  void resumeUpstreamReading();
  void processUpstreamInput();
  void onUpstreamEof();
  void upstreamFailed(int status, const char* why);
  void writeResponseHead();
  void startTunnel();
  void finishResponse(bool upstream_reusable);
  // The upstream's response ended: record it and release (or pool) the connection.
  void upstreamResponseDone(bool upstream_reusable);
  void releaseUpstream(bool reusable);

  void finishRequest();
  void closeConnection();
  void writeAccessLog();

  Worker& worker_;
  net::Fd fd_;
  net::Address peer_;
  std::string peer_ip_;
  std::string direct_peer_;  // the TCP peer, before any PROXY header
  std::shared_ptr<const Snapshot> snapshot_;
  const ListenerInfo* listener_;
  State state_ = State::kHead;

  Buffer in_;
  Buffer out_;
  std::unique_ptr<l4::ProxyHeaderParser> proxy_header_;  // until the PROXY header is read (if required)
  http::RequestParser parser_;
  http::RequestHead head_;
  event::Timer timer_;       // idle, header, or body-stall timeout
  event::Timer up_timer_;    // connect, response-head, or mid-body stall timeout
  event::Timer request_timer_;  // the whole request (limits.request_timeout)
  bool read_paused_ = false;
  bool head_timer_armed_ = false;
  MonoTime tunnel_activity_{};  // last byte through an upgraded connection
  bool pumping_ = false;              // inside pumpRequestBody()
  bool repump_ = false;               // room was made while pumping
  bool processing_pipeline_ = false;  // finishRequest() is draining pipelined input
  bool more_pipelined_ = false;  // the header timeout (not the idle one) runs
  bool peer_closed_ = false;
  bool down_hup_seen_ = false;  // EPOLLRDHUP seen: read until EOF, not just a short read
  bool close_after_flush_ = false;
  uint64_t requests_ = 0;

  // the request in flight
  MonoTime start_;
  std::string method_;
  std::string path_;
  std::string host_header_;
  std::string request_id_;
  std::string upstream_head_;  // kept for retries on a fresh connection
  http::Version version_ = http::Version::kHttp11;
  bool keep_alive_ = true;
  bool close_after_response_ = false;
  const config::Route* route_ = nullptr;
  http::BodyDecoder req_decoder_;
  bool req_body_done_ = true;
  bool req_has_body_ = false;
  bool upgrade_ = false;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  int status_ = 0;

  // upstream
  std::shared_ptr<ClusterState> cluster_;
  int host_ = -1;  // index of the chosen endpoint in the cluster
  upstream::PickContext pick_context_;
  int attempts_ = 0;
  int previous_host_ = -1;  // avoided by the next pick (retries)
  const config::RetryPolicy* retry_policy_ = nullptr;
  uint32_t retries_ = 0;
  uint32_t stale_retries_ = 0;
  bool retrying_ = false;
  std::string replay_;       // the request as sent, for retries (while small enough)
  bool replayable_ = true;
  bool counted_request_ = false;  // circuit-breaker accounting
  bool counted_pending_ = false;
  std::unique_ptr<UpstreamConnection> upstream_;
  Buffer up_out_;
  bool up_written_ = false;  // some request bytes reached the upstream socket
  bool upstream_read_paused_ = false;
  bool up_hup_seen_ = false;
  http::ResponseParser resp_parser_;
  http::ResponseHead resp_head_;
  bool resp_head_done_ = false;
  http::BodyDecoder resp_decoder_;
  bool resp_chunked_out_ = false;
  MonoTime upstream_start_;

  // filters (only for streams whose listener and route have some)
  std::unique_ptr<filters::FilterChain> chain_;
  std::unique_ptr<filters::FilterChain> spare_chain_;  // the last stream's, reset for the next one
  std::unique_ptr<filters::StreamInfo> stream_info_;   // reused by the connection's streams
  // What stream_info_ names now (its protocol and route_name are assigned
  // only when these change: a connection's streams mostly repeat them).
  http::Version info_version_ = http::Version::kHttp11;
  const config::Route* info_route_ = nullptr;
  std::vector<http::Header> header_views_;
  // The pseudo-headers the chain's maps view until they lay out their
  // entries (HeaderMap::borrowHead): :authority, :method, :path, :scheme
  // of the request, :status of the response. Named here once; a stream sets
  // the values.
  http::Header request_pseudo_[4] = {{":authority", {}}, {":method", {}}, {":path", {}}, {":scheme", "http"}};
  http::Header response_pseudo_[1] = {{":status", {}}};
  // The heads the chain's headers go out with (onRequestHeadersOut,
  // onResponseHeadersOut): members, so a stream constructs none.
  http::RequestHead filtered_request_head_;
  http::ResponseHead filtered_response_head_;
  std::string req_piece_;   // a decoded request body piece on its way into the chain
  std::string resp_piece_;  // the same for the response
  bool head_consumed_ = false;
  bool route_cache_cleared_ = false;
  bool chain_request_done_ = false;  // the whole request left the chain
  bool upstream_response_done_ = false;  // the upstream's response was read to its end
  bool response_started_ = false;        // a response head went into out_
  // Content-length framing while filters may still change the body: the
  // declared length and what was sent, so a mismatch is caught, not sent.
  std::optional<uint64_t> up_declared_length_;
  uint64_t up_body_sent_ = 0;
  std::optional<uint64_t> down_declared_length_;
  uint64_t down_body_sent_ = 0;
  std::string resp_reason_;
  bool down_no_body_ = false;    // the client gets no body (HEAD, 1xx, 204, 304)
  std::string upstream_method_;  // what the upstream got (filters may change it); empty: method_
  bool reading_upstream_ = false;
  bool filter_reply_ = false;
  // "Expect: 100-continue" on a filtered request: the 100 goes out only once
  // the body is wanted (the request goes upstream, or a filter reads it), so a
  // filter that rejects the request has not invited the upload.
  bool continue_pending_ = false;  // inside sendLocalReply(): a filter's own answer skips the filters  // inside processUpstreamInput(), which flushes what the chain wrote
};

}  // namespace pier::proxy
