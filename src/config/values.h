#pragma once
// Parsers and checks for the scalar value types of the configuration
// (durations, addresses, names, header tokens). They take text and return the
// value or a message saying what is wrong, without any YAML position: the
// YAML reader adds file, line, column and field path.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "src/common/result.h"
#include "src/config/config.h"

namespace pier::config {

// Durations are capped so that they fit in a signed 32-bit millisecond count.
inline constexpr int64_t kMaxDurationMillis = 2'147'483'647;

// "250ms", "10s", "1m", "1h", "1m30s", or a plain integer meaning milliseconds.
Result<Millis> parseDuration(std::string_view text);
// The shortest exact form: 0 -> "0s", 250 -> "250ms", 10000 -> "10s",
// 60000 -> "1m", 5400000 -> "90m". parseDuration(formatDuration(d)) == d.
std::string formatDuration(Millis duration);

// `text` in double quotes, for error messages.
std::string quote(std::string_view text);

// A non-negative decimal integer no larger than `max`.
Result<uint64_t> parseUnsigned(std::string_view text, uint64_t max);

// "127.0.0.1:8080" or "[::1]:8080"; the host must be a literal IP address and
// is stored in canonical form ("[0:0::1]" becomes "::1"). Port 1..65535.
Result<SocketAddress> parseSocketAddress(std::string_view text);

// An RFC 9110 token: what header names and methods are made of.
bool isToken(std::string_view text);
// Header values may hold any byte except CR, LF and NUL (which would let a
// value inject headers).
bool isValidHeaderValue(std::string_view text);
// Connection-level headers that pier itself manages; routes may not add or
// remove them.
bool isManagedHeader(std::string_view name);
// Well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF). Config strings must be, so that toJson() output always dumps.
bool isValidUtf8(std::string_view text);
// Names of listeners, clusters, virtual hosts and routes: non-empty, at most
// 128 bytes, no whitespace or control characters (they appear in logs and
// metrics).
std::optional<std::string> checkName(std::string_view name);

// The candidate closest to `word` by edit distance if it is close enough to
// be a plausible typo, for "did you mean" hints.
std::optional<std::string_view> closestMatch(std::string_view word,
                                             std::span<const std::string_view> candidates);

}  // namespace pier::config
