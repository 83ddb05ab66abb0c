// The stream handle API, one function or rule per test. Scripts leave their
// results in globals (read back with Harness::global) or in the headers.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <chrono>

#include "tests/lua/lua_filter_test_util.h"

namespace pier::lua {
namespace {

using filters::HeadersStatus;
using testing::Harness;
using testing::requestHeaders;
using testing::responseHeaders;

// Runs envoy_on_request(h) with `body` as the hook's body over a headers-only
// request; returns the harness to read globals from.
std::unique_ptr<Harness> runRequest(const std::string& body, filters::HeaderMap& headers,
                                    const config::Route* route = nullptr) {
  auto h = std::make_unique<Harness>("function envoy_on_request(h)\n" + body + "\nend");
  if (h->make(route) == nullptr) {
    ADD_FAILURE() << "no filter: " << h->error();
    return h;
  }
  // What a busy script runs; the other tests here cover the classic calls.
  h->script()->useFastPaths();
  h->filter().onRequestHeaders(headers, true);
  return h;
}

std::string evalRequest(const std::string& expression, filters::HeaderMap headers = requestHeaders()) {
  auto h = runRequest("result = tostring(" + expression + ")", headers);
  return h->global("result");
}

std::string errorOf(const std::string& statement, filters::HeaderMap headers = requestHeaders()) {
  auto h = runRequest("ok, err = pcall(function() " + statement + " end)", headers);
  if (h->global("ok") != "false") return "<no error>";
  return h->global("err");
}

// --- headers ---------------------------------------------------------------------

TEST(LuaHeadersTest, AddAppendsAndGetJoinsWithComma) {
  auto headers = requestHeaders({{"accept", "a"}});
  auto h = runRequest("h:headers():add('Accept', 'b') result = h:headers():get('accept')", headers);
  EXPECT_EQ(h->global("result"), "a,b");
  EXPECT_EQ(headers.count("accept"), 2u);
}

TEST(LuaHeadersTest, GetIsCaseInsensitive) {
  EXPECT_EQ(evalRequest("h:headers():get('X-Custom')", requestHeaders({{"x-custom", "v"}})), "v");
}

TEST(LuaHeadersTest, GetMissingIsNil) { EXPECT_EQ(evalRequest("h:headers():get('x-none')"), "nil"); }

TEST(LuaHeadersTest, GetAtIndexIsZeroBased) {
  auto headers = requestHeaders({{"x-v", "first"}, {"x-v", "second"}});
  EXPECT_EQ(evalRequest("h:headers():getAtIndex('x-v', 0)", headers), "first");
  EXPECT_EQ(evalRequest("h:headers():getAtIndex('x-v', 1)", headers), "second");
  EXPECT_EQ(evalRequest("h:headers():getAtIndex('x-v', 2)", headers), "nil");
  EXPECT_EQ(evalRequest("h:headers():getAtIndex('x-v', -1)", headers), "nil");
}

TEST(LuaHeadersTest, GetNumValuesCounts) {
  auto headers = requestHeaders({{"x-v", "1"}, {"x-v", "2"}});
  EXPECT_EQ(evalRequest("h:headers():getNumValues('x-v')", headers), "2");
  EXPECT_EQ(evalRequest("h:headers():getNumValues('x-none')", headers), "0");
}

TEST(LuaHeadersTest, RemoveDropsAllValues) {
  auto headers = requestHeaders({{"x-v", "1"}, {"x-v", "2"}});
  runRequest("h:headers():remove('x-v')", headers);
  EXPECT_EQ(headers.count("x-v"), 0u);
}

TEST(LuaHeadersTest, ReplaceKeepsPlaceAndDropsDuplicates) {
  auto headers = requestHeaders({{"x-v", "1"}, {"x-w", "w"}, {"x-v", "2"}});
  runRequest("h:headers():replace('x-v', 'new') h:headers():replace('x-added', 'yes')", headers);
  EXPECT_EQ(testing::dump(headers),
            ":method=GET\n:path=/hello\n:authority=example.com\n:scheme=http\nx-v=new\nx-w=w\nx-added=yes\n");
}

TEST(LuaHeadersTest, PairsIteratesInOrderWithLowerCaseNamesPseudoFirst) {
  filters::HeaderMap headers;
  headers.add("User-Agent", "curl");
  headers.add(":method", "GET");
  headers.add(":path", "/");
  auto h = runRequest(R"(
    local parts = {}
    for k, v in pairs(h:headers()) do parts[#parts + 1] = k .. '=' .. v end
    result = table.concat(parts, ';'))",
                      headers);
  EXPECT_EQ(h->global("result"), ":method=GET;:path=/;user-agent=curl");
}

TEST(LuaHeadersTest, ResponsePairsStartWithStatus) {
  Harness h(R"(
    function envoy_on_response(h)
      for k, v in pairs(h:headers()) do result = (result or '') .. k .. ';' end
    end)");
  ASSERT_NE(h.make(), nullptr);
  filters::HeaderMap resp;
  resp.add("server", "x");
  resp.add(":status", "200");
  h.filter().onResponseHeaders(resp, true);
  EXPECT_EQ(h.global("result"), ":status;server;");
}

TEST(LuaHeadersTest, ModifyingDuringIterationIsAnError) {
  EXPECT_NE(errorOf("for k, v in pairs(h:headers()) do h:headers():add('x-copy', v) end")
                .find("modified during iteration"),
            std::string::npos);
}

TEST(LuaHeadersTest, InvalidNamesAndValuesAreRejected) {
  auto headers = requestHeaders();
  EXPECT_NE(errorOf("h:headers():add('x-a', 'v\\r\\nx-injected: 1')").find("invalid header value"),
            std::string::npos);
  EXPECT_NE(errorOf("h:headers():add('bad name', 'v')").find("invalid header name"), std::string::npos);
  EXPECT_NE(errorOf("h:headers():replace('', 'v')").find("invalid header name"), std::string::npos);
  EXPECT_NE(errorOf("h:headers():add('x-a', 'nul\\0')").find("invalid header value"), std::string::npos);
}

// The common header calls run as Lua functions calling C++ through the FFI
// (src/lua/fast_path.cc); whatever they decline goes to the classic C
// functions, whose errors must still name the script's own line.
TEST(LuaHeadersFastPathTest, HeaderMethodsAreTheFastLuaFunctions) {
  EXPECT_EQ(evalRequest("debug.getinfo(h:headers().add, 'S').source .. ' ' .. "
                        "debug.getinfo(h.headers, 'S').source"),
            "=pier_fast_path =pier_fast_path");
}

TEST(LuaHeadersFastPathTest, InstalledOnlyOnceTheScriptRunsOften) {
  Harness h("function envoy_on_request(h) h:headers():add('x-n', 'v') end");
  ASSERT_NE(h.make(), nullptr);
  for (uint32_t i = 0; i < LuaScript::kFastPathsAfterRuns; ++i) {
    EXPECT_FALSE(h.script()->fastPaths()) << "after " << i << " runs";
    auto headers = requestHeaders();
    h.filter().onRequestHeaders(headers, true);
    EXPECT_EQ(headers.get("x-n"), "v");
    h.destroyFilter();
    ASSERT_NE(h.make(), nullptr);
  }
  EXPECT_TRUE(h.script()->fastPaths());
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(headers.get("x-n"), "v");
}

TEST(LuaHeadersFastPathTest, ErrorsFromTheSlowPathNameTheScriptLine) {
  auto headers = requestHeaders();
  auto h = runRequest("ok, err = pcall(function()\n  h:headers():add('bad name', 'v')\nend)", headers);
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_NE(h->global("err").find(":3: invalid header name"), std::string::npos) << h->global("err");
}

// The fast add() and replace() remember the names they found valid (up to
// 64): a remembered name skips the name check, never the value check, and
// a name is remembered only once a call with it succeeded.
TEST(LuaHeadersFastPathTest, RememberedNamesStillGetTheirValuesChecked) {
  auto headers = requestHeaders();
  auto h = runRequest(
      "for i = 1, 100 do h:headers():add('x-n' .. i, 'v') end\n"
      "h:headers():add('x-n1', 'again') h:headers():replace('x-n2', 'replaced')\n"
      "bad_value, value_err = pcall(function() h:headers():add('x-n1', 'a\\r\\nb') end)\n"
      "bad_replace, replace_err = pcall(function() h:headers():replace('x-n3', 'a\\0b') end)\n"
      "for i = 1, 2 do bad_name, name_err = pcall(function() h:headers():add('x n', 'v') end) end",
      headers);
  EXPECT_EQ(headers.count("x-n1"), 2u);
  EXPECT_EQ(headers.get("x-n2"), "replaced");
  EXPECT_EQ(headers.get("x-n3"), "v");
  EXPECT_EQ(headers.get("x-n100"), "v");
  EXPECT_EQ(h->global("bad_value"), "false");
  EXPECT_NE(h->global("value_err").find("invalid header value"), std::string::npos) << h->global("value_err");
  EXPECT_EQ(h->global("bad_replace"), "false");
  EXPECT_NE(h->global("replace_err").find("invalid header value"), std::string::npos) << h->global("replace_err");
  EXPECT_EQ(h->global("bad_name"), "false");
  EXPECT_NE(h->global("name_err").find("invalid header name"), std::string::npos) << h->global("name_err");
}

// A remembered name with upper-case letters is still lowered on every add();
// one without is copied as it is.
TEST(LuaHeadersFastPathTest, RememberedNamesAreStoredLowerCase) {
  auto headers = requestHeaders();
  runRequest(
      "for i = 1, 3 do h:headers():add('X-Mixed', 'm' .. i) h:headers():add('x-lower', 'l' .. i) end\n"
      "for i = 1, 3 do h:headers():replace('X-Other', 'o' .. i) end",
      headers);
  std::vector<std::string> names;
  for (const auto& e : headers.entries()) {
    if (e.name.front() != ':') names.emplace_back(e.name);
  }
  std::vector<std::string> expected = {"x-mixed", "x-lower", "x-mixed", "x-lower", "x-mixed", "x-lower", "x-other"};
  const size_t before = names.size() - expected.size();
  EXPECT_EQ(std::vector<std::string>(names.begin() + static_cast<std::ptrdiff_t>(before), names.end()), expected);
  EXPECT_EQ(headers.get("x-mixed"), "m1,m2,m3");
  EXPECT_EQ(headers.get("x-other"), "o3");
}

TEST(LuaHeadersFastPathTest, ReplaceAndRemoveEditTheHeldHeaders) {
  auto headers = requestHeaders({{"x-a", "1"}, {"x-a", "2"}, {"x-b", "3"}});
  runRequest("h:headers():replace('X-A', 'new') h:headers():remove('x-b')", headers);
  EXPECT_EQ(headers.get("x-a"), "new");
  EXPECT_EQ(headers.count("x-a"), 1u);
  EXPECT_EQ(headers.get("x-b"), std::nullopt);
}

TEST(LuaHeadersFastPathTest, GetOfOneValueOfSeveralAndOfNone) {
  auto headers = requestHeaders({{"x-one", "1"}, {"x-two", "a"}, {"x-two", "b"}});
  auto h = runRequest(
      "one = h:headers():get('x-one') two = h:headers():get('X-Two') none = tostring(h:headers():get('x-no'))",
      headers);
  EXPECT_EQ(h->global("one"), "1");
  EXPECT_EQ(h->global("two"), "a,b");
  EXPECT_EQ(h->global("none"), "nil");
}

TEST(LuaHeadersFastPathTest, WrongSelfIsStillATypeError) {
  EXPECT_NE(errorOf("h:headers().add({}, 'x', 'y')").find("expected a headers object"), std::string::npos);
  EXPECT_NE(errorOf("h.headers(nil)").find("expected a stream handle"), std::string::npos)
      << errorOf("h.headers(nil)");
  // The fast calls tell the hook's own objects by address: another userdata
  // (of no pier type) goes the classic way, and is refused there.
  for (const char* call : {"h:headers().add(io.stdout, 'x', 'y')", "h:headers().get(io.stdout, 'x')",
                           "h:headers().replace(io.stdout, 'x', 'y')", "h:headers().remove(io.stdout, 'x')"}) {
    EXPECT_NE(errorOf(call).find("expected a headers object"), std::string::npos) << call << ": " << errorOf(call);
  }
  EXPECT_NE(errorOf("h.headers(io.stdout)"), "<no error>");
  EXPECT_NE(errorOf("h.headers(h:headers())").find("expected a stream handle"), std::string::npos);
}

TEST(LuaHeadersFastPathTest, ScriptsStillGetTheSameFfiModule) {
  auto headers = requestHeaders();
  auto h = runRequest(
      "local ffi = require('ffi') "
      "same = tostring(ffi == require('ffi')) ffi.cdef('int abs(int)') "
      "h:headers():add('x-abs', tostring(ffi.C.abs(-3)))",
      headers);
  EXPECT_EQ(h->global("same"), "true");
  EXPECT_EQ(headers.get("x-abs"), "3");
}

TEST(LuaHeadersTest, NumbersAreAcceptedAsValues) {
  auto headers = requestHeaders();
  runRequest("h:headers():add('x-n', 42)", headers);
  EXPECT_EQ(headers.get("x-n"), "42");
}

TEST(LuaHeadersTest, SetHttp1ReasonPhraseOnResponse) {
  Harness h("function envoy_on_response(h) h:headers():setHttp1ReasonPhrase('Very OK') end");
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders();
  h.filter().onResponseHeaders(resp, true);
  EXPECT_EQ(resp.http1ReasonPhrase(), "Very OK");
}

TEST(LuaHeadersTest, SetHttp1ReasonPhraseOnRequestIsAnError) {
  EXPECT_NE(errorOf("h:headers():setHttp1ReasonPhrase('x')").find("response headers only"),
            std::string::npos);
}

TEST(LuaHeadersTest, ModificationsErrorAfterHeadersContinued) {
  Harness h(R"(
    function envoy_on_response(h)
      local hd = h:headers()
      for chunk in h:bodyChunks() do
        ok, err = pcall(function() hd:replace(':status', '500') end)
        status = hd:get(':status')
      end
    end)");
  ASSERT_NE(h.make(), nullptr);
  auto resp = responseHeaders();
  EXPECT_EQ(h.filter().onResponseHeaders(resp, false), HeadersStatus::kContinue);
  std::string data = "x";
  h.filter().onResponseData(data, true);
  EXPECT_EQ(h.global("ok"), "false");
  EXPECT_NE(h.global("err").find("headers are no longer modifiable"), std::string::npos);
  EXPECT_EQ(h.global("status"), "200");
  EXPECT_EQ(resp.get(":status"), "200");
}

TEST(LuaHeadersTest, MethodCalledWithDotIsAnError) {
  EXPECT_NE(errorOf("h:headers().get('x')").find("expected a headers object"), std::string::npos);
  EXPECT_NE(errorOf("h.headers()").find("expected a stream handle object"), std::string::npos);
}

TEST(LuaHeadersTest, MetatableIsHidden) { EXPECT_EQ(evalRequest("getmetatable(h:headers())"), "false"); }

// --- body buffer --------------------------------------------------------------------

// Runs `body` in a request hook after h:body() returned `b` over "hello world".
std::unique_ptr<Harness> withBody(const std::string& body, filters::HeaderMap& headers) {
  auto h = std::make_unique<Harness>("function envoy_on_request(h)\nlocal b = h:body()\n" + body + "\nend");
  if (h->make() == nullptr) {
    ADD_FAILURE() << h->error();
    return h;
  }
  h->filter().onRequestHeaders(headers, false);
  h->cb.held_request = "hello world";
  h->filter().onRequestData(h->cb.held_request, true);
  return h;
}

TEST(LuaBufferTest, LengthAndGetBytes) {
  auto headers = requestHeaders();
  auto h = withBody("len = b:length() part = b:getBytes(6, 5) empty = b:getBytes(11, 0)", headers);
  EXPECT_EQ(h->global("len"), "11");
  EXPECT_EQ(h->global("part"), "world");
  EXPECT_EQ(h->global("empty"), "");
}

TEST(LuaBufferTest, GetBytesOutOfRangeIsAnError) {
  for (const char* args : {"0, 12", "11, 1", "-1, 2", "3, -1"}) {
    auto headers = requestHeaders();
    auto h = withBody(std::string("ok, err = pcall(b.getBytes, b, ") + args + ")", headers);
    EXPECT_EQ(h->global("ok"), "false") << args;
    EXPECT_NE(h->global("err").find("index out of range"), std::string::npos) << args << h->global("err");
  }
}

TEST(LuaBufferTest, SetBytesReturnsNewLength) {
  auto headers = requestHeaders();
  auto h = withBody("n = b:setBytes('xy') len = b:length()", headers);
  EXPECT_EQ(h->global("n"), "2");
  EXPECT_EQ(h->global("len"), "2");
  EXPECT_EQ(h->cb.held_request, "xy");
  EXPECT_EQ(headers.get("content-length"), "2");
}

TEST(LuaBufferTest, BinaryBytesSurvive) {
  auto headers = requestHeaders();
  auto h = withBody("b:setBytes('a\\0b\\255') n = b:length()", headers);
  EXPECT_EQ(h->global("n"), "4");
  EXPECT_EQ(h->cb.held_request, std::string("a\0b\xff", 4));
}

// --- route metadata -------------------------------------------------------------------

config::Route routeWithMetadata(const std::string& ns = "envoy.filters.http.lua") {
  config::Route route;
  route.name = "meta-route";
  route.metadata = std::make_shared<const nlohmann::json>(nlohmann::json::parse(
      R"({")" + ns +
      R"(": {"foo": "bar", "n": 3, "flag": true, "nested": {"list": [1, "two"]}}, "other": {"foo": "no"}})"));
  return route;
}

TEST(LuaMetadataTest, GetReturnsLuaValues) {
  auto route = routeWithMetadata();
  auto headers = requestHeaders();
  auto h = runRequest(R"(
    local m = h:metadata()
    foo = m:get('foo')
    n = m:get('n') + 1
    flag = m:get('flag')
    second = m:get('nested').list[2]
    missing = m:get('missing'))",
                      headers, &route);
  EXPECT_EQ(h->global("foo"), "bar");
  EXPECT_EQ(h->global("n"), "4");
  EXPECT_EQ(h->global("flag"), "true");
  EXPECT_EQ(h->global("second"), "two");
  EXPECT_EQ(h->global("missing"), "nil");
}

