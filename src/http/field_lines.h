#pragma once
// Pieces shared by the request parser, the response parser and the chunked
// trailer decoder: finding the empty line that ends a field section, and
// splitting/validating field lines. Internal to the codec.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "src/http/codec.h"

namespace pier::http::detail {

enum class SectionScan : uint8_t { kFound, kNeedMore, kBareLf };

// Looks for the empty line that ends a section starting at `start` in `data`.
// `scanned` is where the previous call stopped, so feeding a growing buffer
// costs O(n) in total. Every LF before the end is checked to follow a CR. On
// kFound, `end` is one past the final CRLF.
SectionScan findSectionEnd(std::string_view data, size_t start, size_t& scanned, size_t& end);

struct FieldLineRules {
  uint32_t max_fields;
  int error_status;     // status for malformed lines
  int too_many_status;  // status for more than max_fields lines
};

// Parses `block`, a run of field lines each ending in CRLF (as vetted by
// findSectionEnd, without the final empty line), appending them to `out`.
bool parseFieldLines(std::string_view block, const FieldLineRules& rules, std::vector<Header>& out,
                     ParseFailure& failure);

std::string_view trimOws(std::string_view s);

// The reason for an invalid byte: bare CR gets its own message because it is
// the classic smuggling vector.
std::string_view badCharReason(char c, std::string_view otherwise);

inline bool fail(ParseFailure& f, int status, std::string_view reason) {
  f.status = status;
  f.reason = reason;
  return false;
}

}  // namespace pier::http::detail
