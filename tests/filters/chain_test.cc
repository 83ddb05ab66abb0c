#include "src/filters/chain.h"

#include <gtest/gtest.h>

#include <functional>

namespace pier::filters {
namespace {

// A filter whose every callback is a replaceable function; records what it saw.
struct ScriptedFilter : HttpFilter {
  explicit ScriptedFilter(std::string name, std::vector<std::string>& log) : name(std::move(name)), log(log) {}
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
  void onDestroy() override { log.push_back(name + ":destroy"); }

  std::string name;
  std::vector<std::string>& log;
  FilterCallbacks* callbacks = nullptr;
  std::function<HeadersStatus(HeaderMap&)> req_headers;
  std::function<DataStatus(std::string&, bool)> req_data;
  std::function<TrailersStatus()> req_trailers;
  std::function<HeadersStatus(HeaderMap&)> resp_headers;
  std::function<DataStatus(std::string&, bool)> resp_data;
};

struct Sink : StreamCallbacks {
  explicit Sink(std::vector<std::string>& log) : log(log) {}
  void onRequestHeadersOut(HeaderMap& h, bool end) override {
    log.push_back(std::string("out:reqh") + (end ? "(end)" : ""));
    request_headers = h;
  }
  void onRequestDataOut(std::string_view d, bool end) override {
    log.push_back("out:reqd[" + std::string(d) + "]" + (end ? "(end)" : ""));
  }
  void onRequestTrailersOut(HeaderMap&) override { log.push_back("out:reqt"); }
  void onResponseHeadersOut(HeaderMap&, bool end) override {
    log.push_back(std::string("out:resh") + (end ? "(end)" : ""));
    started = true;
  }
  void onResponseDataOut(std::string_view d, bool end) override {
    log.push_back("out:resd[" + std::string(d) + "]" + (end ? "(end)" : ""));
  }
  void onResponseTrailersOut(HeaderMap&) override { log.push_back("out:rest"); }
  void sendLocalReply(int status, std::string_view body, const HeaderMap&, std::string_view details) override {
    log.push_back("reply:" + std::to_string(status) + ":" + std::string(body) + ":" + std::string(details));
    if (chain) chain->destroy();
  }
  void resetStream(std::string_view why) override { log.push_back("reset:" + std::string(why)); }
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
  bool started = false;
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

}  // namespace
}  // namespace pier::filters
