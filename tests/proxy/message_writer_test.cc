// The heads pier sends: the request to an upstream and the response to a
// client. One test per forwarding rule.
#include "src/proxy/message_writer.h"

#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pier::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

struct Parsed {
  std::string start_line;
  std::vector<std::pair<std::string, std::string>> headers;
  bool terminated = false;

  // Values of every header called `name` (case-insensitive), in order.
  std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers) {
      if (http::iequals(n, name)) out.push_back(v);
    }
    return out;
  }
  bool has(std::string_view name) const { return !all(name).empty(); }
};

Parsed parseHead(std::string_view text) {
  Parsed p;
  size_t pos = text.find("\r\n");
  if (pos == std::string_view::npos) return p;
  p.start_line = std::string(text.substr(0, pos));
  text.remove_prefix(pos + 2);
  while (true) {
    pos = text.find("\r\n");
    if (pos == std::string_view::npos) return p;
    std::string_view line = text.substr(0, pos);
    text.remove_prefix(pos + 2);
    if (line.empty()) {
      p.terminated = text.empty();
      return p;
    }
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) return p;
    p.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
}

// --- upstream request --------------------------------------------------------

class UpstreamRequestTest : public ::testing::Test {
 protected:
  UpstreamRequestTest() {
    head_.method = "GET";
    head_.target = "/orig";
    head_.host = "front.example";
  }

  void header(std::string_view name, std::string_view value) { head_.headers.push_back({name, value}); }

  Parsed write(const config::Route* route = nullptr) {
    UpstreamRequest r{&head_, &fwd_, route, path_, host_, client_ip_, request_id_};
    std::string out = "stale bytes that must be replaced";
    writeUpstreamRequestHead(out, r);
    raw_ = out;
    Parsed p = parseHead(out);
    EXPECT_TRUE(p.terminated) << out;
    return p;
  }

  http::RequestHead head_;
  config::ForwardingHeaders fwd_;
  std::string_view path_ = "/orig";
  std::string_view host_ = "front.example";
  std::string_view client_ip_ = "192.0.2.7";
  std::string_view request_id_;
  std::string raw_;
};

TEST_F(UpstreamRequestTest, RequestLineUsesTheRewrittenPathAndHttp11) {
  head_.version = http::Version::kHttp10;
  path_ = "/new/path?q=1";
  EXPECT_EQ(write().start_line, "GET /new/path?q=1 HTTP/1.1");
}

TEST_F(UpstreamRequestTest, HostIsTheRewrittenHostAndComesFirst) {
  header("Host", "front.example");
  header("Accept", "*/*");
  host_ = "backend.internal:8080";
  Parsed p = write();
  ASSERT_FALSE(p.headers.empty());
  EXPECT_EQ(p.headers[0], (std::pair<std::string, std::string>{"host", "backend.internal:8080"}));
  EXPECT_THAT(p.all("host"), ElementsAre("backend.internal:8080"));
}

TEST_F(UpstreamRequestTest, EndToEndHeadersKeepNameValueAndOrder) {
  header("Accept", "text/html");
  header("X-Custom", "a, b");
  header("Cookie", "x=1");
  header("Cookie", "y=2");
  fwd_.x_forwarded_for = false;
  fwd_.x_forwarded_proto = false;
  Parsed p = write();
  EXPECT_THAT(p.headers, ElementsAre(Pair("host", "front.example"), Pair("Accept", "text/html"),
                                     Pair("X-Custom", "a, b"), Pair("Cookie", "x=1"), Pair("Cookie", "y=2")));
}

TEST_F(UpstreamRequestTest, HopByHopHeadersAreRemoved) {
  header("Connection", "keep-alive");
  header("Keep-Alive", "timeout=5");
  header("TE", "trailers");
  header("Trailer", "x-checksum");
  header("Proxy-Connection", "keep-alive");
  header("Upgrade", "h2c");
  header("X-Kept", "1");
  Parsed p = write();
  for (const char* name : {"connection", "keep-alive", "te", "trailer", "proxy-connection", "upgrade"}) {
    EXPECT_FALSE(p.has(name)) << name;
  }
  EXPECT_THAT(p.all("x-kept"), ElementsAre("1"));
}

