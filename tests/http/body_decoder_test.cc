#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "src/http/codec.h"

namespace pier::http {
namespace {

class CollectSink : public BodySink {
 public:
  void onBodyData(std::string_view data) override {
    EXPECT_FALSE(data.empty()) << "empty body pieces are noise";
    body.append(data);
  }
  void onTrailers(std::span<const Header> t) override {
    ++trailer_calls;
    for (const Header& h : t) trailers.emplace_back(h.name, h.value);
  }
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  int trailer_calls = 0;
};

struct Fed {
  bool done = false;
  bool error = false;
  std::string leftover;  // bytes after the body, still in the buffer
  ParseFailure failure;
};

// Feeds `input` in pieces ending at `cuts`, keeping unconsumed bytes in a
// buffer the way a connection does.
Fed feed(BodyDecoder& d, CollectSink& sink, std::string_view input, const std::vector<size_t>& cuts) {
  std::string buffer;
  size_t from = 0;
  Fed out;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    buffer.append(input.substr(from, end - from));
    from = end;
    const BodyDecoder::Result r = d.decode(buffer, sink);
    EXPECT_LE(r.consumed, buffer.size());
    buffer.erase(0, r.consumed);
    if (r.error) {
      out.error = true;
      out.failure = d.failure();
      break;
    }
    if (r.done) {
      out.done = true;
      break;
    }
  }
  buffer.append(input.substr(from));
  out.leftover = buffer;
  return out;
}

Fed decodeAll(BodyKind kind, std::string_view input, CollectSink& sink, uint64_t content_length = 0,
              const ParseLimits& limits = {}) {
  BodyDecoder d;
  d.start(kind, content_length, limits);
  return feed(d, sink, input, {});
}

void expectChunkedReject(std::string_view input, std::string_view reason_part,
                         const ParseLimits& limits = {}) {
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kChunked, input, sink, 0, limits);
  ASSERT_TRUE(f.error) << input;
  EXPECT_EQ(f.failure.status, 400);
  EXPECT_NE(f.failure.reason.find(reason_part), std::string_view::npos)
      << "reason '" << f.failure.reason << "' lacks '" << reason_part << "'";
}

// --- content-length, none, until-close ------------------------------------------

TEST(BodyDecoder, NoneIsDoneAtOnce) {
  BodyDecoder d;
  d.start(BodyKind::kNone, 0, {});
  CollectSink sink;
  const auto r = d.decode("GET / HTTP/1.1\r\n", sink);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(sink.body, "");
}

TEST(BodyDecoder, ContentLengthStopsAtLength) {
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kContentLength, "helloNEXT", sink, 5);
  EXPECT_TRUE(f.done);
  EXPECT_EQ(sink.body, "hello");
  EXPECT_EQ(f.leftover, "NEXT");
}

TEST(BodyDecoder, ContentLengthSplitAnywhere) {
  const std::string input = "0123456789abcdef";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    BodyDecoder d;
    d.start(BodyKind::kContentLength, input.size(), {});
    CollectSink sink;
    const Fed f = feed(d, sink, input, {cut});
    EXPECT_TRUE(f.done) << cut;
    EXPECT_EQ(sink.body, input) << cut;
    EXPECT_EQ(d.bodyBytes(), input.size());
  }
}

TEST(BodyDecoder, ContentLengthIncompleteIsNotDone) {
  BodyDecoder d;
  d.start(BodyKind::kContentLength, 10, {});
  CollectSink sink;
  const auto r = d.decode("abc", sink);
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.consumed, 3u);
}

TEST(BodyDecoder, UntilCloseTakesEverythingAndNeverEnds) {
  BodyDecoder d;
  d.start(BodyKind::kUntilClose, 0, {});
  CollectSink sink;
  auto r = d.decode("abc", sink);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_FALSE(r.done);
  r = d.decode("def", sink);
  EXPECT_FALSE(r.done);
  EXPECT_EQ(sink.body, "abcdef");
  EXPECT_TRUE(d.finishOnClose());
  EXPECT_EQ(d.bodyBytes(), 6u);
}

TEST(BodyDecoder, OnlyUntilCloseFinishesOnClose) {
  BodyDecoder d;
  d.start(BodyKind::kChunked, 0, {});
  EXPECT_FALSE(d.finishOnClose());
  d.start(BodyKind::kContentLength, 4, {});
  EXPECT_FALSE(d.finishOnClose());
}

// --- chunked: positive ----------------------------------------------------------

const std::string kChunked =
    "5\r\nhello\r\n1;ext=val;flag\r\n \r\nA\r\n0123456789\r\n0\r\nX-Sum: 42\r\nX-B:  b \r\n\r\n";

