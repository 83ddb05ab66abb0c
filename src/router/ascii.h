#pragma once
// ASCII-only case folding for hosts, header names and case-insensitive paths.
// Locale-independent on purpose: HTTP tokens are ASCII, and toupper() would
// let the process locale change routing.
#include <string>
#include <string_view>

namespace pier::router {

inline char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool asciiIequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

inline bool startsWith(std::string_view s, std::string_view prefix, bool case_sensitive) {
  if (s.size() < prefix.size()) return false;
  return case_sensitive ? s.substr(0, prefix.size()) == prefix
                        : asciiIequals(s.substr(0, prefix.size()), prefix);
}

inline std::string asciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

}  // namespace pier::router
