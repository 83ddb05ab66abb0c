#include "src/filters/chain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "src/event/loop.h"

namespace pier::filters {
namespace {

// A filter whose every callback is a replaceable function; records what it saw.
struct ScriptedFilter : HttpFilter {
  explicit ScriptedFilter(std::string name, std::vector<std::string>& log) : name(std::move(name)), log(log) {}
  ~ScriptedFilter() override {
    if (deleted != nullptr) *deleted = true;
  }
  void setCallbacks(FilterCallbacks& c) override { callbacks = &c; }
  HeadersStatus onRequestHeaders(HeaderMap& h, bool end) override {
    log.push_back(name + ":reqh" + (end ? "(end)" : ""));
    return req_headers ? req_headers(h) : HeadersStatus::kContinue;
  }
  DataStatus onRequestData(std::string& d, bool end) override {
    log.push_back(name + ":reqd[" + d + "]" + (end ? "(end)" : ""));
    return req_data ? req_data(d, end) : DataStatus::kContinue;
  }
  TrailersStatus onRequestTrailers(HeaderMap&) override {
    log.push_back(name + ":reqt");
    return req_trailers ? req_trailers() : TrailersStatus::kContinue;
  }
  HeadersStatus onResponseHeaders(HeaderMap& h, bool end) override {
    log.push_back(name + ":resh" + (end ? "(end)" : ""));
    return resp_headers ? resp_headers(h) : HeadersStatus::kContinue;
  }
  DataStatus onResponseData(std::string& d, bool end) override {
    log.push_back(name + ":resd[" + d + "]" + (end ? "(end)" : ""));
    return resp_data ? resp_data(d, end) : DataStatus::kContinue;
  }
  TrailersStatus onResponseTrailers(HeaderMap&) override {
    log.push_back(name + ":rest");
    return TrailersStatus::kContinue;
  }
  bool wantsResponseBody() const override { return wants_response_body; }
  void onDestroy() override {
    log.push_back(name + ":destroy");
    if (on_destroy) on_destroy();
  }

  std::string name;
  std::vector<std::string>& log;
  FilterCallbacks* callbacks = nullptr;
  std::function<HeadersStatus(HeaderMap&)> req_headers;
  std::function<DataStatus(std::string&, bool)> req_data;
  std::function<TrailersStatus()> req_trailers;
  std::function<HeadersStatus(HeaderMap&)> resp_headers;
  std::function<DataStatus(std::string&, bool)> resp_data;
  std::function<void()> on_destroy;
  bool* deleted = nullptr;  // set by the destructor
  bool wants_response_body = true;
};

struct Sink : StreamCallbacks {
  explicit Sink(std::vector<std::string>& log) : log(log) {}
  void onRequestHeadersOut(HeaderMap& h, bool end) override {
    log.push_back(std::string("out:reqh") + (end ? "(end)" : ""));
    request_headers = h;
    if (on_request_headers_out) on_request_headers_out();
  }
  void onRequestDataOut(std::string_view d, bool end) override {
    log.push_back("out:reqd[" + std::string(d) + "]" + (end ? "(end)" : ""));
  }
  void onRequestTrailersOut(HeaderMap&) override { log.push_back("out:reqt"); }
  void onResponseHeadersOut(HeaderMap& h, bool end) override {
    log.push_back(std::string("out:resh") + (end ? "(end)" : ""));
    response_headers = h;
    started = true;
  }
  void onResponseDataOut(std::string_view d, bool end) override {
    log.push_back("out:resd[" + std::string(d) + "]" + (end ? "(end)" : ""));
  }
  void onResponseTrailersOut(HeaderMap&) override { log.push_back("out:rest"); }
  void sendLocalReply(int status, std::string_view body, const HeaderMap&, std::string_view details) override {
    log.push_back("reply:" + std::to_string(status) + ":" + std::string(body) + ":" + std::string(details));
    if (chain) chain->destroy();
    if (on_reply) on_reply();
  }
  void resetStream(std::string_view why) override { log.push_back("reset:" + std::string(why)); }
  void resumeReading(bool response) override { log.push_back(response ? "resume:res" : "resume:req"); }
  bool responseStarted() const override { return started; }
  StreamInfo& streamInfo() override { return info; }
  const config::Route* route() const override { return nullptr; }
  void clearRouteCache() override { log.push_back("clear_route_cache"); }
  Result<std::unique_ptr<HttpCallHandle>> httpCall(HttpCallRequest, HttpCallDone) override {
    return Error{"no clusters in this test"};
  }

  std::vector<std::string>& log;
  FilterChain* chain = nullptr;
  HeaderMap request_headers;
  HeaderMap response_headers;
  bool started = false;
  // Run after the event is logged (and, for a reply, after the chain's destroy()).
  std::function<void()> on_reply;
  std::function<void()> on_request_headers_out;
  StreamInfo info;
};

class ChainTest : public ::testing::Test {
 protected:
  ScriptedFilter& add(const std::string& name) {
    auto f = std::make_unique<ScriptedFilter>(name, log);
    auto* raw = f.get();
    pending.push_back(std::move(f));
    return *raw;
  }
  FilterChain& build(uint64_t limit = 1 << 20) {
    chain = std::make_unique<FilterChain>(std::move(pending), sink, limit);
    sink.chain = chain.get();
    return *chain;
  }
  static HeaderMap headers() {
    HeaderMap h;
    h.add(":method", "POST");
    h.add(":path", "/");
    return h;
  }
  using Log = std::vector<std::string>;

  Log log;
  Sink sink{log};
  std::vector<std::unique_ptr<HttpFilter>> pending;
  std::unique_ptr<FilterChain> chain;
};

TEST_F(ChainTest, RequestRunsFirstToLastAndResponseLastToFirst) {
  add("a");
  add("b");
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), true);
  EXPECT_EQ(log, (Log{"a:reqh(end)", "b:reqh(end)", "out:reqh(end)", "b:resh(end)", "a:resh(end)", "out:resh(end)"}));
}

TEST_F(ChainTest, HeaderEditsReachTheSink) {
  add("a").req_headers = [](HeaderMap& h) {
    h.add("x-added", "1");
    return HeadersStatus::kContinue;
  };
  build().requestHeaders(headers(), true);
  EXPECT_EQ(sink.request_headers.get("x-added"), "1");
}

