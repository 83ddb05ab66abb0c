// The Lua filter's stream behaviour: when scripts run, what the filter
// returns while they wait, how errors and local replies end them, and how the
// factory picks and shares code.
#include "src/lua/lua_filter.h"

#include <gtest/gtest.h>

#include "src/stats/metrics.h"
#include "tests/lua/lua_filter_test_util.h"

namespace pier::lua {
namespace {

using filters::DataStatus;
using filters::HeadersStatus;
using filters::TrailersStatus;
using testing::Harness;
using testing::requestHeaders;
using testing::responseHeaders;

// --- factory: config checks -------------------------------------------------

TEST(LuaFilterFactoryTest, SyntaxErrorNamesOriginChunkAndLine) {
  Harness h("function envoy_on_request(h)\n  local x = = 1\nend\n");
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_EQ(
      h.error().rfind("test.yaml:4:7: listeners[0].filters[0].lua.default_source_code: test.lua:2: ", 0), 0u)
      << h.error();
  EXPECT_NE(h.error().find("unexpected symbol"), std::string::npos) << h.error();
}

TEST(LuaFilterFactoryTest, LoadTimeRuntimeErrorIsAConfigError) {
  Harness h("local x = nil\nx.y = 1\n");
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_EQ(
      h.error().rfind("test.yaml:4:7: listeners[0].filters[0].lua.default_source_code: test.lua:2: ", 0), 0u)
      << h.error();
  EXPECT_EQ(h.error().find("stack traceback"), std::string::npos) << h.error();
}

TEST(LuaFilterFactoryTest, ChecksEverySourceCodesEntry) {
  Harness h("function envoy_on_request(h) end");
  h.config().lua.source_codes["bad.lua"] = testing::inlineSource(
      "function envoy_on_request(h) if end", "bad.lua", "test.yaml:9:9: source_codes.bad.lua");
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_EQ(h.error().rfind("test.yaml:9:9: source_codes.bad.lua: bad.lua:1: ", 0), 0u) << h.error();
}

TEST(LuaFilterFactoryTest, ChecksInlineRouteOverridesOfThisFilter) {
  Harness h("function envoy_on_request(h) end");
  config::VirtualHost vh;
  config::Route route;
  config::RouteFilterOverride o;
  o.source_code =
      testing::inlineSource("function envoy_on_request(h) (", "route.lua", "test.yaml:20:3: routes[0]");
  route.filters["lua"] = o;
  route.filters["other"] =
      o;  // a different filter's override is not this factory's business... but same code
  vh.routes.push_back(route);
  h.listener().virtual_hosts.push_back(vh);
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_EQ(h.error().rfind("test.yaml:20:3: routes[0]: route.lua:1: ", 0), 0u) << h.error();
}

TEST(LuaFilterFactoryTest, IgnoresOverridesOfOtherFilters) {
  Harness h("function envoy_on_request(h) end");
  config::VirtualHost vh;
  config::Route route;
  config::RouteFilterOverride o;
  o.source_code = testing::inlineSource("this is not lua", "route.lua", "test.yaml:20:3: routes[0]");
  route.filters["other"] = o;
  vh.routes.push_back(route);
  h.listener().virtual_hosts.push_back(vh);
  EXPECT_NE(h.make(), nullptr) << h.error();
}

TEST(LuaFilterFactoryTest, RejectsRouteNameMissingFromSourceCodes) {
  Harness h("function envoy_on_request(h) end");
  config::VirtualHost vh;
  config::Route route;
  config::RouteFilterOverride o;
  o.name = "missing.lua";
  o.origin = "test.yaml:30:5: routes[1].filters.lua";
  route.filters["lua"] = o;
  vh.routes.push_back(route);
  h.listener().virtual_hosts.push_back(vh);
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_EQ(
      h.error(),
      "test.yaml:30:5: routes[1].filters.lua: filter 'lua' has no source_codes entry named 'missing.lua'");
}

TEST(LuaFilterFactoryTest, SandboxAppliesAtLoadCheck) {
  Harness h("local io_open = io.open\nfunction envoy_on_request(h) end");
  h.config().lua.sandbox = true;
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_NE(h.error().find("test.lua:1:"), std::string::npos) << h.error();
}

// --- factory: which code runs ------------------------------------------------

TEST(LuaFilterFactoryTest, RouteDisabledGivesNoFilter) {
  Harness h("function envoy_on_request(h) end");
  config::Route route;
  route.filters["lua"].disabled = true;
  ASSERT_NE(h.make(), nullptr) << h.error();
  EXPECT_EQ(h.make(&route), nullptr);
}

TEST(LuaFilterFactoryTest, RouteNameRunsThatSourceCode) {
  Harness h("function envoy_on_request(h) h:headers():add('x-code', 'default') end");
  h.config().lua.source_codes["other.lua"] = testing::inlineSource(
      "function envoy_on_request(h) h:headers():add('x-code', 'other') end", "other.lua");
  config::Route route;
  route.filters["lua"].name = "other.lua";
  ASSERT_NE(h.make(&route), nullptr) << h.error();
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("x-code"), "other");
}

TEST(LuaFilterFactoryTest, RouteInlineSourceCodeRuns) {
  Harness h("function envoy_on_request(h) h:headers():add('x-code', 'default') end");
  config::Route route;
  route.filters["lua"].source_code = testing::inlineSource(
      "function envoy_on_request(h) h:headers():add('x-code', 'inline') end", "route.lua");
  ASSERT_NE(h.make(&route), nullptr) << h.error();
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(headers.get("x-code"), "inline");
}

TEST(LuaFilterFactoryTest, RouteWithoutOverrideRunsDefault) {
  Harness h("function envoy_on_request(h) h:headers():add('x-code', 'default') end");
  config::Route route;
  ASSERT_NE(h.make(&route), nullptr) << h.error();
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(headers.get("x-code"), "default");
}

TEST(LuaFilterFactoryTest, NoDefaultAndNoOverrideGivesNoFilter) {
  config::HttpFilter f = testing::luaFilterConfig("");
  f.lua.default_source_code.reset();
  f.lua.source_codes["a.lua"] = testing::inlineSource("function envoy_on_request(h) end", "a.lua");
  Harness h(f);
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_TRUE(h.error().empty()) << h.error();
}

TEST(LuaFilterFactoryTest, ScriptWithoutHooksGivesNoFilter) {
  Harness h("local x = 1");
  EXPECT_EQ(h.make(), nullptr);
  EXPECT_TRUE(h.error().empty()) << h.error();
}

TEST(LuaFilterFactoryTest, SameCodeSharesOneStatePerWorker) {
  Harness h("function envoy_on_request(h) counter = (counter or 0) + 1 end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  ASSERT_NE(h.make(), nullptr);
  auto headers2 = requestHeaders();
  h.filter().onRequestHeaders(headers2, true);
  EXPECT_EQ(h.cache().size(), 1u);
  EXPECT_EQ(h.global("counter"), "2");
}

TEST(LuaFilterFactoryTest, DifferentCodeGetsItsOwnState) {
  Harness h("function envoy_on_request(h) counter = (counter or 0) + 1 end");
  const std::string other = "function envoy_on_request(h) counter = (counter or 0) + 10 end";
  config::Route route;
  route.filters["lua"].source_code = testing::inlineSource(other, "route.lua");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  ASSERT_NE(h.make(&route), nullptr);
  auto headers2 = requestHeaders();
  h.filter().onRequestHeaders(headers2, true);
  EXPECT_EQ(h.cache().size(), 2u);
  EXPECT_EQ(h.global("counter"), "1");
  EXPECT_EQ(h.global("counter", LuaFilterFactory::cacheKey(other, false)), "10");
}

TEST(LuaFilterFactoryTest, SandboxedAndUnsandboxedCodeDoNotShare) {
  EXPECT_NE(LuaFilterFactory::cacheKey("x", true), LuaFilterFactory::cacheKey("x", false));
}

TEST(LuaFilterFactoryTest, TopLevelRunsOncePerState) {
  Harness h("loads = (loads or 0) + 1\nfunction envoy_on_request(h) end");
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(h.make(), nullptr);
    auto headers = requestHeaders();
    h.filter().onRequestHeaders(headers, true);
  }
  EXPECT_EQ(h.global("loads"), "1");
}

// --- request headers path ------------------------------------------------------

TEST(LuaFilterTest, ScriptThatFinishesContinuesWithEdits) {
  Harness h("function envoy_on_request(h) h:headers():add('foo', 'bar') end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("foo"), "bar");
}

TEST(LuaFilterTest, OnlyResponseHookLeavesRequestAlone) {
  Harness h("function envoy_on_response(h) h:headers():add('x-resp', '1') end");
  ASSERT_NE(h.make(), nullptr);
  auto req = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(req, false), HeadersStatus::kContinue);
  std::string data = "body";
  EXPECT_EQ(h.filter().onRequestData(data, true), DataStatus::kContinue);
  auto resp = responseHeaders();
  EXPECT_EQ(h.filter().onResponseHeaders(resp, true), HeadersStatus::kContinue);
  EXPECT_EQ(resp.get("x-resp"), "1");
}

TEST(LuaFilterTest, ResponseHookEditsResponseHeaders) {
  Harness h(R"(
    function envoy_on_response(h)
      h:headers():replace(':status', '201')
      h:headers():add('x-served-by', 'pier')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders();
  EXPECT_EQ(h.filter().onResponseHeaders(resp, true), HeadersStatus::kContinue);
  EXPECT_EQ(resp.get(":status"), "201");
  EXPECT_EQ(resp.get("x-served-by"), "pier");
}

// Each hook is called with the stream handle as its only argument, and a
// thread runs the right hook for its direction every time (its run closures,
// LuaScript::Thread), also when the pool hands the thread to the next stream.
TEST(LuaFilterTest, HooksGetTheHandleAsTheirOnlyArgument) {
  Harness h(R"(
    calls = ''
    function envoy_on_request(h, ...)
      calls = calls .. 'request:' .. type(h) .. ':' .. select('#', ...) .. ' '
    end
    function envoy_on_response(h, ...)
      calls = calls .. 'response:' .. type(h) .. ':' .. select('#', ...) .. ' '
    end)");
  for (int stream = 0; stream < 3; ++stream) {
    ASSERT_NE(h.make(), nullptr);
    auto req = requestHeaders();
    EXPECT_EQ(h.filter().onRequestHeaders(req, true), HeadersStatus::kContinue);
    auto resp = responseHeaders();
    EXPECT_EQ(h.filter().onResponseHeaders(resp, true), HeadersStatus::kContinue);
    h.destroyFilter();
  }
  EXPECT_EQ(h.global("calls"),
            "request:userdata:0 response:userdata:0 request:userdata:0 response:userdata:0 "
            "request:userdata:0 response:userdata:0 ");
}

TEST(LuaFilterTest, CountsExecutionsPerHookRun) {
  Harness h("function envoy_on_request(h) end function envoy_on_response(h) end");
  h.listener().name = "exec-count";
  ASSERT_NE(h.make(), nullptr);
  const stats::Labels labels = {{"listener", "exec-count"}, {"filter", "lua"}};
  const int64_t before = stats::Store::instance().value("pier_lua_executions_total", labels);
  auto req = requestHeaders();
  h.filter().onRequestHeaders(req, true);
  auto resp = responseHeaders();
  h.filter().onResponseHeaders(resp, true);
  EXPECT_EQ(stats::Store::instance().value("pier_lua_executions_total", labels) - before, 2);
}

// --- body() --------------------------------------------------------------------

constexpr const char* kBodyLength = R"(
  function envoy_on_request(h)
    local body = h:body()
    h:headers():add('x-body-length', tostring(body:length()))
    h:headers():add('x-body', body:getBytes(0, body:length()))
  end)";

TEST(LuaFilterTest, BodyWaitsForEndOfStreamAcrossChunks) {
  Harness h(kBodyLength);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStop);
  h.cb.held_request = "hello ";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, false), DataStatus::kStopAndBuffer);
  h.cb.held_request += "big ";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, false), DataStatus::kStopAndBuffer);
  h.cb.held_request += "world";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kContinue);
  EXPECT_EQ(headers.get("x-body-length"), "15");
  EXPECT_EQ(headers.get("x-body"), "hello big world");
  EXPECT_EQ(h.cb.continued_request, 0);  // returning kContinue is the continue
}