TEST(LuaMetadataTest, PairsIteratesTheNamespace) {
  auto route = routeWithMetadata();
  auto headers = requestHeaders();
  auto h = runRequest(R"(
    local keys = {}
    for k, v in pairs(h:metadata()) do keys[#keys + 1] = k end
    table.sort(keys)
    result = table.concat(keys, ','))",
                      headers, &route);
  EXPECT_EQ(h->global("result"), "flag,foo,n,nested");
}

TEST(LuaMetadataTest, ConfiguredNamespaceIsUsed) {
  auto route = routeWithMetadata("custom.ns");
  Harness h("function envoy_on_request(h) foo = h:metadata():get('foo') end");
  h.config().lua.metadata_namespace = "custom.ns";
  ASSERT_NE(h.make(&route), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(h.global("foo"), "bar");
}

TEST(LuaMetadataTest, NoRouteMetadataGivesNil) {
  EXPECT_EQ(evalRequest("h:metadata():get('foo')"), "nil");
  auto headers = requestHeaders();
  auto h = runRequest("n = 0 for k in pairs(h:metadata()) do n = n + 1 end", headers);
  EXPECT_EQ(h->global("n"), "0");
}

// --- streamInfo -------------------------------------------------------------------------

TEST(LuaStreamInfoTest, Fields) {
  Harness h(R"(
    function envoy_on_request(h)
      local si = h:streamInfo()
      protocol = si:protocol()
      route = si:routeName()
      loc = si:downstreamLocalAddress()
      dloc = si:downstreamDirectLocalAddress()
      rem = si:downstreamRemoteAddress()
      drem = si:downstreamDirectRemoteAddress()
      sni = si:requestedServerName()
      vc = si:virtualClusterName()
      ssl = tostring(si:downstreamSslConnection())
      conn = tostring(h:connection():ssl())
      cprotocol = h:connectionStreamInfo():protocol()
    end)");
  ASSERT_NE(h.make(), nullptr);
  h.cb.own_info.protocol = "HTTP/1.0";
  h.cb.own_info.route_name = "api";
  h.cb.own_info.downstream_local_address = "127.0.0.1:8080";
  h.cb.own_info.downstream_remote_address = "10.0.0.1:5555";
  h.cb.own_info.downstream_direct_remote_address = "127.0.0.2:4444";
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(h.global("protocol"), "HTTP/1.0");
  EXPECT_EQ(h.global("route"), "api");
  EXPECT_EQ(h.global("loc"), "127.0.0.1:8080");
  EXPECT_EQ(h.global("dloc"), "127.0.0.1:8080");
  EXPECT_EQ(h.global("rem"), "10.0.0.1:5555");
  EXPECT_EQ(h.global("drem"), "127.0.0.2:4444");
  EXPECT_EQ(h.global("sni"), "");
  EXPECT_EQ(h.global("vc"), "");
  EXPECT_EQ(h.global("ssl"), "nil");
  EXPECT_EQ(h.global("conn"), "nil");
  EXPECT_EQ(h.global("cprotocol"), "HTTP/1.0");
}

TEST(LuaStreamInfoTest, DrainConnectionUponCompletion) {
  Harness h("function envoy_on_request(h) h:streamInfo():drainConnectionUponCompletion() end");
  ASSERT_NE(h.make(), nullptr);
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_TRUE(h.cb.own_info.drain_connection);
}

TEST(LuaStreamInfoTest, FilterStateGet) {
  Harness h(
      "function envoy_on_request(h) v = h:streamInfo():filterState():get('k') m = "
      "h:streamInfo():filterState():get('none') end");
  ASSERT_NE(h.make(), nullptr);
  h.cb.own_info.filter_state["k"] = "value";
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(h.global("v"), "value");
  EXPECT_EQ(h.global("m"), "nil");
}

TEST(LuaDynamicMetadataTest, SetThenGet) {
  auto headers = requestHeaders();
  auto h = runRequest(R"(
    local dm = h:streamInfo():dynamicMetadata()
    dm:set('my.ns', 'user', 'alice')
    dm:set('my.ns', 'roles', {'a', 'b'})
    dm:set('my.ns', 'attrs', {level = 3})
    local got = dm:get('my.ns')
    user = got.user
    roles = table.concat(got.roles, ',')
    level = got.attrs.level
    missing = tostring(dm:get('other')))",
                      headers);
  EXPECT_EQ(h->global("user"), "alice");
  EXPECT_EQ(h->global("roles"), "a,b");
  EXPECT_EQ(h->global("level"), "3");
  EXPECT_EQ(h->global("missing"), "nil");
  const nlohmann::json* dm = h->cb.own_info.dynamicMetadataIfAny();
  ASSERT_NE(dm, nullptr);
  EXPECT_EQ(dm->dump(), R"({"my.ns":{"attrs":{"level":3},"roles":["a","b"],"user":"alice"}})");
}

