#pragma once
// HTTP/1.1 message codec (RFC 9110/9112), written for pier: zero-copy (heads and
// body pieces are string_views into the caller's buffer), incremental (call
// again with more bytes), and strict: anything that could let two parsers
// disagree about where a message ends is rejected, so request smuggling is
// impossible by construction.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pier::http {

struct Header {
  std::string_view name;
  std::string_view value;  // leading/trailing OWS removed
};

enum class Version : uint8_t { kHttp10, kHttp11 };

// How the body that follows a head is delimited.
enum class BodyKind : uint8_t {
  kNone,           // no body at all
  kContentLength,  // exactly content_length bytes
  kChunked,        // chunked transfer coding, then trailers
  kUntilClose,     // (responses only) until the upstream closes
};

struct ParseLimits {
  uint32_t max_head_bytes = 64 * 1024;  // request/status line + headers; over: 431
  uint32_t max_headers = 100;           // over: 431
  uint32_t max_chunk_extension_bytes = 256;
  uint32_t max_trailer_bytes = 16 * 1024;
};

// Why a message was rejected. `status` is what a server answers (400, 413, 431,
// 501, 505); the proxy maps response-side failures to 502.
struct ParseFailure {
  int status = 400;
  std::string_view reason;  // static text, e.g. "content-length with transfer-encoding"
};

enum class ParseStatus : uint8_t { kIncomplete, kComplete, kError };

struct RequestHead {
  std::string_view method;
  std::string_view target;  // request-target as sent
  Version version = Version::kHttp11;
  std::vector<Header> headers;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  std::string_view host;  // the Host header's value ("" when absent, only allowed in HTTP/1.0)
  bool keep_alive = true;        // from version and Connection
  bool expect_continue = false;  // Expect: 100-continue
  bool upgrade = false;          // Connection: upgrade and an Upgrade header (or CONNECT)
  size_t head_bytes = 0;         // bytes of the head including the final CRLF

  // Path and query split of `target` (origin-form); for absolute-form the
  // scheme and authority are skipped.
  std::string_view path() const;
  std::string_view query() const;  // without '?'; empty when none
};

struct ResponseHead {
  Version version = Version::kHttp11;
  int status = 0;
  std::string_view status_digits;  // the status as received (three digits)
  std::string_view reason;
  std::vector<Header> headers;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;
  size_t head_bytes = 0;
};

// Parses one request head. Keep one parser per connection; after kComplete
// or kError call reset() before the next message.
class RequestParser {
 public:
  explicit RequestParser(const ParseLimits& limits) : limits_(limits) {}
  // `data` holds every unconsumed byte from the start of the message. Returns
  // kComplete with `out` filled (views into `data`), kIncomplete (call again
  // with more), or kError with failure() set.
  ParseStatus parse(std::string_view data, RequestHead& out);
  const ParseFailure& failure() const { return failure_; }
  void reset() { scanned_ = 0; }

 private:
  ParseLimits limits_;
  size_t scanned_ = 0;  // bytes already searched for the end of the head
  ParseFailure failure_;
};

class ResponseParser {
 public:
  explicit ResponseParser(const ParseLimits& limits) : limits_(limits) {}
  // `request_method` decides framing (HEAD and CONNECT responses have no body).
  ParseStatus parse(std::string_view data, std::string_view request_method, ResponseHead& out);
  const ParseFailure& failure() const { return failure_; }
  void reset() { scanned_ = 0; }

 private:
  ParseLimits limits_;
  size_t scanned_ = 0;
  ParseFailure failure_;
};

// Receives a decoded body. Views are valid only during the call.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void onBodyData(std::string_view data) = 0;
  // Called once for chunked bodies, possibly with no trailers, before done.
  virtual void onTrailers(std::span<const Header> trailers) = 0;
};

// Decodes one message body incrementally.
class BodyDecoder {
 public:
  BodyDecoder() = default;
  void start(BodyKind kind, uint64_t content_length, const ParseLimits& limits);

  struct Result {
    size_t consumed = 0;  // bytes of `data` used; the rest belongs to what follows
    bool done = false;    // the body (and trailers) ended
    bool error = false;   // see failure()
  };
  // Consumes as much of `data` as it can, calling the sink for body bytes.
  // Partial chunk-size or trailer lines are left unconsumed until complete.
  Result decode(std::string_view data, BodySink& sink);
  // For kUntilClose: the peer closed, so the body is complete.
  bool finishOnClose() const { return kind_ == BodyKind::kUntilClose; }
  const ParseFailure& failure() const { return failure_; }
  BodyKind kind() const { return kind_; }
  uint64_t bodyBytes() const { return body_bytes_; }

 private:
  enum class State : uint8_t { kSize, kData, kDataCrlf, kTrailers, kDone, kError };
  Result decodeChunked(std::string_view data, BodySink& sink);
  // Parses a complete chunk-size line (without its CRLF) into remaining_.
  bool parseSizeLine(std::string_view line);
  Result fail(int status, std::string_view reason);

  BodyKind kind_ = BodyKind::kNone;
  State state_ = State::kDone;
  uint64_t remaining_ = 0;
  uint64_t body_bytes_ = 0;
  size_t trailer_scanned_ = 0;    // bytes of the trailer section already searched
  std::vector<Header> trailers_;  // reused across messages
  ParseLimits limits_;
  ParseFailure failure_;
};