TEST(LuaFilterTest, BodyAlreadyCompleteReturnsAtOnce) {
  // The body arrived while the script waited for a call: body() does not wait.
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='auth'}, nil, 1000)
      h:headers():add('x-body', h:body():getBytes(0, 4))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStopAndWatermark);
  h.cb.held_request = "abcd";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kStopAndWatermark);
  h.cb.request_complete = true;
  h.cb.answer(0, 200, "ok");
  EXPECT_EQ(headers.get("x-body"), "abcd");
  EXPECT_EQ(h.cb.continued_request, 1);
}

TEST(LuaFilterTest, BodyOfHeadersOnlyRequestIsNil) {
  Harness h(R"(
    function envoy_on_request(h)
      h:headers():add('x-nil', tostring(h:body() == nil))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("x-nil"), "true");
}

TEST(LuaFilterTest, BodyAlwaysWrapGivesEmptyBuffer) {
  Harness h(R"(
    function envoy_on_request(h)
      h:headers():add('x-len', tostring(h:body(true):length()))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("x-len"), "0");
  EXPECT_EQ(headers.get("content-length"), std::nullopt);
  EXPECT_EQ(h.cb.held_request, "");
}

// Envoy's always_wrap buffer is the message's body: setting bytes on it gives
// a bodyless request a body (the chain sends what the filter holds).
TEST(LuaFilterTest, BodyAlwaysWrapSetBytesGivesBodylessRequestABody) {
  Harness h(R"(
    function envoy_on_request(h)
      n = h:body(true):setBytes('made up')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders({{"content-length", "0"}});
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(h.global("n"), "7");
  EXPECT_EQ(h.cb.held_request, "made up");
  EXPECT_EQ(headers.count("content-length"), 1u);
  EXPECT_EQ(headers.get("content-length"), "7");
}

TEST(LuaFilterTest, BodyAlwaysWrapSetBytesAfterACallGivesBodylessRequestABody) {
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:body(true):setBytes('after call')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(h.cb.continued_request, 1);
  EXPECT_EQ(h.cb.held_request, "after call");
  EXPECT_EQ(headers.get("content-length"), "10");
}

TEST(LuaFilterTest, SetBytesRewritesHeldBodyAndContentLength) {
  Harness h(R"(
    function envoy_on_request(h)
      local n = h:body():setBytes('replaced body!')
      h:headers():add('x-n', tostring(n))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders({{"content-length", "3"}});
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStop);
  h.cb.held_request = "abc";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kContinue);
  EXPECT_EQ(h.cb.held_request, "replaced body!");
  EXPECT_EQ(headers.get("content-length"), "14");
  EXPECT_EQ(headers.get("x-n"), "14");
}

