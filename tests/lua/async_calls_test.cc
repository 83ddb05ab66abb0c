// Asynchronous httpCalls run to their end even after their stream ended (as
// in Envoy), and their handles are dropped as soon as the calls are done.
#include "src/lua/async_calls.h"

#include <gtest/gtest.h>

#include "tests/lua/lua_filter_test_util.h"

namespace pier::lua {
namespace {

using filters::HeadersStatus;
using testing::CallState;
using testing::FakeCallbacks;
using testing::Harness;
using testing::requestHeaders;

filters::HttpCallRequest logRequest() {
  filters::HttpCallRequest r;
  r.cluster = "logs";
  r.headers.add(":method", "POST");
  r.headers.add(":path", "/log");
  r.headers.add(":authority", "logs");
  return r;
}

// A fake call's handle holds the other reference to its state.
bool handleAlive(const std::shared_ptr<CallState>& call) { return call.use_count() > 1; }

size_t aliveHandles(const FakeCallbacks& cb) {
  size_t n = 0;
  for (const auto& c : cb.calls) n += handleAlive(c) ? 1 : 0;
  return n;
}

// --- AsyncCalls on its own -------------------------------------------------------

TEST(AsyncCallsTest, CompletedCallLeavesTheOutstandingSet) {
  FakeCallbacks cb;
  AsyncCalls calls;
  ASSERT_TRUE(calls.start(cb, logRequest()).ok());
  ASSERT_TRUE(calls.start(cb, logRequest()).ok());
  EXPECT_EQ(calls.outstanding(), 2u);
  cb.answer(1, 200, "");
  EXPECT_EQ(calls.outstanding(), 1u);
  cb.answer(0, 200, "");
  EXPECT_EQ(calls.outstanding(), 0u);
}

TEST(AsyncCallsTest, FinishedHandlesDoNotAccumulate) {
  FakeCallbacks cb;
  AsyncCalls calls;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(calls.start(cb, logRequest()).ok());
  for (size_t i = 0; i < 50; ++i) cb.answer(i, 200, "");
  EXPECT_EQ(calls.outstanding(), 0u);
  // Only the last finished handle waits (it is not destroyed inside its own callback).
  EXPECT_LE(aliveHandles(cb), 1u);
  EXPECT_FALSE(handleAlive(cb.calls[0]));
}

TEST(AsyncCallsTest, HandleIsNotDestroyedInsideItsOwnCallback) {
  FakeCallbacks cb;
  AsyncCalls calls;
  ASSERT_TRUE(calls.start(cb, logRequest()).ok());
  cb.answer(0, 200, "");
  EXPECT_TRUE(handleAlive(cb.calls[0]));
  ASSERT_TRUE(calls.start(cb, logRequest()).ok());
  cb.answer(1, 200, "");
  EXPECT_FALSE(handleAlive(cb.calls[0]));  // went when the next call finished
}

TEST(AsyncCallsTest, DestroyingTheOwnerCancelsOutstandingCalls) {
  FakeCallbacks cb;
  {
    AsyncCalls calls;
    ASSERT_TRUE(calls.start(cb, logRequest()).ok());
    ASSERT_TRUE(calls.start(cb, logRequest()).ok());
    cb.answer(0, 200, "");
  }
  EXPECT_FALSE(cb.calls[0]->cancelled);  // it was done
  EXPECT_TRUE(cb.calls[1]->cancelled);
  EXPECT_EQ(aliveHandles(cb), 0u);
}

TEST(AsyncCallsTest, MovedCallsKeepRunningAndLeaveTheirNewOwnerWhenDone) {
  FakeCallbacks cb;
  AsyncCalls worker;
  {
    AsyncCalls stream;
    ASSERT_TRUE(stream.start(cb, logRequest()).ok());
    ASSERT_TRUE(stream.start(cb, logRequest()).ok());
    ASSERT_TRUE(stream.start(cb, logRequest()).ok());
    cb.answer(0, 200, "");
    stream.moveTo(worker);
    EXPECT_EQ(stream.outstanding(), 0u);
  }
  EXPECT_FALSE(cb.calls[1]->cancelled);
  EXPECT_FALSE(cb.calls[2]->cancelled);
  EXPECT_EQ(worker.outstanding(), 2u);
  cb.answer(2, 200, "");
  EXPECT_EQ(worker.outstanding(), 1u);
  cb.answer(1, 200, "");
  EXPECT_EQ(worker.outstanding(), 0u);
}

TEST(AsyncCallsTest, CallAnsweredInsideHttpCallIsNotKept) {
  FakeCallbacks cb;
  cb.answer_at_once = 200;
  AsyncCalls calls;
  ASSERT_TRUE(calls.start(cb, logRequest()).ok());
  EXPECT_EQ(calls.outstanding(), 0u);
  EXPECT_FALSE(handleAlive(cb.calls[0]));
}

TEST(AsyncCallsTest, UnknownClusterIsAnErrorAndKeepsNothing) {
  FakeCallbacks cb;
  AsyncCalls calls;
  auto r = logRequest();
  r.cluster = "nope";
  Status s = calls.start(cb, std::move(r));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error().find("nope"), std::string::npos) << s.error();
  EXPECT_EQ(calls.outstanding(), 0u);
}

TEST(AsyncCallsTest, DetachedOwnerIsOnePerCacheAndGoesWithIt) {
  FakeCallbacks cb;
  filters::WorkerCache cache;
  AsyncCalls& a = AsyncCalls::detached(cache);
  EXPECT_EQ(&a, &AsyncCalls::detached(cache));
  ASSERT_TRUE(a.start(cb, logRequest()).ok());
  cache.clear();  // a new configuration on the worker
  EXPECT_TRUE(cb.calls[0]->cancelled);
}

// --- through the Lua filter --------------------------------------------------------

constexpr const char* kAsyncThenBody = R"(
    function envoy_on_request(h)
      for i = 1, tonumber(h:headers():get('x-calls') or '1') do
        h:httpCall('logs', {[':method']='POST', [':path']='/log', [':authority']='logs'}, 'entry', 1000, true)
      end
      h:body()
    end)";

