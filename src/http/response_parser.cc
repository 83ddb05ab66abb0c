#include "src/http/chars.h"
#include "src/http/codec.h"
#include "src/http/field_lines.h"
#include "src/http/field_semantics.h"

namespace pier::http {
namespace {

using detail::fail;

// Every response-side failure is the upstream's fault: the proxy answers 502.
constexpr int kBad = 502;
constexpr size_t kInitialHeaderCapacity = 32;

bool parseStatusLine(std::string_view line, ResponseHead& out, ParseFailure& f) {
  // HTTP-version SP 3DIGIT [SP reason-phrase]; tolerate a missing SP when the
  // reason is empty, as many servers send "HTTP/1.1 200".
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') {
    for (char c : line) {
      if (c == '\r' || c == '\0') return fail(f, kBad, detail::badCharReason(c, ""));
    }
    return fail(f, kBad, "invalid status-line");
  }
  if (line[7] == '1') {
    out.version = Version::kHttp11;
  } else if (line[7] == '0') {
    out.version = Version::kHttp10;
  } else {
    return fail(f, kBad, "unsupported http version");
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (!chars::isDigit(static_cast<unsigned char>(line[i]))) return fail(f, kBad, "invalid status code");
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return fail(f, kBad, "invalid status code");
  out.status = status;
  out.status_digits = line.substr(9, 3);
  out.reason = {};
  if (line.size() > 12) {
    if (line[12] != ' ') return fail(f, kBad, "invalid status-line");
    const std::string_view reason = line.substr(13);
    for (char c : reason) {
      if (!chars::isFieldValue(c)) return fail(f, kBad, detail::badCharReason(c, "invalid reason-phrase"));
    }
    out.reason = reason;
  }
  return true;
}

bool applyFraming(const detail::FieldSummary& s, std::string_view request_method, ResponseHead& out,
                  ParseFailure& f) {
  const bool http11 = out.version == Version::kHttp11;
  // Framing errors are rejected even when the status means "no body": a
  // message that disagrees with itself is not worth forwarding.
  if (s.has_transfer_encoding && !http11) return fail(f, kBad, "transfer-encoding in http/1.0 response");
  if (s.has_transfer_encoding && s.has_content_length) {
    return fail(f, kBad, "content-length with transfer-encoding");
  }
  const int st = out.status;
  if (request_method == "HEAD" || (st >= 100 && st < 200) || st == 204 || st == 304) {
    out.body = BodyKind::kNone;
  } else if (request_method == "CONNECT" && st >= 200 && st < 300) {
    out.body = BodyKind::kNone;
  } else if (s.has_transfer_encoding) {
    // RFC 9112 6.3 would read a body whose final coding is not chunked until
    // close, but the proxy drops Transfer-Encoding (hop-by-hop) and re-frames,
    // so any coding besides chunked would reach the client undeclared. Like
    // nginx, refuse such responses.
    if (!s.chunked_last || s.other_coding) return fail(f, kBad, "unsupported transfer-coding");
    out.body = BodyKind::kChunked;
  } else if (s.has_content_length) {
    out.body = s.content_length > 0 ? BodyKind::kContentLength : BodyKind::kNone;
    out.content_length = s.content_length;
  } else {
    out.body = BodyKind::kUntilClose;
  }
  out.keep_alive =
      out.body != BodyKind::kUntilClose && !s.connection_close && (http11 || s.connection_keep_alive);
  return true;
}

}  // namespace

ParseStatus ResponseParser::parse(std::string_view data, std::string_view request_method, ResponseHead& out) {
  size_t end = 0;
  switch (detail::findSectionEnd(data, 0, scanned_, end)) {
    case detail::SectionScan::kBareLf:
      fail(failure_, kBad, "bare LF");
      return ParseStatus::kError;
    case detail::SectionScan::kNeedMore:
      if (data.size() > limits_.max_head_bytes) {
        fail(failure_, kBad, "response head too large");
        return ParseStatus::kError;
      }
      return ParseStatus::kIncomplete;
    case detail::SectionScan::kFound:
      break;
  }
  if (end > limits_.max_head_bytes) {
    fail(failure_, kBad, "response head too large");
    return ParseStatus::kError;
  }
  const std::string_view head = data.substr(0, end);
  const size_t line_end = head.find('\n');  // exists and follows a CR (findSectionEnd)
  if (line_end + 1 == end) {
    fail(failure_, kBad, "empty status-line");
    return ParseStatus::kError;
  }
  out.headers.clear();
  if (out.headers.capacity() == 0) out.headers.reserve(kInitialHeaderCapacity);
  out.content_length = 0;
  detail::FieldSummary summary;
  const detail::FieldLineRules rules{limits_.max_headers, kBad, kBad};
  if (!parseStatusLine(head.substr(0, line_end - 1), out, failure_) ||
      !detail::parseFieldLines(head.substr(line_end + 1, end - line_end - 3), rules, out.headers, failure_) ||
      !detail::summarizeFields(out.headers, false, kBad, summary, failure_) ||
      !applyFraming(summary, request_method, out, failure_)) {
    return ParseStatus::kError;
  }
  out.head_bytes = end;
  scanned_ = 0;  // the next message starts over even if the caller forgets reset()
  return ParseStatus::kComplete;
}

}  // namespace pier::http