TEST(LuaFilterTest, BodyEndedByTrailersIsTheHeldBody) {
  Harness h(kBodyLength);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  h.cb.held_request = "data";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, false), DataStatus::kStopAndBuffer);
  filters::HeaderMap trailers;
  trailers.add("x-checksum", "1");
  EXPECT_EQ(h.filter().onRequestTrailers(trailers), TrailersStatus::kContinue);
  EXPECT_EQ(headers.get("x-body"), "data");
}

TEST(LuaFilterTest, ResponseBodyIsBufferedLikeRequestBody) {
  Harness h(R"(
    function envoy_on_response(h)
      local b = h:body()
      b:setBytes(string.upper(b:getBytes(0, b:length())))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders({{"content-length", "5"}});
  EXPECT_EQ(h.filter().onResponseHeaders(resp, false), HeadersStatus::kStop);
  h.cb.held_response = "he";
  EXPECT_EQ(h.filter().onResponseData(h.cb.held_response, false), DataStatus::kStopAndBuffer);
  h.cb.held_response += "llo";
  EXPECT_EQ(h.filter().onResponseData(h.cb.held_response, true), DataStatus::kContinue);
  EXPECT_EQ(h.cb.held_response, "HELLO");
  EXPECT_EQ(resp.get("content-length"), "5");
}

// --- bodyChunks() --------------------------------------------------------------

constexpr const char* kChunks = R"(
  function envoy_on_request(h)
    local n = 0
    for chunk in h:bodyChunks() do
      n = n + 1
      seen = (seen or '') .. '[' .. chunk:getBytes(0, chunk:length()) .. ']'
      chunk:setBytes(string.upper(chunk:getBytes(0, chunk:length())))
    end
    chunks = n
  end)";

TEST(LuaFilterTest, BodyChunksSeesEachChunkAndRewritesIt) {
  Harness h(kChunks);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kContinue);
  std::string a = "ab";
  EXPECT_EQ(h.filter().onRequestData(a, false), DataStatus::kContinue);
  EXPECT_EQ(a, "AB");
  std::string b = "cd";
  EXPECT_EQ(h.filter().onRequestData(b, true), DataStatus::kContinue);
  EXPECT_EQ(b, "CD");
  EXPECT_EQ(h.global("seen"), "[ab][cd]");
  EXPECT_EQ(h.global("chunks"), "2");
}

// As in Envoy, every piece of data is a chunk, the empty one that ends the body too.
TEST(LuaFilterTest, BodyChunksEndWithEmptyEndOfStream) {
  Harness h(kChunks);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  std::string a = "x";
  h.filter().onRequestData(a, false);
  std::string end;
  EXPECT_EQ(h.filter().onRequestData(end, true), DataStatus::kContinue);
  EXPECT_EQ(h.global("chunks"), "2");
  EXPECT_EQ(h.global("seen"), "[x][]");
}

// Envoy's "rewrite the body with bodyChunks" example: the last chunk stays
// valid after the loop and rewriting it changes what goes out last.
constexpr const char* kRewriteLast = R"(
  function envoy_on_response(h)
    local last
    for chunk in h:bodyChunks() do
      chunk:setBytes('')
      last = chunk
    end
    last:setBytes('<replaced>')
  end)";

TEST(LuaFilterTest, LastChunkIsRewritableAfterTheLoopWhenItEndsTheBody) {
  Harness h(kRewriteLast);
  ASSERT_NE(h.make(), nullptr);
  auto headers = responseHeaders();
  EXPECT_EQ(h.filter().onResponseHeaders(headers, false), HeadersStatus::kContinue);
  std::string a = "abc";
  EXPECT_EQ(h.filter().onResponseData(a, false), DataStatus::kContinue);
  EXPECT_EQ(a, "");
  std::string b = "def";
  EXPECT_EQ(h.filter().onResponseData(b, true), DataStatus::kContinue);
  EXPECT_EQ(b, "<replaced>");
}

TEST(LuaFilterTest, LastChunkIsRewritableAfterTheLoopWhenEmpty) {
  Harness h(kRewriteLast);
  ASSERT_NE(h.make(), nullptr);
  auto headers = responseHeaders();
  h.filter().onResponseHeaders(headers, false);
  std::string a = "abc";
  h.filter().onResponseData(a, false);
  std::string end;
  EXPECT_EQ(h.filter().onResponseData(end, true), DataStatus::kContinue);
  EXPECT_EQ(a, "");
  EXPECT_EQ(end, "<replaced>");
}

