#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/http/codec.h"

namespace pier::http {
namespace {

struct Outcome {
  ParseStatus status = ParseStatus::kIncomplete;
  ParseFailure failure;
};

Outcome parseOnce(std::string_view raw, RequestHead& head, const ParseLimits& limits = {}) {
  RequestParser parser(limits);
  Outcome o;
  o.status = parser.parse(raw, head);
  o.failure = parser.failure();
  return o;
}

// Asserts that `raw` is rejected with `status`, and that the reason names the rule.
void expectReject(const std::string& raw, int status, std::string_view reason_part) {
  RequestHead head;
  const Outcome o = parseOnce(raw, head);
  ASSERT_EQ(o.status, ParseStatus::kError) << raw;
  EXPECT_EQ(o.failure.status, status) << raw;
  EXPECT_NE(o.failure.reason.find(reason_part), std::string_view::npos)
      << "reason '" << o.failure.reason << "' lacks '" << reason_part << "'";
}

std::string withHeaders(const std::string& headers, const std::string& version = "HTTP/1.1") {
  return "POST /p " + version + "\r\n" + headers + "\r\n";
}

// --- positive -----------------------------------------------------------------

TEST(RequestParser, ParsesSimpleGet) {
  const std::string raw = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html");
  EXPECT_EQ(head.version, Version::kHttp11);
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "example.com");
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.body, BodyKind::kNone);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_FALSE(head.upgrade);
  EXPECT_EQ(head.head_bytes, raw.size());
}

TEST(RequestParser, HeadViewsPointIntoCallerBuffer) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method.data(), raw.data());
  EXPECT_EQ(head.headers[0].value.data(), raw.data() + raw.find("h\r\n\r\n"));
}

TEST(RequestParser, TrimsOptionalWhitespaceAroundValues) {
  const std::string raw = "GET / HTTP/1.1\r\nHost:  \t h \t \r\nX-Empty:\r\nX-Inner: a  b\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.headers[0].value, "h");
  EXPECT_EQ(head.headers[1].value, "");
  EXPECT_EQ(head.headers[2].value, "a  b");
}

TEST(RequestParser, AllowsHtabAndObsTextInValues) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\tb\r\nX-B: caf\xc3\xa9\xff\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.headers[1].value, "a\tb");
  EXPECT_EQ(head.headers[2].value, "caf\xc3\xa9\xff");
}

TEST(RequestParser, IncompleteUntilEmptyLine) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n";
  RequestHead head;
  EXPECT_EQ(parseOnce(raw, head).status, ParseStatus::kIncomplete);
  EXPECT_EQ(parseOnce(raw + "\r", head).status, ParseStatus::kIncomplete);
  EXPECT_EQ(parseOnce(raw + "\r\n", head).status, ParseStatus::kComplete);
}

TEST(RequestParser, PipelinedRequestsAreFoundThroughHeadBytes) {
  const std::string raw =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestParser parser({});
  RequestHead head;
  std::string_view rest = raw;
  std::vector<std::string> targets;
  while (!rest.empty()) {
    ASSERT_EQ(parser.parse(rest, head), ParseStatus::kComplete);
    targets.emplace_back(head.target);
    rest.remove_prefix(head.head_bytes + head.content_length);
    parser.reset();
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(RequestParser, ByteByByteFeedingMatchesOneShot) {
  const std::string raw =
      "\r\nPUT /x?y=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 12\r\n"
      "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nExpect: 100-Continue\r\n\r\n";
  RequestHead once;
  ASSERT_EQ(parseOnce(raw, once).status, ParseStatus::kComplete);

  RequestParser parser({});
  RequestHead inc;
  for (size_t n = 1; n < raw.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(raw).substr(0, n), inc), ParseStatus::kIncomplete) << n;
  }
  ASSERT_EQ(parser.parse(raw, inc), ParseStatus::kComplete);
  EXPECT_EQ(inc.method, once.method);
  EXPECT_EQ(inc.target, once.target);
  EXPECT_EQ(inc.host, once.host);
  EXPECT_EQ(inc.body, once.body);
  EXPECT_EQ(inc.content_length, once.content_length);
  EXPECT_EQ(inc.keep_alive, once.keep_alive);
  EXPECT_EQ(inc.expect_continue, once.expect_continue);
  EXPECT_EQ(inc.upgrade, once.upgrade);
  EXPECT_EQ(inc.head_bytes, once.head_bytes);
  ASSERT_EQ(inc.headers.size(), once.headers.size());
  for (size_t i = 0; i < inc.headers.size(); ++i) {
    EXPECT_EQ(inc.headers[i].name, once.headers[i].name);
    EXPECT_EQ(inc.headers[i].value, once.headers[i].value);
  }
}

