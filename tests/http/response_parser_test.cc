#include <string>

#include <gtest/gtest.h>

#include "src/http/codec.h"

namespace pier::http {
namespace {

struct Outcome {
  ParseStatus status = ParseStatus::kIncomplete;
  ParseFailure failure;
};

Outcome parseOnce(std::string_view raw, ResponseHead& head, std::string_view method = "GET",
                  const ParseLimits& limits = {}) {
  ResponseParser parser(limits);
  Outcome o;
  o.status = parser.parse(raw, method, head);
  o.failure = parser.failure();
  return o;
}

void expectReject(const std::string& raw, std::string_view reason_part, std::string_view method = "GET") {
  ResponseHead head;
  const Outcome o = parseOnce(raw, head, method);
  ASSERT_EQ(o.status, ParseStatus::kError) << raw;
  EXPECT_EQ(o.failure.status, 502);
  EXPECT_NE(o.failure.reason.find(reason_part), std::string_view::npos)
      << "reason '" << o.failure.reason << "' lacks '" << reason_part << "'";
}

std::string response(const std::string& headers, const std::string& status_line = "HTTP/1.1 200 OK") {
  return status_line + "\r\n" + headers + "\r\n";
}

BodyKind framing(const std::string& raw, std::string_view method = "GET") {
  ResponseHead head;
  EXPECT_EQ(parseOnce(raw, head, method).status, ParseStatus::kComplete) << raw;
  return head.body;
}

// --- positive -----------------------------------------------------------------

TEST(ResponseParser, ParsesStatusLineAndHeaders) {
  const std::string raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nServer:  x \r\n\r\nabc";
  ResponseHead head;
  ASSERT_EQ(parseOnce(raw, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.version, Version::kHttp11);
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.status_digits, "404");
  EXPECT_EQ(head.status_digits.data(), raw.data() + 9);  // a view of the bytes parsed
  EXPECT_EQ(head.reason, "Not Found");
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[1].value, "x");
  EXPECT_EQ(head.body, BodyKind::kContentLength);
  EXPECT_EQ(head.content_length, 3u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.head_bytes, raw.size() - 3);
}

TEST(ResponseParser, EmptyReasonPhrase) {
  ResponseHead head;
  ASSERT_EQ(parseOnce(response("Content-Length: 0\r\n", "HTTP/1.1 200 "), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.reason, "");
  ASSERT_EQ(parseOnce(response("Content-Length: 0\r\n", "HTTP/1.1 200"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.status, 200);
}

TEST(ResponseParser, ByteByByteFeedingMatchesOneShot) {
  const std::string raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n";
  ResponseParser parser({});
  ResponseHead head;
  for (size_t n = 0; n < raw.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(raw).substr(0, n), "GET", head), ParseStatus::kIncomplete) << n;
  }
  ASSERT_EQ(parser.parse(raw, "GET", head), ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kChunked);
  EXPECT_EQ(head.head_bytes, raw.size());
  EXPECT_EQ(head.headers.size(), 2u);
}

TEST(ResponseParser, ChunkedFraming) {
  ResponseHead head;
  ASSERT_EQ(parseOnce(response("Transfer-Encoding: CHUNKED\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kChunked);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseParser, TransferCodingIsIgnoredWithoutBody) {
  EXPECT_EQ(framing(response("Transfer-Encoding: gzip\r\n"), "HEAD"), BodyKind::kNone);
}

TEST(ResponseParser, NoLengthReadsUntilClose) {
  ResponseHead head;
  ASSERT_EQ(parseOnce(response("X-A: b\r\n"), head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.body, BodyKind::kUntilClose);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, ZeroContentLengthHasNoBody) {
  EXPECT_EQ(framing(response("Content-Length: 0\r\n")), BodyKind::kNone);
}

TEST(ResponseParser, HeadResponseHasNoBody) {
  EXPECT_EQ(framing(response("Content-Length: 100\r\n"), "HEAD"), BodyKind::kNone);
  EXPECT_EQ(framing(response("Transfer-Encoding: chunked\r\n"), "HEAD"), BodyKind::kNone);
}

TEST(ResponseParser, NoContentHasNoBody) {
  EXPECT_EQ(framing(response("Content-Length: 10\r\n", "HTTP/1.1 204 No Content")), BodyKind::kNone);
  EXPECT_EQ(framing(response("", "HTTP/1.1 204 No Content")), BodyKind::kNone);
}

TEST(ResponseParser, NotModifiedHasNoBody) {
  EXPECT_EQ(framing(response("Content-Length: 10\r\n", "HTTP/1.1 304 Not Modified")), BodyKind::kNone);
}

TEST(ResponseParser, InformationalHasNoBody) {
  EXPECT_EQ(framing(response("", "HTTP/1.1 100 Continue")), BodyKind::kNone);
  EXPECT_EQ(
      framing(response("Upgrade: websocket\r\nConnection: upgrade\r\n", "HTTP/1.1 101 Switching Protocols")),
      BodyKind::kNone);
}

TEST(ResponseParser, SuccessfulConnectHasNoBody) {
  EXPECT_EQ(framing(response("", "HTTP/1.1 200 Connection Established"), "CONNECT"), BodyKind::kNone);
  EXPECT_EQ(framing(response("Content-Length: 4\r\n", "HTTP/1.1 407 Auth"), "CONNECT"),
            BodyKind::kContentLength);
}

TEST(ResponseParser, ConnectionCloseDisablesKeepAlive) {
  ResponseHead head;
  ASSERT_EQ(parseOnce(response("Content-Length: 0\r\nConnection: close\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, Http10ClosesUnlessKeepAlive) {
  ResponseHead head;
  ASSERT_EQ(parseOnce(response("Content-Length: 0\r\n", "HTTP/1.0 200 OK"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.version, Version::kHttp10);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(
      parseOnce(response("Content-Length: 0\r\nConnection: keep-alive\r\n", "HTTP/1.0 200 OK"), head).status,
      ParseStatus::kComplete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseParser, IdenticalContentLengthsCollapse) {
  ResponseHead head;
  ASSERT_EQ(parseOnce(response("Content-Length: 7, 7\r\nContent-Length: 7\r\n"), head).status,
            ParseStatus::kComplete);
  EXPECT_EQ(head.content_length, 7u);
}

TEST(ResponseParser, HostIsNotRequired) {
  EXPECT_EQ(framing(response("Content-Length: 1\r\n")), BodyKind::kContentLength);
}

// --- rejections ---------------------------------------------------------------

TEST(ResponseParserReject, StatusCodeBelow100) {
  expectReject(response("", "HTTP/1.1 099 Low"), "status code");
}

TEST(ResponseParserReject, NonDigitStatusCode) {
  expectReject(response("", "HTTP/1.1 2x0 OK"), "status code");
}

TEST(ResponseParserReject, ShortStatusCode) { expectReject(response("", "HTTP/1.1 20 OK"), "status"); }

TEST(ResponseParserReject, LongStatusCode) { expectReject(response("", "HTTP/1.1 2000 OK"), "status-line"); }

TEST(ResponseParserReject, UnsupportedVersion) { expectReject(response("", "HTTP/1.2 200 OK"), "version"); }

TEST(ResponseParserReject, GarbageStatusLine) {
  expectReject(response("", "HTTP/2 200 OK"), "status-line");
  expectReject(response("", "ICY 200 OK"), "status-line");
}

TEST(ResponseParserReject, EmptyStatusLine) { expectReject("\r\nHTTP/1.1 200 OK\r\n\r\n", "status-line"); }

TEST(ResponseParserReject, ControlCharacterInReason) {
  expectReject(response("", "HTTP/1.1 200 O\x01K"), "reason-phrase");
}

TEST(ResponseParserReject, ContentLengthWithTransferEncoding) {
  expectReject(response("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
               "content-length with transfer-encoding");
}

TEST(ResponseParserReject, ContentLengthWithTransferEncodingEvenWithoutBody) {
  expectReject(response("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "HTTP/1.1 304 Not Modified"),
               "content-length with transfer-encoding");
}

TEST(ResponseParserReject, ConflictingContentLength) {
  expectReject(response("Content-Length: 5\r\nContent-Length: 50\r\n"), "conflicting");
}

TEST(ResponseParserReject, InvalidContentLength) {
  expectReject(response("Content-Length: 5 5\r\n"), "invalid content-length");
  expectReject(response("Content-Length: 99999999999999999999\r\n"), "invalid content-length");
}

TEST(ResponseParserReject, TransferEncodingWithoutFinalChunked) {
  // RFC 9112 would read until close, but the coding could not be passed on.
  expectReject(response("Transfer-Encoding: gzip\r\n"), "unsupported transfer-coding");
  expectReject(response("Transfer-Encoding: chunked, gzip\r\n"), "unsupported transfer-coding");
}

TEST(ResponseParserReject, CodingBeforeChunked) {
  expectReject(response("Transfer-Encoding: gzip, chunked\r\n"), "unsupported transfer-coding");
}

TEST(ResponseParserReject, InvalidTransferCoding) {
  expectReject(response("Transfer-Encoding: chunked;q=1\r\n"), "invalid transfer-coding");
}

TEST(ResponseParserReject, ChunkedRepeated) {
  expectReject(response("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), "more than once");
}

TEST(ResponseParserReject, TransferEncodingInHttp10) {
  expectReject(response("Transfer-Encoding: chunked\r\n", "HTTP/1.0 200 OK"), "http/1.0");
}

TEST(ResponseParserReject, ObsFold) { expectReject(response("X-A: a\r\n b\r\n"), "folding"); }

TEST(ResponseParserReject, WhitespaceBeforeColon) {
  expectReject(response("Content-Length :5\r\n"), "whitespace between field name and colon");
}

TEST(ResponseParserReject, EmptyFieldName) { expectReject(response(":x\r\n"), "empty field name"); }

TEST(ResponseParserReject, NonTokenFieldName) { expectReject(response("X@A: x\r\n"), "field name"); }

TEST(ResponseParserReject, BareCr) { expectReject(response("X-A: a\rb\r\n"), "bare CR"); }

TEST(ResponseParserReject, BareLf) { expectReject("HTTP/1.1 200 OK\nContent-Length: 0\n\n", "bare LF"); }

TEST(ResponseParserReject, NulInValue) { expectReject(response(std::string("X-A: \0\r\n", 8)), "NUL"); }

TEST(ResponseParserLimits, TooManyHeaders) {
  ParseLimits limits;
  limits.max_headers = 1;
  ResponseHead head;
  const Outcome o = parseOnce(response("A: 1\r\nB: 2\r\n"), head, "GET", limits);
  ASSERT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.failure.status, 502);
}

TEST(ResponseParserLimits, HeadTooLarge) {
  ParseLimits limits;
  limits.max_head_bytes = 40;
  ResponseHead head;
  const Outcome o = parseOnce("HTTP/1.1 200 OK\r\nX-Long: " + std::string(40, 'x'), head, "GET", limits);
  ASSERT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.failure.status, 502);
}

}  // namespace
}  // namespace pier::http