TEST(LuaFilterTest, ChunkBeforeTheLastDiesWhenTheNextIsAskedFor) {
  Harness h(R"(
    function envoy_on_request(h)
      local first
      for chunk in h:bodyChunks() do
        if first == nil then
          first = chunk
        else
          ok, err = pcall(function() return first:length() end)
        end
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  std::string a = "x";
  h.filter().onRequestData(a, false);
  std::string b = "y";
  h.filter().onRequestData(b, true);
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find("no longer available"), std::string::npos) << h.global("err");
}

// Requests keep their length, as in Envoy: upstreams may refuse chunked ones.
TEST(LuaFilterTest, BodyChunksKeepsContentLengthOfRequests) {
  Harness h(kChunks);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders({{"content-length", "2"}});
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("content-length"), "2");
}

TEST(LuaFilterTest, BodyChunksRemovesContentLengthOfHeldResponseHeaders) {
  Harness h(kRewriteLast);
  ASSERT_NE(h.make(), nullptr);
  auto headers = responseHeaders({{"content-length", "3"}});
  EXPECT_EQ(h.filter().onResponseHeaders(headers, false), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("content-length"), std::nullopt);
}

TEST(LuaFilterTest, BodyChunksKeepsContentLengthOfHeadersOnlyMessages) {
  Harness h("function envoy_on_response(h) for c in h:bodyChunks() do end end");
  ASSERT_NE(h.make(), nullptr);
  // A response to HEAD: content-length describes a body that is not sent.
  auto headers = responseHeaders({{"content-length", "3"}});
  h.filter().onResponseHeaders(headers, true);
  EXPECT_EQ(headers.get("content-length"), "3");
}

TEST(LuaFilterTest, BodyChunksEndAtTrailers) {
  Harness h(kChunks);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  std::string a = "x";
  h.filter().onRequestData(a, false);
  filters::HeaderMap trailers;
  EXPECT_EQ(h.filter().onRequestTrailers(trailers), TrailersStatus::kContinue);
  EXPECT_EQ(h.global("chunks"), "1");
}

TEST(LuaFilterTest, BodyChunksOfHeadersOnlyRequestIsEmpty) {
  Harness h(kChunks);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(h.global("chunks"), "0");
}

TEST(LuaFilterTest, HeadersAreReadOnlyOnceChunksStream) {
  Harness h(R"(
    function envoy_on_request(h)
      for chunk in h:bodyChunks() do
        method = h:headers():get(':method')
        ok, err = pcall(function() h:headers():add('x', 'y') end)
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  std::string a = "x";
  h.filter().onRequestData(a, true);
  EXPECT_EQ(h.global("method"), "GET");
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find("headers are no longer modifiable"), std::string::npos) << h.global("err");
  EXPECT_FALSE(headers.get("x"));
}

TEST(LuaFilterTest, BodyAfterBodyChunksIsAnError) {
  Harness h(R"(
    function envoy_on_request(h)
      local it = h:bodyChunks()
      h:body()
    end)");
  h.config().lua.fail_closed = true;
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 500);
}

TEST(LuaFilterTest, ChunkHeldDuringCallIsDeliveredAfterwards) {
  // A call made mid-stream holds the data that arrives meanwhile; the
  // script then sees that data as its next chunk.
  Harness h(R"(
    function envoy_on_request(h)
      for chunk in h:bodyChunks() do
        seen = (seen or '') .. '[' .. chunk:getBytes(0, chunk:length()) .. ']'
        if not called then
          called = true
          h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
        end
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kContinue);
  std::string first = "one";
  EXPECT_EQ(h.filter().onRequestData(first, false), DataStatus::kStopAndWatermark);
  h.cb.held_request = first + "two";  // the chain appends what arrives meanwhile
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, false), DataStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(h.global("seen"), "[one][two]");
  EXPECT_EQ(h.cb.continued_request, 1);
  std::string third = "three";
  EXPECT_EQ(h.filter().onRequestData(third, true), DataStatus::kContinue);
  EXPECT_EQ(h.global("seen"), "[one][two][three]");
}

// --- trailers() ----------------------------------------------------------------

TEST(LuaFilterTest, TrailersWaitsForTrailers) {
  Harness h(R"(
    function envoy_on_request(h)
      local t = h:trailers()
      t:add('x-added', 'yes')
      got = t:get('x-checksum')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStop);
  h.cb.held_request = "data";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, false), DataStatus::kStopAndBuffer);
  filters::HeaderMap trailers;
  trailers.add("x-checksum", "abc");
  EXPECT_EQ(h.filter().onRequestTrailers(trailers), TrailersStatus::kContinue);
  EXPECT_EQ(h.global("got"), "abc");
  EXPECT_EQ(trailers.get("x-added"), "yes");
}

TEST(LuaFilterTest, TrailersNilWhenBodyEndsWithout) {
  Harness h("function envoy_on_request(h) got = tostring(h:trailers()) end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  h.cb.held_request = "data";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kContinue);
  EXPECT_EQ(h.global("got"), "nil");
}

TEST(LuaFilterTest, TrailersNilForHeadersOnlyRequest) {
  Harness h("function envoy_on_request(h) got = tostring(h:trailers()) end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(h.global("got"), "nil");
}

// --- httpCall() ----------------------------------------------------------------

constexpr const char* kSyncCall = R"(
  function envoy_on_request(h)
    local headers, body = h:httpCall('auth', {
      [':method'] = 'POST', [':path'] = '/check', [':authority'] = 'auth.local',
      ['x-multi'] = {'a', 'b'},
    }, 'payload', 500)
    h:headers():add('x-auth-status', headers[':status'])
    h:headers():add('x-auth-body', tostring(body))
    h:headers():add('x-auth-extra', tostring(headers['x-extra']))
  end)";

TEST(LuaFilterTest, SyncHttpCallStopsThenResumesWithHeadersAndBody) {
  Harness h(kSyncCall);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  ASSERT_EQ(h.cb.calls.size(), 1u);
  const filters::HttpCallRequest& r = h.cb.calls[0]->request;
  EXPECT_EQ(r.cluster, "auth");
  EXPECT_EQ(r.headers.get(":method"), "POST");
  EXPECT_EQ(r.headers.get(":path"), "/check");
  EXPECT_EQ(r.headers.get(":authority"), "auth.local");
  EXPECT_EQ(r.headers.count("x-multi"), 2u);
  EXPECT_EQ(r.body, "payload");
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(h.cb.continued_request, 0);
  h.cb.answer(0, 200, "allowed", {{"x-extra", "1"}});
  EXPECT_EQ(h.cb.continued_request, 1);
  EXPECT_EQ(headers.get("x-auth-status"), "200");
  EXPECT_EQ(headers.get("x-auth-body"), "allowed");
  EXPECT_EQ(headers.get("x-auth-extra"), "1");
}

TEST(LuaFilterTest, SyncHttpCallBuffersDataArrivingMeanwhile) {
  Harness h(kSyncCall);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStopAndWatermark);
  h.cb.held_request = "abc";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(h.cb.continued_request, 1);
  EXPECT_EQ(headers.get("x-auth-body"), "nil");
}