TEST(LuaDynamicMetadataTest, VisibleToAnotherFilterOfTheStream) {
  Harness writer(
      "function envoy_on_request(h) h:streamInfo():dynamicMetadata():set('auth', 'user', 'bob') end");
  Harness reader(R"(
    function envoy_on_response(h)
      user = h:streamInfo():dynamicMetadata():get('auth').user
    end)");
  reader.cb.info = &writer.cb.own_info;  // one stream, two filters
  ASSERT_NE(writer.make(), nullptr);
  ASSERT_NE(reader.make(), nullptr);
  auto headers = requestHeaders();
  writer.filter().onRequestHeaders(headers, true);
  auto resp = responseHeaders();
  reader.filter().onResponseHeaders(resp, true);
  EXPECT_EQ(reader.global("user"), "bob");
}

TEST(LuaDynamicMetadataTest, PairsIteratesNamespaces) {
  auto headers = requestHeaders();
  auto h = runRequest(R"(
    local dm = h:streamInfo():dynamicMetadata()
    dm:set('a', 'k', 1)
    dm:set('b', 'k', 2)
    local names = {}
    for ns, t in pairs(dm) do names[#names + 1] = ns .. '=' .. t.k end
    table.sort(names)
    result = table.concat(names, ','))",
                      headers);
  EXPECT_EQ(h->global("result"), "a=1,b=2");
}