TEST_F(ChainTest, StoppedHeadersHoldLaterFiltersAndDataUntilContinue) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  add("b");
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("12", false);
  c.requestData("34", true);
  EXPECT_EQ(log, (Log{"a:reqh", "a:reqd[12]", "a:reqd[1234](end)"}));
  EXPECT_EQ(a.callbacks->heldRequestBody(), "1234");
  EXPECT_TRUE(a.callbacks->requestComplete());
  log.clear();
  a.callbacks->continueRequest();
  EXPECT_EQ(log, (Log{"b:reqh", "out:reqh", "b:reqd[1234](end)", "out:reqd[1234](end)"}));
}

TEST_F(ChainTest, BufferedBodyEditsAreWhatPassesOn) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string& d, bool end) {
    if (!end) return DataStatus::kStopAndBuffer;
    d = "rewritten";
    return DataStatus::kContinue;
  };
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("ab", false);
  c.requestData("cd", true);
  EXPECT_EQ(log.back(), "out:reqd[rewritten](end)");
  EXPECT_EQ(c.heldBytes(), 0U);
}

TEST_F(ChainTest, DataContinueFromStoppedHeadersReleasesHeadersFirst) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  add("b");
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("x", true);
  EXPECT_EQ(log, (Log{"a:reqh", "a:reqd[x](end)", "b:reqh", "out:reqh", "b:reqd[x](end)", "out:reqd[x](end)"}));
}

TEST_F(ChainTest, DataArrivingBeforeAStoppedFilterPassesThroughEarlierFilters) {
  add("a");
  auto& b = add("b");
  b.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  b.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("x", false);
  EXPECT_EQ(log, (Log{"a:reqh", "b:reqh", "a:reqd[x]", "b:reqd[x]"}));
}

TEST_F(ChainTest, StopOnDataHoldsQuietlyUntilContinue) {
  auto& a = add("a");
  a.req_data = [](std::string&, bool) { return DataStatus::kStop; };
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("1", false);
  c.requestData("2", true);
  EXPECT_EQ(log, (Log{"a:reqh", "out:reqh", "a:reqd[1]"}));
  a.req_data = nullptr;
  a.callbacks->continueRequest();
  EXPECT_EQ(log.back(), "out:reqd[12](end)");
}

TEST_F(ChainTest, TrailersWaitBehindAStoppedFilter) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  a.req_trailers = [] { return TrailersStatus::kStop; };
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("x", false);
  HeaderMap t;
  t.add("x-checksum", "1");
  c.requestTrailers(std::move(t));
  ASSERT_NE(a.callbacks->requestTrailers(), nullptr);
  EXPECT_TRUE(a.callbacks->requestComplete());
  log.clear();
  a.callbacks->continueRequest();
  EXPECT_EQ(log, (Log{"out:reqh", "out:reqd[x]", "out:reqt"}));
}

TEST_F(ChainTest, TrailersContinueReleasesAStoppedFilter) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("x", false);
  c.requestTrailers(HeaderMap{});
  EXPECT_EQ(log, (Log{"a:reqh", "a:reqd[x]", "a:reqt", "out:reqh", "out:reqd[x]", "out:reqt"}));
}

TEST_F(ChainTest, RequestOverTheBufferLimitGets413) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  auto& c = build(4);
  c.requestHeaders(headers(), false);
  c.requestData("123", false);
  c.requestData("45", false);
  EXPECT_EQ(log.back(), "a:destroy");
  EXPECT_NE(std::find(log.begin(), log.end(), "reply:413:payload too large\n:request_payload_too_large"), log.end());
  EXPECT_TRUE(c.destroyed());
  c.requestData("6", true);  // ignored after the reply
  EXPECT_EQ(log.back(), "a:destroy");
}

TEST_F(ChainTest, ResponseOverTheLimitGets500BeforeHeadersWentOut) {
  auto& a = add("a");
  a.resp_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.resp_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  auto& c = build(2);
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  c.responseData("123", false);
  EXPECT_NE(std::find(log.begin(), log.end(), "reply:500:response payload too large\n:response_payload_too_large"),
            log.end());
}

TEST_F(ChainTest, ResponseOverTheLimitAfterHeadersWentOutResetsTheStream) {
  auto& a = add("a");
  a.resp_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  auto& c = build(2);
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  c.responseData("123", false);
  EXPECT_NE(std::find(log.begin(), log.end(), "reset:response body over the filter buffer limit"), log.end());
  EXPECT_TRUE(c.destroyed());
}

TEST_F(ChainTest, LocalReplyStopsTheChainAndDestroysEveryFilter) {
  auto& a = add("a");
  a.req_headers = [&a](HeaderMap&) {
    a.callbacks->sendLocalReply(403, "nope", HeaderMap{}, "test");
    return HeadersStatus::kStop;
  };
  add("b");
  auto& c = build();
  c.requestHeaders(headers(), true);
  EXPECT_EQ(log, (Log{"a:reqh(end)", "reply:403:nope:test", "a:destroy", "b:destroy"}));
  EXPECT_TRUE(c.destroyed());
}

TEST_F(ChainTest, ContinueAfterDestroyDoesNothing) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.destroy();
  log.clear();
  a.callbacks->continueRequest();
  EXPECT_TRUE(log.empty());
}

TEST_F(ChainTest, HeadersOnlyRequestHasNoDataAfterContinue) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  auto& c = build();
  c.requestHeaders(headers(), true);
  EXPECT_TRUE(a.callbacks->requestComplete());
  log.clear();
  a.callbacks->continueRequest();
  EXPECT_EQ(log, (Log{"out:reqh(end)"}));
}

TEST_F(ChainTest, RequestHeadersAreVisibleOnTheResponsePathOnceOut) {
  auto& a = add("a");
  auto& c = build();
  EXPECT_EQ(a.callbacks->requestHeaders(), nullptr);
  c.requestHeaders(headers(), true);
  ASSERT_NE(a.callbacks->requestHeaders(), nullptr);
  EXPECT_EQ(*a.callbacks->requestHeaders()->getFirst(":method"), "POST");
}

TEST_F(ChainTest, DestructionCallsOnDestroyOnce) {
  add("a");
  auto& c = build();
  c.destroy();
  chain.reset();
  EXPECT_EQ(std::count(log.begin(), log.end(), "a:destroy"), 1);
}

