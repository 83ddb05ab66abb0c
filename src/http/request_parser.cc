#include <cstring>

#include "src/http/chars.h"
#include "src/http/codec.h"
#include "src/http/field_lines.h"
#include "src/http/field_semantics.h"

namespace pier::http {
namespace {

using detail::fail;

// RFC 9112 2.2 asks servers to skip at least one empty line before a
// request-line (some clients send CRLF after a POST body); a few is plenty.
constexpr int kMaxLeadingEmptyLines = 4;
constexpr size_t kInitialHeaderCapacity = 32;

bool isHttpVersionShape(std::string_view v) {
  return v.size() == 8 && v.substr(0, 5) == "HTTP/" && chars::isDigit(static_cast<unsigned char>(v[5])) &&
         v[6] == '.' && chars::isDigit(static_cast<unsigned char>(v[7]));
}

bool parseRequestLine(std::string_view line, RequestHead& out, ParseFailure& f) {
  size_t i = 0;
  while (i < line.size() && chars::isToken(line[i])) ++i;
  if (i == line.size() || line[i] != ' ') {
    return fail(f, 400,
                i < line.size() ? detail::badCharReason(line[i], "invalid method") : "invalid request-line");
  }
  if (i == 0) return fail(f, 400, "empty method");
  out.method = line.substr(0, i);

  const size_t t = ++i;
  while (i < line.size() && chars::has(line[i], chars::kTarget)) ++i;
  if (i == line.size() || line[i] != ' ') {
    return fail(
        f, 400,
        i < line.size() ? detail::badCharReason(line[i], "invalid request-target") : "invalid request-line");
  }
  if (i == t) return fail(f, 400, "empty request-target");
  out.target = line.substr(t, i - t);

  const std::string_view version = line.substr(i + 1);
  if (version == "HTTP/1.1") {
    out.version = Version::kHttp11;
  } else if (version == "HTTP/1.0") {
    out.version = Version::kHttp10;
  } else if (isHttpVersionShape(version)) {
    return fail(f, 505, "unsupported http version");
  } else {
    for (char c : version) {
      if (c == '\r' || c == '\0') return fail(f, 400, detail::badCharReason(c, ""));
    }
    return fail(f, 400, "invalid http version");
  }
  return true;
}

bool applyFraming(const detail::FieldSummary& s, RequestHead& out, ParseFailure& f) {
  const bool http11 = out.version == Version::kHttp11;
  if (s.has_transfer_encoding) {
    // RFC 9112 6.1: TE in 1.0 means the framing cannot be trusted.
    if (!http11) return fail(f, 400, "transfer-encoding in http/1.0 request");
    if (s.has_content_length) return fail(f, 400, "content-length with transfer-encoding");
    if (!s.chunked_last) return fail(f, 400, "final transfer-coding is not chunked");
    // The proxy removes chunked and re-frames the body; it cannot carry other
    // codings along, so it "does not understand" them (RFC 9112 6.1: 501).
    if (s.other_coding) return fail(f, 501, "unsupported transfer-coding");
    out.body = BodyKind::kChunked;
  } else if (s.has_content_length && s.content_length > 0) {
    out.body = BodyKind::kContentLength;
    out.content_length = s.content_length;
  }
  if (http11 && s.host_count == 0) return fail(f, 400, "missing host");
  out.host = s.host;
  out.keep_alive = http11 ? !s.connection_close : (s.connection_keep_alive && !s.connection_close);
  out.expect_continue = s.expect_continue;
  out.upgrade = (s.connection_upgrade && s.has_upgrade) || out.method == "CONNECT";
  return true;
}

}  // namespace

ParseStatus RequestParser::parse(std::string_view data, RequestHead& out) {
  size_t start = 0;
  for (int empty = 0; start < data.size() && (data[start] == '\r' || data[start] == '\n'); ++empty) {
    if (data[start] == '\n') {
      fail(failure_, 400, "bare LF");
      return ParseStatus::kError;
    }
    if (start + 1 == data.size()) return ParseStatus::kIncomplete;
    if (data[start + 1] != '\n') {
      fail(failure_, 400, "bare CR");
      return ParseStatus::kError;
    }
    if (empty == kMaxLeadingEmptyLines) {
      fail(failure_, 400, "too many empty lines before request-line");
      return ParseStatus::kError;
    }
    start += 2;
  }
  if (start == data.size()) return ParseStatus::kIncomplete;

  size_t end = 0;
  switch (detail::findSectionEnd(data, start, scanned_, end)) {
    case detail::SectionScan::kBareLf:
      fail(failure_, 400, "bare LF");
      return ParseStatus::kError;
    case detail::SectionScan::kNeedMore:
      if (data.size() - start > limits_.max_head_bytes) {
        fail(failure_, 431, "request head too large");
        return ParseStatus::kError;
      }
      return ParseStatus::kIncomplete;
    case detail::SectionScan::kFound:
      break;
  }
  if (end - start > limits_.max_head_bytes) {
    fail(failure_, 431, "request head too large");
    return ParseStatus::kError;
  }

  const std::string_view head = data.substr(start, end - start);
  const size_t line_end = head.find('\n');  // exists and follows a CR (findSectionEnd)
  out.headers.clear();
  if (out.headers.capacity() == 0) out.headers.reserve(kInitialHeaderCapacity);
  out.body = BodyKind::kNone;
  out.content_length = 0;
  detail::FieldSummary summary;
  const detail::FieldLineRules rules{limits_.max_headers, 400, 431};
  if (!parseRequestLine(head.substr(0, line_end - 1), out, failure_) ||
      !detail::parseFieldLines(head.substr(line_end + 1, head.size() - line_end - 3), rules, out.headers,
                               failure_) ||
      !detail::summarizeFields(out.headers, true, 400, summary, failure_) ||
      !applyFraming(summary, out, failure_)) {
    return ParseStatus::kError;
  }
  out.head_bytes = end;
  scanned_ = 0;  // the next message starts over even if the caller forgets reset()
  return ParseStatus::kComplete;
}

}  // namespace pier::http