TEST_F(UpstreamRequestTest, HeadersNamedInConnectionAreRemoved) {
  header("Connection", "close, X-Secret");
  header("Connection", " x-other ");
  header("x-secret", "s");
  header("X-OTHER", "o");
  header("X-Kept", "k");
  Parsed p = write();
  EXPECT_FALSE(p.has("x-secret"));
  EXPECT_FALSE(p.has("x-other"));
  EXPECT_THAT(p.all("x-kept"), ElementsAre("k"));
}

TEST_F(UpstreamRequestTest, XForwardedForIsAddedWhenAbsent) {
  EXPECT_THAT(write().all("x-forwarded-for"), ElementsAre("192.0.2.7"));
}

TEST_F(UpstreamRequestTest, XForwardedForAppendsToAnExistingOne) {
  header("X-Forwarded-For", "203.0.113.1");
  EXPECT_THAT(write().all("x-forwarded-for"), ElementsAre("203.0.113.1, 192.0.2.7"));
}

TEST_F(UpstreamRequestTest, XForwardedForJoinsSeveralIncomingLinesIntoOne) {
  header("X-Forwarded-For", "203.0.113.1, 203.0.113.2");
  header("x-forwarded-for", "198.51.100.9");
  EXPECT_THAT(write().all("x-forwarded-for"),
              ElementsAre("203.0.113.1, 203.0.113.2, 198.51.100.9, 192.0.2.7"));
}

TEST_F(UpstreamRequestTest, XForwardedForOffPassesTheClientsValueThrough) {
  fwd_.x_forwarded_for = false;
  header("X-Forwarded-For", "203.0.113.1");
  EXPECT_THAT(write().all("x-forwarded-for"), ElementsAre("203.0.113.1"));
}

TEST_F(UpstreamRequestTest, XForwardedProtoIsReplaced) {
  header("X-Forwarded-Proto", "https");
  EXPECT_THAT(write().all("x-forwarded-proto"), ElementsAre("http"));
}

TEST_F(UpstreamRequestTest, XForwardedProtoOffPassesTheClientsValueThrough) {
  fwd_.x_forwarded_proto = false;
  header("X-Forwarded-Proto", "https");
  EXPECT_THAT(write().all("x-forwarded-proto"), ElementsAre("https"));
  head_.headers.clear();
  EXPECT_FALSE(write().has("x-forwarded-proto"));
}

TEST_F(UpstreamRequestTest, RequestIdIsAddedWhenAbsent) {
  request_id_ = "0b7c1a4e-3f4d-4c1e-9a1b-2c3d4e5f6a7b";
  EXPECT_THAT(write().all("x-request-id"), ElementsAre("0b7c1a4e-3f4d-4c1e-9a1b-2c3d4e5f6a7b"));
}

TEST_F(UpstreamRequestTest, RequestIdFromTheClientIsKeptAndNotDuplicated) {
  header("X-Request-ID", "client-id-1");
  request_id_ = "client-id-1";
  EXPECT_THAT(write().all("x-request-id"), ElementsAre("client-id-1"));
}

TEST_F(UpstreamRequestTest, ClientRequestIdWinsOverAGeneratedOne) {
  header("x-request-id", "mine");
  request_id_ = "generated";
  EXPECT_THAT(write().all("x-request-id"), ElementsAre("mine"));
}

TEST_F(UpstreamRequestTest, RequestIdUsesTheConfiguredHeaderName) {
  fwd_.request_id_header = "x-trace-id";
  request_id_ = "t-1";
  Parsed p = write();
  EXPECT_THAT(p.all("x-trace-id"), ElementsAre("t-1"));
  EXPECT_FALSE(p.has("x-request-id"));
}

TEST_F(UpstreamRequestTest, NoRequestIdWhenTheHeaderNameIsEmpty) {
  fwd_.request_id_header = "";
  request_id_ = "r-1";
  Parsed p = write();
  EXPECT_FALSE(p.has("x-request-id"));
  EXPECT_EQ(raw_.find("r-1"), std::string::npos);
}

TEST_F(UpstreamRequestTest, NoRequestIdWhenNoneWasGiven) { EXPECT_FALSE(write().has("x-request-id")); }

TEST_F(UpstreamRequestTest, ViaIsOffByDefault) { EXPECT_FALSE(write().has("via")); }

TEST_F(UpstreamRequestTest, ViaNamesTheClientsProtocolVersion) {
  fwd_.via = true;
  EXPECT_THAT(write().all("via"), ElementsAre("1.1 pier"));
  head_.version = http::Version::kHttp10;
  EXPECT_THAT(write().all("via"), ElementsAre("1.0 pier"));
}