TEST_F(ChainTest, EmptyChainPassesEverythingStraightThrough) {
  auto& c = build();
  c.requestHeaders(headers(), false);
  c.requestData("x", true);
  c.responseHeaders(headers(), false);
  c.responseData("y", false);
  c.responseTrailers(HeaderMap{});
  EXPECT_EQ(log, (Log{"out:reqh", "out:reqd[x](end)", "out:resh", "out:resd[y]", "out:rest"}));
}


TEST_F(ChainTest, AFilterCanGiveABodylessRequestABody) {
  auto& a = add("a");
  a.req_headers = [&a](HeaderMap& h) {
    a.callbacks->heldRequestBody() = "added";
    h.replace("content-length", "5");
    return HeadersStatus::kContinue;
  };
  add("b");
  build().requestHeaders(headers(), true);
  EXPECT_EQ(log, (Log{"a:reqh(end)", "b:reqh", "out:reqh", "b:reqd[added](end)", "out:reqd[added](end)"}));
}

TEST_F(ChainTest, ABodyAddedWhileStoppedFollowsTheHeadersOnContinue) {
  auto& a = add("a");
  a.resp_headers = [&a](HeaderMap&) {
    a.callbacks->heldResponseBody() = "x";
    return HeadersStatus::kStop;
  };
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), true);
  log.clear();
  a.callbacks->continueResponse();
  EXPECT_EQ(log, (Log{"out:resh", "out:resd[x](end)"}));
}

TEST_F(ChainTest, ABodyAddedWhileStoppedAfterTheHeadersFollowsThemOnContinue) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  add("b");
  auto& c = build();
  c.requestHeaders(headers(), true);
  log.clear();
  a.callbacks->heldRequestBody() = "late";
  a.callbacks->continueRequest();
  EXPECT_EQ(log, (Log{"b:reqh", "out:reqh", "b:reqd[late](end)", "out:reqd[late](end)"}));
}


TEST_F(ChainTest, AnAddedBodyWaitsBehindALaterFilterThatStops) {
  auto& a = add("a");
  a.req_headers = [&a](HeaderMap&) {
    a.callbacks->heldRequestBody() = "added";
    return HeadersStatus::kContinue;
  };
  auto& b = add("b");
  b.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  auto& c = build();
  c.requestHeaders(headers(), true);
  EXPECT_EQ(b.callbacks->heldRequestBody(), "added");
  EXPECT_TRUE(b.callbacks->requestComplete());
  log.clear();
  b.callbacks->continueRequest();
  EXPECT_EQ(log, (Log{"out:reqh", "out:reqd[added](end)"}));
}

// --- one chain for one stream after another ---------------------------------

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs pairsOf(const HeaderMap& h) {
  Pairs out;
  for (const auto& e : h.entries()) out.emplace_back(e.name, e.value);
  return out;
}

// Builds chains the way a connection does (empty chain, then add()) and ends
// streams the way it does (destroy(), releaseFilters()).
// --- response body bypass -----------------------------------------------------

TEST_F(ChainTest, ResponseBodyBypassableOnceNoFilterWantsTheBody) {
  add("a").wants_response_body = false;
  add("b").wants_response_body = false;
  auto& c = build();
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(c.responseBodyBypassable());  // the response has not left the chain
  c.responseHeaders(headers(), false);
  EXPECT_TRUE(c.responseBodyBypassable());
}

TEST_F(ChainTest, ResponseBodyNotBypassableWhenOneFilterWantsIt) {
  add("a").wants_response_body = false;
  add("b");  // the default: wants it
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  EXPECT_FALSE(c.responseBodyBypassable());
}

TEST_F(ChainTest, ResponseBodyNotBypassableWhileAFilterHoldsTheHeaders) {
  auto& a = add("a");
  a.wants_response_body = false;
  a.resp_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  EXPECT_FALSE(c.responseBodyBypassable());
  a.callbacks->continueResponse();
  EXPECT_TRUE(c.responseBodyBypassable());
}

TEST_F(ChainTest, ResponseBodyNotBypassableWhenAFilterAddedABody) {
  auto& a = add("a");
  a.wants_response_body = false;
  a.resp_headers = [&a](HeaderMap&) {
    a.callbacks->heldResponseBody() = "added";
    return HeadersStatus::kContinue;
  };
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), true);
  EXPECT_FALSE(c.responseBodyBypassable());
}

TEST_F(ChainTest, ResponseBodyNotBypassableAfterDestroy) {
  add("a").wants_response_body = false;
  auto& c = build();
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  c.destroy();
  EXPECT_FALSE(c.responseBodyBypassable());
}

class ChainReuseTest : public ChainTest {
 protected:
  FilterChain& makeChain(uint64_t limit = 1 << 20) {
    chain = std::make_unique<FilterChain>(sink, limit);
    sink.chain = chain.get();
    return *chain;
  }
  ScriptedFilter& addTo(FilterChain& c, const std::string& name, bool* deleted = nullptr) {
    auto f = std::make_unique<ScriptedFilter>(name, log);
    auto* raw = f.get();
    raw->deleted = deleted;
    c.add(std::move(f));
    return *raw;
  }
  void endStream(FilterChain& c) {
    c.destroy();
    c.releaseFilters(loop);
  }
  // One loop iteration: deferred deletions happen at its end.
  void runLoopOnce() {
    loop.stop();
    loop.run();
  }
  // A first stream through filters "a" and "b" with bodies and trailers both
  // ways, a header added by a filter and a reason phrase, then ended and reset.
  FilterChain& chainAfterAFirstStream(uint64_t next_limit = 1 << 20) {
    auto& c = makeChain();
    auto& a = addTo(c, "a", &a_deleted);
    a.req_headers = [](HeaderMap& h) {
      h.add("x-from-first-stream", "1");
      return HeadersStatus::kContinue;
    };
    a.resp_headers = [](HeaderMap& h) {
      h.setHttp1ReasonPhrase("First Reason");
      h.add("x-first-response", "1");
      return HeadersStatus::kContinue;
    };
    addTo(c, "b", &b_deleted);
    HeaderMap& req = c.requestHeaderStorage();
    req.add(":method", "POST");
    req.add(":path", "/first");
    req.add("x-first", "1");
    c.requestHeaders(false);
    c.requestData("first-body", false);
    HeaderMap t;
    t.add("x-first-trailer", "1");
    c.requestTrailers(std::move(t));
    HeaderMap& resp = c.responseHeaderStorage();
    resp.add(":status", "200");
    c.responseHeaders(false);
    c.responseData("first-response", false);
    HeaderMap rt;
    rt.add("x-first-response-trailer", "1");
    c.responseTrailers(std::move(rt));
    endStream(c);
    c.reset(next_limit);
    log.clear();
    return c;
  }

