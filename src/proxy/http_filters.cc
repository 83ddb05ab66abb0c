// The filter half of HttpConnection: starting a stream's filter chain, feeding
// it the request and response, and turning what leaves the chain back into
// HTTP/1 (the upstream request, the downstream response, local replies).
#include <cstring>

#include <fmt/format.h>

#include "src/common/log.h"
#include "src/l4/address.h"
#include "src/proxy/body_writer.h"
#include "src/proxy/http_call.h"
#include "src/proxy/http_connection.h"
#include "src/proxy/message_writer.h"
#include "src/proxy/worker.h"
#include "src/router/router.h"

namespace pier::proxy {
namespace {

// Decimal digits only, as from_chars reads them, without its set-up cost
// (a response's content-length passes here on every filtered request).
std::optional<uint64_t> parseLength(const std::string_view* v) {
  if (v == nullptr || v->empty()) return std::nullopt;
  uint64_t n = 0;
  // Up to 19 digits cannot overflow: the check per digit is needed only
  // beyond (leading zeros, or a length no body has).
  constexpr size_t kSafeDigits = 19;
  for (size_t i = 0; i < v->size(); ++i) {
    const auto d = static_cast<uint64_t>(static_cast<unsigned char>((*v)[i]) - '0');
    if (d > 9) return std::nullopt;
    if (i >= kSafeDigits && n > (UINT64_MAX - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

std::string_view valueOr(const std::string_view* v, std::string_view fallback) {
  return v != nullptr ? *v : fallback;
}

// What the HTTP/1 writers need from a map that left the chain, found in one
// pass (pseudo-header names are always lower case; others may not be).
struct HeaderFacts {
  const std::string_view* method = nullptr;
  const std::string_view* path = nullptr;
  const std::string_view* authority = nullptr;
  const std::string_view* status = nullptr;
  const std::string_view* content_length = nullptr;  // the first
  size_t content_lengths = 0;
  bool content_lengths_agree = true;
};

// Pseudo-headers still as the map was filled with them (takeHead,
// borrowHead) are left unread: the caller has what it gave (f.method etc.
// stay null).
HeaderFacts scan(const filters::HeaderMap& headers) {
  HeaderFacts f;
  const auto pseudo =
      headers.pseudoAsTaken() ? std::span<const filters::HeaderMap::Entry>() : headers.pseudoEntries();
  for (const auto& e : pseudo) {
    const std::string_view n = e.name;
    // Sizes first; memcmp with a constant size compiles to a compare or two
    // (== on string_views calls it).
    switch (n.size()) {
      case 5:
        if (std::memcmp(n.data(), ":path", 5) == 0 && f.path == nullptr) f.path = &e.value;
        break;
      case 7:
        if (std::memcmp(n.data(), ":method", 7) == 0 && f.method == nullptr) f.method = &e.value;
        if (std::memcmp(n.data(), ":status", 7) == 0 && f.status == nullptr) f.status = &e.value;
        break;
      case 10:
        if (std::memcmp(n.data(), ":authority", 10) == 0 && f.authority == nullptr) f.authority = &e.value;
        break;
      default:
        break;
    }
  }
  for (const auto& e : headers.regularEntriesAnyCase()) {
    if (e.name.size() != 14 || !http::equalsLower(e.name, "content-length")) continue;
    if (f.content_length == nullptr) {
      f.content_length = &e.value;
    } else if (e.value != *f.content_length) {
      f.content_lengths_agree = false;
    }
    ++f.content_lengths;
  }
  return f;
}

bool isTransferEncoding(std::string_view name) {
  return name.size() == 17 && http::equalsLower(name, "transfer-encoding");
}

// Request headers the filters do not see: framing is pier's business, and
// Host is :authority. (Sizes first: nearly every header is neither.)
bool isFramingOrHost(std::string_view name) {
  return isTransferEncoding(name) || (name.size() == 4 && http::equalsLower(name, "host"));
}

// Out of line: addsFraming() inlines only the size checks, which nearly
// every added name fails.
[[gnu::noinline]] bool namesFramingOrHost(std::string_view name, bool request) {
  return http::equalsLower(name, "content-length") || isTransferEncoding(name) ||
         (request && http::equalsLower(name, "host"));
}

// Whether the headers a filter added to a head it left as parsed (see
// HeaderMap::onlyAddedTo) change what the parser found about framing (or,
// for a request, the host): then the map's entries are read instead.
bool addsFraming(std::span<const filters::HeaderMap::Entry> added, bool request) {
  for (const auto& e : added) {
    const size_t n = e.name.size();
    if ((n == 14 || n == 17 || n == 4) && namesFramingOrHost(e.name, request)) return true;
  }
  return false;
}

// A call that cannot start (no healthy endpoint): answers 503 from the loop,
// never from inside httpCall(), like a call that failed on the wire.
class FailedHttpCall final : public filters::HttpCallHandle {
 public:
  FailedHttpCall(event::Loop& loop, filters::HttpCallDone done)
      : done_(std::move(done)), timer_(loop, [this] {
          filters::HttpCallResponse r;
          r.headers.add(":status", "503");
          r.body = "upstream failure";
          auto done = std::move(done_);
          done(std::move(r));  // may destroy this
        }) {
    timer_.armAfter(Duration::zero());
  }

 private:
  filters::HttpCallDone done_;
  event::Timer timer_;
};

}  // namespace

std::vector<http::Header>& HttpConnection::regularHeaderViews(const filters::HeaderMap& headers) {
  const auto regular = headers.regularEntriesAnyCase();
  header_views_.assign(regular.begin(), regular.end());
  return header_views_;
}

filters::FilterChain& HttpConnection::acquireChain() {
  const uint64_t limit = listener_->config->limits.filter_buffer_bytes;
  if (spare_chain_ && spare_chain_->reusable()) {
    chain_ = std::move(spare_chain_);
    chain_->reset(limit);
  } else {
    // The last stream's chain is still on the stack (a pipelined request
    // started from inside it): it goes later, this stream gets a new one.
    if (spare_chain_) worker_.loop().deferDelete(std::move(spare_chain_));
    chain_ = std::make_unique<filters::FilterChain>(static_cast<filters::StreamCallbacks&>(*this), limit);
  }
  chain_->keepAlive(snapshot_);
  return *chain_;
}

void HttpConnection::assignInfoRoute() {
  info_route_ = route_;
  if (route_ != nullptr) {
    stream_info_->route_name = route_->name;
  } else {
    stream_info_->route_name.clear();
  }
}

// Inlined into startFilters(), its only caller: every stream of a connection
// with filters passes here.
[[gnu::always_inline]] inline bool HttpConnection::recycleInPlace(filters::FilterChain& chain,
                                                                  filters::WorkerCache& cache) {
  const auto& factories = listener_->filter_factories;
  if (!chain.madeByAll(factories)) return false;
  for (size_t i = 0; i < factories.size(); ++i) {
    if (!factories[i]->recycle(chain.filter(i), cache, route_)) return false;
  }
  return true;
}

filters::FilterChain* HttpConnection::assembleChain(filters::WorkerCache& cache) {
  filters::FilterChain* chain = nullptr;
  if (spare_chain_ && spare_chain_->reusable()) {
    // The filters of the last stream's chain are offered back to their factories.
    spare_chain_->releaseFilters(worker_.loop());
    if (spare_chain_->hasSpares()) chain = &acquireChain();
  }
  for (const auto& factory : listener_->filter_factories) {
    std::unique_ptr<filters::HttpFilter> filter = chain != nullptr ? chain->takeSpare(factory.get()) : nullptr;
    if (filter != nullptr && !factory->recycle(*filter, cache, route_)) filter.reset();
    if (filter == nullptr) filter = factory->create(cache, route_);
    if (filter == nullptr) continue;
    if (chain == nullptr) chain = &acquireChain();
    chain->add(std::move(filter), factory.get());
  }
  if (chain != nullptr) chain->dropSpares();
  if (chain != nullptr && chain->size() == 0) {
    endFilters();
    return nullptr;
  }
  return chain;
}

bool HttpConnection::startFilters() {
  endFilters();  // normally ended with the last request already
  filters::WorkerCache& cache = worker_.filterCache();
  filters::FilterChain* chain = nullptr;
  if (spare_chain_ && spare_chain_->reusable() && spare_chain_->size() != 0 && recycleInPlace(*spare_chain_, cache)) {
    // Usually the same filters serve the connection's next stream: the last
    // stream's chain restarts with them, all recycled where they are.
    chain_ = std::move(spare_chain_);
    chain_->restart(listener_->config->limits.filter_buffer_bytes);
    chain_->keepAlive(snapshot_);
    chain = chain_.get();
  } else {
    chain = assembleChain(cache);
    if (chain == nullptr) return false;  // every filter is disabled on this route: the plain path, at no cost
  }
  const auto& lc = *listener_->config;
  // The map takes head_.headers. It views the head in the input buffer,
  // which keeps it until the next read into it: readDownstream() makes the
  // map copy it first (ownBytes), which a request without a body seldom
  // needs before its stream ends.
  request_pseudo_[0].value = head_.host;
  request_pseudo_[1].value = head_.method;
  request_pseudo_[2].value = head_.target;
  const auto present_pseudo = std::span(request_pseudo_).subspan(head_.host.empty() ? 1 : 0);
  if (head_consumed_) {
    chain->requestHeaderMap().takeHead({}, head_.headers, present_pseudo, isFramingOrHost);
  } else {
    chain->requestHeaderMap().borrowHead(in_.readable().substr(0, head_.head_bytes), head_.headers,
                                             present_pseudo, isFramingOrHost);
  }

  if (!stream_info_) {
    // Once per connection: addresses do not change between its requests, and
    // a getsockname() per request is a syscall more than the request needs.
    stream_info_ = std::make_unique<filters::StreamInfo>();
    stream_info_->downstream_remote_address = peer_.text();
    stream_info_->downstream_direct_remote_address = direct_peer_;
    if (auto local = l4::localAddressOf(fd_.get())) stream_info_->downstream_local_address = local->text();
    stream_info_->listener_name = lc.name;
    stream_info_->protocol = "HTTP/1.1";
    info_version_ = http::Version::kHttp11;
    info_route_ = nullptr;
    stream_info_->route_name.clear();
  }
  auto& info = *stream_info_;
  info.resetForNextStream();
  // Assigned only when they change: a connection's streams mostly repeat them.
  if (info_version_ != version_) {
    info_version_ = version_;
    info.protocol = version_ == http::Version::kHttp10 ? "HTTP/1.0" : "HTTP/1.1";
  }
  setInfoRoute();

  continue_pending_ = head_.expect_continue && req_has_body_ && version_ == http::Version::kHttp11;
  req_decoder_.start(head_.body, head_.content_length, limitsFor(lc));
  consumeHead();
  state_ = State::kProxy;
  uint64_t request = requests_;
  chain_->requestHeaders(!req_has_body_);
  if (request != requests_ || state_ != State::kProxy || !chain_) {
    return true;
  }
  if (chain_->requestHeadersHeldForBody()) {
    sendPendingContinue();  // a filter waits for the body (Lua's body())
    if (state_ != State::kProxy) return true;
  }
  pumpRequestBody();
  return true;
}

void HttpConnection::sendPendingContinue() {
  if (!continue_pending_) return;
  continue_pending_ = false;
  if (response_started_ || state_ != State::kProxy || req_body_done_) return;
  out_.append("HTTP/1.1 100 Continue\r\n\r\n");
  flushDownstream();
}

void HttpConnection::endFilters() {
  if (!chain_) return;
  chain_->destroy();
  // Kept, with its filters, for the next stream (see startFilters()); while
  // the chain's own calls are still on the stack (the response ended from
  // inside it) it stays untouched.
  if (spare_chain_) worker_.loop().deferDelete(std::move(spare_chain_));
  spare_chain_ = std::move(chain_);
}

void HttpConnection::feedRequestBody(std::string& data, bool done, std::unique_ptr<filters::HeaderMap> trailers) {
  if (trailers) {
    if (!data.empty()) {
      // The data may end this request, and a pipelined one may have started
      // its own chain since: the trailers belong to this chain only.
      const filters::FilterChain* chain = chain_.get();
      chain_->takeRequestData(data, false);
      if (chain_.get() != chain || chain_->destroyed()) return;
    }
    chain_->requestTrailers(std::move(*trailers));
    return;
  }
  chain_->takeRequestData(data, done);
}

void HttpConnection::onRequestHeadersOut(filters::HeaderMap& headers, bool end_stream) {
  // `fhead` and `sent` view `headers`, which the chain keeps unchanged from
  // here on. Every field set below is set for every request; the others
  // (headers, expect_continue, head_bytes) are never set and keep their
  // defaults (sent carries the headers; startFilters() handled Expect).
  http::RequestHead& fhead = filtered_request_head_;
  std::optional<uint64_t> length;
  std::span<const http::Header> sent;
  // A head the filters only added to goes out as parsed, plus the added
  // headers: what the parser found still holds (the map still views the
  // head in the input buffer, so nothing was read since, and head_ is this
  // request's).
  if (headers.onlyAddedTo() && !addsFraming(headers.addedToHead(), true)) {
    fhead.method = method_;
    fhead.target = path_;
    fhead.host = host_header_;
    if (head_.body == http::BodyKind::kContentLength) length = head_.content_length;
    sent = headers.headAndAdded();
  } else {
    const HeaderFacts facts = scan(headers);
    fhead.method = valueOr(facts.method, method_);
    fhead.target = valueOr(facts.path, path_);
    fhead.host = valueOr(facts.authority, host_header_);
    length = parseLength(facts.content_length);
    sent = headers.regularEntriesAnyCase();
  }
  fhead.version = version_;
  fhead.upgrade = upgrade_;
  fhead.keep_alive = keep_alive_;
  up_declared_length_.reset();
  if (end_stream) {
    fhead.body = http::BodyKind::kNone;
  } else if (length) {
    fhead.body = http::BodyKind::kContentLength;
    fhead.content_length = *length;
    up_declared_length_ = *length;
  } else {
    fhead.body = http::BodyKind::kChunked;
  }
  // The upstream's response is framed by the method it got; what the client
  // gets (HEAD: no body) by the method it sent (method_).
  if (!http::sameText(fhead.method, method_)) upstream_method_.assign(fhead.method);  // empty: method_
  if (route_cache_cleared_) {
    router::RouteRequest rr{fhead.host, fhead.method, fhead.path(), fhead.query(), sent};
    route_ = listener_->router->route(rr);
    setInfoRoute();
  }
  chain_request_done_ = end_stream;
  dispatchRoute(fhead, sent);
}

void HttpConnection::onRequestDataOut(std::string_view data, bool end_stream) {
  if (state_ != State::kProxy || !cluster_) {
    return;  // answered locally: the body has nowhere to go
  }
  if (up_declared_length_) {
    up_body_sent_ += data.size();
    if (up_body_sent_ > *up_declared_length_ || (end_stream && up_body_sent_ != *up_declared_length_)) {
      PIER_LOG_WARN("{} {}: a filter changed the request body after its content-length was sent", method_, path_);
      close_after_response_ = true;
      releaseUpstream(false);
      if (!response_started_) {
        localReply(500, "request body length changed by a filter\n");
      } else {
        closeConnection();
      }
      return;
    }
  }
  BodyWriter writer(up_out_, !up_declared_length_, true, replayable_ ? &replay_ : nullptr);
  writer.onBodyData(data);
  if (end_stream) {
    writer.onTrailers({});
    chain_request_done_ = true;
  }
  if (replayable_ && retry_policy_ != nullptr &&
      replay_.size() > upstream_head_.size() + retry_policy_->max_buffered_body_bytes) {
    replayable_ = false;
    replay_.clear();
    replay_.shrink_to_fit();
  }
  if (chain_request_done_ && upstream_ && upstream_->connected() && !resp_head_done_) {
    armResponseTimer();
  }
  flushUpstream();
}

void HttpConnection::onRequestTrailersOut(filters::HeaderMap& trailers) {
  if (state_ != State::kProxy || !cluster_) {
    return;
  }
  if (up_declared_length_ && up_body_sent_ != *up_declared_length_) {
    onRequestDataOut({}, true);  // reports the mismatch
    return;
  }
  BodyWriter writer(up_out_, !up_declared_length_, true, replayable_ ? &replay_ : nullptr);
  writer.onTrailers(regularHeaderViews(trailers));
  chain_request_done_ = true;
  if (upstream_ && upstream_->connected() && !resp_head_done_) {
    armResponseTimer();
  }
  flushUpstream();
}

void HttpConnection::startFilteredResponse() {
  const std::string_view head = upstream_->in().readable().substr(0, resp_head_.head_bytes);
  // The status as received lies in the head: the map's view of it serves.
  response_pseudo_[0].value = resp_head_.status_digits;
  const std::span<const http::Header> pseudo = response_pseudo_;
  const bool end = resp_head_.body == http::BodyKind::kNone;
  filters::FilterChain* chain = chain_.get();
  filters::HeaderMap& headers = chain->responseHeaderMap();  // emptied by takeHead/borrowHead
  // Nothing reads resp_head_.headers after this (the map took them). A
  // response with a body keeps its upstream (and the head in its buffer)
  // until the chain returns: the map views the head there, and copies it
  // only if a filter holds the headers (below). One without a body may let
  // the upstream go first, so its map copies the head.
  if (end) {
    headers.takeHead(head, resp_head_.headers, pseudo, isTransferEncoding);  // framing is pier's business
  } else {
    headers.borrowHead(head, resp_head_.headers, pseudo, isTransferEncoding);
  }
  if (!http::sameText(resp_reason_, resp_head_.reason)) resp_reason_.assign(resp_head_.reason);
  upstream_->in().consume(resp_head_.head_bytes);
  resp_decoder_.start(resp_head_.body, resp_head_.content_length, http::ParseLimits{});
  if (end) {
    upstreamResponseDone(resp_head_.keep_alive);
  }
  chain->responseHeaders(end);
  // The upstream reads into its buffer again only after this returns. Headers
  // that left the chain are read no more (a script still running has its
  // own copy); held ones must outlive the buffer. A stream that ended here
  // reads them no more either (its upstream may be gone).
  if (headers.borrowing() && chain_.get() == chain && !chain->destroyed() && !chain->responseHeadersOut()) {
    headers.ownBytes();
  }
}

void HttpConnection::feedResponseBody(std::string& data, bool done, std::unique_ptr<filters::HeaderMap> trailers) {
  if (!chain_) return;
  if (trailers) {
    if (!data.empty()) {
      const filters::FilterChain* chain = chain_.get();
      chain_->takeResponseData(data, false);
      if (chain_.get() != chain || chain_->destroyed()) return;
    }
    chain_->responseTrailers(std::move(*trailers));
    return;
  }
  chain_->takeResponseData(data, done);
}

void HttpConnection::onResponseHeadersOut(filters::HeaderMap& headers, bool end_stream) {
  // Every field the writer reads is set below.
  http::ResponseHead& rh = filtered_response_head_;
  rh.version = resp_head_.version;
  rh.status = resp_head_.status;
  rh.reason = {};
  std::optional<uint64_t> length;
  // As for a request (onRequestHeadersOut): a head the filters only added to
  // keeps what the parser found, and goes out as parsed plus the added headers.
  if (headers.onlyAddedTo() && !addsFraming(headers.addedToHead(), false)) {
    if (resp_head_.body == http::BodyKind::kContentLength) length = resp_head_.content_length;
  } else {
    const HeaderFacts facts = scan(headers);
    if (const std::string_view* s = facts.status) {
      // Three digits, 200..999 (a filter may not turn a response into a 1xx).
      const auto digit = [](char c) { return static_cast<unsigned>(c - '0'); };
      if (s->size() == 3 && digit((*s)[0]) <= 9 && digit((*s)[1]) <= 9 && digit((*s)[2]) <= 9 &&
          (*s)[0] >= '2') {
        rh.status = static_cast<int>(digit((*s)[0]) * 100 + digit((*s)[1]) * 10 + digit((*s)[2]));
      }
    }
    // Filters may leave several content-lengths (add instead of replace): one
    // value is sent, conflicting ones are a bad response, never forwarded.
    // Parsed before the map changes below (the facts point into it).
    length = parseLength(facts.content_length);
    if (facts.content_lengths > 1) {
      if (!facts.content_lengths_agree) {
        PIER_LOG_WARN("{} {}: filters left conflicting content-length values", method_, path_);
        releaseUpstream(false);
        close_after_response_ = true;
        localReply(502, "conflicting content-length\n");
        return;
      }
      const std::string first(*facts.content_length);
      headers.replace("content-length", first);
    }
  }
  if (!headers.http1ReasonPhrase().empty()) {
    rh.reason = headers.http1ReasonPhrase();
  } else if (rh.status == resp_head_.status) {
    rh.reason = resp_reason_;
  }
  // The client's method and the final status decide whether a body may follow.
  down_no_body_ = http::sameText(method_, "HEAD") || rh.status < 200 || rh.status == 204 || rh.status == 304;
  if (end_stream && !down_no_body_) {
    headers.replace("content-length", "0");  // nothing follows, whatever a filter left
  }
  rh.keep_alive = resp_head_.keep_alive;
  status_ = rh.status;
  response_started_ = true;
  resp_chunked_out_ = false;
  down_declared_length_.reset();
  DownstreamFraming framing = DownstreamFraming::kAsIs;
  const bool http10 = version_ == http::Version::kHttp10;
  if (end_stream || down_no_body_) {
    rh.body = http::BodyKind::kNone;  // headers as they are (HEAD keeps its content-length)
  } else if (length) {
    rh.body = http::BodyKind::kContentLength;
    rh.content_length = *length;
    down_declared_length_ = *length;
  } else {
    rh.body = http::BodyKind::kUntilClose;
    if (http10) {
      framing = DownstreamFraming::kCloseDelimited;
      close_after_response_ = true;
    } else {
      framing = DownstreamFraming::kChunked;
      resp_chunked_out_ = true;
    }
  }
  if (!req_body_done_) {
    close_after_response_ = true;  // see writeResponseHead()
  }
  DownstreamResponse dr{&rh,
                        route_,
                        framing,
                        close_after_response_,
                        http10,
                        request_id_,
                        listener_->config->forwarding.request_id_header,
                        headers.onlyAddedTo() ? headers.headAndAdded() : headers.regularEntriesAnyCase()};
  writeDownstreamResponseHead(out_, dr);
  if (end_stream) {
    finishRequest();
    return;
  }
  if (!reading_upstream_) {
    flushDownstream();  // released later (after a call): otherwise processUpstreamInput() flushes head and body at once
  }
}

bool HttpConnection::responseBodyBypass() const {
  if (!chain_->responseBodyBypassable() || down_no_body_ || state_ != State::kProxy) return false;
  // The body goes out as the upstream framed it: a content-length a filter
  // set must be the upstream's, or the chain's accounting has to catch the
  // mismatch (onResponseDataOut).
  if (!down_declared_length_) return true;
  return resp_head_.body == http::BodyKind::kContentLength && resp_head_.content_length == *down_declared_length_ &&
         down_body_sent_ == 0;
}

void HttpConnection::onResponseDataOut(std::string_view data, bool end_stream) {
  if (state_ != State::kProxy) {
    return;
  }
  if (down_no_body_) {
    if (end_stream) finishRequest();  // HEAD, 204, 304: what the upstream sent is not the client's
    return;
  }
  if (down_declared_length_) {
    down_body_sent_ += data.size();
    if (down_body_sent_ > *down_declared_length_ || (end_stream && down_body_sent_ != *down_declared_length_)) {
      resetStream("a filter changed the response body after its content-length was sent");
      return;
    }
  }
  BodyWriter writer(out_, resp_chunked_out_, version_ == http::Version::kHttp11);
  writer.onBodyData(data);
  if (end_stream) {
    if (resp_chunked_out_) writer.onTrailers({});
    finishRequest();
    return;
  }
  if (!reading_upstream_) {
    flushDownstream();
  }
}

void HttpConnection::onResponseTrailersOut(filters::HeaderMap& trailers) {
  if (state_ != State::kProxy) {
    return;
  }
  if (down_no_body_) {
    finishRequest();
    return;
  }
  if (down_declared_length_ && down_body_sent_ != *down_declared_length_) {
    resetStream("a filter changed the response body after its content-length was sent");
    return;
  }
  BodyWriter writer(out_, resp_chunked_out_, version_ == http::Version::kHttp11);
  if (resp_chunked_out_) writer.onTrailers(regularHeaderViews(trailers));
  finishRequest();
}

void HttpConnection::sendLocalReply(int status, std::string_view body, const filters::HeaderMap& headers,
                                    std::string_view details) {
  if (response_started_) {
    resetStream(details);
    return;
  }
  PIER_LOG_DEBUG("{} {}: local reply {} from a filter ({})", method_, path_, status, details);
  releaseUpstream(false);
  std::string content_type = "text/plain";
  std::string extra;
  for (const auto& e : headers.entries()) {
    if (e.name.empty() || e.name.front() == ':' || e.name == "content-length" || e.name == "transfer-encoding" ||
        e.name == "connection" || http::isHopByHop(e.name)) {
      continue;
    }
    if (e.name == "content-type") {
      content_type.assign(e.value);
      continue;
    }
    extra.append(e.name).append(": ").append(e.value).append("\r\n");
  }
  if (!req_body_done_) {
    close_after_response_ = true;
  }
  filter_reply_ = true;
  localReply(status, body, content_type, extra);
  filter_reply_ = false;
}

bool HttpConnection::filteredLocalReply(int status, std::string_view body, std::string_view content_type,
                                        std::string_view extra_headers) {
  if (!chain_ || filter_reply_ || chain_->destroyed() || !chain_->requestHeadersOut() || chain_->responseEntered() ||
      response_started_) {
    return false;
  }
  releaseUpstream(false);
  if (status == 408) close_after_response_ = true;
  resp_head_ = http::ResponseHead{};
  resp_head_.status = status;
  resp_head_.keep_alive = true;
  resp_reason_.assign(http::reasonPhrase(status));
  filters::HeaderMap& headers = chain_->responseHeaderStorage();
  headers.add(":status", std::to_string(status));
  headers.add("content-length", std::to_string(body.size()));
  headers.add("content-type", content_type);
  // extra_headers: "name: value\r\n" lines, as localReply() writes them.
  while (!extra_headers.empty()) {
    const size_t eol = extra_headers.find("\r\n");
    std::string_view line = extra_headers.substr(0, eol);
    extra_headers.remove_prefix(eol == std::string_view::npos ? extra_headers.size() : eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.add(line.substr(0, colon), value);
  }
  PIER_LOG_DEBUG("{} {}: local reply {} through the response filters", method_, path_, status);
  const filters::FilterChain* chain = chain_.get();
  chain_->responseHeaders(body.empty());
  if (!body.empty() && chain_.get() == chain && !chain->destroyed()) {
    chain_->responseData(body, true);
  }
  return true;
}

void HttpConnection::resetStream(std::string_view why) {
  PIER_LOG_WARN("{} {}: closing the connection: {}", method_, path_, why);
  endFilters();
  releaseUpstream(false);
  close_after_flush_ = true;
  // A client that stops reading must not pin the connection.
  timer_.armAfter(listener_->config->limits.idle_timeout);
  flushDownstream();
}

Result<std::unique_ptr<filters::HttpCallHandle>> HttpConnection::httpCall(filters::HttpCallRequest request,
                                                                          filters::HttpCallDone done) {
  int index = worker_.snapshot()->clusterIndex(request.cluster);
  if (index < 0) {
    return Error{fmt::format("no cluster named '{}'", request.cluster)};
  }
  const auto& cluster = worker_.cluster(index);
  if (request.timeout.count() == 0) {
    // No limit from the script: the cluster's own timeouts bound the call, so
    // a black-holed endpoint cannot hold the stream until TCP gives up.
    const auto& c = cluster->config();
    request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.connect_timeout + c.response_timeout);
  }
  int host = cluster->pick(upstream::PickContext{}, worker_.loop().now());
  if (host < 0) {
    return std::unique_ptr<filters::HttpCallHandle>(std::make_unique<FailedHttpCall>(worker_.loop(), std::move(done)));
  }
  return std::unique_ptr<filters::HttpCallHandle>(
      HttpCall::start(worker_.loop(), cluster->endpoint(host).address, std::move(request), std::move(done)));
}

}  // namespace pier::proxy