TEST_F(UpstreamRequestTest, ViaIsAddedAfterAnIncomingVia) {
  fwd_.via = true;
  header("Via", "1.1 edge");
  EXPECT_THAT(write().all("via"), ElementsAre("1.1 edge", "1.1 pier"));
}

TEST_F(UpstreamRequestTest, RouteAddReplacesAnExistingHeader) {
  config::Route route;
  route.request_headers_to_add.push_back({"x-env", "prod", false});
  header("X-Env", "dev");
  EXPECT_THAT(write(&route).all("x-env"), ElementsAre("prod"));
}

TEST_F(UpstreamRequestTest, RouteAddAppendsWhenAsked) {
  config::Route route;
  route.request_headers_to_add.push_back({"x-tag", "b", true});
  header("X-Tag", "a");
  EXPECT_THAT(write(&route).all("x-tag"), ElementsAre("a", "b"));
}

TEST_F(UpstreamRequestTest, RouteAddAddsWhenAbsent) {
  config::Route route;
  route.request_headers_to_add.push_back({"x-new", "1", false});
  route.request_headers_to_add.push_back({"x-more", "2", true});
  Parsed p = write(&route);
  EXPECT_THAT(p.all("x-new"), ElementsAre("1"));
  EXPECT_THAT(p.all("x-more"), ElementsAre("2"));
}

// Regression (fixed): src/proxy/message_writer.cc:92-113 applies a route's replacing
// request_headers_to_add only to headers the client sent; the forwarding
// headers pier generates itself (x-forwarded-proto, x-forwarded-for, via, the
// request id) are written anyway, so a route that sets
// {name: x-forwarded-proto, value: https, append: false} (TLS terminated in
// front of pier) sends both "http" and "https" upstream. config.h:50 defines
// append=false as "replace an existing header of that name". Fix: skip a
// generated header when replacedBy(route->request_headers_to_add, name) (and
// when listed in request_headers_to_remove, if removal should win too).
TEST_F(UpstreamRequestTest, RouteReplaceAlsoReplacesGeneratedForwardingHeaders) {
  config::Route route;
  route.request_headers_to_add.push_back({"x-forwarded-proto", "https", false});
  EXPECT_THAT(write(&route).all("x-forwarded-proto"), ElementsAre("https"));
}

TEST_F(UpstreamRequestTest, RouteRemoveDropsHeadersInAnyCase) {
  config::Route route;
  route.request_headers_to_remove = {"x-internal", "COOKIE"};
  header("X-Internal", "1");
  header("cookie", "a=b");
  header("X-Kept", "k");
  Parsed p = write(&route);
  EXPECT_FALSE(p.has("x-internal"));
  EXPECT_FALSE(p.has("cookie"));
  EXPECT_TRUE(p.has("x-kept"));
}

TEST_F(UpstreamRequestTest, ContentLengthIsWrittenFromTheParsedLength) {
  head_.method = "POST";
  head_.body = http::BodyKind::kContentLength;
  head_.content_length = 42;
  header("Content-Length", "42");
  Parsed p = write();
  EXPECT_THAT(p.all("content-length"), ElementsAre("42"));
  EXPECT_FALSE(p.has("transfer-encoding"));
}

TEST_F(UpstreamRequestTest, ChunkedBodyIsSentChunked) {
  head_.method = "POST";
  head_.body = http::BodyKind::kChunked;
  header("Transfer-Encoding", "chunked");
  Parsed p = write();
  EXPECT_THAT(p.all("transfer-encoding"), ElementsAre("chunked"));
  EXPECT_FALSE(p.has("content-length"));
}

TEST_F(UpstreamRequestTest, BodylessPostPutAndPatchSendContentLengthZero) {
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    head_.method = method;
    EXPECT_THAT(write().all("content-length"), ElementsAre("0")) << method;
  }
}

TEST_F(UpstreamRequestTest, BodylessGetHasNoFramingHeaders) {
  Parsed p = write();
  EXPECT_FALSE(p.has("content-length"));
  EXPECT_FALSE(p.has("transfer-encoding"));
}