  event::Loop loop;
  bool a_deleted = false;
  bool b_deleted = false;
};

TEST_F(ChainReuseTest, ReleasingOutsideAFilterCallDeletesTheFiltersAtOnce) {
  auto& c = makeChain();
  bool deleted = false;
  addTo(c, "a", &deleted);
  c.requestHeaders(headers(), true);
  c.destroy();
  c.releaseFilters(loop);
  EXPECT_TRUE(deleted);
  EXPECT_EQ(c.size(), 0U);
}

TEST_F(ChainReuseTest, FiltersOfAnEndedStreamGotOnDestroyAndAreDeleted) {
  auto& c = makeChain();
  bool x_deleted = false;
  bool y_deleted = false;
  addTo(c, "x", &x_deleted);
  addTo(c, "y", &y_deleted);
  c.requestHeaders(headers(), true);
  log.clear();
  endStream(c);
  EXPECT_EQ(log, (Log{"x:destroy", "y:destroy"}));
  EXPECT_TRUE(x_deleted);
  EXPECT_TRUE(y_deleted);
}

TEST_F(ChainReuseTest, ResetLeavesNoFilterOfTheLastStream) {
  chainAfterAFirstStream();
  EXPECT_TRUE(a_deleted);
  EXPECT_TRUE(b_deleted);
  EXPECT_EQ(chain->size(), 0U);
}

TEST_F(ChainReuseTest, AnEndedChainIsReusable) {
  auto& c = makeChain();
  addTo(c, "a");
  EXPECT_FALSE(c.reusable());
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(c.reusable());
  endStream(c);
  EXPECT_TRUE(c.reusable());
}

TEST_F(ChainReuseTest, AResetChainIsLiveAgain) {
  auto& c = chainAfterAFirstStream();
  EXPECT_FALSE(c.destroyed());
  EXPECT_FALSE(c.reusable());
  EXPECT_EQ(c.size(), 0U);
}

TEST_F(ChainReuseTest, TheNextStreamRunsOnlyItsOwnFilters) {
  auto& c = chainAfterAFirstStream();
  addTo(c, "c");
  addTo(c, "d");
  c.requestHeaderStorage().add(":method", "GET");
  c.requestHeaders(true);
  c.responseHeaderStorage().add(":status", "204");
  c.responseHeaders(true);
  EXPECT_EQ(log, (Log{"c:reqh(end)", "d:reqh(end)", "out:reqh(end)", "d:resh(end)", "c:resh(end)",
                      "out:resh(end)"}));
}

TEST_F(ChainReuseTest, TheNextStreamsFiltersSeeItsHeadersBodiesAndTrailers) {
  auto& c = chainAfterAFirstStream();
  auto& f = addTo(c, "c");
  Pairs seen_request;
  Pairs seen_response;
  f.req_headers = [&](HeaderMap& h) {
    seen_request = pairsOf(h);
    return HeadersStatus::kContinue;
  };
  f.resp_headers = [&](HeaderMap& h) {
    seen_response = pairsOf(h);
    return HeadersStatus::kContinue;
  };
  HeaderMap& req = c.requestHeaderStorage();
  req.add(":method", "PUT");
  req.add(":path", "/second");
  c.requestHeaders(false);
  c.requestData("second-body", false);
  HeaderMap t;
  t.add("x-second-trailer", "2");
  c.requestTrailers(std::move(t));
  c.responseHeaderStorage().add(":status", "201");
  c.responseHeaders(false);
  c.responseData("second-response", true);
  EXPECT_EQ(seen_request, (Pairs{{":method", "PUT"}, {":path", "/second"}}));
  EXPECT_EQ(seen_response, (Pairs{{":status", "201"}}));
  EXPECT_EQ(log,
            (Log{"c:reqh", "out:reqh", "c:reqd[second-body]", "out:reqd[second-body]", "c:reqt", "out:reqt",
                 "c:resh", "out:resh", "c:resd[second-response](end)", "out:resd[second-response](end)"}));
  EXPECT_EQ(pairsOf(sink.request_headers), (Pairs{{":method", "PUT"}, {":path", "/second"}}));
  EXPECT_EQ(pairsOf(sink.response_headers), (Pairs{{":status", "201"}}));
  EXPECT_EQ(sink.response_headers.http1ReasonPhrase(), "");
}

TEST_F(ChainReuseTest, TheNextStreamDoesNotSeeTheLastStreamsTrailers) {
  auto& c = chainAfterAFirstStream();
  auto& f = addTo(c, "c");
  c.requestHeaders(headers(), false);
  c.requestData("x", true);
  c.responseHeaders(headers(), false);
  c.responseData("y", true);
  EXPECT_EQ(f.callbacks->requestTrailers(), nullptr);
  EXPECT_EQ(f.callbacks->responseTrailers(), nullptr);
}

TEST_F(ChainReuseTest, TheNextStreamIsNotCompleteBeforeItsBodyEnds) {
  auto& c = chainAfterAFirstStream();
  auto& f = addTo(c, "c");
  f.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  c.requestHeaders(headers(), false);
  EXPECT_FALSE(f.callbacks->requestComplete());
}

TEST_F(ChainReuseTest, NothingIsHeldWhenTheNextStreamStarts) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  c.requestHeaders(headers(), false);
  c.requestData("held-by-the-first-stream", false);
  ASSERT_GT(c.heldBytes(), 0U);
  endStream(c);
  c.reset(1 << 20);
  EXPECT_EQ(c.heldBytes(), 0U);
  auto& f = addTo(c, "c");
  EXPECT_EQ(f.callbacks->heldRequestBody(), "");
  EXPECT_EQ(f.callbacks->heldResponseBody(), "");
  log.clear();
  c.requestHeaders(headers(), false);
  c.requestData("new", true);
  EXPECT_EQ(log, (Log{"c:reqh", "out:reqh", "c:reqd[new](end)", "out:reqd[new](end)"}));
  EXPECT_EQ(c.heldBytes(), 0U);
}

TEST_F(ChainReuseTest, HeadersOutFlagsAreClearedByReset) {
  auto& c = chainAfterAFirstStream();
  EXPECT_FALSE(c.requestHeadersOut());
  EXPECT_FALSE(c.responseHeadersOut());
  auto& f = addTo(c, "c");
  EXPECT_EQ(f.callbacks->requestHeaders(), nullptr);
}

