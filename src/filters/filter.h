#pragma once
// The HTTP filter interface. A stream runs an ordered chain of filters
// (FilterChain): requests go through them first to last, responses last to
// first, and the proxy's router is what the request reaches after the last
// one. A filter sees headers, body data and trailers in each direction and may
// continue, stop (and resume later with continueRequest/continueResponse),
// ask for the body to be buffered, or answer locally. Modelled on Envoy's
// StreamFilter so Lua and Proxy-Wasm filters map onto it one to one.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "src/common/result.h"
#include "src/event/loop.h"
#include "src/filters/header_map.h"

namespace pier::config {
struct Route;
}

namespace pier::filters {

enum class HeadersStatus {
  kContinue,  // pass the headers to the next filter
  kStop,      // hold them (and any body that follows) until continue*() is called
  kStopAndWatermark,  // the same, but body that arrives meanwhile is held with
                      // back-pressure instead of the buffer limit (the filter
                      // waits for a call, not for the body)
};

enum class DataStatus {
  kContinue,      // pass this data on (and headers this filter held, if any)
  kStopAndBuffer, // keep it: the filter is called again with everything held so far
                  // each time more arrives (limited by the stream's buffer limit)
  kStopAndWatermark,  // like kStopAndBuffer, but at the buffer limit the stream stops
                      // reading (back-pressure) instead of failing: for a filter that
                      // waits for something else (a call), not for the whole body
  kStop,          // keep it and anything after it until continue*() is called
};

enum class TrailersStatus { kContinue, kStop };

// What one stream knows about itself, shared by every filter of the stream.
struct StreamInfo {
  StreamInfo();
  ~StreamInfo();
  StreamInfo(const StreamInfo&) = delete;
  StreamInfo& operator=(const StreamInfo&) = delete;
  // Forgets what the last stream's filters set (metadata, filter state,
  // drain); addresses and the route name are the owner's to set. Inline:
  // there is seldom anything to forget.
  void resetForNextStream() {
    if (dynamic_metadata_ || !filter_state.empty()) forgetFilterData();
    drain_connection = false;
  }

  std::string protocol = "HTTP/1.1";
  std::string downstream_local_address;          // "127.0.0.1:8080"
  std::string downstream_remote_address;         // the client, after a PROXY header
  std::string downstream_direct_remote_address;  // the TCP peer
  std::string requested_server_name;             // SNI; empty without TLS
  std::string route_name;                        // empty when no route matched
  std::string listener_name;
  // filter namespace -> object of key -> value, as set by filters (Envoy's
  // dynamic metadata). Created on first use.
  nlohmann::json& dynamicMetadata();
  const nlohmann::json* dynamicMetadataIfAny() const { return dynamic_metadata_.get(); }
  std::map<std::string, std::string> filter_state;  // name -> value (strings only)
  bool drain_connection = false;                    // close the connection after this response

 private:
  void forgetFilterData();
  std::unique_ptr<nlohmann::json> dynamic_metadata_;
};

// A request to a cluster made by a filter (Envoy's httpCall).
struct HttpCallRequest {
  std::string cluster;
  HeaderMap headers;  // must hold :method, :path and :authority
  std::string body;
  std::chrono::milliseconds timeout{0};  // 0: no limit
};

struct HttpCallResponse {
  HeaderMap headers;  // ":status" first; a transport failure is a synthetic 503
  std::string body;
};

using HttpCallDone = std::function<void(HttpCallResponse)>;

// An outstanding call; destroying it cancels the call (the callback never runs).
class HttpCallHandle {
 public:
  virtual ~HttpCallHandle() = default;
};

// What a filter can ask of its stream. One per filter instance.
class FilterCallbacks {
 public:
  virtual ~FilterCallbacks() = default;

  // Resume iteration after this filter returned a stop status.
  virtual void continueRequest() = 0;
  virtual void continueResponse() = 0;