TEST(RequestParser, SkipsLeadingEmptyLines) {
  const std::string raw = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.head_bytes, raw.size());
}

TEST(RequestParser, OnlyEmptyLinesIsIncomplete) {
  RequestHead head;
  EXPECT_EQ(parseOnce("\r\n\r\n", head).status, ParseStatus::kIncomplete);
  EXPECT_EQ(parseOnce("\r", head).status, ParseStatus::kIncomplete);
}

TEST(RequestParser, ReusesHeaderStorage) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
  RequestParser parser({});
  RequestHead head;
  ASSERT_EQ(parser.parse(raw, head), ParseStatus::kComplete);
  const Header* storage = head.headers.data();
  parser.reset();
  ASSERT_EQ(parser.parse(raw, head), ParseStatus::kComplete);
  EXPECT_EQ(head.headers.data(), storage);
  EXPECT_EQ(head.headers.size(), 3u);
}

TEST(RequestParser, ReadyForNextMessageAfterComplete) {
  const std::string first = "GET /first/longer/target HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string second = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestParser parser({});
  RequestHead head;
  ASSERT_EQ(parser.parse(first, head), ParseStatus::kComplete);
  ASSERT_EQ(parser.parse(second, head), ParseStatus::kComplete);
  EXPECT_EQ(head.target, "/2");
}

TEST(RequestParser, ReusedHeadIsResetBetweenRequests) {
  const std::string first = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
  const std::string second = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestParser parser({});
  RequestHead head;
  ASSERT_EQ(parser.parse(first, head), ParseStatus::kComplete);
  parser.reset();
  ASSERT_EQ(parser.parse(second, head), ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kNone);
  EXPECT_EQ(head.content_length, 0u);
}

TEST(RequestParser, ContentLengthBody) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nContent-Length: 42\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kContentLength);
  EXPECT_EQ(head.content_length, 42u);
}

TEST(RequestParser, ZeroContentLengthMeansNoBody) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nContent-Length: 0\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kNone);
  EXPECT_EQ(head.content_length, 0u);
}

TEST(RequestParser, IdenticalContentLengthsCollapse) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 5u);
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nContent-Length: 5, 5\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 5u);
}

TEST(RequestParser, LargestContentLengthFits) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nContent-Length: 18446744073709551615\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, UINT64_MAX);
}

TEST(RequestParser, ChunkedBody) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nTransfer-Encoding: Chunked\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kChunked);
}

TEST(RequestParser, Http11KeepsAliveByDefault) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(RequestParser, ConnectionCloseEndsHttp11) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nConnection: foo, Close\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestParser, Http10ClosesByDefault) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("", "HTTP/1.0"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.version, Version::kHttp10);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_EQ(head.host, "");
}

TEST(RequestParser, Http10KeepAliveOptIn) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Connection: Keep-Alive\r\n", "HTTP/1.0"), head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(RequestParser, ExpectContinueIsCaseInsensitive) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nExpect: 100-CONTINUE\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.expect_continue);
}