TEST_F(ChainReuseTest, HeadersOutFlagsAreSetAgainByTheNextStream) {
  auto& c = chainAfterAFirstStream();
  addTo(c, "c");
  c.requestHeaders(headers(), true);
  EXPECT_TRUE(c.requestHeadersOut());
  EXPECT_FALSE(c.responseHeadersOut());
  c.responseHeaders(headers(), true);
  EXPECT_TRUE(c.responseHeadersOut());
}

TEST_F(ChainReuseTest, ResponseEnteredIsFalseAfterReset) {
  auto& c = chainAfterAFirstStream();
  EXPECT_FALSE(c.responseEntered());
}

TEST_F(ChainReuseTest, ResponseEnteredIsSetByResponseHeadersEvenWhenAFilterHoldsThem) {
  auto& c = chainAfterAFirstStream();
  auto& f = addTo(c, "c");
  f.resp_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(c.responseEntered());
  c.responseHeaderStorage().add(":status", "200");
  c.responseHeaders(true);
  EXPECT_TRUE(c.responseEntered());
  EXPECT_FALSE(c.responseHeadersOut());
}

TEST_F(ChainReuseTest, ResponseEnteredIsSetByTheHeaderMapOverload) {
  auto& c = makeChain();
  addTo(c, "a");
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(c.responseEntered());
  c.responseHeaders(headers(), true);
  EXPECT_TRUE(c.responseEntered());
}

TEST_F(ChainReuseTest, ResetAppliesTheNewBufferLimit) {
  auto& c = chainAfterAFirstStream(/*next_limit=*/4);
  auto& f = addTo(c, "c");
  f.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  c.requestHeaders(headers(), false);
  c.requestData("12345", false);
  EXPECT_NE(std::find(log.begin(), log.end(), "reply:413:payload too large\n:request_payload_too_large"),
            log.end());
  EXPECT_TRUE(c.destroyed());
}

TEST_F(ChainReuseTest, RequestHeaderStorageIsEmptyAfterAPreviousStreamFilledIt) {
  auto& c = chainAfterAFirstStream();
  HeaderMap& h = c.requestHeaderStorage();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.getFirst("x-first"), nullptr);
  EXPECT_EQ(h.getFirst("x-from-first-stream"), nullptr);
}

TEST_F(ChainReuseTest, RequestHeaderStorageEmptiesTheMapWithoutAReset) {
  auto& c = makeChain();
  c.requestHeaderStorage().add("x-stale", "1");
  HeaderMap& h = c.requestHeaderStorage();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.count("x-stale"), 0U);
}

TEST_F(ChainReuseTest, ResponseHeaderStorageIsEmptyAfterAPreviousStreamFilledIt) {
  auto& c = chainAfterAFirstStream();
  HeaderMap& h = c.responseHeaderStorage();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.getFirst("x-first-response"), nullptr);
  EXPECT_EQ(h.http1ReasonPhrase(), "");
}

TEST_F(ChainReuseTest, HeadersFilledIntoReusedStorageReachTheSinkExactly) {
  auto& c = chainAfterAFirstStream();
  addTo(c, "c");
  HeaderMap& h = c.requestHeaderStorage();
  h.add("host", "example");
  h.add(":method", "GET");
  c.requestHeaders(true);
  EXPECT_EQ(pairsOf(sink.request_headers), (Pairs{{":method", "GET"}, {"host", "example"}}));
}

// --- reusable(): no chain call on the stack ---------------------------------

TEST_F(ChainReuseTest, NotReusableInsideAFilterCallAfterItsLocalReply) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  bool destroyed_inside = false;
  bool reusable_inside = true;
  a.req_headers = [&](HeaderMap&) {
    a.callbacks->sendLocalReply(403, "no", HeaderMap{}, "test");
    destroyed_inside = chain->destroyed();
    reusable_inside = chain->reusable();
    return HeadersStatus::kStop;
  };
  c.requestHeaders(headers(), true);
  EXPECT_TRUE(destroyed_inside);
  EXPECT_FALSE(reusable_inside);
  EXPECT_TRUE(c.reusable());
}

TEST_F(ChainReuseTest, NotReusableInsideTheStreamsLocalReplyCallback) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.req_headers = [&a](HeaderMap&) {
    a.callbacks->sendLocalReply(403, "no", HeaderMap{}, "test");
    return HeadersStatus::kStop;
  };
  bool reusable_in_reply = true;
  sink.on_reply = [&] { reusable_in_reply = chain->reusable(); };
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(reusable_in_reply);
  EXPECT_TRUE(c.reusable());
}

TEST_F(ChainReuseTest, NotReusableInsideABufferLimitReply) {
  auto& c = makeChain(2);
  auto& a = addTo(c, "a");
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  bool replied = false;
  bool reusable_in_reply = true;
  sink.on_reply = [&] {
    replied = true;
    reusable_in_reply = chain->reusable();
  };
  c.requestHeaders(headers(), false);
  c.requestData("12345", false);
  ASSERT_TRUE(replied);
  EXPECT_FALSE(reusable_in_reply);
  EXPECT_TRUE(c.reusable());
}

TEST_F(ChainReuseTest, NotReusableWhileAContinueIsOnTheStack) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  c.requestHeaders(headers(), true);
  bool reusable_inside = true;
  sink.on_request_headers_out = [&] {
    chain->destroy();  // the stream ends right as the headers leave
    reusable_inside = chain->reusable();
  };
  a.callbacks->continueRequest();
  EXPECT_FALSE(reusable_inside);
  EXPECT_TRUE(c.reusable());
}

// A filter answers later, from its own event (a call's or a timer's
// completion), with no chain call below it: it is on the stack all the same.
TEST_F(ChainReuseTest, NotReusableInsideALocalReplyFromOutsideAChainCall) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  c.requestHeaders(headers(), true);
  bool reusable_in_reply = true;
  sink.on_reply = [&] { reusable_in_reply = chain->reusable(); };
  a.callbacks->sendLocalReply(503, "later", HeaderMap{}, "test");
  EXPECT_FALSE(reusable_in_reply);
  EXPECT_TRUE(c.reusable());
}

