// Parses pipelined requests from the input (after a split-seed byte and an
// options byte), each head both at once and fed in pieces, then decodes its
// body both ways; the two must always agree.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/http_fuzz_support.h"

namespace pier::http::fuzz {
namespace {

void checkSameHead(const RequestHead& a, const RequestHead& b) {
  PIER_FUZZ_CHECK(a.method == b.method && a.target == b.target && a.version == b.version);
  PIER_FUZZ_CHECK(a.body == b.body && a.content_length == b.content_length && a.host == b.host);
  PIER_FUZZ_CHECK(a.keep_alive == b.keep_alive && a.expect_continue == b.expect_continue);
  PIER_FUZZ_CHECK(a.upgrade == b.upgrade && a.head_bytes == b.head_bytes);
  PIER_FUZZ_CHECK(a.headers.size() == b.headers.size());
  for (size_t i = 0; i < a.headers.size(); ++i) {
    PIER_FUZZ_CHECK(a.headers[i].name == b.headers[i].name && a.headers[i].value == b.headers[i].value);
  }
}

void run(std::string_view data, Splitter& splitter, const ParseLimits& limits) {
  RequestParser once_parser(limits);
  RequestParser split_parser(limits);
  RequestHead once;
  RequestHead split;
  for (int message = 0; message < 8 && !data.empty(); ++message) {
    const ParseStatus s1 = once_parser.parse(data, once);
    ParseStatus s2 = ParseStatus::kIncomplete;
    for (size_t n = 0; s2 == ParseStatus::kIncomplete && n < data.size();) {
      n = std::min(data.size(), n + splitter.next());
      s2 = split_parser.parse(data.substr(0, n), split);
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
    PIER_FUZZ_CHECK(once.head_bytes > 0 && once.head_bytes <= data.size());
    PIER_FUZZ_CHECK(once.body != BodyKind::kUntilClose);
    PIER_FUZZ_CHECK(!once.method.empty() && !once.target.empty());
    if (once.version == Version::kHttp11) PIER_FUZZ_CHECK(findHeader(once.headers, "host") != nullptr);
    (void)once.path();
    (void)once.query();

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
  pier::http::fuzz::Splitter splitter(bytes[0]);
  const pier::http::ParseLimits limits = pier::http::fuzz::limitsFrom(bytes[1]);
  pier::http::fuzz::run(std::string_view(reinterpret_cast<const char*>(bytes + 2), size - 2), splitter,
                        limits);
  return 0;
}