TEST_F(UpstreamRequestTest, ExpectIsNotForwarded) {
  head_.method = "PUT";
  head_.body = http::BodyKind::kContentLength;
  head_.content_length = 5;
  head_.expect_continue = true;
  header("Expect", "100-continue");
  EXPECT_FALSE(write().has("expect"));
}

TEST_F(UpstreamRequestTest, UpgradeIsForwardedWithConnectionUpgrade) {
  head_.upgrade = true;
  header("Connection", "Upgrade");
  header("Upgrade", "websocket");
  header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  Parsed p = write();
  EXPECT_THAT(p.all("connection"), ElementsAre("upgrade"));
  EXPECT_THAT(p.all("upgrade"), ElementsAre("websocket"));
  EXPECT_THAT(p.all("sec-websocket-key"), ElementsAre("dGhlIHNhbXBsZSBub25jZQ=="));
}

TEST_F(UpstreamRequestTest, ConnectIsNotTreatedAsAnUpgrade) {
  head_.method = "CONNECT";
  head_.upgrade = true;
  header("Upgrade", "websocket");
  Parsed p = write();
  EXPECT_FALSE(p.has("upgrade"));
  EXPECT_FALSE(p.has("connection"));
}

TEST_F(UpstreamRequestTest, OutputIsReplacedNotAppended) {
  write();
  EXPECT_THAT(raw_, StartsWith("GET /orig HTTP/1.1\r\n"));
}

// --- downstream response -----------------------------------------------------

class DownstreamResponseTest : public ::testing::Test {
 protected:
  DownstreamResponseTest() {
    head_.status = 200;
    head_.reason = "OK";
  }

  void header(std::string_view name, std::string_view value) { head_.headers.push_back({name, value}); }

  Parsed write() {
    DownstreamResponse r{&head_, route_, framing_, close_, http10_, request_id_, "x-request-id"};
    Buffer out;
    writeDownstreamResponseHead(out, r);
    raw_ = std::string(out.readable());
    Parsed p = parseHead(raw_);
    EXPECT_TRUE(p.terminated) << raw_;
    return p;
  }

  http::ResponseHead head_;
  const config::Route* route_ = nullptr;
  DownstreamFraming framing_ = DownstreamFraming::kAsIs;
  bool close_ = false;
  bool http10_ = false;
  std::string_view request_id_;
  std::string raw_;
};

TEST_F(DownstreamResponseTest, StatusLineIsHttp11WithTheUpstreamReason) {
  head_.version = http::Version::kHttp10;
  head_.reason = "Fine Thanks";
  EXPECT_EQ(write().start_line, "HTTP/1.1 200 Fine Thanks");
}

TEST_F(DownstreamResponseTest, MissingReasonIsFilledInFromTheStatus) {
  head_.status = 404;
  head_.reason = "";
  EXPECT_EQ(write().start_line, "HTTP/1.1 404 Not Found");
}

TEST_F(DownstreamResponseTest, EndToEndHeadersKeepNameValueAndOrder) {
  header("Content-Type", "text/plain");
  header("Set-Cookie", "a=1");
  header("Set-Cookie", "b=2");
  header("Content-Length", "5");
  EXPECT_THAT(write().headers, ElementsAre(Pair("Content-Type", "text/plain"), Pair("Set-Cookie", "a=1"),
                                           Pair("Set-Cookie", "b=2"), Pair("Content-Length", "5")));
}

TEST_F(DownstreamResponseTest, HopByHopHeadersAreRemoved) {
  header("Connection", "keep-alive");
  header("Keep-Alive", "timeout=5");
  header("Proxy-Connection", "keep-alive");
  header("Trailer", "x-sum");
  header("Upgrade", "h2c");
  header("X-Kept", "1");
  Parsed p = write();
  for (const char* name : {"connection", "keep-alive", "proxy-connection", "trailer", "upgrade"}) {
    EXPECT_FALSE(p.has(name)) << name;
  }
  EXPECT_TRUE(p.has("x-kept"));
}

TEST_F(DownstreamResponseTest, HeadersNamedInConnectionAreRemoved) {
  header("Connection", "X-Backend-Private");
  header("X-Backend-Private", "secret");
  header("X-Public", "p");
  Parsed p = write();
  EXPECT_FALSE(p.has("x-backend-private"));
  EXPECT_TRUE(p.has("x-public"));
}

