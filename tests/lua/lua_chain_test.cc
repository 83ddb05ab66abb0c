// The Lua filter inside a real FilterChain: what leaves the chain when
// scripts buffer, stream, wait for calls and answer locally.
#include <gtest/gtest.h>

#include "src/filters/chain.h"
#include "tests/lua/lua_filter_test_util.h"

namespace pier::lua {
namespace {

using testing::CallState;
using testing::FakeCallHandle;
using testing::requestHeaders;
using testing::responseHeaders;

struct Sink final : filters::StreamCallbacks {
  void onRequestHeadersOut(filters::HeaderMap& h, bool end) override {
    log.push_back(std::string("reqh") + (end ? "(end)" : ""));
    request_headers = h;
  }
  void onRequestDataOut(std::string_view d, bool end) override {
    log.push_back("reqd[" + std::string(d) + "]" + (end ? "(end)" : ""));
  }
  void onRequestTrailersOut(filters::HeaderMap& t) override {
    log.push_back("reqt");
    request_trailers = t;
  }
  void onResponseHeadersOut(filters::HeaderMap& h, bool end) override {
    log.push_back(std::string("resh") + (end ? "(end)" : ""));
    response_headers = h;
  }
  void onResponseDataOut(std::string_view d, bool end) override {
    log.push_back("resd[" + std::string(d) + "]" + (end ? "(end)" : ""));
  }
  void onResponseTrailersOut(filters::HeaderMap&) override { log.push_back("rest"); }
  void sendLocalReply(int status, std::string_view body, const filters::HeaderMap&,
                      std::string_view) override {
    log.push_back("reply:" + std::to_string(status) + ":" + std::string(body));
  }
  void resetStream(std::string_view why) override { log.push_back("reset:" + std::string(why)); }
  bool responseStarted() const override { return false; }
  filters::StreamInfo& streamInfo() override { return info; }
  const config::Route* route() const override { return nullptr; }
  void clearRouteCache() override {}
  Result<std::unique_ptr<filters::HttpCallHandle>> httpCall(filters::HttpCallRequest request,
                                                            filters::HttpCallDone done) override {
    auto state = std::make_shared<CallState>();
    state->request = std::move(request);
    state->done = std::move(done);
    calls.push_back(state);
    return std::unique_ptr<filters::HttpCallHandle>(new FakeCallHandle(state));
  }
  void answer(size_t i, int status) {
    CallState& c = *calls.at(i);
    if (c.cancelled) return;
    c.answered = true;
    filters::HttpCallResponse r;
    r.headers.add(":status", std::to_string(status));
    filters::HttpCallDone done = c.done;
    done(std::move(r));
  }

  std::vector<std::string> log;
  filters::HeaderMap request_headers;
  filters::HeaderMap request_trailers;
  filters::HeaderMap response_headers;
  filters::StreamInfo info;
  std::vector<std::shared_ptr<CallState>> calls;
};

class LuaChainTest : public ::testing::Test {
 protected:
  void build(const std::string& code, uint64_t limit = 1 << 20) {
    auto factory = LuaFilterFactory::create(testing::luaFilterConfig(code), listener_);
    ASSERT_TRUE(factory.ok()) << factory.error();
    factory_ = std::move(factory.value());
    std::vector<std::unique_ptr<filters::HttpFilter>> filters;
    filters.push_back(factory_->create(cache_, nullptr));
    ASSERT_NE(filters.back(), nullptr);
    chain_ = std::make_unique<filters::FilterChain>(std::move(filters), sink_, limit);
  }
  std::string log() const {
    std::string out;
    for (const auto& l : sink_.log) out += l + " ";
    return out;
  }