TEST_F(ChainReuseTest, NotReusableInsideOnDestroy) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  c.requestHeaders(headers(), true);
  bool reusable_in_on_destroy = true;
  a.on_destroy = [&] { reusable_in_on_destroy = chain->reusable(); };
  c.destroy();
  EXPECT_FALSE(reusable_in_on_destroy);
  EXPECT_TRUE(c.reusable());
}

// --- spares: the ended stream's filters, offered for the next -------------------

struct NamedFactory final : FilterFactory {
  std::string n = "f";
  const std::string& name() const override { return n; }
  std::unique_ptr<HttpFilter> create(WorkerCache&, const config::Route*) const override { return nullptr; }
};

TEST_F(ChainReuseTest, ReleasedFiltersWithAnOriginBecomeSparesTakenOnceByThatOrigin) {
  NamedFactory fa;
  NamedFactory fb;
  auto& c = makeChain();
  bool a_gone = false;
  auto a = std::make_unique<ScriptedFilter>("a", log);
  a->deleted = &a_gone;
  HttpFilter* a_raw = a.get();
  c.add(std::move(a), &fa);
  c.add(std::make_unique<ScriptedFilter>("b", log), &fb);
  c.requestHeaders(headers(), true);
  endStream(c);
  EXPECT_FALSE(a_gone);
  ASSERT_TRUE(c.hasSpares());
  c.reset(1 << 20);
  auto taken = c.takeSpare(&fa);
  EXPECT_EQ(taken.get(), a_raw);
  EXPECT_EQ(c.takeSpare(&fa), nullptr);  // once
  NamedFactory other;
  EXPECT_EQ(c.takeSpare(&other), nullptr);
  c.dropSpares();
  EXPECT_FALSE(c.hasSpares());
  EXPECT_EQ(c.takeSpare(&fb), nullptr);
}

// What made the spares (a config snapshot) lives until they go, even when
// the next stream runs on a newer one; the same owner again costs nothing.
TEST_F(ChainReuseTest, SparesKeepTheirOwnerAliveUntilTheyGo) {
  NamedFactory fa;
  auto& c = makeChain();
  auto first = std::make_shared<int>(1);
  const std::weak_ptr<int> first_alive = first;
  c.keepAlive(first);
  c.add(std::make_unique<ScriptedFilter>("a", log), &fa);
  c.requestHeaders(headers(), true);
  endStream(c);
  ASSERT_TRUE(c.hasSpares());
  c.reset(1 << 20);
  c.keepAlive(first);
  EXPECT_EQ(first.use_count(), 2);  // the caller's and the chain's
  auto second = std::make_shared<int>(2);
  c.keepAlive(second);
  first.reset();
  EXPECT_FALSE(first_alive.expired());  // the spare's factory may belong to it
  c.dropSpares();
  EXPECT_TRUE(first_alive.expired());
  EXPECT_EQ(second.use_count(), 2);
}

// A chain ended with destroy() alone keeps its filters where they are; the
// next stream may run them again after restart(), when they are exactly
// what the listener's factories make.
TEST_F(ChainReuseTest, RestartRunsTheSameFiltersAgainWithTheirCallbacksSet) {
  std::vector<std::unique_ptr<FilterFactory>> factories;
  factories.push_back(std::make_unique<NamedFactory>());
  factories.push_back(std::make_unique<NamedFactory>());
  auto& c = makeChain();
  bool a_gone = false;
  auto a = std::make_unique<ScriptedFilter>("a", log);
  a->deleted = &a_gone;
  ScriptedFilter* a_raw = a.get();
  c.add(std::move(a), factories[0].get());
  c.add(std::make_unique<ScriptedFilter>("b", log), factories[1].get());
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), true);
  c.destroy();
  ASSERT_TRUE(c.reusable());
  EXPECT_TRUE(c.madeByAll(factories));
  EXPECT_EQ(&c.filter(0), a_raw);
  a_raw->callbacks = nullptr;  // what a recycled filter may forget
  c.restart(1 << 20);
  log.clear();
  EXPECT_FALSE(c.destroyed());
  EXPECT_FALSE(c.responseEntered());
  EXPECT_EQ(c.size(), 2U);
  EXPECT_NE(a_raw->callbacks, nullptr);
  c.requestHeaderStorage().add(":method", "GET");
  c.requestHeaders(true);
  c.responseHeaderStorage().add(":status", "204");
  c.responseHeaders(true);
  EXPECT_EQ(log, (Log{"a:reqh(end)", "b:reqh(end)", "out:reqh(end)", "b:resh(end)", "a:resh(end)",
                      "out:resh(end)"}));
  EXPECT_FALSE(a_gone);
}

TEST_F(ChainReuseTest, OnlyTheSameFactoriesInTheSameOrderMayRestartAChain) {
  std::vector<std::unique_ptr<FilterFactory>> factories;
  factories.push_back(std::make_unique<NamedFactory>());
  factories.push_back(std::make_unique<NamedFactory>());
  auto& c = makeChain();
  c.add(std::make_unique<ScriptedFilter>("a", log), factories[0].get());
  c.add(std::make_unique<ScriptedFilter>("b", log), factories[1].get());
  c.requestHeaders(headers(), true);
  c.destroy();
  EXPECT_TRUE(c.madeByAll(factories));
  std::swap(factories[0], factories[1]);
  EXPECT_FALSE(c.madeByAll(factories));  // another order
  std::swap(factories[0], factories[1]);
  factories.push_back(std::make_unique<NamedFactory>());
  EXPECT_FALSE(c.madeByAll(factories));  // one more filter on this route
  factories.pop_back();
  c.releaseFilters(loop);
  EXPECT_FALSE(c.madeByAll(factories));  // released: they are spares now
}

TEST_F(ChainReuseTest, FiltersWithoutAnOriginAreNotKept) {
  auto& c = makeChain();
  bool gone = false;
  addTo(c, "a", &gone);
  c.requestHeaders(headers(), true);
  endStream(c);
  EXPECT_TRUE(gone);
  EXPECT_FALSE(c.hasSpares());
}

TEST_F(ChainReuseTest, FiltersReleasedFromInsideTheChainAreNotKept) {
  NamedFactory fa;
  auto& c = makeChain();
  bool gone = false;
  auto a = std::make_unique<ScriptedFilter>("a", log);
  a->deleted = &gone;
  a->req_headers = [&](HeaderMap&) {
    c.destroy();
    c.releaseFilters(loop);  // the stream ends while the filter runs
    return HeadersStatus::kStop;
  };
  c.add(std::move(a), &fa);
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(c.hasSpares());
  EXPECT_FALSE(gone);  // still on the stack: deleted by the loop
  runLoopOnce();
  EXPECT_TRUE(gone);
}