  // Body data held at this filter while it is stopped (modifiable), and
  // whether the whole body (and trailers, if any) has arrived at this filter.
  virtual std::string& heldRequestBody() = 0;
  virtual std::string& heldResponseBody() = 0;
  virtual bool requestComplete() const = 0;
  virtual bool responseComplete() const = 0;
  // A filter that held body data with kStopAndWatermark now needs the whole
  // body (it answers kStopAndBuffer from here on): the buffer limit applies
  // to what it holds, and a stream that stopped reading at the watermark
  // reads again.
  virtual void needWholeRequestBody() {}
  virtual void needWholeResponseBody() {}
  // Trailers that reached this filter, or nullptr.
  virtual HeaderMap* requestTrailers() = 0;
  virtual HeaderMap* responseTrailers() = 0;
  // The request headers as they left the chain (read-only on the response path).
  virtual const HeaderMap* requestHeaders() const = 0;

  // Answers the client now and ends the stream's filters: every filter gets
  // onDestroy(). `headers` may carry extra headers; ":status" in it is
  // ignored. After the response headers went out nothing can be answered any
  // more: the stream is reset (the connection closed) instead.
  virtual void sendLocalReply(int status, std::string_view body, const HeaderMap& headers,
                              std::string_view details) = 0;
  virtual bool responseStarted() const = 0;

  virtual StreamInfo& streamInfo() = 0;
  // The matched route's config (metadata, per-filter overrides), or nullptr.
  virtual const config::Route* route() const = 0;
  // Routing is done again after the request headers leave the chain.
  virtual void clearRouteCache() = 0;

  // Starts a request to a cluster. Error: the cluster does not exist.
  virtual Result<std::unique_ptr<HttpCallHandle>> httpCall(HttpCallRequest request, HttpCallDone done) = 0;
};

// Deletable: a filter that ends its own stream (a local reply from inside a
// script) is still on the stack, so its deletion is deferred to the loop.
class HttpFilter : public event::Deletable {
 public:
  ~HttpFilter() override = default;
  // Called once, before any other call.
  virtual void setCallbacks(FilterCallbacks& callbacks) = 0;

  virtual HeadersStatus onRequestHeaders(HeaderMap& headers, bool end_stream) = 0;
  virtual DataStatus onRequestData(std::string& data, bool end_stream) = 0;
  virtual TrailersStatus onRequestTrailers(HeaderMap& trailers) = 0;
  virtual HeadersStatus onResponseHeaders(HeaderMap& headers, bool end_stream) = 0;
  virtual DataStatus onResponseData(std::string& data, bool end_stream) = 0;
  virtual TrailersStatus onResponseTrailers(HeaderMap& trailers) = 0;
  // Asked once the response headers passed every filter: whether this filter
  // still wants the response body and trailers. When no filter does, the
  // stream sends the body on as it decodes it, past the chain (no copy, no
  // calls). A filter that says false is not called for them again.
  virtual bool wantsResponseBody() const { return true; }
  // The stream ended (normally, by a local reply, or by a reset): cancel
  // outstanding work. No callback may be used after this.
  virtual void onDestroy() {}
};

// Per-worker resources that filters share across streams (for example one Lua
// state per distinct script). Used only on its worker's thread; emptied when
// the worker takes a new configuration.
class WorkerCache {
 public:
  std::shared_ptr<void> find(const std::string& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second;
  }
  void put(const std::string& key, std::shared_ptr<void> value) { entries_[key] = std::move(value); }
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, std::shared_ptr<void>> entries_;
};

// Makes the filters of one configured chain entry. Built on the control
// thread with the snapshot, immutable, shared by all workers.
class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  // The entry's name in the chain; routes override it under this name.
  virtual const std::string& name() const = 0;
  // A filter for one stream on `route` (may be null), or nullptr when the
  // route disables this filter (or it has nothing to run).
  virtual std::unique_ptr<HttpFilter> create(WorkerCache& cache, const config::Route* route) const = 0;
  // A filter this factory made, whose stream ended (onDestroy ran) with
  // nothing of it left running, offered for the next stream of the same
  // connection: true when it was made ready to serve `route` exactly as
  // create() would make it. Spares a filter allocation and set-up per
  // request; false (the default) and the caller deletes it.
  virtual bool recycle(HttpFilter& filter, WorkerCache& cache, const config::Route* route) const {
    (void)filter;
    (void)cache;
    (void)route;
    return false;
  }
};

}  // namespace pier::filters