TEST(ChunkedDecoder, DecodesChunksAndTrailers) {
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kChunked, kChunked + "NEXT", sink);
  EXPECT_TRUE(f.done);
  EXPECT_EQ(sink.body, "hello 0123456789");
  EXPECT_EQ(sink.trailer_calls, 1);
  ASSERT_EQ(sink.trailers.size(), 2u);
  EXPECT_EQ(sink.trailers[0], (std::pair<std::string, std::string>{"X-Sum", "42"}));
  EXPECT_EQ(sink.trailers[1], (std::pair<std::string, std::string>{"X-B", "b"}));
  EXPECT_EQ(f.leftover, "NEXT");
}

TEST(ChunkedDecoder, EverySplitPositionGivesTheSameResult) {
  for (size_t cut = 0; cut <= kChunked.size(); ++cut) {
    BodyDecoder d;
    d.start(BodyKind::kChunked, 0, {});
    CollectSink sink;
    const Fed f = feed(d, sink, kChunked, {cut});
    ASSERT_TRUE(f.done) << cut;
    EXPECT_EQ(sink.body, "hello 0123456789") << cut;
    EXPECT_EQ(sink.trailer_calls, 1) << cut;
    EXPECT_EQ(sink.trailers.size(), 2u) << cut;
    EXPECT_EQ(f.leftover, "") << cut;
  }
}

TEST(ChunkedDecoder, ByteByByteGivesTheSameResult) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kChunked.size(); ++i) cuts.push_back(i);
  BodyDecoder d;
  d.start(BodyKind::kChunked, 0, {});
  CollectSink sink;
  const Fed f = feed(d, sink, kChunked, cuts);
  ASSERT_TRUE(f.done);
  EXPECT_EQ(sink.body, "hello 0123456789");
  EXPECT_EQ(sink.trailers.size(), 2u);
  EXPECT_EQ(d.bodyBytes(), 16u);
}

TEST(ChunkedDecoder, NoTrailersStillReportsTrailersOnce) {
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kChunked, "3\r\nabc\r\n0\r\n\r\n", sink);
  EXPECT_TRUE(f.done);
  EXPECT_EQ(sink.body, "abc");
  EXPECT_EQ(sink.trailer_calls, 1);
  EXPECT_TRUE(sink.trailers.empty());
}

TEST(ChunkedDecoder, PartialSizeLineIsLeftUnconsumed) {
  BodyDecoder d;
  d.start(BodyKind::kChunked, 0, {});
  CollectSink sink;
  const std::string data = "3\r\nabc\r\n1f";
  const auto r = d.decode(data, sink);
  EXPECT_FALSE(r.done);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, data.size() - 2);
}

TEST(ChunkedDecoder, PartialTrailersAreLeftUnconsumed) {
  BodyDecoder d;
  d.start(BodyKind::kChunked, 0, {});
  CollectSink sink;
  const std::string data = "0\r\nX-A: 1\r\n";
  const auto r = d.decode(data, sink);
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(sink.trailer_calls, 0);
}

TEST(ChunkedDecoder, UppercaseHexAndLeadingZeros) {
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kChunked, "000000000000000B\r\nhello world\r\n0\r\n\r\n", sink);
  EXPECT_TRUE(f.done);
  EXPECT_EQ(sink.body, "hello world");
}

TEST(ChunkedDecoder, QuotedExtensionValue) {
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kChunked, "1;a=\"x;\\\"y\"\r\nz\r\n0\r\n\r\n", sink);
  EXPECT_TRUE(f.done);
  EXPECT_EQ(sink.body, "z");
}

TEST(ChunkedDecoder, ExtensionAtLimitIsAccepted) {
  ParseLimits limits;
  limits.max_chunk_extension_bytes = 8;
  CollectSink sink;
  const Fed f = decodeAll(BodyKind::kChunked, "1;abcdefg\r\nz\r\n0\r\n\r\n", sink, 0, limits);
  EXPECT_TRUE(f.done);
}

TEST(ChunkedDecoder, ErrorIsSticky) {
  BodyDecoder d;
  d.start(BodyKind::kChunked, 0, {});
  CollectSink sink;
  EXPECT_TRUE(d.decode("x\r\n", sink).error);
  EXPECT_TRUE(d.decode("0\r\n\r\n", sink).error);
}

TEST(ChunkedDecoder, RestartClearsState) {
  BodyDecoder d;
  CollectSink sink;
  d.start(BodyKind::kChunked, 0, {});
  EXPECT_TRUE(d.decode("x\r\n", sink).error);
  d.start(BodyKind::kChunked, 0, {});
  EXPECT_TRUE(d.decode("0\r\n\r\n", sink).done);
  EXPECT_EQ(d.bodyBytes(), 0u);
}