// --- helpers shared by the codec and the proxy -------------------------------

// ASCII case-insensitive equality (a word at a time: every header name of
// every message goes through it several times).
bool iequals(std::string_view a, std::string_view b);
namespace detail {
// `x` with ASCII 'A'..'Z' turned into 'a'..'z', every byte at once: a byte
// gets 0x20 added when it is an upper-case letter (bytes >= 0x80 stay).
template <typename Word>
inline Word foldWord(Word x) {
  constexpr Word kOnes = static_cast<Word>(0x0101010101010101ull);
  const Word low7 = x & (0x7f * kOnes);
  const Word above_z = low7 + (0x7f - 'Z') * kOnes;            // high bit: byte > 'Z'
  const Word from_a = low7 + (0x80 - 'A') * kOnes;             // high bit: byte >= 'A'
  const Word upper = from_a & ~above_z & ~x & (0x80 * kOnes);  // ASCII only
  return static_cast<Word>(x | (upper >> 2));
}

template <typename Word>
inline void copyLowerWord(char* dst, const char* src) {
  Word x;
  std::memcpy(&x, src, sizeof x);
  x = foldWord(x);
  std::memcpy(dst, &x, sizeof x);
}
}  // namespace detail

// Copies `n` bytes from `src` to `dst` with ASCII letters lowered, whole
// words at a time (the last one overlapping the one before: folding is
// idempotent). `dst` is `src` (in place) or does not overlap it. Inline:
// names are short, and every header a filter adds passes here.
inline void copyLower(char* dst, const char* src, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) detail::copyLowerWord<uint64_t>(dst + i, src + i);
    detail::copyLowerWord<uint64_t>(dst + n - 8, src + n - 8);
  } else if (n >= 4) {
    detail::copyLowerWord<uint32_t>(dst, src);
    detail::copyLowerWord<uint32_t>(dst + n - 4, src + n - 4);
  } else {
    for (size_t i = 0; i < n; ++i) detail::copyLowerWord<uint8_t>(dst + i, src + i);
  }
}

// Lower-cases ASCII letters in place.
inline void lowerInPlace(char* p, size_t n) { copyLower(p, p, n); }

namespace detail {
// The Word at `p`, which need not be aligned.
template <typename Word>
inline Word loadWord(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Whether n bytes at p and q match by Same::equal<Word>, a whole word at a
// time; the last word overlaps the one before (both comparisons below judge
// each byte on its own), so no byte loop is needed for the tail, nor below
// four bytes.
template <typename Same>
inline bool sameBytes(const char* p, const char* q, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      if (!Same::template equal<uint64_t>(p + i, q + i)) return false;
    }
    return Same::template equal<uint64_t>(p + n - 8, q + n - 8);
  }
  if (n >= 4) {
    return Same::template equal<uint32_t>(p, q) && Same::template equal<uint32_t>(p + n - 4, q + n - 4);
  }
  // 0..3 bytes: the first, middle and last are all of them.
  return n == 0 || (Same::template equal<uint8_t>(p, q) && Same::template equal<uint8_t>(p + n / 2, q + n / 2) &&
                    Same::template equal<uint8_t>(p + n - 1, q + n - 1));
}

// Equal where `lower` allows a case difference: only at its letters.
struct SameAsLower {
  template <typename Word>
  static bool equal(const char* text, const char* lower) {
    constexpr Word kOnes = static_cast<Word>(0x0101010101010101ull);
    const Word x = loadWord<Word>(text);
    const Word y = loadWord<Word>(lower);
    // 0x20 where `lower` has a letter (letters are the bytes with 0x40 set).
    const Word case_bit = static_cast<Word>((y & (0x40 * kOnes)) >> 1);
    return static_cast<Word>(x | case_bit) == y;
  }
};

struct SameExactly {
  template <typename Word>
  static bool equal(const char* a, const char* b) {
    return loadWord<Word>(a) == loadWord<Word>(b);
  }
};
}  // namespace detail

// a == b without a call to memcmp: for the short texts compared on every
// request (methods, reasons, names), the call costs more than the compare.
inline bool sameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.data() == b.data() || detail::sameBytes<detail::SameExactly>(a.data(), b.data(), a.size()));
}

// iequals() against `lower`, which holds only lower-case letters and bytes
// below 0x40 (digits, '-', ...), e.g. a header name literal: exact for any
// `text`, and a few instructions a word, as only `lower` decides where case
// may differ.
inline bool equalsLower(std::string_view text, std::string_view lower) {
  return text.size() == lower.size() && detail::sameBytes<detail::SameAsLower>(text.data(), lower.data(), text.size());
}
// True for hop-by-hop headers (RFC 9110 7.6.1) that a proxy must not forward.
bool isHopByHop(std::string_view name);
// True if the comma-separated `list` contains `token` (case-insensitive).
bool headerHasToken(std::string_view list, std::string_view token);
const Header* findHeader(std::span<const Header> headers, std::string_view name);
std::string_view reasonPhrase(int status);

// Appends "<hex size>\r\n" / "\r\n" / "0\r\n" + trailers + "\r\n".
// appendChunkHeader writes only the size line (lowercase hex): the caller
// appends the data and then "\r\n". Never call it with 0 (that is the last chunk).
void appendChunkHeader(std::string& out, size_t size);
void appendLastChunk(std::string& out, std::span<const Header> trailers);

}  // namespace pier::http
