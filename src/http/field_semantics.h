#pragma once
// The header fields that decide framing and connection handling, gathered in
// one pass over a parsed head. Internal to the codec.
#include <cstdint>
#include <span>
#include <string_view>

#include "src/http/codec.h"

namespace pier::http::detail {

struct FieldSummary {
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool has_transfer_encoding = false;
  bool chunked_seen = false;
  bool chunked_last = false;  // the final transfer coding is chunked
  bool other_coding = false;  // a transfer coding other than chunked
  int host_count = 0;
  std::string_view host;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
};

// Fills `s` from `headers`. Fails on malformed or conflicting Content-Length,
// malformed Transfer-Encoding or chunked applied twice, and (requests only)
// invalid Host characters. Host and Expect are only looked at for requests.
bool summarizeFields(std::span<const Header> headers, bool is_request, int error_status, FieldSummary& s,
                     ParseFailure& failure);

}  // namespace pier::http::detail
