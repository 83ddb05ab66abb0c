#include <algorithm>
#include <cstring>

#include "src/http/chars.h"
#include "src/http/codec.h"
#include "src/http/field_lines.h"

namespace pier::http {
namespace {

// 16 hex digits cover any uint64; more (even leading zeros) is rejected.
constexpr size_t kMaxSizeDigits = 16;

// chunk-ext = *( ";" chunk-ext-name [ "=" chunk-ext-val ] ), with no BWS:
// whitespace there is legal but is where lenient parsers start to disagree.
bool validExtensions(std::string_view ext) {
  size_t i = 0;
  while (i < ext.size()) {
    if (ext[i++] != ';') return false;
    const size_t name = i;
    while (i < ext.size() && chars::isToken(ext[i])) ++i;
    if (i == name) return false;
    if (i == ext.size() || ext[i] == ';') continue;
    if (ext[i++] != '=') return false;
    if (i < ext.size() && ext[i] == '"') {
      ++i;
      while (true) {
        if (i == ext.size()) return false;
        const char c = ext[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i == ext.size() || !chars::isFieldValue(ext[i])) return false;
          ++i;
        } else if (!chars::has(c, chars::kQdText)) {
          return false;
        }
      }
    } else {
      const size_t value = i;
      while (i < ext.size() && chars::isToken(ext[i])) ++i;
      if (i == value) return false;
    }
  }
  return true;
}

}  // namespace

void BodyDecoder::start(BodyKind kind, uint64_t content_length, const ParseLimits& limits) {
  kind_ = kind;
  limits_ = limits;
  remaining_ = 0;
  body_bytes_ = 0;
  trailer_scanned_ = 0;
  trailers_.clear();
  failure_ = ParseFailure{};
  switch (kind) {
    case BodyKind::kNone:
      state_ = State::kDone;
      break;
    case BodyKind::kContentLength:
      remaining_ = content_length;
      state_ = content_length == 0 ? State::kDone : State::kData;
      break;
    case BodyKind::kChunked:
      state_ = State::kSize;
      break;
    case BodyKind::kUntilClose:
      state_ = State::kData;
      break;
  }
}

BodyDecoder::Result BodyDecoder::fail(int status, std::string_view reason) {
  failure_.status = status;
  failure_.reason = reason;
  state_ = State::kError;
  return Result{0, false, true};
}

BodyDecoder::Result BodyDecoder::decode(std::string_view data, BodySink& sink) {
  if (state_ == State::kError) return Result{0, false, true};
  if (state_ == State::kDone) return Result{0, true, false};
  switch (kind_) {
    case BodyKind::kNone:
      state_ = State::kDone;
      return Result{0, true, false};
    case BodyKind::kUntilClose:
      if (!data.empty()) {
        body_bytes_ += data.size();
        sink.onBodyData(data);
      }
      return Result{data.size(), false, false};
    case BodyKind::kContentLength: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), remaining_));
      remaining_ -= n;
      body_bytes_ += n;
      if (remaining_ == 0) state_ = State::kDone;
      if (n > 0) sink.onBodyData(data.substr(0, n));
      return Result{n, remaining_ == 0, false};
    }
    case BodyKind::kChunked:
      return decodeChunked(data, sink);
  }
  return Result{};
}

bool BodyDecoder::parseSizeLine(std::string_view line) {
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size(); ++i) {
    const int v = chars::hexValue(line[i]);
    if (v < 0) break;
    if (i == kMaxSizeDigits) {
      failure_ = {400, "chunk size too long"};
      return false;
    }
    size = (size << 4) | static_cast<uint64_t>(v);
  }
  if (i == 0) {
    failure_ = {400,
                line.empty() ? "empty chunk size" : detail::badCharReason(line[0], "invalid chunk size")};
    return false;
  }
  if (i < line.size()) {
    if (line[i] != ';') {
      failure_ = {400, detail::badCharReason(line[i], "invalid chunk size")};
      return false;
    }
    const std::string_view ext = line.substr(i);
    if (ext.size() > limits_.max_chunk_extension_bytes) {
      failure_ = {400, "chunk extension too long"};
      return false;
    }
    if (!validExtensions(ext)) {
      failure_ = {400, "invalid chunk extension"};
      return false;
    }
  }
  remaining_ = size;
  return true;
}

BodyDecoder::Result BodyDecoder::decodeChunked(std::string_view data, BodySink& sink) {
  size_t pos = 0;
  while (pos < data.size() && state_ != State::kDone) {
    const std::string_view rest = data.substr(pos);
    switch (state_) {
      case State::kSize: {
        const auto* lf = static_cast<const char*>(std::memchr(rest.data(), '\n', rest.size()));
        if (lf == nullptr) {
          // A valid line is at most digits + extension + CRLF; beyond that
          // waiting for more would only buffer garbage.
          if (rest.size() > kMaxSizeDigits + limits_.max_chunk_extension_bytes + 1) {
            return fail(400, "chunk size line too long");
          }
          if (chars::hexValue(rest[0]) < 0)
            return fail(400, detail::badCharReason(rest[0], "invalid chunk size"));
          return Result{pos, false, false};
        }
        const size_t lf_at = static_cast<size_t>(lf - rest.data());
        if (lf_at == 0 || rest[lf_at - 1] != '\r') return fail(400, "bare LF");
        if (!parseSizeLine(rest.substr(0, lf_at - 1))) return fail(failure_.status, failure_.reason);
        pos += lf_at + 1;
        if (remaining_ == 0) {
          state_ = State::kTrailers;
          trailer_scanned_ = 0;
        } else {
          state_ = State::kData;
        }
        break;
      }
      case State::kData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(rest.size(), remaining_));
        remaining_ -= n;
        body_bytes_ += n;
        pos += n;
        if (remaining_ == 0) state_ = State::kDataCrlf;
        sink.onBodyData(rest.substr(0, n));
        break;
      }
      case State::kDataCrlf:
        if (rest[0] != '\r')
          return fail(400, rest[0] == '\n' ? "bare LF" : "chunk data not followed by CRLF");
        if (rest.size() < 2) return Result{pos, false, false};
        if (rest[1] != '\n') return fail(400, "bare CR");
        pos += 2;
        state_ = State::kSize;
        break;
      case State::kTrailers: {
        size_t end = 0;
        switch (detail::findSectionEnd(rest, 0, trailer_scanned_, end)) {
          case detail::SectionScan::kBareLf:
            return fail(400, "bare LF");
          case detail::SectionScan::kNeedMore:
            if (rest.size() > limits_.max_trailer_bytes) return fail(400, "trailer section too large");
            return Result{pos, false, false};
          case detail::SectionScan::kFound:
            break;
        }
        if (end > limits_.max_trailer_bytes) return fail(400, "trailer section too large");
        trailers_.clear();
        const detail::FieldLineRules rules{limits_.max_headers, 400, 400};
        if (!detail::parseFieldLines(rest.substr(0, end - 2), rules, trailers_, failure_)) {
          return fail(failure_.status, failure_.reason);
        }
        pos += end;
        state_ = State::kDone;
        sink.onTrailers(trailers_);
        break;
      }
      case State::kDone:
      case State::kError:
        break;
    }
  }
  return Result{pos, state_ == State::kDone, false};
}

}  // namespace pier::http