TEST_F(DownstreamResponseTest, HeadersNamedInALongConnectionListAreRemoved) {
  // More tokens than the writer keeps at hand: every named header still goes.
  std::string list;
  for (int i = 0; i < 12; ++i) list += (i ? ", x-hop-" : "x-hop-") + std::to_string(i);
  header("Connection", list);
  std::vector<std::string> names;  // header() keeps views
  names.reserve(12);
  for (int i = 0; i < 12; ++i) {
    names.push_back("X-Hop-" + std::to_string(i));
    header(names.back(), "v");
  }
  header("X-Kept", "k");
  Parsed p = write();
  for (int i = 0; i < 12; ++i) EXPECT_FALSE(p.has("x-hop-" + std::to_string(i))) << i;
  EXPECT_THAT(p.all("x-kept"), ElementsAre("k"));
}

TEST_F(DownstreamResponseTest, ContentLengthIsKeptWhenFramingIsAsIs) {
  head_.body = http::BodyKind::kContentLength;
  head_.content_length = 5;
  header("Content-Length", "5");
  Parsed p = write();
  EXPECT_THAT(p.all("content-length"), ElementsAre("5"));
  EXPECT_FALSE(p.has("transfer-encoding"));
}

TEST_F(DownstreamResponseTest, UpstreamChunkedStaysChunked) {
  head_.body = http::BodyKind::kChunked;
  header("Transfer-Encoding", "chunked");
  EXPECT_THAT(write().all("transfer-encoding"), ElementsAre("chunked"));
}

TEST_F(DownstreamResponseTest, ChunkedFramingReplacesContentLength) {
  head_.body = http::BodyKind::kUntilClose;
  header("Content-Length", "5");
  framing_ = DownstreamFraming::kChunked;
  Parsed p = write();
  EXPECT_FALSE(p.has("content-length"));
  EXPECT_THAT(p.all("transfer-encoding"), ElementsAre("chunked"));
}

TEST_F(DownstreamResponseTest, CloseDelimitedFramingHasNoLengthAndNoChunking) {
  head_.body = http::BodyKind::kChunked;
  header("Transfer-Encoding", "chunked");
  header("Content-Length", "5");
  framing_ = DownstreamFraming::kCloseDelimited;
  close_ = true;
  Parsed p = write();
  EXPECT_FALSE(p.has("content-length"));
  EXPECT_FALSE(p.has("transfer-encoding"));
  EXPECT_THAT(p.all("connection"), ElementsAre("close"));
}

TEST_F(DownstreamResponseTest, CloseIsAnnounced) {
  close_ = true;
  EXPECT_THAT(write().all("connection"), ElementsAre("close"));
}

TEST_F(DownstreamResponseTest, Http10ClientIsToldTheConnectionStaysOpen) {
  http10_ = true;
  EXPECT_THAT(write().all("connection"), ElementsAre("keep-alive"));
}

TEST_F(DownstreamResponseTest, CloseWinsOverKeepAliveForHttp10) {
  http10_ = true;
  close_ = true;
  EXPECT_THAT(write().all("connection"), ElementsAre("close"));
}

TEST_F(DownstreamResponseTest, PersistentHttp11NeedsNoConnectionHeader) {
  header("Connection", "keep-alive");
  EXPECT_FALSE(write().has("connection"));
}