TEST_F(ChainReuseTest, UntakenSparesAreDeletedWithTheChain) {
  NamedFactory fa;
  bool gone = false;
  {
    auto& c = makeChain();
    auto a = std::make_unique<ScriptedFilter>("a", log);
    a->deleted = &gone;
    c.add(std::move(a), &fa);
    endStream(c);
    EXPECT_FALSE(gone);
    chain.reset();
  }
  EXPECT_TRUE(gone);
}

// --- releaseFilters() from inside a filter call -------------------------------

TEST_F(ChainReuseTest, ReleasingFromInsideAFilterCallDefersTheDeletion) {
  auto& c = makeChain();
  bool deleted = false;
  auto& a = addTo(c, "a", &deleted);
  bool deleted_inside = true;
  sink.on_reply = [&] { chain->releaseFilters(loop); };  // as a connection ends its stream
  a.req_headers = [&](HeaderMap&) {
    a.callbacks->sendLocalReply(403, "no", HeaderMap{}, "test");
    deleted_inside = deleted;
    a.log.push_back(a.name + ":still-running");  // touches the filter: ASan sees a use after free
    return HeadersStatus::kStop;
  };
  c.requestHeaders(headers(), true);
  EXPECT_FALSE(deleted_inside);
  EXPECT_FALSE(deleted);
  EXPECT_EQ(c.size(), 0U);
  EXPECT_EQ(log.back(), "a:still-running");
  runLoopOnce();
  EXPECT_TRUE(deleted);
}

TEST_F(ChainReuseTest, FiltersReleasedFromInsideAFilterCallGotOnDestroy) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  addTo(c, "b");
  sink.on_reply = [&] { chain->releaseFilters(loop); };
  a.req_headers = [&a](HeaderMap&) {
    a.callbacks->sendLocalReply(403, "no", HeaderMap{}, "test");
    return HeadersStatus::kStop;
  };
  c.requestHeaders(headers(), true);
  EXPECT_EQ(std::count(log.begin(), log.end(), "a:destroy"), 1);
  EXPECT_EQ(std::count(log.begin(), log.end(), "b:destroy"), 1);
}

TEST_F(ChainReuseTest, AChainWhoseFiltersAreDeferredRunsTheNextStreamBeforeTheyAreDeleted) {
  auto& c = makeChain();
  bool old_deleted = false;
  auto& a = addTo(c, "a", &old_deleted);
  sink.on_reply = [&] { chain->releaseFilters(loop); };
  a.req_headers = [&a](HeaderMap&) {
    a.callbacks->sendLocalReply(403, "no", HeaderMap{}, "test");
    return HeadersStatus::kStop;
  };
  c.requestHeaders(headers(), true);
  sink.on_reply = nullptr;
  ASSERT_TRUE(c.reusable());
  c.reset(1 << 20);
  bool new_deleted = false;
  addTo(c, "c", &new_deleted);
  log.clear();
  c.requestHeaders(headers(), true);
  EXPECT_EQ(log, (Log{"c:reqh(end)", "out:reqh(end)"}));
  runLoopOnce();
  EXPECT_TRUE(old_deleted);
  EXPECT_FALSE(new_deleted);
  EXPECT_EQ(c.size(), 1U);
}

// --- takeRequestData() / takeResponseData() -----------------------------------

const std::string kLongChunk1(200, 'a');  // longer than any short-string buffer
const std::string kLongChunk2(300, 'b');

TEST_F(ChainReuseTest, TakenRequestDataPassesOnAndLeavesTheBufferEmpty) {
  auto& c = makeChain();
  addTo(c, "a");
  c.requestHeaders(headers(), false);
  std::string buffer = "hello";
  c.takeRequestData(buffer, false);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(log, (Log{"a:reqh", "out:reqh", "a:reqd[hello]", "out:reqd[hello]"}));
}

TEST_F(ChainReuseTest, TakenRequestDataPassesUnchangedThroughAContinuingFilter) {
  auto& c = makeChain();
  addTo(c, "a");
  c.requestHeaders(headers(), false);
  std::string buffer;
  for (const std::string& chunk : {kLongChunk1, std::string("short"), kLongChunk2}) {
    buffer.append(chunk);  // the caller fills the buffer the chain gave back
    c.takeRequestData(buffer, false);
    EXPECT_TRUE(buffer.empty());
    EXPECT_EQ(log.back(), "out:reqd[" + chunk + "]");
  }
  buffer.append("end");
  c.takeRequestData(buffer, true);
  EXPECT_EQ(log.back(), "out:reqd[end](end)");
  EXPECT_EQ(c.heldBytes(), 0U);
}

TEST_F(ChainReuseTest, TakenRequestDataPassesUnchangedThroughABufferingFilter) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.req_data = [](std::string&, bool end) {
    return end ? DataStatus::kContinue : DataStatus::kStopAndBuffer;
  };
  addTo(c, "b");
  c.requestHeaders(headers(), false);
  std::string buffer = kLongChunk1;
  c.takeRequestData(buffer, false);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(a.callbacks->heldRequestBody(), kLongChunk1);
  buffer.append(kLongChunk2);  // refilling the buffer must not touch what is held
  EXPECT_EQ(a.callbacks->heldRequestBody(), kLongChunk1);
  c.takeRequestData(buffer, false);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(c.heldBytes(), kLongChunk1.size() + kLongChunk2.size());
  buffer.append("tail");
  c.takeRequestData(buffer, true);
  EXPECT_TRUE(buffer.empty());
  const std::string whole = kLongChunk1 + kLongChunk2 + "tail";
  EXPECT_EQ(log.back(), "out:reqd[" + whole + "](end)");
  EXPECT_EQ(log[log.size() - 2], "b:reqd[" + whole + "](end)");
  EXPECT_EQ(c.heldBytes(), 0U);
}

TEST_F(ChainReuseTest, TakenRequestDataWaitsBehindStoppedHeadersThenPassesUnchanged) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  c.requestHeaders(headers(), false);
  std::string buffer = kLongChunk1;
  c.takeRequestData(buffer, true);
  EXPECT_TRUE(buffer.empty());
  log.clear();
  a.callbacks->continueRequest();
  EXPECT_EQ(log, (Log{"out:reqh", "out:reqd[" + kLongChunk1 + "](end)"}));
}

