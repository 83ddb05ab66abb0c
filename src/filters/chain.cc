#include "src/filters/chain.h"

#include <optional>
#include <utility>

namespace pier::filters {

// What one filter may ask of the chain and the stream.
class FilterChain::Callbacks final : public FilterCallbacks {
 public:
  Callbacks(FilterChain& chain, size_t index) : chain_(chain), index_(index) {}

  void continueRequest() override { resume(chain_.request_); }
  void continueResponse() override { resume(chain_.response_); }
  std::string& heldRequestBody() override { return chain_.slotOf(chain_.request_, index_).held; }
  std::string& heldResponseBody() override { return chain_.slotOf(chain_.response_, index_).held; }
  void needWholeRequestBody() override { needWhole(chain_.request_); }
  void needWholeResponseBody() override { needWhole(chain_.response_); }
  bool requestComplete() const override { return complete(chain_.request_); }
  bool responseComplete() const override { return complete(chain_.response_); }
  HeaderMap* requestTrailers() override { return trailers(chain_.request_); }
  HeaderMap* responseTrailers() override { return trailers(chain_.response_); }
  const HeaderMap* requestHeaders() const override {
    return chain_.request_.headers_out ? &chain_.request_.headers : nullptr;
  }
  void sendLocalReply(int status, std::string_view body, const HeaderMap& headers,
                      std::string_view details) override {
    if (chain_.destroyed_) return;
    Running running(chain_);
    chain_.stream_.sendLocalReply(status, body, headers, details);
    chain_.destroy();
  }
  bool responseStarted() const override { return chain_.stream_.responseStarted(); }
  StreamInfo& streamInfo() override { return chain_.stream_.streamInfo(); }
  const config::Route* route() const override { return chain_.stream_.route(); }
  void clearRouteCache() override { chain_.stream_.clearRouteCache(); }
  Result<std::unique_ptr<HttpCallHandle>> httpCall(HttpCallRequest request, HttpCallDone done) override {
    return chain_.stream_.httpCall(std::move(request), std::move(done));
  }

 private:
  void needWhole(Direction& d) {
    if (chain_.destroyed_) return;
    Running running(chain_);
    Slot& s = chain_.slotOf(d, index_);
    if (!s.watermark) return;
    s.watermark = false;
    if (chain_.overLimit(d)) return;
    chain_.stream_.resumeReading(d.response);
  }
  void resume(Direction& d) {
    if (chain_.destroyed_) return;
    Running running(chain_);
    chain_.continueAt(d, chain_.positionOf(d, index_));
  }
  bool complete(const Direction& d) const {
    const Slot& s = d.slots[chain_.positionOf(d, index_)];
    if (s.state == SlotState::kWaiting) return false;
    return d.headers_only || s.end || s.trailers_pending || s.state == SlotState::kStoppedTrailers;
  }
  HeaderMap* trailers(Direction& d) {
    const Slot& s = d.slots[chain_.positionOf(d, index_)];
    bool reached = s.trailers_pending || s.state == SlotState::kStoppedTrailers ||
                   (d.has_trailers && s.state == SlotState::kPassed);
    return reached ? &d.trailers : nullptr;
  }