TEST(LuaAsyncCallTest, OutlivesItsStreamAndIsReleasedWhenDone) {
  Harness h(kAsyncThenBody);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  ASSERT_EQ(h.cb.calls.size(), 1u);
  h.destroyFilter();
  EXPECT_FALSE(h.cb.calls[0]->cancelled);
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 1u);
  h.cb.answer(0, 200, "");  // the stream and its filter are gone: the callback must not need them
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 0u);
  // Released by the next finished call (never inside its own callback).
  ASSERT_NE(h.make(), nullptr);
  auto again = requestHeaders();
  h.filter().onRequestHeaders(again, true);
  h.destroyFilter();
  h.cb.answer(1, 200, "");
  EXPECT_FALSE(handleAlive(h.cb.calls[0]));
}

TEST(LuaAsyncCallTest, CompletedCallsAreReleasedWhileTheStreamLasts) {
  Harness h(kAsyncThenBody);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders({{"x-calls", "40"}});
  EXPECT_EQ(h.filter().onRequestHeaders(headers, false), HeadersStatus::kStop);  // waiting in body()
  ASSERT_EQ(h.cb.calls.size(), 40u);
  for (size_t i = 0; i < 40; ++i) h.cb.answer(i, 200, "");
  EXPECT_LE(aliveHandles(h.cb), 1u);
  h.destroyFilter();
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 0u);
}

TEST(LuaAsyncCallTest, OnlyOutstandingCallsAreHandedToTheWorker) {
  Harness h(kAsyncThenBody);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders({{"x-calls", "3"}});
  h.filter().onRequestHeaders(headers, false);
  h.cb.answer(1, 200, "");
  h.destroyFilter();
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 2u);
  EXPECT_FALSE(h.cb.calls[0]->cancelled);
  EXPECT_FALSE(h.cb.calls[2]->cancelled);
}

TEST(LuaAsyncCallTest, StreamWithoutAsyncCallsLeavesNoWorkerOwner) {
  Harness h("function envoy_on_request(h) h:headers():add('x', '1') end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  const size_t entries = h.cache().size();
  h.destroyFilter();
  EXPECT_EQ(h.cache().size(), entries);
}

TEST(LuaAsyncCallTest, WorkerConfigChangeCancelsDetachedCalls) {
  Harness h(kAsyncThenBody);
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  h.destroyFilter();
  ASSERT_FALSE(h.cb.calls[0]->cancelled);
  h.cache().clear();
  EXPECT_TRUE(h.cb.calls[0]->cancelled);
}

TEST(LuaAsyncCallTest, SynchronousCallIsStillCancelledWhenTheStreamEnds) {
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('logs', {[':method']='POST', [':path']='/log', [':authority']='logs'}, 'a', 1000, true)
      h:httpCall('auth', {[':method']='GET', [':path']='/', [':authority']='auth'}, nil, 1000)
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  EXPECT_EQ(h.filter().onRequestHeaders(headers, true), HeadersStatus::kStopAndWatermark);
  ASSERT_EQ(h.cb.calls.size(), 2u);
  h.destroyFilter();
  EXPECT_FALSE(h.cb.calls[0]->cancelled);  // asynchronous: detached
  EXPECT_TRUE(h.cb.calls[1]->cancelled);   // synchronous: ends with its stream
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 1u);
}

TEST(LuaAsyncCallTest, AsyncCallFromAStreamEndedByRespondIsDetached) {
  Harness h(R"(
    function envoy_on_request(h)
      h:httpCall('logs', {[':method']='POST', [':path']='/log', [':authority']='logs'}, 'a', 1000, true)
      h:respond({[':status']='204'}, '')
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);  // the fake ends the filter from sendLocalReply
  ASSERT_TRUE(h.cb.reply.has_value());
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 1u);
  EXPECT_FALSE(h.cb.calls[0]->cancelled);
  h.destroyFilter();
  h.cb.answer(0, 200, "");
  EXPECT_EQ(AsyncCalls::detached(h.cache()).outstanding(), 0u);
}

}  // namespace
}  // namespace pier::lua
