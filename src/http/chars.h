#pragma once
// Character classes of RFC 9110/9112 as one 256-entry table, so every byte of
// a head costs one load and one mask on the hot path.
#include <array>
#include <cstdint>

namespace pier::http::chars {

enum : uint8_t {
  kToken = 1 << 0,       // tchar
  kFieldValue = 1 << 1,  // field-vchar / SP / HTAB / obs-text
  kTarget = 1 << 2,      // visible ASCII (request-target)
  kHost = 1 << 3,        // uri-host [":" port], including IP-literal brackets
  kQdText = 1 << 4,      // qdtext of a quoted-string
  kSchemeRest = 1 << 5,  // ALPHA / DIGIT / "+" / "-" / "."
};

constexpr bool isAlpha(unsigned c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(unsigned c) { return c >= '0' && c <= '9'; }

constexpr std::array<uint8_t, 256> makeTable() {
  std::array<uint8_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alnum = isAlpha(c) || isDigit(c);
    const bool vchar = c >= 0x21 && c <= 0x7e;
    const bool obs_text = c >= 0x80;
    if (alnum) v |= kToken | kHost | kSchemeRest;
    for (char s : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'}) {
      if (c == static_cast<unsigned char>(s)) v |= kToken;
    }
    // unreserved / pct-encoded / sub-delims / ":" / "[" / "]"
    for (char s :
         {'-', '.', '_', '~', '%', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '[', ']'}) {
      if (c == static_cast<unsigned char>(s)) v |= kHost;
    }
    for (char s : {'+', '-', '.'}) {
      if (c == static_cast<unsigned char>(s)) v |= kSchemeRest;
    }
    if (vchar || obs_text || c == ' ' || c == '\t') v |= kFieldValue;
    if (vchar) v |= kTarget;
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) ||
        obs_text) {
      v |= kQdText;
    }
    t[c] = v;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kTable = makeTable();

inline bool has(char c, uint8_t cls) { return (kTable[static_cast<uint8_t>(c)] & cls) != 0; }
inline bool isToken(char c) { return has(c, kToken); }
inline bool isFieldValue(char c) { return has(c, kFieldValue); }
inline bool isOws(char c) { return c == ' ' || c == '\t'; }

// Value of a hex digit, or -1.
constexpr int hexValue(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char toLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

}  // namespace pier::http::chars
