// Decodes a chunked body (after a split-seed byte and an options byte) at
// once and in pieces; when it decodes, re-encoding what came out must decode
// to the same body and trailers again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/http_fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace pier::http;
  using namespace pier::http::fuzz;
  if (size < 2) return 0;
  Splitter splitter(bytes[0]);
  const ParseLimits limits = limitsFrom(bytes[1]);
  const std::string_view data(reinterpret_cast<const char*>(bytes + 2), size - 2);

  const BodyRun first = decodeBothWays(BodyKind::kChunked, 0, limits, data, splitter);
  if (!first.done) return 0;

  // Re-encode in pieces whose sizes come from the splitter.
  std::string wire;
  const std::string& body = first.sink.body;
  for (size_t at = 0; at < body.size();) {
    const size_t n = std::min(splitter.next(), body.size() - at);
    appendChunkHeader(wire, n);
    wire.append(body, at, n);
    wire.append("\r\n");
    at += n;
  }
  std::vector<Header> trailers;
  for (const auto& [name, value] : first.sink.trailers) trailers.push_back(Header{name, value});
  appendLastChunk(wire, trailers);

  ParseLimits roomy;  // "name: value" may be longer than what was sent
  roomy.max_trailer_bytes = UINT32_MAX;
  const BodyRun second = decodeBody(BodyKind::kChunked, 0, roomy, wire, nullptr);
  PIER_FUZZ_CHECK(second.done && second.consumed == wire.size());
  PIER_FUZZ_CHECK(second.sink.body == body);
  PIER_FUZZ_CHECK(second.sink.trailers == first.sink.trailers);
  return 0;
}
