#pragma once
// Runs one stream's filters in order and keeps each filter's held data, so a
// filter can stop (waiting for a body, a call, a timer) without stopping the
// worker. Requests go first to last, responses last to first. What leaves the
// chain goes to StreamCallbacks (the router side for requests, the client side
// for responses).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/event/loop.h"
#include "src/filters/filter.h"

namespace pier::filters {

// The stream around the chain (the HTTP connection).
class StreamCallbacks {
 public:
  virtual ~StreamCallbacks() = default;
  virtual void onRequestHeadersOut(HeaderMap& headers, bool end_stream) = 0;
  virtual void onRequestDataOut(std::string_view data, bool end_stream) = 0;
  virtual void onRequestTrailersOut(HeaderMap& trailers) = 0;
  virtual void onResponseHeadersOut(HeaderMap& headers, bool end_stream) = 0;
  virtual void onResponseDataOut(std::string_view data, bool end_stream) = 0;
  virtual void onResponseTrailersOut(HeaderMap& trailers) = 0;
  // A filter answered, or held data passed the buffer limit (413 on requests,
  // 500 on responses). The stream must call FilterChain::destroy().
  virtual void sendLocalReply(int status, std::string_view body, const HeaderMap& headers,
                              std::string_view details) = 0;
  // The response went over the buffer limit after its headers left: all the
  // stream can do is close the connection.
  virtual void resetStream(std::string_view why) = 0;
  // A direction that stopped at a filter's watermark may be read again.
  virtual void resumeReading(bool response) { (void)response; }
  virtual bool responseStarted() const = 0;
  virtual StreamInfo& streamInfo() = 0;
  virtual const config::Route* route() const = 0;
  virtual void clearRouteCache() = 0;
  virtual Result<std::unique_ptr<HttpCallHandle>> httpCall(HttpCallRequest request, HttpCallDone done) = 0;
};

class FilterChain final : public event::Deletable {
 public:
  // `buffer_limit`: body bytes all filters together may hold per direction.
  FilterChain(StreamCallbacks& stream, uint64_t buffer_limit);
  FilterChain(std::vector<std::unique_ptr<HttpFilter>> filters, StreamCallbacks& stream,
              uint64_t buffer_limit);
  ~FilterChain() override;
  FilterChain(const FilterChain&) = delete;
  FilterChain& operator=(const FilterChain&) = delete;

  // Appends a filter; only before the request headers enter. `origin`, the
  // factory that made it, lets the next stream recycle it (takeSpare).
  void add(std::unique_ptr<HttpFilter> filter, const FilterFactory* origin = nullptr);

  // A connection runs one stream after another: a chain that ended (destroy())
  // and has no filter call on the stack can be reset for the next stream,
  // keeping its storage (slots, header maps) instead of allocating it again.
  bool reusable() const { return destroyed_ && depth_ == 0; }
  void reset(uint64_t buffer_limit);
  // An ended chain keeps its filters until releaseFilters(). When they are
  // exactly the filters `factories` make, in order, the next stream may
  // recycle each where it is (filter()) and restart() the chain with them:
  // no filter moves, and none is added again.
  template <typename Factories>
  bool madeByAll(const Factories& factories) const {
    if (origins_.size() != factories.size() || spares_.size() != 0) return false;
    for (size_t i = 0; i < origins_.size(); ++i) {
      if (origins_[i] != factories[i].get()) return false;
    }
    return true;
  }
  HttpFilter& filter(size_t index) { return *filters_[index]; }
  // Like reset(), keeping the filters (each recycled by the caller).
  void restart(uint64_t buffer_limit);
  // After destroy(), when the filters are not restarted in place: with no
  // chain call on the stack they become spares, offered to their factories
  // for the next stream (takeSpare); otherwise (one of them may be on the
  // stack) they are deleted through `loop`.
  void releaseFilters(event::Loop& loop);
  // The spare `origin` made, if any (each is taken at most once).
  std::unique_ptr<HttpFilter> takeSpare(const FilterFactory* origin);
  bool hasSpares() const { return !spares_.empty(); }
  // Deletes the spares nobody took (no call of theirs is on the stack).
  void dropSpares();

  // The request entering the chain. `end_stream` on headers: no body follows.
  // Data with end_stream=true ends a body without trailers.
  void requestHeaders(HeaderMap headers, bool end_stream);
  // The same, with headers filled into requestHeaderStorage() (emptied by it).
  HeaderMap& requestHeaderStorage();
  void requestHeaders(bool end_stream);
  // The request headers as they are now (not emptied), e.g. for
  // HeaderMap::ownBytes() when the stream filled them with borrowHead(), or
  // to fill with takeHead() or borrowHead(), which empty the map themselves.
  HeaderMap& requestHeaderMap() { return request_.headers; }
  HeaderMap& responseHeaderStorage();
  HeaderMap& responseHeaderMap() { return response_.headers; }
  void responseHeaders(bool end_stream);
  void requestData(std::string_view data, bool end_stream);
  // Like requestData(), taking `buffer`'s bytes without a copy; `buffer` is
  // left empty, holding a spare buffer of the chain's to fill next.
  void takeRequestData(std::string& buffer, bool end_stream);
  void requestTrailers(HeaderMap trailers);
  void responseHeaders(HeaderMap headers, bool end_stream);
  void responseData(std::string_view data, bool end_stream);
  void takeResponseData(std::string& buffer, bool end_stream);
  void responseTrailers(HeaderMap trailers);