TEST_F(DownstreamResponseTest, SwitchingProtocolsKeepsTheUpgrade) {
  head_.status = 101;
  head_.reason = "Switching Protocols";
  header("Connection", "Upgrade");
  header("Upgrade", "websocket");
  header("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  close_ = true;  // the upgrade decides the connection header
  Parsed p = write();
  EXPECT_EQ(p.start_line, "HTTP/1.1 101 Switching Protocols");
  EXPECT_THAT(p.all("connection"), ElementsAre("upgrade"));
  EXPECT_THAT(p.all("upgrade"), ElementsAre("websocket"));
  EXPECT_THAT(p.all("sec-websocket-accept"), ElementsAre("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

TEST_F(DownstreamResponseTest, RouteAddReplacesAppendsAndAdds) {
  config::Route route;
  route.response_headers_to_add = {
      {"cache-control", "no-store", false}, {"x-served-by", "pier", true}, {"x-fresh", "1", false}};
  route_ = &route;
  header("Cache-Control", "max-age=60");
  header("X-Served-By", "backend-1");
  Parsed p = write();
  EXPECT_THAT(p.all("cache-control"), ElementsAre("no-store"));
  EXPECT_THAT(p.all("x-served-by"), ElementsAre("backend-1", "pier"));
  EXPECT_THAT(p.all("x-fresh"), ElementsAre("1"));
}

TEST_F(DownstreamResponseTest, RouteRemoveDropsHeadersInAnyCase) {
  config::Route route;
  route.response_headers_to_remove = {"server", "X-POWERED-BY"};
  route_ = &route;
  header("Server", "nginx");
  header("x-powered-by", "php");
  header("Date", "today");
  Parsed p = write();
  EXPECT_FALSE(p.has("server"));
  EXPECT_FALSE(p.has("x-powered-by"));
  EXPECT_TRUE(p.has("date"));
}

TEST_F(DownstreamResponseTest, HeadersGivenApartReplaceTheHeads) {
  header("X-From-Head", "1");
  const std::vector<http::Header> given = {{"x-from-map", "2"}, {"Connection", "close"}, {"x-a", "3"}};
  DownstreamResponse r{&head_, nullptr, DownstreamFraming::kAsIs, false, false, {}, {}, given};
  Buffer out;
  writeDownstreamResponseHead(out, r);
  const Parsed p = parseHead(std::string(out.readable()));
  EXPECT_FALSE(p.has("x-from-head"));
  EXPECT_TRUE(p.has("x-from-map"));
  EXPECT_TRUE(p.has("x-a"));
  EXPECT_FALSE(p.has("connection"));  // hop-by-hop, from the given list too
}

TEST_F(DownstreamResponseTest, AppendsToWhatTheBufferAlreadyHolds) {
  DownstreamResponse r{&head_, nullptr, DownstreamFraming::kAsIs, false, false, {}};
  Buffer out;
  out.append("previous-response-tail");
  writeDownstreamResponseHead(out, r);
  EXPECT_THAT(std::string(out.readable()), StartsWith("previous-response-tailHTTP/1.1 200 OK\r\n"));
}

// Regression (fixed): src/proxy/message_writer.cc:130 writeDownstreamResponseHead() ignores
// DownstreamResponse::request_id, which message_writer.h:34 documents as
// "echoed when non-empty and not already present". HttpConnection passes the
// request id (http_upstream.cc:419) and echoes it in its own local replies
// (http_connection.cc:484), so proxied responses and local replies disagree.
// Fix: add the header name to DownstreamResponse (the listener's
// forwarding.request_id_header) and append "<name>: <id>" when the id is
// non-empty and the upstream response has no header of that name.
TEST_F(DownstreamResponseTest, RequestIdIsEchoedWhenGiven) {
  request_id_ = "5f0c6a1e-0d2b-4c3a-8e4f-1a2b3c4d5e6f";
  write();
  EXPECT_NE(raw_.find(": 5f0c6a1e-0d2b-4c3a-8e4f-1a2b3c4d5e6f\r\n"), std::string::npos) << raw_;
}

TEST_F(DownstreamResponseTest, NoRequestIdWhenNoneWasGiven) {
  Parsed p = write();
  EXPECT_FALSE(p.has("x-request-id"));
}

// --- request ids -------------------------------------------------------------

TEST(RequestIdTest, IsAVersion4Variant1Uuid) {
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  uint64_t a = 0x9e3779b97f4a7c15ULL;
  uint64_t b = 0xbf58476d1ce4e5b9ULL;
  for (int i = 0; i < 200; ++i) {
    a = a * 6364136223846793005ULL + 1442695040888963407ULL;
    b ^= a >> 7;
    b *= 0x94d049bb133111ebULL;
    EXPECT_TRUE(std::regex_match(makeRequestId(a, b), uuid)) << makeRequestId(a, b);
  }
}

TEST(RequestIdTest, KeepsEveryBitButTheVersionAndVariant) {
  EXPECT_EQ(makeRequestId(0x0123456789abcdefULL, 0xfedcba9876543210ULL),
            "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(makeRequestId(0, 0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(makeRequestId(~0ULL, ~0ULL), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

TEST(RequestIdTest, DifferentInputsGiveDifferentIds) {
  std::set<std::string> ids;
  for (uint64_t i = 0; i < 100; ++i) {
    ids.insert(makeRequestId(i, i * 0x9e3779b97f4a7c15ULL));
  }
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace pier::proxy