  config::Listener listener_;
  filters::WorkerCache cache_;
  std::unique_ptr<LuaFilterFactory> factory_;
  Sink sink_;
  std::unique_ptr<filters::FilterChain> chain_;
};

TEST_F(LuaChainTest, BodyIsBufferedThenPassedWithEditedHeaders) {
  build(R"(
    function envoy_on_request(h)
      local b = h:body()
      b:setBytes(b:getBytes(0, b:length()) .. '!')
      h:headers():add('x-seen', 'yes')
    end)");
  chain_->requestHeaders(requestHeaders({{"content-length", "4"}}), false);
  chain_->requestData("ab", false);
  chain_->requestData("cd", false);
  EXPECT_EQ(log(), "");
  chain_->requestData("", true);
  EXPECT_EQ(log(), "reqh reqd[abcd!](end) ");
  EXPECT_EQ(sink_.request_headers.get("content-length"), "5");
  EXPECT_EQ(sink_.request_headers.get("x-seen"), "yes");
}

TEST_F(LuaChainTest, ChunksStreamThroughRewritten) {
  build(R"(
    function envoy_on_request(h)
      for c in h:bodyChunks() do c:setBytes(string.upper(c:getBytes(0, c:length()))) end
    end)");
  chain_->requestHeaders(requestHeaders(), false);
  EXPECT_EQ(log(), "reqh ");
  chain_->requestData("ab", false);
  chain_->requestData("cd", true);
  EXPECT_EQ(log(), "reqh reqd[AB] reqd[CD](end) ");
}

TEST_F(LuaChainTest, TrailersAreEditedBeforeLeaving) {
  build(R"(
    function envoy_on_request(h)
      h:trailers():add('x-trailer-seen', '1')
    end)");
  chain_->requestHeaders(requestHeaders(), false);
  chain_->requestData("abc", false);
  filters::HeaderMap trailers;
  trailers.add("x-sum", "9");
  chain_->requestTrailers(std::move(trailers));
  EXPECT_EQ(log(), "reqh reqd[abc] reqt ");
  EXPECT_EQ(sink_.request_trailers.get("x-trailer-seen"), "1");
}

TEST_F(LuaChainTest, CallHoldsRequestAndItsBodyUntilAnswered) {
  build(R"(
    function envoy_on_request(h)
      local r = h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:headers():add('x-auth', r[':status'])
    end)");
  chain_->requestHeaders(requestHeaders(), false);
  chain_->requestData("body", true);
  EXPECT_EQ(log(), "");
  sink_.answer(0, 200);
  EXPECT_EQ(log(), "reqh reqd[body](end) ");
  EXPECT_EQ(sink_.request_headers.get("x-auth"), "200");
}

TEST_F(LuaChainTest, CallThenBodyThenContinue) {
  build(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:headers():add('x-len', tostring(h:body():length()))
    end)");
  chain_->requestHeaders(requestHeaders(), false);
  chain_->requestData("ab", false);
  sink_.answer(0, 200);
  EXPECT_EQ(log(), "");
  chain_->requestData("cd", true);
  EXPECT_EQ(log(), "reqh reqd[abcd](end) ");
  EXPECT_EQ(sink_.request_headers.get("x-len"), "4");
}

TEST_F(LuaChainTest, RespondEndsTheStream) {
  build(R"(
    function envoy_on_request(h)
      h:respond({[':status'] = '401'}, 'no')
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  EXPECT_EQ(log(), "reply:401:no ");
  EXPECT_TRUE(chain_->destroyed());
}

TEST_F(LuaChainTest, RespondAfterCallEndsTheStream) {
  build(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:respond({[':status'] = '403'}, 'denied')
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  sink_.answer(0, 200);
  EXPECT_EQ(log(), "reply:403:denied ");
  EXPECT_TRUE(chain_->destroyed());
}

TEST_F(LuaChainTest, BodyOverBufferLimitIs413) {
  build("function envoy_on_request(h) h:body() end", 4);
  chain_->requestHeaders(requestHeaders(), false);
  chain_->requestData("12345", false);
  EXPECT_EQ(log(), "reply:413:payload too large\n ");
}

TEST_F(LuaChainTest, ResponseBodyRewritten) {
  build(R"(
    function envoy_on_response(h)
      local b = h:body()
      b:setBytes('<' .. b:getBytes(0, b:length()) .. '>')
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  chain_->responseHeaders(responseHeaders({{"content-length", "2"}}), false);
  chain_->responseData("hi", true);
  EXPECT_EQ(log(), "reqh(end) resh resd[<hi>](end) ");
}

TEST_F(LuaChainTest, AlwaysWrappedBodyGivesBodylessRequestABody) {
  build("function envoy_on_request(h) h:body(true):setBytes('made up') end");
  chain_->requestHeaders(requestHeaders(), true);
  EXPECT_EQ(log(), "reqh reqd[made up](end) ");
  EXPECT_EQ(sink_.request_headers.get("content-length"), "7");
}

TEST_F(LuaChainTest, AlwaysWrappedBodyCannotGiveAResponseToHeadABody) {
  build("function envoy_on_response(h) h:body(true):setBytes('abc') end");
  auto request = requestHeaders();
  request.replace(":method", "HEAD");
  chain_->requestHeaders(std::move(request), true);
  chain_->responseHeaders(responseHeaders({{"content-length", "10"}}), true);
  EXPECT_EQ(log(), "reqh(end) resh(end) ");
  EXPECT_EQ(sink_.response_headers.get("content-length"), "10");
}

TEST_F(LuaChainTest, AlwaysWrappedBodyCannotGiveA304ABody) {
  build("function envoy_on_response(h) h:body(true):setBytes('abc') end");
  chain_->requestHeaders(requestHeaders(), true);
  auto response = responseHeaders();
  response.replace(":status", "304");
  chain_->responseHeaders(std::move(response), true);
  EXPECT_EQ(log(), "reqh(end) resh(end) ");
}

TEST_F(LuaChainTest, AlwaysWrappedBodyGivesBodylessResponseABody) {
  build("function envoy_on_response(h) h:body(true):setBytes('abc') end");
  chain_->requestHeaders(requestHeaders(), true);
  chain_->responseHeaders(responseHeaders(), true);
  EXPECT_EQ(log(), "reqh(end) resh resd[abc](end) ");
  EXPECT_EQ(sink_.response_headers.get("content-length"), "3");
}

TEST_F(LuaChainTest, AlwaysWrappedBodyAfterCallGivesBodylessRequestABody) {
  build(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:body(true):setBytes('made up')
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  EXPECT_EQ(log(), "");
  sink_.answer(0, 200);
  EXPECT_EQ(log(), "reqh reqd[made up](end) ");
  EXPECT_EQ(sink_.request_headers.get("content-length"), "7");
}

TEST_F(LuaChainTest, BodyChunksSendTheHeadersWithoutContentLength) {
  build("function envoy_on_response(h) for c in h:bodyChunks() do c:setBytes('++') end end");
  chain_->requestHeaders(requestHeaders(), true);
  chain_->responseHeaders(responseHeaders({{"content-length", "3"}}), false);
  chain_->responseData("abc", true);
  EXPECT_EQ(log(), "reqh(end) resh resd[++](end) ");
  EXPECT_EQ(sink_.response_headers.get("content-length"), std::nullopt);
}

TEST_F(LuaChainTest, LastChunkRewrittenAfterTheLoopReachesTheClient) {
  build(R"(
    function envoy_on_response(h)
      local last
      for chunk in h:bodyChunks() do
        chunk:setBytes('')
        last = chunk
      end
      last:setBytes('<replaced>')
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  chain_->responseHeaders(responseHeaders(), false);
  chain_->responseData("abc", false);
  chain_->responseData("", true);
  EXPECT_EQ(log(), "reqh(end) resh resd[] resd[<replaced>](end) ");
}

TEST_F(LuaChainTest, LastChunkIsHeldWhileTheScriptWaitsForACallAfterTheLoop) {
  build(R"(
    function envoy_on_response(h)
      local last
      for chunk in h:bodyChunks() do
        chunk:setBytes('')
        last = chunk
      end
      local r = h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      last:setBytes('<' .. r[':status'] .. '>')
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  chain_->responseHeaders(responseHeaders(), false);
  chain_->responseData("abc", false);
  chain_->responseData("def", true);
  EXPECT_EQ(log(), "reqh(end) resh resd[] ");
  sink_.answer(0, 200);
  EXPECT_EQ(log(), "reqh(end) resh resd[] resd[<200>](end) ");
}

TEST_F(LuaChainTest, DestroyingChainDuringCallCancelsIt) {
  build(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
    end)");
  chain_->requestHeaders(requestHeaders(), true);
  chain_->destroy();
  EXPECT_TRUE(sink_.calls[0]->cancelled);
  chain_.reset();
}

}  // namespace
}  // namespace pier::lua