// --- chunked: rejections --------------------------------------------------------

TEST(ChunkedDecoderReject, NonHexSize) { expectChunkedReject("g\r\n", "invalid chunk size"); }

TEST(ChunkedDecoderReject, EmptySize) { expectChunkedReject("\r\nabc\r\n", "chunk size"); }

TEST(ChunkedDecoderReject, SignedSize) {
  expectChunkedReject("+5\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
  expectChunkedReject("-5\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
}

TEST(ChunkedDecoderReject, HexPrefix) {
  expectChunkedReject("0x5\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
}

TEST(ChunkedDecoderReject, LeadingWhitespace) {
  expectChunkedReject(" 5\r\nhello\r\n", "invalid chunk size");
}

TEST(ChunkedDecoderReject, TrailingWhitespace) {
  expectChunkedReject("5 \r\nhello\r\n", "invalid chunk size");
}

TEST(ChunkedDecoderReject, WhitespaceBeforeExtension) {
  expectChunkedReject("5 ;a=b\r\nhello\r\n", "invalid chunk size");
  expectChunkedReject("5\t;a=b\r\nhello\r\n", "invalid chunk size");
}

TEST(ChunkedDecoderReject, WhitespaceInsideExtension) {
  expectChunkedReject("5; a=b\r\nhello\r\n", "invalid chunk extension");
  expectChunkedReject("5;a = b\r\nhello\r\n", "invalid chunk extension");
}

TEST(ChunkedDecoderReject, MalformedExtension) {
  expectChunkedReject("5;\r\nhello\r\n", "invalid chunk extension");
  expectChunkedReject("5;a=\r\nhello\r\n", "invalid chunk extension");
  expectChunkedReject("5;a=\"open\r\nhello\r\n", "invalid chunk extension");
}

TEST(ChunkedDecoderReject, MoreThanSixteenHexDigits) {
  expectChunkedReject("00000000000000001\r\nx\r\n", "chunk size too long");
}

TEST(ChunkedDecoderReject, ExtensionOverLimit) {
  ParseLimits limits;
  limits.max_chunk_extension_bytes = 8;
  expectChunkedReject("1;abcdefgh\r\nz\r\n0\r\n\r\n", "chunk extension too long", limits);
}

TEST(ChunkedDecoderReject, IncompleteSizeLineOverLimitFailsEarly) {
  ParseLimits limits;
  limits.max_chunk_extension_bytes = 8;
  expectChunkedReject("1;" + std::string(100, 'a'), "too long", limits);
}

TEST(ChunkedDecoderReject, GarbageSizeFailsBeforeLineEnds) {
  expectChunkedReject("zzz", "invalid chunk size");
}

TEST(ChunkedDecoderReject, BareLfAfterSize) { expectChunkedReject("5\nhello\r\n0\r\n\r\n", "bare LF"); }

TEST(ChunkedDecoderReject, BareCrAfterSize) { expectChunkedReject("5\rhello\r\n0\r\n\r\n", "bare CR"); }

TEST(ChunkedDecoderReject, BareLfAfterData) { expectChunkedReject("5\r\nhello\n0\r\n\r\n", "bare LF"); }

TEST(ChunkedDecoderReject, BareCrAfterData) { expectChunkedReject("5\r\nhello\rX0\r\n\r\n", "bare CR"); }

TEST(ChunkedDecoderReject, DataLongerThanSize) {
  expectChunkedReject("5\r\nhello!\r\n0\r\n\r\n", "not followed by CRLF");
}

TEST(ChunkedDecoderReject, InvalidTrailerField) {
  expectChunkedReject("0\r\nX-A: 1\r\n folded\r\n\r\n", "folding");
  expectChunkedReject("0\r\nX-A : 1\r\n\r\n", "whitespace between field name and colon");
  expectChunkedReject(std::string("0\r\nX-A: \0\r\n\r\n", 13), "NUL");
}

TEST(ChunkedDecoderReject, BareLfInTrailers) { expectChunkedReject("0\r\nX-A: 1\n\r\n", "bare LF"); }

TEST(ChunkedDecoderReject, TrailersOverLimit) {
  ParseLimits limits;
  limits.max_trailer_bytes = 16;
  expectChunkedReject("0\r\nX-A: 0123456789abcdef\r\n\r\n", "trailer section too large", limits);
}

TEST(ChunkedDecoderReject, IncompleteTrailersOverLimitFailEarly) {
  ParseLimits limits;
  limits.max_trailer_bytes = 16;
  expectChunkedReject("0\r\nX-A: 0123456789abcdef", "trailer section too large", limits);
}

}  // namespace
}  // namespace pier::http