TEST(LuaDynamicMetadataTest, UnstorableValuesAreErrors) {
  EXPECT_NE(errorOf("h:streamInfo():dynamicMetadata():set('ns', 'k', function() end)").find("cannot store"),
            std::string::npos);
  EXPECT_NE(errorOf("local t = {} t.self = t h:streamInfo():dynamicMetadata():set('ns', 'k', t)")
                .find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(errorOf("h:streamInfo():dynamicMetadata():set('ns', 'k', 0/0)").find("finite"),
            std::string::npos);
}

// --- logging, time, encoding ---------------------------------------------------------------

TEST(LuaHandleTest, LogFunctionsAcceptStrings) {
  auto headers = requestHeaders();
  auto h = runRequest(R"(
    h:logTrace('t') h:logDebug('d') h:logInfo('i') h:logWarn('w') h:logErr('e') h:logCritical('c')
    done = true)",
                      headers);
  EXPECT_EQ(h->global("done"), "true");
}

TEST(LuaHandleTest, LogRequiresAMessage) {
  EXPECT_NE(errorOf("h:logInfo({})").find("string expected"), std::string::npos);
}

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(LuaHandleTest, TimestampIsMillisecondsSinceEpoch) {
  const int64_t before = nowMillis();
  const std::string ts = evalRequest("string.format('%d', h:timestamp())");
  const int64_t after = nowMillis();
  EXPECT_GE(std::stoll(ts), before);
  EXPECT_LE(std::stoll(ts), after);
  EXPECT_EQ(evalRequest("h:timestamp(EnvoyTimestampResolution.MILLISECOND) > 1.6e12"), "true");
}

