#include "src/http/field_lines.h"

#include <cstring>

#include "src/http/chars.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pier::http::detail {
namespace {

// Skips a run of field-value bytes 16 at a time where it can; returns where
// the byte-wise scan should carry on. Values are most of a head's bytes.
const char* skipFieldValueBytes(const char* p, const char* end) {
#if defined(__SSE2__)
  // A byte stops the fast path if it is below 0x20 (CTLs, and HTAB, which the
  // byte-wise loop then accepts) or DEL. Unsigned "< 0x20" is a signed
  // compare after flipping the top bit.
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i low = _mm_set1_epi8(static_cast<char>(0x20 ^ 0x80));
  const __m128i del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i stop = _mm_or_si128(_mm_cmplt_epi8(_mm_xor_si128(v, flip), low), _mm_cmpeq_epi8(v, del));
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#else
  (void)end;
#endif
  return p;
}

}  // namespace

SectionScan findSectionEnd(std::string_view data, size_t start, size_t& scanned, size_t& end) {
  const char* base = data.data();
  size_t pos = scanned > start ? scanned : start;
  while (pos < data.size()) {
    const void* hit = std::memchr(base + pos, '\n', data.size() - pos);
    if (hit == nullptr) break;
    const size_t lf = static_cast<size_t>(static_cast<const char*>(hit) - base);
    if (lf == start || base[lf - 1] != '\r') return SectionScan::kBareLf;
    // Every earlier LF was checked to follow a CR, so "\n\r\n" is an empty line.
    if (lf - 1 == start || base[lf - 2] == '\n') {
      end = lf + 1;
      scanned = end;
      return SectionScan::kFound;
    }
    pos = lf + 1;
  }
  scanned = data.size();
  return SectionScan::kNeedMore;
}

std::string_view trimOws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && chars::isOws(s[b])) ++b;
  while (e > b && chars::isOws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string_view badCharReason(char c, std::string_view otherwise) {
  if (c == '\r') return "bare CR";
  if (c == '\0') return "NUL byte";
  return otherwise;
}

bool parseFieldLines(std::string_view block, const FieldLineRules& rules, std::vector<Header>& out,
                     ParseFailure& failure) {
  // `block` ends in CRLF and neither CR nor LF is a token or field-value
  // byte, so the scans below stop at the end of each line without a memchr.
  const char* p = block.data();
  const char* const end = p + block.size();
  const int bad = rules.error_status;
  if (block.empty()) return true;
  if (block.size() < 2 || end[-2] != '\r' || end[-1] != '\n') {
    return fail(failure, bad, "field line without CRLF");
  }
  while (p < end) {
    if (chars::isOws(*p)) return fail(failure, bad, "obsolete line folding");

    const char* q = p;
    while (chars::isToken(*q)) ++q;
    if (*q != ':') {
      if (chars::isOws(*q)) return fail(failure, bad, "whitespace between field name and colon");
      if (*q == '\r' && q[1] == '\n') return fail(failure, bad, "field line without colon");
      return fail(failure, bad, badCharReason(*q, "invalid character in field name"));
    }
    if (q == p) return fail(failure, bad, "empty field name");
    const std::string_view name(p, static_cast<size_t>(q - p));

    const char* v = q + 1;
    while (chars::isOws(*v)) ++v;
    const char* c = skipFieldValueBytes(v, end);
    while (chars::isFieldValue(*c)) ++c;
    if (*c != '\r' || c[1] != '\n') {
      return fail(failure, bad, badCharReason(*c, "control character in field value"));
    }
    const char* value_end = c;
    while (value_end > v && chars::isOws(value_end[-1])) --value_end;
    if (out.size() >= rules.max_fields) return fail(failure, rules.too_many_status, "too many header fields");
    out.push_back(Header{name, std::string_view(v, static_cast<size_t>(value_end - v))});
    p = c + 2;
  }
  return true;
}

}  // namespace pier::http::detail