TEST(LuaFilterTest, SyncHttpCallAnsweredBeforeItYields) {
  Harness h(kSyncCall);
  h.cb.answer_at_once = 503;
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("x-auth-status"), "503");
  EXPECT_EQ(headers.get("x-auth-body"), "at once");
}

TEST(LuaFilterTest, UpstreamFailureAnswerReachesScript) {
  // A transport failure is the proxy's synthetic 503 "upstream failure".
  Harness h(kSyncCall);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.cb.answer(0, 503, "upstream failure");
  EXPECT_EQ(headers.get("x-auth-status"), "503");
  EXPECT_EQ(headers.get("x-auth-body"), "upstream failure");
}

TEST(LuaFilterTest, HttpCallThenBodyWaitsForBody) {
  Harness h(R"(
    function envoy_on_request(h)
      local hd = h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:headers():add('x-body', h:body():getBytes(0, 3))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(h.cb.continued_request, 0);  // now waiting for the body
  h.cb.held_request = "xyz";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kContinue);
  EXPECT_EQ(headers.get("x-body"), "xyz");
}

TEST(LuaFilterTest, TwoSequentialSyncCalls) {
  Harness h(R"(
    function envoy_on_request(h)
      local a = h:httpCall('auth', {[':method']='GET', [':path']='/1', [':authority']='a'}, nil, 100)
      local b = h:httpCall('auth', {[':method']='GET', [':path']='/2', [':authority']='a'}, nil, 100)
      h:headers():add('x-statuses', a[':status'] .. ',' .. b[':status'])
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  ASSERT_EQ(h.cb.calls.size(), 2u);
  EXPECT_FALSE(h.cb.calls[0]->cancelled);
  h.cb.answer(1, 204, "");
  EXPECT_EQ(headers.get("x-statuses"), "200,204");
  EXPECT_EQ(h.cb.continued_request, 1);
}

TEST(LuaFilterTest, OptionsTableFormAndDuplicateHeaders) {
  Harness h(R"(
    function envoy_on_request(h)
      local hd = h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil,
                            {timeout_ms = 250, return_duplicate_headers = true})
      dup = type(hd['set-cookie']) == 'table' and table.concat(hd['set-cookie'], '|') or 'not a table'
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(h.cb.calls[0]->request.timeout, std::chrono::milliseconds(250));
  h.cb.answer(0, 200, "", {{"set-cookie", "a=1"}, {"set-cookie", "b=2"}, {"set-cookie", "c=3"}});
  EXPECT_EQ(h.global("dup"), "a=1|b=2|c=3");
}

TEST(LuaFilterTest, DuplicateHeadersLastWinsByDefault) {
  Harness h(R"(
    function envoy_on_request(h)
      local hd = h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      cookie = hd['set-cookie']
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.cb.answer(0, 200, "", {{"set-cookie", "a=1"}, {"set-cookie", "b=2"}});
  EXPECT_EQ(h.global("cookie"), "b=2");
}

TEST(LuaFilterTest, AsyncHttpCallReturnsImmediately) {
  Harness h(R"(
    function envoy_on_request(h)
      local r = h:httpCall('logs', {[':method']='POST', [':path']='/log', [':authority']='logs'}, 'entry', 100, true)
      h:headers():add('x-after', tostring(r))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("x-after"), "nil");
  ASSERT_EQ(h.cb.calls.size(), 1u);
  EXPECT_EQ(h.cb.calls[0]->request.body, "entry");
  EXPECT_FALSE(h.cb.calls[0]->cancelled);  // kept alive after the script ended
  h.cb.answer(0, 200, "");                 // answering it later is harmless
}

TEST(LuaFilterTest, AsyncHttpCallOptionsForm) {
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('logs', {[':method']='POST', [':path']='/log', [':authority']='logs'}, 'x', {asynchronous = true})
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(h.cb.calls.size(), 1u);
}

TEST(LuaFilterTest, AsyncCallGoesOnWhenStreamEnds) {
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('logs', {[':method']='POST', [':path']='/log', [':authority']='logs'}, 'x', 100, true)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.destroyFilter();
  EXPECT_FALSE(h.cb.calls[0]->cancelled);  // as in Envoy; tests/lua/async_calls_test.cc has the rest
}

TEST(LuaFilterTest, UnknownClusterIsScriptError) {
  Harness h(R"(
    function envoy_on_request(h)
      h:headers():add('x-before', '1')
      h:httpCall('nope', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      h:headers():add('x-after', '1')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);  // fail open
  EXPECT_EQ(headers.get("x-before"), "1");
  EXPECT_FALSE(headers.get("x-after"));
  EXPECT_TRUE(h.cb.calls.empty());
}

TEST(LuaFilterTest, HttpCallRequiresPseudoHeaders) {
  Harness h(R"(
    function envoy_on_request(h)
      ok, err = pcall(h.httpCall, h, 'auth', {[':method']='GET', [':path']='/'}, nil, 100)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find(":authority"), std::string::npos) << h.global("err");
  EXPECT_TRUE(h.cb.calls.empty());
}

TEST(LuaFilterTest, DestroyDuringCallCancelsIt) {
  Harness h(kSyncCall);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  h.filter().onDestroy();
  EXPECT_TRUE(h.cb.calls[0]->cancelled);
  h.destroyFilter();
  EXPECT_EQ(h.cb.continued_request, 0);
}

TEST(LuaFilterTest, DestroyWithSuspendedScriptFreesIt) {
  Harness h(kBodyLength);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStop);
  auto script = h.script();
  EXPECT_EQ(script->live().liveCount(), 1u);
  h.destroyFilter();
  EXPECT_EQ(script->live().liveCount(), 0u);
}

// --- respond() -----------------------------------------------------------------

TEST(LuaFilterTest, RespondSendsLocalReplyAndEndsScript) {
  Harness h(R"(
    function envoy_on_request(h)
      h:respond({[':status'] = '403', ['x-reason'] = 'denied', ['set-cookie'] = {'a=1', 'b=2'}}, 'nope')
      reached = true
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStop);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 403);
  EXPECT_EQ(h.cb.reply->body, "nope");
  EXPECT_EQ(h.cb.reply->details, "lua_response");
  EXPECT_EQ(h.cb.reply->headers.get("x-reason"), "denied");
  EXPECT_EQ(h.cb.reply->headers.count("set-cookie"), 2u);
  EXPECT_FALSE(h.cb.reply->headers.get(":status"));
  EXPECT_EQ(h.global("reached"), "nil");
}

TEST(LuaFilterTest, RespondDropsFramingHeadersOfTheScript) {
  Harness h(R"(
    function envoy_on_request(h)
      h:respond({[':status'] = 200, ['content-length'] = '999'}, 'body')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 200);
  EXPECT_FALSE(h.cb.reply->headers.get("content-length"));
}

TEST(LuaFilterTest, RespondStatusOutOfRangeIsScriptError) {
  for (const char* status : {"'199'", "600", "'abc'", "nil", "'200.5'"}) {
    Harness h(std::string("function envoy_on_request(h) ok, err = pcall(h.respond, h, {[':status'] = ") +
              status + "}, 'x') end");
    ASSERT_NE(h.make(), nullptr) << h.error();
    auto headers = requestHeaders();
    EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue) << status;
    EXPECT_FALSE(h.cb.reply) << status;
    EXPECT_NE(h.global("err").find(":status must be a number from 200 to 599"), std::string::npos)
        << status << ": " << h.global("err");
  }
}