TEST(LuaHandleTest, TimestampStringResolutions) {
  const std::string ms = evalRequest("h:timestampString(EnvoyTimestampResolution.MILLISECOND)");
  const std::string us = evalRequest("h:timestampString(EnvoyTimestampResolution.MICROSECOND)");
  EXPECT_EQ(ms.size(), 13u) << ms;
  EXPECT_EQ(us.size(), 16u) << us;
  EXPECT_EQ(ms.find_first_not_of("0123456789"), std::string::npos);
  EXPECT_NE(errorOf("h:timestamp('fortnight')").find("timestamp resolution"), std::string::npos);
}

TEST(LuaHandleTest, Base64Escape) {
  EXPECT_EQ(evalRequest("h:base64Escape('')"), "");
  EXPECT_EQ(evalRequest("h:base64Escape('f')"), "Zg==");
  EXPECT_EQ(evalRequest("h:base64Escape('fo')"), "Zm8=");
  EXPECT_EQ(evalRequest("h:base64Escape('foo')"), "Zm9v");
  EXPECT_EQ(evalRequest("h:base64Escape('foobar')"), "Zm9vYmFy");
  EXPECT_EQ(evalRequest("h:base64Escape('\\255\\254\\0')"), "//4A");
}

TEST(LuaHandleTest, ClearRouteCacheAsksTheStream) {
  auto headers = requestHeaders();
  auto h = runRequest("h:headers():replace(':path', '/other') h:clearRouteCache()", headers);
  EXPECT_EQ(h->cb.route_cache_cleared, 1);
}

