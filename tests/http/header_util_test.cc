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

// Every length takes its own path (bytes, two 4-byte words, 8-byte words
// with an overlapping tail): a difference anywhere must be seen in each.
TEST(Iequals, SeesADifferenceAtEveryPositionOfEveryLength) {
  for (size_t n = 1; n <= 40; ++n) {
    std::string lower(n, 'a');
    for (size_t i = 0; i < n; ++i) lower[i] = static_cast<char>('a' + i % 26);
    std::string upper = lower;
    for (char& c : upper) c = static_cast<char>(c - 32);
    EXPECT_TRUE(iequals(lower, upper)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string other = upper;
      other[i] = '-';
      EXPECT_FALSE(iequals(lower, other)) << n << " at " << i;
      other[i] = static_cast<char>(lower[i] ^ 0x20 ^ 0x40);  // a letter's case bit is not a wildcard
      EXPECT_FALSE(iequals(lower, other)) << n << " at " << i;
    }
  }
}

// sameText() and equalsLower() see a difference at any position of any
// length (words, the overlapping last word, and the bytes below four).
TEST(SameText, FindsADifferenceAtEveryLengthAndPosition) {
  for (size_t n = 0; n <= 20; ++n) {
    std::string a;
    for (size_t i = 0; i < n; ++i) a.push_back(static_cast<char>('a' + i % 26));
    EXPECT_TRUE(sameText(a, a)) << n;
    EXPECT_TRUE(equalsLower(a, a)) << n;
    EXPECT_FALSE(sameText(a, a + "x")) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string b = a;
      b[i] = '-';
      EXPECT_FALSE(sameText(a, b)) << n << " at " << i;
      EXPECT_FALSE(equalsLower(b, a)) << n << " at " << i;
      b[i] = static_cast<char>(a[i] - 32);
      EXPECT_FALSE(sameText(a, b)) << n << " at " << i;
      EXPECT_TRUE(equalsLower(b, a)) << n << " at " << i;
    }
  }
}

// equalsLower() agrees with iequals() for every byte against every byte a
// lower-case name literal may hold, at every length.
TEST(EqualsLower, AgreesWithIequalsForAnyText) {
  const std::string allowed = "abcdefghijklmnopqrstuvwxyz0123456789-";
  for (size_t n = 1; n <= 17; ++n) {
    for (char l : allowed) {
      const std::string lower(n, l);
      for (int b = 0; b < 256; ++b) {
        std::string text = lower;
        text[n / 2] = static_cast<char>(b);
        EXPECT_EQ(equalsLower(text, lower), iequals(text, lower)) << n << " " << l << " " << b;
      }
    }
  }
  EXPECT_TRUE(equalsLower("Content-Length", "content-length"));
  EXPECT_FALSE(equalsLower("content-lengtH ", "content-length"));
  EXPECT_FALSE(equalsLower("content\rlength", "content-length"));
  EXPECT_TRUE(equalsLower("", ""));
}

TEST(LowerInPlace, LowersOnlyAsciiLettersAtEveryLength) {
  for (size_t n = 0; n <= 20; ++n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back("AZaz@[`{-\xc1"[i % 10]);
    std::string expected = s;
    for (char& c : expected) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    lowerInPlace(s.data(), s.size());
    EXPECT_EQ(s, expected) << n;
  }
}

// copyLower() writes exactly n bytes, lowered, wherever they start, and
// leaves the source as it was.
TEST(CopyLower, CopiesAndLowersExactlyNBytesAtEveryLengthAndAlignment) {
  for (size_t n = 0; n <= 20; ++n) {
    for (size_t align = 0; align < 8; ++align) {
      std::string src(align, '#');
      for (size_t i = 0; i < n; ++i) src.push_back("AZaz@[`{-\xc1"[i % 10]);
      const std::string src_before = src;
      std::string expected = src.substr(align);
      for (char& c : expected) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
      std::string dst(align + n + 8, '.');
      copyLower(dst.data() + align, src.data() + align, n);
      EXPECT_EQ(dst.substr(align, n), expected) << n << "/" << align;
      EXPECT_EQ(dst.substr(0, align) + dst.substr(align + n), std::string(align + 8, '.')) << n << "/" << align;
      EXPECT_EQ(src, src_before);
    }
  }
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