  FilterChain& chain_;
  size_t index_;
};

FilterChain::FilterChain(StreamCallbacks& stream, uint64_t buffer_limit)
    : stream_(stream), buffer_limit_(buffer_limit) {
  response_.response = true;
}

FilterChain::FilterChain(std::vector<std::unique_ptr<HttpFilter>> filters, StreamCallbacks& stream,
                         uint64_t buffer_limit)
    : FilterChain(stream, buffer_limit) {
  for (auto& f : filters) add(std::move(f));
}

FilterChain::~FilterChain() {
  destroy();
  // Filters go first: they may still hold handles that refer to callbacks.
  filters_.clear();
  spares_.clear();
}

void FilterChain::add(std::unique_ptr<HttpFilter> filter, const FilterFactory* origin) {
  const size_t index = filters_.size();
  filters_.push_back(std::move(filter));
  origins_.push_back(origin);
  if (callbacks_.size() <= index) callbacks_.push_back(std::make_unique<Callbacks>(*this, index));
  fitSlots(request_);
  fitSlots(response_);
  filters_.back()->setCallbacks(*callbacks_[index]);
}

namespace {
// A buffer that once held a large body is not kept for every later stream.
constexpr size_t kKeptBufferBytes = 64 * 1024;
}  // namespace

[[gnu::always_inline]] inline void FilterChain::Slot::reset() {
  state = SlotState::kWaiting;
  quiet = watermark = end = trailers_pending = false;
  if (held.capacity() > kKeptBufferBytes) {
    held = std::string();
  } else {
    held.clear();
  }
}

// Inlined: a connection restarts its chain for every stream.
[[gnu::always_inline]] inline void FilterChain::Direction::reset() {
  // `headers` are not cleared here: every way in (requestHeaders(map), the
  // header storage, HeaderMap::takeHead/borrowHead) replaces or empties
  // them, and nothing reads them before.
  // Trailers are only ever filled with has_trailers set (enterTrailers).
  if (has_trailers) trailers.clear();
  headers_only = false;
  has_trailers = false;
  headers_out = false;
  held_bytes = 0;
  for (Slot& slot : slots) slot.reset();
  if (spare.capacity() > kKeptBufferBytes) spare = std::string();
}

void FilterChain::reset(uint64_t buffer_limit) {
  filters_.clear();
  origins_.clear();
  // keep_alive_ stays: the owner of the spares (see keepAlive()).
  request_.reset();
  response_.reset();
  buffer_limit_ = buffer_limit;
  destroyed_ = false;
  response_entered_ = false;
}

void FilterChain::restart(uint64_t buffer_limit) {
  request_.reset();
  response_.reset();
  buffer_limit_ = buffer_limit;
  destroyed_ = false;
  response_entered_ = false;
  // Recycling may have cleared what a filter knew of the chain.
  for (size_t i = 0; i < filters_.size(); ++i) filters_[i]->setCallbacks(*callbacks_[i]);
}

void FilterChain::releaseFilters(event::Loop& loop) {
  dropSpares();
  if (depth_ > 0) {
    for (auto& f : filters_) loop.deferDelete(std::move(f));
  } else if (!filters_.empty()) {
    spares_.swap(filters_);
    spare_origins_.swap(origins_);
    bool kept = false;
    for (size_t i = 0; i < spares_.size(); ++i) {
      if (spare_origins_[i] == nullptr) {
        spares_[i].reset();  // no factory could take it back
      } else {
        kept = true;
      }
    }
    // Kept spares stay alive with keep_alive_ (see keepAlive()).
    if (!kept) dropSpares();
  }
  filters_.clear();
  origins_.clear();
}

std::unique_ptr<HttpFilter> FilterChain::takeSpare(const FilterFactory* origin) {
  for (size_t i = 0; i < spares_.size(); ++i) {
    if (spare_origins_[i] == origin && origin != nullptr && spares_[i]) return std::move(spares_[i]);
  }
  return nullptr;
}

void FilterChain::dropSpares() {
  spares_.clear();
  spare_origins_.clear();
  if (spare_keep_alive_) spare_keep_alive_.reset();
}

void FilterChain::destroy() {
  if (destroyed_) return;
  Running running(*this);
  destroyed_ = true;
  for (auto& f : filters_) {
    f->onDestroy();
  }
}

bool FilterChain::responseBodyBypassable() const {
  if (destroyed_ || !response_.headers_out || response_.held_bytes != 0 || response_.has_trailers) return false;
  for (const Slot& slot : response_.slots) {
    if (slot.state != SlotState::kPassed || !slot.held.empty() || slot.end) return false;
  }
  for (const auto& f : filters_) {
    if (f->wantsResponseBody()) return false;
  }
  return true;
}

HttpFilter& FilterChain::filterAt(const Direction& d, size_t pos) const {
  return *filters_[d.response ? filters_.size() - 1 - pos : pos];
}

size_t FilterChain::positionOf(const Direction& d, size_t filter_index) const {
  return d.response ? filters_.size() - 1 - filter_index : filter_index;
}

FilterChain::Slot& FilterChain::slotOf(Direction& d, size_t filter_index) {
  return d.slots[positionOf(d, filter_index)];
}

void FilterChain::requestHeaders(HeaderMap headers, bool end_stream) {
  request_.headers = std::move(headers);
  requestHeaders(end_stream);
}

HeaderMap& FilterChain::requestHeaderStorage() {
  request_.headers.clear();
  return request_.headers;
}

void FilterChain::requestHeaders(bool end_stream) { enterHeaders(request_, end_stream); }

void FilterChain::enterHeaders(Direction& d, bool end) {
  if (destroyed_) return;
  Running running(*this);
  if (d.response) response_entered_ = true;
  d.headers_only = end;
  runHeaders(d, 0);
}

void FilterChain::enterTrailers(Direction& d, HeaderMap trailers) {
  if (destroyed_) return;
  Running running(*this);
  d.trailers = std::move(trailers);
  d.has_trailers = true;
  pushTrailers(d, 0);
}

void FilterChain::enterData(Direction& d, std::string_view data, bool end) {
  if (destroyed_) return;
  Running running(*this);
  // pushData() gives the buffer back once the data left the chain.
  std::string buffer = std::move(d.spare);
  buffer.assign(data);
  pushData(d, 0, std::move(buffer), end);
}

void FilterChain::enterData(Direction& d, std::string& buffer, bool end) {
  if (destroyed_) return;
  Running running(*this);
  std::string data = std::move(buffer);
  buffer.clear();
  buffer.swap(d.spare);
  pushData(d, 0, std::move(data), end);
}

void FilterChain::requestData(std::string_view data, bool end_stream) {
  enterData(request_, data, end_stream);
}
void FilterChain::takeRequestData(std::string& buffer, bool end_stream) {
  enterData(request_, buffer, end_stream);
}

void FilterChain::requestTrailers(HeaderMap trailers) { enterTrailers(request_, std::move(trailers)); }

void FilterChain::responseHeaders(HeaderMap headers, bool end_stream) {
  response_.headers = std::move(headers);
  responseHeaders(end_stream);
}

HeaderMap& FilterChain::responseHeaderStorage() {
  response_.headers.clear();
  return response_.headers;
}

void FilterChain::responseHeaders(bool end_stream) { enterHeaders(response_, end_stream); }

void FilterChain::responseData(std::string_view data, bool end_stream) {
  enterData(response_, data, end_stream);
}
void FilterChain::takeResponseData(std::string& buffer, bool end_stream) {
  enterData(response_, buffer, end_stream);
}

void FilterChain::responseTrailers(HeaderMap trailers) { enterTrailers(response_, std::move(trailers)); }

void FilterChain::runHeaders(Direction& d, size_t pos) {
  // A filter may give a message without a body one (Lua's body(true):setBytes()
  // on a GET) by filling its held buffer: that body follows the headers.
  std::optional<size_t> added_body_at;
  for (; pos < filters_.size(); ++pos) {
    Slot& slot = d.slots[pos];
    slot.state = SlotState::kPassed;
    HttpFilter& f = filterAt(d, pos);
    auto status = d.response ? f.onResponseHeaders(d.headers, d.headers_only)
                             : f.onRequestHeaders(d.headers, d.headers_only);
    if (destroyed_) return;
    if (d.headers_only && !slot.held.empty()) {
      d.headers_only = false;
      slot.end = true;
      d.held_bytes += slot.held.size();
      if (status == HeadersStatus::kContinue) added_body_at = pos;
    }
    if (status != HeadersStatus::kContinue) {
      slot.state = SlotState::kStoppedHeaders;
      slot.watermark = status == HeadersStatus::kStopAndWatermark;
      slot.end = slot.end || d.headers_only;
      if (added_body_at && *added_body_at != pos) {
        // An earlier filter's added body now waits here, behind these headers.
        Slot& added = d.slots[*added_body_at];
        slot.held = std::move(added.held);
        added.held.clear();
        slot.end = true;
      }
      return;
    }
  }
  d.headers_out = true;
  if (d.response) {
    stream_.onResponseHeadersOut(d.headers, d.headers_only);
  } else {
    stream_.onRequestHeadersOut(d.headers, d.headers_only);
  }
  if (added_body_at && !destroyed_) {
    Slot& slot = d.slots[*added_body_at];
    std::string data = std::move(slot.held);
    slot.held.clear();
    d.held_bytes -= data.size();
    pushData(d, *added_body_at + 1, std::move(data), true);
  }
}

void FilterChain::setHeld(Direction& d, Slot& slot, std::string data) {
  d.held_bytes -= slot.held.size();
  slot.held = std::move(data);
  d.held_bytes += slot.held.size();
}

void FilterChain::recount(Direction& d) {
  d.held_bytes = 0;
  for (const auto& slot : d.slots) d.held_bytes += slot.held.size();
}

bool FilterChain::overLimit(Direction& d) {
  if (d.held_bytes <= buffer_limit_) return false;
  if (!d.response) {
    stream_.sendLocalReply(413, "payload too large\n", HeaderMap{}, "request_payload_too_large");
  } else if (stream_.responseStarted()) {
    stream_.resetStream("response body over the filter buffer limit");
  } else {
    stream_.sendLocalReply(500, "response payload too large\n", HeaderMap{}, "response_payload_too_large");
  }
  destroy();
  return true;
}

bool FilterChain::requestHeadersHeldForBody() const {
  for (const Slot& s : request_.slots) {
    if (s.state == SlotState::kStoppedHeaders && !s.watermark) return true;
  }
  return false;
}

bool FilterChain::overWatermark(const Direction& d) const {
  if (d.held_bytes < buffer_limit_) return false;
  for (const Slot& s : d.slots) {
    if (s.watermark && !s.held.empty()) return true;
  }
  return false;
}

bool FilterChain::applyDataStatus(Direction& d, size_t pos, DataStatus status, std::string& data, bool end) {
  Slot& s = d.slots[pos];
  switch (status) {
    case DataStatus::kContinue: {
      if (s.state == SlotState::kPassed) return true;
      const bool headers_held = s.state == SlotState::kStoppedHeaders;
      s.state = SlotState::kPassed;
      s.quiet = false;
      s.watermark = false;
      data = std::move(s.held);
      d.held_bytes -= data.size();
      s.held.clear();
      if (headers_held) {
        runHeaders(d, pos + 1);
        if (destroyed_) return false;
      }
      return true;
    }
    case DataStatus::kStopAndBuffer:
    case DataStatus::kStopAndWatermark:
      s.watermark = status == DataStatus::kStopAndWatermark;
      if (s.state == SlotState::kPassed) {
        setHeld(d, s, std::move(data));
        s.end = end;
        s.state = SlotState::kBuffering;
      }
      if (!s.watermark) overLimit(d);
      return false;
    case DataStatus::kStop:
      if (s.state == SlotState::kPassed) {
        setHeld(d, s, std::move(data));
        s.end = end;
        s.state = SlotState::kStoppedData;
      } else {
        s.quiet = true;
      }
      return false;
  }
  return false;
}

void FilterChain::pushData(Direction& d, size_t pos, std::string data, bool end) {
  for (; pos < filters_.size(); ++pos) {
    Slot& s = d.slots[pos];
    HttpFilter& f = filterAt(d, pos);
    if (s.state == SlotState::kPassed) {
      auto status = d.response ? f.onResponseData(data, end) : f.onRequestData(data, end);
      if (destroyed_ || !applyDataStatus(d, pos, status, data, end)) return;
      continue;
    }
    // Stopped here: the data joins what this filter holds.
    d.held_bytes += data.size();
    s.held.append(data);
    s.end = s.end || end;
    if (!s.watermark && overLimit(d)) return;
    if (s.quiet || (s.state != SlotState::kStoppedHeaders && s.state != SlotState::kBuffering)) return;
    auto status = d.response ? f.onResponseData(s.held, s.end) : f.onRequestData(s.held, s.end);
    if (destroyed_) return;
    recount(d);  // the filter may have rewritten what it holds
    end = s.end;
    if (!applyDataStatus(d, pos, status, data, end)) return;
  }
  if (d.response) {
    stream_.onResponseDataOut(data, end);
  } else {
    stream_.onRequestDataOut(data, end);
  }
  if (d.spare.capacity() < data.capacity()) {
    data.clear();
    d.spare = std::move(data);
  }
}

void FilterChain::pushTrailers(Direction& d, size_t pos) {
  for (; pos < filters_.size(); ++pos) {
    Slot& s = d.slots[pos];
    HttpFilter& f = filterAt(d, pos);
    if (s.state == SlotState::kPassed) {
      auto status = d.response ? f.onResponseTrailers(d.trailers) : f.onRequestTrailers(d.trailers);
      if (destroyed_) return;
      if (status == TrailersStatus::kStop) {
        s.state = SlotState::kStoppedTrailers;
        return;
      }
      continue;
    }
    s.trailers_pending = true;
    if (s.quiet || (s.state != SlotState::kStoppedHeaders && s.state != SlotState::kBuffering)) return;
    auto status = d.response ? f.onResponseTrailers(d.trailers) : f.onRequestTrailers(d.trailers);
    if (destroyed_) return;
    if (status == TrailersStatus::kContinue) {
      continueAt(d, pos);
    }
    return;
  }
  if (d.response) {
    stream_.onResponseTrailersOut(d.trailers);
  } else {
    stream_.onRequestTrailersOut(d.trailers);
  }
}

void FilterChain::continueAt(Direction& d, size_t pos) {
  Slot& s = d.slots[pos];
  switch (s.state) {
    case SlotState::kStoppedHeaders:
      s.state = SlotState::kPassed;
      s.quiet = false;
      s.watermark = false;
      if (d.headers_only && !s.held.empty()) {
        // A body given to a bodyless message while its headers were held
        // here (Lua's body(true):setBytes() after an httpCall).
        d.headers_only = false;
        s.end = true;
        d.held_bytes += s.held.size();
      }
      runHeaders(d, pos + 1);
      if (destroyed_) return;
      break;
    case SlotState::kBuffering:
    case SlotState::kStoppedData:
      s.state = SlotState::kPassed;
      s.quiet = false;
      s.watermark = false;
      break;
    case SlotState::kStoppedTrailers:
      s.state = SlotState::kPassed;
      pushTrailers(d, pos + 1);
      return;
    case SlotState::kWaiting:
    case SlotState::kPassed:
      return;  // not stopped: nothing to resume
  }
  if (d.headers_only) return;
  std::string data = std::move(s.held);
  s.held.clear();
  recount(d);  // the filter may have rewritten what it held since it was counted
  if (!data.empty() || s.end) {
    pushData(d, pos + 1, std::move(data), s.end);
    if (destroyed_) return;
  }
  if (s.trailers_pending) {
    s.trailers_pending = false;
    pushTrailers(d, pos + 1);
  }
}

}  // namespace pier::filters