TEST(LuaHandleTest, FilterContextFromRouteOverride) {
  config::Route route;
  route.filters["lua"].filter_context =
      std::make_shared<const nlohmann::json>(nlohmann::json::parse(R"({"tenant": "acme", "limit": 5})"));
  auto headers = requestHeaders();
  auto h = runRequest("local c = h:filterContext() result = c.tenant .. c.limit", headers, &route);
  EXPECT_EQ(h->global("result"), "acme5");
}

TEST(LuaHandleTest, FilterContextEmptyWithoutOverride) {
  EXPECT_EQ(evalRequest("next(h:filterContext())"), "nil");
}

TEST(LuaHandleTest, TimestampResolutionGlobalExists) {
  EXPECT_EQ(evalRequest("EnvoyTimestampResolution.MILLISECOND ~= EnvoyTimestampResolution.MICROSECOND"),
            "true");
}

// --- crypto -----------------------------------------------------------------------------------

struct KeyPair {
  KeyPair() { key = EVP_RSA_gen(2048); }
  ~KeyPair() { EVP_PKEY_free(key); }
  std::string publicDer() const {
    unsigned char* out = nullptr;
    const int n = i2d_PUBKEY(key, &out);
    std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    OPENSSL_free(out);
    return der;
  }
  std::string sign(const std::string& data, const EVP_MD* md) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return sig;
  }
  EVP_PKEY* key;
};

class LuaCryptoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { keys_ = new KeyPair(); }
  static void TearDownTestSuite() {
    delete keys_;
    keys_ = nullptr;
  }

  // Runs `body` with globals der, sig and data set to binary strings.
  std::unique_ptr<Harness> run(const std::string& body, const std::string& der, const std::string& sig,
                               const std::string& data) {
    auto h = std::make_unique<Harness>("function envoy_on_request(h)\n" + body + "\nend");
    if (h->make() == nullptr) {
      ADD_FAILURE() << h->error();
      return h;
    }
    lua_State* L = h->script()->state();
    for (auto [name, value] : {std::pair{"der", &der}, std::pair{"sig", &sig}, std::pair{"data", &data}}) {
      lua_pushlstring(L, value->data(), value->size());
      lua_setglobal(L, name);
    }
    auto headers = requestHeaders();
    h->filter().onRequestHeaders(headers, true);
    return h;
  }

  static constexpr const char* kVerify = R"(
    local key = h:importPublicKey(der, string.len(der))
    ok, err = h:verifySignature(hash, key, sig, string.len(sig), data, string.len(data))
    ok = tostring(ok) err = tostring(err))";

  static KeyPair* keys_;
};

KeyPair* LuaCryptoTest::keys_ = nullptr;

TEST_F(LuaCryptoTest, ValidSignatureVerifies) {
  const std::string data = "the message";
  auto h = run(std::string("hash = 'SHA256'") + kVerify, keys_->publicDer(), keys_->sign(data, EVP_sha256()),
               data);
  EXPECT_EQ(h->global("ok"), "true");
  EXPECT_EQ(h->global("err"), "nil");
}

TEST_F(LuaCryptoTest, OtherHashesVerify) {
  const std::string data = "the message";
  auto h = run(std::string("hash = 'sha512'") + kVerify, keys_->publicDer(), keys_->sign(data, EVP_sha512()),
               data);
  EXPECT_EQ(h->global("ok"), "true");
}

TEST_F(LuaCryptoTest, TamperedDataFails) {
  auto h =
      run(std::string("hash = 'SHA256'") + kVerify, keys_->publicDer(), keys_->sign("a", EVP_sha256()), "b");
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_EQ(h->global("err").rfind("Failed to verify digest.", 0), 0u) << h->global("err");
}

