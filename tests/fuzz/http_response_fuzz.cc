// Parses a response head (after a split-seed byte and an options byte that
// also picks the request method) at once and in pieces, then its body both
// ways; the two must always agree and the framing must follow RFC 9112 6.3.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/http_fuzz_support.h"

namespace pier::http::fuzz {
namespace {

void checkSameHead(const ResponseHead& a, const ResponseHead& b) {
  PIER_FUZZ_CHECK(a.version == b.version && a.status == b.status && a.reason == b.reason);
  PIER_FUZZ_CHECK(a.body == b.body && a.content_length == b.content_length);
  PIER_FUZZ_CHECK(a.keep_alive == b.keep_alive && a.head_bytes == b.head_bytes);
  PIER_FUZZ_CHECK(a.headers.size() == b.headers.size());
  for (size_t i = 0; i < a.headers.size(); ++i) {
    PIER_FUZZ_CHECK(a.headers[i].name == b.headers[i].name && a.headers[i].value == b.headers[i].value);
  }
}

void checkFraming(const ResponseHead& h, std::string_view method) {
  PIER_FUZZ_CHECK(h.status >= 100 && h.status <= 999);
  const bool bodiless = method == "HEAD" || h.status < 200 || h.status == 204 || h.status == 304 ||
                        (method == "CONNECT" && h.status < 300);
  if (bodiless) PIER_FUZZ_CHECK(h.body == BodyKind::kNone);
  if (h.body == BodyKind::kUntilClose) PIER_FUZZ_CHECK(!h.keep_alive);
  if (h.body == BodyKind::kContentLength) PIER_FUZZ_CHECK(h.content_length > 0);
}

void run(std::string_view data, std::string_view method, Splitter& splitter, const ParseLimits& limits) {
  ResponseParser once_parser(limits);
  ResponseParser split_parser(limits);
  ResponseHead once;
  ResponseHead split;
  for (int message = 0; message < 8 && !data.empty(); ++message) {
    const ParseStatus s1 = once_parser.parse(data, method, once);
    ParseStatus s2 = ParseStatus::kIncomplete;
    for (size_t n = 0; s2 == ParseStatus::kIncomplete && n < data.size();) {
      n = std::min(data.size(), n + splitter.next());
      s2 = split_parser.parse(data.substr(0, n), method, split);
    }
    PIER_FUZZ_CHECK(s1 == s2);
    if (s1 == ParseStatus::kError) {
      // Reasons may differ: a prefix can already be too large where the whole
      // input shows an earlier-detected defect further on.
      return;
    }
    if (s1 == ParseStatus::kIncomplete) return;
    checkSameHead(once, split);
    checkHeaders(once.headers, data);
    checkFraming(once, method);

    data.remove_prefix(once.head_bytes);
    const BodyRun body = decodeBothWays(once.body, once.content_length, limits, data, splitter);
    if (!body.done) return;
    data.remove_prefix(body.consumed);
    once_parser.reset();
    split_parser.reset();
  }
}

}  // namespace
}  // namespace pier::http::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 2) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT", "POST"};
  pier::http::fuzz::Splitter splitter(bytes[0]);
  const pier::http::ParseLimits limits = pier::http::fuzz::limitsFrom(bytes[1]);
  const std::string_view method = kMethods[(bytes[1] >> 1) & 3];
  pier::http::fuzz::run(std::string_view(reinterpret_cast<const char*>(bytes + 2), size - 2), method,
                        splitter, limits);
  return 0;
}