TEST(LuaFilterTest, RespondAfterBodyReplacesRequest) {
  Harness h(R"(
    function envoy_on_request(h)
      local b = h:body()
      h:respond({[':status'] = '413'}, 'too much: ' .. b:length())
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  h.cb.held_request = "12345";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kStop);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->body, "too much: 5");
}

TEST(LuaFilterTest, RespondAfterHttpCall) {
  Harness h(R"(
    function envoy_on_request(h)
      local hd = h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      if hd[':status'] ~= '200' then h:respond({[':status'] = '401'}, 'unauthorized') end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.cb.answer(0, 403, "");
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 401);
  EXPECT_EQ(h.cb.continued_request, 0);
}

TEST(LuaFilterTest, RespondOnResponsePathReplacesResponse) {
  Harness h(R"(
    function envoy_on_response(h)
      if h:headers():get(':status') == '500' then h:respond({[':status'] = '503'}, 'try later') end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders();
  resp.replace(":status", "500");
  EXPECT_EQ(h.filter().onResponseHeaders(resp, true), HeadersStatus::kStop);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 503);
  EXPECT_EQ(h.cb.reply->body, "try later");
}

TEST(LuaFilterTest, RespondAfterResponseStartedIsScriptError) {
  Harness h(R"(
    function envoy_on_response(h)
      for chunk in h:bodyChunks() do
        ok, err = pcall(h.respond, h, {[':status'] = '500'}, 'late')
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders();
  EXPECT_EQ(h.filter().onResponseHeaders(resp, false), HeadersStatus::kContinue);
  h.cb.response_started = true;
  std::string data = "x";
  EXPECT_EQ(h.filter().onResponseData(data, true), DataStatus::kContinue);
  EXPECT_FALSE(h.cb.reply);
  EXPECT_NE(h.global("err").find("response has started"), std::string::npos) << h.global("err");
}

TEST(LuaFilterTest, RespondAfterRequestHeadersContinuedIsScriptError) {
  Harness h(R"(
    function envoy_on_request(h)
      for chunk in h:bodyChunks() do
        ok, err = pcall(h.respond, h, {[':status'] = '400'}, 'late')
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  std::string data = "x";
  h.filter().onRequestData(data, true);
  EXPECT_FALSE(h.cb.reply);
  EXPECT_NE(h.global("err").find("before the request headers are continued"), std::string::npos)
      << h.global("err");
}

// --- errors ----------------------------------------------------------------------

constexpr const char* kFailing = R"(
function envoy_on_request(h)
  h:headers():add('x-before', '1')
  local t = nil
  t.field = 1
end)";

TEST(LuaFilterTest, RuntimeErrorFailsOpenKeepingEdits) {
  Harness h(kFailing);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
  EXPECT_EQ(headers.get("x-before"), "1");
  EXPECT_FALSE(h.cb.reply);
}

TEST(LuaFilterTest, RuntimeErrorFailClosedAnswers500) {
  Harness h(kFailing);
  h.config().lua.fail_closed = true;
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStop);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 500);
  EXPECT_EQ(h.cb.reply->body, "lua script error\n");
  EXPECT_EQ(h.cb.reply->details, "lua_error");
}

TEST(LuaFilterTest, RuntimeErrorsAreCounted) {
  Harness h(kFailing);
  h.listener().name = "err-count";
  ASSERT_NE(h.make(), nullptr);
  const stats::Labels labels = {{"listener", "err-count"}, {"filter", "lua"}};
  const int64_t before = stats::Store::instance().value("pier_lua_errors_total", labels);
  for (int i = 0; i < 2; ++i) {
    ASSERT_NE(h.make(), nullptr);
    auto headers = requestHeaders();
    h.filter().onRequestHeaders(headers, true);
  }
  EXPECT_EQ(stats::Store::instance().value("pier_lua_errors_total", labels) - before, 2);
}

TEST(LuaFilterTest, StatPrefixLabelsTheMetrics) {
  Harness h(kFailing);
  h.listener().name = "prefixed";
  h.config().lua.stat_prefix = "auth";
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(
      stats::Store::instance().value("pier_lua_errors_total", {{"listener", "prefixed"}, {"filter", "auth"}}),
      1);
}

TEST(LuaFilterTest, ErrorAfterWaitContinuesStoppedStream) {
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      error('boom')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(h.cb.continued_request, 1);
  EXPECT_FALSE(h.cb.reply);
}

TEST(LuaFilterTest, ErrorAfterWaitFailClosedAnswers500) {
  Harness h(R"(
    function envoy_on_request(h)
      local b = h:body()
      error('boom')
    end)");
  h.config().lua.fail_closed = true;
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  h.cb.held_request = "x";
  h.filter().onRequestData(h.cb.held_request, true);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 500);
}