TEST_F(LuaCryptoTest, UnsupportedHashFails) {
  auto h =
      run(std::string("hash = 'MD5'") + kVerify, keys_->publicDer(), keys_->sign("a", EVP_sha256()), "a");
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_EQ(h->global("err"), "MD5 is not supported.");
}

TEST_F(LuaCryptoTest, BadKeyFailsAtVerify) {
  auto h = run(std::string("hash = 'SHA256'") + kVerify, "not a key", keys_->sign("a", EVP_sha256()), "a");
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_EQ(h->global("err"), "Failed to initialize digest verify.");
}

TEST_F(LuaCryptoTest, KeyArgumentMustBeAKey) {
  auto h = run("ok, err = pcall(h.verifySignature, h, 'SHA256', 'x', sig, 1, data, 1) err = tostring(err)",
               "", "s", "d");
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_NE(h->global("err").find("importPublicKey"), std::string::npos);
}

TEST_F(LuaCryptoTest, GetOfImportedKeyVerifies) {
  const std::string data = "the message";
  auto h = run(R"(
    local key = h:importPublicKey(der, string.len(der)):get()
    ok, err = h:verifySignature('SHA256', key, sig, string.len(sig), data, string.len(data))
    ok = tostring(ok) err = tostring(err))",
               keys_->publicDer(), keys_->sign(data, EVP_sha256()), data);
  EXPECT_EQ(h->global("ok"), "true");
  EXPECT_EQ(h->global("err"), "nil");
}

TEST_F(LuaCryptoTest, GetOfImportedKeyRejectsTamperedData) {
  auto h = run(R"(
    local key = h:importPublicKey(der, string.len(der)):get()
    ok, err = h:verifySignature('SHA256', key, sig, string.len(sig), data, string.len(data))
    ok = tostring(ok) err = tostring(err))",
               keys_->publicDer(), keys_->sign("a", EVP_sha256()), "b");
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_EQ(h->global("err").rfind("Failed to verify digest.", 0), 0u) << h->global("err");
}

TEST_F(LuaCryptoTest, GetOfGarbageKeyIsNil) {
  auto h = run("result = tostring(h:importPublicKey(der, string.len(der)):get())",
               std::string("\x30\x03\x02\x01\x00", 5), "", "");
  EXPECT_EQ(h->global("result"), "nil");
}

TEST_F(LuaCryptoTest, GetNeedsAKeyAsSelf) {
  auto h =
      run("local key = h:importPublicKey(der, string.len(der)) ok, err = pcall(key.get, {}) "
          "err = tostring(err)",
          keys_->publicDer(), "", "");
  EXPECT_EQ(h->global("ok"), "false");
  EXPECT_NE(h->global("err").find("public key"), std::string::npos) << h->global("err");
}

// --- sandbox ----------------------------------------------------------------------------------------

TEST(LuaSandboxTest, SandboxWithholdsIoOsExecuteAndRequire) {
  Harness h(R"(
    function envoy_on_request(h)
      result = tostring(io) .. ',' .. tostring(os.execute) .. ',' .. tostring(require) .. ',' .. type(os.time)
    end)");
  h.config().lua.sandbox = true;
  ASSERT_NE(h.make(), nullptr) << h.error();
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(h.global("result"), "nil,nil,nil,function");
}

// The fast header calls keep the FFI module as an upvalue; a sandboxed
// script still has no way to it (no debug.getupvalue, no package, no require).
TEST(LuaSandboxTest, FastHeaderCallsWorkAndKeepTheFfiOutOfReach) {
  Harness h(R"(
    function envoy_on_request(h)
      h:headers():add('x-fast', 'yes')
      result = tostring(ffi) .. ',' .. tostring(package) .. ',' .. tostring(debug.getupvalue)
    end)");
  h.config().lua.sandbox = true;
  ASSERT_NE(h.make(), nullptr) << h.error();
  h.script()->useFastPaths();
  auto headers = requestHeaders();
  h.filter().onRequestHeaders(headers, true);
  EXPECT_EQ(headers.get("x-fast"), "yes");
  EXPECT_EQ(h.global("result"), "nil,nil,nil");
}

TEST(LuaSandboxTest, UnsandboxedScriptsHaveTheStandardLibraries) {
  EXPECT_EQ(evalRequest("type(io) .. ',' .. type(os.execute) .. ',' .. type(require('ffi'))"),
            "table,function,table");
}

}  // namespace
}  // namespace pier::lua
