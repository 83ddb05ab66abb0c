#include "src/router/matchers.h"

#include "src/router/ascii.h"

namespace pier::router {

Result<std::unique_ptr<RE2>> compileRegex(const std::string& pattern, bool case_sensitive,
                                          std::string_view what) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_case_sensitive(case_sensitive);
  auto regex = std::make_unique<RE2>(pattern, options);
  if (!regex->ok()) {
    return Error{std::string(what) + ": invalid regex \"" + pattern + "\": " + regex->error()};
  }
  return regex;
}

Result<ValueMatcher> ValueMatcher::compile(const config::StringMatch& match, std::string_view what) {
  ValueMatcher matcher;
  matcher.kind_ = match.kind;
  matcher.value_ = match.value;
  if (match.kind == config::StringMatch::Kind::kRegex) {
    auto regex = compileRegex(match.value, true, what);
    if (!regex) return Error{regex.error()};
    matcher.regex_ = std::move(regex).value();
  }
  return matcher;
}

bool ValueMatcher::matches(std::string_view value) const {
  using Kind = config::StringMatch::Kind;
  switch (kind_) {
    case Kind::kExact:
      return value == value_;
    case Kind::kPrefix:
      return value.starts_with(value_);
    case Kind::kSuffix:
      return value.ends_with(value_);
    case Kind::kRegex:
      return RE2::FullMatch(value, *regex_);
    case Kind::kPresent:
      return true;
  }
  return false;
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 && hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryParams parseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      params.emplace_back(percentDecode(pair), std::string());
    } else {
      params.emplace_back(percentDecode(pair.substr(0, eq)), percentDecode(pair.substr(eq + 1)));
    }
  }
  return params;
}

Result<KeyValueMatcher> KeyValueMatcher::compile(const config::KeyValueMatch& match, std::string_view what) {
  auto value = ValueMatcher::compile(match.match, what);
  if (!value) return Error{value.error()};
  KeyValueMatcher matcher;
  matcher.name_ = match.name;
  matcher.value_ = std::move(value).value();
  matcher.invert_ = match.invert;
  return matcher;
}

bool KeyValueMatcher::matchesHeaders(std::span<const http::Header> headers) const {
  bool matched = false;
  for (const http::Header& header : headers) {
    if (asciiIequals(header.name, name_) && value_.matches(header.value)) {
      matched = true;
      break;
    }
  }
  return matched != invert_;
}

bool KeyValueMatcher::matchesQuery(const QueryParams& params) const {
  bool matched = false;
  for (const auto& [name, value] : params) {
    if (name == name_ && value_.matches(value)) {
      matched = true;
      break;
    }
  }
  return matched != invert_;
}

}  // namespace pier::router