// The stream turns this reply into a reset (tested through the real binary):
// the client must not get a response that the script failed half-way through.
TEST(LuaFilterTest, FailClosedAfterResponseStartedStillAsksForTheReply) {
  Harness h(R"(
    function envoy_on_response(h)
      for chunk in h:bodyChunks() do error('boom') end
    end)");
  h.config().lua.fail_closed = true;
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders();
  h.filter().onResponseHeaders(resp, false);
  h.cb.response_started = true;
  std::string data = "x";
  h.filter().onResponseData(data, false);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 500);
}

TEST(LuaFilterTest, BareCoroutineYieldIsScriptError) {
  Harness h("function envoy_on_request(h) coroutine.yield() end");
  h.config().lua.fail_closed = true;
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 500);
}

TEST(LuaFilterTest, WaitingFromNestedCoroutineIsScriptError) {
  Harness h(R"(
    function envoy_on_request(h)
      local co = coroutine.create(function() return h:body() end)
      ok, err = coroutine.resume(co)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kContinue);
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find("own coroutine"), std::string::npos) << h.global("err");
}

TEST(LuaFilterTest, ErrorsRaisedInsideBindingsFreeTheirTemporaries) {
  // LeakSanitizer checks that the C++ objects of a failing httpCall (request,
  // headers) were destroyed when the Lua error unwound through it.
  Harness h(R"(
    function envoy_on_request(h)
      for i = 1, 20 do
        pcall(h.httpCall, h, 'nope', {[':method']='GET', [':path']=string.rep('p', 100), [':authority']='a'}, string.rep('b', 1000), 1)
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kContinue);
}

// --- wrapper validity --------------------------------------------------------------

TEST(LuaFilterTest, ObjectsFromAFinishedRunRaiseErrors) {
  Harness h(R"(
    function envoy_on_request(h)
      saved_handle = h
      saved_headers = h:headers()
      saved_body = h:body(true)
      saved_info = h:streamInfo()
    end
    function probe()
      ok1, err1 = pcall(function() return saved_headers:get(':path') end)
      ok2, err2 = pcall(function() return saved_handle:headers() end)
      ok3, err3 = pcall(function() return saved_body:length() end)
      ok4, err4 = pcall(function() return saved_info:protocol() end)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.destroyFilter();
  h.call("probe");
  for (const char* ok : {"ok1", "ok2", "ok3", "ok4"}) EXPECT_EQ(h.global(ok), "false") << ok;
  EXPECT_NE(h.global("err1").find("script run it belongs to ended"), std::string::npos) << h.global("err1");
}

TEST(LuaFilterTest, ObjectsOfASuspendedRunAreValidAfterResume) {
  Harness h(R"(
    function envoy_on_request(h)
      local hd = h:headers()
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      hd:add('x-after', hd:get(':path'))
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(headers.get("x-after"), "/hello");
}

TEST(LuaFilterTest, ChunkIsInvalidOnceTheNextIsRequested) {
  Harness h(R"(
    function envoy_on_request(h)
      local first
      for chunk in h:bodyChunks() do
        if first then
          ok, err = pcall(function() return first:length() end)
        end
        first = first or chunk
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  std::string a = "a";
  h.filter().onRequestData(a, false);
  std::string b = "b";
  h.filter().onRequestData(b, true);
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find("chunk is no longer available"), std::string::npos) << h.global("err");
}

TEST(LuaFilterTest, BodyBufferStaysValidAcrossCallWhileHeld) {
  Harness h(R"(
    function envoy_on_request(h)
      local b = h:body()
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='a'}, nil, 100)
      b:setBytes('after call')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, false);
  h.cb.held_request = "x";
  EXPECT_EQ(h.filter().onRequestData(h.cb.held_request, true), DataStatus::kStopAndWatermark);
  h.cb.answer(0, 200, "");
  EXPECT_EQ(h.cb.held_request, "after call");
  EXPECT_EQ(headers.get("content-length"), "10");
  EXPECT_EQ(h.cb.continued_request, 1);
}

TEST(LuaFilterTest, ThreadsAreReusedAcrossStreams) {
  Harness h("function envoy_on_request(h) h:headers():add('n', tostring(coroutine.running())) end");
  std::string first;
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(h.make(), nullptr);
    auto headers = requestHeaders();
    h.filter().onRequestHeaders(headers, true);
    if (i == 0) first = *headers.get("n");
    EXPECT_EQ(headers.get("n"), first);
  }
  // The live filter's request side keeps the thread for its next stream;
  // a filter that goes gives it back to the pool.
  EXPECT_EQ(h.script()->idleThreads(), 0u);
  h.destroyFilter();
  EXPECT_EQ(h.script()->idleThreads(), 1u);
}

// The hook's own handle and headers are recognised by address; objects of a
// run that ended on another (now idle) thread must still be caught as stale.
TEST(LuaFilterTest, HeadersKeptFromRunOnAnotherThreadErrorAfterItEnded) {
  Harness h(R"(
    function envoy_on_request(h)
      if h:headers():get('x-role') == 'saver' then
        saved = h:headers()
        h:body()
      else
        h:body()
        ok, err = pcall(function() saved:add('x-late', '1') end)
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto saver_headers = requestHeaders({{"x-role", "saver"}});
  ASSERT_EQ(h.filter().onRequestHeaders(saver_headers, false), HeadersStatus::kStop);

  // A second stream runs on a second thread while the first waits.
  testing::FakeCallbacks other_cb;
  auto other = h.factory().create(h.cache(), nullptr);
  ASSERT_NE(other, nullptr);
  other->setCallbacks(other_cb);
  other_cb.filter = other.get();
  auto other_headers = requestHeaders();
  ASSERT_EQ(other->onRequestHeaders(other_headers, false), HeadersStatus::kStop);

  std::string empty;
  EXPECT_EQ(h.filter().onRequestData(empty, true), DataStatus::kContinue);  // the saver's run ends
  EXPECT_EQ(other->onRequestData(empty, true), DataStatus::kContinue);
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find("object used after the script run it belongs to ended"), std::string::npos);
  EXPECT_EQ(saver_headers.get("x-late"), std::nullopt);
  EXPECT_EQ(other_headers.get("x-late"), std::nullopt);
  other->onDestroy();
}

