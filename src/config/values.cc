#include "src/config/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace pier::config {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

struct Unit {
  std::string_view suffix;
  int64_t millis;
};

// Longer suffixes first so that "ms" is not read as "m" followed by "s".
constexpr std::array<Unit, 4> kUnits = {{{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}}};

Error durationError(std::string_view text) {
  return Error{"invalid duration \"" + std::string(text) +
               "\": expected a number with a unit (ms, s, m, h) such as \"250ms\", \"10s\" or \"1m30s\", "
               "or an integer number of milliseconds"};
}

}  // namespace

Result<Millis> parseDuration(std::string_view text) {
  if (text.empty()) return durationError(text);
  if (text[0] == '-') return Error{"must not be negative, got \"" + std::string(text) + "\""};
  const std::string too_large = "duration \"" + std::string(text) + "\" is too large (at most " +
                                formatDuration(Millis(kMaxDurationMillis)) + ")";
  if (std::all_of(text.begin(), text.end(), isDigit)) {
    auto n = parseUnsigned(text, kMaxDurationMillis);
    if (!n.ok()) return Error{too_large};
    return Millis(static_cast<int64_t>(*n));
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && isDigit(text[i])) ++i;
    if (i == start) return durationError(text);
    auto n = parseUnsigned(text.substr(start, i - start), kMaxDurationMillis);
    if (!n.ok()) return Error{too_large};
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i).starts_with(u.suffix)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return durationError(text);
    i += unit->suffix.size();
    // Both factors are at most kMaxDurationMillis / 3.6e6-ish, so compare by
    // division to stay clear of overflow.
    if (static_cast<int64_t>(*n) > (kMaxDurationMillis - total) / unit->millis) return Error{too_large};
    total += static_cast<int64_t>(*n) * unit->millis;
  }
  return Millis(total);
}

std::string quote(std::string_view text) {
  // Appended piece by piece: gcc 12 at -O3 misreports `"\"" + std::string(text)`
  // as overlapping copies (-Wrestrict).
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  out.append(text);
  out.push_back('"');
  return out;
}

std::string formatDuration(Millis duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms < 0) return std::to_string(ms) + "ms";  // never produced by the parser
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

Result<uint64_t> parseUnsigned(std::string_view text, uint64_t max) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), isDigit)) {
    return Error{"expected a non-negative integer, got \"" + std::string(text) + "\""};
  }
  uint64_t value = 0;
  for (char c : text) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (digit > max || value > (max - digit) / 10)
      return Error{"must be at most " + std::to_string(max) + ", got " + std::string(text)};
    value = value * 10 + digit;
  }
  return value;
}

Result<SocketAddress> parseSocketAddress(std::string_view text) {
  const std::string quoted = quote(text);
  const Error shape{
      "invalid address " + quoted +
      ": expected IP:PORT with a literal IP address, such as \"127.0.0.1:8080\" or \"[::1]:8080\""};
  SocketAddress address;
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return shape;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    address.ipv6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{"invalid address " + quoted + ": missing \":PORT\""};
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error{"invalid address " + quoted +
                   ": IPv6 addresses must be in brackets, as in \"[::1]:8080\""};
    }
  }
  std::string host_text(host);
  char canonical[INET6_ADDRSTRLEN] = {};
  if (address.ipv6) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, host_text.c_str(), &a6) != 1) {
      return Error{"invalid address " + quoted + ": \"" + host_text + "\" is not an IPv6 address"};
    }
    inet_ntop(AF_INET6, &a6, canonical, sizeof canonical);
  } else {
    in_addr a4{};
    if (inet_pton(AF_INET, host_text.c_str(), &a4) != 1) {
      return Error{"invalid address " + quoted + ": \"" + host_text +
                   "\" is not an IPv4 address (host names are not resolved)"};
    }
    inet_ntop(AF_INET, &a4, canonical, sizeof canonical);
  }
  auto port_number = parseUnsigned(port, 65535);
  if (!port_number.ok() || *port_number == 0) {
    return Error{"invalid address " + quoted + ": port must be between 1 and 65535"};
  }
  address.host = canonical;
  address.port = static_cast<uint16_t>(*port_number);
  return address;
}

bool isToken(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    if (std::isalnum(static_cast<unsigned char>(c))) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool isValidHeaderValue(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool isManagedHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kManaged = {"connection", "content-length",    "host",
                                                               "keep-alive", "proxy-connection",  "te",
                                                               "trailer",    "transfer-encoding", "upgrade"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kManaged.begin(), kManaged.end(), lower) != kManaged.end();
}

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code;
    uint32_t min;
    if ((c & 0xe0) == 0xc0) {
      length = 2, code = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, code = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, code = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xc0) != 0x80) return false;
      code = (code << 6) | (cont & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

std::optional<std::string> checkName(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 128) return "must be at most 128 characters long";
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return "must not contain spaces or control characters";
  }
  return std::nullopt;
}

std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> candidates) {
  // Plain Levenshtein distance; the inputs are short key names.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t above = row[j];
        bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                    std::tolower(static_cast<unsigned char>(b[j - 1]));
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  if (word.size() > 64) return std::nullopt;
  std::optional<std::string_view> best;
  size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    size_t d = distance(word, candidate);
    if (!best || d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  // A third of the word's length (at least 1, at most 3) keeps hints plausible.
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  if (best && best_distance <= limit) return best;
  // A shortened or lengthened word ("warning" for "warn").
  for (std::string_view candidate : candidates) {
    if (std::min(word.size(), candidate.size()) >= 3 &&
        (word.starts_with(candidate) || candidate.starts_with(word))) {
      return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace pier::config
