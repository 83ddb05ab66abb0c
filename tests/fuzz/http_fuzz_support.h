#pragma once
// Shared by the http_* fuzz targets: deterministic split sizes taken from the
// input, a sink that records what it gets, and a body feeder that keeps
// unconsumed bytes the way a connection buffer does.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/http/codec.h"

namespace pier::http::fuzz {

#define PIER_FUZZ_CHECK(cond)                                                       \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// Piece sizes from a seed byte: mostly small (where parsers break), sometimes big.
class Splitter {
 public:
  explicit Splitter(uint8_t seed) : state_(seed * 2654435761u + 1) {}
  size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return (state_ & 7) == 0 ? 1 + (state_ >> 8) % 512 : 1 + (state_ >> 8) % 8;
  }

 private:
  uint32_t state_;
};

// Limits chosen by an option byte, so small limits get exercised too.
inline ParseLimits limitsFrom(uint8_t options) {
  ParseLimits l;
  if (options & 1) {
    l.max_head_bytes = 128;
    l.max_headers = 4;
    l.max_chunk_extension_bytes = 8;
    l.max_trailer_bytes = 32;
  }
  return l;
}

class RecordingSink : public BodySink {
 public:
  void onBodyData(std::string_view data) override {
    PIER_FUZZ_CHECK(!data.empty());
    PIER_FUZZ_CHECK(trailer_calls == 0);
    body.append(data);
  }
  void onTrailers(std::span<const Header> t) override {
    ++trailer_calls;
    for (const Header& h : t) trailers.emplace_back(std::string(h.name), std::string(h.value));
  }
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  int trailer_calls = 0;
};

struct BodyRun {
  bool done = false;
  bool error = false;
  size_t consumed = 0;  // bytes of the input that belonged to the body
  RecordingSink sink;
};

// Decodes `input` as a body of `kind`. With a splitter the input arrives in
// pieces; without, all at once.
inline BodyRun decodeBody(BodyKind kind, uint64_t content_length, const ParseLimits& limits,
                          std::string_view input, Splitter* splitter) {
  BodyRun run;
  BodyDecoder d;
  d.start(kind, content_length, limits);
  std::string buffer;
  size_t fed = 0;
  while (true) {
    const size_t n =
        splitter == nullptr ? input.size() - fed : std::min(splitter->next(), input.size() - fed);
    buffer.append(input.substr(fed, n));
    fed += n;
    const BodyDecoder::Result r = d.decode(buffer, run.sink);
    PIER_FUZZ_CHECK(r.consumed <= buffer.size());
    PIER_FUZZ_CHECK(!(r.done && r.error));
    buffer.erase(0, r.consumed);
    run.consumed += r.consumed;
    if (r.error) {
      PIER_FUZZ_CHECK(d.failure().status >= 400 && !d.failure().reason.empty());
      PIER_FUZZ_CHECK(d.decode(buffer, run.sink).error);  // errors stick
      run.error = true;
      break;
    }
    if (r.done) {
      run.done = true;
      break;
    }
    if (fed == input.size()) break;
  }
  PIER_FUZZ_CHECK(run.sink.body.size() == d.bodyBytes());
  if (run.done && kind == BodyKind::kChunked) PIER_FUZZ_CHECK(run.sink.trailer_calls == 1);
  if (kind != BodyKind::kChunked) PIER_FUZZ_CHECK(run.sink.trailer_calls == 0);
  if (kind == BodyKind::kUntilClose) PIER_FUZZ_CHECK(!run.done && run.consumed == input.size());
  return run;
}

// Splitting the input must not change what the decoder says.
inline BodyRun decodeBothWays(BodyKind kind, uint64_t content_length, const ParseLimits& limits,
                              std::string_view input, Splitter& splitter) {
  BodyRun once = decodeBody(kind, content_length, limits, input, nullptr);
  const BodyRun split = decodeBody(kind, content_length, limits, input, &splitter);
  PIER_FUZZ_CHECK(once.error == split.error);
  PIER_FUZZ_CHECK(once.done == split.done);
  if (once.done) {
    PIER_FUZZ_CHECK(once.consumed == split.consumed);
    PIER_FUZZ_CHECK(once.sink.body == split.sink.body);
    PIER_FUZZ_CHECK(once.sink.trailers == split.sink.trailers);
  } else if (!once.error) {
    // Incomplete: the split run has seen a prefix of what the one-shot run saw.
    PIER_FUZZ_CHECK(once.sink.body.compare(0, split.sink.body.size(), split.sink.body) == 0);
  }
  return once;
}

inline void checkHeaders(std::span<const Header> headers, std::string_view buffer) {
  for (const Header& h : headers) {
    PIER_FUZZ_CHECK(!h.name.empty());
    PIER_FUZZ_CHECK(h.name.data() >= buffer.data() &&
                    h.name.data() + h.name.size() <= buffer.data() + buffer.size());
    PIER_FUZZ_CHECK(h.value.data() >= buffer.data() &&
                    h.value.data() + h.value.size() <= buffer.data() + buffer.size());
    if (!h.value.empty()) {
      PIER_FUZZ_CHECK(h.value.front() != ' ' && h.value.front() != '\t');
      PIER_FUZZ_CHECK(h.value.back() != ' ' && h.value.back() != '\t');
    }
    for (char c : h.value) PIER_FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

}  // namespace pier::http::fuzz
