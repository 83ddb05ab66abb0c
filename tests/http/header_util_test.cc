#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/http/codec.h"

namespace pier::http {
namespace {

TEST(Iequals, IgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("Content-Length", "content-lengt"));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_TRUE(iequals("", ""));
}

TEST(Iequals, FoldsOnlyLetters) {
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("\xc1", "\xe1"));
  EXPECT_TRUE(iequals("X-1_a", "x-1_A"));
}

TEST(IsHopByHop, ListsConnectionScopedFields) {
  for (const char* name :
       {"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}) {
    EXPECT_TRUE(isHopByHop(name)) << name;
  }
  for (const char* name :
       {"Host", "Content-Length", "Proxy-Authenticate", "Proxy-Authorization", "Trailers"}) {
    EXPECT_FALSE(isHopByHop(name)) << name;
  }
}

TEST(HeaderHasToken, FindsTokenInList) {
  EXPECT_TRUE(headerHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(headerHasToken("close", "close"));
  EXPECT_TRUE(headerHasToken(" a ,\tb\t", "b"));
  EXPECT_FALSE(headerHasToken("closed", "close"));
  EXPECT_FALSE(headerHasToken("", "close"));
}

TEST(FindHeader, ReturnsFirstMatchIgnoringCase) {
  const std::vector<Header> headers{{"A", "1"}, {"b", "2"}, {"B", "3"}};
  const Header* h = findHeader(headers, "B");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->value, "2");
  EXPECT_EQ(findHeader(headers, "c"), nullptr);
}

TEST(ReasonPhrase, KnownAndUnknown) {
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(404), "Not Found");
  EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reasonPhrase(502), "Bad Gateway");
  EXPECT_EQ(reasonPhrase(799), "Unknown");
}

TEST(AppendChunkHeader, WritesLowercaseHexLine) {
  std::string out = "x";
  appendChunkHeader(out, 255);
  EXPECT_EQ(out, "xff\r\n");
  out.clear();
  appendChunkHeader(out, 1);
  EXPECT_EQ(out, "1\r\n");
  out.clear();
  appendChunkHeader(out, SIZE_MAX);
  EXPECT_EQ(out, std::string(sizeof(size_t) * 2, 'f') + "\r\n");
}

TEST(AppendLastChunk, WritesTrailers) {
  std::string out;
  appendLastChunk(out, {});
  EXPECT_EQ(out, "0\r\n\r\n");
  out.clear();
  const std::vector<Header> trailers{{"X-A", "1"}, {"X-B", "two"}};
  appendLastChunk(out, trailers);
  EXPECT_EQ(out, "0\r\nX-A: 1\r\nX-B: two\r\n\r\n");
}

TEST(ChunkRoundTrip, EncodedBodyDecodesBack) {
  std::string wire;
  for (const std::string& piece : std::vector<std::string>{"hello", std::string(300, 'x'), "!"}) {
    appendChunkHeader(wire, piece.size());
    wire += piece + "\r\n";
  }
  const std::vector<Header> trailers{{"X-Sum", "abc"}};
  appendLastChunk(wire, trailers);

  struct Sink : BodySink {
    void onBodyData(std::string_view d) override { body.append(d); }
    void onTrailers(std::span<const Header> t) override { n = t.size(); }
    std::string body;
    size_t n = 0;
  } sink;
  BodyDecoder d;
  d.start(BodyKind::kChunked, 0, {});
  const auto r = d.decode(wire, sink);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_EQ(sink.body, "hello" + std::string(300, 'x') + "!");
  EXPECT_EQ(sink.n, 1u);
}

}  // namespace
}  // namespace pier::http
