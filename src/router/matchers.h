#pragma once
// Compiled forms of a route's header and query-parameter matchers, and the
// query-string decoding they need.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "src/common/result.h"
#include "src/config/config.h"
#include "src/http/codec.h"

namespace pier::router {

// Compiles `pattern` for a full match; the error names `what` on failure.
Result<std::unique_ptr<RE2>> compileRegex(const std::string& pattern, bool case_sensitive,
                                          std::string_view what);

class ValueMatcher {
 public:
  static Result<ValueMatcher> compile(const config::StringMatch& match, std::string_view what);
  bool matches(std::string_view value) const;

 private:
  config::StringMatch::Kind kind_ = config::StringMatch::Kind::kPresent;
  std::string value_;
  std::unique_ptr<RE2> regex_;
};

// "%41+b" -> "A b"; a '%' not followed by two hex digits is kept as is.
std::string percentDecode(std::string_view text);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// "a=1&b=&c" -> {a,1} {b,""} {c,""}, names and values percent-decoded.
QueryParams parseQuery(std::string_view query);

class KeyValueMatcher {
 public:
  static Result<KeyValueMatcher> compile(const config::KeyValueMatch& match, std::string_view what);
  // Header names compare case-insensitively; any of repeated headers may match.
  bool matchesHeaders(std::span<const http::Header> headers) const;
  // Parameter names compare exactly (they are data, not protocol tokens).
  bool matchesQuery(const QueryParams& params) const;

 private:
  std::string name_;
  ValueMatcher value_;
  bool invert_ = false;
};

}  // namespace pier::router