TEST_F(ChainReuseTest, TakenResponseDataPassesOnUnchangedAndLeavesTheBufferEmpty) {
  auto& c = makeChain();
  addTo(c, "a");
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  std::string buffer = kLongChunk1;
  c.takeResponseData(buffer, false);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(log.back(), "out:resd[" + kLongChunk1 + "]");
  buffer.append(kLongChunk2);
  c.takeResponseData(buffer, true);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(log.back(), "out:resd[" + kLongChunk2 + "](end)");
}

TEST_F(ChainReuseTest, TakenResponseDataPassesUnchangedThroughABufferingFilter) {
  auto& c = makeChain();
  auto& a = addTo(c, "a");
  a.resp_data = [](std::string&, bool end) {
    return end ? DataStatus::kContinue : DataStatus::kStopAndBuffer;
  };
  c.requestHeaders(headers(), true);
  c.responseHeaders(headers(), false);
  std::string buffer = kLongChunk1;
  c.takeResponseData(buffer, false);
  buffer.append(kLongChunk2);
  c.takeResponseData(buffer, true);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(log.back(), "out:resd[" + kLongChunk1 + kLongChunk2 + "](end)");
  EXPECT_EQ(c.heldBytes(), 0U);
}

TEST_F(ChainReuseTest, RequestDataByViewStillPassesAfterTakenData) {
  auto& c = makeChain();
  addTo(c, "a");
  c.requestHeaders(headers(), false);
  std::string buffer = kLongChunk1;
  c.takeRequestData(buffer, false);
  c.requestData("viewed", false);
  c.requestData(kLongChunk2, true);
  EXPECT_EQ(log.back(), "out:reqd[" + kLongChunk2 + "](end)");
  EXPECT_EQ(log[log.size() - 3], "out:reqd[viewed]");
}

TEST_F(ChainReuseTest, TakenDataAfterTheStreamEndedIsNotPassedOn) {
  auto& c = makeChain();
  addTo(c, "a");
  c.requestHeaders(headers(), false);
  endStream(c);
  log.clear();
  std::string buffer = "late";
  c.takeRequestData(buffer, true);
  EXPECT_TRUE(log.empty());
}

TEST_F(ChainReuseTest, TakenDataOfTheNextStreamPassesUnchanged) {
  auto& c = chainAfterAFirstStream();
  addTo(c, "c");
  c.requestHeaders(headers(), false);
  std::string buffer = kLongChunk2;
  c.takeRequestData(buffer, true);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(log.back(), "out:reqd[" + kLongChunk2 + "](end)");
}

// ---- watermarks: a filter waiting for something else holds the body without a 413 --------------

TEST_F(ChainTest, WatermarkHoldsRequestBodyOverTheLimitWithoutA413) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStopAndWatermark; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndWatermark; };
  auto& c = build(4);
  c.requestHeaders(headers(), false);
  c.requestData("123", false);
  EXPECT_FALSE(c.requestOverWatermark());
  c.requestData("45", false);
  c.requestData("678", false);
  EXPECT_FALSE(c.destroyed());
  EXPECT_TRUE(c.requestOverWatermark());
  EXPECT_EQ(c.heldBytes(), 8u);
  EXPECT_EQ(std::count_if(log.begin(), log.end(), [](const std::string& e) { return e.rfind("reply:", 0) == 0; }), 0);
}

TEST_F(ChainTest, ContinuingReleasesTheWatermark) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStopAndWatermark; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndWatermark; };
  auto& c = build(4);
  c.requestHeaders(headers(), false);
  c.requestData("12345", false);
  ASSERT_TRUE(c.requestOverWatermark());
  a.req_data = nullptr;
  a.callbacks->continueRequest();
  EXPECT_FALSE(c.requestOverWatermark());
  EXPECT_EQ(c.heldBytes(), 0u);
  EXPECT_NE(std::find(log.begin(), log.end(), "out:reqd[12345]"), log.end());
}

TEST_F(ChainTest, NeedingTheWholeBodyOverTheLimitGets413) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStopAndWatermark; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndWatermark; };
  auto& c = build(4);
  c.requestHeaders(headers(), false);
  c.requestData("12345", false);
  a.callbacks->needWholeRequestBody();
  EXPECT_TRUE(c.destroyed());
  EXPECT_NE(std::find(log.begin(), log.end(), "reply:413:payload too large\n:request_payload_too_large"), log.end());
}

TEST_F(ChainTest, HeadersStoppedWithoutWatermarkStillGet413) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStop; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndWatermark; };
  auto& c = build(4);
  c.requestHeaders(headers(), false);
  c.requestData("12345", false);  // over the limit before the filter said anything about data
  EXPECT_TRUE(c.destroyed());
}

TEST_F(ChainTest, NeedingTheWholeBodyUnderTheLimitResumesReading) {
  auto& a = add("a");
  a.req_headers = [](HeaderMap&) { return HeadersStatus::kStopAndWatermark; };
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndWatermark; };
  auto& c = build(4);
  c.requestHeaders(headers(), false);
  c.requestData("12", false);
  a.callbacks->needWholeRequestBody();
  EXPECT_FALSE(c.destroyed());
  EXPECT_EQ(log.back(), "resume:req");
  // From here the limit applies again.
  a.req_data = [](std::string&, bool) { return DataStatus::kStopAndBuffer; };
  c.requestData("345", false);
  EXPECT_TRUE(c.destroyed());
}

TEST_F(ChainTest, WatermarkHoldsResponseBodyWithoutA500) {
  auto& a = add("a");
  a.resp_headers = [](HeaderMap&) { return HeadersStatus::kStopAndWatermark; };
  a.resp_data = [](std::string&, bool) { return DataStatus::kStopAndWatermark; };
  auto& c = build(4);
  c.requestHeaders(headers(), true);
  HeaderMap response;
  response.add(":status", "200");
  c.responseHeaders(std::move(response), false);
  c.responseData("123456", false);
  EXPECT_FALSE(c.destroyed());
  EXPECT_TRUE(c.responseOverWatermark());
  EXPECT_FALSE(c.requestOverWatermark());
  a.callbacks->needWholeResponseBody();
  EXPECT_TRUE(c.destroyed());
  EXPECT_NE(std::find(log.begin(), log.end(), "reply:500:response payload too large\n:response_payload_too_large"),
            log.end());
}

}  // namespace
}  // namespace pier::filters
