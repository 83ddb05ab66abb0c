#include "src/http/field_semantics.h"

#include "src/http/chars.h"
#include "src/http/field_lines.h"

namespace pier::http::detail {
namespace {

// Calls fn(element) for each comma-separated element with OWS trimmed,
// including empty ones; returns the first failure reason fn gives, or "".
template <typename Fn>
std::string_view forEachElement(std::string_view list, Fn&& fn) {
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view reason = fn(trimOws(list.substr(0, comma)));
    if (!reason.empty()) return reason;
    if (comma == std::string_view::npos) return {};
    list.remove_prefix(comma + 1);
  }
}

bool parseDigits(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!chars::isDigit(static_cast<unsigned char>(c))) return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string_view addContentLength(std::string_view value, FieldSummary& s) {
  return forEachElement(value, [&](std::string_view e) -> std::string_view {
    uint64_t n = 0;
    if (!parseDigits(e, n)) return "invalid content-length";
    // "5, 5" and repeated identical fields collapse; anything else is ambiguous.
    if (s.has_content_length && s.content_length != n) return "conflicting content-length values";
    s.has_content_length = true;
    s.content_length = n;
    return {};
  });
}

std::string_view addTransferEncoding(std::string_view value, FieldSummary& s) {
  s.has_transfer_encoding = true;
  return forEachElement(value, [&](std::string_view e) -> std::string_view {
    if (e.empty()) return {};  // lists may carry empty elements
    for (char c : e) {
      // This also rejects parameters: none of the codings we accept take any.
      if (!chars::isToken(c)) return "invalid transfer-coding";
    }
    if (equalsLower(e, "chunked")) {
      if (s.chunked_seen) return "chunked applied more than once";
      s.chunked_seen = true;
      s.chunked_last = true;
      return {};
    }
    s.chunked_last = false;
    s.other_coding = true;
    return {};
  });
}

bool isValidHost(std::string_view v) {
  for (char c : v) {
    if (!chars::has(c, chars::kHost)) return false;
  }
  return true;
}

void addConnection(std::string_view value, FieldSummary& s) {
  forEachElement(value, [&](std::string_view e) -> std::string_view {
    if (equalsLower(e, "close"))
      s.connection_close = true;
    else if (equalsLower(e, "keep-alive"))
      s.connection_keep_alive = true;
    else if (equalsLower(e, "upgrade"))
      s.connection_upgrade = true;
    return {};
  });
}

}  // namespace

bool summarizeFields(std::span<const Header> headers, bool is_request, int error_status, FieldSummary& s,
                     ParseFailure& failure) {
  s = FieldSummary{};
  for (const Header& h : headers) {
    std::string_view reason;
    // Dispatch on length first: most fields are none of these and cost one switch.
    switch (h.name.size()) {
      case 4:
        if (is_request && equalsLower(h.name, "host")) {
          if (++s.host_count > 1)
            reason = "more than one host";
          else if (!isValidHost(h.value))
            reason = "invalid host";
          s.host = h.value;
        }
        break;
      case 6:
        if (is_request && equalsLower(h.name, "expect") && headerHasToken(h.value, "100-continue")) {
          s.expect_continue = true;
        }
        break;
      case 7:
        if (equalsLower(h.name, "upgrade")) s.has_upgrade = true;
        break;
      case 10:
        if (equalsLower(h.name, "connection")) addConnection(h.value, s);
        break;
      case 14:
        if (equalsLower(h.name, "content-length")) reason = addContentLength(h.value, s);
        break;
      case 17:
        if (equalsLower(h.name, "transfer-encoding")) reason = addTransferEncoding(h.value, s);
        break;
      default:
        break;
    }
    if (!reason.empty()) return fail(failure, error_status, reason);
  }
  return true;
}

}  // namespace pier::http::detail
