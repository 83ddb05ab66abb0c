#pragma once
// A cheap pass over YAML text that estimates how deeply its collections nest,
// run before yaml-cpp parses it: yaml-cpp's parser recurses once per level, so
// hostile input ("[[[[..." or "- - - - ...") could otherwise exhaust the stack.
//
// The estimate follows indentation, compact "- "/"? " indicators and flow
// brackets, and skips quoted scalars, comments and block scalars. It is not a
// YAML parser: odd input can make it count a little high or low, which is
// fine because pier's schema needs fewer than ten levels and yaml-cpp has its
// own (much deeper) recursion guard behind this one.
#include <optional>
#include <string_view>

namespace pier::config {

inline constexpr int kMaxYamlNesting = 64;

struct TextPosition {
  int line = 1;    // 1-based
  int column = 1;  // 1-based
};

// Where the nesting first exceeds `limit`, or nullopt if it never does.
std::optional<TextPosition> findExcessiveNesting(std::string_view yaml, int limit = kMaxYamlNesting);

}  // namespace pier::config