// Passing the hook's handle where its headers are expected (and the reverse)
// is still a type error, although both are known by address.
TEST(LuaFilterTest, OwnHandleAndHeadersAreNotInterchangeableAsSelf) {
  Harness h(R"(
    function envoy_on_request(h)
      local headers = h:headers()
      ok1, err1 = pcall(headers.add, h, 'x-a', '1')
      ok2, err2 = pcall(h.headers, headers)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(h.global("ok1"), "false");
  EXPECT_NE(h.global("err1").find("expected a headers object as self"), std::string::npos);
  EXPECT_EQ(h.global("ok2"), "false");
  EXPECT_NE(h.global("err2").find("expected a stream handle object as self"), std::string::npos);
  EXPECT_EQ(headers.get("x-a"), std::nullopt);
}

// Hooks run on recycled threads whose stacks keep the hook functions and the
// handle; a hook returning values must not disturb the next run.
TEST(LuaFilterTest, RecycledThreadRunsBothHooksAfterReturnedValues) {
  Harness h(R"(
    function envoy_on_request(h) h:headers():add('x-req', '1') return 1, 2, 3 end
    function envoy_on_response(h) h:headers():add('x-resp', '1') return 'a' end)");
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(h.make(), nullptr);
    auto request = requestHeaders();
    auto response = responseHeaders();
    EXPECT_EQ(h.filter().onRequestHeaders(request, true), HeadersStatus::kContinue);
    EXPECT_EQ(h.filter().onResponseHeaders(response, true), HeadersStatus::kContinue);
    EXPECT_EQ(request.get("x-req"), "1");
    EXPECT_EQ(request.get("x-resp"), std::nullopt);
    EXPECT_EQ(response.get("x-resp"), "1");
    EXPECT_EQ(response.get("x-req"), std::nullopt);
  }
  h.destroyFilter();
  EXPECT_EQ(h.script()->idleThreads(), 2u);  // one per side
}

// --- recycling: a connection's next stream may reuse its last filter --------------

TEST(LuaFilterRecycleTest, AFinishedFilterServesTheNextStreamLikeANewOne) {
  Harness h(R"(
    function envoy_on_request(h)
      local n = h:headers():get('x-n')
      if n == '1' then h:respond({[':status'] = '403'}, 'no') end
      h:headers():add('x-seen', n)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto first = requestHeaders({{"x-n", "1"}});
  EXPECT_EQ(h.filter().onRequestHeaders(first, true), HeadersStatus::kStop);
  ASSERT_TRUE(h.cb.reply.has_value());
  h.filter().onDestroy();
  ASSERT_TRUE(h.factory().recycle(h.filter(), h.cache(), nullptr));
  h.filter().setCallbacks(h.cb);  // as the chain does when it adds the filter
  h.cb.reply.reset();
  auto second = requestHeaders({{"x-n", "2"}});
  EXPECT_EQ(h.filter().onRequestHeaders(second, true), HeadersStatus::kContinue);
  EXPECT_FALSE(h.cb.reply.has_value()) << "the first stream's reply must not come back";
  EXPECT_EQ(second.get("x-seen"), "2");
}

// A recycled filter's sides run the next stream on the threads they kept
// (no trip to the pool); a run that failed leaves its thread to the garbage
// collector, and the next run gets another.
TEST(LuaFilterRecycleTest, ARecycledFilterKeepsItsThreadUntilARunFails) {
  Harness h(R"(
    threads = {}  -- kept: a collected thread's address could come back
    function envoy_on_request(h)
      threads[#threads + 1] = coroutine.running()
      h:headers():add('x-thread', tostring(coroutine.running()))
      if h:headers():get('x-fail') then error('asked to') end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto run = [&](bool fail) {
    auto headers = fail ? requestHeaders({{"x-fail", "1"}}) : requestHeaders();
    h.filter().onRequestHeaders(headers, true);
    h.filter().onDestroy();
    EXPECT_TRUE(h.factory().recycle(h.filter(), h.cache(), nullptr));
    h.filter().setCallbacks(h.cb);
    return *headers.get("x-thread");
  };
  const std::string first = run(false);
  EXPECT_EQ(run(false), first);
  EXPECT_EQ(h.script()->idleThreads(), 0u);
  EXPECT_EQ(run(true), first);  // failed: its thread is dropped
  const std::string after_failure = run(false);
  EXPECT_NE(after_failure, first);
  EXPECT_EQ(run(false), after_failure);
}

TEST(LuaFilterRecycleTest, AFilterWhoseScriptStillWaitsIsNotRecycled) {
  Harness h("function envoy_on_request(h) h:body() end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  ASSERT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStop);
  h.filter().onDestroy();  // the stream ended while the script waited for the body
  EXPECT_FALSE(h.factory().recycle(h.filter(), h.cache(), nullptr));
}

TEST(LuaFilterRecycleTest, AFilterOfAStreamThatDidNotEndIsNotRecycled) {
  Harness h("function envoy_on_request(h) end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_FALSE(h.factory().recycle(h.filter(), h.cache(), nullptr));
}

TEST(LuaFilterRecycleTest, ARouteWithOtherCodeGetsANewFilter) {
  config::HttpFilter fc =
      testing::luaFilterConfig("function envoy_on_request(h) h:headers():add('x-code', 'default') end");
  config::DataSource other_code;
  other_code.code = "function envoy_on_request(h) h:headers():add('x-code', 'other') end";
  other_code.chunk_name = "other.lua";
  fc.lua.source_codes.emplace("other.lua", other_code);
  Harness h(fc);
  config::Route other;
  other.name = "other";
  config::RouteFilterOverride o;
  o.name = "other.lua";
  other.filters.emplace(fc.name, o);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.filter().onDestroy();
  EXPECT_FALSE(h.factory().recycle(h.filter(), h.cache(), &other));
  EXPECT_TRUE(h.factory().recycle(h.filter(), h.cache(), nullptr));
}

TEST(LuaFilterTest, BrokenScriptAtWorkerFailClosedAnswers500) {
  // Passed the config check but failed on the worker (say, a time-dependent top level).
  Harness h("function envoy_on_request(h) end");
  h.config().lua.fail_closed = true;
  ASSERT_NE(h.make(), nullptr);
  // Replace the cached state with a broken one.
  h.cache().put(LuaFilterFactory::cacheKey(h.config().lua.default_source_code->code, false),
                LuaScript::create("error('no')", "broken.lua", false));
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStop);
  ASSERT_TRUE(h.cb.reply);
  EXPECT_EQ(h.cb.reply->status, 500);
}

TEST(LuaFilterTest, BrokenScriptAtWorkerFailOpenGivesNoFilter) {
  Harness h("function envoy_on_request(h) end");
  ASSERT_NE(h.make(), nullptr);
  h.cache().put(LuaFilterFactory::cacheKey(h.config().lua.default_source_code->code, false),
                LuaScript::create("error('no')", "broken.lua", false));
  EXPECT_EQ(h.make(), nullptr);
}

}  // namespace
}  // namespace pier::lua