TEST(RequestParser, UpgradeNeedsConnectionTokenAndUpgradeHeader) {
  RequestHead head;
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.upgrade);
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nConnection: upgrade\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.upgrade);
  ASSERT_EQ(parseOnce(withHeaders("Host: h\r\nUpgrade: websocket\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_FALSE(head.upgrade);
}

TEST(RequestParser, ConnectIsAnUpgrade) {
  RequestHead head;
  ASSERT_EQ(parseOnce("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", head).status,
            ParseStatus::kComplete);
  EXPECT_TRUE(head.upgrade);
  EXPECT_EQ(head.path(), "");
}

TEST(RequestParser, AcceptsIpv6Host) {
  const std::string raw = withHeaders("Host: [::1]:8080\r\n");
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.host, "[::1]:8080");
}

TEST(RequestParser, AcceptsEmptyHost) {
  const std::string raw = withHeaders("Host:\r\n");
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.host, "");
}

// --- request-target -----------------------------------------------------------

TEST(RequestTarget, OriginFormSplitsAtQuestionMark) {
  RequestHead head;
  head.target = "/a/b?x=1&y=2";
  EXPECT_EQ(head.path(), "/a/b");
  EXPECT_EQ(head.query(), "x=1&y=2");
}

TEST(RequestTarget, OriginFormWithoutQuery) {
  RequestHead head;
  head.target = "/a";
  EXPECT_EQ(head.path(), "/a");
  EXPECT_EQ(head.query(), "");
}

TEST(RequestTarget, AbsoluteFormSkipsSchemeAndAuthority) {
  RequestHead head;
  head.target = "http://example.com:8080/p/q?r=s";
  EXPECT_EQ(head.path(), "/p/q");
  EXPECT_EQ(head.query(), "r=s");
}

TEST(RequestTarget, AbsoluteFormWithoutPathIsSlash) {
  RequestHead head;
  head.target = "https://example.com";
  EXPECT_EQ(head.path(), "/");
  EXPECT_EQ(head.query(), "");
  head.target = "http://example.com?q";
  EXPECT_EQ(head.path(), "/");
  EXPECT_EQ(head.query(), "q");
}

TEST(RequestTarget, AbsoluteFormSchemeIsCaseInsensitive) {
  RequestHead head;
  head.target = "HTTP://Example.com/x";
  EXPECT_EQ(head.path(), "/x");
}

TEST(RequestTarget, AsteriskForm) {
  RequestHead head;
  head.target = "*";
  EXPECT_EQ(head.path(), "*");
  EXPECT_EQ(head.query(), "");
}

TEST(RequestTarget, FragmentIsNotPartOfPathOrQuery) {
  RequestHead head;
  head.target = "/a?b#c";
  EXPECT_EQ(head.path(), "/a");
  EXPECT_EQ(head.query(), "b");
}

// --- rejections: request-line -------------------------------------------------