  // Keeps `owner` (what made the filters, e.g. the config snapshot) alive as
  // long as the chain, which may outlive its stream (deferred deletion).
  // A reused chain usually gets the owner it already holds: then nothing
  // changes (no reference count touched per stream).
  template <typename T>
  void keepAlive(const std::shared_ptr<T>& owner) {
    if (keep_alive_.get() == static_cast<const void*>(owner.get())) return;
    // The spares' factories belong to the old owner until they go.
    if (!spares_.empty()) spare_keep_alive_ = std::move(keep_alive_);
    keep_alive_ = owner;
  }

  // Ends the stream for every filter (onDestroy); nothing runs afterwards.
  // Safe to call from inside a filter or sink callback; the owner must then
  // delete the chain later (event::Loop::deferDelete), not synchronously.
  void destroy();
  bool destroyed() const { return destroyed_; }

  bool requestHeadersOut() const { return request_.headers_out; }
  // Response headers were given to the chain (they may be held by a filter).
  bool responseEntered() const { return response_entered_; }
  bool responseHeadersOut() const { return response_.headers_out; }
  // A filter holds at least the buffer limit with kStopAndWatermark: the
  // stream should stop reading that direction until it drops below.
  bool requestOverWatermark() const { return overWatermark(request_); }
  // The request headers wait at a filter that stopped for the body itself
  // (kStop), not for something else (kStopAndWatermark).
  bool requestHeadersHeldForBody() const;
  bool responseOverWatermark() const { return overWatermark(response_); }
  // The response headers left the chain, nothing of the response is held,
  // and no filter wants the body (HttpFilter::wantsResponseBody): the
  // stream may send the rest of the response without the chain.
  bool responseBodyBypassable() const;
  // Bytes held by filters now, both directions (for tests and metrics).
  uint64_t heldBytes() const { return request_.held_bytes + response_.held_bytes; }
  size_t size() const { return filters_.size(); }

 private:
  enum class SlotState { kWaiting, kPassed, kStoppedHeaders, kBuffering, kStoppedData, kStoppedTrailers };
  struct Slot {
    // As new, keeping the held buffer's storage (see Direction::reset).
    void reset();

    SlotState state = SlotState::kWaiting;
    bool quiet = false;      // stopped with kStop: don't call onData as data arrives
    bool watermark = false;  // last said kStopAndWatermark: no 413/500 for what it holds
    std::string held;
    bool end = false;               // the body ended (without trailers) at this filter
    bool trailers_pending = false;  // trailers reached this filter and wait here
  };
  struct Direction {
    void reset();

    bool response = false;
    HeaderMap headers;
    HeaderMap trailers;
    bool headers_only = false;
    bool has_trailers = false;
    bool headers_out = false;
    uint64_t held_bytes = 0;
    // By position in this direction's order; kept (reset) for the next
    // stream, and fitted to its filters as they are added (fitSlots).
    std::vector<Slot> slots;
    std::string spare;        // a data buffer to reuse (no allocation per chunk)
  };
  class Callbacks;
  // Counts the chain's calls on the stack (see reusable()).
  class Running {
   public:
    explicit Running(FilterChain& chain) : chain_(chain) { ++chain_.depth_; }
    ~Running() { --chain_.depth_; }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;

   private:
    FilterChain& chain_;
  };

  HttpFilter& filterAt(const Direction& d, size_t pos) const;
  void runHeaders(Direction& d, size_t pos);
  // Where what enters the chain starts (request: first filter; response: last).
  void enterHeaders(Direction& d, bool end);
  void fitSlots(Direction& d) const {
    if (d.slots.size() != filters_.size()) d.slots.resize(filters_.size());
  }
  void enterTrailers(Direction& d, HeaderMap trailers);
  void enterData(Direction& d, std::string_view data, bool end);
  void enterData(Direction& d, std::string& buffer, bool end);
  void pushData(Direction& d, size_t pos, std::string data, bool end);
  void pushTrailers(Direction& d, size_t pos);
  void continueAt(Direction& d, size_t pos);
  // Applies a data status for the filter at `pos`; returns true to pass
  // `data` on to pos + 1.
  bool applyDataStatus(Direction& d, size_t pos, DataStatus status, std::string& data, bool end);
  bool overLimit(Direction& d);
  bool overWatermark(const Direction& d) const;
  static void recount(Direction& d);
  void setHeld(Direction& d, Slot& slot, std::string data);
  Slot& slotOf(Direction& d, size_t filter_index);
  size_t positionOf(const Direction& d, size_t filter_index) const;

  std::shared_ptr<const void> keep_alive_;  // destroyed last
  // What the spares' factories belong to when keep_alive_ changed before
  // they went (the stream after them may run on a newer snapshot).
  std::shared_ptr<const void> spare_keep_alive_;
  std::vector<std::unique_ptr<HttpFilter>> filters_;
  std::vector<const FilterFactory*> origins_;  // by filter index
  // The last stream's filters and their factories (swapped with filters_
  // and origins_, so keeping them moves no filter).
  std::vector<std::unique_ptr<HttpFilter>> spares_;
  std::vector<const FilterFactory*> spare_origins_;
  std::vector<std::unique_ptr<Callbacks>> callbacks_;
  StreamCallbacks& stream_;
  uint64_t buffer_limit_;
  Direction request_;
  Direction response_;
  bool destroyed_ = false;
  bool response_entered_ = false;
  int depth_ = 0;
};

}  // namespace pier::filters