TEST(RequestParserReject, NonTokenMethod) {
  expectReject("GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "method");
}

TEST(RequestParserReject, EmptyMethod) { expectReject(" / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "method"); }

TEST(RequestParserReject, EmptyTarget) {
  expectReject("GET  HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target");
}

TEST(RequestParserReject, TargetWithNonAscii) {
  expectReject("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target");
}

TEST(RequestParserReject, TargetWithControlCharacter) {
  expectReject(std::string("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400, "request-target");
}

TEST(RequestParserReject, ExtraSpaceInRequestLine) {
  expectReject("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "version");
}

TEST(RequestParserReject, MissingVersion) { expectReject("GET /\r\nHost: h\r\n\r\n", 400, "request-line"); }

TEST(RequestParserReject, OtherHttpVersionIs505) {
  expectReject("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "version");
  expectReject("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505, "version");
}

TEST(RequestParserReject, GarbageVersionIs400) {
  expectReject("GET / http/1.1\r\nHost: h\r\n\r\n", 400, "version");
  expectReject("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "version");
  expectReject("GET / HTTP/11\r\nHost: h\r\n\r\n", 400, "version");
}

TEST(RequestParserReject, TooManyLeadingEmptyLines) {
  expectReject("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "empty lines");
}

// --- rejections: framing ------------------------------------------------------

TEST(RequestParserReject, ContentLengthWithTransferEncoding) {
  expectReject(withHeaders("Host: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400,
               "content-length with transfer-encoding");
}

TEST(RequestParserReject, DuplicateContentLengthWithDifferentValues) {
  expectReject(withHeaders("Host: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n"), 400, "conflicting");
}

TEST(RequestParserReject, ContentLengthListWithDifferentValues) {
  expectReject(withHeaders("Host: h\r\nContent-Length: 5, 6\r\n"), 400, "conflicting");
}

TEST(RequestParserReject, NonDigitContentLength) {
  expectReject(withHeaders("Host: h\r\nContent-Length: 5a\r\n"), 400, "invalid content-length");
  expectReject(withHeaders("Host: h\r\nContent-Length: +5\r\n"), 400, "invalid content-length");
  expectReject(withHeaders("Host: h\r\nContent-Length: -1\r\n"), 400, "invalid content-length");
  expectReject(withHeaders("Host: h\r\nContent-Length: 0x10\r\n"), 400, "invalid content-length");
}

TEST(RequestParserReject, EmptyContentLength) {
  expectReject(withHeaders("Host: h\r\nContent-Length:\r\n"), 400, "invalid content-length");
  expectReject(withHeaders("Host: h\r\nContent-Length: 5,\r\n"), 400, "invalid content-length");
}

TEST(RequestParserReject, OverflowingContentLength) {
  expectReject(withHeaders("Host: h\r\nContent-Length: 18446744073709551616\r\n"), 400,
               "invalid content-length");
}

TEST(RequestParserReject, TransferEncodingNotEndingInChunked) {
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: chunked, gzip\r\n"), 400, "not chunked");
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: gzip\r\n"), 400, "not chunked");
}

TEST(RequestParserReject, UnknownTransferCodingIs501) {
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: foo, chunked\r\n"), 501,
               "unsupported transfer-coding");
}

TEST(RequestParserReject, CodingOtherThanChunkedIs501) {
  // The proxy re-frames bodies and would drop a gzip coding on the way.
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 501,
               "unsupported transfer-coding");
}

TEST(RequestParser, EmptyTransferCodingListElementsAreIgnored) {
  const std::string raw = withHeaders("Host: h\r\nTransfer-Encoding: , chunked\r\n");
  RequestHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kChunked);
}

TEST(RequestParserReject, ChunkedLookalikeIsNotChunked) {
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: chunked;x=1\r\n"), 400, "invalid transfer-coding");
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: \"chunked\"\r\n"), 400, "invalid transfer-coding");
}

TEST(RequestParserReject, ChunkedRepeated) {
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: chunked, chunked\r\n"), 400, "more than once");
}

TEST(RequestParserReject, ChunkedRepeatedAcrossHeaders) {
  expectReject(withHeaders("Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400,
               "more than once");
}

TEST(RequestParserReject, TransferEncodingInHttp10) {
  expectReject(withHeaders("Transfer-Encoding: chunked\r\n", "HTTP/1.0"), 400, "http/1.0");
}

// --- rejections: field lines --------------------------------------------------

TEST(RequestParserReject, ObsFold) {
  expectReject(withHeaders("Host: h\r\nX-A: a\r\n b\r\n"), 400, "folding");
}

TEST(RequestParserReject, ObsFoldWithTab) {
  expectReject(withHeaders("Host: h\r\nX-A: a\r\n\tb\r\n"), 400, "folding");
}

TEST(RequestParserReject, WhitespaceBeforeColon) {
  expectReject(withHeaders("Host: h\r\nContent-Length : 5\r\n"), 400,
               "whitespace between field name and colon");
}

TEST(RequestParserReject, EmptyFieldName) {
  expectReject(withHeaders("Host: h\r\n: x\r\n"), 400, "empty field name");
}

TEST(RequestParserReject, NonTokenFieldName) {
  expectReject(withHeaders("Host: h\r\nX(A): x\r\n"), 400, "invalid character in field name");
}

TEST(RequestParserReject, FieldLineWithoutColon) {
  expectReject(withHeaders("Host: h\r\nNoColon\r\n"), 400, "without colon");
}

TEST(RequestParserReject, BareCrInValue) {
  expectReject(withHeaders("Host: h\r\nX-A: a\rb\r\n"), 400, "bare CR");
}

TEST(RequestParserReject, BareCrInFieldName) {
  expectReject(withHeaders("Host: h\r\nX-A\rB: x\r\n"), 400, "bare CR");
}

TEST(RequestParserReject, BareCrInRequestLine) {
  expectReject("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR");
  expectReject("GET / HTTP/1.1\r\rHost: h\r\n\r\n", 400, "bare CR");
}

TEST(RequestParserReject, BareCrBeforeRequestLine) {
  expectReject("\rGET / HTTP/1.1\r\n\r\n", 400, "bare CR");
}

TEST(RequestParserReject, BareLfEndingHeaderLine) {
  expectReject("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400, "bare LF");
}

TEST(RequestParserReject, BareLfEndingRequestLine) {
  expectReject("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF");
}

TEST(RequestParserReject, BareLfEndingHead) {
  expectReject("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF");
}

TEST(RequestParserReject, BareLfIsReportedBeforeHeadCompletes) {
  // Bare-LF-only clients get an answer instead of a wait for a CRLF that never comes.
  expectReject("GET / HTTP/1.1\nHost: h\n", 400, "bare LF");
}

TEST(RequestParserReject, NulInValue) {
  expectReject(withHeaders(std::string("Host: h\r\nX-A: a\0b\r\n", 19)), 400, "NUL");
}

TEST(RequestParserReject, ControlCharacterInValue) {
  expectReject(withHeaders("Host: h\r\nX-A: a\x01"
                           "b\r\n"),
               400, "control character");
  expectReject(withHeaders("Host: h\r\nX-A: a\x7f\r\n"), 400, "control character");
}

TEST(RequestParserReject, MissingHostInHttp11) {
  expectReject(withHeaders("X-A: 1\r\n"), 400, "missing host");
}

TEST(RequestParserReject, MoreThanOneHost) {
  expectReject(withHeaders("Host: a\r\nHost: a\r\n"), 400, "more than one host");
}

TEST(RequestParserReject, HostWithInvalidCharacters) {
  expectReject(withHeaders("Host: a b\r\n"), 400, "invalid host");
  expectReject(withHeaders("Host: user@h\r\n"), 400, "invalid host");
  expectReject(withHeaders("Host: h/p\r\n"), 400, "invalid host");
}

// --- limits -------------------------------------------------------------------

TEST(RequestParserLimits, IncompleteHeadOverLimitIs431) {
  ParseLimits limits;
  limits.max_head_bytes = 64;
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(64, 'a');
  RequestHead head;
  const Outcome o = parseOnce(raw, head, limits);
  ASSERT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.failure.status, 431);
}

TEST(RequestParserLimits, CompleteHeadOverLimitIs431) {
  ParseLimits limits;
  limits.max_head_bytes = 32;
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nX-Long: aaaaaaaaaa\r\n\r\n";
  RequestHead head;
  const Outcome o = parseOnce(raw, head, limits);
  ASSERT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.failure.status, 431);
}

TEST(RequestParserLimits, HeadExactlyAtLimitIsAccepted) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  ParseLimits limits;
  limits.max_head_bytes = static_cast<uint32_t>(raw.size());
  RequestHead head;
  EXPECT_EQ(parseOnce(raw, head, limits).status, ParseStatus::kComplete);
}

TEST(RequestParserLimits, TooManyHeadersIs431) {
  ParseLimits limits;
  limits.max_headers = 3;
  RequestHead head;
  EXPECT_EQ(parseOnce(withHeaders("Host: h\r\nA: 1\r\nB: 2\r\n"), head, limits).status,
            ParseStatus::kComplete);
  const Outcome o = parseOnce(withHeaders("Host: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n"), head, limits);
  ASSERT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.failure.status, 431);
}

}  // namespace
}  // namespace pier::http
